//! rx.7: programs hooked before the IP layer (tc ingress filters, XDP) that drop packets.

use super::finding;
use crate::diagnose::{Ctx, scope};
use crate::findings::{Action, Confidence, Evidence, Finding};

/// The counters of drops a program decided: the ingress qdisc's (a filter returned
/// TC_ACT_SHOT) and the driver's XDP drop class (XDP_DROP).
fn hooked(name: &str) -> Option<&'static str> {
    if name == "qdisc.ingress.drops" {
        Some("tc ingress")
    } else if name.starts_with("ethtool.xdp_drop.") {
        Some("XDP")
    } else {
        None
    }
}

/// rx.7: per device, what its ingress programs drop.
pub(super) fn program_drops(ctx: &Ctx) -> Vec<Finding> {
    let traffic = ctx.rx_traffic();
    let mut by_dev: Vec<(String, Vec<&crate::delta::Change>)> = Vec::new();
    for c in &ctx.delta.changes {
        let (Some(_), Some(d)) = (hooked(&c.name), c.delta) else {
            continue;
        };
        if !Ctx::significant(&c.name, d, c.rate.unwrap_or(0.0), traffic) {
            continue;
        }
        let dev = c.labels.get("dev").cloned().unwrap_or_default();
        match by_dev.iter_mut().find(|(d, _)| *d == dev) {
            Some((_, v)) => v.push(c),
            None => by_dev.push((dev, vec![c])),
        }
    }
    by_dev
        .into_iter()
        .map(|(dev, changes)| {
            let rate: f64 = changes.iter().filter_map(|c| c.rate).sum();
            let mut hooks: Vec<&str> = changes.iter().filter_map(|c| hooked(&c.name)).collect();
            hooks.dedup();
            let hooks = hooks.join(" and ");
            let mut f = finding(
                "program-drops",
                "rx.7",
                Ctx::severity(rate, traffic),
                format!("{dev}: a {hooks} program drops {rate:.0} packets/s"),
            );
            f.evidence = changes
                .iter()
                .map(|c| {
                    Evidence::moved(
                        &c.name,
                        scope(&c.labels),
                        c.delta.unwrap_or(0),
                        c.rate.unwrap_or(0.0),
                    )
                })
                .collect();
            f.cause = format!(
                "a program attached at {hooks} on {dev} returns drop for these packets; that is \
                 what a firewall or DDoS filter does on purpose, and a fault otherwise (a stale \
                 program, a map that lost its allow list)"
            );
            f.actions = vec![
                Action::inspect(format!("bpftool net show dev {dev}")),
                Action::inspect(format!("tc -s filter show dev {dev} ingress")),
                Action::inspect(format!("ip -d link show dev {dev}")),
                Action::inspect(format!(
                    "ip link set dev {dev} xdp off  /  tc filter del dev {dev} ingress \
                     (only if the program should not be there)"
                )),
            ];
            f.confidence = Confidence::High;
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::rules::testing::*;

    #[test]
    fn tc_and_xdp_drops_on_one_device_are_one_finding() {
        let ingress = &[("dev", "eth0"), ("kind", "clsact"), ("parent", "ingress")][..];
        let q0 = &[("dev", "eth0"), ("queue", "0")][..];
        let (a, b) = pair(
            &[
                ("rx_packets", ETH0, 0, 10_000),
                ("qdisc.ingress.drops", ingress, 0, 3_000),
                ("ethtool.xdp_drop.rx_queue_xdp_drops", q0, 0, 2_000),
            ],
            &[],
            vec![],
        );
        let f = run(program_drops, &a, &b);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].stage, "rx.7");
        assert!(f[0].title.contains("tc ingress and XDP"), "{}", f[0].title);
        assert_eq!(f[0].evidence.len(), 2);
        assert!(
            f[0].actions[0]
                .command
                .contains("bpftool net show dev eth0")
        );
    }

    #[test]
    fn a_quiet_hook_is_no_finding() {
        let ingress = &[("dev", "eth0"), ("kind", "clsact"), ("parent", "ingress")][..];
        let (a, b) = pair(
            &[
                ("rx_packets", ETH0, 0, 10_000),
                ("qdisc.ingress.drops", ingress, 5, 5),
            ],
            &[],
            vec![],
        );
        assert!(run(program_drops, &a, &b).is_empty());
    }
}
