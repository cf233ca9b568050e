//! The map as Prometheus metrics (text format 0.0.4), from the same walks and findings the
//! CLI prints, so `sum by (stage)` of the drops is the walk's drops column. Labels join with
//! node_exporter's where they mean the same (`device`, `cpu`); no port, address, PID or code
//! location is ever a label.

use pktmap_model::catalog::Class;
use pktmap_model::census;
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

/// `{k="v",...}` from pairs, leaving out empty values. Written into one string: a page has
/// thousands of label sets.
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(
        2 + pairs
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>(),
    );
    out.push('{');
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        if v.contains(['\\', '"', '\n']) {
            out.push_str(&esc(v));
        } else {
            out.push_str(v);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// Kernel label names as node_exporter spells them.
fn label_name(k: &str) -> &str {
    match k {
        "dev" => "device",
        other => other,
    }
}

/// Which series give way first when the page would pass its series limit: a namespace's
/// detail (each loss counter), then its summary (stages, collectors); never the host's own
/// series, findings or the namespace index.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Keep {
    Always,
    Summary,
    Detail,
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    /// `(keep, sample name, labels, value)`: a histogram's samples have names of their own.
    samples: Vec<(Keep, &'static str, String, f64)>,
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
        self.add_kept(Keep::Always, labels, value);
    }

    fn add_kept(&mut self, keep: Keep, labels: String, value: impl Into<f64>) {
        // `+ 0.0` turns a negative zero (a sum of nothing) into the 0 Prometheus expects.
        self.samples
            .push((keep, self.name, labels, value.into() + 0.0));
    }

    fn add_named(&mut self, sample: &'static str, labels: String, value: f64) {
        self.samples
            .push((Keep::Always, sample, labels, value + 0.0));
    }

    /// The family in the text format 0.0.4, or in OpenMetrics (a counter's family is named
    /// without its `_total`, which its samples keep).
    fn write(&self, out: &mut String, openmetrics: bool) {
        if self.samples.is_empty() {
            return;
        }
        let family = match (openmetrics, self.kind) {
            (true, "counter") => self.name.strip_suffix("_total").unwrap_or(self.name),
            _ => self.name,
        };
        let _ = writeln!(out, "# HELP {family} {}", self.help);
        let _ = writeln!(out, "# TYPE {family} {}", self.kind);
        for (_, name, labels, v) in &self.samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    }
}

/// Bounds on the page, stated in it: namespaces beyond `netns` (the ones losing packets
/// first) and series beyond `series` are left out, and counted.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub netns: usize,
    pub series: usize,
}

/// The page in both formats, and what its limits left out.
pub struct Page {
    pub text: String,
    pub openmetrics: String,
    pub series: usize,
    pub series_left_out: usize,
    pub netns_left_out: usize,
}

