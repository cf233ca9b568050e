//! tx.1, tx.3 and tx.4: what the socket, the qdisc and the driver drop on the way out.

use super::finding;
use crate::diagnose::{Ctx, scope};
use crate::findings::{Action, Confidence, Evidence, Finding};

/// tx.1: UDP sends refused for lack of send buffer, beyond what a qdisc's drops account for
/// (those echo here as ENOBUFS and are the qdisc's finding).
pub(super) fn send_buffer(ctx: &Ctx) -> Vec<Finding> {
    let lines: Vec<_> = ["Udp.SndbufErrors", "Udp6SndbufErrors"]
        .into_iter()
        .filter_map(|n| ctx.ledger.line(n, &crate::snapshot::Labels::new()))
        .filter(|c| c.above_floor && c.own_delta().is_some_and(|d| d > 0))
        .collect();
    let Some(first) = lines.first() else {
        return Vec::new();
    };
    let rate: f64 = lines.iter().filter_map(|c| c.own_rate()).sum();
    let sent = ctx.rate("Udp.OutDatagrams");
    let mut f = finding(
        "send-buffer",
        "tx.1",
        Ctx::severity(rate, sent + rate),
        format!("{rate:.0} UDP sends/s are refused: the socket's send buffer is full"),
    );
    f.evidence = lines.iter().map(|c| c.own_evidence()).collect();
    f.evidence
        .push(Evidence::moved("Udp.OutDatagrams", "host", 0, sent));
    for q in ctx
        .to()
        .metrics
        .iter()
        .filter(|m| m.name == "qdisc.backlog" && m.value > 0)
    {
        f.evidence.push(Evidence::value(
            "qdisc.backlog",
            scope(&q.labels),
            q.value.to_string(),
        ));
    }
    f.cause = "the application writes faster than its packets leave: each datagram holds \
               send buffer until the device takes it, so a slow qdisc (a shaper) or device \
               below keeps the buffer full and sends fail with EAGAIN or ENOBUFS; a blocking \
               socket would wait instead"
        .into();
    f.actions.push(Action::inspect(
        "ss -uamp  (skmem: w = bytes held, tb = the buffer)",
    ));
    f.actions.push(Action::inspect(
        "tc -s qdisc show  (a backlog here holds the buffer)",
    ));
    if let Some(cur) = ctx.setting("net.core.wmem_default") {
        f.actions.push(Action::sysctl(
            "net.core.wmem_default",
            cur,
            cur.parse::<u64>().map_or(0, |v| v * 4),
            "a larger default send buffer for sockets that do not set SO_SNDBUF",
        ));
    }
    f.confidence = if first.included > 0 {
        Confidence::Medium
    } else {
        Confidence::High
    };
    vec![f]
}

/// tx.3: qdiscs drop.
pub(super) fn qdisc_drops(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in ctx.changes("qdisc.drops") {
        let (d, r) = (c.delta.unwrap_or(0), c.rate.unwrap_or(0.0));
        let sent = ctx.rate_at("qdisc.packets", &c.labels);
        if !Ctx::significant("qdisc.drops", d, r, sent + r) {
            continue;
        }
        let dev = c.labels.get("dev").cloned().unwrap_or_default();
        let kind = c.labels.get("kind").cloned().unwrap_or_default();
        let mut f = finding(
            "qdisc-drops",
            "tx.3",
            Ctx::severity(r, sent + r),
            format!("{dev}: the {kind} qdisc drops {r:.0} packets/s"),
        );
        f.evidence
            .push(Evidence::moved("qdisc.drops", scope(&c.labels), d, r));
        if let Some(o) = ctx
            .changes("qdisc.overlimits")
            .find(|o| o.labels == c.labels)
        {
            f.evidence.push(Evidence::moved(
                "qdisc.overlimits",
                scope(&o.labels),
                o.delta.unwrap_or(0),
                o.rate.unwrap_or(0.0),
            ));
        }
        f.evidence
            .push(Evidence::moved("qdisc.packets", scope(&c.labels), 0, sent));
        f.cause =
            "more is sent than the qdisc lets through: its rate limit (tbf, htb) or its queue \
                   limit is reached; senders also count these as Ip.OutDiscards / Udp.SndbufErrors"
                .into();
        f.actions
            .push(Action::inspect(format!("tc -s qdisc show dev {dev}")));
        f.actions.push(Action::inspect(format!("tc qdisc change dev {dev} root {kind} ... (a higher rate or limit, if the shaping is not intended)")));
        f.confidence = Confidence::High;
        out.push(f);
    }
    out
}

/// tx.4: the driver drops or pushes back on transmit.
pub(super) fn tx_ring(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    let traffic = ctx.rate("tx_packets");
    for c in ctx.changes("tx_dropped") {
        let (d, r) = (c.delta.unwrap_or(0), c.rate.unwrap_or(0.0));
        if !Ctx::significant("tx_dropped", d, r, traffic) {
            continue;
        }
        let dev = c.labels.get("dev").cloned().unwrap_or_default();
        let mut f = finding(
            "tx-ring",
            "tx.4",
            Ctx::severity(r, traffic),
            format!("{dev}: the driver drops {r:.0} packets/s on transmit"),
        );
        f.evidence
            .push(Evidence::moved("tx_dropped", scope(&c.labels), d, r));
        f.cause = "the TX ring was full or the driver had no memory for the packet".into();
        f.actions.push(Action::inspect(format!("ethtool -g {dev}")));
        f.actions
            .push(Action::inspect(format!("ethtool -S {dev} | grep -i tx")));
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::rules::testing::*;

    #[test]
    fn qdisc_drops_and_tx_ring() {
        let q = &[("dev", "eth0"), ("kind", "tbf"), ("parent", "root")][..];
        let (a, b) = pair(
            &[
                ("qdisc.packets", q, 0, 1_000),
                ("qdisc.drops", q, 0, 9_000),
                ("tx_packets", ETH0, 0, 1_000),
                ("tx_dropped", ETH0, 0, 100),
            ],
            &[],
            vec![],
        );
        assert_eq!(run(qdisc_drops, &a, &b)[0].stage, "tx.3");
        assert_eq!(run(tx_ring, &a, &b)[0].stage, "tx.4");
    }

    #[test]
    fn send_buffer_errors_are_tx1_unless_a_qdisc_dropped_them() {
        let q = &[("dev", "eth0"), ("kind", "tbf"), ("parent", "root")][..];
        let own = pair(
            &[
                ("Udp.OutDatagrams", NONE, 0, 1_000),
                ("Udp.SndbufErrors", NONE, 0, 4_000),
            ],
            &[("net.core.wmem_default", "212992")],
            vec![],
        );
        let f = run(send_buffer, &own.0, &own.1);
        assert_eq!(f[0].stage, "tx.1");
        assert!(f[0].actions.iter().any(|a| a.command.contains("851968")));
        let echo = pair(
            &[
                ("Udp.OutDatagrams", NONE, 0, 1_000),
                ("Udp.SndbufErrors", NONE, 0, 4_000),
                ("qdisc.drops", q, 0, 4_000),
            ],
            &[],
            vec![],
        );
        assert!(run(send_buffer, &echo.0, &echo.1).is_empty());
    }
}
