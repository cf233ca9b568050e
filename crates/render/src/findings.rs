//! Findings as text: `diagnose` and `audit` (the verdict first, then each finding's evidence,
//! cause and actions, readable in ten seconds on a bad night), the `audit --format sysctl`
//! snippet, and the reports of `trace drops` and `trace latency`.

use crate::Style;
use crate::fmt::{grouped, paragraph, si};
use pktmap_model::catalog;
use pktmap_model::findings::{self, DelayPlace, Finding, Severity};

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

/// Scenario 2's answer, worked out in the model, in words.
pub fn latency_answer(findings: &[Finding]) -> Option<String> {
    let places: Vec<&str> = findings::latency_verdict(findings)
        .into_iter()
        .map(|p| match p {
            DelayPlace::Network => "the network (segments are lost and sent again)",
            DelayPlace::Host => "the host (CPU, softirq or queue delay)",
            DelayPlace::Application => "the application (it does not read what arrived)",
        })
        .collect();
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

/// `audit` as text: the tally first, then failures and warnings with evidence and fixes,
/// then one line per check that passed or could not run.
pub fn audit_text(title: &str, items: &[pktmap_model::audit::Item], style: Style) -> String {
    use pktmap_model::audit::Status;
    let count = |s: Status| items.iter().filter(|i| i.status == s).count();
    let mut out = vec![style.bold(title)];
    let tally = format!(
        "AUDIT: {} fail, {} warn, {} pass, {} not checked",
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Pass),
        count(Status::Skip)
    );
    out.push(match (count(Status::Fail), count(Status::Warn)) {
        (0, 0) => style.green(&tally),
        (0, _) => style.yellow(&tally),
        _ => style.red(&tally),
    });
    for i in items
        .iter()
        .filter(|i| matches!(i.status, Status::Fail | Status::Warn))
    {
        out.push(String::new());
        let word = if i.status == Status::Fail {
            style.red("FAIL")
        } else {
            style.yellow("WARN")
        };
        out.push(format!(
            "{word} {} [{}]: {}",
            stage_title(i.stage),
            i.check,
            i.title
        ));
        for e in &i.evidence {
            let what = if e.scope.is_empty() {
                e.key.clone()
            } else {
                format!("{} {}", e.key, e.scope)
            };
            out.push(format!(
                "     {what:<56} {}",
                e.value.clone().unwrap_or_default()
            ));
        }
        for a in &i.actions {
            let mut line = format!("   fix: {}", a.command);
            if !a.why.is_empty() {
                line.push_str(&format!("   ({})", a.why));
            }
            out.push(line);
        }
    }
    out.push(String::new());
    for i in items
        .iter()
        .filter(|i| matches!(i.status, Status::Pass | Status::Skip))
    {
        let word = if i.status == Status::Pass {
            style.green("pass")
        } else {
            "skip".to_string()
        };
        out.push(format!("{word} [{}] {}", i.check, i.title));
    }
    out.join("\n") + "\n"
}

