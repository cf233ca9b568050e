//! `pktmap diagnose`: the article's two scenarios as rules over a delta and its loss ledger. Scenario 1 walks the
//! drops outside-in (NIC, softirq, IP/netfilter, transport, socket, transmit); scenario 2 cuts
//! latency into network, host and application. Each rule is a small function in `RULES`.

mod rules;

use crate::catalog;
use crate::delta::{Change, Delta};
use crate::findings::{Finding, Severity, order};
use crate::ledger::{self, Ledger};
use crate::snapshot::{Labels, Snapshot};

pub use rules::{RULES, parse_ring};

/// The least count of trace events (drop reasons, histogram samples) worth a line: ordinary
/// teardown, a retransmit, the VM's own chatter (kernel-notes: every interval has a few).
/// Counters have floors of their own in the catalog.
pub const MIN_EVENTS: u64 = 10;

/// A rule: an id (stable, for tests and suppression) and its check.
pub struct Rule {
    pub id: &'static str,
    pub check: fn(&Ctx) -> Vec<Finding>,
}

/// What rules read: the delta (with both snapshots) and its loss ledger.
pub struct Ctx<'a> {
    pub delta: &'a Delta<'a>,
    pub ledger: &'a Ledger,
}

impl<'a> Ctx<'a> {
    pub fn to(&self) -> &'a Snapshot {
        self.delta.to
    }

    /// Every change of a counter, one per label set, that has a delta.
    pub fn changes(&self, name: &str) -> impl Iterator<Item = &'a Change> + '_ {
        let name = name.to_string();
        self.delta
            .changes
            .iter()
            .filter(move |c| c.name == name && c.delta.is_some())
    }

    /// (delta, rate) of a counter summed over its label sets.
    pub fn sum(&self, name: &str) -> (u64, f64) {
        self.changes(name).fold((0, 0.0), |(d, r), c| {
            (
                u64::saturating_add(d, c.delta.unwrap_or(0)),
                r + c.rate.unwrap_or(0.0),
            )
        })
    }

    pub fn rate(&self, name: &str) -> f64 {
        self.sum(name).1
    }

    /// One piece of evidence per scope (CPU, device) where counter `name` moved.
    pub fn moved_evidence(&self, name: &str) -> Vec<crate::findings::Evidence> {
        self.changes(name)
            .filter(|c| c.delta.is_some_and(|d| d > 0))
            .map(|c| {
                crate::findings::Evidence::moved(
                    name,
                    scope(&c.labels),
                    c.delta.unwrap_or(0),
                    c.rate.unwrap_or(0.0),
                )
            })
            .collect()
    }

    /// The rate of counter `name` at exactly these labels (a qdisc's packets beside its
    /// drops), 0 when it has none.
    pub fn rate_at(&self, name: &str, labels: &Labels) -> f64 {
        self.changes(name)
            .find(|c| &c.labels == labels)
            .and_then(|c| c.rate)
            .unwrap_or(0.0)
    }

    /// The current value of a gauge or counter without labels.
    pub fn value(&self, name: &str) -> Option<u64> {
        self.to()
            .metrics
            .iter()
            .find(|m| m.name == name && m.labels.is_empty())
            .map(|m| m.value)
    }

    pub fn setting(&self, name: &str) -> Option<&'a str> {
        self.to().setting(name)
    }

    pub fn setting_for(&self, name: &str, labels: &Labels) -> Option<&'a str> {
        self.to()
            .settings
            .iter()
            .find(|s| s.name == name && &s.labels == labels)
            .map(|s| s.value.as_str())
    }

    /// Whether `delta` events of counter `key` at `rate` matter against `traffic` per second:
    /// the counter's floor in the catalog, the same the ledger judges it by.
    pub fn significant(key: &str, delta: u64, rate: f64, traffic: f64) -> bool {
        catalog::floor(key).cleared(delta, rate, traffic)
    }

    /// Critical above 1% of the traffic or 100 per second, a warning below.
    pub fn severity(rate: f64, traffic: f64) -> Severity {
        if rate >= 100.0 || (traffic > 0.0 && rate / traffic >= 0.01) {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }

    /// Packets per second entering the receive path (links' rx_packets, or IP's).
    pub fn rx_traffic(&self) -> f64 {
        self.rate("rx_packets").max(self.rate("Ip.InReceives"))
    }
}

