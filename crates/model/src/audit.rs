//! `pktmap audit`: the article's operations checklist and pitfalls, checked against one
//! snapshot. Each check passes, warns, fails, or says why it could not be checked.

use crate::findings::{Action, Evidence};
use crate::snapshot::{Labels, Snapshot};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Fail,
}

#[derive(Serialize, Clone, Debug)]
pub struct Item {
    pub check: &'static str,
    pub stage: &'static str,
    pub status: Status,
    pub title: String,
    pub evidence: Vec<Evidence>,
    pub actions: Vec<Action>,
}

/// What the user told audit about the path (for the bandwidth-delay product).
#[derive(Debug, Default, Clone, Copy)]
pub struct PathHint {
    /// Bits per second.
    pub bandwidth: Option<f64>,
    /// Seconds.
    pub rtt: Option<f64>,
}

pub struct Check {
    pub id: &'static str,
    pub run: fn(&Snapshot, PathHint) -> Vec<Item>,
}

pub static CHECKS: &[Check] = &[
    Check {
        id: "rx-queues",
        run: rx_queues,
    },
    Check {
        id: "irq-layout",
        run: irq_layout,
    },
    Check {
        id: "irqbalance",
        run: irqbalance,
    },
    Check {
        id: "ring-size",
        run: ring_size,
    },
    Check {
        id: "buffers-bdp",
        run: buffers_bdp,
    },
    Check {
        id: "cc-qdisc",
        run: cc_qdisc,
    },
    Check {
        id: "conntrack",
        run: conntrack,
    },
    Check {
        id: "somaxconn",
        run: somaxconn,
    },
    Check {
        id: "so-rcvbuf",
        run: so_rcvbuf,
    },
    Check {
        id: "offloads-forwarding",
        run: offloads_forwarding,
    },
    Check {
        id: "xdp-mode",
        run: xdp_mode,
    },
    Check {
        id: "rfs",
        run: rfs,
    },
    Check {
        id: "dctcp-ecn",
        run: dctcp_ecn,
    },
];

pub fn audit(s: &Snapshot, hint: PathHint) -> Vec<Item> {
    let mut items: Vec<Item> = CHECKS.iter().flat_map(|c| (c.run)(s, hint)).collect();
    items.sort_by_key(|i| std::cmp::Reverse(i.status));
    items
}

/// 0 all passed, 1 warnings, 2 failures.
pub fn exit_code(items: &[Item]) -> u8 {
    match items.iter().map(|i| i.status).max() {
        Some(Status::Fail) => 2,
        Some(Status::Warn) => 1,
        _ => 0,
    }
}

fn item(
    check: &'static str,
    stage: &'static str,
    status: Status,
    title: impl Into<String>,
) -> Item {
    Item {
        check,
        stage,
        status,
        title: title.into(),
        evidence: Vec::new(),
        actions: Vec::new(),
    }
}

fn setting<'a>(s: &'a Snapshot, name: &str, dev: &str) -> Option<&'a str> {
    s.settings
        .iter()
        .find(|x| {
            x.name == name
                && x.labels.get("dev").map(String::as_str) == Some(dev)
                && x.labels.len() == 1
        })
        .map(|x| x.value.as_str())
}

/// Devices on a bus: where queues, rings and IRQs are real.
fn physical(s: &Snapshot) -> Vec<String> {
    s.settings
        .iter()
        .filter(|x| x.name == "link.kind" && x.value == "physical")
        .filter_map(|x| x.labels.get("dev").cloned())
        .collect()
}

/// A CPU mask as sysfs writes it: hex, comma-separated every 32 CPUs.
pub fn cpu_mask(cpus: &[u32]) -> String {
    let top = cpus.iter().max().copied().unwrap_or(0);
    let mut words = vec![0u32; (top / 32 + 1) as usize];
    for c in cpus {
        words[(c / 32) as usize] |= 1 << (c % 32);
    }
    let mut parts: Vec<String> = words.iter().rev().map(|w| format!("{w:08x}")).collect();
    // The leading word without its zero padding, as the kernel prints it.
    if let Some(first) = parts.first_mut() {
        let t = first.trim_start_matches('0');
        *first = if t.is_empty() { "0".into() } else { t.into() };
    }
    parts.join(",")
}

