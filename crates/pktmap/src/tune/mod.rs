//! `pktmap tune`: the one command that changes the machine, and only when asked. `plan` lists
//! candidate changes from the findings and the audit (read-only); `try` makes one change,
//! journaled first, measures alternating baseline and changed periods (A B A B, so drift
//! cancels), reverts unless `--keep` and reports the effect stage by stage with a 95%
//! interval; `revert` undoes what the journal says is still applied; `history` lists past
//! experiments. Sysctls only, for now.

pub mod journal;

use crate::interrupt;
use crate::target::Target;
use anyhow::{Context, Result, bail};
use journal::{Entry, Journal, State};
use pktmap_model::delta::Delta;
use pktmap_model::experiment::{self, Effect, Verdict};
use pktmap_model::{audit, catalog, diagnose, ledger};
use pktmap_sources::{Options, Root, netns};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Sysctls that exist only once for the whole host (in the initial namespace), whatever
/// namespace sets them.
fn global(key: &str) -> bool {
    (key.starts_with("net.core.") && key != "net.core.somaxconn")
        || matches!(
            key,
            "net.ipv4.tcp_mem"
                | "net.ipv4.udp_mem"
                | "net.netfilter.nf_conntrack_max"
                | "net.netfilter.nf_conntrack_buckets"
        )
}

fn path_of(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// The namespace a change is made in: None for pktmap's own.
fn namespace(target: &Target) -> Result<Option<&netns::Netns>> {
    match target {
        Target::Here => Ok(None),
        Target::One(ns) => Ok(Some(ns)),
        Target::All => bail!("tune changes one namespace at a time: give --netns or --pid"),
    }
}

/// Runs `f` in namespace `ns` (None: here).
fn inside<T: Send>(ns: Option<&netns::Netns>, f: impl FnOnce() -> T + Send) -> Result<T> {
    match ns {
        None => Ok(f()),
        Some(ns) => Ok(netns::within(ns, &Root::live(), |_| f())?),
    }
}

fn read_sysctl(ns: Option<&netns::Netns>, key: &str) -> Result<String> {
    let path = path_of(key);
    inside(ns, || std::fs::read_to_string(&path))?
        .map(|v| v.trim().to_string())
        .with_context(|| format!("reading {key}"))
}

fn write_sysctl(ns: Option<&netns::Netns>, key: &str, value: &str) -> Result<()> {
    let path = path_of(key);
    inside(ns, || std::fs::write(&path, value))?.with_context(|| format!("setting {key}={value}"))
}

/// `pktmap tune plan`: candidate changes, one setting each, losses first.
pub fn plan(
    target: &Target,
    root: &Root,
    interval: Duration,
    hint: audit::PathHint,
) -> Result<Vec<serde_json::Value>> {
    let a = target.snapshots(root, &Options::default())?;
    interrupt::wait(interval);
    let b = target.snapshots(root, &Options::default())?;
    let (Some(a), Some(b)) = (a.first(), b.first()) else {
        bail!("nothing measured");
    };
    let delta = Delta::between(a, b)?;
    let found = diagnose::diagnose(&delta);
    let items = audit::audit(b, hint);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let from_findings = found.iter().map(|f| {
        let moved: Vec<String> = f
            .evidence
            .iter()
            .filter(|e| e.delta.is_some_and(|d| d > 0))
            .map(|e| e.key.clone())
            .collect();
        (
            f.rule,
            f.stage,
            format!("{:?}", f.severity).to_lowercase(),
            &f.actions,
            moved,
        )
    });
    let from_audit = items
        .iter()
        .filter(|i| matches!(i.status, audit::Status::Fail | audit::Status::Warn))
        .map(|i| {
            (
                i.check,
                i.stage,
                format!("{:?}", i.status).to_lowercase(),
                &i.actions,
                Vec::new(),
            )
        });
    for (why, stage, severity, actions, moved) in from_findings.chain(from_audit) {
        for a in actions {
            let (Some(key), Some(proposed)) = (&a.sysctl, &a.proposed) else {
                continue;
            };
            if !seen.insert(key.clone()) {
                continue;
            }
            let scope = if global(key) {
                "global"
            } else {
                "per namespace"
            };
            out.push(serde_json::json!({
                "setting": key,
                "current": a.current,
                "proposed": proposed,
                "addresses": why,
                "severity": severity,
                "stage": stage,
                "should_move": moved,
                "scope": scope,
                "risk": if global(key) { "medium: every namespace of the host" } else { "low: this namespace only" },
                "try": format!("pktmap tune try {key}={proposed}"),
                "why": a.why,
            }));
        }
    }
    Ok(out)
}

/// What to run and how.
pub struct Trial<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub period: Duration,
    pub rounds: u32,
    pub workload: Option<&'a str>,
    pub keep: bool,
    pub journal: &'a Path,
}

