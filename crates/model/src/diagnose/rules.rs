//! The rules, in path order. Each reads counters that moved in the interval, judges them
//! against the traffic they belong to, and says where, why and what to run.

use super::{Ctx, Rule, scope};
use crate::findings::{Action, Confidence, Evidence, Finding, Severity};
use crate::snapshot::labels;

pub static RULES: &[Rule] = &[
    Rule {
        id: "nic-ring",
        check: nic_ring,
    },
    Rule {
        id: "nic-errors",
        check: nic_errors,
    },
    Rule {
        id: "softirq-backlog",
        check: softirq_backlog,
    },
    Rule {
        id: "softirq-squeeze",
        check: softirq_squeeze,
    },
    Rule {
        id: "ip-discards",
        check: ip_discards,
    },
    Rule {
        id: "netfilter-gap",
        check: netfilter_gap,
    },
    Rule {
        id: "conntrack",
        check: conntrack,
    },
    Rule {
        id: "closed-port",
        check: closed_port,
    },
    Rule {
        id: "listen-overflow",
        check: listen_overflow,
    },
    Rule {
        id: "tcp-receive-pressure",
        check: tcp_receive_pressure,
    },
    Rule {
        id: "udp-receive-buffer",
        check: udp_receive_buffer,
    },
    Rule {
        id: "qdisc-drops",
        check: qdisc_drops,
    },
    Rule {
        id: "tx-ring",
        check: tx_ring,
    },
    Rule {
        id: "requeues",
        check: requeues,
    },
    Rule {
        id: "retransmits",
        check: retransmits,
    },
    Rule {
        id: "rtt-inflation",
        check: rtt_inflation,
    },
    Rule {
        id: "slow-reader",
        check: slow_reader,
    },
    Rule {
        id: "receive-window",
        check: receive_window,
    },
    Rule {
        id: "qdisc-backlog",
        check: qdisc_backlog,
    },
    Rule {
        id: "cpu-pressure",
        check: cpu_pressure,
    },
    Rule {
        id: "c-states",
        check: c_states,
    },
];

fn finding(rule: &'static str, stage: &'static str, severity: Severity, title: String) -> Finding {
    Finding {
        rule,
        stage,
        severity,
        title,
        evidence: Vec::new(),
        cause: String::new(),
        actions: Vec::new(),
        confidence: Confidence::Medium,
        loss: true,
    }
}

