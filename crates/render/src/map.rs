//! The live map: the article's diagram drawn from a walk and its findings. The receive lane
//! (rx.1 to rx.11), the transmit lane (tx.1 to tx.5) and the container legs, one box per
//! stage with its packets and drops per second, its state in colour and in words (colour is
//! never the only signal) and a badge counting its findings; under the softirq stage a strip
//! per CPU, under the NIC stages a strip per queue. SVG, so a test can compare it with a
//! golden file; `serve` wraps it in a page ([`page`]).

use crate::fmt::si;
use pktmap_model::catalog::{self, Class, Path};
use pktmap_model::findings::{Finding, Severity};
use pktmap_model::walk::{StageView, Walk};
use std::fmt::Write;

/// A stage's state on the map.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// A loss counter of the stage cleared its floor.
    Loss,
    /// A finding at warning or above that is not a loss (delay, strain, configuration).
    Warning,
    Ok,
    /// Nothing at this stage could be measured here (no counter, no traffic).
    Unmeasured,
}

impl State {
    /// Class name (colour), word and icon: three signals, so colour is never the only one.
    fn look(self) -> (&'static str, &'static str, &'static str) {
        match self {
            State::Loss => ("loss", "LOSING", "\u{2716}"),
            State::Warning => ("warn", "WARNING", "!"),
            State::Ok => ("ok", "ok", "\u{2713}"),
            State::Unmeasured => ("none", "not measured", "\u{2013}"),
        }
    }
}

pub fn state(stage: &StageView, findings: &[Finding]) -> State {
    if stage.losing {
        return State::Loss;
    }
    let warned = findings
        .iter()
        .any(|f| f.stage == stage.id && f.severity >= Severity::Warning);
    if warned {
        State::Warning
    } else if stage.traffic_per_s.is_none() && stage.counters.is_empty() {
        State::Unmeasured
    } else {
        State::Ok
    }
}

/// Text for SVG and HTML: `&`, `<`, `>`, quotes.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A title cut to `max` characters at a word where it can be, marked with an ellipsis.
fn shorten(title: &str, max: usize) -> String {
    if title.chars().count() <= max {
        return title.to_string();
    }
    let cut: String = title.chars().take(max - 1).collect();
    let at_word = cut
        .rfind(' ')
        .filter(|i| *i >= max / 2)
        .unwrap_or(cut.len());
    format!("{}\u{2026}", cut[..at_word].trim_end())
}

const BOX_W: usize = 104;
const BOX_H: usize = 86;
const GAP: usize = 8;
const LEFT: usize = 70;

/// Per CPU (the softirq stage) or per queue (the NIC stages): `(label, traffic/s, drops/s)`.
fn strip(stage: &StageView) -> Vec<(String, f64, f64)> {
    let key = if stage.id == "rx.5" {
        "cpu"
    } else if matches!(stage.id, "rx.1" | "rx.3" | "tx.4") {
        "queue"
    } else {
        return Vec::new();
    };
    let mut rows: Vec<(String, f64, f64)> = Vec::new();
    for c in &stage.counters {
        let Some(v) = c.change.labels.get(key) else {
            continue;
        };
        let label = match (key, c.change.labels.get("dev")) {
            ("queue", Some(dev)) => format!("{dev} q{v}"),
            ("cpu", _) => format!("cpu{v}"),
            _ => format!("q{v}"),
        };
        let rate = c.change.rate.unwrap_or(0.0);
        let i = match rows.iter().position(|r| r.0 == label) {
            Some(i) => i,
            None => {
                rows.push((label, 0.0, 0.0));
                rows.len() - 1
            }
        };
        match c.class {
            Class::Traffic => rows[i].1 += rate,
            Class::Drop | Class::Error if !c.detail => rows[i].2 += rate,
            _ => {}
        }
    }
    rows.truncate(8);
    rows
}