fn rx_queues(s: &Snapshot, _: PathHint) -> Vec<Item> {
    let cpus = s.meta.cpus_online.len();
    let mut out = Vec::new();
    for dev in physical(s) {
        let queues: usize = [
            setting(s, "link.rx_queues", &dev),
            setting(s, "ethtool.channels.combined", &dev),
            setting(s, "ethtool.channels.rx", &dev),
        ]
        .iter()
        .flatten()
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .max()
        .unwrap_or(1);
        let rps_on: Vec<&str> = s
            .settings
            .iter()
            .filter(|x| x.name == "rps_cpus" && x.labels.get("dev") == Some(&dev))
            .map(|x| x.value.as_str())
            .filter(|v| v.chars().any(|c| c != '0' && c != ','))
            .collect();
        let mut it = item(
            "rx-queues",
            "rx.2",
            Status::Pass,
            format!("{dev}: {queues} receive queues for {cpus} CPUs"),
        );
        it.evidence.push(Evidence::value(
            "link.rx_queues",
            format!("dev={dev}"),
            queues,
        ));
        it.evidence.push(Evidence::value("cpus online", "", cpus));
        if queues < cpus && rps_on.is_empty() {
            it.status = Status::Warn;
            it.title = format!(
                "{dev}: {queues} receive queue(s) for {cpus} CPUs and RPS is off: receive work lands on {queues} CPU(s)"
            );
            let mask = cpu_mask(&s.meta.cpus_online);
            for q in 0..queues {
                it.actions.push(Action::change(format!("echo {mask} > /sys/class/net/{dev}/queues/rx-{q}/rps_cpus"), "0", &mask, "RPS spreads the queue's packets over the CPUs (the NIC's own NUMA node's CPUs are better, if known)"));
            }
            it.actions.push(Action::inspect(format!("ethtool -l {dev}   (more queues, if the card has them: ethtool -L {dev} combined N)")));
        }
        out.push(it);
    }
    out
}

/// Queue IRQs per device from the interrupts metrics: irq -> (cpu -> count).
fn queue_irqs(s: &Snapshot) -> BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>> {
    let mut out: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>> = BTreeMap::new();
    for m in s
        .metrics
        .iter()
        .filter(|m| m.name == "interrupts" && m.labels.get("queue").is_some_and(|q| q != "-"))
    {
        let (Some(dev), Some(irq), Some(cpu)) = (
            m.labels.get("dev"),
            m.labels.get("irq"),
            m.labels.get("cpu"),
        ) else {
            continue;
        };
        *out.entry(dev.clone())
            .or_default()
            .entry(irq.clone())
            .or_default()
            .entry(cpu.clone())
            .or_default() += m.value;
    }
    out
}

fn irq_layout(s: &Snapshot, _: PathHint) -> Vec<Item> {
    let mut out = Vec::new();
    if s.meta.cpus_online.len() < 2 {
        return out;
    }
    for (dev, irqs) in queue_irqs(s) {
        if irqs.len() < 2 {
            continue;
        }
        // Which CPU took each queue's interrupts (most of them).
        let busiest: BTreeSet<&String> = irqs
            .values()
            .filter(|per| per.values().fold(0u64, |a, v| a.saturating_add(*v)) > 0)
            .filter_map(|per| per.iter().max_by_key(|(_, n)| **n).map(|(c, _)| c))
            .collect();
        let mut it = item(
            "irq-layout",
            "rx.4",
            Status::Pass,
            format!(
                "{dev}: {} queue IRQs served by {} CPUs",
                irqs.len(),
                busiest.len()
            ),
        );
        if busiest.len() == 1 {
            let cpu = busiest.iter().next().expect("one");
            it.status = Status::Warn;
            it.title = format!(
                "{dev}: all {} queue IRQs are served by cpu{cpu}: one CPU does all the receive work",
                irqs.len()
            );
            for (irq, per) in irqs.iter().take(4) {
                it.evidence.push(Evidence::value(
                    "/proc/interrupts",
                    format!("dev={dev} irq={irq}"),
                    format!(
                        "{} on cpu{cpu} of {}",
                        per.get(*cpu).unwrap_or(&0),
                        per.values().fold(0u64, |a, v| a.saturating_add(*v))
                    ),
                ));
            }
            for (n, irq) in irqs.keys().enumerate() {
                let target = s.meta.cpus_online[n % s.meta.cpus_online.len()];
                it.actions.push(Action::change(
                    format!("echo {target} > /proc/irq/{irq}/smp_affinity_list"),
                    cpu.to_string(),
                    target,
                    "one queue per CPU (stop irqbalance first, or let it do this)",
                ));
            }
        }
        out.push(it);
    }
    out
}