/// The rates of one period: each stage's drops and each loss counter's own rate that moved.
fn period(
    target: &Target,
    root: &Root,
    ns: Option<&netns::Netns>,
    t: &Trial,
) -> Result<BTreeMap<String, f64>> {
    let workload = t.workload.map(|cmd| start_workload(ns, cmd)).transpose()?;
    let a = target.snapshots(root, &Options::default())?;
    interrupt::wait(t.period);
    let b = target.snapshots(root, &Options::default())?;
    if let Some(w) = workload {
        stop_workload(w);
    }
    let (Some(a), Some(b)) = (a.first(), b.first()) else {
        bail!("nothing measured");
    };
    let delta = Delta::between(a, b)?;
    let l = ledger::build(&delta, None);
    let mut out = BTreeMap::new();
    for s in &l.stages {
        out.insert(format!("stage {}", s.id), s.drops_per_s);
        for c in s.losses() {
            *out.entry(c.change.name.clone()).or_default() += c.own_rate().unwrap_or(0.0);
        }
    }
    Ok(out)
}

/// `sh -c CMD` in the namespace, in a process group of its own so it ends whole.
fn start_workload(ns: Option<&netns::Netns>, cmd: &str) -> Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new("sh");
    c.args(["-c", cmd]).stdout(std::process::Stdio::null());
    let fd = ns
        .map(|n| std::fs::File::open(&n.path))
        .transpose()
        .context("opening the namespace for the workload")?;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if let Some(f) = &fd
                && libc::setns(std::os::fd::AsRawFd::as_raw_fd(f), libc::CLONE_NEWNET) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            libc::setpgid(0, 0);
            Ok(())
        });
    }
    c.spawn().context("starting the workload")
}

fn stop_workload(mut w: std::process::Child) {
    // SAFETY: signalling the workload's own process group.
    unsafe { libc::kill(-(w.id() as i32), libc::SIGKILL) };
    let _ = w.wait();
}

/// `pktmap tune try KEY=VALUE`: the experiment. Returns the report as JSON.
pub fn try_change(target: &Target, root: &Root, t: &Trial) -> Result<serde_json::Value> {
    let ns = namespace(target)?;
    if ns.is_some() && global(t.key) {
        bail!(
            "{} is one setting for the whole host, not per namespace: changing it from inside \
             a namespace would change it everywhere; run without --netns/--pid to try it on the host",
            t.key
        );
    }
    let mut j = Journal::open(t.journal)?;
    if let Some(e) = j.unreverted().next() {
        bail!(
            "experiment {} ({}={}, was {}) is still applied: run `pktmap tune revert` first",
            e.id,
            e.key,
            e.new,
            e.old
        );
    }
    let old = read_sysctl(ns, t.key)?;
    let id = j.next_id();
    j.entries.push(Entry {
        id,
        key: t.key.to_string(),
        old: old.clone(),
        new: t.value.to_string(),
        netns: ns.map(|n| n.label.inode),
        netns_label: ns.map(|n| n.label.display()),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        state: State::Applied,
        result: None,
    });
    // Journaled (and synced) before anything changes.
    j.save()?;
    let outcome = measure(target, root, ns, t, &old);
    let keep = t.keep && outcome.is_ok();
    if !keep {
        write_sysctl(ns, t.key, &old)?;
    }
    let state = if keep { State::Kept } else { State::Reverted };
    let result = outcome.as_ref().ok().cloned();
    j.set(id, state, result)?;
    let mut report = outcome?;
    report["id"] = id.into();
    report["left"] = if keep {
        format!("{}={} kept (journaled; `pktmap tune revert` does not undo a kept change: set {} back by hand)", t.key, t.value, old)
    } else {
        format!("{} restored to {old}", t.key)
    }
    .into();
    Ok(report)
}

