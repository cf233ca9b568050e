//! The article's second scenario: delay cut into network (retransmits, RTT), host (CPU, queues) and application (a reader that lags).

use super::finding;
use crate::diagnose::{Ctx, MIN_EVENTS, scope};
use crate::findings::{Action, Confidence, Evidence, Finding, Severity};

/// Retransmitted segments the receiver already had: it reported them as duplicates
/// (D-SACK; `TCPDSACKRecvSegs` since 5.x, `TCPDSACKRecv` blocks before), or they were sent
/// while the original was still in this host's queues. Reordering, not loss (kernel-notes:
/// bulk TCP over a veth retransmits 1.2% this way with nothing dropped).
pub(super) const SPURIOUS: &[&str] =
    &["TcpExt.TCPDSACKRecvSegs", "TcpExt.TCPSpuriousRtxHostQueues"];

/// rx.9 (latency): retransmissions and timeouts against what is sent, net of the spurious
/// ones, which are reported as reordering.
pub(super) fn retransmits(ctx: &Ctx) -> Vec<Finding> {
    let (d, r) = ctx.sum("Tcp.RetransSegs");
    let out_segs = ctx.rate("Tcp.OutSegs");
    let (t, tr) = ctx.sum("TcpExt.TCPTimeouts");
    if d < MIN_EVENTS || out_segs <= 0.0 {
        return Vec::new();
    }
    let dsack = if ctx.changes(SPURIOUS[0]).next().is_some() {
        ctx.sum(SPURIOUS[0]).0
    } else {
        ctx.sum("TcpExt.TCPDSACKRecv").0
    };
    let spurious = dsack.saturating_add(ctx.sum(SPURIOUS[1]).0).min(d);
    let net = d - spurious;
    let net_rate = r * net as f64 / d as f64;
    let spurious_rate = r - net_rate;
    let mut out = Vec::new();
    if spurious >= MIN_EVENTS && spurious_rate / out_segs >= 0.01 {
        let mut f = finding(
            "reordering",
            "rx.9",
            Severity::Info,
            format!(
                "{:.1}% of TCP segments are sent again needlessly: the receiver already had them",
                100.0 * spurious_rate / out_segs
            ),
        );
        f.loss = false;
        f.evidence
            .push(Evidence::moved("Tcp.RetransSegs", "", d, r));
        for n in SPURIOUS.iter().chain(&[
            "TcpExt.TCPDSACKRecv",
            "TcpExt.TCPDSACKUndo",
            "TcpExt.TCPSACKReorder",
        ]) {
            let (dd, rr) = ctx.sum(n);
            if dd > 0 {
                f.evidence.push(Evidence::moved(n, "", dd, rr));
            }
        }
        f.cause = "segments arrived out of order (or late), so the sender sent again what was \
                   not lost; the receiver's duplicate reports (D-SACK) prove it. It costs a \
                   little bandwidth and a moment of a smaller window; nothing is dropped"
            .into();
        f.actions.push(Action::inspect(
            "nstat -az TcpExt.TCPDSACKRecvSegs TcpExt.TCPSACKReorder Tcp.RetransSegs",
        ));
        f.actions.push(Action::inspect(
            "sysctl net.ipv4.tcp_reordering net.ipv4.tcp_recovery",
        ));
        out.push(f);
    }
    if net < MIN_EVENTS || net_rate / out_segs < 0.01 {
        return out;
    }
    let mut f = finding(
        "retransmits",
        "rx.9",
        if net_rate / out_segs >= 0.05 {
            Severity::Critical
        } else {
            Severity::Warning
        },
        format!(
            "{:.1}% of TCP segments are sent again",
            100.0 * net_rate / out_segs
        ),
    );
    f.loss = false;
    f.evidence
        .push(Evidence::moved("Tcp.RetransSegs", "", d, r));
    if spurious > 0 {
        f.evidence.push(Evidence::value(
            "spurious (the receiver had them)",
            "",
            format!("{spurious}, not counted in the share"),
        ));
    }
    f.evidence.push(Evidence::moved(
        "Tcp.OutSegs",
        "",
        ctx.sum("Tcp.OutSegs").0,
        out_segs,
    ));
    f.evidence
        .push(Evidence::moved("TcpExt.TCPTimeouts", "", t, tr));
    for s in ctx
        .to()
        .sockets
        .iter()
        .filter(|s| s.why.iter().any(|w| w == "retrans"))
        .take(3)
    {
        let ti = &s.tcp_info;
        f.evidence.push(Evidence::value(
            "tcp_info",
            format!("socket={} -> {}", s.local, s.remote),
            format!(
                "rtt {} us, rttvar {} us, total_retrans {}",
                ti.get("rtt").unwrap_or(&0),
                ti.get("rttvar").unwrap_or(&0),
                ti.get("total_retrans").unwrap_or(&0)
            ),
        ));
    }
    f.cause = "the network is losing segments (or the peer's stack drops them): latency grows by an \
               RTT per fast retransmit and by a whole RTO per timeout. This is the network, not the host"
        .into();
    f.actions.push(Action::inspect(
        "ss -ti   (retrans, rtt, cwnd per connection)",
    ));
    f.actions.push(Action::inspect(
        "mtr or ping the peers to find the lossy hop",
    ));
    out.push(f);
    out
}

