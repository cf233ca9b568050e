//! `pktmap top`: the map in a terminal, refreshed each interval, from this host or from a
//! running `pktmap serve` (`--from http://HOST:PORT`, which is how a node of a cluster is
//! reached through `kubectl port-forward`). The terminal is restored on `q`, on Ctrl-C and on
//! a panic (ratatui's init installs the hook).

mod view;

use crate::target::Target;
use anyhow::{Context, Result, bail};
use pktmap_model::delta::Delta;
use pktmap_model::diagnose;
use pktmap_model::snapshot::Snapshot;
use pktmap_sources::{Options, Root};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use view::{Model, VIEWS};

/// Where the documents come from.
enum Source<'a> {
    Local {
        target: &'a Target,
        root: &'a Root,
        previous: Vec<Snapshot>,
    },
    Remote {
        addr: String,
    },
}

impl Source<'_> {
    fn describe(&self) -> String {
        match self {
            Source::Local { .. } => "this host".into(),
            Source::Remote { addr } => format!("serve at {addr}"),
        }
    }

    /// The walk and diagnose documents of the interval just ended.
    fn next(&mut self) -> Result<(Vec<Value>, Vec<Value>)> {
        match self {
            Source::Local {
                target,
                root,
                previous,
            } => {
                let current = target.snapshots(root, &Options::default())?;
                let (mut walks, mut diags) = (Vec::new(), Vec::new());
                for (a, b) in crate::target::pairs(previous, &current) {
                    let delta = Delta::between(a, b)?;
                    let (w, found) = diagnose::walk_and_findings(&delta, None, None, None);
                    walks.push(serde_json::to_value(w)?);
                    diags.push(serde_json::json!({ "findings": found }));
                }
                *previous = current;
                Ok((walks, diags))
            }
            Source::Remote { addr } => {
                let walks = get_json(addr, "/api/walk")?;
                let diags = get_json(addr, "/api/diagnose")?;
                let list = |v: Value| match v {
                    Value::Array(a) => a,
                    one => vec![one],
                };
                Ok((list(walks), list(diags)))
            }
        }
    }
}

/// One GET to a `pktmap serve` (plain HTTP, one request per connection, as it answers).
fn get_json(addr: &str, path: &str) -> Result<Value> {
    let mut s =
        std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.take(256 << 20).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("{addr}{path}: not an HTTP answer"))?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        bail!("{addr}{path}: {}", head.lines().next().unwrap_or(""));
    }
    serde_json::from_str(body).with_context(|| format!("{addr}{path}: not pktmap's JSON"))
}

/// `http://host:port` (or `host:port`) as the address to connect to.
fn address(url: &str) -> Result<String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if url.starts_with("https://") {
        bail!("pktmap serve answers plain HTTP; use http:// (through kubectl port-forward, say)");
    }
    Ok(rest.trim_end_matches('/').to_string())
}

pub fn run(target: &Target, root: &Root, from: Option<&str>, interval: Duration) -> Result<()> {
    let mut source = match from {
        Some(url) => Source::Remote {
            addr: address(url)?,
        },
        None => Source::Local {
            target,
            root,
            previous: target.snapshots(root, &Options::default())?,
        },
    };
    // A remote server is read at once; a local one after its first interval.
    let first = match &source {
        Source::Remote { .. } => Some(source.next()?),
        Source::Local { .. } => None,
    };
    let mut model = Model::new(source.describe());
    if let Some((w, d)) = first {
        (model.walks, model.diagnoses) = (w, d);
    }
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, &mut model, &mut source, interval);
    ratatui::restore();
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    m: &mut Model,
    source: &mut Source,
    interval: Duration,
) -> Result<()> {
    let mut fetched = Instant::now();
    let mut error: Option<String> = None;
    loop {
        m.age_s = fetched.elapsed().as_secs();
        if let Some(e) = &error {
            m.source = format!("{} (last read failed: {e})", source.describe());
        }
        terminal.draw(|f| view::draw(f, m))?;
        #[cfg(debug_assertions)]
        if std::env::var_os("PKTMAP_TOP_PANIC").is_some() {
            // Tests prove the terminal comes back after a panic.
            panic!("PKTMAP_TOP_PANIC is set");
        }
        // SIGTERM (or SIGINT sent from outside the terminal) ends it like `q`.
        if crate::interrupt::stopped() {
            return Ok(());
        }
        let due = interval.saturating_sub(fetched.elapsed());
        if event::poll(due.min(Duration::from_millis(500)))? {
            if let Event::Key(k) = event::read()?
                && k.kind == KeyEventKind::Press
                && !key(m, k.code, k.modifiers)
            {
                return Ok(());
            }
            continue;
        }
        if fetched.elapsed() >= interval {
            fetched = Instant::now();
            if m.paused {
                continue;
            }
            match source.next() {
                Ok((w, d)) => {
                    (m.walks, m.diagnoses) = (w, d);
                    m.ns = m.ns.min(m.walks.len().saturating_sub(1));
                    m.source = source.describe();
                    error = None;
                }
                Err(e) => error = Some(format!("{e:#}")),
            }
        }
    }
}