/// Findings that come from somewhere other than one rule of [`RULES`] each: a second kind a
/// rule gives (`reordering` from the retransmit rule), and the ones the ledger and the
/// tracers give.
pub const OTHER_FINDINGS: &[&str] = &[
    "reordering",
    "unexplained-loss",
    "trace-drops",
    "latency-tail",
];

/// Every kind of finding diagnose can give, by its `rule` id: what alerting rules are made
/// from.
pub fn finding_kinds() -> impl Iterator<Item = &'static str> {
    RULES
        .iter()
        .map(|r| r.id)
        .chain(OTHER_FINDINGS.iter().copied())
}

/// Runs every rule over the delta's ledger, gives every loss no rule explained a finding of
/// its own, and orders what they found.
pub fn diagnose(delta: &Delta) -> Vec<Finding> {
    diagnose_traced(delta, None, None)
}

/// [`diagnose`] with what `trace drops` counted over the same interval: the reasons of the
/// namespace `netns` (its inode; None: every drop the tracer kept) enter the ledger at their
/// stages, corroborate the findings whose counters they move, and are findings of their own
/// where no counter saw them.
pub fn diagnose_traced(
    delta: &Delta,
    trace: Option<&crate::trace::DropTrace>,
    netns: Option<u64>,
) -> Vec<Finding> {
    let traced: Vec<ledger::Traced> =
        trace.map_or_else(Vec::new, |t| traced_in(t, netns, delta.interval_s));
    let ledger = ledger::build_traced(delta, None, &traced);
    findings_of(delta, &ledger, trace, netns)
}

/// The walk and the findings of a delta from one ledger, so a page showing both cannot
/// disagree: `iface` as [`crate::walk::build`] takes it, the trace as [`diagnose_traced`].
pub fn walk_and_findings(
    delta: &Delta,
    iface: Option<&str>,
    trace: Option<&crate::trace::DropTrace>,
    netns: Option<u64>,
) -> (crate::walk::Walk, Vec<Finding>) {
    let traced: Vec<ledger::Traced> =
        trace.map_or_else(Vec::new, |t| traced_in(t, netns, delta.interval_s));
    let ledger = ledger::build_traced(delta, iface, &traced);
    let found = findings_of(delta, &ledger, trace, netns);
    (crate::walk::from_ledger(delta, ledger, iface), found)
}

fn findings_of(
    delta: &Delta,
    ledger: &Ledger,
    trace: Option<&crate::trace::DropTrace>,
    netns: Option<u64>,
) -> Vec<Finding> {
    let ctx = Ctx { delta, ledger };
    let mut found: Vec<Finding> = RULES.iter().flat_map(|r| (r.check)(&ctx)).collect();
    found.extend(unexplained(ledger, &found));
    // After the generic findings, so a reason corroborates those too; a reason no finding
    // holds becomes one of its own there, with where the kernel dropped.
    if let Some(t) = trace {
        add_trace(&mut found, t, ledger, netns);
    }
    order(&mut found);
    found
}

/// The traced drops of one namespace (its inode; None: all of them), by reason, over the
/// delta's interval: the tracer runs a little longer than the two snapshots are apart (it
/// starts before the first and stops after the second), so its counts are scaled to the
/// interval the counters cover before the two are compared.
fn traced_in(
    trace: &crate::trace::DropTrace,
    netns: Option<u64>,
    interval_s: f64,
) -> Vec<ledger::Traced> {
    let scale = if trace.interval_s > interval_s && trace.interval_s > 0.0 {
        interval_s / trace.interval_s
    } else {
        1.0
    };
    trace
        .reasons
        .iter()
        .filter_map(|r| {
            let count = match netns {
                None => r.count,
                Some(inode) => r
                    .by_netns
                    .iter()
                    .find(|(ns, _)| *ns == inode)
                    .map_or(0, |(_, n)| *n),
            };
            let scaled = (count as f64 * scale).round() as u64;
            (scaled > 0).then(|| ledger::Traced {
                reason: r.name.clone(),
                stage: r.stage.unwrap_or("rx.7"),
                count: scaled,
                rate: r.rate * count as f64 / r.count.max(1) as f64,
            })
        })
        .collect()
}

