//! Differences between two snapshots: per-second rates that survive counter wraps, resets
//! and vanished devices without ever producing a negative or absurd rate.

use crate::snapshot::{Kind, Labels, Metric, SeriesIndex, Snapshot};
use serde::Serialize;

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChangeStatus {
    /// Both values present, delta computed normally.
    Ok,
    /// The counter passed its maximum and started again from zero; the delta accounts for it.
    Wrapped,
    /// The counter restarted (device re-created, CPU offlined, reboot): no delta is given.
    Reset,
    /// Present only in the later snapshot. A counter of an object created in between (a
    /// qdisc, a device) counts from zero: its delta is its value.
    New,
    /// A level (gauge): its value is what matters, not a rate.
    Level,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Change {
    pub name: String,
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    pub kind: Kind,
    pub value: u64,
    pub prev: Option<u64>,
    pub delta: Option<u64>,
    /// Per second over the interval.
    pub rate: Option<f64>,
    pub status: ChangeStatus,
}

#[derive(Debug)]
pub enum DeltaError {
    /// The later snapshot is not later.
    NotInOrder { interval_s: f64 },
}

impl std::fmt::Display for DeltaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeltaError::NotInOrder { interval_s } => write!(
                f,
                "the second snapshot is not later than the first (interval {interval_s:.3} s); \
                 pass the older one first"
            ),
        }
    }
}

impl std::error::Error for DeltaError {}

/// Everything that changed between two snapshots of the same host.
#[derive(Debug)]
pub struct Delta<'a> {
    pub from: &'a Snapshot,
    pub to: &'a Snapshot,
    pub interval_s: f64,
    /// False when both snapshots come from different boots: every counter restarted.
    pub same_boot: bool,
    pub changes: Vec<Change>,
    /// Series present before but not after (interface deleted, CPU offlined).
    pub gone: Vec<Metric>,
}

impl<'a> Delta<'a> {
    pub fn between(from: &'a Snapshot, to: &'a Snapshot) -> Result<Delta<'a>, DeltaError> {
        let same_boot = match (&from.meta.boot_id, &to.meta.boot_id) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let interval_s = interval(from, to, same_boot);
        if interval_s.is_nan() || interval_s <= 0.0 {
            return Err(DeltaError::NotInOrder { interval_s });
        }
        let mut matched = vec![false; from.metrics.len()];
        let mut index = SeriesIndex::new(&from.metrics);
        let mut identities = Identities::of(from, to);
        let mut read_before: Option<foldhash::HashSet<&str>> = None;
        let changes = to
            .metrics
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let at = index.find(m, i).filter(|j| !matched[*j]);
                if let Some(j) = at {
                    matched[j] = true;
                }
                let prev = at.map(|j| from.metrics[j].value);
                let restarted = !same_boot || identities.changed(&m.labels);
                let mut c = change(m, prev, restarted, interval_s);
                if c.status == ChangeStatus::New
                    && same_boot
                    && read_before
                        .get_or_insert_with(|| {
                            from.metrics.iter().map(|m| m.name.as_str()).collect()
                        })
                        .contains(m.name.as_str())
                    && born_between(from, to, &m.labels)
                {
                    c.delta = Some(m.value);
                    c.rate = Some(m.value as f64 / interval_s);
                }
                c
            })
            .collect();
        let mut gone: Vec<Metric> = from
            .metrics
            .iter()
            .zip(&matched)
            .filter(|(_, m)| !**m)
            .map(|(p, _)| p.clone())
            .collect();
        gone.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        Ok(Delta {
            from,
            to,
            interval_s,
            same_boot,
            changes,
            gone,
        })
    }
}

/// Seconds between two snapshots: from uptime when both come from the same boot (it never
/// jumps), otherwise from the wall clock. A capture read twice has the same uptime in both:
/// the wall clock then measures the (empty) interval.
fn interval(from: &Snapshot, to: &Snapshot, same_boot: bool) -> f64 {
    let wall = (to.meta.time_unix_ms as f64 - from.meta.time_unix_ms as f64) / 1000.0;
    match (from.meta.uptime_s, to.meta.uptime_s) {
        (Some(a), Some(b)) if same_boot && b != a => b - a,
        (Some(a), Some(b)) if same_boot && b == a && wall > 0.0 => wall,
        (Some(_), Some(_)) if same_boot => 0.0,
        _ => wall,
    }
}

