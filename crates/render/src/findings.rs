//! `diagnose` and `audit` findings as text: the verdict first, then each finding's evidence,
//! cause and actions, readable in ten seconds on a bad night.

use crate::Style;
use crate::fmt::{grouped, paragraph, si};
use pktmap_model::catalog;
use pktmap_model::findings::{Finding, Severity};

fn severity_word(s: Severity, style: Style) -> String {
    match s {
        Severity::Critical => style.red("CRITICAL"),
        Severity::Warning => style.yellow("WARNING"),
        Severity::Info => "info".into(),
    }
}

fn stage_title(id: &str) -> String {
    catalog::stage(id)
        .map(|s| format!("{id} {}", s.title))
        .unwrap_or_else(|| id.to_string())
}

/// Where the latency findings point: the network, the host, or the application.
pub fn latency_answer(findings: &[Finding]) -> Option<String> {
    let mut places = Vec::new();
    for (rules, place) in [
        (
            &["retransmits"][..],
            "the network (segments are lost and sent again)",
        ),
        (
            &["cpu-pressure", "qdisc-backlog", "softirq-squeeze"][..],
            "the host (CPU, softirq or queue delay)",
        ),
        (
            &["slow-reader"][..],
            "the application (it does not read what arrived)",
        ),
    ] {
        if findings.iter().any(|f| !f.loss && rules.contains(&f.rule)) {
            places.push(place);
        }
    }
    (!places.is_empty()).then(|| format!("delay comes from {}", places.join(", and ")))
}

pub fn text(title: &str, findings: &[Finding], style: Style) -> String {
    let mut out = vec![style.bold(title)];
    match findings.iter().find(|f| f.loss) {
        Some(first) => out.push(style.red(&format!(
            "VERDICT: packets are lost first at {}: {}",
            stage_title(first.stage),
            first.title
        ))),
        None if findings.is_empty() => out.push(style.green("VERDICT: nothing found")),
        None => out.push(style.yellow(&format!("VERDICT: no loss; {}", findings[0].title))),
    }
    if let Some(answer) = latency_answer(findings) {
        out.push(format!("LATENCY: {answer}"));
    }
    for (n, f) in findings.iter().enumerate() {
        out.push(String::new());
        out.push(format!(
            "{}. {} at {}: {}  (confidence {})",
            n + 1,
            severity_word(f.severity, style),
            stage_title(f.stage),
            style.bold(&f.title),
            format!("{:?}", f.confidence).to_lowercase()
        ));
        for e in &f.evidence {
            let what = if e.scope.is_empty() {
                e.key.clone()
            } else {
                format!("{} {}", e.key, e.scope)
            };
            let figure = match (&e.value, e.delta, e.rate) {
                (Some(v), _, _) => v.clone(),
                (None, Some(d), Some(r)) if d > 0 => format!("+{}  {}/s", grouped(d), si(r)),
                (None, _, Some(r)) => format!("{}/s", si(r)),
                _ => String::new(),
            };
            out.push(format!("     {what:<56} {figure}"));
        }
        let mut why = paragraph("        ", &f.cause, 100);
        if let Some(first) = why.first_mut() {
            first.replace_range(..8, "   why: ");
        }
        out.extend(why);
        for a in &f.actions {
            let mut line = format!("   do:  {}", a.command);
            if let (Some(c), Some(p)) = (&a.current, &a.proposed) {
                line.push_str(&format!(
                    "   (now {c}, proposed {p}{})",
                    if a.why.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", a.why)
                    }
                ));
            }
            out.push(line);
        }
    }
    out.join("\n") + "\n"
}
