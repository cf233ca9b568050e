//! `pktmap serve`: one process that keeps the ledger, walk, diagnosis and audit of every
//! namespace it reads and answers HTTP with them: `/metrics` (Prometheus text format 0.0.4, or
//! OpenMetrics when the scraper asks for it), `/api/walk`, `/api/diagnose`, `/api/audit`,
//! `/api/snapshot`, `/healthz` and `/readyz`.
//!
//! Two ways to measure. With an interval (the default, 5 s) a background loop takes a snapshot
//! each interval and every scrape reads the last interval: scrapes never collect, so any number
//! of them cost nothing and agree. With `--interval 0` a scrape collects, and the rates are
//! over the time since the last collection, as node_exporter's are between scrapes; concurrent
//! scrapes then share one collection (single flight), and its result serves every scrape for
//! `--cache` (0 collects on every scrape).

mod http;
mod traced;

use crate::interrupt;
use crate::target::{Target, pairs};
use anyhow::{Context, Result};
use http::{Answer, Request};
use pktmap_model::delta::Delta;
use pktmap_model::findings::Finding;
use pktmap_model::snapshot::Snapshot;
use pktmap_model::walk::Walk;
use pktmap_model::{audit, diagnose, findings};
use pktmap_render::metrics::{self, Limits};
use pktmap_sources::kept::Kept;
use pktmap_sources::{Carry, Options, Root};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Settings {
    pub listen: SocketAddr,
    /// Zero: collect on scrape.
    pub interval: Duration,
    pub cache: Duration,
    /// The longest a socket census is carried between collections (zero: never).
    pub census: Duration,
    /// The most procfs and sysfs files kept open between collections (zero: none).
    pub keep_files: usize,
    pub limits: Limits,
    /// Run the drop counter and the latency histograms over every interval.
    pub trace: bool,
}

/// What one interval showed: the metrics page rendered at once (every scrape reads it), the
/// JSON documents rendered when first asked for (a scraper never asks).
struct Rendered {
    metrics: Arc<str>,
    openmetrics: Arc<str>,
    walks: Vec<(Walk, Vec<Finding>)>,
    walk: OnceLock<Arc<str>>,
    diagnose: OnceLock<Arc<str>>,
    audit: OnceLock<Arc<str>>,
    snapshot: OnceLock<Arc<str>>,
}

struct Inner {
    /// The snapshots the last interval ended at (and the next one starts from).
    previous: Arc<Vec<Snapshot>>,
    pages: Option<Rendered>,
    /// When `previous` was taken.
    at: Instant,
}

impl Inner {
    /// The state after a collection: its snapshots and what they rendered, from now.
    fn measured(current: Vec<Snapshot>, pages: Rendered) -> Inner {
        Inner {
            previous: Arc::new(current),
            pages: Some(pages),
            at: Instant::now(),
        }
    }
}

/// What answers a request.
pub trait Pages: Sync {
    fn answer(&self, r: &Request) -> Answer;
    /// Work left for after the answer is written, so the client does not wait for it.
    fn tidy(&self) {}
}

struct Server<'a> {
    target: &'a Target,
    root: &'a Root,
    settings: &'a Settings,
    kept: Option<Arc<Kept>>,
    inner: Mutex<Inner>,
    /// The collection a scrape replaced, freed once its answer is written.
    retired: Mutex<Option<Inner>>,
}

/// Serves until SIGINT or SIGTERM.
pub fn run(target: &Target, root: &Root, settings: &Settings) -> Result<()> {
    if settings.trace && settings.interval.is_zero() {
        anyhow::bail!("--trace counts over an interval: give --interval (5s, 15s...), not 0");
    }
    let listener = TcpListener::bind(settings.listen)
        .with_context(|| format!("listening on {}", settings.listen))?;
    // The accept loop waits in poll; non-blocking, a connection gone between poll and
    // accept cannot stall it.
    listener.set_nonblocking(true)?;
    eprintln!(
        "pktmap: serving on http://{}/metrics",
        listener.local_addr()?
    );
    let limit = settings.keep_files.min(raise_open_files_limit() / 2);
    let server = Server {
        target,
        root,
        settings,
        kept: (limit > 0).then(|| Arc::new(Kept::new(limit))),
        inner: Mutex::new(Inner {
            previous: Arc::default(),
            pages: None,
            at: Instant::now(),
        }),
        retired: Mutex::default(),
    };
    let first = server.collect(Arc::default())?;
    server.lock().previous = Arc::new(first);
    std::thread::scope(|scope| {
        let http = scope.spawn(|| http::serve(&listener, &server, interrupt::stopped));
        let looped = if settings.interval.is_zero() {
            Ok(())
        } else {
            server.background()
        };
        if looped.is_err() {
            // Nothing more to serve: end the accept loop too.
            interrupt::stop();
        }
        let _ = http.join();
        looped
    })
}

