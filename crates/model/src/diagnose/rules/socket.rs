//! rx.10: socket queues: accept queues, TCP receive memory, UDP buffers.

use super::finding;
use crate::diagnose::{Ctx, MIN_EVENTS};
use crate::findings::{Action, Confidence, Evidence, Finding, Severity};

/// rx.10: accept queues overflow.
pub(super) fn listen_overflow(ctx: &Ctx) -> Vec<Finding> {
    let (d, r) = ctx.sum("TcpExt.ListenOverflows");
    let (drops, dr) = ctx.sum("TcpExt.ListenDrops");
    let capped: Vec<_> = ctx
        .to()
        .sockets
        .iter()
        .filter(|s| s.state == "LISTEN" && s.send_q > 0 && s.recv_q >= s.send_q)
        .collect();
    // Never on a healthy host (the catalog's floor), and a listener at its cap right now is
    // a finding even before it overflows.
    if !Ctx::significant("TcpExt.ListenDrops", d.max(drops), r.max(dr), 0.0) && capped.is_empty() {
        return Vec::new();
    }
    let mut f = finding(
        "listen-overflow",
        "rx.10",
        if r >= 1.0 || !capped.is_empty() {
            Severity::Critical
        } else {
            Severity::Warning
        },
        format!(
            "accept queues overflow: {} connections/s dropped",
            r.max(dr).round()
        ),
    );
    f.evidence
        .push(Evidence::moved("TcpExt.ListenOverflows", "", d, r));
    f.evidence
        .push(Evidence::moved("TcpExt.ListenDrops", "", drops, dr));
    let somaxconn = ctx.setting("net.core.somaxconn").unwrap_or("?");
    for s in &capped {
        let who = s.owner();
        f.evidence.push(Evidence::value(
            "Recv-Q/Send-Q",
            format!("socket={}{who}", s.local),
            format!("{}/{} (accept queue full)", s.recv_q, s.send_q),
        ));
    }
    f.evidence
        .push(Evidence::value("net.core.somaxconn", "", somaxconn));
    f.cause = "the application accepts connections more slowly than they arrive, or its listen \
               backlog is too small; SYNs beyond the cap are dropped and clients retry after a second"
        .into();
    f.actions.push(Action::inspect("ss -lnt"));
    if let (Ok(cap), Some(s)) = (
        somaxconn.parse::<u64>(),
        capped
            .iter()
            .find(|s| s.send_q >= somaxconn.parse().unwrap_or(u64::MAX)),
    ) {
        f.actions.push(Action::sysctl(
            "net.core.somaxconn",
            &cap.to_string(),
            cap.saturating_mul(2),
            format!("{} asks for more than the cap allows", s.local),
        ));
    } else {
        f.actions.push(Action::inspect("raise the backlog passed to listen() in the application, and accept faster (more threads, SO_REUSEPORT)"));
    }
    f.confidence = if capped.is_empty() {
        Confidence::Medium
    } else {
        Confidence::High
    };
    vec![f]
}

/// rx.10: TCP receive queues pruned, collapsed or dropped under memory pressure.
pub(super) fn tcp_receive_pressure(ctx: &Ctx) -> Vec<Finding> {
    let segs = ctx.rate("Tcp.InSegs");
    let names = [
        "TcpExt.RcvPruned",
        "TcpExt.OfoPruned",
        "TcpExt.TCPRcvQDrop",
        "TcpExt.TCPBacklogDrop",
        "TcpExt.TCPZeroWindowDrop",
        "TcpExt.BeyondWindow",
        "TcpExt.PruneCalled",
        "TcpExt.TCPRcvCollapsed",
    ];
    let moved: Vec<(&str, u64, f64)> = names
        .iter()
        .map(|n| (*n, ctx.sum(n).0, ctx.sum(n).1))
        .filter(|(_, d, _)| *d > 0)
        .collect();
    let (d, r): (u64, f64) = moved
        .iter()
        .filter(|(n, _, _)| !n.ends_with("PruneCalled") && !n.ends_with("Collapsed"))
        .fold((0u64, 0.0), |a, m| (a.0.saturating_add(m.1), a.1 + m.2));
    let strain = moved.iter().map(|m| m.1).fold(0, u64::saturating_add);
    // Pruning and queue drops never happen on a healthy host (kernel-notes: five RcvPruned
    // were a socket in real trouble); pruning attempts alone need more.
    let lost = moved.iter().any(|(n, dd, rr)| {
        *dd > 0
            && n != &"TcpExt.PruneCalled"
            && n != &"TcpExt.TCPRcvCollapsed"
            && Ctx::significant(n, *dd, *rr, segs)
    });
    if !lost && strain < MIN_EVENTS {
        return Vec::new();
    }
    let mut f = finding(
        "tcp-receive-pressure",
        "rx.10",
        if d > 0 {
            Ctx::severity(r, segs)
        } else {
            Severity::Warning
        },
        "TCP receive queues are pruned or dropped for lack of buffer".into(),
    );
    f.loss = d > 0;
    for (n, dd, rr) in &moved {
        f.evidence.push(Evidence::moved(n, "", *dd, *rr));
    }
    let rmem = ctx.setting("net.ipv4.tcp_rmem").unwrap_or("?");
    f.evidence
        .push(Evidence::value("net.ipv4.tcp_rmem", "", rmem));
    f.cause =
        "data arrived for sockets whose receive buffer was full or shrinking (memory pressure, \
               a buffer pinned small with SO_RCVBUF, or a reader that stalls)"
            .into();
    f.actions.push(Action::inspect(
        "ss -tinm   (rb, the receive buffer, against r, what is queued)",
    ));
    f.actions
        .push(Action::inspect("sysctl net.ipv4.tcp_mem net.ipv4.tcp_rmem"));
    vec![f]
}

