//! rx.5: the per-CPU backlog and the softirq budget.

use super::finding;
use crate::diagnose::{Ctx, MIN_EVENTS};
use crate::findings::{Action, Confidence, Evidence, Finding, Severity};

/// rx.5: the per-CPU backlog overflowed (softnet dropped, CPU_BACKLOG).
pub(super) fn softirq_backlog(ctx: &Ctx) -> Vec<Finding> {
    let traffic = ctx.rate("softnet.processed").max(ctx.rx_traffic());
    let (d, r) = ctx.sum("softnet.dropped");
    if !Ctx::significant("softnet.dropped", d, r, traffic) {
        return Vec::new();
    }
    let mut f = finding(
        "softirq-backlog",
        "rx.5",
        Ctx::severity(r, traffic),
        format!("the per-CPU input backlog overflows ({r:.0} packets/s dropped)"),
    );
    f.evidence.extend(ctx.moved_evidence("softnet.dropped"));
    // Global: a container's namespace cannot see it.
    let current = ctx
        .setting("net.core.netdev_max_backlog")
        .unwrap_or("not visible here (global: read it in the host namespace)");
    f.evidence
        .push(Evidence::value("net.core.netdev_max_backlog", "", current));
    f.cause = "packets queued to a CPU's backlog (RPS, veth, non-NAPI drivers) faster than its \
               softirq drains them; on veth the sender also counts these as Ip.OutDiscards and \
               Udp.SndbufErrors"
        .into();
    let proposed = current
        .parse::<u64>()
        .map(|c| c.saturating_mul(4).max(4096))
        .unwrap_or(16384);
    f.actions.push(Action::sysctl(
        "net.core.netdev_max_backlog",
        current,
        proposed,
        "a longer backlog absorbs bursts; it is global, not per namespace",
    ));
    f.actions
        .push(Action::inspect("cat /proc/net/softnet_stat"));
    f.confidence = Confidence::High;
    vec![f]
}

/// rx.5: net_rx_action runs out of budget (time_squeeze), or one CPU does all the work.
/// Packets a second at which one CPU's receive processing is the limit to watch (a core
/// handles a few hundred thousand small packets a second in softirq).
const ONE_CPU_BUSY: f64 = 100_000.0;