/// Whether the object a new series counts for (a qdisc, a filter, a device) came into being
/// between the snapshots, so that its counters started at zero after the first and their whole
/// value is the delta. Its source must have been read the first time (other series of the same
/// name were there: a collector that failed then gives no delta). A series keyed by CPU or by
/// queue of a device that existed before is not new: a CPU brought back online or a queue
/// re-enabled keeps counting from where it was.
fn born_between(from: &Snapshot, to: &Snapshot, labels: &Labels) -> bool {
    let dev_is_new = labels.get("dev").is_some_and(|d| {
        let key = format!("dev={d}");
        !from.identities.contains_key(&key) && to.identities.contains_key(&key)
    });
    dev_is_new || !(labels.contains_key("cpu") || labels.contains_key("queue"))
}

/// Whether a labelled thing was re-created between two snapshots (a device deleted and made
/// again under its name): its identity (`dev=eth0` -> ifindex) differs.
struct Identities<'a> {
    from: &'a Snapshot,
    to: &'a Snapshot,
    /// The label names identities are kept for (`dev`): only those are looked up.
    names: Vec<&'a str>,
    key: String,
}

impl<'a> Identities<'a> {
    fn of(from: &'a Snapshot, to: &'a Snapshot) -> Identities<'a> {
        let mut names: Vec<&str> = to
            .identities
            .keys()
            .filter_map(|k| k.split_once('=').map(|(n, _)| n))
            .collect();
        names.dedup();
        Identities {
            from,
            to,
            names,
            key: String::new(),
        }
    }

    fn changed(&mut self, labels: &Labels) -> bool {
        labels.iter().any(|(k, v)| {
            if !self.names.contains(&k.as_str()) {
                return false;
            }
            self.key.clear();
            self.key.push_str(k);
            self.key.push('=');
            self.key.push_str(v);
            matches!(
                (self.from.identities.get(&self.key), self.to.identities.get(&self.key)),
                (Some(a), Some(b)) if a != b
            )
        })
    }
}

/// One series' change. A counter that went down either wrapped (it was near the top of its
/// width and the wrapped distance is under half the range) or was reset; a reset gives no
/// delta rather than a guess.
pub fn change(m: &Metric, prev: Option<u64>, restarted: bool, interval_s: f64) -> Change {
    let (delta, status) = match (m.kind.width_bits(), prev) {
        (None, _) => (None, ChangeStatus::Level),
        (Some(_), None) => (None, ChangeStatus::New),
        (Some(_), Some(_)) if restarted => (None, ChangeStatus::Reset),
        (Some(bits), Some(p)) => counter_delta(p, m.value, bits),
    };
    Change {
        name: m.name.clone(),
        labels: m.labels.clone(),
        kind: m.kind,
        value: m.value,
        prev,
        delta,
        rate: delta.map(|d| d as f64 / interval_s),
        status,
    }
}

