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

use crate::interrupt;
use crate::target::Target;
use anyhow::{Context, Result};
use http::{Answer, Request};
use pktmap_model::delta::Delta;
use pktmap_model::findings::Finding;
use pktmap_model::snapshot::Snapshot;
use pktmap_model::walk::{self, Walk};
use pktmap_model::{audit, diagnose, findings, ledger};
use pktmap_render::metrics::{self, Limits};
use pktmap_sources::{Options, Root};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Settings {
    pub listen: SocketAddr,
    /// Zero: collect on scrape.
    pub interval: Duration,
    pub cache: Duration,
    pub limits: Limits,
}

/// The documents of one interval, rendered once for every scrape.
struct Rendered {
    metrics: Arc<str>,
    openmetrics: Arc<str>,
    walk: Arc<str>,
    diagnose: Arc<str>,
    audit: Arc<str>,
    snapshot: Arc<str>,
}

struct Inner {
    previous: Vec<Snapshot>,
    pages: Option<Rendered>,
    /// When `previous` was taken.
    at: Instant,
}

/// What answers a request.
pub trait Pages: Sync {
    fn answer(&self, r: &Request) -> Answer;
}

struct Server<'a> {
    target: &'a Target,
    root: &'a Root,
    settings: &'a Settings,
    inner: Mutex<Inner>,
}

/// Serves until SIGINT or SIGTERM.
pub fn run(target: &Target, root: &Root, settings: &Settings) -> Result<()> {
    let listener = TcpListener::bind(settings.listen)
        .with_context(|| format!("listening on {}", settings.listen))?;
    // Non-blocking accepts, so a stop is noticed between connections.
    listener.set_nonblocking(true)?;
    eprintln!(
        "pktmap: serving on http://{}/metrics",
        listener.local_addr()?
    );
    let server = Server {
        target,
        root,
        settings,
        inner: Mutex::new(Inner {
            previous: target.snapshots(root, &Options::default())?,
            pages: None,
            at: Instant::now(),
        }),
    };
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

impl Server<'_> {
    /// One interval after another until stopped; scrapes read the last one.
    fn background(&self) -> Result<()> {
        while !interrupt::stopped() {
            interrupt::wait(self.settings.interval);
            if interrupt::stopped() {
                break;
            }
            let current = self.target.snapshots(self.root, &Options::default())?;
            // Rendered outside the lock: scrapes meanwhile read the interval before.
            let previous = std::mem::take(&mut self.lock().previous);
            let pages = render(&previous, &current, self.settings.limits)?;
            let mut inner = self.lock();
            *inner = Inner {
                previous: current,
                pages: Some(pages),
                at: Instant::now(),
            };
        }
        Ok(())
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
        let current = self.target.snapshots(self.root, &Options::default())?;
        let pages = render(&inner.previous, &current, self.settings.limits)?;
        *inner = Inner {
            previous: current,
            pages: Some(pages),
            at: Instant::now(),
        };
        Ok(())
    }
}

impl Pages for Server<'_> {
    fn answer(&self, r: &Request) -> Answer {
        const NOT_YET: &str = "the first interval is not over yet\n";
        let mut inner = self.lock();
        let on_scrape = self.settings.interval.is_zero();
        if r.path == "/healthz" {
            return Answer::text(200, "ok\n");
        }
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
        let json = |body: &Arc<str>| Answer {
            status: 200,
            kind: "application/json",
            body: body.clone(),
        };
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
            "/api/walk" => json(&p.walk),
            "/api/diagnose" => json(&p.diagnose),
            "/api/audit" => json(&p.audit),
            "/api/snapshot" => json(&p.snapshot),
            _ => Answer::text(404, "not found\n"),
        }
    }
}

fn doc<T: serde::Serialize + ?Sized>(v: &T) -> Result<Arc<str>> {
    Ok((serde_json::to_string_pretty(v)? + "\n").into())
}

/// The documents of one interval, every namespace in each.
fn render(from: &[Snapshot], to: &[Snapshot], limits: Limits) -> Result<Rendered> {
    let key = |s: &Snapshot| s.meta.netns.as_ref().map(|n| n.inode);
    let mut walks: Vec<(Walk, Vec<Finding>, &Snapshot)> = Vec::new();
    for b in to {
        let Some(a) = from.iter().find(|a| key(a) == key(b)) else {
            continue;
        };
        let delta = Delta::between(a, b)?;
        // One ledger for both, so the page and the findings cannot disagree.
        let ledger = ledger::build(&delta, None);
        let found = diagnose::diagnose_ledger(&delta, &ledger);
        walks.push((walk::from_ledger(&delta, ledger, None), found, b));
    }
    let reports: Vec<metrics::Report> = walks
        .iter()
        .map(|(w, f, s)| metrics::Report {
            walk: w,
            findings: f,
            snapshot: s,
        })
        .collect();
    let walk_docs: Vec<&Walk> = walks.iter().map(|(w, _, _)| w).collect();
    let diagnose_docs: Vec<serde_json::Value> = walks
        .iter()
        .map(|(w, f, _)| {
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
    let audit_docs: Vec<serde_json::Value> = to
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
    let page = metrics::page(&reports, limits);
    Ok(Rendered {
        metrics: page.text.into(),
        openmetrics: page.openmetrics.into(),
        walk: doc(&walk_docs)?,
        diagnose: doc(&diagnose_docs)?,
        audit: doc(&audit_docs)?,
        snapshot: doc(&to)?,
    })
}