/// rx.10: UDP datagrams dropped because the socket's buffer was full.
pub(super) fn udp_receive_buffer(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, proto) in [("Udp.RcvbufErrors", "udp"), ("Udp6RcvbufErrors", "udp6")] {
        let (d, r) = ctx.sum(name);
        let traffic = ctx.rate("Udp.InDatagrams") + r;
        if !Ctx::significant(name, d, r, traffic) {
            continue;
        }
        let mut f = finding(
            "udp-receive-buffer",
            "rx.10",
            Ctx::severity(r, traffic),
            format!("UDP receive buffers are full: {r:.0} datagrams/s dropped"),
        );
        f.evidence.push(Evidence::moved(name, "", d, r));
        let rmem_max = ctx.setting("net.core.rmem_max").unwrap_or("?");
        for s in ctx
            .to()
            .sockets
            .iter()
            .filter(|s| s.proto == proto && s.skmem.get("drops").is_some_and(|d| *d > 0))
            .take(5)
        {
            let who = s.owner();
            f.evidence.push(Evidence::value(
                "skmem",
                format!("socket={}{who}", s.local),
                format!(
                    "queued {} of rcvbuf {}, drops {}",
                    s.skmem.get("rmem_alloc").unwrap_or(&0),
                    s.skmem.get("rcvbuf").unwrap_or(&0),
                    s.skmem.get("drops").unwrap_or(&0)
                ),
            ));
        }
        f.evidence
            .push(Evidence::value("net.core.rmem_max", "", rmem_max));
        f.cause =
            "the application reads more slowly than datagrams arrive, or its socket buffer is \
                   too small to ride out its pauses"
                .into();
        f.actions.push(Action::inspect("ss -uamp"));
        f.actions.push(Action::inspect("set SO_RCVBUF larger in the application (capped by net.core.rmem_max), or read from more threads"));
        if let Ok(m) = rmem_max.parse::<u64>()
            && m < 8 << 20
        {
            f.actions.push(Action::sysctl(
                "net.core.rmem_max",
                rmem_max,
                8u64 << 20,
                "lets the application ask for a larger SO_RCVBUF",
            ));
        }
        f.confidence = Confidence::High;
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::rules::testing::*;

    #[test]
    fn listen_overflow_names_the_capped_listener() {
        let l = SocketInfo {
            state: "LISTEN".into(),
            local: "10.0.0.1:80".into(),
            recv_q: 129,
            send_q: 128,
            ..SocketInfo::default()
        };
        let (a, b) = pair(
            &[
                ("TcpExt.ListenOverflows", NONE, 0, 50),
                ("TcpExt.ListenDrops", NONE, 0, 50),
            ],
            &[("net.core.somaxconn", "128")],
            vec![l],
        );
        let f = run(listen_overflow, &a, &b);
        assert_eq!(f[0].stage, "rx.10");
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.scope.contains("10.0.0.1:80"))
        );
        assert_eq!(
            f[0].actions[1].sysctl.as_deref(),
            Some("net.core.somaxconn")
        );
    }

    #[test]
    fn tcp_pruning_is_pressure_and_drops_are_loss() {
        let (a, b) = pair(
            &[
                ("Tcp.InSegs", NONE, 0, 10_000),
                ("TcpExt.PruneCalled", NONE, 0, 20),
                ("TcpExt.RcvPruned", NONE, 0, 50),
            ],
            &[("net.ipv4.tcp_rmem", "4096 131072 6291456")],
            vec![],
        );
        let f = run(tcp_receive_pressure, &a, &b);
        assert!(f[0].loss);
        let (a, b) = pair(
            &[
                ("Tcp.InSegs", NONE, 0, 10_000),
                ("TcpExt.TCPRcvCollapsed", NONE, 0, 200),
            ],
            &[],
            vec![],
        );
        assert!(!run(tcp_receive_pressure, &a, &b)[0].loss);
    }

    #[test]
    fn udp_rcvbuf_errors() {
        let (a, b) = pair(
            &[
                ("Udp.InDatagrams", NONE, 0, 100),
                ("Udp.RcvbufErrors", NONE, 0, 1_000),
            ],
            &[("net.core.rmem_max", "212992")],
            vec![],
        );
        let f = run(udp_receive_buffer, &a, &b);
        assert_eq!(f[0].stage, "rx.10");
        assert!(
            f[0].actions
                .iter()
                .any(|x| x.sysctl.as_deref() == Some("net.core.rmem_max"))
        );
    }
}