/// The diagram of one walk. Each box links to `?stage=ID` so the page works without script.
pub fn svg(walk: &Walk, findings: &[Finding], link: &dyn Fn(&str) -> String) -> String {
    let lanes = [
        (Path::Rx, "receive"),
        (Path::Tx, "transmit"),
        (Path::Container, "containers"),
    ];
    let widest = lanes
        .iter()
        .map(|(p, _)| walk.stages.iter().filter(|s| s.path == *p).count())
        .max()
        .unwrap_or(0);
    let width = LEFT + widest * (BOX_W + GAP);
    let lane_h = BOX_H + 16 + 8 * 11;
    let height = lanes.len() * lane_h + 10;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="packet path map" class="map">"#
    );
    for (row, (path, name)) in lanes.iter().enumerate() {
        let y = 10 + row * lane_h;
        let _ = write!(
            out,
            r#"<text x="4" y="{}" class="lane">{name}</text>"#,
            y + BOX_H / 2
        );
        for (col, s) in walk.stages.iter().filter(|s| s.path == *path).enumerate() {
            let x = LEFT + col * (BOX_W + GAP);
            let st = state(s, findings);
            let (class, word, icon) = st.look();
            let n = findings.iter().filter(|f| f.stage == s.id).count();
            let title = catalog::stage(s.id).map_or(s.id, |c| c.title);
            let short = shorten(title, 17);
            let traffic = s.traffic_per_s.map_or("-".into(), si);
            let _ = write!(
                out,
                r##"<a href="{href}" data-stage="{id}"><g class="stage {class}"><title>{id} {title}: {word}</title><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"/><text x="{tx}" y="{ty}" class="id">{icon} {id}</text><text x="{tx}" y="{t2}" class="name">{short}</text><text x="{tx}" y="{t3}">{traffic} {unit}</text><text x="{tx}" y="{t4}" class="drops">drops {drops}/s</text><text x="{tx}" y="{t5}" class="word">{word}</text>"##,
                href = esc(&link(s.id)),
                id = s.id,
                title = esc(title),
                short = esc(&short),
                unit = esc(if s.unit == "pkt/s" { "pkt/s" } else { s.unit }),
                tx = x + 6,
                ty = y + 16,
                t2 = y + 31,
                t3 = y + 48,
                t4 = y + 63,
                t5 = y + 78,
                drops = si(s.drops_per_s),
            );
            if n > 0 {
                let _ = write!(
                    out,
                    r#"<circle cx="{cx}" cy="{cy}" r="9" class="badge"/><text x="{cx}" y="{ty}" class="badge-n" text-anchor="middle">{n}</text>"#,
                    cx = x + BOX_W - 12,
                    cy = y + 12,
                    ty = y + 16,
                );
            }
            out.push_str("</g></a>");
            let rows = strip(s);
            let busiest = rows.iter().map(|r| r.1).fold(1.0, f64::max);
            for (i, (label, traffic, drops)) in rows.iter().enumerate() {
                let ry = y + BOX_H + 4 + i * 11;
                let w = ((traffic / busiest) * (BOX_W as f64 - 50.0)).max(1.0);
                let lost = if *drops > 0.0 { " lost" } else { "" };
                let _ = write!(
                    out,
                    r#"<g class="strip{lost}"><text x="{x}" y="{ty}">{label}</text><rect x="{bx}" y="{ry}" width="{w:.0}" height="8"/><title>{label}: {t}/s, drops {d}/s</title></g>"#,
                    label = esc(label),
                    ty = ry + 8,
                    bx = x + 48,
                    t = si(*traffic),
                    d = si(*drops),
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_titles_are_cut_at_a_word() {
        assert_eq!(shorten("NIC", 17), "NIC");
        assert_eq!(
            shorten("softirq (net_rx_action)", 17),
            "softirq (net_rx_\u{2026}"
        );
        assert_eq!(shorten("socket send buffer", 17), "socket send\u{2026}");
        assert_eq!(
            shorten("netif_receive_skb (taps)", 17),
            "netif_receive_sk\u{2026}"
        );
    }

    #[test]
    fn text_is_escaped_for_markup() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