/// rx.9 (latency): connections whose smoothed RTT is far above the lowest this connection
/// has seen (its path baseline): queueing somewhere, in this host or on the path.
pub(super) fn rtt_inflation(ctx: &Ctx) -> Vec<Finding> {
    let inflated: Vec<_> = ctx
        .to()
        .sockets
        .iter()
        .filter(|s| s.state == "ESTABLISHED")
        .filter_map(|s| {
            let rtt = *s.tcp_info.get("rtt")?;
            let min = *s.tcp_info.get("min_rtt")?;
            (min > 0 && rtt >= 1_000 && rtt >= min.saturating_mul(4)).then_some((s, rtt, min))
        })
        .collect();
    if inflated.is_empty() {
        return Vec::new();
    }
    let mut f = finding(
        "rtt-inflation",
        "rx.9",
        Severity::Warning,
        format!(
            "{} connections see RTTs 4x their path's baseline",
            inflated.len()
        ),
    );
    f.loss = false;
    for (s, rtt, min) in inflated.iter().take(5) {
        f.evidence.push(Evidence::value(
            "tcp_info.rtt / min_rtt",
            format!("socket={} -> {}", s.local, s.remote),
            format!(
                "{rtt} us / {min} us, rttvar {} us",
                s.tcp_info.get("rttvar").unwrap_or(&0)
            ),
        ));
    }
    f.cause = "segments wait in a queue: a qdisc or TX ring on this host (see tx.3, tx.4), a slow \
               reader on the peer, or a congested link on the path (compare with ping's RTT)"
        .into();
    f.actions.push(Action::inspect(
        "ss -ti   (rtt, minrtt, rttvar per connection)",
    ));
    f.actions
        .push(Action::inspect("tc -s qdisc   (a standing backlog here)"));
    vec![f]
}

/// rx.11 (latency): data delivered but not read; the application, not the network.
pub(super) fn slow_reader(ctx: &Ctx) -> Vec<Finding> {
    let lagging: Vec<_> = ctx
        .to()
        .sockets
        .iter()
        .filter(|s| s.state != "LISTEN" && s.why.iter().any(|w| w == "recvq"))
        // Unread data filling at least half the buffer's memory (truesize, not just payload):
        // the window is closing because the reader lags. A bulk transfer's reader that keeps
        // up also holds hundreds of KiB at any instant, in a buffer autotuned far larger.
        .filter(|s| {
            let used = s.skmem.get("rmem_alloc").copied().unwrap_or(0);
            let buf = s.skmem.get("rcvbuf").copied().unwrap_or(0);
            buf > 0 && used.saturating_mul(2) >= buf
        })
        .collect();
    if lagging.is_empty() {
        return Vec::new();
    }
    let mut f = finding(
        "slow-reader",
        "rx.11",
        Severity::Warning,
        format!(
            "{} sockets hold data their application has not read",
            lagging.len()
        ),
    );
    f.loss = false;
    for s in lagging.iter().take(5) {
        let who = s.owner();
        f.evidence.push(Evidence::value(
            "Recv-Q",
            format!("socket={} {}{who}", s.local, s.proto),
            format!(
                "{} bytes unread, buffer memory {} of rcvbuf {}",
                s.recv_q,
                s.skmem.get("rmem_alloc").unwrap_or(&0),
                s.skmem.get("rcvbuf").unwrap_or(&0)
            ),
        ));
    }
    let psi = ctx.rate("psi.cpu.some_us") / 1e6;
    f.evidence.push(Evidence::value(
        "/proc/pressure/cpu some",
        "",
        format!("{:.1}% of the time", psi * 100.0),
    ));
    f.cause = if psi >= 0.1 {
        "the kernel delivered the data but the application is not running often enough to read it: \
         the CPUs are contended (CPU pressure is high). Host, not network"
            .into()
    } else {
        "the kernel delivered the data but the application does not read it: too few threads, a \
         blocking call or a lock. Host (application), not network"
            .into()
    };
    f.actions.push(Action::inspect("ss -tnp | awk '$2 > 0'"));
    f.actions.push(Action::inspect(
        "perf sched latency, or runqlat, for the reader's run-queue delay",
    ));
    vec![f]
}

