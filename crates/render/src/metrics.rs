//! The map as Prometheus metrics (text format 0.0.4), from the same walks and findings the
//! CLI prints, so `sum by (stage)` of the drops is the walk's drops column. Labels join with
//! node_exporter's where they mean the same (`device`, `cpu`); no port, address, PID or code
//! location is ever a label.

use pktmap_model::catalog::Class;
use pktmap_model::findings::Finding;
use pktmap_model::snapshot::{CollectorStatus, Snapshot};
use pktmap_model::walk::Walk;
use std::fmt::Write;

/// One namespace's state: its walk over the last interval, its findings, and the later
/// snapshot the walk ends at.
pub struct Report<'a> {
    pub walk: &'a Walk,
    pub findings: &'a [Finding],
    pub snapshot: &'a Snapshot,
}

/// Settings that are limits, exported so a dashboard can draw usage against them.
const LIMITS: &[&str] = &[
    "net.core.netdev_max_backlog",
    "net.core.netdev_budget",
    "net.core.somaxconn",
    "net.core.rmem_max",
    "net.core.wmem_max",
    "net.ipv4.tcp_max_syn_backlog",
    "net.netfilter.nf_conntrack_max",
    "ethtool.ring.rx",
    "ethtool.ring.tx",
];

/// A label value escaped as the text format asks (backslash, quote, newline).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `{k="v",...}` from pairs, leaving out empty values.
fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Kernel label names as node_exporter spells them.
fn label_name(k: &str) -> &str {
    match k {
        "dev" => "device",
        other => other,
    }
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<String>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind,
            help,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: String, value: impl Into<f64>) {
        // `+ 0.0` turns a negative zero (a sum of nothing) into the 0 Prometheus expects.
        let v = value.into() + 0.0;
        self.samples.push(format!("{}{labels} {v}", self.name));
    }
}

/// The whole `/metrics` page. Non-host namespaces export their stages, findings and the loss
/// counters that moved; the host's namespace every loss counter.
pub fn text(reports: &[Report]) -> String {
    let mut traffic = Family::new(
        "pktmap_stage_traffic_per_second",
        "gauge",
        "Packets (or IRQs) per second through the stage over the last interval.",
    );
    let mut drops = Family::new(
        "pktmap_stage_drops_per_second",
        "gauge",
        "Packets per second lost at the stage, counted once (the walk's drops column).",
    );
    let mut errors = Family::new(
        "pktmap_stage_errors_per_second",
        "gauge",
        "Packets per second discarded as malformed at the stage.",
    );
    let mut losing = Family::new(
        "pktmap_stage_losing",
        "gauge",
        "1 when a loss counter of the stage moved past its floor in the last interval.",
    );
    let mut counters = Family::new(
        "pktmap_kernel_loss_total",
        "counter",
        "A kernel loss counter under its own name, with the stage it belongs to.",
    );
    let mut limits = Family::new(
        "pktmap_limit",
        "gauge",
        "A setting that is a limit (backlog, ring, conntrack table, somaxconn).",
    );
    let mut finding = Family::new(
        "pktmap_finding",
        "gauge",
        "1 for each finding of the background diagnosis.",
    );
    let mut finding_info = Family::new(
        "pktmap_finding_info",
        "gauge",
        "A finding's title and first action, to join on rule, stage and netns.",
    );
    let mut collector_ok = Family::new(
        "pktmap_collector_success",
        "gauge",
        "1 when the collector read everything, 0 when it read part or nothing.",
    );
    let mut collector_time = Family::new(
        "pktmap_collector_duration_seconds",
        "gauge",
        "How long the collector took in the last snapshot.",
    );
    let mut netns_info = Family::new(
        "pktmap_netns_info",
        "gauge",
        "Each network namespace read: its name, container or pod, joined on netns.",
    );
    for r in reports {
        let label = r.walk.host.netns.as_ref();
        let ns = label.map(|n| n.inode.to_string()).unwrap_or_default();
        let host = label.is_none_or(|n| n.own);
        if let Some(n) = label {
            netns_info.add(
                labels(&[
                    ("netns", &ns),
                    ("name", n.name.as_deref().unwrap_or("")),
                    ("container", n.container.as_deref().unwrap_or("")),
                ]),
                1,
            );
        }
        for s in &r.walk.stages {
            let l = labels(&[("stage", s.id), ("netns", &ns)]);
            if let Some(t) = s.traffic_per_s {
                traffic.add(l.clone(), t);
            }
            drops.add(l.clone(), s.drops_per_s);
            errors.add(l.clone(), s.errors_per_s);
            losing.add(l, u8::from(s.losing));
            for c in s
                .counters
                .iter()
                .filter(|c| matches!(c.class, Class::Drop | Class::Error))
                .filter(|c| host || c.moved())
            {
                let mut pairs = vec![
                    ("counter", c.change.name.as_str()),
                    ("stage", s.id),
                    ("netns", ns.as_str()),
                ];
                pairs.extend(
                    c.change
                        .labels
                        .iter()
                        .filter(|(k, _)| matches!(k.as_str(), "dev" | "cpu" | "queue" | "kind"))
                        .map(|(k, v)| (label_name(k), v.as_str())),
                );
                counters.add(labels(&pairs), c.change.value as f64);
            }
        }
        for set in r
            .snapshot
            .settings
            .iter()
            .filter(|s| LIMITS.contains(&s.name.as_str()))
        {
            let Some(v) = set
                .value
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
            else {
                continue;
            };
            let dev = set.labels.get("dev").map(String::as_str).unwrap_or("");
            limits.add(
                labels(&[("name", &set.name), ("device", dev), ("netns", &ns)]),
                v as f64,
            );
        }
        for f in r.findings {
            let severity = format!("{:?}", f.severity).to_lowercase();
            finding.add(
                labels(&[
                    ("stage", f.stage),
                    ("rule", f.rule),
                    ("severity", &severity),
                    ("netns", &ns),
                ]),
                1,
            );
            finding_info.add(
                labels(&[
                    ("stage", f.stage),
                    ("rule", f.rule),
                    ("netns", &ns),
                    ("title", &f.title),
                    (
                        "action",
                        f.actions.first().map_or("", |a| a.command.as_str()),
                    ),
                ]),
                1,
            );
        }
        for c in &r.snapshot.collectors {
            let l = labels(&[("collector", &c.id), ("netns", &ns)]);
            collector_ok.add(l.clone(), u8::from(c.status == CollectorStatus::Ok));
            collector_time.add(l, c.duration_us as f64 / 1e6);
        }
    }
    let mut out = String::new();
    for f in [
        traffic,
        drops,
        errors,
        losing,
        counters,
        limits,
        finding,
        finding_info,
        collector_ok,
        collector_time,
        netns_info,
    ] {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for s in f.samples {
            let _ = writeln!(out, "{s}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            labels(&[("title", "a \"b\"\\c\nd"), ("empty", "")]),
            r#"{title="a \"b\"\\c\nd"}"#
        );
    }

    #[test]
    fn every_limit_is_a_setting_the_catalog_knows() {
        for name in LIMITS {
            assert!(pktmap_model::catalog::item(name).is_some(), "{name}");
        }
    }

    #[test]
    fn no_sample_reads_negative_zero() {
        let mut f = Family::new("x", "gauge", "h");
        f.add(String::new(), -0.0);
        f.add(String::new(), 2u8);
        assert_eq!(f.samples, ["x 0", "x 2"]);
    }
}
