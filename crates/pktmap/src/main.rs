//! pktmap: where on the path from NIC to socket packets are dropped or delayed.

mod cli;
mod doctor;
mod interrupt;
mod output;
mod serve;
mod target;
mod top;
mod trace;
mod tune;

use anyhow::{Context, Result, bail};
use clap::Parser;
use cli::{Cli, Command};
use pktmap_model::delta::Delta;
use pktmap_model::snapshot::{Snapshot, SnapshotSet, load_snapshots};
use pktmap_model::walk::{self, Walk};
use pktmap_model::{audit, diagnose, findings};
use pktmap_render::{
    catalog as catalog_render, explain, findings as findings_render, walk as walk_render,
};
use pktmap_sources::safe::{SNAPSHOT_FILE_CAP, read::read_regular, write::write_file};
use pktmap_sources::{Options, Root};
use std::process::ExitCode;
use target::{Target, pairs};

fn main() -> ExitCode {
    // A usage error must not exit 2, which diagnose and audit use for "critical".
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(3);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pktmap: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let root = match &cli.root {
        Some(path) => Root::open(path).context("--root")?,
        None => Root::live(),
    };
    let target = Target::from_flags(
        cli.netns.as_deref(),
        cli.pid,
        cli.all_netns,
        cli.root.as_deref(),
    )?;
    let style = output::style();
    if matches!(
        cli.command,
        Command::Walk(_)
            | Command::Diagnose(_)
            | Command::Trace(_)
            | Command::Serve(_)
            | Command::Top(_)
            | Command::Tune(_)
    ) {
        interrupt::install();
    }
    // A measurement taken while an experiment's change is in place says so.
    if matches!(cli.command, Command::Walk(_) | Command::Diagnose(_))
        && let Some(w) = tune::journal::warning()
    {
        eprintln!("{w}");
    }
    match cli.command {
        Command::Walk(args) if args.watch => {
            // Each map is measured from the end of the previous one: no sample is taken twice,
            // and nothing is kept beyond the last snapshot (namespaces come and go).
            let mut from = target.snapshots(&root, &Options::default())?;
            let mut n = 0;
            while args.count == 0 || n < args.count {
                interrupt::wait(args.interval.0);
                if interrupt::stopped() {
                    break;
                }
                let to = target.snapshots(&root, &Options::default())?;
                print_walks(
                    &walks(&from, &to, args.iface.as_deref())?,
                    matches!(target, Target::All),
                    args.json,
                    true,
                    style,
                )?;
                from = to;
                n += 1;
            }
        }
        Command::Walk(args) if args.svg => {
            let (from, to) = measure(&target, &root, &args.offline, args.interval, false)?;
            let Some((a, b)) = pairs(&from, &to).into_iter().next() else {
                bail!("the two snapshots share no network namespace");
            };
            let delta = Delta::between(a, b)?;
            let (w, found) = diagnose::walk_and_findings(&delta, args.iface.as_deref(), None, None);
            let link = |id: &str| format!("#{id}");
            output::text(&(pktmap_render::map::svg(&w, &found, &link) + "\n"))?;
        }
        Command::Walk(args) => {
            let (from, to) = measure(&target, &root, &args.offline, args.interval, false)?;
            print_walks(
                &walks(&from, &to, args.iface.as_deref())?,
                matches!(target, Target::All),
                args.json,
                false,
                style,
            )?;
        }
        Command::Diagnose(args) => {
            // The drop counter runs across the same interval as the two snapshots.
            let only = match &target {
                Target::One(ns) => Some(ns.label.inode),
                _ => None,
            };
            let started = std::time::Instant::now();
            let tracer = if args.trace {
                Some(trace::DropTracer::start(
                    only,
                    false,
                    trace::DIAGNOSE_SAMPLES,
                )?)
            } else {
                None
            };
            let scope = trace::LatencyScope {
                duty: args.duty,
                ..trace::LatencyScope::default()
            };
            let latency = if args.trace {
                Some(trace::start_latency(&scope, false, args.interval.0)?)
            } else {
                None
            };
            let (from, to) = measure(
                &target,
                &root,
                &args.offline,
                args.interval,
                args.since_boot,
            )?;
            let traced = tracer.map(|t| t.finish(started.elapsed())).transpose()?;
            let histograms = latency
                .map(|t| trace::finish_latency(t, &scope, started.elapsed()))
                .transpose()?;
            let mut worst = 0;
            let mut reports = Vec::new();
            for (a, b) in pairs(&from, &to) {
                let delta = Delta::between(a, b)?;
                // With several namespaces, each report takes only its own namespace's drops.
                let ns = b.meta.netns.as_ref().map(|n| n.inode);
                let mut found = diagnose::diagnose_traced(
                    &delta,
                    traced.as_ref(),
                    ns.filter(|_| from.len() > 1),
                );
                if let Some(h) = &histograms {
                    diagnose::add_latency(&mut found, h);
                }
                worst = worst.max(findings::exit_code(&found));
                let mut title = format!(
                    "pktmap diagnose  {}  Linux {}  {}",
                    b.meta.hostname.as_deref().unwrap_or("?"),
                    b.meta.kernel.as_deref().unwrap_or("?"),
                    if args.since_boot {
                        format!(
                            "since boot ({:.1} days of counters)",
                            delta.interval_s / 86400.0
                        )
                    } else {
                        format!("interval {:.2} s", delta.interval_s)
                    }
                );
                if let Some(ns) = &b.meta.netns {
                    title.push_str(&format!("\nnamespace {}", ns.display()));
                }
                // Findings never rest on a partly read table without saying so: the rows a
                // collector skipped, and files it found unreadable as a whole.
                let unread: Vec<&pktmap_model::CollectorRun> = a
                    .collectors
                    .iter()
                    .chain(&b.collectors)
                    .filter(|c| {
                        !c.skipped.is_empty() || c.status == pktmap_model::CollectorStatus::Error
                    })
                    .collect();
                let mut seen = std::collections::BTreeSet::new();
                for c in &unread {
                    if seen.insert(&c.id) {
                        title.push_str(&format!(
                            "\nread partly: {}: {}",
                            c.id,
                            c.notes.first().map_or("", String::as_str)
                        ));
                    }
                }
                let unread: Vec<serde_json::Value> = unread
                    .iter()
                    .map(|c| serde_json::json!({ "collector": c.id, "status": c.status, "notes": c.notes, "skipped": c.skipped }))
                    .collect();
                reports.push((title, b.meta.netns.clone(), delta.interval_s, found, unread));
            }
            if args.json {
                let docs: Vec<_> = reports
                    .iter()
                    .map(|(_, ns, interval, found, unread)| {
                        serde_json::json!({
                            "schema": "pktmap.diagnose/1",
                            "netns": ns,
                            "interval_s": interval,
                            "since_boot": args.since_boot,
                            "exit_code": findings::exit_code(found),
                            "latency": findings::latency_verdict(found),
                            "unread": unread,
                            "findings": found,
                        })
                    })
                    .collect();
                match docs.as_slice() {
                    [one] => output::json(one)?,
                    many => output::json(&many)?,
                }
            } else {
                let texts: Vec<String> = reports
                    .iter()
                    .map(|(title, _, _, found, _)| findings_render::text(title, found, style))
                    .collect();
                output::text(&texts.join("\n"))?;
            }
            return Ok(ExitCode::from(worst));
        }
        Command::Audit(args) => {
            let snaps = match &args.from {
                Some(f) => load(f)?,
                None => target.snapshots(&root, &Options::default())?,
            };
            let hint = audit::PathHint {
                bandwidth: args.bandwidth,
                rtt: args.rtt.map(|d| d.0.as_secs_f64()),
            };
            let mut worst = 0;
            let mut texts = Vec::new();
            let mut docs = Vec::new();
            for s in &snaps {
                let items = audit::audit(s, hint);
                worst = worst.max(audit::exit_code(&items));
                let host = s.meta.hostname.as_deref().unwrap_or("?");
                let mut title = format!(
                    "pktmap audit  {host}  Linux {}  {} CPUs",
                    s.meta.kernel.as_deref().unwrap_or("?"),
                    s.meta.cpus_online.len()
                );
                if let Some(ns) = &s.meta.netns {
                    title.push_str(&format!("\nnamespace {}", ns.display()));
                }
                texts.push(if args.format == "sysctl" {
                    findings_render::sysctl_snippet(host, &items)
                } else {
                    findings_render::audit_text(&title, &items, style)
                });
                docs.push(serde_json::json!({
                    "schema": "pktmap.audit/1",
                    "netns": s.meta.netns,
                    "exit_code": audit::exit_code(&items),
                    "checks": items,
                }));
            }
            if args.json {
                match docs.as_slice() {
                    [one] => output::json(one)?,
                    many => output::json(&many)?,
                }
            } else {
                output::text(&texts.join("\n"))?;
            }
            return Ok(ExitCode::from(worst));
        }
        Command::Doctor(args) => {
            let checks = doctor::checks();
            if args.json {
                output::json(&checks)?;
            } else {
                output::text(&doctor::text(&checks))?;
            }
        }
        Command::Trace(cli::TraceCommand::Latency(args)) => {
            let scope = trace::LatencyScope {
                task: args.task,
                comm: args.comm,
                only: args.stage,
                duty: args.duty,
            };
            let t = trace::latency(args.interval.0, &scope, args.cost)?;
            if args.json {
                output::json(&t)?;
            } else {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
                output::text(&findings_render::latency_text(&t, host.trim(), style))?;
            }
        }
        Command::Trace(cli::TraceCommand::Drops(args)) => {
            let only = match &target {
                Target::One(ns) => Some(ns.label.inode),
                _ => None,
            };
            let t = trace::drops(
                args.interval.0,
                only,
                args.iface.as_deref(),
                args.cost,
                args.sample,
            )?;
            if args.json {
                output::json(&t)?;
            } else {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
                output::text(&findings_render::trace_text(&t, host.trim(), style))?;
            }
        }
        Command::Snapshot(args) => {
            let opts = Options {
                only: args.collector.clone(),
                ..Options::default()
            };
            let mut snaps = target.snapshots(&root, &opts)?;
            let body = if matches!(target, Target::All) {
                serde_json::to_string_pretty(&SnapshotSet::new(snaps))?
            } else {
                serde_json::to_string_pretty(&snaps.remove(0))?
            } + "\n";
            match args.output.as_deref() {
                None | Some("-") => output::text(&body)?,
                Some(path) => write_file(path.as_ref(), body.as_bytes())
                    .with_context(|| format!("writing {path}"))?,
            }
        }
        Command::Capture(args) => {
            if matches!(target, Target::All) {
                bail!("capture records one namespace: use --netns or --pid, once per namespace");
            }
            let recording = root.clone().recording();
            let snap = target.snapshots(&recording, &Options::default())?.remove(0);
            let body = serde_json::to_string_pretty(&snap)? + "\n";
            let files = recording
                .write_recording(
                    args.out.as_ref(),
                    args.force,
                    &[("snapshot.json", body.as_bytes())],
                )
                .with_context(|| format!("writing the capture to {}", args.out))?;
            eprintln!(
                "pktmap: captured {files} files into {}; replay with --root {}",
                args.out, args.out
            );
        }
        Command::Serve(args) => serve::run(
            &target,
            &root,
            &serve::Settings {
                listen: args.listen,
                interval: args.interval.0,
                cache: args.cache.0,
                census: args.census.0,
                keep_files: args.keep_files,
                limits: pktmap_render::metrics::Limits {
                    netns: args.netns_limit,
                    series: args.series_limit,
                },
                trace: args.trace,
            },
        )?,
        Command::Rules => output::text(&pktmap_render::alerts::rules_yaml())?,
        Command::Dashboard => output::json(&pktmap_render::dashboard::json())?,
        Command::Top(args) => top::run(&target, &root, args.from.as_deref(), args.interval.0)?,
        Command::Tune(cmd) => tune::command(&target, &root, cmd, style)?,
        Command::Stages(args) => {
            if args.json {
                output::json(&catalog_render::json())?;
            } else {
                output::text(&catalog_render::text(style))?;
            }
        }
        Command::Explain(args) => {
            if matches!(target, Target::All) {
                bail!("explain reads one namespace: use --netns or --pid");
            }
            let snap = target.snapshots(&root, &Options::default())?.remove(0);
            let Some(v) = explain::json(&args.key, &snap) else {
                bail!(
                    "{:?} is not a stage id, a key pktmap knows, or the handle of a firewall rule \
                     that drops here; `pktmap stages` lists the keys, `nft -a list ruleset` the \
                     handles",
                    args.key
                );
            };
            if args.json {
                output::json(&v)?;
            } else {
                output::text(&explain::text(&v, style))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Walks as text, or as JSON: one document, or one line per document when watching.
/// `--all-netns` always gets the list shape, however many namespaces there were.
fn print_walks(
    walks: &[Walk],
    all: bool,
    json: bool,
    lines: bool,
    style: pktmap_render::Style,
) -> Result<()> {
    let doc = match walks {
        [one] if !all => serde_json::to_value(one)?,
        many => serde_json::json!({ "schema": "pktmap.walks/1", "walks": many }),
    };
    match (json, lines) {
        (true, true) => output::text(&(serde_json::to_string(&doc)? + "\n")),
        (true, false) => output::json(&doc),
        (false, _) => {
            let texts: Vec<String> = walks.iter().map(|w| walk_render::text(w, style)).collect();
            output::text(&(texts.join("\n") + if lines { "\n" } else { "" }))
        }
    }
}

/// The two moments to compare: two files, boot and now, or now and an interval later.
fn measure(
    target: &Target,
    root: &Root,
    offline: &cli::Offline,
    interval: cli::Interval,
    since_boot: bool,
) -> Result<(Vec<Snapshot>, Vec<Snapshot>)> {
    if let (Some(a), Some(b)) = (&offline.from, &offline.to) {
        return Ok((load(a)?, load(b)?));
    }
    let first = target.snapshots(root, &Options::default())?;
    if since_boot {
        return Ok((first.iter().map(at_boot).collect(), first));
    }
    // Interrupted early, the walk covers the shorter time: snapshots carry their own clocks.
    interrupt::wait(interval.0);
    Ok((first, target.snapshots(root, &Options::default())?))
}

/// Snapshots of the same namespace from both lists, matched by namespace inode.
/// One walk per namespace present in both lists.
fn walks(from: &[Snapshot], to: &[Snapshot], iface: Option<&str>) -> Result<Vec<Walk>> {
    let out = pairs(from, to)
        .into_iter()
        .map(|(a, b)| Ok(walk::build(&Delta::between(a, b)?, iface)))
        .collect::<Result<Vec<_>>>()?;
    if out.is_empty() {
        bail!("the two snapshots share no network namespace");
    }
    Ok(out)
}

/// The same host at boot: every counter zero, the clock at zero, so a delta to now gives
/// the averages since boot.
fn at_boot(now: &Snapshot) -> Snapshot {
    let mut s = now.clone();
    s.meta.uptime_s = Some(0.0);
    s.sockets.clear();
    for m in &mut s.metrics {
        if m.kind.width_bits().is_some() {
            m.value = 0;
        }
    }
    s
}

fn load(path: &str) -> Result<Vec<Snapshot>> {
    let bytes = read_regular(path.as_ref(), SNAPSHOT_FILE_CAP)
        .with_context(|| format!("reading {path}"))?;
    let text = String::from_utf8(bytes).with_context(|| format!("reading {path}"))?;
    load_snapshots(&text).with_context(|| format!("loading {path}"))
}