pub(super) fn softirq_squeeze(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    let processed: Vec<(String, f64)> = ctx
        .changes("softnet.processed")
        .map(|c| {
            (
                c.labels.get("cpu").cloned().unwrap_or_default(),
                c.rate.unwrap_or(0.0),
            )
        })
        .collect();
    let total: f64 = processed.iter().map(|p| p.1).sum();
    let (d, r) = ctx.sum("softnet.time_squeeze");
    // Squeezes are frequent under load; sustained ones, or thousands since boot, matter.
    if d >= MIN_EVENTS && (r >= 1.0 || d >= 1000) {
        let mut f = finding(
            "softirq-squeeze",
            "rx.5",
            Severity::Warning,
            format!(
                "softirq ran out of budget {d} times on {} CPUs (time_squeeze, {r:.2}/s)",
                ctx.changes("softnet.time_squeeze")
                    .filter(|c| c.delta.is_some_and(|d| d > 0))
                    .count()
            ),
        );
        f.loss = false;
        f.evidence
            .extend(ctx.moved_evidence("softnet.time_squeeze"));
        let budget = ctx.setting("net.core.netdev_budget").unwrap_or("?");
        let usecs = ctx.setting("net.core.netdev_budget_usecs").unwrap_or("?");
        f.evidence
            .push(Evidence::value("net.core.netdev_budget", "", budget));
        f.evidence
            .push(Evidence::value("net.core.netdev_budget_usecs", "", usecs));
        f.cause =
            "a CPU has more receive work than one softirq round allows; packets wait for the \
                   next round, and when rings fill they are lost at rx.3"
                .into();
        if let Ok(b) = budget.parse::<u64>() {
            f.actions.push(Action::sysctl(
                "net.core.netdev_budget",
                budget,
                b.saturating_mul(2),
                "more packets per round",
            ));
        }
        if let Ok(u) = usecs.parse::<u64>() {
            f.actions.push(Action::sysctl(
                "net.core.netdev_budget_usecs",
                usecs,
                u.saturating_mul(2),
                "more time per round",
            ));
        }
        out.push(f);
    }
    // One CPU doing (almost) all of it while others exist: RSS, IRQ affinity or RPS layout.
    // It matters once that CPU strains (squeezed, its backlog dropping) or carries a rate at
    // which one CPU's softirq budget is the limit; a single-queue device at a modest rate is
    // not a finding.
    if processed.len() > 1 && total >= 10_000.0 {
        let (cpu, top) = processed
            .iter()
            .cloned()
            .fold((String::new(), 0.0), |a, b| if b.1 > a.1 { b } else { a });
        let moved_here = |name: &str| {
            ctx.changes(name)
                .any(|c| c.labels.get("cpu") == Some(&cpu) && c.delta.is_some_and(|d| d > 0))
        };
        let strained = top >= ONE_CPU_BUSY
            || moved_here("softnet.time_squeeze")
            || moved_here("softnet.dropped");
        if top / total >= 0.9 && strained {
            let mut f = finding(
                "softirq-squeeze",
                "rx.5",
                Severity::Warning,
                format!(
                    "cpu{cpu} does {:.0}% of the receive work",
                    100.0 * top / total
                ),
            );
            f.loss = false;
            f.evidence.push(Evidence::moved(
                "softnet.processed",
                format!("cpu={cpu}"),
                0,
                top,
            ));
            f.evidence.push(Evidence::value(
                "softnet.processed (all CPUs)",
                "",
                format!("{total:.0}/s"),
            ));
            f.cause =
                "receive processing is not spread: one queue, one interrupt CPU, or RPS off".into();
            f.actions
                .push(Action::inspect("grep -E 'TxRx|rx|input' /proc/interrupts"));
            f.actions.push(Action::inspect("pktmap audit"));
            f.confidence = Confidence::Medium;
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::rules::testing::*;

    #[test]
    fn backlog_drops_propose_a_longer_backlog() {
        let cpu = &[("cpu", "1")][..];
        let (a, b) = pair(
            &[
                ("softnet.processed", cpu, 0, 50_000),
                ("softnet.dropped", cpu, 0, 900),
            ],
            &[("net.core.netdev_max_backlog", "1000")],
            vec![],
        );
        let f = run(softirq_backlog, &a, &b);
        assert_eq!(f[0].stage, "rx.5");
        assert_eq!(f[0].actions[0].proposed.as_deref(), Some("4096"));
        assert_eq!(
            f[0].actions[0].sysctl.as_deref(),
            Some("net.core.netdev_max_backlog")
        );
    }

    #[test]
    fn squeeze_and_one_cpu_doing_everything() {
        let (c0, c1) = (&[("cpu", "0")][..], &[("cpu", "1")][..]);
        let (a, b) = pair(
            &[
                ("softnet.processed", c0, 0, 100_000),
                ("softnet.processed", c1, 0, 100),
                ("softnet.time_squeeze", c0, 0, 40),
            ],
            &[
                ("net.core.netdev_budget", "300"),
                ("net.core.netdev_budget_usecs", "2000"),
            ],
            vec![],
        );
        let f = run(softirq_squeeze, &a, &b);
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| !f.loss));
        assert!(
            f[0].actions
                .iter()
                .any(|x| x.proposed.as_deref() == Some("600"))
        );
        assert!(f[1].title.contains("cpu0"));
        // 20,000 packets a second on one CPU of two, nothing squeezed or dropped: not a finding.
        let (a, b) = pair(
            &[
                ("softnet.processed", c0, 0, 20_000),
                ("softnet.processed", c1, 0, 100),
                ("softnet.time_squeeze", c0, 0, 0),
            ],
            &[],
            vec![],
        );
        assert!(run(softirq_squeeze, &a, &b).is_empty());
    }
}
