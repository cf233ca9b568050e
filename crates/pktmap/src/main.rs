//! pktmap: where on the path from NIC to socket packets are dropped or delayed.

mod cli;
mod output;
mod target;

use anyhow::{Context, Result, bail};
use clap::Parser;
use cli::{Cli, Command};
use pktmap_model::delta::Delta;
use pktmap_model::snapshot::{Snapshot, SnapshotSet, load_snapshots};
use pktmap_model::walk::{self, Walk};
use pktmap_render::{catalog as catalog_render, explain, walk as walk_render};
use pktmap_sources::{Options, Root};
use std::process::ExitCode;
use target::Target;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pktmap: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let root = cli.root.as_ref().map(Root::at).unwrap_or_else(Root::live);
    let target = Target::from_flags(
        cli.netns.as_deref(),
        cli.pid,
        cli.all_netns,
        cli.root.as_deref(),
    )?;
    let style = output::style();
    match cli.command {
        Command::Walk(args) => {
            let (from, to) = match (&args.from, &args.to) {
                (Some(a), Some(b)) => (load(a)?, load(b)?),
                (None, None) => {
                    let a = target.snapshots(&root, &Options::default())?;
                    std::thread::sleep(args.interval.0);
                    (a, target.snapshots(&root, &Options::default())?)
                }
                _ => bail!("--from and --to go together"),
            };
            let walks = walks(&from, &to, args.iface.as_deref())?;
            match (args.json, walks.as_slice()) {
                (true, [one]) => output::json(one)?,
                (true, many) => {
                    output::json(&serde_json::json!({ "schema": "pktmap.walks/1", "walks": many }))?
                }
                (false, many) => {
                    let texts: Vec<String> =
                        many.iter().map(|w| walk_render::text(w, style)).collect();
                    output::text(&texts.join("\n"))?
                }
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
                Some(path) => output::write_atomically(path.as_ref(), body.as_bytes())
                    .with_context(|| format!("writing {path}"))?,
            }
        }
        Command::Capture(args) => {
            if matches!(target, Target::All) {
                bail!("capture records one namespace: use --netns or --pid, once per namespace");
            }
            let recording = root.clone().recording();
            let snap = target.snapshots(&recording, &Options::default())?.remove(0);
            let out = std::path::Path::new(&args.out);
            let files = recording
                .write_recording(out)
                .with_context(|| format!("writing the capture to {}", args.out))?;
            let body = serde_json::to_string_pretty(&snap)? + "\n";
            output::write_atomically(&out.join("snapshot.json"), body.as_bytes())?;
            eprintln!(
                "pktmap: captured {files} files into {}; replay with --root {}",
                args.out, args.out
            );
        }
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
                    "{:?} is not a stage id or a key pktmap knows; `pktmap stages` lists them",
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

/// One walk per namespace present in both lists, matched by namespace inode.
fn walks(from: &[Snapshot], to: &[Snapshot], iface: Option<&str>) -> Result<Vec<Walk>> {
    let key = |s: &Snapshot| s.meta.netns.as_ref().map(|n| n.inode);
    let mut out = Vec::new();
    for b in to {
        let Some(a) = from.iter().find(|a| key(a) == key(b)) else {
            continue;
        };
        out.push(walk::build(&Delta::between(a, b)?, iface));
    }
    if out.is_empty() {
        bail!("the two snapshots share no network namespace");
    }
    Ok(out)
}

fn load(path: &str) -> Result<Vec<Snapshot>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    load_snapshots(&text).with_context(|| format!("loading {path}"))
}