fn irqbalance(s: &Snapshot, _: PathHint) -> Vec<Item> {
    let running = s.setting("irqbalance.running") == Some("yes");
    let all = crate::snapshot::format_cpu_list(&s.meta.cpus_online);
    let pinned: Vec<(&Labels, &str)> = s
        .settings
        .iter()
        .filter(|x| x.name == "smp_affinity_list" && x.value != all)
        .map(|x| (&x.labels, x.value.as_str()))
        .collect();
    if s.setting("irqbalance.running").is_none() {
        return Vec::new();
    }
    let mut it = item(
        "irqbalance",
        "rx.4",
        Status::Pass,
        if running {
            "irqbalance runs; no queue IRQ is pinned by hand"
        } else {
            "irqbalance is not running"
        },
    );
    if running && !pinned.is_empty() {
        it.status = Status::Warn;
        it.title = format!(
            "irqbalance runs while {} queue IRQs have narrowed affinities: they overwrite each other",
            pinned.len()
        );
        for (l, v) in pinned.iter().take(4) {
            it.evidence.push(Evidence::value(
                "smp_affinity_list",
                crate::diagnose::scope(l),
                v,
            ));
        }
        it.actions.push(Action::inspect(
            "systemctl disable --now irqbalance   (if the affinities were set on purpose)",
        ));
        it.actions.push(Action::inspect(
            "or IRQBALANCE_BANNED_CPULIST / --banirq for the pinned IRQs",
        ));
    }
    vec![it]
}

fn ring_size(s: &Snapshot, _: PathHint) -> Vec<Item> {
    let mut out = Vec::new();
    for x in s.settings.iter().filter(|x| x.name == "ethtool.ring.rx") {
        let Some(dev) = x.labels.get("dev") else {
            continue;
        };
        let Some((cur, max)) = crate::diagnose::parse_ring(&x.value) else {
            continue;
        };
        let mut it = item(
            "ring-size",
            "rx.3",
            Status::Pass,
            format!("{dev}: RX ring {cur} of {max}"),
        );
        it.evidence.push(Evidence::value(
            "ethtool.ring.rx",
            format!("dev={dev}"),
            &x.value,
        ));
        if cur < max {
            it.status = Status::Warn;
            it.title = format!(
                "{dev}: RX ring {cur} is below the card's maximum {max}: less room for bursts"
            );
            it.actions.push(Action::change(
                format!("ethtool -G {dev} rx {max}"),
                cur,
                max,
                "absorbs longer bursts (costs memory, a little latency under load)",
            ));
        }
        out.push(it);
    }
    out
}

