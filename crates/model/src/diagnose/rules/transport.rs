//! rx.9: the transport protocols turning packets away.

use super::finding;
use crate::diagnose::Ctx;
use crate::findings::{Action, Confidence, Evidence, Finding, Severity};

/// rx.9: traffic to a port nobody listens on.
pub(super) fn closed_port(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    let udp_in = ctx.rate("Udp.InDatagrams") + ctx.rate("Udp.NoPorts") + ctx.rate("Udp.InErrors");
    for name in ["Udp.NoPorts", "Udp6NoPorts"] {
        let (d, r) = ctx.sum(name);
        if !Ctx::significant(name, d, r, udp_in) {
            continue;
        }
        let mut f = finding(
            "closed-port",
            "rx.9",
            Ctx::severity(r, udp_in),
            format!("UDP to closed ports: {r:.0} datagrams/s have no socket"),
        );
        f.evidence.push(Evidence::moved(name, "", d, r));
        f.cause =
            "datagrams for a port with no socket (service down, wrong port, or a reply arriving \
                   after its socket closed); the kernel answers ICMP port unreachable (NO_SOCKET)"
                .into();
        f.actions.push(Action::inspect("ss -ulpn"));
        f.actions.push(Action::inspect(
            "pktmap trace drops   (NO_SOCKET, with addresses)",
        ));
        f.confidence = Confidence::High;
        out.push(f);
    }
    let (rsts, rr) = ctx.sum("Tcp.OutRsts");
    let (fails, _) = ctx.sum("Tcp.AttemptFails");
    let segs = ctx.rate("Tcp.InSegs");
    if Ctx::significant("Tcp.OutRsts", rsts, rr, segs)
        && ctx
            .sum("Tcp.ActiveOpens")
            .0
            .saturating_add(ctx.sum("Tcp.PassiveOpens").0)
            < rsts
    {
        let mut f = finding(
            "closed-port",
            "rx.9",
            Severity::Warning,
            format!("TCP answers {rr:.0} resets/s: connections to closed ports"),
        );
        f.evidence
            .push(Evidence::moved("Tcp.OutRsts", "", rsts, rr));
        f.evidence.push(Evidence::moved(
            "Tcp.AttemptFails",
            "",
            fails,
            ctx.rate("Tcp.AttemptFails"),
        ));
        f.cause = "SYNs for a port with no listener are answered with a reset".into();
        f.actions.push(Action::inspect("ss -ltnp"));
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::rules::testing::*;

    #[test]
    fn closed_ports() {
        let (a, b) = pair(
            &[
                ("Udp.InDatagrams", NONE, 0, 100),
                ("Udp.NoPorts", NONE, 0, 900),
            ],
            &[],
            vec![],
        );
        assert_eq!(run(closed_port, &a, &b)[0].stage, "rx.9");
    }
}
