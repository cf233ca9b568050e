//! Text for `pktmap tune`: the plan, an experiment's report, the history. From the JSON
//! documents the commands also print with `--json`.

use crate::Style;
use crate::fmt::si;
use serde_json::Value;
use std::fmt::Write;

pub fn plan_text(plan: &[Value], style: Style) -> String {
    if plan.is_empty() {
        return "pktmap tune plan: no finding or audit check proposes a setting here\n".into();
    }
    let mut out = String::from("pktmap tune plan: one change at a time, in this order\n");
    for (i, p) in plan.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n{}. {} {} -> {}  ({}, {}; {})",
            i + 1,
            style.bold(p["setting"].as_str().unwrap_or("?")),
            p["current"].as_str().unwrap_or("?"),
            p["proposed"].as_str().unwrap_or("?"),
            p["stage"].as_str().unwrap_or("?"),
            p["scope"].as_str().unwrap_or("?"),
            p["risk"].as_str().unwrap_or("?"),
        );
        let _ = writeln!(
            out,
            "   for {} ({}){}",
            p["addresses"].as_str().unwrap_or("?"),
            p["severity"].as_str().unwrap_or("?"),
            match p["should_move"].as_array() {
                Some(m) if !m.is_empty() => format!(
                    ": should move {}",
                    m.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => String::new(),
            }
        );
        let _ = writeln!(out, "   $ {}", p["try"].as_str().unwrap_or(""));
    }
    out
}

pub fn report_text(r: &Value, style: Style) -> String {
    let mut out = String::new();
    let verdict = r["verdict"].as_str().unwrap_or("?").replace('_', " ");
    let _ = writeln!(
        out,
        "pktmap tune try {}: {} -> {}, {} rounds of {} s each way",
        r["setting"].as_str().unwrap_or("?"),
        r["baseline"].as_str().unwrap_or("?"),
        r["changed"].as_str().unwrap_or("?"),
        r["rounds"],
        r["period_s"]
    );
    let head = format!(
        "VERDICT at {}: {}",
        r["stage"].as_str().unwrap_or("its stage"),
        verdict.to_uppercase()
    );
    let _ = writeln!(
        out,
        "{}",
        match r["verdict"].as_str() {
            Some("improved") => style.green(&head),
            Some("worse") => style.red(&head),
            _ => style.bold(&head),
        }
    );
    if let Some(w) = r["worse_elsewhere"].as_array().filter(|w| !w.is_empty()) {
        let names: Vec<&str> = w.iter().filter_map(Value::as_str).collect();
        let _ = writeln!(
            out,
            "{}",
            style.red(&format!("worse elsewhere: {}", names.join(", ")))
        );
    }
    let _ = writeln!(
        out,
        "\n{:<36} {:>12} {:>12} {:>26}  verdict",
        "series (per second)", "baseline", "changed", "95% interval of change"
    );
    for e in r["effects"].as_array().into_iter().flatten() {
        let f = |k: &str| e[k].as_f64().map_or("?".into(), si);
        let _ = writeln!(
            out,
            "{:<36} {:>12} {:>12} {:>26}  {}",
            e["series"].as_str().unwrap_or("?"),
            f("baseline_mean"),
            f("changed_mean"),
            format!("[{}, {}]", f("low"), f("high")),
            e["verdict"].as_str().unwrap_or("?").replace('_', " ")
        );
    }
    let _ = writeln!(out, "\n{}", r["left"].as_str().unwrap_or(""));
    out
}

pub fn history_text(entries: &Value) -> String {
    let list = entries.as_array().map_or(&[][..], Vec::as_slice);
    if list.is_empty() {
        return "no experiment yet\n".into();
    }
    let mut out = String::new();
    for e in list {
        let _ = writeln!(
            out,
            "{:>3}  {}={} (was {}){}  {}  {}",
            e["id"],
            e["key"].as_str().unwrap_or("?"),
            e["new"].as_str().unwrap_or("?"),
            e["old"].as_str().unwrap_or("?"),
            e["netns_label"]
                .as_str()
                .map(|l| format!(" in {l}"))
                .unwrap_or_default(),
            e["state"].as_str().unwrap_or("?"),
            e["result"]["verdict"]
                .as_str()
                .map_or("no result".into(), |v| v.replace('_', " ")),
        );
    }
    out
}