/// rx.3: the card had nowhere to put frames (missed, fifo, over, and the driver's drop,
/// miss, no-buffer and fifo counters).
fn nic_ring(ctx: &Ctx) -> Vec<Finding> {
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
fn nic_errors(ctx: &Ctx) -> Vec<Finding> {
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

/// rx.5: the per-CPU backlog overflowed (softnet dropped, CPU_BACKLOG).
fn softirq_backlog(ctx: &Ctx) -> Vec<Finding> {
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
    for c in ctx
        .changes("softnet.dropped")
        .filter(|c| c.delta.is_some_and(|d| d > 0))
    {
        f.evidence.push(Evidence::moved(
            "softnet.dropped",
            scope(&c.labels),
            c.delta.unwrap_or(0),
            c.rate.unwrap_or(0.0),
        ));
    }
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
fn softirq_squeeze(ctx: &Ctx) -> Vec<Finding> {
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
    if d >= super::MIN_EVENTS && (r >= 1.0 || d >= 1000) {
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
        for c in ctx
            .changes("softnet.time_squeeze")
            .filter(|c| c.delta.is_some_and(|d| d > 0))
        {
            f.evidence.push(Evidence::moved(
                "softnet.time_squeeze",
                scope(&c.labels),
                c.delta.unwrap_or(0),
                c.rate.unwrap_or(0.0),
            ));
        }
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
    if processed.len() > 1 && total >= 10_000.0 {
        let (cpu, top) = processed
            .iter()
            .cloned()
            .fold((String::new(), 0.0), |a, b| if b.1 > a.1 { b } else { a });
        if top / total >= 0.9 {
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

/// rx.8: IP input discards, bad headers or addresses, no route, reverse-path filter.
fn ip_discards(ctx: &Ctx) -> Vec<Finding> {
    let traffic = ctx.rate("Ip.InReceives");
    let mut out = Vec::new();
    for (name, cause) in [
        ("Ip.InDiscards", "IP input had no resources for the packets"),
        (
            "Ip.InHdrErrors",
            "packets with bad IP headers (checksum, TTL expired, bad options)",
        ),
        (
            "Ip.InAddrErrors",
            "packets for an address this host neither owns nor routes",
        ),
        ("IpExt.InNoRoutes", "no route for received packets"),
        (
            "TcpExt.IPReversePathFilter",
            "the reverse path filter dropped packets arriving on an interface the route back does not use",
        ),
    ] {
        let (d, r) = ctx.sum(name);
        if !Ctx::significant(name, d, r, traffic) {
            continue;
        }
        let mut f = finding(
            "ip-discards",
            "rx.8",
            Ctx::severity(r, traffic),
            format!("IP input drops packets ({name} {r:.0}/s)"),
        );
        f.evidence.push(Evidence::moved(name, "", d, r));
        f.cause = cause.into();
        if name == "TcpExt.IPReversePathFilter" {
            let cur = ctx.setting("net.ipv4.conf.all.rp_filter").unwrap_or("?");
            f.actions.push(Action::sysctl(
                "net.ipv4.conf.all.rp_filter",
                cur,
                2,
                "loose mode accepts asymmetric routes",
            ));
        }
        f.actions.push(Action::inspect(format!("nstat -az {name}")));
        out.push(f);
    }
    out
}

/// rx.8: packets enter IP and vanish without any IP counter saying why: a netfilter rule
/// (kernel-notes: rule drops move no SNMP drop counter).
fn netfilter_gap(ctx: &Ctx) -> Vec<Finding> {
    // The ledger keeps the gap as a line of its own, judged by its floor.
    let Some(gap) = ctx
        .ledger
        .line("ip.undelivered", &Default::default())
        .filter(|g| g.above_floor)
    else {
        return Vec::new();
    };
    let (received, rate_in) = ctx.sum("Ip.InReceives");
    let missing = gap.change.delta.unwrap_or(0);
    let rate = gap.change.rate.unwrap_or(0.0);
    let conntrack_full = ctx.sum("nf_conntrack.drop").0 > 0;
    let mut f = finding(
        "netfilter-gap",
        "rx.8",
        Ctx::severity(rate, rate_in),
        format!("{rate:.0} packets/s enter IP and are never delivered: netfilter drops them"),
    );
    f.evidence
        .push(Evidence::moved("Ip.InReceives", "", received, rate_in));
    f.evidence.push(Evidence::moved(
        "Ip.InDelivers",
        "",
        ctx.sum("Ip.InDelivers").0,
        ctx.rate("Ip.InDelivers"),
    ));
    f.evidence
        .push(Evidence::moved("ip.undelivered", "", missing, rate));
    f.cause = if conntrack_full {
        "a full conntrack table (nf_conntrack drop rising) or a rule drops them".into()
    } else {
        "a firewall rule (iptables/nftables DROP or REJECT) on PREROUTING, INPUT or FORWARD: \
         rule drops move no IP drop counter, only the rule's own"
            .into()
    };
    f.actions
        .push(Action::inspect("iptables -L -v -n -x | grep -vE '^ +0 +0'"));
    f.actions.push(Action::inspect("nft list ruleset"));
    f.actions.push(Action::inspect(
        "pktmap trace drops   (NETFILTER_DROP and its location)",
    ));
    f.confidence = Confidence::Medium;
    vec![f]
}

/// rx.8: conntrack table full or insert failures.
fn conntrack(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    let count = ctx.value("net.netfilter.nf_conntrack_count");
    let max = ctx
        .setting("net.netfilter.nf_conntrack_max")
        .and_then(|m| m.parse::<u64>().ok());
    let (drops, rate) = ctx.sum("nf_conntrack.drop");
    let (early, _) = ctx.sum("nf_conntrack.early_drop");
    let (failed, frate) = ctx.sum("nf_conntrack.insert_failed");
    let full = matches!((count, max), (Some(c), Some(m)) if m > 0 && u128::from(c) * 100 >= u128::from(m) * 95);
    let early_rate = ctx.rate("nf_conntrack.early_drop");
    if Ctx::significant("nf_conntrack.drop", drops, rate, 0.0)
        || Ctx::significant("nf_conntrack.early_drop", early, early_rate, 0.0)
        || full
    {
        let mut f = finding(
            "conntrack",
            "rx.8",
            Severity::Critical,
            "the conntrack table is full: new flows are dropped".into(),
        );
        f.loss = drops > 0;
        f.evidence
            .push(Evidence::moved("nf_conntrack.drop", "", drops, rate));
        f.evidence.push(Evidence::moved(
            "nf_conntrack.early_drop",
            "",
            early,
            early_rate,
        ));
        if let (Some(c), Some(m)) = (count, max) {
            f.evidence.push(Evidence::value(
                "net.netfilter.nf_conntrack_count",
                "",
                format!("{c} of {m}"),
            ));
            f.actions.push(Action::sysctl("net.netfilter.nf_conntrack_max", &m.to_string(), m.saturating_mul(2), "room for the flows this host tracks (each entry costs ~300 bytes); global, shared by every namespace"));
        }
        f.cause =
            "every new flow needs a conntrack entry; when the table is full the packet is dropped \
                   (the kernel log says \"nf_conntrack: table full, dropping packet\")"
                .into();
        f.actions.push(Action::inspect("dmesg | grep conntrack"));
        f.actions.push(Action::inspect("conntrack -S"));
        f.confidence = Confidence::High;
        out.push(f);
    }
    if Ctx::significant("nf_conntrack.insert_failed", failed, frate, 0.0) {
        let mut f = finding(
            "conntrack",
            "rx.8",
            Severity::Warning,
            format!("conntrack insertions fail {frate:.0}/s"),
        );
        f.evidence.push(Evidence::moved(
            "nf_conntrack.insert_failed",
            "",
            failed,
            frate,
        ));
        f.cause = "two packets of a new flow raced to create its entry (typical of UDP DNS with \
                   parallel A/AAAA queries through NAT): one is dropped"
            .into();
        f.actions.push(Action::inspect("conntrack -S"));
        out.push(f);
    }
    out
}

/// rx.9: traffic to a port nobody listens on.
fn closed_port(ctx: &Ctx) -> Vec<Finding> {
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

/// rx.10: accept queues overflow.
fn listen_overflow(ctx: &Ctx) -> Vec<Finding> {
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
fn tcp_receive_pressure(ctx: &Ctx) -> Vec<Finding> {
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
    if !lost && strain < super::MIN_EVENTS {
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
fn udp_receive_buffer(ctx: &Ctx) -> Vec<Finding> {
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

/// tx.3: qdiscs drop.
fn qdisc_drops(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in ctx.changes("qdisc.drops") {
        let (d, r) = (c.delta.unwrap_or(0), c.rate.unwrap_or(0.0));
        let sent = ctx
            .changes("qdisc.packets")
            .find(|p| p.labels == c.labels)
            .and_then(|p| p.rate)
            .unwrap_or(0.0);
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
fn tx_ring(ctx: &Ctx) -> Vec<Finding> {
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

/// Retransmitted segments the receiver already had: it reported them as duplicates
/// (D-SACK; `TCPDSACKRecvSegs` since 5.x, `TCPDSACKRecv` blocks before), or they were sent
/// while the original was still in this host's queues. Reordering, not loss (kernel-notes:
/// bulk TCP over a veth retransmits 1.2% this way with nothing dropped).
const SPURIOUS: &[&str] = &["TcpExt.TCPDSACKRecvSegs", "TcpExt.TCPSpuriousRtxHostQueues"];

/// rx.9 (latency): retransmissions and timeouts against what is sent, net of the spurious
/// ones, which are reported as reordering.
fn retransmits(ctx: &Ctx) -> Vec<Finding> {
    let (d, r) = ctx.sum("Tcp.RetransSegs");
    let out_segs = ctx.rate("Tcp.OutSegs");
    let (t, tr) = ctx.sum("TcpExt.TCPTimeouts");
    if d < super::MIN_EVENTS || out_segs <= 0.0 {
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
    if spurious >= super::MIN_EVENTS && spurious_rate / out_segs >= 0.01 {
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
    if net < super::MIN_EVENTS || net_rate / out_segs < 0.01 {
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

/// rx.11 (latency): data delivered but not read; the application, not the network.
fn slow_reader(ctx: &Ctx) -> Vec<Finding> {
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

/// tx.3 (latency): packets wait in a qdisc.
fn qdisc_backlog(ctx: &Ctx) -> Vec<Finding> {
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
fn cpu_pressure(ctx: &Ctx) -> Vec<Finding> {
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

/// tx.1 (latency): this host's connections are held back by the peer's receive window: the
/// reader on the other side is slow (kernel-notes: flow control hides a small receive buffer,
/// no drop appears anywhere).
fn receive_window(ctx: &Ctx) -> Vec<Finding> {
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

/// tx.4: the driver pushes packets back to the qdisc (TX ring full).
fn requeues(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in ctx.changes("qdisc.requeues") {
        let (d, r) = (c.delta.unwrap_or(0), c.rate.unwrap_or(0.0));
        let sent = ctx
            .changes("qdisc.packets")
            .find(|p| p.labels == c.labels)
            .and_then(|p| p.rate)
            .unwrap_or(0.0);
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

/// rx.9 (latency): connections whose smoothed RTT is far above the lowest this connection
/// has seen (its path baseline): queueing somewhere, in this host or on the path.
fn rtt_inflation(ctx: &Ctx) -> Vec<Finding> {
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

/// rx.11 (latency): deep idle states whose exit latency every wake-up pays.
fn c_states(ctx: &Ctx) -> Vec<Finding> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::Delta;
    use crate::snapshot::{Kind, Meta, Metric, Setting, Snapshot, SocketInfo};

    /// `(name, labels, before, after)`.
    type Counter<'a> = (&'a str, &'a [(&'a str, &'a str)], u64, u64);

    /// Two snapshots one second apart: `(name, labels, before, after)` counters, settings and
    /// sockets of the later one.
    fn pair(
        counters: &[Counter],
        settings: &[(&str, &str)],
        sockets: Vec<SocketInfo>,
    ) -> (Snapshot, Snapshot) {
        let mk = |uptime: f64, after: bool| {
            let mut s = Snapshot::new(Meta {
                uptime_s: Some(uptime),
                ..Meta::default()
            });
            for (name, l, a, b) in counters {
                s.metrics.push(Metric {
                    name: name.to_string(),
                    labels: l
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    value: if after { *b } else { *a },
                    kind: if name.starts_with("qdisc.backlog") || name.starts_with("qdisc.qlen") {
                        Kind::Gauge
                    } else {
                        Kind::Counter64
                    },
                });
            }
            for (k, v) in settings {
                s.settings.push(Setting {
                    name: k.to_string(),
                    labels: Default::default(),
                    value: v.to_string(),
                });
            }
            s
        };
        let (a, mut b) = (mk(100.0, false), mk(101.0, true));
        b.sockets = sockets;
        (a, b)
    }

    fn run(rule: fn(&Ctx) -> Vec<Finding>, a: &Snapshot, b: &Snapshot) -> Vec<Finding> {
        let d = Delta::between(a, b).unwrap();
        let ledger = crate::ledger::build(&d, None);
        rule(&Ctx {
            delta: &d,
            ledger: &ledger,
        })
    }

    const NONE: &[(&str, &str)] = &[];
    const ETH0: &[(&str, &str)] = &[("dev", "eth0")];

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
    }

    #[test]
    fn ip_discards_and_rp_filter() {
        let (a, b) = pair(
            &[
                ("Ip.InReceives", NONE, 0, 10_000),
                ("TcpExt.IPReversePathFilter", NONE, 0, 500),
            ],
            &[("net.ipv4.conf.all.rp_filter", "1")],
            vec![],
        );
        let f = run(ip_discards, &a, &b);
        assert_eq!(f[0].stage, "rx.8");
        assert_eq!(f[0].actions[0].proposed.as_deref(), Some("2"));
    }

    #[test]
    fn netfilter_gap_counts_what_ip_never_accounts_for() {
        let (a, b) = pair(
            &[
                ("Ip.InReceives", NONE, 0, 10_000),
                ("Ip.InDelivers", NONE, 0, 4_000),
            ],
            &[],
            vec![],
        );
        let f = run(netfilter_gap, &a, &b);
        assert_eq!(f[0].stage, "rx.8");
        assert!(f[0].title.starts_with("6000"));
        let (a, b) = pair(
            &[
                ("Ip.InReceives", NONE, 0, 10_000),
                ("Ip.InDelivers", NONE, 0, 9_999),
            ],
            &[],
            vec![],
        );
        assert!(run(netfilter_gap, &a, &b).is_empty());
    }

    #[test]
    fn conntrack_full_and_insert_races() {
        let (a, b) = pair(
            &[
                ("nf_conntrack.drop", &[("cpu", "0")], 0, 40),
                ("nf_conntrack.insert_failed", &[("cpu", "0")], 0, 30),
            ],
            &[("net.netfilter.nf_conntrack_max", "1000")],
            vec![],
        );
        let f = run(conntrack, &a, &b);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].severity, Severity::Critical);
    }

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

    #[test]
    fn rules_have_unique_ids_and_a_quiet_delta_finds_nothing() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        let (a, b) = pair(
            &[
                ("rx_packets", ETH0, 0, 1_000),
                ("Ip.InReceives", NONE, 0, 1_000),
                ("Ip.InDelivers", NONE, 0, 1_000),
                ("Udp.NoPorts", NONE, 0, 2),
            ],
            &[],
            vec![],
        );
        let d = Delta::between(&a, &b).unwrap();
        assert!(super::super::diagnose(&d).is_empty());
    }
}