/// Applies a key; false means quit.
fn key(m: &mut Model, code: KeyCode, mods: KeyModifiers) -> bool {
    if m.help || m.explain {
        m.help = false;
        m.explain = false;
        return !matches!(code, KeyCode::Char('q'));
    }
    let view_at = |i: usize| VIEWS[i % VIEWS.len()].0;
    let current = VIEWS.iter().position(|(v, _)| *v == m.view).unwrap_or(0);
    let lanes = m
        .stages()
        .iter()
        .filter(|s| s["path"] != "container")
        .count();
    match code {
        KeyCode::Char('c') if mods.contains(KeyModifiers::CONTROL) => return false,
        KeyCode::Char('q') | KeyCode::Esc => return false,
        KeyCode::Char(c @ '1'..='6') => m.view = view_at(c as usize - '1' as usize),
        KeyCode::Tab | KeyCode::Right => m.view = view_at(current + 1),
        KeyCode::BackTab | KeyCode::Left => m.view = view_at(current + VIEWS.len() - 1),
        KeyCode::Down => m.stage = (m.stage + 1).min(lanes.saturating_sub(1)),
        KeyCode::Up => m.stage = m.stage.saturating_sub(1),
        KeyCode::Char('n') => m.ns = (m.ns + 1) % m.walks.len().max(1),
        KeyCode::Char('N') => m.ns = (m.ns + m.walks.len().max(1) - 1) % m.walks.len().max(1),
        KeyCode::Char('d') => {
            let devs = m.devices();
            m.device = match &m.device {
                None => devs.first().cloned(),
                Some(d) => devs
                    .iter()
                    .position(|x| x == d)
                    .and_then(|i| devs.get(i + 1))
                    .cloned(),
            };
        }
        KeyCode::Char('p') | KeyCode::Char(' ') => m.paused = !m.paused,
        KeyCode::Char('e') => m.explain = true,
        KeyCode::Char('?') | KeyCode::Char('h') => m.help = true,
        _ => {}
    }
    true
}

#[cfg(test)]
mod tests {
    use super::view::View;
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    /// The model of a fixture host's two captures (a UDP flood into a receiver that drops).
    fn fixture_model() -> Model {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/hosts/vm-udp-flood");
        let snap = |t: &str| {
            pktmap_sources::take_snapshot_with(
                &Root::open(dir.join(t)).unwrap(),
                &Options::default(),
            )
        };
        let (a, b) = (snap("t0"), snap("t1"));
        let delta = Delta::between(&a, &b).unwrap();
        let (w, found) = diagnose::walk_and_findings(&delta, None, None, None);
        Model {
            walks: vec![serde_json::to_value(w).unwrap()],
            diagnoses: vec![serde_json::json!({ "findings": found })],
            ..Model::new("this host".into())
        }
    }

    fn screen(m: &Model, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| view::draw(f, m)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    + "\n"
            })
            .collect()
    }

    #[test]
    fn every_view_fits_from_80x24_up_and_the_map_shows_both_lanes() {
        let mut m = fixture_model();
        let first = m.walks[0]["first_loss"].as_str().unwrap().to_string();
        for (w, h) in [(80, 24), (120, 40), (160, 48)] {
            let s = screen(&m, w, h);
            assert!(s.contains("pktmap top"), "{s}");
            assert!(s.contains(&format!("dropped first at {first}")), "{s}");
            assert!(
                s.contains("rx.11") && s.contains("tx.5"),
                "both lanes at {w}x{h}:\n{s}"
            );
            assert!(s.contains("LOSING"), "{s}");
            assert!(s.contains("q:quit"), "the keys line at {w}x{h}");
        }
        for (i, (v, _)) in VIEWS.iter().enumerate() {
            assert!(key(
                &mut m,
                KeyCode::Char((b'1' + i as u8) as char),
                KeyModifiers::NONE
            ));
            assert_eq!(m.view, *v);
            let s = screen(&m, 80, 24);
            assert!(s.contains("pktmap top"), "{v:?}");
        }
        m.view = View::Findings;
        assert!(
            screen(&m, 100, 30).contains("$ "),
            "findings carry their commands"
        );
        m.view = View::Cpus;
        assert!(screen(&m, 100, 30).contains("cpu0"));
    }

    #[test]
    fn keys_pause_explain_help_and_quit() {
        let mut m = fixture_model();
        assert!(key(&mut m, KeyCode::Char('p'), KeyModifiers::NONE));
        assert!(m.paused && screen(&m, 100, 30).contains("PAUSED"));
        assert!(key(&mut m, KeyCode::Down, KeyModifiers::NONE));
        assert!(key(&mut m, KeyCode::Char('e'), KeyModifiers::NONE));
        assert!(
            screen(&m, 100, 30).contains("rx.2"),
            "explains the chosen stage"
        );
        assert!(
            key(&mut m, KeyCode::Char('x'), KeyModifiers::NONE),
            "any key closes it"
        );
        assert!(!m.explain);
        assert!(key(&mut m, KeyCode::Char('?'), KeyModifiers::NONE));
        assert!(screen(&m, 100, 30).contains("Ctrl-C: quit"));
        assert!(key(&mut m, KeyCode::Esc, KeyModifiers::NONE));
        assert!(!key(&mut m, KeyCode::Char('q'), KeyModifiers::NONE));
        assert!(!key(&mut m, KeyCode::Char('c'), KeyModifiers::CONTROL));
    }

    #[test]
    fn an_address_is_plain_http() {
        assert_eq!(address("http://node:9977/").unwrap(), "node:9977");
        assert_eq!(address("127.0.0.1:9977").unwrap(), "127.0.0.1:9977");
        assert!(address("https://node:9977").is_err());
    }
}