fn measure(
    target: &Target,
    root: &Root,
    ns: Option<&netns::Netns>,
    t: &Trial,
    old: &str,
) -> Result<serde_json::Value> {
    let mut baseline: Vec<BTreeMap<String, f64>> = Vec::new();
    let mut changed: Vec<BTreeMap<String, f64>> = Vec::new();
    for _ in 0..t.rounds {
        for (value, into) in [(old, &mut baseline), (t.value, &mut changed)] {
            write_sysctl(ns, t.key, value)?;
            into.push(period(target, root, ns, t)?);
            if interrupt::stopped() {
                bail!("stopped: {} restored to {old}", t.key);
            }
        }
    }
    let mut series: Vec<&String> = baseline
        .iter()
        .chain(&changed)
        .flat_map(|m| m.keys())
        .collect();
    series.sort();
    series.dedup();
    let rates = |runs: &[BTreeMap<String, f64>], s: &str| -> Vec<f64> {
        runs.iter()
            .map(|m| m.get(s).copied().unwrap_or(0.0))
            .collect()
    };
    let effects: Vec<Effect> = series
        .iter()
        .map(|s| experiment::compare(s, &rates(&baseline, s), &rates(&changed, s)))
        .filter(|e| e.baseline_mean > 0.0 || e.changed_mean > 0.0)
        .collect();
    let stage = catalog::item(t.key).map(|i| i.stage);
    let headline = stage
        .and_then(|s| effects.iter().find(|e| e.series == format!("stage {s}")))
        .map_or(Verdict::NoMeasurableEffect, |e| e.verdict);
    let worse: Vec<&Effect> = effects
        .iter()
        .filter(|e| e.verdict == Verdict::Worse)
        .collect();
    Ok(serde_json::json!({
        "schema": "pktmap.tune/1",
        "setting": t.key,
        "baseline": old,
        "changed": t.value,
        "rounds": t.rounds,
        "period_s": t.period.as_secs_f64(),
        "stage": stage,
        "verdict": headline,
        "worse_elsewhere": worse.iter().filter(|e| Some(e.series.as_str()) != stage.map(|s| format!("stage {s}")).as_deref()).map(|e| &e.series).collect::<Vec<_>>(),
        "effects": effects,
    }))
}

/// `pktmap tune revert`: restores every change the journal says may still be in place.
pub fn revert(journal: &Path) -> Result<Vec<String>> {
    let mut j = Journal::open(journal)?;
    let pending: Vec<Entry> = j.unreverted().cloned().collect();
    let mut said = Vec::new();
    for e in pending {
        let ns = match e.netns {
            None => None,
            Some(inode) => match netns::list().remove(&inode) {
                Some(n) => Some(n),
                None => {
                    said.push(format!(
                        "experiment {}: its namespace ({}) is gone, and the change with it",
                        e.id,
                        e.netns_label.as_deref().unwrap_or("?")
                    ));
                    j.set(e.id, State::Reverted, None)?;
                    continue;
                }
            },
        };
        write_sysctl(ns.as_ref(), &e.key, &e.old)?;
        j.set(e.id, State::Reverted, None)?;
        said.push(format!(
            "experiment {}: {} restored to {}",
            e.id, e.key, e.old
        ));
    }
    if said.is_empty() {
        said.push("nothing to revert".into());
    }
    Ok(said)
}

/// `pktmap tune history`.
pub fn history(journal: &Path) -> Result<Vec<Entry>> {
    Ok(Journal::open(journal)?.entries)
}

/// `pktmap tune ...`: runs the subcommand and prints its answer.
pub fn command(
    target: &Target,
    root: &Root,
    cmd: crate::cli::TuneCommand,
    style: pktmap_render::Style,
) -> Result<()> {
    use crate::cli::TuneCommand;
    use crate::output;
    match cmd {
        TuneCommand::Plan(args) => {
            let hint = audit::PathHint {
                bandwidth: args.bandwidth,
                rtt: args.rtt.map(|d| d.0.as_secs_f64()),
            };
            let plan = plan(target, root, args.interval.0, hint)?;
            if args.json {
                output::json(&plan)?;
            } else {
                output::text(&pktmap_render::tune::plan_text(&plan, style))?;
            }
        }
        TuneCommand::Try(args) => {
            let Some((key, value)) = args.change.split_once('=') else {
                bail!("give the change as KEY=VALUE, e.g. net.core.somaxconn=4096");
            };
            let trial = Trial {
                key: key.trim(),
                value: value.trim(),
                period: args.duration.0,
                rounds: args.rounds,
                workload: args.workload.as_deref(),
                keep: args.keep,
                journal: &args.journal.journal,
            };
            let report = try_change(target, root, &trial)?;
            if args.journal.json {
                output::json(&report)?;
            } else {
                output::text(&pktmap_render::tune::report_text(&report, style))?;
            }
        }
        TuneCommand::Revert(args) => {
            for line in revert(&args.journal)? {
                println!("{line}");
            }
        }
        TuneCommand::History(args) => {
            let entries = history(&args.journal)?;
            if args.json {
                output::json(&entries)?;
            } else {
                let v = serde_json::to_value(&entries)?;
                output::text(&pktmap_render::tune::history_text(&v))?;
            }
        }
    }
    Ok(())
}