/// tx.1 (latency): this host's connections are held back by the peer's receive window: the
/// reader on the other side is slow (kernel-notes: flow control hides a small receive buffer,
/// no drop appears anywhere).
pub(super) fn receive_window(ctx: &Ctx) -> Vec<Finding> {
    let limited: Vec<_> = ctx
        .to()
        .sockets
        .iter()
        .filter(|s| s.state == "ESTABLISHED")
        .filter_map(|s| {
            let busy = *s.tcp_info.get("busy_time")?;
            let rwnd = *s.tcp_info.get("rwnd_limited")?;
            (busy >= 100_000 && rwnd.saturating_mul(2) >= busy)
                .then(|| (s, (u128::from(rwnd) * 100 / u128::from(busy)) as u64))
        })
        .collect();
    if limited.is_empty() {
        return Vec::new();
    }
    let mut f = finding(
        "receive-window",
        "tx.1",
        Severity::Warning,
        format!(
            "{} connections wait for the peer's receive window",
            limited.len()
        ),
    );
    f.loss = false;
    for (s, pct) in limited.iter().take(5) {
        f.evidence.push(Evidence::value(
            "tcp_info.rwnd_limited",
            format!("socket={} -> {}", s.local, s.remote),
            format!(
                "{pct}% of busy time, snd_wnd {}",
                s.tcp_info.get("snd_wnd").unwrap_or(&0)
            ),
        ));
    }
    f.cause = "the receiver does not read fast enough (or its buffer is small), so it advertises a                small window and this sender waits: the application on the other side, not the network"
        .into();
    f.actions
        .push(Action::inspect("ss -ti   (rwnd_limited, snd_wnd)"));
    f.actions.push(Action::inspect(
        "on the peer: pktmap diagnose (Recv-Q of the reading socket)",
    ));
    vec![f]
}

/// tx.3 (latency): packets wait in a qdisc.
pub(super) fn qdisc_backlog(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    let qlen = |labels: &crate::snapshot::Labels| {
        ctx.to()
            .metrics
            .iter()
            .find(|q| q.name == "qdisc.qlen" && &q.labels == labels)
            .map_or(0, |q| q.value)
    };
    // A standing queue: 16 KiB or 100 packets is milliseconds to seconds at shaped rates.
    for m in
        ctx.to().metrics.iter().filter(|m| {
            m.name == "qdisc.backlog" && (m.value >= 16 * 1024 || qlen(&m.labels) >= 100)
        })
    {
        let dev = m.labels.get("dev").cloned().unwrap_or_default();
        let packets = qlen(&m.labels);
        let mut f = finding(
            "qdisc-backlog",
            "tx.3",
            Severity::Warning,
            format!(
                "{dev}: {packets} packets ({} bytes) wait in the qdisc",
                m.value
            ),
        );
        f.loss = false;
        f.evidence
            .push(Evidence::value("qdisc.backlog", scope(&m.labels), m.value));
        f.evidence
            .push(Evidence::value("qdisc.qlen", scope(&m.labels), packets));
        f.cause =
            "the device sends more slowly than the host queues: every packet waits behind the \
                   backlog (bufferbloat); a shaper's rate or a slow link"
                .into();
        f.actions
            .push(Action::inspect(format!("tc -s qdisc show dev {dev}")));
        f.actions.push(Action::inspect(format!(
            "tc qdisc replace dev {dev} root fq_codel   (if a plain FIFO holds the backlog)"
        )));
        out.push(f);
    }
    out
}