fn buffers_bdp(s: &Snapshot, hint: PathHint) -> Vec<Item> {
    let speed_bps = physical(s)
        .iter()
        .filter_map(|d| setting(s, "link.speed", d)?.parse::<f64>().ok())
        .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
        .map(|mbps| mbps * 1e6);
    let rtts: Vec<u64> = s
        .sockets
        .iter()
        .filter_map(|k| k.tcp_info.get("rtt").copied())
        .filter(|r| *r > 0)
        .collect();
    let measured_rtt = (!rtts.is_empty()).then(|| {
        let mut r = rtts.clone();
        r.sort_unstable();
        r[r.len() / 2] as f64 / 1e6
    });
    let (Some(bw), Some(rtt)) = (hint.bandwidth.or(speed_bps), hint.rtt.or(measured_rtt)) else {
        return vec![item(
            "buffers-bdp",
            "rx.10",
            Status::Skip,
            "tcp_rmem/tcp_wmem against the bandwidth-delay product: give --bandwidth and --rtt (no link speed or live RTT to measure)",
        )];
    };
    let bdp = (bw * rtt / 8.0).ceil() as u64;
    let mut out = Vec::new();
    for (key, stage) in [
        ("net.ipv4.tcp_rmem", "rx.10"),
        ("net.ipv4.tcp_wmem", "tx.1"),
    ] {
        let Some(v) = s.setting(key) else { continue };
        let parts: Vec<u64> = v
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        let Some(&max) = parts.get(2) else { continue };
        let mut it = item(
            "buffers-bdp",
            stage,
            Status::Pass,
            format!("{key} max {max} covers the bandwidth-delay product {bdp}"),
        );
        it.evidence.push(Evidence::value(key, "", v));
        it.evidence.push(Evidence::value(
            "bandwidth-delay product",
            "",
            format!("{:.0} Mbit/s x {:.1} ms = {bdp} bytes", bw / 1e6, rtt * 1e3),
        ));
        if max < bdp {
            it.status = Status::Fail;
            it.title = format!(
                "{key} max {max} is below the bandwidth-delay product {bdp}: one connection cannot fill the path"
            );
            let proposed = bdp.next_power_of_two();
            it.actions.push(Action::sysctl(
                key,
                v,
                format!("{} {} {proposed}", parts[0], parts[1]),
                format!("autotuning may grow a buffer to the BDP ({bdp} bytes)"),
            ));
        }
        out.push(it);
    }
    out
}

fn cc_qdisc(s: &Snapshot, _: PathHint) -> Vec<Item> {
    let Some(cc) = s.setting("net.ipv4.tcp_congestion_control") else {
        return Vec::new();
    };
    let default_qdisc = s.setting("net.core.default_qdisc").unwrap_or("?");
    let mut it = item(
        "cc-qdisc",
        "tx.3",
        Status::Pass,
        format!("congestion control {cc} with default qdisc {default_qdisc}"),
    );
    it.evidence
        .push(Evidence::value("net.ipv4.tcp_congestion_control", "", cc));
    it.evidence
        .push(Evidence::value("net.core.default_qdisc", "", default_qdisc));
    if cc == "bbr" {
        let roots: Vec<String> = physical(s)
            .iter()
            .filter_map(|d| setting(s, "link.qdisc", d).map(|q| format!("{d}:{q}")))
            .collect();
        let fq_everywhere = !roots.is_empty()
            && roots
                .iter()
                .all(|r| r.ends_with(":fq") || r.ends_with(":mq"));
        if default_qdisc != "fq" && !fq_everywhere {
            it.status = Status::Warn;
            it.title = format!(
                "BBR without fq: default qdisc is {default_qdisc}; BBR paces best with fq (TCP's own pacing costs more CPU)"
            );
            it.actions.push(Action::sysctl(
                "net.core.default_qdisc",
                default_qdisc,
                "fq",
                "fq paces BBR's packets per flow",
            ));
            for d in physical(s) {
                it.actions
                    .push(Action::inspect(format!("tc qdisc replace dev {d} root fq")));
            }
        }
    }
    vec![it]
}

fn conntrack(s: &Snapshot, _: PathHint) -> Vec<Item> {
    let count = s
        .metrics
        .iter()
        .find(|m| m.name == "net.netfilter.nf_conntrack_count")
        .map(|m| m.value);
    let max = s
        .setting("net.netfilter.nf_conntrack_max")
        .and_then(|m| m.parse::<u64>().ok());
    let (Some(c), Some(m)) = (count, max) else {
        return vec![item(
            "conntrack",
            "rx.8",
            Status::Skip,
            "conntrack usage: nf_conntrack not loaded here, or its maximum is not visible in this namespace",
        )];
    };
    let share = c as f64 / m.max(1) as f64;
    let status = if share >= 0.9 {
        Status::Fail
    } else if share >= 0.7 {
        Status::Warn
    } else {
        Status::Pass
    };
    let mut it = item(
        "conntrack",
        "rx.8",
        status,
        format!("conntrack uses {c} of {m} entries ({:.0}%)", share * 100.0),
    );
    it.evidence
        .push(Evidence::value("net.netfilter.nf_conntrack_count", "", c));
    it.evidence
        .push(Evidence::value("net.netfilter.nf_conntrack_max", "", m));
    if status != Status::Pass {
        it.actions.push(Action::sysctl(
            "net.netfilter.nf_conntrack_max",
            &m.to_string(),
            m.saturating_mul(2).max(c.saturating_mul(2)),
            "headroom before new flows are dropped",
        ));
    }
    vec![it]
}