/// Raises this process's soft limit on open files to its hard limit (at most 65,536), as a
/// daemon that holds files open should, and returns it: kept files take at most half, so the
/// HTTP workers and collectors always have descriptors left.
fn raise_open_files_limit() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and fill the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        let want = lim.rlim_max.min(1 << 16).max(lim.rlim_cur);
        if want > lim.rlim_cur {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = want;
            }
        }
    }
    usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
}

impl Server<'_> {
    /// One interval after another until stopped; scrapes read the last one. With tracing,
    /// the programs are attached for each interval and detached at its end (and on a stop).
    fn background(&self) -> Result<()> {
        let mut totals = traced::Totals::default();
        while !interrupt::stopped() {
            let tracers = if self.settings.trace {
                Some(traced::start(self.settings.interval)?)
            } else {
                None
            };
            interrupt::wait(self.settings.interval);
            if interrupt::stopped() {
                break;
            }
            let previous = self.lock().previous.clone();
            let current = self.collect(previous.clone())?;
            let trace = tracers.map(traced::Running::finish).transpose()?;
            // Rendered outside the lock: scrapes meanwhile read the interval before.
            if let Some(t) = &trace {
                let labels: Vec<(u64, String)> = current.iter().map(netns_of).collect();
                totals.add(t, |ns| {
                    labels
                        .iter()
                        .find(|(i, _)| *i == ns)
                        .map(|(_, l)| l.clone())
                });
            }
            let traced = trace.as_ref().map(|t| (t, totals.page()));
            let pages = render(&previous, &current, traced, self.settings.limits)?;
            *self.lock() = Inner::measured(current, pages);
        }
        Ok(())
    }

    /// A collection of every namespace served. It reads everything, through the files kept
    /// open, but the socket census may be carried forward from `previous`.
    fn collect(&self, previous: Arc<Vec<Snapshot>>) -> Result<Vec<Snapshot>> {
        let opts = Options {
            carry: (!self.settings.census.is_zero() && !previous.is_empty()).then_some(Carry {
                previous,
                max_age: self.settings.census,
            }),
            keep: self.kept.clone(),
            ..Options::default()
        };
        let current = self.target.snapshots(self.root, &opts);
        if let Some(kept) = &self.kept {
            kept.end_round();
        }
        current
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Collects now if the last collection is older than the cache (collect-on-scrape mode).
    /// The lock is held throughout: a scrape arriving meanwhile waits for this collection
    /// and then finds it fresh.
    fn refresh(&self, inner: &mut Inner) -> Result<()> {
        if inner.pages.is_some() && inner.at.elapsed() < self.settings.cache {
            return Ok(());
        }
        let current = self.collect(inner.previous.clone())?;
        let pages = render(&inner.previous, &current, None, self.settings.limits)?;
        // The collection replaced is freed after the answer is written (`tidy`).
        let old = std::mem::replace(inner, Inner::measured(current, pages));
        *self.retired.lock().unwrap_or_else(|e| e.into_inner()) = Some(old);
        Ok(())
    }
}

impl Pages for Server<'_> {
    fn tidy(&self) {
        let old = self
            .retired
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(old);
    }

    fn answer(&self, r: &Request) -> Answer {
        const NOT_YET: &str = "the first interval is not over yet\n";
        // Liveness never waits for a collection in progress.
        if r.path == "/healthz" {
            return Answer::text(200, "ok\n");
        }
        let mut inner = self.lock();
        let on_scrape = self.settings.interval.is_zero();
        if on_scrape
            && r.path != "/readyz"
            && let Err(e) = self.refresh(&mut inner)
        {
            return Answer::text(503, &format!("collecting failed: {e:#}\n"));
        }
        let Some(p) = &inner.pages else {
            // Collect-on-scrape is ready once its baseline is taken, which it is by now.
            return if on_scrape && r.path == "/readyz" {
                Answer::text(200, "ready\n")
            } else {
                Answer::text(503, NOT_YET)
            };
        };
        let json = |cell: &OnceLock<Arc<str>>, make: &dyn Fn() -> Result<Arc<str>>| {
            let body = cell.get_or_init(|| {
                make().unwrap_or_else(|e| format!("{{\"error\": {:?}}}\n", e.to_string()).into())
            });
            Answer {
                status: 200,
                kind: "application/json",
                body: body.clone(),
            }
        };
        let snaps: &[Snapshot] = &inner.previous;
        match r.path.as_str() {
            "/readyz" => Answer::text(200, "ready\n"),
            "/metrics" if r.openmetrics => Answer {
                status: 200,
                kind: "application/openmetrics-text; version=1.0.0; charset=utf-8",
                body: p.openmetrics.clone(),
            },
            "/metrics" => Answer {
                status: 200,
                kind: "text/plain; version=0.0.4; charset=utf-8",
                body: p.metrics.clone(),
            },
            "/" => Answer::html(live_map(p, r)),
            "/api/walk" => json(&p.walk, &|| {
                doc(&p.walks.iter().map(|(w, _)| w).collect::<Vec<_>>())
            }),
            "/api/diagnose" => json(&p.diagnose, &|| diagnose_doc(&p.walks)),
            "/api/audit" => json(&p.audit, &|| audit_doc(snaps)),
            "/api/snapshot" => json(&p.snapshot, &|| doc(snaps)),
            _ => Answer::text(404, "not found\n"),
        }
    }
}

