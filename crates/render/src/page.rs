//! The live map's web page: the diagram of the chosen namespace, its verdict, and the chosen
//! stage's counters, settings, findings and commands. The whole page and the fragment the
//! script refreshes every 2 s are both made here, from the same parts; every asset is in the
//! binary.

use crate::fmt::{labels, si};
use crate::map::{esc, svg};
use pktmap_model::catalog::{self, Class};
use pktmap_model::findings::Finding;
use pktmap_model::walk::Walk;
use std::fmt::Write;

/// The refreshing script (checked by `node --check` in the tests).
pub const SCRIPT: &str = include_str!("../assets/map.js");

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1em;background:#fafafa;color:#111}\
h1{font-size:18px;margin:0 0 .3em}#age{margin-left:1em;color:#555}#age.stale{color:#b00;font-weight:bold}\
.verdict{font-weight:bold;margin:.4em 0}.verdict.loss{color:#a00}\
svg.map{max-width:100%;height:auto;font:11px system-ui,sans-serif}\
.stage rect{fill:#e8f5e9;stroke:#2e7d32;stroke-width:1.5}.stage.warn rect{fill:#fff8e1;stroke:#e65100}\
.stage.loss rect{fill:#ffebee;stroke:#b71c1c;stroke-width:3}.stage.none rect{fill:#eee;stroke:#999;stroke-dasharray:4 3}\
.stage .id{font-weight:bold}.stage.loss .word,.stage.loss .drops{fill:#b71c1c;font-weight:bold}\
.stage.warn .word{fill:#e65100;font-weight:bold}.badge{fill:#1565c0}.badge-n{fill:#fff;font-weight:bold}\
.lane{font-weight:bold;fill:#333}.strip rect{fill:#90a4ae}.strip.lost rect{fill:#c62828}.strip text{font-size:9px}\
table{border-collapse:collapse;margin:.5em 0}td,th{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}code{background:#eee;padding:1px 4px}\
.finding{border-left:4px solid #1565c0;padding-left:8px;margin:.6em 0}.finding.critical{border-color:#b71c1c}\
.finding.warning{border-color:#e65100}button{font-size:11px;margin-left:4px}";

/// One namespace the page can show.
pub struct Namespace<'a> {
    /// What `?netns=` names it by (its inode; empty for the only one).
    pub key: String,
    pub label: String,
    pub walk: &'a Walk,
    pub findings: &'a [Finding],
}

fn link(netns: &str, stage: &str) -> String {
    if netns.is_empty() {
        format!("?stage={stage}#detail")
    } else {
        format!("?netns={netns}&stage={stage}#detail")
    }
}

/// The part the script refreshes: verdict, diagram, and the chosen stage's panel.
pub fn fragment(ns: &Namespace, stage: Option<&str>) -> String {
    let w = ns.walk;
    let mut out = String::new();
    match w.first_loss.and_then(catalog::stage) {
        Some(s) => {
            let _ = write!(
                out,
                r#"<p class="verdict loss">LOSS: packets are dropped first at {} {}</p>"#,
                s.id,
                esc(s.title)
            );
        }
        None => out.push_str(r#"<p class="verdict">OK: no loss counter moved past its floor</p>"#),
    }
    let _ = write!(
        out,
        r#"<p>interval {:.1} s · {} finding(s)</p>"#,
        w.interval_s,
        ns.findings.len()
    );
    out.push_str(&svg(w, ns.findings, &|id| link(&ns.key, id)));
    if let Some(id) = stage {
        out.push_str(&detail(w, ns.findings, id));
    }
    out
}

/// The stage panel: what happens there, its findings with commands, its counters and settings.
fn detail(w: &Walk, findings: &[Finding], id: &str) -> String {
    let Some(s) = w.stages.iter().find(|s| s.id == id) else {
        return format!(
            r#"<section id="detail"><p>no stage {}</p></section>"#,
            esc(id)
        );
    };
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<section id="detail"><h2>{} {}</h2>"#,
        s.id,
        esc(s.title)
    );
    if let Some(c) = catalog::stage(id) {
        let _ = write!(out, "<p>{}</p>", esc(c.happens));
    }
    for f in findings.iter().filter(|f| f.stage == id) {
        let sev = format!("{:?}", f.severity).to_lowercase();
        let _ = write!(
            out,
            r#"<div class="finding {sev}"><b>{} {}</b><br>{}"#,
            sev.to_uppercase(),
            esc(&f.title),
            esc(&f.cause)
        );
        for e in f
            .evidence
            .iter()
            // What the tracer saw when the server traces: reasons and histogram tails.
            .filter(|e| e.key.starts_with("drop reason") || e.key.starts_with("histogram"))
        {
            let what = e
                .value
                .clone()
                .unwrap_or_else(|| e.delta.unwrap_or(0).to_string());
            let _ = write!(out, "<br>{}: {}", esc(&e.key), esc(&what));
        }
        out.push_str("<ul>");
        for a in &f.actions {
            let _ = write!(
                out,
                r#"<li><code>{c}</code><button data-copy="{c}">copy</button></li>"#,
                c = esc(&a.command)
            );
        }
        out.push_str("</ul></div>");
    }
    out.push_str("<table><tr><th>counter</th><th>where</th><th>per second</th><th>in the interval</th><th>role</th></tr>");
    for c in s
        .counters
        .iter()
        .filter(|c| c.change.delta.is_some_and(|d| d > 0) || c.class != Class::Traffic)
        .take(60)
    {
        let _ = write!(
            out,
            r#"<tr><td><code>{}</code></td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td>{:?}</td></tr>"#,
            esc(&c.change.name),
            esc(&labels(&c.change.labels)),
            c.change.rate.map_or("-".into(), si),
            c.change.delta.map_or("-".into(), |d| d.to_string()),
            c.class
        );
    }
    out.push_str("</table>");
    if !s.settings.is_empty() {
        out.push_str("<p>settings: ");
        for set in &s.settings {
            let _ = write!(out, "<code>{}={}</code> ", esc(&set.name), esc(&set.value));
        }
        out.push_str("</p>");
    }
    out.push_str("</section>");
    out
}

/// The whole page: header with the namespace selector, the fragment, the script.
pub fn page(namespaces: &[Namespace], chosen: usize, stage: Option<&str>) -> String {
    let mut out = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pktmap</title>\
         <meta name=\"viewport\" content=\"width=device-width\">",
    );
    // Without script: the whole page again every 10 s.
    out.push_str(r#"<noscript><meta http-equiv="refresh" content="10"></noscript>"#);
    let _ = write!(out, "<style>{STYLE}</style></head><body>");
    let host = namespaces
        .first()
        .and_then(|n| n.walk.host.hostname.clone())
        .unwrap_or_default();
    let _ = write!(
        out,
        r#"<h1>pktmap · {}<span id="age">live</span></h1>"#,
        esc(&host)
    );
    if namespaces.len() > 1 {
        out.push_str(
            r#"<form method="get">namespace <select name="netns" onchange="this.form.submit()">"#,
        );
        for (i, n) in namespaces.iter().enumerate() {
            let sel = if i == chosen { " selected" } else { "" };
            let _ = write!(
                out,
                r#"<option value="{}"{sel}>{}</option>"#,
                esc(&n.key),
                esc(&n.label)
            );
        }
        out.push_str(r#"</select><noscript><button>show</button></noscript></form>"#);
    }
    out.push_str(r#"<div id="live">"#);
    if let Some(ns) = namespaces.get(chosen) {
        out.push_str(&fragment(ns, stage));
    }
    let _ = write!(out, "</div><script>{SCRIPT}</script></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_script_the_page_refreshes_itself_and_boxes_are_links() {
        use pktmap_model::delta::Delta;
        use pktmap_model::snapshot::{Meta, Snapshot};
        let snap = |t: f64| {
            Snapshot::new(Meta {
                uptime_s: Some(t),
                ..Meta::default()
            })
        };
        let (a, b) = (snap(1.0), snap(2.0));
        let w = pktmap_model::walk::build(&Delta::between(&a, &b).unwrap(), None);
        let ns = Namespace {
            key: "4026531840".into(),
            label: "host".into(),
            walk: &w,
            findings: &[],
        };
        let html = page(&[ns], 0, Some("rx.5"));
        assert!(html.contains(r#"<noscript><meta http-equiv="refresh" content="10"></noscript>"#));
        assert!(
            html.contains(r#"href="?netns=4026531840&amp;stage=rx.1#detail""#),
            "{html}"
        );
        assert!(html.contains(r#"<section id="detail"><h2>rx.5"#), "{html}");
        assert!(html.contains("setInterval(refresh, 2000)"));
        for outside in ["src=\"http", "href=\"http", "url(http", "import "] {
            assert!(!html.contains(outside), "no outside asset: {outside}");
        }
    }
}