/// The ledger's losses that no rule's finding names in its evidence: one finding per stage,
/// with the counters, their scope and rate, what the catalog says they count, and how to look
/// closer. A loss nobody wrote a rule for is still a finding.
fn unexplained(ledger: &Ledger, found: &[Finding]) -> Vec<Finding> {
    use crate::findings::{Action, Confidence};
    let named: std::collections::HashSet<&str> = found
        .iter()
        .filter(|f| f.loss)
        .flat_map(|f| f.evidence.iter().map(|e| e.key.as_str()))
        .collect();
    let mut out = Vec::new();
    for stage in &ledger.stages {
        let lines: Vec<_> = stage
            .losses()
            .into_iter()
            .filter(|c| !named.contains(c.change.name.as_str()))
            // Traced reasons are placed by `add_trace`, with the code location they name.
            .filter(|c| ledger::reason_of(&c.change.name).is_none())
            .collect();
        let Some(first) = lines.first() else { continue };
        let rate: f64 = lines.iter().filter_map(|c| c.own_rate()).sum();
        let delta: u64 = lines
            .iter()
            .filter_map(|c| c.own_delta())
            .fold(0, u64::saturating_add);
        let about = |name: &str| {
            catalog::place(name)
                .and_then(|p| p.item.map(|i| i.about.to_string()))
                .or_else(|| catalog::group(name).map(|g| format!("one of the {}", g.about)))
                .unwrap_or_default()
        };
        let mut names: Vec<&str> = lines.iter().map(|c| c.change.name.as_str()).collect();
        names.dedup();
        let mut actions: Vec<Action> = names
            .iter()
            .take(3)
            .map(|n| Action::inspect(format!("pktmap explain {n}")))
            .collect();
        if let Some(cmd) = catalog::item(&first.change.name).and_then(|i| i.commands.first()) {
            actions.push(Action::inspect(*cmd));
        }
        actions.push(Action::inspect("pktmap trace drops --interval 10s"));
        out.push(Finding {
            rule: "unexplained-loss",
            stage: stage.id,
            severity: Ctx::severity(rate, stage.traffic_per_s.unwrap_or(0.0)),
            title: format!(
                "{} +{delta} ({rate:.1}/s): a loss at {} that no rule explains",
                first.change.name, stage.title
            ),
            evidence: lines.iter().map(|c| c.own_evidence()).collect(),
            cause: format!(
                "no rule of pktmap's explains this counter yet; what it counts: {}",
                about(&first.change.name)
            ),
            actions,
            confidence: Confidence::Medium,
            loss: true,
        });
    }
    out
}