/// The sysctl changes among the audit's fixes, as a reviewed /etc/sysctl.d snippet: one
/// comment per line saying why. Nothing is applied.
pub fn sysctl_snippet(host: &str, items: &[pktmap_model::audit::Item]) -> String {
    let mut out = vec![
        format!("# /etc/sysctl.d/90-pktmap.conf, suggested by pktmap audit on {host}."),
        "# Review each line, change one at a time and measure; nothing here was applied."
            .to_string(),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for i in items {
        for a in &i.actions {
            let (Some(key), Some(value)) = (&a.sysctl, &a.proposed) else {
                continue;
            };
            if !seen.insert(key.clone()) {
                continue;
            }
            out.push(String::new());
            out.push(format!("# [{}] {}", i.check, i.title));
            if let Some(c) = &a.current {
                out.push(format!("# now: {c}; why: {}", a.why));
            }
            out.push(format!("{key} = {value}"));
        }
    }
    if seen.is_empty() {
        out.push("# (no sysctl change suggested)".to_string());
    }
    out.join("\n") + "\n"
}

/// `trace drops` as text: one line per reason, worst first, with where, which namespace and
/// device it happened.
pub fn trace_text(t: &pktmap_model::trace::DropTrace, host: &str, style: Style) -> String {
    let mut out = vec![style.bold(&format!(
        "pktmap trace drops  {host}  interval {:.2} s  {} drops seen",
        t.interval_s,
        grouped(t.events)
    ))];
    if t.samples_lost > 0 {
        out.push(style.yellow(&format!(
            "{} samples not shown: their ring buffer was full",
            grouped(t.samples_lost)
        )));
    }
    if t.map_full > 0 {
        out.push(style.yellow(&format!(
            "{} drops not attributed: the counting map was full",
            grouped(t.map_full)
        )));
    }
    out.extend(cost_lines(&t.cost));
    out.extend(t.limits.iter().map(|l| style.yellow(l)));
    if t.reasons.is_empty() {
        out.push(style.green("no packet was dropped"));
        return out.join("\n") + "\n";
    }
    // One table per namespace the drops happened in: a reason's count there, and
    // the devices it happened on there (pairs that happened, never a namespace from one
    // drop and a device from another).
    let mut inodes: Vec<(u64, u64)> = Vec::new();
    for (ns, n) in t.reasons.iter().flat_map(|r| &r.by_netns) {
        match inodes.iter_mut().find(|(i, _)| i == ns) {
            Some(e) => e.1 += n,
            None => inodes.push((*ns, *n)),
        }
    }
    inodes.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let label = |inode: u64| -> String {
        let tag = format!("net:[{inode}]");
        t.reasons
            .iter()
            .flat_map(|r| &r.netns)
            .find(|(l, _)| l.contains(&tag))
            .map_or_else(
                || {
                    if inode == 0 {
                        "no namespace".into()
                    } else {
                        tag.clone()
                    }
                },
                |(l, _)| l.clone(),
            )
    };
    let several = inodes.len() > 1;
    for (inode, total) in &inodes {
        out.push(String::new());
        out.push(style.bold(&format!(
            "namespace {}  {} drops",
            label(*inode),
            grouped(*total)
        )));
        out.push(format!(
            "{:<28} {:<7} {:>12} {:>10}  where",
            "REASON", "STAGE", "DROPS", "PER S"
        ));
        for r in &t.reasons {
            let Some((_, n)) = r.by_netns.iter().find(|(i, _)| i == inode) else {
                continue;
            };
            let rate = if t.interval_s > 0.0 {
                *n as f64 / t.interval_s
            } else {
                0.0
            };
            out.push(format!(
                "{:<28} {:<7} {:>12} {:>10}  {}",
                r.name,
                r.stage.unwrap_or("-"),
                grouped(*n),
                si(rate),
                r.locations.first().map(|(l, _)| l.as_str()).unwrap_or("")
            ));
            let devices: Vec<String> = r
                .places
                .iter()
                .filter(|(i, _, _)| i == inode)
                .take(3)
                .map(|(_, d, c)| format!("dev {d} {}", grouped(*c)))
                .collect();
            out.push(format!(
                "{:<61}  {}  {}",
                "",
                devices.join(", "),
                r.protocols.first().map(|(p, _)| p.as_str()).unwrap_or("")
            ));
            // Samples carry no namespace: shown once, where the reason dropped most.
            let busiest = r.by_netns.iter().max_by_key(|(_, n)| *n).map(|(i, _)| *i);
            if !several || busiest == Some(*inode) {
                for (s, n) in &r.samples {
                    out.push(format!("{:<61}  sampled {n}x {s}", ""));
                }
            }
        }
    }
    out.join("\n") + "\n"
}

/// A duration in nanoseconds as a reader wants it: `850 ns`, `12 us`, `3.4 ms`, `1.20 s`.
fn duration(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{} us", ns / 1_000),
        1_000_000..1_000_000_000 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

/// `trace latency` as text: per histogram its stage, count and percentiles, and a bar per
/// non-empty bucket.
pub fn latency_text(t: &pktmap_model::trace::LatencyTrace, host: &str, style: Style) -> String {
    let mut out = vec![style.bold(&format!(
        "pktmap trace latency  {host}  interval {:.2} s",
        t.interval_s
    ))];
    if let (Some(duty), Some(observed), Some(grace), Some(period)) =
        (t.duty_percent, t.observed_s, t.grace_ms, t.period_ms)
    {
        let period = period as f64 / 1000.0;
        out.push(match t.duty_budget {
            Some(budget) if duty >= 100 => format!(
                "attached throughout: the programs ran fewer than {} times a second (--duty \
                 auto)",
                grouped(budget)
            ),
            budget => {
                let share = match budget {
                    Some(b) => format!(
                        "{duty}% of the interval, one window each {period} s sized to keep the \
                         programs to about {} runs a second (--duty auto)",
                        grouped(b)
                    ),
                    None => format!("{duty}% of each {period} s"),
                };
                format!(
                    "sampled in time: attached {share}, {observed:.2} s in all; counts are of \
                     that time, and a latency over {grace} ms is seen only with --duty 100"
                )
            }
        });
    }
    if t.interval_s > 0.0 {
        out.push(format!(
            "the programs ran {} times ({} a second of the interval)",
            grouped(t.runs),
            grouped((t.runs as f64 / t.interval_s) as u64)
        ));
    }
    for (tp, why) in &t.disabled {
        out.push(style.yellow(&format!("tracepoint {tp} not attached: {why}")));
    }
    out.extend(t.limits.iter().map(|l| style.yellow(l)));
    let show = |unit: &str, v: Option<u64>| match v {
        None => "-".to_string(),
        Some(v) if unit == "ns" => format!("< {}", duration(v + 1)),
        Some(v) => format!("<= {v}"),
    };
    for h in &t.histograms {
        out.push(String::new());
        out.push(format!(
            "{} {}  ({} events)  p50 {}  p90 {}  p99 {}",
            style.bold(h.stage),
            h.name,
            grouped(h.count),
            show(h.unit, h.p50),
            show(h.unit, h.p90),
            show(h.unit, h.p99)
        ));
        let max = h.buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
        for (low, n) in &h.buckets {
            let label = if h.unit == "ns" {
                duration(*low)
            } else {
                low.to_string()
            };
            let bar = "#".repeat(((n * 40).div_ceil(max)) as usize);
            out.push(format!("  {label:>10} | {bar:<40} {}", grouped(*n)));
        }
        if h.name.starts_with("napi_poll") && t.napi_polls > 0 {
            out.push(format!(
                "  {} of {} polls used their whole budget",
                grouped(t.napi_full_budget),
                grouped(t.napi_polls)
            ));
            out.push(format!(
                "  {:<16} {:>4} {:>10} {:>12} {:>12}",
                "DEVICE", "CPU", "POLLS", "FULL BUDGET", "PKTS/POLL"
            ));
            for r in &t.napi {
                let device = match &r.netns {
                    Some(ns) => format!("{} in {ns}", r.device),
                    None => r.device.clone(),
                };
                let line = format!(
                    "  {:<16} {:>4} {:>10} {:>12} {:>12.1}",
                    device,
                    r.cpu,
                    grouped(r.polls),
                    grouped(r.full_budget),
                    r.mean_work
                );
                // A device that fills its budget is where receive work does not keep up.
                out.push(if r.full_budget > 0 {
                    style.yellow(&line)
                } else {
                    line
                });
            }
        }
    }
    out.extend(cost_lines(&t.cost));
    if t.napi_full > 0 {
        out.push(style.yellow(&format!(
            "{} NAPI polls of devices not kept: the device map was full",
            grouped(t.napi_full)
        )));
    }
    if t.replaced > 0 {
        // Not a warning: in a drop flood most sampled packets end here, by design.
        out.push(format!(
            "{} sampled start times replaced before their end (packets dropped on the way, or \
             more in flight than the tracking slots hold)",
            grouped(t.replaced)
        ));
    }
    if t.late > 0 {
        out.push(format!(
            "{} sampled start times met their end only after their window closed (slower than \
             {} ms, or the packet's address reused): not counted",
            grouped(t.late),
            t.grace_ms.unwrap_or(0)
        ));
    }
    out.join("\n") + "\n"
}

/// pktmap's own cost while tracing, from the kernel's run-time statistics.
fn cost_lines(cost: &[pktmap_model::trace::Cost]) -> Vec<String> {
    let runs: u64 = cost.iter().map(|c| c.runs).sum();
    let ns: u64 = cost.iter().map(|c| c.run_time_ns).sum();
    if runs == 0 {
        return Vec::new();
    }
    vec![format!(
        "pktmap's own cost: {} program runs, {} in total, {} ns each",
        grouped(runs),
        duration(ns),
        ns / runs
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use pktmap_model::trace::LatencyTrace;

    fn sampled(duty: Option<u32>, budget: Option<u64>, period_ms: u64) -> LatencyTrace {
        LatencyTrace {
            schema: "pktmap.trace.latency/1",
            interval_s: 4.0,
            duty_percent: duty,
            observed_s: duty.map(|d| 4.0 * d as f64 / 100.0),
            duty_budget: budget,
            runs: 400_000,
            grace_ms: duty.map(|_| 100),
            period_ms: duty.map(|_| period_ms),
            histograms: Vec::new(),
            napi_polls: 0,
            napi_full_budget: 0,
            napi_full: 0,
            replaced: 0,
            late: 0,
            napi: Vec::new(),
            disabled: Vec::new(),
            cost: Vec::new(),
            limits: Vec::new(),
        }
    }

    /// The line under the title says how the programs were attached, with the period the
    /// sampler used, not a fixed one.
    #[test]
    fn the_sampling_line_names_share_period_and_grace() {
        let text = |t: &LatencyTrace| latency_text(t, "h", Style { color: false });
        let fixed = text(&sampled(Some(20), None, 2000));
        assert!(
            fixed.contains("attached 20% of each 2 s, 0.80 s in all"),
            "{fixed}"
        );
        assert!(fixed.contains("a latency over 100 ms"), "{fixed}");
        let short = text(&sampled(Some(20), None, 500));
        assert!(short.contains("20% of each 0.5 s"), "{short}");
        let auto = text(&sampled(Some(21), Some(100_000), 2000));
        assert!(
            auto.contains(
                "21% of the interval, one window each 2 s sized to keep the programs \
                 to about 100,000 runs a second"
            ),
            "{auto}"
        );
        let quiet = text(&sampled(Some(100), Some(100_000), 2000));
        assert!(quiet.contains("attached throughout: the programs ran fewer than 100,000"));
        let throughout = text(&sampled(None, None, 2000));
        assert!(!throughout.contains("attached"), "{throughout}");
        assert!(throughout.contains("the programs ran 400,000 times (100,000 a second"));
    }
}