/// The whole `/metrics` page. Non-host namespaces export their stages, findings and the loss
/// counters that moved; the host's namespace every loss counter.
pub fn page(reports: &[Report], traced: Option<&TraceTotals>, limits: Limits) -> Page {
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
    let mut limits_family = Family::new(
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
    let mut census_age = Family::new(
        "pktmap_census_age_seconds",
        "gauge",
        "Age of the socket census the socket metrics and evidence come from: 0 when taken by \
         this collection; serve keeps one up to --census while no socket counter moves.",
    );
    let mut netns_info = Family::new(
        "pktmap_netns_info",
        "gauge",
        "Each network namespace read: its name, container or pod, joined on netns.",
    );
    let mut unseen = Family::new(
        "pktmap_unseen",
        "gauge",
        "1 for each collector that could not read all it needs, with why (capabilities, a \
         missing file): what this node's map cannot show.",
    );
    // The host's namespace always; then the ones losing packets, the ones with findings, the
    // rest, up to the limit.
    let mut order: Vec<&Report> = reports.iter().collect();
    order.sort_by_key(|r| {
        let ns = r.walk.host.netns.as_ref();
        (
            !ns.is_none_or(|n| n.own),
            r.walk.first_loss.is_none(),
            r.findings.is_empty(),
            ns.map(|n| n.inode),
        )
    });
    let kept = limits.netns.saturating_add(1).min(order.len());
    let netns_left_out = order.len() - kept;
    for r in &order[..kept] {
        let label = r.walk.host.netns.as_ref();
        let ns = label.map(|n| n.inode.to_string()).unwrap_or_default();
        let host = label.is_none_or(|n| n.own);
        let (summary, detail) = if host {
            (Keep::Always, Keep::Always)
        } else {
            (Keep::Summary, Keep::Detail)
        };
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
                traffic.add_kept(summary, l.clone(), t);
            }
            // Drops and the losing flag stay while anything of the namespace does: they are
            // what an alert and the dashboard's first panel read.
            drops.add(l.clone(), s.drops_per_s);
            errors.add_kept(summary, l.clone(), s.errors_per_s);
            losing.add(l, u8::from(s.losing));
            // Firewall rules count per chain: a rule's handle is no label (kube-proxy rewrites
            // its rules, and thousands of them), and findings name the rule.
            let mut by_chain: std::collections::BTreeMap<String, f64> = Default::default();
            for c in s
                .counters
                .iter()
                .filter(|c| matches!(c.class, Class::Drop | Class::Error))
                // A traced reason's line counts one interval: it is pktmap_drop_reason_total.
                .filter(|c| pktmap_model::ledger::reason_of(&c.change.name).is_none())
                .filter(|c| host || c.moved())
            {
                let mut pairs = vec![
                    ("counter", c.change.name.as_str()),
                    ("stage", s.id),
                    ("netns", ns.as_str()),
                ];
                let firewall = c.change.name.starts_with("netfilter.");
                pairs.extend(
                    c.change
                        .labels
                        .iter()
                        .filter(|(k, _)| match k.as_str() {
                            "dev" | "cpu" | "queue" | "kind" => true,
                            "family" | "table" | "chain" => firewall,
                            _ => false,
                        })
                        .map(|(k, v)| (label_name(k), v.as_str())),
                );
                if firewall {
                    *by_chain.entry(labels(&pairs)).or_default() += c.change.value as f64;
                } else {
                    counters.add_kept(detail, labels(&pairs), c.change.value as f64);
                }
            }
            for (l, v) in by_chain {
                counters.add_kept(detail, l, v);
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
            limits_family.add_kept(
                summary,
                labels(&[("name", &set.name), ("device", dev), ("netns", &ns)]),
                v as f64,
            );
        }
        // Two findings of one kind at one stage (two firewall rules, two devices) differ by
        // what they are about: their first evidence's scope.
        let mut seen = std::collections::HashSet::new();
        for f in r.findings {
            let severity = format!("{:?}", f.severity).to_lowercase();
            let subject = f
                .evidence
                .first()
                .map(|e| e.scope.as_str())
                .filter(|s| *s != "host")
                .unwrap_or("");
            if !seen.insert((f.stage, f.rule, subject.to_string())) {
                continue;
            }
            finding.add(
                labels(&[
                    ("stage", f.stage),
                    ("rule", f.rule),
                    ("subject", subject),
                    ("severity", &severity),
                    ("netns", &ns),
                ]),
                1,
            );
            finding_info.add(
                labels(&[
                    ("stage", f.stage),
                    ("rule", f.rule),
                    ("subject", subject),
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
        if let Some(at) = census::taken_at(r.snapshot) {
            let age = r.snapshot.meta.time_unix_ms.saturating_sub(at);
            census_age.add_kept(summary, labels(&[("netns", &ns)]), age as f64 / 1e3);
        }
        for c in &r.snapshot.collectors {
            let l = labels(&[("collector", &c.id), ("netns", &ns)]);
            collector_ok.add_kept(
                summary,
                l.clone(),
                u8::from(c.status == CollectorStatus::Ok),
            );
            collector_time.add_kept(summary, l, c.duration_us as f64 / 1e6);
            if c.status != CollectorStatus::Ok {
                let why = c.notes.first().map_or("", String::as_str);
                let why: String = why.chars().take(160).collect();
                unseen.add(
                    labels(&[("collector", &c.id), ("netns", &ns), ("why", &why)]),
                    1,
                );
            }
        }
    }
    for why in traced.iter().flat_map(|t| &t.limits) {
        unseen.add(labels(&[("collector", "trace"), ("why", why)]), 1);
    }
    let mut traced_families = traced.map(trace_families).unwrap_or_default();
    let mut families = vec![
        traffic,
        drops,
        errors,
        losing,
        counters,
        limits_family,
        finding,
        finding_info,
        collector_ok,
        collector_time,
        census_age,
        netns_info,
        unseen,
    ];
    families.append(&mut traced_families);
    let series_left_out = shed(&mut families, limits.series.saturating_sub(STATUS_SERIES));
    let series: usize = families.iter().map(|f| f.samples.len()).sum();
    let mut status = Family::new(
        "pktmap_series_left_out",
        "gauge",
        "Series the page left out to stay under --series-limit (namespaces' detail first).",
    );
    status.add(String::new(), series_left_out as f64);
    let mut netns_out = Family::new(
        "pktmap_netns_left_out",
        "gauge",
        "Namespaces left off the page by --netns-limit (the quietest).",
    );
    netns_out.add(String::new(), netns_left_out as f64);
    families.push(status);
    families.push(netns_out);
    if series_left_out > 0 || netns_left_out > 0 {
        // A breach is a finding like any other, so the alert that carries actions fires.
        let title = format!(
            "the page left out {series_left_out} series and {netns_left_out} namespaces to stay \
             within its limits"
        );
        let action = "pktmap serve --series-limit N --netns-limit N (higher), or fewer \
                      namespaces with --netns";
        for f in families.iter_mut() {
            match f.name {
                "pktmap_finding" => f.add(
                    labels(&[("rule", SERIES_LIMIT), ("severity", "warning")]),
                    1,
                ),
                "pktmap_finding_info" => f.add(
                    labels(&[
                        ("rule", SERIES_LIMIT),
                        ("title", &title),
                        ("action", action),
                    ]),
                    1,
                ),
                _ => {}
            }
        }
    }
    let (mut text, mut openmetrics) = (String::new(), String::new());
    for f in &families {
        f.write(&mut text, false);
        f.write(&mut openmetrics, true);
    }
    openmetrics.push_str("# EOF\n");
    Page {
        text,
        openmetrics,
        series: series + STATUS_SERIES,
        series_left_out,
        netns_left_out,
    }
}

/// What `serve --trace` counted since it started, summed over its intervals: counters, so a
/// scraper takes rates as for any other.
#[derive(Default, Debug)]
pub struct TraceTotals {
    /// `(reason, stage, netns label, drops)`: the kernel's own reason names.
    pub reasons: Vec<(String, &'static str, String, u64)>,
    /// `(histogram, stage, counts per log2 bucket of nanoseconds)`: bucket i holds values in
    /// [2^i, 2^(i+1)) ns.
    pub latency: Vec<(&'static str, &'static str, Vec<u64>)>,
    /// `(program, runs, run time in ns; None when the kernel's run-time statistics are off)`.
    pub cost: Vec<(String, u64, Option<u64>)>,
    /// What the last interval's tracing could not do, and why (a capability it lacks).
    pub limits: Vec<String>,
}

/// The log2 buckets (of nanoseconds) that are bounds on the page: [2^9, 2^10) ... [2^33, 2^34).
const LATENCY_BOUNDS: std::ops::Range<usize> = 9..34;

fn trace_families(t: &TraceTotals) -> Vec<Family> {
    let mut reasons = Family::new(
        "pktmap_drop_reason_total",
        "counter",
        "Packets the kernel dropped, by its own drop reason, at the reason's stage (serve \
         --trace).",
    );
    for (reason, stage, ns, n) in &t.reasons {
        reasons.add(
            labels(&[("reason", reason), ("stage", stage), ("netns", ns)]),
            *n as f64,
        );
    }
    let mut latency = Family::new(
        "pktmap_latency_seconds",
        "histogram",
        "Latencies filled in the kernel (serve --trace): NET_RX softirq wait and run, \
         received to copied, qdisc residence, run-queue.",
    );
    for (name, stage, buckets) in &t.latency {
        // A fixed set of bounds, 1 us to 17 s (doubling), so the series do not come and go
        // with the longest latency seen; what is faster counts in the first.
        let mut seen: u64 = buckets.iter().take(LATENCY_BOUNDS.start).sum();
        for i in LATENCY_BOUNDS {
            seen += buckets.get(i).copied().unwrap_or(0);
            let le = format!("{}", 2f64.powi(i as i32 + 1) / 1e9);
            latency.add_named(
                "pktmap_latency_seconds_bucket",
                labels(&[("histogram", name), ("stage", stage), ("le", &le)]),
                seen as f64,
            );
        }
        let all: u64 = buckets.iter().sum();
        latency.add_named(
            "pktmap_latency_seconds_bucket",
            labels(&[("histogram", name), ("stage", stage), ("le", "+Inf")]),
            all as f64,
        );
        // No _count or _sum: the kernel keeps only the buckets, and OpenMetrics wants a sum
        // beside any count. The +Inf bucket is the count.
    }
    let mut runs = Family::new(
        "pktmap_bpf_runs_total",
        "counter",
        "Times each of pktmap's BPF programs ran: what tracing cost, in events.",
    );
    let mut time = Family::new(
        "pktmap_bpf_run_seconds_total",
        "counter",
        "Time each of pktmap's BPF programs ran (needs the kernel's BPF run-time statistics).",
    );
    for (program, n, ns) in &t.cost {
        runs.add(labels(&[("program", program)]), *n as f64);
        if let Some(ns) = ns {
            time.add(labels(&[("program", program)]), *ns as f64 / 1e9);
        }
    }
    vec![reasons, latency, runs, time]
}

/// The kind of finding a breached limit gives (not one of diagnose's: it is about the page).
pub const SERIES_LIMIT: &str = "series-limit";

/// Series the page always adds after shedding: its two limit gauges and the breach finding.
const STATUS_SERIES: usize = 4;

/// Drops detail, then summaries, newest namespace first, until at most `max` series remain;
/// returns how many went.
fn shed(families: &mut [Family], max: usize) -> usize {
    let total: usize = families.iter().map(|f| f.samples.len()).sum();
    let mut over = total.saturating_sub(max);
    let mut gone = 0;
    for level in [Keep::Detail, Keep::Summary] {
        for f in families.iter_mut() {
            while over > 0 {
                let Some(pos) = f.samples.iter().rposition(|(k, ..)| *k == level) else {
                    break;
                };
                f.samples.remove(pos);
                over -= 1;
                gone += 1;
            }
        }
    }
    gone
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
        assert_eq!(
            labels(&[("a", ""), ("b", "x"), ("c", "y")]),
            r#"{b="x",c="y"}"#
        );
        assert_eq!(labels(&[("a", "")]), "{}");
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
        let mut out = String::new();
        f.write(&mut out, false);
        assert!(out.ends_with("x 0\nx 2\n"), "{out}");
    }

    #[test]
    fn openmetrics_names_a_counter_family_without_its_total() {
        let mut f = Family::new("pktmap_kernel_loss_total", "counter", "h");
        f.add(labels(&[("counter", "Udp.NoPorts")]), 3u8);
        let (mut text, mut om) = (String::new(), String::new());
        f.write(&mut text, false);
        f.write(&mut om, true);
        assert!(
            text.contains("# TYPE pktmap_kernel_loss_total counter"),
            "{text}"
        );
        assert!(om.contains("# TYPE pktmap_kernel_loss counter"), "{om}");
        assert!(
            om.contains("pktmap_kernel_loss_total{counter=\"Udp.NoPorts\"} 3"),
            "{om}"
        );
    }

    #[test]
    fn latency_buckets_are_fixed_cumulative_and_end_at_the_count() {
        let mut buckets = vec![0u64; 40];
        buckets[3] = 2; // 8..16 ns: under the first bound
        buckets[12] = 5; // 4..8 us
        buckets[38] = 1; // past the last bound: only in +Inf
        let t = TraceTotals {
            latency: vec![("h", "rx.5", buckets)],
            ..TraceTotals::default()
        };
        let fams = trace_families(&t);
        let mut out = String::new();
        fams[1].write(&mut out, false);
        let values: Vec<f64> = out
            .lines()
            .filter(|l| l.starts_with("pktmap_latency_seconds_bucket"))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(values.len(), LATENCY_BOUNDS.len() + 1);
        assert_eq!(values[0], 2.0, "faster than the first bound counts in it");
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "{out}");
        assert_eq!(values[values.len() - 2], 7.0);
        assert_eq!(*values.last().unwrap(), 8.0);
        assert!(out.contains(r#"le="0.000008192"} 7"#), "{out}");
    }

    #[test]
    fn shedding_takes_detail_before_summaries_and_never_the_rest() {
        let mut a = Family::new("a", "gauge", "h");
        let mut b = Family::new("b", "gauge", "h");
        for i in 0..3 {
            a.add(labels(&[("i", &i.to_string())]), 1u8);
            a.add_kept(Keep::Summary, labels(&[("s", &i.to_string())]), 1u8);
            b.add_kept(Keep::Detail, labels(&[("d", &i.to_string())]), 1u8);
        }
        let mut fams = [a, b];
        assert_eq!(shed(&mut fams, 9), 0);
        assert_eq!(shed(&mut fams, 5), 4);
        assert!(fams[1].samples.is_empty(), "detail first");
        assert_eq!(fams[0].samples.len(), 5);
        assert_eq!(shed(&mut fams, 0), 2, "summaries next, the rest stays");
        assert!(fams[0].samples.iter().all(|(k, ..)| *k == Keep::Always));
    }
}
