//! `pktmap serve`: one process that takes a snapshot of every namespace it reads each
//! interval, keeps the ledger, walk and diagnosis of the last interval, and answers HTTP with
//! them: `/metrics` (Prometheus text format 0.0.4), `/api/walk`, `/api/diagnose`,
//! `/api/snapshot`, `/healthz` and `/readyz`. Scrapes never collect: every one reads the
//! state of the last interval, so concurrent scrapes cost nothing and agree.
//!
//! The HTTP side is small on purpose and bounded: GET and HEAD only, a request head of at
//! most 8 KiB, 5 s to send it and to take the answer, at most 32 connections served at once
//! (more are answered 503), one request per connection.

use crate::interrupt;
use crate::target::Target;
use anyhow::{Context, Result};
use pktmap_model::delta::Delta;
use pktmap_model::findings::Finding;
use pktmap_model::snapshot::Snapshot;
use pktmap_model::walk::{self, Walk};
use pktmap_model::{diagnose, findings, ledger};
use pktmap_render::metrics;
use pktmap_sources::{Options, Root};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MAX_HEAD: usize = 8 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: usize = 32;

/// What the last interval showed, rendered once for every scrape.
#[derive(Default)]
struct State {
    metrics: String,
    walk: String,
    diagnose: String,
    snapshot: String,
    /// Intervals measured so far; ready from the first.
    intervals: u64,
}

/// Serves until SIGINT or SIGTERM.
pub fn run(target: &Target, root: &Root, listen: SocketAddr, interval: Duration) -> Result<()> {
    let listener = TcpListener::bind(listen).with_context(|| format!("listening on {listen}"))?;
    // Non-blocking accepts, so a stop is noticed between connections.
    listener.set_nonblocking(true)?;
    eprintln!(
        "pktmap: serving on http://{}/metrics",
        listener.local_addr()?
    );
    let state = Arc::new(Mutex::new(State::default()));
    let http = {
        let state = state.clone();
        std::thread::Builder::new()
            .name("pktmap-http".into())
            .spawn(move || accept(listener, state))?
    };
    let mut previous = target.snapshots(root, &Options::default())?;
    while !interrupt::stopped() {
        interrupt::wait(interval);
        if interrupt::stopped() {
            break;
        }
        let current = target.snapshots(root, &Options::default())?;
        let rendered = render(&previous, &current)?;
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        let intervals = s.intervals + 1;
        *s = State {
            intervals,
            ..rendered
        };
        drop(s);
        previous = current;
    }
    let _ = http.join();
    Ok(())
}

/// The documents of one interval, every namespace in each.
fn render(from: &[Snapshot], to: &[Snapshot]) -> Result<State> {
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
    Ok(State {
        metrics: metrics::text(&reports),
        walk: serde_json::to_string_pretty(&walk_docs)? + "\n",
        diagnose: serde_json::to_string_pretty(&diagnose_docs)? + "\n",
        snapshot: serde_json::to_string_pretty(&to)? + "\n",
        intervals: 0,
    })
}

fn accept(listener: TcpListener, state: Arc<Mutex<State>>) {
    let active = Arc::new(AtomicUsize::new(0));
    while !interrupt::stopped() {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => continue,
        };
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let _ = answer(&stream, 503, "text/plain", b"busy\n", false);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (state, done) = (state.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name("pktmap-conn".into())
            .spawn(move || {
                let _ = serve_one(stream, &state);
                done.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // The thread was never made: count it out again here.
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn serve_one(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let head = match read_head(&stream) {
        Ok(h) => h,
        Err(Head::TooLarge) => {
            return answer(&stream, 431, "text/plain", b"head too large\n", false);
        }
        Err(Head::Io(e)) => return Err(e),
    };
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let body_too = match method {
        "GET" => true,
        "HEAD" => false,
        _ => return answer(&stream, 405, "text/plain", b"GET or HEAD only\n", true),
    };
    let path = path.split('?').next().unwrap_or("");
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    let ready = s.intervals > 0;
    let (status, kind, body): (u16, &str, Vec<u8>) = match path {
        "/healthz" => (200, "text/plain", b"ok\n".to_vec()),
        "/readyz" if ready => (200, "text/plain", b"ready\n".to_vec()),
        "/readyz" => (
            503,
            "text/plain",
            b"the first interval is not over yet\n".to_vec(),
        ),
        _ if !ready => (
            503,
            "text/plain",
            b"the first interval is not over yet\n".to_vec(),
        ),
        "/metrics" => (
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            s.metrics.clone().into_bytes(),
        ),
        "/api/walk" => (200, "application/json", s.walk.clone().into_bytes()),
        "/api/diagnose" => (200, "application/json", s.diagnose.clone().into_bytes()),
        "/api/snapshot" => (200, "application/json", s.snapshot.clone().into_bytes()),
        _ => (404, "text/plain", b"not found\n".to_vec()),
    };
    drop(s);
    answer(&stream, status, kind, &body, body_too)
}

enum Head {
    TooLarge,
    Io(std::io::Error),
}

/// The request line and headers, up to the blank line; at most [`MAX_HEAD`] bytes.
fn read_head(mut stream: &TcpStream) -> Result<String, Head> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).map_err(Head::Io)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return Err(Head::TooLarge);
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn answer(
    mut stream: &TcpStream,
    status: u16,
    kind: &str,
    body: &[u8],
    with_body: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    )?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}
