//! `pktmap diagnose`: the article's two scenarios as rules over a delta. Scenario 1 walks the
//! drops outside-in (NIC, softirq, IP/netfilter, transport, socket, transmit); scenario 2 cuts
//! latency into network, host and application. Each rule is a small function in `RULES`.

mod rules;

use crate::delta::{Change, Delta};
use crate::findings::{Finding, Severity, order};
use crate::snapshot::{Labels, Snapshot};

pub use rules::{RULES, parse_ring};

/// The least count that is more than background noise: ordinary teardown, a retransmit, the
/// VM's own chatter (kernel-notes: every interval has a few).
pub const MIN_EVENTS: u64 = 10;
/// A loss below this share of the traffic it belongs to is noise.
pub const MIN_RATIO: f64 = 0.001;

/// A rule: an id (stable, for tests and suppression) and its check.
pub struct Rule {
    pub id: &'static str,
    pub check: fn(&Ctx) -> Vec<Finding>,
}

/// What rules read: the delta and both snapshots.
pub struct Ctx<'a> {
    pub delta: &'a Delta<'a>,
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

    /// Whether `delta` losses at `rate` matter against `traffic` per second.
    pub fn significant(delta: u64, rate: f64, traffic: f64) -> bool {
        delta >= MIN_EVENTS && (traffic <= 0.0 || rate / traffic >= MIN_RATIO)
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

/// Runs every rule and orders what they found.
pub fn diagnose(delta: &Delta) -> Vec<Finding> {
    let ctx = Ctx { delta };
    let mut found: Vec<Finding> = RULES.iter().flat_map(|r| (r.check)(&ctx)).collect();
    order(&mut found);
    found
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

/// Adds what `trace drops` counted during the interval: each reason becomes evidence of the
/// finding at its stage, or a finding of its own where the counters said nothing.
pub fn add_trace(found: &mut Vec<Finding>, trace: &crate::trace::DropTrace) {
    use crate::findings::{Action, Confidence, Evidence};
    for r in trace.reasons.iter().filter(|r| r.count >= MIN_EVENTS) {
        let where_ = [r.locations.first(), r.netns.first()]
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
            &format!("drop reason {}", r.name),
            format!("at {where_}{flow}"),
            r.count,
            r.rate,
        );
        match r
            .stage
            .and_then(|s| found.iter_mut().find(|f| f.stage == s && f.loss))
        {
            Some(f) => {
                f.evidence.push(e);
                f.confidence = Confidence::High;
            }
            None => {
                let stage = r.stage.unwrap_or("rx.7");
                found.push(Finding {
                    rule: "trace-drops",
                    stage,
                    severity: if r.rate >= 100.0 { crate::findings::Severity::Critical } else { crate::findings::Severity::Warning },
                    title: format!("the kernel dropped {} packets with reason {}", r.count, r.name),
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