fn somaxconn(s: &Snapshot, _: PathHint) -> Vec<Item> {
    let Some(cap) = s
        .setting("net.core.somaxconn")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Vec::new();
    };
    let capped: Vec<_> = s
        .sockets
        .iter()
        .filter(|k| k.state == "LISTEN" && k.send_q >= cap)
        .collect();
    let listeners = s.sockets.iter().filter(|k| k.state == "LISTEN").count();
    let mut it = item(
        "somaxconn",
        "rx.10",
        Status::Pass,
        format!("somaxconn {cap}: no listener is held at it ({listeners} listeners)"),
    );
    if !capped.is_empty() {
        it.status = Status::Warn;
        it.title = format!(
            "{} listeners have their backlog cut to somaxconn {cap}",
            capped.len()
        );
        for k in capped.iter().take(4) {
            it.evidence.push(Evidence::value(
                "Send-Q (backlog)",
                format!("socket={}", k.local),
                k.send_q,
            ));
        }
        it.actions.push(Action::sysctl(
            "net.core.somaxconn",
            &cap.to_string(),
            cap * 2,
            "the applications ask for more than the cap allows",
        ));
    }
    vec![it]
}

fn so_rcvbuf(_: &Snapshot, _: PathHint) -> Vec<Item> {
    vec![item(
        "so-rcvbuf",
        "rx.10",
        Status::Skip,
        "buffers pinned with SO_RCVBUF (autotuning off): sock_diag does not expose the lock flag; compare ss -tm's rb with tcp_rmem by hand",
    )]
}

fn offloads_forwarding(s: &Snapshot, _: PathHint) -> Vec<Item> {
    if s.setting("net.ipv4.ip_forward") != Some("1") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for x in s
        .settings
        .iter()
        .filter(|x| x.name == "ethtool.features.large-receive-offload" && x.value == "on")
    {
        let dev = x.labels.get("dev").cloned().unwrap_or_default();
        let mut it = item(
            "offloads-forwarding",
            "rx.6",
            Status::Fail,
            format!(
                "{dev}: LRO is on while this host forwards: merged frames cannot be forwarded intact"
            ),
        );
        it.actions.push(Action::change(
            format!("ethtool -K {dev} lro off"),
            "on",
            "off",
            "LRO loses the original segments; GRO keeps them",
        ));
        out.push(it);
    }
    let gro: Vec<String> = s
        .settings
        .iter()
        .filter(|x| x.name == "ethtool.features.generic-receive-offload" && x.value == "on")
        .filter_map(|x| x.labels.get("dev").cloned())
        .collect();
    if !gro.is_empty() {
        let mut it = item(
            "offloads-forwarding",
            "rx.6",
            Status::Pass,
            format!(
                "GRO is on while forwarding ({}): normal; giant packets in tcpdump are GRO, not an MTU problem",
                gro.join(", ")
            ),
        );
        it.evidence
            .push(Evidence::value("net.ipv4.ip_forward", "", 1));
        out.push(it);
    }
    out
}

fn xdp_mode(s: &Snapshot, _: PathHint) -> Vec<Item> {
    s.settings
        .iter()
        .filter(|x| x.name == "xdp")
        .map(|x| {
            let dev = x.labels.get("dev").cloned().unwrap_or_default();
            let generic = x.value.starts_with("generic");
            let mut it = item("xdp-mode", "rx.7", if generic { Status::Warn } else { Status::Pass }, format!("{dev}: XDP {}", x.value));
            if generic {
                it.title = format!("{dev}: XDP runs in generic mode, after the skb is built: little of XDP's gain; use native mode if the driver has it");
                it.actions.push(Action::inspect(format!("ip link set dev {dev} xdpgeneric off; ip link set dev {dev} xdpdrv obj PROG.o")));
            }
            it
        })
        .collect()
}

