//! rx.1 and rx.3: what the card and its rings lose.

use super::finding;
use crate::diagnose::{Ctx, scope};
use crate::findings::{Action, Confidence, Evidence, Finding};
use crate::snapshot::labels;

/// rx.3: the card had nowhere to put frames (missed, fifo, over, and the driver's drop,
/// miss, no-buffer and fifo counters).
pub(super) fn nic_ring(ctx: &Ctx) -> Vec<Finding> {
    use std::collections::BTreeMap;
    let mut out = Vec::new();
    let traffic = ctx.rate("rx_packets");
    let mut by_dev: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
    // Per device and counter name: per-queue driver counters add up.
    let mut sums: BTreeMap<(String, String), (u64, f64)> = BTreeMap::new();
    for c in ctx
        .delta
        .changes
        .iter()
        .filter(|c| c.delta.is_some_and(|d| d > 0))
    {
        let ring = matches!(
            c.name.as_str(),
            "rx_missed_errors" | "rx_fifo_errors" | "rx_over_errors"
        ) || [
            "ethtool.miss.",
            "ethtool.nobuf.",
            "ethtool.fifo.",
            "ethtool.drop.",
        ]
        .iter()
        .any(|p| c.name.starts_with(p));
        let Some(dev) = c.labels.get("dev").filter(|_| ring) else {
            continue;
        };
        by_dev.entry(dev.clone()).or_default().push(Evidence::moved(
            &c.name,
            scope(&c.labels),
            c.delta.unwrap_or(0),
            c.rate.unwrap_or(0.0),
        ));
        let e = sums.entry((dev.clone(), c.name.clone())).or_default();
        e.0 = e.0.saturating_add(c.delta.unwrap_or(0));
        e.1 += c.rate.unwrap_or(0.0);
    }
    for (dev, evidence) in by_dev {
        // The kernel's counter and a driver's may count the same frames: take the largest.
        let (d, r) = sums
            .iter()
            .filter(|((dv, _), _)| *dv == dev)
            .map(|(_, v)| *v)
            .fold((0u64, 0.0f64), |a, v| (a.0.max(v.0), a.1.max(v.1)));
        if !Ctx::significant("rx_missed_errors", d, r, traffic) {
            continue;
        }
        let l = labels([("dev", dev.as_str())]);
        let mut f = finding(
            "nic-ring",
            "rx.3",
            Ctx::severity(r, traffic),
            format!("{dev}: the RX ring overflows ({d} frames lost, {r:.1}/s)"),
        );
        f.evidence = evidence;
        f.cause =
            "frames arrive faster than the driver hands descriptors back: the ring is too small \
                   for the bursts, or the CPU serving the queue's interrupt is busy"
                .into();
        f.actions.push(Action::inspect(format!(
            "ethtool -S {dev} | grep -iE 'drop|discard|miss|fifo|no_buf'"
        )));
        if let Some(ring) = ctx.setting_for("ethtool.ring.rx", &l) {
            f.evidence.push(Evidence::value(
                "ethtool.ring.rx",
                format!("dev={dev}"),
                ring,
            ));
            if let Some((cur, max)) = parse_ring(ring).filter(|(c, m)| c < m) {
                f.actions.push(Action::change(
                    format!("ethtool -G {dev} rx {max}"),
                    cur,
                    max,
                    "a bigger ring absorbs longer bursts",
                ));
            }
        }
        f.actions
            .push(Action::inspect(format!("grep {dev} /proc/interrupts")));
        f.confidence = Confidence::High;
        out.push(f);
    }
    out
}

/// `2048 (max 4096)` -> (2048, 4096).
pub fn parse_ring(v: &str) -> Option<(u64, u64)> {
    let (cur, rest) = v.split_once(" (max ")?;
    Some((
        cur.trim().parse().ok()?,
        rest.trim_end_matches(')').parse().ok()?,
    ))
}

/// rx.1: frames rejected by the card (CRC, frame, length errors).
pub(super) fn nic_errors(ctx: &Ctx) -> Vec<Finding> {
    let traffic = ctx.rate("rx_packets");
    let mut out = Vec::new();
    for name in ["rx_crc_errors", "rx_frame_errors", "rx_length_errors"] {
        for c in ctx.changes(name) {
            let (d, r) = (c.delta.unwrap_or(0), c.rate.unwrap_or(0.0));
            if !Ctx::significant(name, d, r, traffic) {
                continue;
            }
            let dev = c.labels.get("dev").cloned().unwrap_or_default();
            let mut f = finding(
                "nic-errors",
                "rx.1",
                Ctx::severity(r, traffic),
                format!("{dev}: the card rejects damaged frames ({name})"),
            );
            f.evidence
                .push(Evidence::moved(name, scope(&c.labels), d, r));
            f.cause =
                "frames arrive corrupted: a cable, optic, transceiver or switch port problem, \
                       or a duplex/speed mismatch; no setting on this host fixes it"
                    .into();
            f.actions.push(Action::inspect(format!("ethtool {dev}")));
            f.actions.push(Action::inspect(format!(
                "ethtool -S {dev} | grep -iE 'crc|err'"
            )));
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::rules::testing::*;
    use crate::findings::Severity;

    #[test]
    fn nic_ring_needs_losses_that_matter_and_proposes_the_max_ring() {
        let (a, mut b) = pair(
            &[
                ("rx_packets", ETH0, 0, 100_000),
                ("rx_missed_errors", ETH0, 0, 5_000),
            ],
            &[],
            vec![],
        );
        b.settings.push(Setting {
            name: "ethtool.ring.rx".into(),
            labels: labels([("dev", "eth0")]),
            value: "256 (max 4096)".into(),
        });
        let f = run(nic_ring, &a, &b);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].stage, f[0].severity), ("rx.3", Severity::Critical));
        assert!(
            f[0].actions
                .iter()
                .any(|x| x.command == "ethtool -G eth0 rx 4096")
        );
        let (a, b) = pair(
            &[
                ("rx_packets", ETH0, 0, 10_000_000),
                ("rx_missed_errors", ETH0, 0, 5),
            ],
            &[],
            vec![],
        );
        // A ring never misses frames on a healthy host: five are a finding, a warning.
        let f = run(nic_ring, &a, &b);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Warning);
        let (a, b) = pair(&[("rx_packets", ETH0, 0, 10_000_000)], &[], vec![]);
        assert!(run(nic_ring, &a, &b).is_empty());
    }

    #[test]
    fn nic_errors_point_at_the_wire() {
        let (a, b) = pair(
            &[
                ("rx_packets", ETH0, 0, 10_000),
                ("rx_crc_errors", ETH0, 0, 50),
            ],
            &[],
            vec![],
        );
        let f = run(nic_errors, &a, &b);
        assert_eq!(f[0].stage, "rx.1");
        assert!(f[0].cause.contains("cable"));
    }
}