/// A short label text for evidence scopes: `dev=eth0 cpu=3`.
pub fn scope(labels: &Labels) -> String {
    labels
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "kind" | "handle" | "parent" | "dir"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Adds the traced reasons' evidence: each reason past its floor in the ledger becomes
/// evidence of the finding whose counters it moves (the same packets: it corroborates), else
/// of the loss finding at its stage, else a finding of its own naming where the kernel
/// dropped them.
fn add_trace(
    found: &mut Vec<Finding>,
    trace: &crate::trace::DropTrace,
    ledger: &Ledger,
    netns: Option<u64>,
) {
    use crate::findings::{Action, Confidence, Evidence};
    for r in &trace.reasons {
        let Some(line) = ledger
            .line(&ledger::reason_line(&r.name), &Labels::new())
            .filter(|l| l.above_floor || l.explained())
        else {
            continue;
        };
        let (count, rate) = (
            line.change.delta.unwrap_or(0),
            line.change.rate.unwrap_or(0.0),
        );
        let traffic = ledger
            .stage(r.stage.unwrap_or("rx.7"))
            .and_then(|s| s.traffic_per_s)
            .unwrap_or(0.0);
        let where_ = [
            r.locations.first(),
            r.netns.first().filter(|_| netns.is_none()),
        ]
        .iter()
        .flatten()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(" in ");
        // A sampled packet names the socket (or flow) the drops hit.
        let flow = r
            .samples
            .first()
            .map(|(f, _)| format!("; sampled: {f}"))
            .unwrap_or_default();
        let e = Evidence::moved(
            &ledger::reason_line(&r.name),
            format!("at {where_}{flow}"),
            count,
            rate,
        );
        // The finding whose evidence holds a counter this reason moves corroborates it (the
        // drops are the same packets, not more); else the loss finding at its stage.
        let moves: &[&str] = catalog::reason(&r.name).map_or(&[], |m| m.counters);
        let target = found
            .iter()
            .position(|f| f.loss && f.evidence.iter().any(|e| moves.contains(&e.key.as_str())))
            .or_else(|| {
                r.stage
                    .and_then(|s| found.iter().position(|f| f.stage == s && f.loss))
            });
        match target.map(|i| &mut found[i]) {
            Some(f) => {
                f.evidence.push(e);
                f.confidence = Confidence::High;
            }
            None if !line.above_floor => {}
            None => {
                let stage = r.stage.unwrap_or("rx.7");
                found.push(Finding {
                    rule: "trace-drops",
                    stage,
                    severity: Ctx::severity(rate, traffic),
                    title: format!("the kernel dropped {count} packets with reason {}", r.name),
                    evidence: vec![e],
                    cause: format!(
                        "skb:kfree_skb reported {} at {}; no counter of this stage moved enough to say more",
                        r.name,
                        r.locations.first().map_or("an unknown location", |(l, _)| l.as_str())
                    ),
                    actions: vec![Action::inspect(format!("pktmap explain {}", r.name)), Action::inspect("pktmap trace drops --interval 10s")],
                    confidence: Confidence::Medium,
                    loss: true,
                });
            }
        }
    }
    order(found);
}

/// Adds what `trace latency` measured during the interval: each histogram's tail becomes
/// evidence of the latency finding at its stage, or a finding of its own when the tail is
/// long enough to matter on its own.
pub fn add_latency(found: &mut Vec<Finding>, lat: &crate::trace::LatencyTrace) {
    use crate::findings::{Action, Confidence, Evidence, Severity};
    // Which histogram speaks to which stage, and the p99 (ns) beyond which it is a finding.
    const TAILS: [(&str, u64); 6] = [
        ("NET_RX softirq: raised", 1_000_000),
        ("NET_RX softirq: run", 2_000_000),
        ("napi_poll", u64::MAX),
        ("received to copied", 10_000_000),
        ("qdisc residence", 10_000_000),
        ("run-queue", 10_000_000),
    ];
    for h in lat.histograms.iter().filter(|h| h.count >= MIN_EVENTS) {
        let Some(p99) = h.p99 else { continue };
        let limit = TAILS
            .iter()
            .find(|(n, _)| h.name.starts_with(n))
            .map_or(u64::MAX, |t| t.1);
        let e = Evidence::value(
            &format!("histogram {}", h.name),
            "",
            format!(
                "{} events, p50 < {}, p99 < {} {}",
                h.count,
                h.p50.unwrap_or(0) + 1,
                p99 + 1,
                h.unit
            ),
        );
        if let Some(f) = found.iter_mut().find(|f| f.stage == h.stage && !f.loss) {
            f.evidence.push(e);
            continue;
        }
        if p99 >= limit {
            found.push(Finding {
                rule: "latency-tail",
                stage: h.stage,
                severity: Severity::Warning,
                title: format!("{}: 1% of events take {} ms or more", h.name, (p99 + 1) / 1_000_000),
                evidence: vec![e],
                cause: "a long tail at this stage: see the stage in `pktmap walk` for its load and settings".into(),
                actions: vec![Action::inspect("pktmap trace latency --interval 10s")],
                confidence: Confidence::Medium,
                loss: false,
            });
        }
    }
    if lat.napi_polls >= 100 && lat.napi_full_budget * 2 >= lat.napi_polls {
        found.push(Finding {
            rule: "latency-tail",
            stage: "rx.6",
            severity: Severity::Warning,
            title: format!("{} of {} NAPI polls used their whole budget", lat.napi_full_budget, lat.napi_polls),
            evidence: vec![Evidence::value("napi_poll work == budget", "", format!("{} of {}", lat.napi_full_budget, lat.napi_polls))],
            cause: "devices have more packets than one poll may take: receive work backs up into the next softirq round".into(),
            actions: vec![Action::inspect("sysctl net.core.dev_weight net.core.netdev_budget")],
            confidence: Confidence::Medium,
            loss: false,
        });
    }
    order(found);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Class, GROUPS, ITEMS, ItemKind};
    use crate::snapshot::{Kind, Meta, Metric, Snapshot};

    fn snap(uptime: f64, name: &str, value: u64) -> Snapshot {
        let mut s = Snapshot::new(Meta {
            uptime_s: Some(uptime),
            ..Meta::default()
        });
        // Device counters carry their device, as every collector records them.
        let labels = if catalog::place(name).is_some_and(|p| p.stage == "rx.1" || p.stage == "rx.3")
            || name.starts_with("ethtool.")
            || name.starts_with("rx_")
            || name.starts_with("tx_")
            || name.starts_with("netdev.")
            || name.starts_with("qdisc.")
        {
            crate::snapshot::labels([("dev", "eth0")])
        } else {
            Labels::new()
        };
        s.metrics.push(Metric {
            name: name.into(),
            labels,
            value,
            kind: Kind::Counter64,
        });
        s
    }

    fn reason(name: &str, netns: &[(u64, u64)], secs: f64) -> crate::trace::ReasonRow {
        let count = netns.iter().map(|n| n.1).sum();
        crate::trace::ReasonRow {
            reason: 0,
            name: name.into(),
            stage: crate::trace::reason_stage(name),
            count,
            rate: count as f64 / secs,
            locations: vec![("sk_filter_trim_cap+0x1".into(), count)],
            samples: vec![],
            netns: netns
                .iter()
                .map(|(ns, n)| (format!("pod (net:[{ns}])"), *n))
                .collect(),
            by_netns: netns.to_vec(),
            devices: vec![],
            places: vec![],
            protocols: vec![],
        }
    }

    /// A reason goes to the namespace it happened in, judged by its floor against its
    /// stage's traffic: 705 duplicates in a bulk transfer are not a finding. One that a
    /// counter already saw corroborates that counter's finding instead of adding to it.
    #[test]
    fn drop_reasons_are_judged_per_namespace_and_by_their_floor() {
        let mut a = snap(100.0, "Tcp.InSegs", 0);
        let mut b = snap(110.0, "Tcp.InSegs", 2_000_000);
        for (s, v) in [(&mut a, 0), (&mut b, 50)] {
            s.metrics.push(Metric {
                name: "Udp.RcvbufErrors".into(),
                labels: Labels::new(),
                value: v,
                kind: Kind::Counter64,
            });
        }
        let delta = Delta::between(&a, &b).unwrap();
        let trace = crate::trace::DropTrace {
            schema: "pktmap.trace.drops/1",
            interval_s: 10.0,
            events: 755,
            map_full: 0,
            samples_lost: 0,
            reasons: vec![
                reason("SOCKET_RCVBUFF", &[(4026532001, 50)], 10.0),
                reason("TCP_OLD_SEQUENCE", &[(4026532002, 705)], 10.0),
                reason("TCP_ZEROWINDOW", &[(4026532001, 3)], 10.0),
            ],
            cost: vec![],
            limits: vec![],
        };
        let keys = |found: &[Finding]| -> Vec<String> {
            let mut k: Vec<String> = found
                .iter()
                .flat_map(|f| f.evidence.iter().map(|e| e.key.clone()))
                .collect();
            k.sort();
            k
        };
        let in_a = diagnose_traced(&delta, Some(&trace), Some(4026532001));
        // SOCKET_RCVBUFF is the 50 RcvbufErrors: evidence of their finding, one loss not two.
        let rcvbuf: Vec<&Finding> = in_a
            .iter()
            .filter(|f| {
                f.evidence
                    .iter()
                    .any(|e| e.key == "drop reason SOCKET_RCVBUFF")
            })
            .collect();
        assert_eq!(rcvbuf.len(), 1, "{in_a:#?}");
        assert!(
            rcvbuf[0]
                .evidence
                .iter()
                .any(|e| e.key == "Udp.RcvbufErrors")
        );
        // Three zero-window drops no counter saw: a finding at rx.10 from the first.
        assert!(
            keys(&in_a).contains(&"drop reason TCP_ZEROWINDOW".to_string()),
            "{in_a:#?}"
        );
        assert!(!keys(&in_a).contains(&"drop reason TCP_OLD_SEQUENCE".to_string()));
        let traced = traced_in(&trace, Some(4026532001), delta.interval_s);
        let ledger = ledger::build_traced(&delta, None, &traced);
        let rx10 = ledger.stage("rx.10").unwrap();
        assert!(
            (rx10.drops_per_s - 5.3).abs() < 0.01,
            "{}",
            rx10.drops_per_s
        );

        let in_b = diagnose_traced(&delta, Some(&trace), Some(4026532002));
        assert!(
            !keys(&in_b).iter().any(|k| k.starts_with("drop reason")),
            "70/s of 200k segments/s is reordering noise: {in_b:#?}"
        );
        assert!(
            diagnose_traced(&delta, Some(&trace), Some(1))
                .iter()
                .all(|f| !f.evidence.iter().any(|e| e.key.starts_with("drop reason")))
        );
        // A namespace past the few the report names is still counted exactly.
        let mut tail = trace.clone();
        tail.reasons = vec![reason("TCP_ZEROWINDOW", &[(7, 40)], 10.0)];
        tail.reasons[0].netns.clear();
        let in_7 = diagnose_traced(&delta, Some(&tail), Some(7));
        assert!(
            in_7.iter().any(|f| f
                .evidence
                .iter()
                .any(|e| e.key == "drop reason TCP_ZEROWINDOW")),
            "{in_7:#?}"
        );
    }

    /// Every finding id the code writes is a kind alerting rules are made for.
    #[test]
    fn every_finding_id_written_is_a_known_kind() {
        let kinds: Vec<&str> = finding_kinds().collect();
        let sources = [
            include_str!("mod.rs"),
            include_str!("rules/ip.rs"),
            include_str!("rules/latency.rs"),
            include_str!("rules/nic.rs"),
            include_str!("rules/socket.rs"),
            include_str!("rules/softirq.rs"),
            include_str!("rules/transport.rs"),
            include_str!("rules/tx.rs"),
        ];
        let mut found = 0;
        for src in sources {
            for (i, _) in src
                .match_indices("rule: \"")
                .chain(src.match_indices("finding(\n"))
            {
                let rest = &src[i..];
                let id = rest.split('"').nth(1).unwrap();
                assert!(kinds.contains(&id), "{id}");
                found += 1;
            }
        }
        assert!(found > 20, "{found}");
    }

    /// Every loss counter the catalog knows, and one new counter of each family with a loss
    /// class: moved alone, it is a finding at its stage, and walk names the same first stage.
    #[test]
    fn every_loss_counter_of_the_catalog_is_a_finding_at_its_stage() {
        let mut keys: Vec<String> = ITEMS
            .iter()
            .filter(|i| {
                i.kind == ItemKind::Counter && matches!(i.class, Class::Drop | Class::Error)
            })
            .map(|i| i.key.to_string())
            .collect();
        keys.extend(
            GROUPS
                .iter()
                .filter(|g| matches!(g.class, Some(Class::Drop | Class::Error)))
                .map(|g| format!("{}some_new_counter", g.prefix)),
        );
        assert!(keys.len() > 60, "{}", keys.len());
        let mut wrong = Vec::new();
        for key in &keys {
            let stage = catalog::place(key).unwrap().stage;
            let (a, b) = (snap(100.0, key, 0), snap(104.0, key, 1_000_000));
            let delta = Delta::between(&a, &b).unwrap();
            let walk = crate::walk::build(&delta, None);
            let found = diagnose(&delta);
            let first = found.iter().find(|f| f.loss).map(|f| f.stage);
            if walk.first_loss != Some(stage) || first != Some(stage) {
                wrong.push(format!(
                    "{key} at {stage}: walk says {:?}, diagnose {:?}",
                    walk.first_loss, first
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
