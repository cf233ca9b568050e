//! The walk: a delta laid out stage by stage, in the order a packet meets the stages.

use crate::catalog::{self, Class, Path, STAGES};
use crate::delta::{Change, ChangeStatus, Delta};
use crate::snapshot::{CollectorRun, Labels, Metric, NetnsLabel, Setting, Snapshot, SocketInfo};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Names the JSON document; bumped when a field changes meaning.
pub const WALK_SCHEMA: &str = "pktmap.walk/1";

#[derive(Serialize, Debug)]
pub struct Walk {
    pub schema: &'static str,
    pub host: Host,
    pub interval_s: f64,
    /// False when the two snapshots come from different boots (every counter restarted).
    pub same_boot: bool,
    pub iface: Option<String>,
    /// The first stage, in path order, where a drop counter moved.
    pub first_loss: Option<&'static str>,
    pub stages: Vec<StageView>,
    /// Counters that no stage claims (a kernel newer than the catalog).
    pub unmapped: Vec<Change>,
    /// Series present in the first snapshot only (interface deleted, CPU offlined).
    pub gone: Vec<Metric>,
    pub collectors: Vec<CollectorRun>,
}

#[derive(Serialize, Debug)]
pub struct Host {
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsLabel>,
    pub kernel: Option<String>,
    pub cpus: usize,
    pub time_from_unix_ms: u64,
    pub time_to_unix_ms: u64,
}

#[derive(Serialize, Debug)]
pub struct StageView {
    pub id: &'static str,
    pub title: &'static str,
    pub path: Path,
    pub unit: &'static str,
    /// Sum of the stage's traffic counters per second, if it has any.
    pub traffic_per_s: Option<f64>,
    pub drops_per_s: f64,
    pub errors_per_s: f64,
    pub counters: Vec<CounterView>,
    pub settings: Vec<Setting>,
    /// Sockets showing this stage's trouble (a listener at its cap, a queue building).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sockets: Vec<SocketInfo>,
}

#[derive(Serialize, Debug, Clone)]
pub struct CounterView {
    #[serde(flatten)]
    pub change: Change,
    pub class: Class,
    /// How much of its delta more specific counters at the same labels already count
    /// (`Udp.InErrors` counts `Udp.RcvbufErrors`).
    #[serde(skip_serializing_if = "is_zero")]
    pub included: u64,
    /// A driver's own counter repeating what the stage's counters count: evidence, not added.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub detail: bool,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl CounterView {
    /// Moved in the interval, or restarted: worth a reader's eye.
    pub fn moved(&self) -> bool {
        self.change.delta.is_some_and(|d| d > 0) || self.change.status == ChangeStatus::Reset
    }

    /// What only this counter counts. Collectors read one after another, so a counter read a
    /// millisecond later than its parts may be ahead of them by a few packets: a remainder
    /// within that skew (2% and 5 packets) is not its own.
    fn own_delta(&self) -> Option<u64> {
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
}

impl StageView {
    /// Losses of this stage that moved, worst first.
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
}

fn rank(c: Class) -> u8 {
    match c {
        Class::Drop => 0,
        Class::Error => 1,
        Class::Strain => 2,
        _ => 3,
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

pub fn build(delta: &Delta, iface: Option<&str>) -> Walk {
    let to = delta.to;
    let present: HashSet<(&str, &Labels)> = to
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), &m.labels))
        .collect();
    let keep = |labels: &Labels| match (iface, labels.get("dev")) {
        (Some(want), Some(dev)) => dev == want,
        _ => true,
    };

    let deltas: HashMap<(&str, &Labels), u64> = delta
        .changes
        .iter()
        .filter_map(|c| c.delta.map(|d| ((c.name.as_str(), &c.labels), d)))
        .collect();
    let mut totals: HashMap<&str, u64> = HashMap::new();
    for ((name, _), d) in &deltas {
        let t = totals.entry(name).or_default();
        *t = t.saturating_add(*d);
    }
    let mut per_stage: Vec<Vec<CounterView>> = vec![Vec::new(); STAGES.len()];
    let mut unmapped = Vec::new();
    for c in delta.changes.iter().filter(|c| keep(&c.labels)) {
        let Some(place) = catalog::place(&c.name) else {
            unmapped.push(c.clone());
            continue;
        };
        // /proc/net/dev repeats sysfs; show it only where sysfs was not readable.
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
        // qdisc drops of all of them); a per-device one only its own device's.
        let included: u64 = place
            .item
            .map(|i| {
                i.includes
                    .iter()
                    .map(|n| {
                        if c.labels.is_empty() {
                            totals.get(n).copied().unwrap_or(0)
                        } else {
                            deltas.get(&(*n, &c.labels)).copied().unwrap_or(0)
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
        });
    }
    for (idx, stage) in STAGES.iter().enumerate() {
        if let Some(kind) = container_leg(stage.id) {
            per_stage[idx] = leg_counters(to, &per_stage, kind);
        }
    }

    let stages: Vec<StageView> = STAGES
        .iter()
        .zip(per_stage)
        .map(|(stage, counters)| {
            // Driver counters repeat what the kernel's count: the stage loses at least the
            // largest of them, and the kernel's own counters are summed.
            let sum = |class: Class| -> f64 {
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
            StageView {
                id: stage.id,
                title: stage.title,
                path: stage.path,
                unit: stage.unit,
                traffic_per_s: has_traffic.then(|| sum(Class::Traffic) + also),
                drops_per_s: sum(Class::Drop),
                errors_per_s: sum(Class::Error),
                settings: stage_settings(to, stage.id, &keep),
                sockets: stage_sockets(to, stage.id),
                counters,
            }
        })
        .collect();
    let first_loss = stages.iter().find(|s| s.drops_per_s > 0.0).map(|s| s.id);
    Walk {
        schema: WALK_SCHEMA,
        host: Host {
            hostname: to.meta.hostname.clone(),
            netns: to.meta.netns.clone(),
            kernel: to.meta.kernel.clone(),
            cpus: to.meta.cpus_online.len(),
            time_from_unix_ms: delta.from.meta.time_unix_ms,
            time_to_unix_ms: to.meta.time_unix_ms,
        },
        interval_s: delta.interval_s,
        same_boot: delta.same_boot,
        iface: iface.map(str::to_string),
        first_loss,
        stages,
        unmapped,
        gone: delta.gone.clone(),
        collectors: to.collectors.clone(),
    }
}

/// Which kept sockets tell about a stage: rx.10 the ones losing (a full accept queue,
/// drops), rx.11 the ones whose reader lags (Recv-Q), rx.9 the ones retransmitting.
fn stage_sockets(to: &Snapshot, stage: &str) -> Vec<SocketInfo> {
    let show = |s: &SocketInfo| match stage {
        "rx.10" => {
            (s.state == "LISTEN" && s.send_q > 0 && s.recv_q >= s.send_q)
                || s.skmem.get("drops").is_some_and(|d| *d > 0)
        }
        "rx.11" => s.state != "LISTEN" && s.recv_q > 0,
        "rx.9" => s.why.iter().any(|w| w == "retrans"),
        _ => false,
    };
    to.sockets.iter().filter(|s| show(s)).cloned().collect()
}

fn stage_settings(to: &Snapshot, stage: &str, keep: &dyn Fn(&Labels) -> bool) -> Vec<Setting> {
    to.settings
        .iter()
        .filter(|s| keep(&s.labels))
        .filter(|s| catalog::item(&s.name).is_some_and(|i| i.stage == stage))
        .cloned()
        .collect()
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
        .cloned()
        .collect()
}
