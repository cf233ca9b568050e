//! The loss ledger: every counter of a delta placed at its stage with its class from the
//! catalog, summed per stage without counting a packet twice, each loss judged against its
//! own floor. `walk` lays it out, `diagnose` explains it (a loss no rule explains is still a
//! finding), so the two cannot disagree about where packets are lost.
//!
//! Two things make a loss land where it happened rather than where it echoes:
//! - a counter that also counts other counters' packets (`includes` in the catalog) keeps only
//!   what they do not explain. On the way out that is inside-out: a qdisc drop returns ENOBUFS
//!   and raises the sender's `Udp.SndbufErrors` and `Ip.OutDiscards` by as much, and veth
//!   charges a receiver's backlog drop to the sender the same way (kernel-notes);
//! - IP's own counters do not see netfilter's drops, so the packets IP received and never
//!   accounted for are a line of their own, `ip.undelivered`, at rx.8.

use crate::catalog::{self, Class, Path, STAGES};
use crate::delta::{Change, ChangeStatus, Delta};
use crate::snapshot::{Kind, Labels, Snapshot};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use serde::Serialize;
use std::sync::LazyLock;

/// One stage's account.
#[derive(Serialize, Debug)]
pub struct StageLedger {
    pub id: &'static str,
    pub title: &'static str,
    pub path: Path,
    pub unit: &'static str,
    /// Sum of the stage's traffic counters per second, if it has any.
    pub traffic_per_s: Option<f64>,
    pub drops_per_s: f64,
    pub errors_per_s: f64,
    /// A drop or an error that discards moved past its floor: packets are lost here.
    pub losing: bool,
    pub counters: Vec<CounterView>,
}

#[derive(Serialize, Debug, Clone)]
pub struct CounterView {
    #[serde(flatten)]
    pub change: Change,
    pub class: Class,
    /// How much of its delta more specific counters (at this stage or deeper) already count
    /// (`Udp.InErrors` counts `Udp.RcvbufErrors`; `Udp.SndbufErrors` echoes qdisc drops).
    #[serde(skip_serializing_if = "is_zero")]
    pub included: u64,
    /// A driver's own counter repeating what the stage's counters count: evidence, not added.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub detail: bool,
    /// For a drop or error: whether what only it counts cleared its floor.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub above_floor: bool,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl CounterView {
    /// Moved in the interval, or restarted: worth a reader's eye.
    pub fn moved(&self) -> bool {
        self.change.delta.is_some_and(|d| d > 0) || self.change.status == ChangeStatus::Reset
    }

    /// A drop or an error that discards the packet.
    pub fn is_loss(&self) -> bool {
        matches!(self.class, Class::Drop | Class::Error)
    }

    /// What only this counter counts. Collectors read one after another, so a counter read a
    /// millisecond later than its parts may be ahead of them by a few packets: a remainder
    /// within that skew (2% and 5 packets) is not its own.
    pub fn own_delta(&self) -> Option<u64> {
        let d = self.change.delta?;
        let rest = d.saturating_sub(self.included);
        let skew = self.included / 50 + 5;
        Some(if self.included > 0 && rest <= skew {
            0
        } else {
            rest
        })
    }

    /// Its whole movement is counted by more specific counters shown beside it.
    pub fn explained(&self) -> bool {
        self.change.delta.is_some_and(|d| d > 0) && self.own_delta() == Some(0)
    }

    /// Per-second rate of what only this counter counts.
    pub fn own_rate(&self) -> Option<f64> {
        let (d, r) = (self.change.delta?, self.change.rate?);
        let own = self.own_delta()?;
        Some(if d == 0 {
            0.0
        } else {
            r * own as f64 / d as f64
        })
    }

    /// What it alone shows, as a finding's evidence.
    pub fn own_evidence(&self) -> crate::findings::Evidence {
        crate::findings::Evidence::moved(
            &self.change.name,
            self.scope(),
            self.own_delta().unwrap_or(0),
            self.own_rate().unwrap_or(0.0),
        )
    }

