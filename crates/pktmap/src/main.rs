//! pktmap: where on the path from NIC to socket packets are dropped or delayed.

mod cli;
mod output;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command};
use pktmap_model::delta::Delta;
use pktmap_model::snapshot::Snapshot;
use pktmap_model::walk;
use pktmap_render::{catalog as catalog_render, explain, walk as walk_render};
use pktmap_sources::{Root, take_snapshot};
use std::process::ExitCode;

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
    let style = output::style();
    match cli.command {
        Command::Walk(args) => {
            let (from, to) = match (&args.from, &args.to) {
                (Some(a), Some(b)) => (load(a)?, load(b)?),
                (None, None) => {
                    let a = take_snapshot(&root);
                    std::thread::sleep(args.interval.0);
                    (a, take_snapshot(&root))
                }
                _ => anyhow::bail!("--from and --to go together"),
            };
            let delta = Delta::between(&from, &to)?;
            let w = walk::build(&delta, args.iface.as_deref());
            if args.json {
                output::json(&w)?;
            } else {
                output::text(&walk_render::text(&w, style))?;
            }
        }
        Command::Snapshot(args) => {
            let snap = take_snapshot(&root);
            let body = serde_json::to_string_pretty(&snap)? + "\n";
            match args.output.as_deref() {
                None | Some("-") => output::text(&body)?,
                Some(path) => output::write_atomically(path.as_ref(), body.as_bytes())
                    .with_context(|| format!("writing {path}"))?,
            }
        }
        Command::Capture(args) => {
            let recording = root.clone().recording();
            let snap = take_snapshot(&recording);
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
            let snap = take_snapshot(&root);
            let Some(v) = explain::json(&args.key, &snap) else {
                anyhow::bail!(
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

fn load(path: &str) -> Result<Snapshot> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    Snapshot::from_json(&text).with_context(|| format!("loading {path}"))
}