/// rx.11 (latency): tasks wait for a CPU.
pub(super) fn cpu_pressure(ctx: &Ctx) -> Vec<Finding> {
    let share = ctx.rate("psi.cpu.some_us") / 1e6;
    if share < 0.2 {
        return Vec::new();
    }
    let mut f = finding(
        "cpu-pressure",
        "rx.11",
        if share >= 0.5 {
            Severity::Critical
        } else {
            Severity::Warning
        },
        format!("tasks waited for a CPU {:.0}% of the time", share * 100.0),
    );
    f.loss = false;
    f.evidence.push(Evidence::moved(
        "psi.cpu.some_us",
        "",
        ctx.sum("psi.cpu.some_us").0,
        ctx.rate("psi.cpu.some_us"),
    ));
    for c in ctx
        .changes("ksoftirqd.cpu_ms")
        .filter(|c| c.rate.is_some_and(|r| r >= 100.0))
    {
        f.evidence.push(Evidence::moved(
            "ksoftirqd.cpu_ms",
            scope(&c.labels),
            c.delta.unwrap_or(0),
            c.rate.unwrap_or(0.0),
        ));
    }
    f.cause = "the CPUs are oversubscribed: readers run late, so replies are late even when the \
               network is fine"
        .into();
    f.actions
        .push(Action::inspect("top, or perf sched latency"));
    vec![f]
}

/// rx.11 (latency): deep idle states whose exit latency every wake-up pays.
pub(super) fn c_states(ctx: &Ctx) -> Vec<Finding> {
    let deep: Vec<&str> = ctx
        .to()
        .settings
        .iter()
        .filter(|s| s.name == "cpuidle.state" && !s.value.contains("disabled"))
        .filter(|s| {
            s.value
                .split_whitespace()
                .find_map(|w| w.strip_suffix("us")?.parse::<u64>().ok())
                .is_some_and(|us| us >= 100)
        })
        .map(|s| s.value.as_str())
        .collect();
    if deep.is_empty() {
        return Vec::new();
    }
    let mut f = finding(
        "c-states",
        "rx.11",
        Severity::Info,
        format!(
            "{} deep idle states take 100 us or more to leave",
            deep.len()
        ),
    );
    f.loss = false;
    for d in &deep {
        f.evidence.push(Evidence::value("cpuidle.state", "cpu0", d));
    }
    f.cause =
        "a packet that finds its CPU in a deep C-state waits for it to wake: periodic latency \
               spikes on lightly loaded hosts"
            .into();
    f.actions.push(Action::inspect("cpupower idle-info"));
    f.actions.push(Action::inspect("cpupower idle-set -D 100   (disable states above 100 us, if latency matters more than power)"));
    f.confidence = Confidence::Low;
    vec![f]
}