    /// The scope it counts in: `dev=eth0 queue=3`, or `host`.
    pub fn scope(&self) -> String {
        if self.change.labels.is_empty() {
            return "host".into();
        }
        self.change
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl StageLedger {
    /// Losses and strain of this stage that moved and are not explained by a counter beside
    /// them, worst first.
    pub fn moved_losses(&self) -> Vec<&CounterView> {
        let mut v: Vec<&CounterView> = self
            .counters
            .iter()
            .filter(|c| matches!(c.class, Class::Drop | Class::Error | Class::Strain))
            .filter(|c| c.moved() && !c.explained())
            .collect();
        v.sort_by(|a, b| {
            rank(a.class).cmp(&rank(b.class)).then(
                b.change
                    .rate
                    .unwrap_or(0.0)
                    .total_cmp(&a.change.rate.unwrap_or(0.0)),
            )
        });
        v
    }

    /// The losses that make this stage lose: past their floor, worst first.
    pub fn losses(&self) -> Vec<&CounterView> {
        self.moved_losses()
            .into_iter()
            .filter(|c| c.above_floor)
            .collect()
    }
}

fn rank(c: Class) -> u8 {
    match c {
        Class::Drop => 0,
        Class::Error => 1,
        Class::Strain => 2,
        _ => 3,
    }
}

#[derive(Serialize, Debug)]
pub struct Ledger {
    pub stages: Vec<StageLedger>,
    /// The first stage, in path order, that loses packets.
    pub first_loss: Option<&'static str>,
    /// Counters that no stage claims (a kernel newer than the catalog).
    pub unmapped: Vec<Change>,
}

impl Ledger {
    pub fn stage(&self, id: &str) -> Option<&StageLedger> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// A counter's line at any stage, with these labels.
    pub fn line(&self, name: &str, labels: &Labels) -> Option<&CounterView> {
        self.stages
            .iter()
            .flat_map(|s| &s.counters)
            .find(|c| c.change.name == name && &c.change.labels == labels)
    }
}

/// Devices whose `link.kind` setting is one of the container legs.
fn container_leg(stage: &str) -> Option<&'static str> {
    match stage {
        "ct.veth" => Some("veth"),
        "ct.bridge" => Some("bridge"),
        _ => None,
    }
}

/// Drops the kernel reported by reason during the interval (`diagnose --trace`), in the
/// namespace this ledger is of.
#[derive(Debug, Clone, PartialEq)]
pub struct Traced {
    pub reason: String,
    pub stage: &'static str,
    pub count: u64,
    pub rate: f64,
}

const REASON_LINE: &str = "drop reason ";

/// The name of a traced reason's line in the ledger, and of its evidence in a finding.
pub fn reason_line(reason: &str) -> String {
    format!("{REASON_LINE}{reason}")
}

/// The reason a line of the ledger was traced for; None for a counter's line.
pub fn reason_of(line: &str) -> Option<&str> {
    line.strip_prefix(REASON_LINE)
}

/// The ledger of a delta; with `iface`, only that device's counters and the host-wide ones.
pub fn build(delta: &Delta, iface: Option<&str>) -> Ledger {
    build_traced(delta, iface, &[])
}

/// The ledger with the traced drops as lines of their own, each at its reason's stage. A
/// reason counts the same packets as the counters it moves (the catalog's mapping): those are
/// what it includes, so it adds only the drops no counter saw, and corroborates the rest.
pub fn build_traced(delta: &Delta, iface: Option<&str>, traced: &[Traced]) -> Ledger {
    let to = delta.to;
    // Only the counters another one repeats (sysfs's, which /proc/net/dev repeats) are looked
    // up by name and labels.
    static REPEATED: LazyLock<HashSet<&str>> =
        LazyLock::new(|| catalog::ITEMS.iter().filter_map(|i| i.same_as).collect());
    let repeated = &*REPEATED;
    let present: HashSet<(&str, &Labels)> = to
        .metrics
        .iter()
        .filter(|m| repeated.contains(m.name.as_str()))
        .map(|m| (m.name.as_str(), &m.labels))
        .collect();
    let keep = |labels: &Labels| match (iface, labels.get("dev")) {
        (Some(want), Some(dev)) => dev == want,
        _ => true,
    };
    let derived = ip_undelivered(delta);
    let changes: Vec<&Change> = delta.changes.iter().chain(&derived).collect();

    // Each counter's total, and by labels those another counter includes.
    static PARTS: LazyLock<HashSet<&str>> = LazyLock::new(|| {
        catalog::ITEMS
            .iter()
            .flat_map(|i| i.includes.iter().copied())
            .collect()
    });
    let parts = &*PARTS;
    let mut totals: HashMap<&str, u64> = HashMap::new();
    let mut deltas: HashMap<(&str, &Labels), u64> = HashMap::new();
    // Counters kept per CPU, not per device, and what of each is left to attribute.
    let mut per_cpu: HashSet<&str> = HashSet::new();
    for c in &changes {
        let Some(d) = c.delta else { continue };
        let t = totals.entry(c.name.as_str()).or_default();
        *t = t.saturating_add(d);
        if parts.contains(c.name.as_str()) {
            deltas.insert((c.name.as_str(), &c.labels), d);
        }
        if c.labels.contains_key("cpu") && !c.labels.contains_key("dev") {
            per_cpu.insert(c.name.as_str());
        }
    }
    let mut pool: HashMap<&str, u64> = HashMap::new();
    let mut per_stage: Vec<Vec<CounterView>> = vec![Vec::new(); STAGES.len()];
    for t in traced {
        let Some(idx) = STAGES.iter().position(|s| s.id == t.stage) else {
            continue;
        };
        let included = catalog::reason(&t.reason)
            .map_or(&[][..], |r| r.counters)
            .iter()
            .map(|n| totals.get(n).copied().unwrap_or(0))
            .fold(0, u64::saturating_add);
        per_stage[idx].push(CounterView {
            change: Change {
                name: reason_line(&t.reason),
                labels: Labels::new(),
                kind: Kind::Counter64,
                value: t.count,
                prev: None,
                delta: Some(t.count),
                rate: Some(t.rate),
                status: ChangeStatus::Ok,
            },
            class: Class::Drop,
            included,
            detail: false,
            above_floor: false,
        });
    }
    let mut unmapped = Vec::new();
    for c in changes.into_iter().filter(|c| keep(&c.labels)) {
        let Some(place) = catalog::place(&c.name) else {
            unmapped.push(c.clone());
            continue;
        };
        // /proc/net/dev repeats sysfs; count it only where sysfs was not readable.
        if let Some(other) = place.item.and_then(|i| i.same_as)
            && present.contains(&(other, &c.labels))
        {
            continue;
        }
        let idx = STAGES
            .iter()
            .position(|s| s.id == place.stage)
            .expect("catalog is checked");
        // A host-wide counter includes its parts on every device (Ip.OutDiscards counts the
        // qdisc drops of all of them); a per-device one only its own device's, and of a
        // per-CPU part (softnet's drops also raise the device's rx_dropped) what the devices
        // before it have not claimed.
        let own = c.delta.unwrap_or(0);
        let included: u64 = place
            .item
            .map(|i| {
                i.includes
                    .iter()
                    .map(|n| {
                        if c.labels.is_empty() {
                            totals.get(n).copied().unwrap_or(0)
                        } else if let Some(d) = deltas.get(&(*n, &c.labels)) {
                            *d
                        } else if per_cpu.contains(n) {
                            let left = pool.entry(n).or_insert_with(|| totals[n]);
                            let take = (*left).min(own);
                            *left -= take;
                            take
                        } else {
                            0
                        }
                    })
                    .fold(0, u64::saturating_add)
            })
            .unwrap_or(0);
        per_stage[idx].push(CounterView {
            change: c.clone(),
            class: place.class,
            included,
            detail: place.detail,
            above_floor: false,
        });
    }
    for (idx, stage) in STAGES.iter().enumerate() {
        if let Some(kind) = container_leg(stage.id) {
            // A leg is its devices' counters, plus what is placed there and names no device
            // (a bridge-family firewall rule's drops).
            let mut own: Vec<CounterView> = std::mem::take(&mut per_stage[idx])
                .into_iter()
                .filter(|c| !c.change.labels.contains_key("dev"))
                .collect();
            own.extend(leg_counters(to, &per_stage, kind));
            per_stage[idx] = own;
        }
    }

    let stages: Vec<StageLedger> = STAGES
        .iter()
        .zip(per_stage)
        .map(|(stage, mut counters)| {
            // Driver counters repeat what the kernel's count: the stage loses at least the
            // largest of them, and the kernel's own counters are summed.
            let sum = |counters: &[CounterView], class: Class| -> f64 {
                let own: f64 = counters
                    .iter()
                    .filter(|c| c.class == class && !c.detail)
                    .filter_map(CounterView::own_rate)
                    .sum();
                let detail = counters
                    .iter()
                    .filter(|c| c.class == class && c.detail)
                    .filter_map(|c| c.change.rate)
                    .fold(0.0, f64::max);
                own.max(detail)
            };
            let also: f64 = counters
                .iter()
                .filter(|c| stage.traffic_also.contains(&c.change.name.as_str()))
                .filter_map(|c| c.change.rate)
                .sum();
            let has_traffic = counters
                .iter()
                .any(|c| c.class == Class::Traffic && c.change.rate.is_some());
            let traffic_per_s = has_traffic.then(|| sum(&counters, Class::Traffic) + also);
            for c in counters.iter_mut().filter(|c| c.is_loss()) {
                let own = if c.detail {
                    c.change.delta
                } else {
                    c.own_delta()
                };
                let key = reason_of(&c.change.name).unwrap_or(&c.change.name);
                c.above_floor = catalog::floor(key).cleared(
                    own.unwrap_or(0),
                    c.own_rate().unwrap_or(0.0),
                    traffic_per_s.unwrap_or(0.0),
                );
            }
            StageLedger {
                id: stage.id,
                title: stage.title,
                path: stage.path,
                unit: stage.unit,
                traffic_per_s,
                drops_per_s: sum(&counters, Class::Drop),
                errors_per_s: sum(&counters, Class::Error),
                losing: counters.iter().any(|c| c.above_floor),
                counters,
            }
        })
        .collect();
    let first_loss = stages.iter().find(|s| s.losing).map(|s| s.id);
    Ledger {
        stages,
        first_loss,
        unmapped,
    }
}

/// The counters IP accounts a received packet with; what they leave of `Ip.InReceives` was
/// dropped where no IP counter looks (netfilter).
const IP_ACCOUNTED: &[&str] = &[
    "Ip.InDelivers",
    "Ip.ForwDatagrams",
    "Ip.InDiscards",
    "Ip.InHdrErrors",
    "Ip.InAddrErrors",
    "Ip.InUnknownProtos",
    "Ip.ReasmReqds",
    "IpExt.InNoRoutes",
    "IpExt.InTruncatedPkts",
    "TcpExt.IPReversePathFilter",
];

/// `ip.undelivered`: IPv4 packets received and never accounted for, as a counter's change.
fn ip_undelivered(delta: &Delta) -> Option<Change> {
    let sum = |name: &str| -> Option<(u64, f64)> {
        let c = delta
            .changes
            .iter()
            .find(|c| c.name == name && c.labels.is_empty())?;
        Some((c.delta?, c.rate.unwrap_or(0.0)))
    };
    let (received, rate_in) = sum("Ip.InReceives")?;
    let accounted = IP_ACCOUNTED
        .iter()
        .filter_map(|n| sum(n))
        .map(|(d, _)| d)
        .fold(0, u64::saturating_add);
    let missing = received.saturating_sub(accounted);
    Some(Change {
        name: "ip.undelivered".into(),
        labels: Labels::new(),
        kind: Kind::Counter64,
        value: missing,
        prev: None,
        delta: Some(missing),
        rate: Some(if received == 0 {
            0.0
        } else {
            rate_in * missing as f64 / received as f64
        }),
        status: ChangeStatus::Ok,
    })
}

/// The link counters of the devices that form one container leg (veth ends, bridges).
fn leg_counters(to: &Snapshot, per_stage: &[Vec<CounterView>], kind: &str) -> Vec<CounterView> {
    let devs: HashSet<&str> = to
        .settings
        .iter()
        .filter(|s| s.name == "link.kind" && s.value == kind)
        .filter_map(|s| s.labels.get("dev").map(String::as_str))
        .collect();
    per_stage
        .iter()
        .flatten()
        .filter(|c| {
            c.change
                .labels
                .get("dev")
                .is_some_and(|d| devs.contains(d.as_str()))
        })
        .filter(|c| {
            matches!(
                c.change.name.as_str(),
                "rx_packets"
                    | "rx_dropped"
                    | "tx_dropped"
                    | "netdev.rx_packets"
                    | "netdev.rx_drop"
                    | "netdev.tx_drop"
            )
        })
        .map(|c| CounterView {
            // The leg shows its devices' traffic and drops; they are lost at rx.1/tx.5 already.
            above_floor: false,
            ..c.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Meta, Metric, labels};

    fn snap(uptime: f64, metrics: &[(&str, Labels, u64)]) -> Snapshot {
        let mut s = Snapshot::new(Meta {
            uptime_s: Some(uptime),
            boot_id: Some("b".into()),
            ..Meta::default()
        });
        for (name, l, v) in metrics {
            s.metrics.push(Metric {
                name: name.to_string(),
                labels: l.clone(),
                value: *v,
                kind: Kind::Counter64,
            });
        }
        s
    }

    fn ledger_of(before: &[(&str, Labels, u64)], after: &[(&str, Labels, u64)]) -> Ledger {
        let (a, b) = (snap(10.0, before), snap(14.0, after));
        build(&Delta::between(&a, &b).unwrap(), None)
    }

    #[test]
    fn a_qdisc_drop_echoed_by_the_socket_is_lost_at_the_qdisc() {
        let q = labels([("dev", "veth0"), ("kind", "tbf"), ("handle", "1:")]);
        let l = ledger_of(
            &[
                ("Udp.SndbufErrors", Labels::new(), 0),
                ("Ip.OutDiscards", Labels::new(), 0),
                ("qdisc.drops", q.clone(), 0),
            ],
            &[
                ("Udp.SndbufErrors", Labels::new(), 894_943),
                ("Ip.OutDiscards", Labels::new(), 894_943),
                ("qdisc.drops", q, 894_943),
            ],
        );
        assert_eq!(l.first_loss, Some("tx.3"));
        assert!(!l.stage("tx.1").unwrap().losing);
        assert!(!l.stage("tx.2").unwrap().losing);
        assert!(
            l.line("Udp.SndbufErrors", &Labels::new())
                .unwrap()
                .explained()
        );
    }

    #[test]
    fn a_backlog_drop_echoed_on_the_sender_is_lost_at_the_backlog() {
        let cpu = labels([("cpu", "1")]);
        let l = ledger_of(
            &[
                ("Udp.SndbufErrors", Labels::new(), 0),
                ("softnet.dropped", cpu.clone(), 0),
            ],
            &[
                ("Udp.SndbufErrors", Labels::new(), 5_000),
                ("softnet.dropped", cpu, 5_000),
            ],
        );
        assert_eq!(l.first_loss, Some("rx.5"));
        assert!(!l.stage("tx.1").unwrap().losing);
    }

    #[test]
    fn a_backlog_drop_charged_to_the_receiving_device_is_lost_at_the_backlog() {
        let (cpu, veth, eth) = (
            labels([("cpu", "1")]),
            labels([("dev", "veth0")]),
            labels([("dev", "eth0")]),
        );
        let before = [
            ("rx_dropped", veth.clone(), 0),
            ("rx_dropped", eth.clone(), 0),
            ("softnet.dropped", cpu.clone(), 0),
        ];
        // The backlog's 3,000 drops also raise one device's rx_dropped; eth0's 400 are its own.
        let l = ledger_of(
            &before,
            &[
                ("rx_dropped", veth.clone(), 3_000),
                ("rx_dropped", eth.clone(), 0),
                ("softnet.dropped", cpu.clone(), 3_000),
            ],
        );
        assert_eq!(l.first_loss, Some("rx.5"));
        assert!(!l.stage("rx.3").unwrap().losing);
        let l = ledger_of(
            &before,
            &[
                ("rx_dropped", veth, 3_000),
                ("rx_dropped", eth.clone(), 400),
                ("softnet.dropped", cpu, 3_000),
            ],
        );
        assert_eq!(l.first_loss, Some("rx.3"), "a ring drop beside it is kept");
        let own: u64 = l
            .stage("rx.3")
            .unwrap()
            .counters
            .iter()
            .filter_map(|c| c.own_delta())
            .sum();
        assert_eq!(own, 400);
    }

    #[test]
    fn a_quiet_counter_loses_from_its_first_events_and_a_noisy_one_needs_a_rate() {
        let l = ledger_of(
            &[
                ("TcpExt.RcvPruned", Labels::new(), 0),
                ("Tcp.InSegs", Labels::new(), 0),
            ],
            &[
                ("TcpExt.RcvPruned", Labels::new(), 5),
                ("Tcp.InSegs", Labels::new(), 400_000),
            ],
        );
        assert_eq!(
            l.first_loss,
            Some(catalog::place("TcpExt.RcvPruned").unwrap().stage)
        );
        let l = ledger_of(
            &[
                ("Udp.NoPorts", Labels::new(), 0),
                ("Udp.InDatagrams", Labels::new(), 0),
            ],
            &[
                ("Udp.NoPorts", Labels::new(), 5),
                ("Udp.InDatagrams", Labels::new(), 400_000),
            ],
        );
        assert_eq!(l.first_loss, None, "five stray datagrams are noise");
        assert!(l.line("Udp.NoPorts", &Labels::new()).unwrap().moved());
    }

    #[test]
    fn packets_ip_never_accounts_for_are_lost_at_rx8() {
        let l = ledger_of(
            &[
                ("Ip.InReceives", Labels::new(), 0),
                ("Ip.InDelivers", Labels::new(), 0),
            ],
            &[
                ("Ip.InReceives", Labels::new(), 20_000),
                ("Ip.InDelivers", Labels::new(), 100),
            ],
        );
        assert_eq!(l.first_loss, Some("rx.8"));
        let gap = l.line("ip.undelivered", &Labels::new()).unwrap();
        assert_eq!(gap.change.delta, Some(19_900));
    }

    #[test]
    fn driver_counters_by_class_land_at_their_stage() {
        let dev = labels([("dev", "eth0"), ("queue", "3")]);
        let l = ledger_of(
            &[("ethtool.nobuf.rx_no_buffer", dev.clone(), 0)],
            &[("ethtool.nobuf.rx_no_buffer", dev, 40)],
        );
        assert!(l.unmapped.is_empty(), "{:?}", l.unmapped);
        assert_eq!(l.first_loss, Some("rx.3"));
        assert!((l.stage("rx.3").unwrap().drops_per_s - 10.0).abs() < 1e-9);
    }
}