fn rfs(s: &Snapshot, _: PathHint) -> Vec<Item> {
    let Some(entries) = s
        .setting("net.core.rps_sock_flow_entries")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Vec::new();
    };
    let mut per_dev: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for x in s.settings.iter().filter(|x| x.name == "rps_flow_cnt") {
        if let (Some(dev), Ok(v)) = (x.labels.get("dev"), x.value.parse::<u64>()) {
            per_dev.entry(dev.clone()).or_default().push(v);
        }
    }
    let mut out = Vec::new();
    for (dev, counts) in per_dev {
        let any = counts.iter().any(|c| *c > 0);
        if entries == 0 && !any {
            continue;
        }
        let want = entries / counts.len().max(1) as u64;
        let mut it = item(
            "rfs",
            "rx.7",
            Status::Pass,
            format!("{dev}: RFS flow counts match rps_sock_flow_entries {entries}"),
        );
        if entries == 0 && any {
            it.status = Status::Warn;
            it.title =
                format!("{dev}: rps_flow_cnt is set but rps_sock_flow_entries is 0: RFS is off");
        } else if counts.iter().any(|c| *c != want) {
            it.status = Status::Warn;
            it.title = format!(
                "{dev}: rps_flow_cnt {:?} does not match rps_sock_flow_entries / queues = {want}",
                counts
            );
            for (q, count) in counts.iter().enumerate() {
                it.actions.push(Action::change(
                    format!("echo {want} > /sys/class/net/{dev}/queues/rx-{q}/rps_flow_cnt"),
                    count,
                    want,
                    "each queue's share of the flow table",
                ));
            }
        }
        out.push(it);
    }
    out
}

