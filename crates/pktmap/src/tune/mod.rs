//! `pktmap tune`: the one command that changes the machine, and only when asked. `plan` lists
//! candidate changes from the findings and the audit (read-only); `try` makes one change,
//! journaled first, measures alternating baseline and changed periods (A B A B, so drift
//! cancels), reverts unless `--keep` and reports the effect stage by stage with a 95%
//! interval; `revert` undoes what the journal says is still applied; `history` lists past
//! experiments. What can be changed: sysctls, queue steering masks, the root qdisc, ethtool
//! channels, rings and coalescing (`knob.rs`).

pub mod journal;
pub mod knob;

use crate::interrupt;
use crate::target::Target;
use anyhow::{Context, Result, bail};
use journal::{Entry, Journal, State};
use knob::Knob;
use pktmap_model::delta::Delta;
use pktmap_model::experiment::{self, Effect, Verdict};
use pktmap_model::{audit, diagnose, ledger};
use pktmap_sources::{Options, Root, netns};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The namespace a change is made in: None for pktmap's own.
fn namespace(target: &Target) -> Result<Option<&netns::Netns>> {
    match target {
        Target::Here => Ok(None),
        Target::One(ns) => Ok(Some(ns)),
        Target::All => bail!("tune changes one namespace at a time: give --netns or --pid"),
    }
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
            let Some((key, proposed)) = knob_of(a) else {
                continue;
            };
            let Ok(knob) = Knob::parse(&key) else {
                continue;
            };
            if !seen.insert(key.clone()) {
                continue;
            }
            let scope = if knob.global() {
                "global"
            } else {
                "per namespace"
            };
            let risk = match &knob {
                _ if knob.global() => "medium: every namespace of the host",
                Knob::Ethtool { .. } => {
                    "medium: many drivers reset the device's queues to apply it (a moment without traffic)"
                }
                Knob::Qdisc { .. } => "low: the device's queued packets are dropped once",
                _ => "low: this namespace only",
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
                "risk": risk,
                "try": format!("pktmap tune try {key}={proposed}"),
                "why": a.why,
            }));
        }
    }
    Ok(out)
}

/// The setting an action changes and the value it proposes: a sysctl, or the commands
/// `ethtool -G/-L/-C`, `echo MASK > /sys/class/net/.../queues/...`, `tc qdisc replace`.
fn knob_of(a: &pktmap_model::findings::Action) -> Option<(String, String)> {
    if let (Some(key), Some(proposed)) = (&a.sysctl, &a.proposed) {
        return Some((key.clone(), proposed.clone()));
    }
    let w: Vec<&str> = a.command.split_whitespace().collect();
    match w[..] {
        ["echo", value, ">", path] if path.starts_with("/sys/class/net/") => {
            Some((path.into(), value.into()))
        }
        ["ethtool", opt, dev, param, value] => {
            let group = match opt {
                "-G" => "rings",
                "-L" => "channels",
                "-C" => "coalesce",
                _ => return None,
            };
            Some((format!("ethtool:{dev}:{group}.{param}"), value.into()))
        }
        ["tc", "qdisc", "replace", "dev", dev, "root", ref rest @ ..] if !rest.is_empty() => {
            Some((format!("qdisc:{dev}"), rest.join(" ")))
        }
        _ => None,
    }
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
/// Makes `c` run in namespace `ns` (None: here), in a process group of its own so that it
/// and its children can be stopped together.
fn in_namespace(c: &mut std::process::Command, ns: Option<&netns::Netns>) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let fd = ns
        .map(|n| std::fs::File::open(&n.path))
        .transpose()
        .context("opening the namespace")?;
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
    Ok(())
}

fn start_workload(ns: Option<&netns::Netns>, cmd: &str) -> Result<std::process::Child> {
    let mut c = std::process::Command::new("sh");
    c.args(["-c", cmd]).stdout(std::process::Stdio::null());
    in_namespace(&mut c, ns)?;
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
    let knob = Knob::parse(t.key)?;
    if ns.is_some() && knob.global() {
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
    let old = knob.read(ns)?;
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
    let outcome = measure(target, root, ns, &knob, t, &old);
    let keep = t.keep && outcome.is_ok();
    if !keep {
        knob.write(ns, &old)?;
    }
    let state = if keep { State::Kept } else { State::Reverted };
    let result = outcome.as_ref().ok().cloned();
    j.set(id, state, result)?;
    let mut report = outcome?;
    report["id"] = id.into();
    report["left"] = if keep {
        format!(
            "{}={} kept (journaled; `pktmap tune revert` does not undo a kept change: {} puts it back)",
            t.key,
            t.value,
            knob.command(&old)
        )
    } else {
        format!("{} restored to {old}", t.key)
    }
    .into();
    report["command"] = knob.command(t.value).into();
    Ok(report)
}

fn measure(
    target: &Target,
    root: &Root,
    ns: Option<&netns::Netns>,
    knob: &Knob,
    t: &Trial,
    old: &str,
) -> Result<serde_json::Value> {
    let mut baseline: Vec<BTreeMap<String, f64>> = Vec::new();
    let mut changed: Vec<BTreeMap<String, f64>> = Vec::new();
    for _ in 0..t.rounds {
        for (value, into) in [(old, &mut baseline), (t.value, &mut changed)] {
            knob.write(ns, value)?;
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
    let stage = knob.stage();
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
        Knob::parse(&e.key)?.write(ns.as_ref(), &e.old)?;
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

#[cfg(test)]
mod tests {
    use super::knob_of;
    use pktmap_model::findings::Action;

    #[test]
    fn the_commands_diagnose_and_audit_propose_are_settings_tune_can_try() {
        let of = |cmd: &str| knob_of(&Action::change(cmd, "0", "x", "")).unwrap();
        assert_eq!(
            of("echo 3 > /sys/class/net/eth0/queues/rx-0/rps_cpus"),
            (
                "/sys/class/net/eth0/queues/rx-0/rps_cpus".into(),
                "3".into()
            )
        );
        assert_eq!(
            of("ethtool -G eth0 rx 4096"),
            ("ethtool:eth0:rings.rx".into(), "4096".into())
        );
        assert_eq!(
            of("ethtool -L eth0 combined 8"),
            ("ethtool:eth0:channels.combined".into(), "8".into())
        );
        assert_eq!(
            of("tc qdisc replace dev eth0 root fq"),
            ("qdisc:eth0".into(), "fq".into())
        );
        assert!(knob_of(&Action::inspect("ethtool -S eth0")).is_none());
    }
}