/// The increase of a `bits`-wide counter from `prev` to `now`.
pub fn counter_delta(prev: u64, now: u64, bits: u32) -> (Option<u64>, ChangeStatus) {
    if now >= prev {
        // A value beyond the counter's width cannot be a real reading of it.
        if bits < 64 && now >> bits != 0 {
            return (None, ChangeStatus::Reset);
        }
        return (Some(now - prev), ChangeStatus::Ok);
    }
    let range: u128 = 1u128 << bits;
    if u128::from(prev) >= range {
        return (None, ChangeStatus::Reset);
    }
    let wrapped = range - u128::from(prev) + u128::from(now);
    if wrapped < range / 2 {
        (Some(wrapped as u64), ChangeStatus::Wrapped)
    } else {
        (None, ChangeStatus::Reset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Meta, labels};

    fn snap(uptime: f64, boot: &str, metrics: &[(&str, &str, u64, Kind)]) -> Snapshot {
        let mut s = Snapshot::new(Meta {
            uptime_s: Some(uptime),
            boot_id: Some(boot.into()),
            ..Meta::default()
        });
        for (name, dev, value, kind) in metrics {
            s.metrics.push(Metric {
                name: name.to_string(),
                labels: labels([("dev", dev)]),
                value: *value,
                kind: *kind,
            });
        }
        s
    }

    #[test]
    fn plain_rate() {
        let a = snap(10.0, "b", &[("rx_packets", "eth0", 100, Kind::Counter64)]);
        let b = snap(12.0, "b", &[("rx_packets", "eth0", 300, Kind::Counter64)]);
        let d = Delta::between(&a, &b).unwrap();
        assert_eq!(d.changes[0].delta, Some(200));
        assert_eq!(d.changes[0].rate, Some(100.0));
        assert_eq!(d.changes[0].status, ChangeStatus::Ok);
    }

    #[test]
    fn a_qdisc_created_between_snapshots_counts_from_zero() {
        let q = labels([("dev", "veth0"), ("handle", "1:"), ("kind", "tbf")]);
        let root = labels([("dev", "veth0"), ("handle", "0:"), ("kind", "noqueue")]);
        let metric = |l: &Labels, v| Metric {
            name: "qdisc.drops".into(),
            labels: l.clone(),
            value: v,
            kind: Kind::Counter64,
        };
        let mut a = snap(10.0, "b", &[]);
        a.metrics.push(metric(&root, 0));
        let mut b = snap(14.0, "b", &[]);
        b.metrics.push(metric(&q, 895_000));
        let d = Delta::between(&a, &b).unwrap();
        assert_eq!(d.changes[0].status, ChangeStatus::New);
        assert_eq!(d.changes[0].delta, Some(895_000));
        assert_eq!(d.changes[0].rate, Some(223_750.0));

        // The qdisc collector failed the first time: no series of that name, so no delta.
        let a = snap(10.0, "b", &[("rx_packets", "eth0", 1, Kind::Counter64)]);
        let d = Delta::between(&a, &b).unwrap();
        assert_eq!(d.changes[0].delta, None);

        // A CPU's row that appears (brought back online) kept counting: no delta.
        let cpu = |v| Metric {
            name: "softnet.processed".into(),
            labels: labels([("cpu", "3")]),
            value: v,
            kind: Kind::Counter32,
        };
        let mut a = snap(10.0, "b", &[]);
        a.metrics.push(Metric {
            labels: labels([("cpu", "0")]),
            ..cpu(5)
        });
        let mut b = snap(14.0, "b", &[]);
        b.metrics.push(cpu(1_000_000));
        let d = Delta::between(&a, &b).unwrap();
        assert_eq!(d.changes[0].delta, None);
    }

    #[test]
    fn thirty_two_bit_wrap_is_counted_through_zero() {
        assert_eq!(
            counter_delta(0xffff_fff0, 0x10, 32),
            (Some(0x20), ChangeStatus::Wrapped)
        );
    }

    #[test]
    fn sixty_four_bit_wrap_is_counted_through_zero() {
        assert_eq!(
            counter_delta(u64::MAX - 4, 5, 64),
            (Some(10), ChangeStatus::Wrapped)
        );
    }

    #[test]
    fn a_drop_far_from_the_top_is_a_reset_not_a_huge_rate() {
        assert_eq!(
            counter_delta(1_000_000, 10, 64),
            (None, ChangeStatus::Reset)
        );
        assert_eq!(
            counter_delta(1_000_000, 10, 32),
            (None, ChangeStatus::Reset)
        );
        // A "32-bit" value above 2^32 means the source was misread or changed width.
        assert_eq!(counter_delta(5, 1 << 40, 32), (None, ChangeStatus::Reset));
    }

    #[test]
    fn recreated_interface_is_a_reset_even_when_the_value_grew() {
        let mut a = snap(1.0, "b", &[("rx_packets", "veth0", 10, Kind::Counter64)]);
        let mut b = snap(2.0, "b", &[("rx_packets", "veth0", 50, Kind::Counter64)]);
        a.identities.insert("dev=veth0".into(), "7".into());
        b.identities.insert("dev=veth0".into(), "9".into());
        let d = Delta::between(&a, &b).unwrap();
        assert_eq!(d.changes[0].status, ChangeStatus::Reset);
        assert_eq!(d.changes[0].rate, None);
    }

    #[test]
    fn other_boot_resets_everything_and_uses_wall_clock() {
        let mut a = snap(1000.0, "a", &[("rx_packets", "eth0", 10, Kind::Counter64)]);
        let mut b = snap(5.0, "b", &[("rx_packets", "eth0", 50, Kind::Counter64)]);
        a.meta.time_unix_ms = 1_000;
        b.meta.time_unix_ms = 3_000;
        let d = Delta::between(&a, &b).unwrap();
        assert!(!d.same_boot);
        assert_eq!(d.interval_s, 2.0);
        assert_eq!(d.changes[0].status, ChangeStatus::Reset);
    }

    #[test]
    fn a_wall_clock_jump_does_not_move_a_rate() {
        // NTP steps the clock back an hour, then forward a day, between samples 2 s apart.
        for jump_ms in [-3_600_000i64, 86_400_000] {
            let mut a = snap(100.0, "b", &[("rx_packets", "eth0", 0, Kind::Counter64)]);
            let mut b = snap(
                102.0,
                "b",
                &[("rx_packets", "eth0", 1_000, Kind::Counter64)],
            );
            a.meta.time_unix_ms = 1_800_000_000_000;
            b.meta.time_unix_ms = (1_800_000_002_000 + jump_ms) as u64;
            let d = Delta::between(&a, &b).unwrap();
            assert_eq!(d.interval_s, 2.0);
            assert_eq!(d.changes[0].rate, Some(500.0));
        }
        // Across a reboot only the wall clock is left; run backwards it is refused, clearly.
        let mut a = snap(1000.0, "a", &[]);
        let mut b = snap(5.0, "b", &[]);
        a.meta.time_unix_ms = 3_000;
        b.meta.time_unix_ms = 1_000;
        let e = Delta::between(&a, &b).unwrap_err();
        assert!(matches!(e, DeltaError::NotInOrder { .. }), "{e}");
    }

    #[test]
    fn vanished_and_new_series_are_reported() {
        let a = snap(1.0, "b", &[("rx_packets", "old", 1, Kind::Counter64)]);
        let b = snap(2.0, "b", &[("rx_packets", "new", 1, Kind::Counter64)]);
        let d = Delta::between(&a, &b).unwrap();
        assert_eq!(d.changes[0].status, ChangeStatus::New);
        assert_eq!(d.gone.len(), 1);
        assert_eq!(d.gone[0].labels["dev"], "old");
    }

    #[test]
    fn reversed_snapshots_are_refused() {
        let a = snap(2.0, "b", &[]);
        let b = snap(1.0, "b", &[]);
        assert!(Delta::between(&a, &b).is_err());
    }

    #[test]
    fn gauges_have_no_rate() {
        let a = snap(1.0, "b", &[("backlog", "eth0", 9, Kind::Gauge)]);
        let b = snap(2.0, "b", &[("backlog", "eth0", 3, Kind::Gauge)]);
        let d = Delta::between(&a, &b).unwrap();
        assert_eq!(d.changes[0].status, ChangeStatus::Level);
        assert_eq!(d.changes[0].rate, None);
    }

    /// For any pair of readings, the rate is never negative and never above what a counter of
    /// that width can count in the interval.
    #[test]
    fn rates_stay_within_the_counters_physical_range() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..100_000 {
            let bits = if next() % 2 == 0 { 32 } else { 64 };
            let mask = if bits == 32 {
                u32::MAX as u64
            } else {
                u64::MAX
            };
            let (a, b) = (next() & mask, next() & mask);
            if let (Some(d), _) = counter_delta(a, b, bits) {
                assert!(u128::from(d) < (1u128 << bits), "{a} -> {b} gave {d}");
            }
        }
    }
}