fn doc<T: serde::Serialize + ?Sized>(v: &T) -> Result<Arc<str>> {
    Ok((serde_json::to_string_pretty(v)? + "\n").into())
}

/// A snapshot's namespace: its inode and the label its series carry (empty for the
/// namespace pktmap runs in when it reads only that one).
fn netns_of(s: &Snapshot) -> (u64, String) {
    match &s.meta.netns {
        Some(n) => (n.inode, n.inode.to_string()),
        None => (crate::trace::own_netns().unwrap_or(0), String::new()),
    }
}

/// The walk, findings and metrics page of one interval, every namespace in each; with the
/// interval's traces and the totals of all of them.
fn render(
    from: &[Snapshot],
    to: &[Snapshot],
    traced: Option<(&traced::Interval, metrics::TraceTotals)>,
    limits: Limits,
) -> Result<Rendered> {
    let mut walks: Vec<(Walk, Vec<Finding>)> = Vec::new();
    let mut ends: Vec<&Snapshot> = Vec::new();
    for (a, b) in pairs(from, to) {
        let delta = Delta::between(a, b)?;
        let (inode, _) = netns_of(b);
        let drops = traced.as_ref().map(|(t, _)| &t.drops);
        // Each namespace takes only its own drop reasons.
        let (w, mut found) = diagnose::walk_and_findings(&delta, None, drops, Some(inode));
        // The histograms are the host's: they go with pktmap's own namespace only.
        if let Some((t, _)) = &traced
            && b.meta.netns.as_ref().is_none_or(|n| n.own)
        {
            diagnose::add_latency(&mut found, &t.latency);
        }
        walks.push((w, found));
        ends.push(b);
    }
    let reports: Vec<metrics::Report> = walks
        .iter()
        .zip(&ends)
        .map(|((w, f), s)| metrics::Report {
            walk: w,
            findings: f,
            snapshot: s,
        })
        .collect();
    let page = metrics::page(&reports, traced.as_ref().map(|(_, t)| t), limits);
    Ok(Rendered {
        metrics: page.text.into(),
        openmetrics: page.openmetrics.into(),
        walks,
        walk: OnceLock::new(),
        diagnose: OnceLock::new(),
        audit: OnceLock::new(),
        snapshot: OnceLock::new(),
    })
}

/// The live map (`/`), or with `fragment=1` the part its script refreshes.
fn live_map(p: &Rendered, r: &Request) -> String {
    use pktmap_render::page::{self, Namespace};
    let namespaces: Vec<Namespace> = p
        .walks
        .iter()
        .map(|(w, f)| Namespace {
            key: w
                .host
                .netns
                .as_ref()
                .map(|n| n.inode.to_string())
                .unwrap_or_default(),
            label: w
                .host
                .netns
                .as_ref()
                .map_or_else(|| "this namespace".into(), |n| n.display()),
            walk: w,
            findings: f,
        })
        .collect();
    let want = r.param("netns").unwrap_or_default();
    // The own namespace first when none is asked for.
    let chosen = namespaces
        .iter()
        .position(|n| n.key == want)
        .or_else(|| {
            p.walks
                .iter()
                .position(|(w, _)| w.host.netns.as_ref().is_none_or(|n| n.own))
        })
        .unwrap_or(0);
    let stage = r.param("stage");
    if r.param("fragment").is_some() {
        namespaces
            .get(chosen)
            .map(|n| page::fragment(n, stage.as_deref()))
            .unwrap_or_default()
    } else {
        page::page(&namespaces, chosen, stage.as_deref())
    }
}

fn diagnose_doc(walks: &[(Walk, Vec<Finding>)]) -> Result<Arc<str>> {
    let docs: Vec<serde_json::Value> = walks
        .iter()
        .map(|(w, f)| {
            serde_json::json!({
                "schema": "pktmap.diagnose/1",
                "netns": w.host.netns,
                "interval_s": w.interval_s,
                "exit_code": findings::exit_code(f),
                "latency": findings::latency_verdict(f),
                "findings": f,
            })
        })
        .collect();
    doc(&docs)
}

fn audit_doc(snaps: &[Snapshot]) -> Result<Arc<str>> {
    let docs: Vec<serde_json::Value> = snaps
        .iter()
        .map(|s| {
            let items = audit::audit(s, audit::PathHint::default());
            serde_json::json!({
                "schema": "pktmap.audit/1",
                "netns": s.meta.netns,
                "exit_code": audit::exit_code(&items),
                "checks": items,
            })
        })
        .collect();
    doc(&docs)
}