fn dctcp_ecn(s: &Snapshot, _: PathHint) -> Vec<Item> {
    if s.setting("net.ipv4.tcp_congestion_control") != Some("dctcp") {
        return Vec::new();
    }
    let ecn = s.setting("net.ipv4.tcp_ecn").unwrap_or("?");
    let mut it = item("dctcp-ecn", "rx.9", Status::Pass, "DCTCP with ECN on");
    if ecn != "1" {
        it.status = Status::Fail;
        it.title = format!("DCTCP is selected but tcp_ecn is {ecn}: DCTCP needs ECN to work");
        it.actions.push(Action::sysctl(
            "net.ipv4.tcp_ecn",
            ecn,
            1,
            "DCTCP reacts to ECN marks; without them it behaves badly",
        ));
    }
    vec![it]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Kind, Meta, Metric, Setting, SocketInfo};

    /// `(name, labels, value)`.
    type SettingRow<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

    fn host(settings: &[SettingRow]) -> Snapshot {
        let mut s = Snapshot::new(Meta {
            cpus_online: vec![0, 1, 2, 3],
            ..Meta::default()
        });
        for (name, l, v) in settings {
            s.settings.push(Setting {
                name: name.to_string(),
                labels: l
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                value: v.to_string(),
            });
        }
        s
    }

    const ETH0: &[(&str, &str)] = &[("dev", "eth0")];
    const NONE: &[(&str, &str)] = &[];

    fn status(items: &[Item]) -> Vec<Status> {
        items.iter().map(|i| i.status).collect()
    }

    #[test]
    fn bdp_fails_a_small_tcp_rmem_and_skips_without_figures() {
        let s = host(&[
            ("net.ipv4.tcp_rmem", NONE, "4096 131072 6291456"),
            ("net.ipv4.tcp_wmem", NONE, "4096 16384 134217728"),
        ]);
        let hint = PathHint {
            bandwidth: Some(10e9),
            rtt: Some(0.1),
        };
        let items = buffers_bdp(&s, hint);
        assert_eq!(status(&items), [Status::Fail, Status::Pass]);
        assert_eq!(
            items[0].actions[0].proposed.as_deref(),
            Some("4096 131072 134217728")
        );
        assert_eq!(
            status(&buffers_bdp(&s, PathHint::default())),
            [Status::Skip]
        );
    }

    #[test]
    fn bbr_without_fq_warns_and_dctcp_without_ecn_fails() {
        assert_eq!(
            status(&cc_qdisc(
                &host(&[
                    ("net.ipv4.tcp_congestion_control", NONE, "bbr"),
                    ("net.core.default_qdisc", NONE, "fq_codel")
                ]),
                PathHint::default()
            )),
            [Status::Warn]
        );
        assert_eq!(
            status(&cc_qdisc(
                &host(&[
                    ("net.ipv4.tcp_congestion_control", NONE, "bbr"),
                    ("net.core.default_qdisc", NONE, "fq")
                ]),
                PathHint::default()
            )),
            [Status::Pass]
        );
        assert_eq!(
            status(&dctcp_ecn(
                &host(&[
                    ("net.ipv4.tcp_congestion_control", NONE, "dctcp"),
                    ("net.ipv4.tcp_ecn", NONE, "2")
                ]),
                PathHint::default()
            )),
            [Status::Fail]
        );
    }

    #[test]
    fn conntrack_usage_thresholds() {
        let mut s = host(&[("net.netfilter.nf_conntrack_max", NONE, "1000")]);
        s.metrics.push(Metric {
            name: "net.netfilter.nf_conntrack_count".into(),
            labels: Default::default(),
            value: 950,
            kind: Kind::Gauge,
        });
        assert_eq!(status(&conntrack(&s, PathHint::default())), [Status::Fail]);
        s.metrics[0].value = 100;
        assert_eq!(status(&conntrack(&s, PathHint::default())), [Status::Pass]);
    }

    #[test]
    fn irqbalance_against_pinned_affinities() {
        let s = host(&[
            ("irqbalance.running", NONE, "yes"),
            ("smp_affinity_list", &[("irq", "30"), ("dev", "eth0")], "2"),
        ]);
        assert_eq!(status(&irqbalance(&s, PathHint::default())), [Status::Warn]);
        let s = host(&[
            ("irqbalance.running", NONE, "yes"),
            (
                "smp_affinity_list",
                &[("irq", "30"), ("dev", "eth0")],
                "0-3",
            ),
        ]);
        assert_eq!(status(&irqbalance(&s, PathHint::default())), [Status::Pass]);
    }

    #[test]
    fn ring_rfs_xdp_and_forwarding() {
        assert_eq!(
            status(&ring_size(
                &host(&[("ethtool.ring.rx", ETH0, "256 (max 4096)")]),
                PathHint::default()
            )),
            [Status::Warn]
        );
        let s = host(&[
            ("net.core.rps_sock_flow_entries", NONE, "32768"),
            ("rps_flow_cnt", &[("dev", "eth0"), ("queue", "rx-0")], "0"),
        ]);
        assert_eq!(status(&rfs(&s, PathHint::default())), [Status::Warn]);
        assert_eq!(
            status(&xdp_mode(
                &host(&[("xdp", ETH0, "generic prog 12")]),
                PathHint::default()
            )),
            [Status::Warn]
        );
        let s = host(&[
            ("net.ipv4.ip_forward", NONE, "1"),
            ("ethtool.features.large-receive-offload", ETH0, "on"),
        ]);
        assert_eq!(
            status(&offloads_forwarding(&s, PathHint::default())),
            [Status::Fail]
        );
    }

    #[test]
    fn somaxconn_caps_a_listener() {
        let mut s = host(&[("net.core.somaxconn", NONE, "128")]);
        s.sockets.push(SocketInfo {
            state: "LISTEN".into(),
            local: "0.0.0.0:80".into(),
            send_q: 128,
            ..SocketInfo::default()
        });
        assert_eq!(status(&somaxconn(&s, PathHint::default())), [Status::Warn]);
    }

    #[test]
    fn queues_against_cpus() {
        let mut s = host(&[
            ("link.kind", ETH0, "physical"),
            ("link.rx_queues", ETH0, "1"),
            ("rps_cpus", &[("dev", "eth0"), ("queue", "rx-0")], "0"),
        ]);
        let items = rx_queues(&s, PathHint::default());
        assert_eq!(status(&items), [Status::Warn]);
        assert!(items[0].actions[0].command.starts_with("echo f > "));
        s.settings.last_mut().unwrap().value = "f".into();
        assert_eq!(status(&rx_queues(&s, PathHint::default())), [Status::Pass]);
    }

    #[test]
    fn cpu_masks_as_sysfs_writes_them() {
        assert_eq!(cpu_mask(&[0, 1, 2, 3]), "f");
        assert_eq!(cpu_mask(&(0..16).collect::<Vec<_>>()), "ffff");
        assert_eq!(cpu_mask(&(0..40).collect::<Vec<_>>()), "ff,ffffffff");
    }
}