/// tx.4: the driver pushes packets back to the qdisc (TX ring full).
pub(super) fn requeues(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in ctx.changes("qdisc.requeues") {
        let (d, r) = (c.delta.unwrap_or(0), c.rate.unwrap_or(0.0));
        let sent = ctx.rate_at("qdisc.packets", &c.labels);
        if !Ctx::significant("qdisc.requeues", d, r, sent) {
            continue;
        }
        let dev = c.labels.get("dev").cloned().unwrap_or_default();
        let mut f = finding(
            "requeues",
            "tx.4",
            Severity::Warning,
            format!("{dev}: the driver pushes {r:.0} packets/s back to the qdisc (TX ring full)"),
        );
        f.loss = false;
        f.evidence
            .push(Evidence::moved("qdisc.requeues", scope(&c.labels), d, r));
        f.cause =
            "the TX ring fills faster than the card drains it: packets wait in the qdisc, and \
                   drop there when it fills too"
                .into();
        f.actions.push(Action::inspect(format!(
            "ethtool -g {dev}   (a bigger TX ring: ethtool -G {dev} tx MAX)"
        )));
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::rules::testing::*;
    use crate::snapshot::labels;

    #[test]
    fn retransmits_are_the_network() {
        let (a, b) = pair(
            &[
                ("Tcp.OutSegs", NONE, 0, 10_000),
                ("Tcp.RetransSegs", NONE, 0, 600),
            ],
            &[],
            vec![],
        );
        let f = run(retransmits, &a, &b);
        assert_eq!((f[0].severity, f[0].loss), (Severity::Critical, false));
        let (a, b) = pair(
            &[
                ("Tcp.OutSegs", NONE, 0, 10_000),
                ("Tcp.RetransSegs", NONE, 0, 20),
            ],
            &[],
            vec![],
        );
        assert!(run(retransmits, &a, &b).is_empty(), "0.2% is normal");
    }

    /// Kernel-notes: bulk TCP between two namespaces, 47.8k retransmits of which the receiver
    /// reported 44.6k as duplicates. Net of those the share is under 1%: reordering, info only.
    #[test]
    fn spurious_retransmits_are_reordering_not_loss() {
        let (a, b) = pair(
            &[
                ("Tcp.OutSegs", NONE, 0, 4_000_000),
                ("Tcp.RetransSegs", NONE, 0, 47_800),
                ("TcpExt.TCPDSACKRecvSegs", NONE, 0, 44_600),
                ("TcpExt.TCPSpuriousRtxHostQueues", NONE, 0, 900),
            ],
            &[],
            vec![],
        );
        let f = run(retransmits, &a, &b);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].rule, f[0].severity), ("reordering", Severity::Info));
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.key == "TcpExt.TCPDSACKRecvSegs")
        );
        // The same retransmits with nothing D-SACKed are the network's loss.
        let (a, b) = pair(
            &[
                ("Tcp.OutSegs", NONE, 0, 4_000_000),
                ("Tcp.RetransSegs", NONE, 0, 47_800),
            ],
            &[],
            vec![],
        );
        let f = run(retransmits, &a, &b);
        assert_eq!((f.len(), f[0].rule), (1, "retransmits"));
    }

    #[test]
    fn slow_reader_and_receive_window() {
        let mut r = SocketInfo {
            state: "ESTABLISHED".into(),
            local: "10.0.0.2:9".into(),
            recv_q: 700,
            why: vec!["recvq".into()],
            ..SocketInfo::default()
        };
        r.skmem.insert("rmem_alloc".into(), 15_000);
        r.skmem.insert("rcvbuf".into(), 16_384);
        let mut w = SocketInfo {
            state: "ESTABLISHED".into(),
            local: "10.0.0.1:5".into(),
            ..SocketInfo::default()
        };
        w.tcp_info.insert("busy_time".into(), 1_000_000);
        w.tcp_info.insert("rwnd_limited".into(), 900_000);
        let (a, b) = pair(&[], &[], vec![r, w]);
        assert_eq!(run(slow_reader, &a, &b)[0].stage, "rx.11");
        assert_eq!(run(receive_window, &a, &b)[0].stage, "tx.1");
    }

    #[test]
    fn qdisc_backlog_and_cpu_pressure() {
        let q = &[("dev", "eth0"), ("kind", "tbf"), ("parent", "root")][..];
        let (a, b) = pair(
            &[
                ("qdisc.backlog", q, 0, 200_000),
                ("psi.cpu.some_us", NONE, 0, 600_000),
            ],
            &[],
            vec![],
        );
        assert_eq!(run(qdisc_backlog, &a, &b)[0].stage, "tx.3");
        assert_eq!(run(cpu_pressure, &a, &b)[0].severity, Severity::Critical);
    }

    #[test]
    fn requeues_rtt_inflation_and_c_states() {
        let q = &[("dev", "eth0"), ("kind", "pfifo_fast"), ("parent", "root")][..];
        let (a, b) = pair(
            &[
                ("qdisc.packets", q, 0, 10_000),
                ("qdisc.requeues", q, 0, 500),
            ],
            &[],
            vec![],
        );
        assert_eq!(run(requeues, &a, &b)[0].stage, "tx.4");
        let mut s = SocketInfo {
            state: "ESTABLISHED".into(),
            ..SocketInfo::default()
        };
        s.tcp_info.insert("rtt".into(), 40_000);
        s.tcp_info.insert("min_rtt".into(), 2_000);
        let (a, mut b) = pair(&[], &[], vec![s]);
        assert_eq!(run(rtt_inflation, &a, &b)[0].stage, "rx.9");
        b.settings.push(Setting {
            name: "cpuidle.state".into(),
            labels: labels([("state", "3")]),
            value: "C6 exit 133us".into(),
        });
        b.settings.push(Setting {
            name: "cpuidle.state".into(),
            labels: labels([("state", "1")]),
            value: "C1 exit 2us".into(),
        });
        let f = run(c_states, &a, &b);
        assert_eq!((f[0].severity, f[0].evidence.len()), (Severity::Info, 1));
    }
}
