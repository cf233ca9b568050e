//! The fault rig, third part: faults at the hooks before IP (tc ingress, XDP), at the
//! sending socket, in TCP, IPv6 and forwarding, at the accept queue, and the two host-wide
//! ones that run alone (a tiny backlog, a full conntrack table). Each is found four ways, as
//! in `rig.rs`.

use crate::live::{deaf_receiver, stubborn_listener};
use crate::rig::*;
use crate::support::*;
use std::time::Duration;

/// The test programs that drop everything (`crates/bpf/bpf/faults.bpf.c`).
fn faults_object() -> String {
    repo()
        .join("crates/bpf/bpf/faults.bpf.o")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_tc_ingress_filter_that_drops_is_found_at_rx7() {
    let Some((pair, _g)) = rig_pair("a_tc_ingress_filter_that_drops_is_found_at_rx7", &[BPFTOOL])
    else {
        return;
    };
    // The filter drops ARP too: a must not need to ask for b's address.
    static_neighbour(&pair);
    let obj = faults_object();
    let tc = |args: &[&str]| {
        let mut all = vec!["tc", "-n", &pair.b];
        all.extend_from_slice(args);
        sh(&all);
    };
    tc(&["qdisc", "add", "dev", &pair.veth_b, "clsact"]);
    tc(&[
        "filter",
        "add",
        "dev",
        &pair.veth_b,
        "ingress",
        "bpf",
        "da",
        "obj",
        &obj,
        "sec",
        "tc",
    ]);
    find(
        &pair.b,
        Expect::at("rx.7", "qdisc.ingress.drops", Some("TC_INGRESS")),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9431),
    );
}

#[test]
fn an_xdp_program_that_drops_is_found_at_rx7() {
    let Some((pair, _g)) = rig_pair("an_xdp_program_that_drops_is_found_at_rx7", &[ETHTOOL]) else {
        return;
    };
    static_neighbour(&pair);
    let obj = faults_object();
    sh(&[
        "ip",
        "-n",
        &pair.b,
        "link",
        "set",
        "dev",
        &pair.veth_b,
        "xdp",
        "obj",
        &obj,
        "sec",
        "xdp",
    ]);
    // XDP drops before an skb exists: no drop reason, only the driver's counter.
    find(
        &pair.b,
        Expect::at("rx.7", "ethtool.xdp_drop.rx_queue_xdp_drops", None),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9432),
    );
}

/// A non-blocking UDP socket with the smallest send buffer, and a step that sends 50
/// datagrams as fast as it can.
fn small_sndbuf_sender(ns: &str, port: u16) -> impl FnMut() + Send + 'static {
    let sock = NetnsPair::within(ns, || {
        let s = std::net::UdpSocket::bind((ADDR_A, 0)).unwrap();
        let size: libc::c_int = 1;
        // SAFETY: a valid socket and option value; the kernel raises 1 to its minimum.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&s),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&size as *const libc::c_int).cast(),
                4,
            )
        };
        assert_eq!(rc, 0);
        s.set_nonblocking(true).unwrap();
        s
    });
    move || {
        for _ in 0..50 {
            let _ = sock.send_to(&[0u8; 512], (ADDR_B, port));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A shaper with a deep queue drops nothing, but the datagrams waiting in it hold the
/// sender's buffer: the sends fail at tx.1, and the qdisc is not to blame for a loss.
#[test]
fn a_send_buffer_held_by_a_slow_shaper_is_found_at_tx1() {
    let Some((pair, _g)) = rig_pair("a_send_buffer_held_by_a_slow_shaper_is_found_at_tx1", &[])
    else {
        return;
    };
    pair.tbf_in_a(&["rate", "1mbit", "burst", "4kb", "limit", "8mb"]);
    let _rx = deaf_receiver(&pair.b, 9433);
    find(
        &pair.a,
        Expect::at("tx.1", "Udp.SndbufErrors", None),
        small_sndbuf_sender(&pair.a, 9433),
    );
}

#[test]
fn tcp_segments_with_a_bad_checksum_are_found_at_rx9() {
    let Some((pair, _g)) = rig_pair(
        "tcp_segments_with_a_bad_checksum_are_found_at_rx9",
        &[BPFTOOL],
    ) else {
        return;
    };
    // A SYN to port 80 whose checksum is wrong.
    let mut tcp = vec![
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
    ];
    tcp.extend([0xde, 0xad, 0, 0]);
    find(
        &pair.b,
        Expect::at("rx.9", "Tcp.InCsumErrors", Some("TCP_CSUM")),
        sender(&pair.a, &pair.veth_a, to_b(&pair, ADDR_B, 6, &tcp)),
    );
}

/// b forwards (a router, or a node that routes to its pods): a packet whose time to live
/// runs out there is dropped with an ICMP error.
/// Makes b a router for `prefix`: forwarding on, and a route for it out of b's veth.
fn forward_from_b(pair: &NetnsPair, prefix: &str) {
    sysctl_in(&pair.b, "net.ipv4.ip_forward=1");
    sh(&[
        "ip",
        "-n",
        &pair.b,
        "route",
        "add",
        prefix,
        "dev",
        &pair.veth_b,
    ]);
}

#[test]
fn packets_whose_ttl_runs_out_in_a_router_are_found_at_rx8() {
    let Some((pair, _g)) = rig_pair(
        "packets_whose_ttl_runs_out_in_a_router_are_found_at_rx8",
        &[BPFTOOL],
    ) else {
        return;
    };
    forward_from_b(&pair, "10.78.0.0/24");
    let to = "10.78.0.9";
    let mut f = to_b(&pair, to, 17, &udp(to, 9434, b"ttl"));
    reheader(&mut f, |ip| ip[8] = 1);
    find(
        &pair.b,
        Expect::at("rx.8", "Ip.InHdrErrors", Some("IP_INHDR")),
        sender(&pair.a, &pair.veth_a, f),
    );
}

/// b forwards, and a FORWARD rule drops what it would route on: the loss is on the way
/// between namespaces, named by the rule.
#[test]
fn a_forward_rule_drop_is_found_between_namespaces() {
    let Some((pair, _g)) = rig_pair(
        "a_forward_rule_drop_is_found_between_namespaces",
        &[IPTABLES, BPFTOOL],
    ) else {
        return;
    };
    forward_from_b(&pair, "10.79.0.0/24");
    sh_in(
        &pair.b,
        &[
            "iptables",
            "-A",
            "FORWARD",
            "-d",
            "10.79.0.0/24",
            "-j",
            "DROP",
        ],
    );
    let to = "10.79.0.9";
    find(
        &pair.b,
        Expect::at(
            "ct.netns",
            "netfilter.forward_drops",
            Some("NETFILTER_DROP"),
        )
        .titled("ip table filter chain FORWARD rule handle"),
        sender(
            &pair.a,
            &pair.veth_a,
            to_b(&pair, to, 17, &udp(to, 9435, b"fwd")),
        ),
    );
}

#[test]
fn ipv6_datagrams_to_a_closed_port_are_found_at_rx9() {
    let Some((pair, _g)) = rig_pair(
        "ipv6_datagrams_to_a_closed_port_are_found_at_rx9",
        &[BPFTOOL],
    ) else {
        return;
    };
    for (ns, dev, addr) in [
        (&pair.a, &pair.veth_a, "fd77::1"),
        (&pair.b, &pair.veth_b, "fd77::2"),
    ] {
        for scope in ["all".to_string(), dev.clone()] {
            sysctl_in(ns, &format!("net.ipv6.conf.{scope}.disable_ipv6=0"));
        }
        sh(&[
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            &format!("{addr}/64"),
            "dev",
            dev,
            "nodad",
        ]);
    }
    // Let neighbour discovery settle: its first packets are not the fault.
    std::thread::sleep(Duration::from_millis(500));
    find(
        &pair.b,
        Expect::at("rx.9", "Udp6NoPorts", Some("NO_SOCKET")),
        udp_sender(&pair.a, "fd77::1", "[fd77::2]", 9435),
    );
}

/// A listener with a backlog of 1 that never accepts: once two connections wait, every new
/// SYN is dropped.
#[test]
fn a_full_accept_queue_is_found_at_rx10() {
    let Some((pair, _g)) = rig_pair("a_full_accept_queue_is_found_at_rx10", &[]) else {
        return;
    };
    let _l = stubborn_listener(&pair.b, 9436, 1);
    let a = pair.a.clone();
    let step = move || {
        // Sockets belong to the namespace they were made in, whoever connects them.
        let socks: Vec<std::net::TcpStream> = NetnsPair::within(&a, || {
            (0..20)
                .filter_map(|_| {
                    std::net::TcpStream::connect_timeout(
                        &format!("{ADDR_B}:9436").parse().unwrap(),
                        Duration::from_millis(1),
                    )
                    .ok()
                })
                .collect()
        });
        std::thread::sleep(Duration::from_millis(10));
        drop(socks);
    };
    find(
        &pair.b,
        Expect::at("rx.10", "TcpExt.ListenOverflows", None),
        step,
    );
}

/// A UDP sender that sends `n` datagrams per step without pause.
fn burst_sender(ns: &str, port: u16, n: usize) -> impl FnMut() + Send + 'static {
    let sock = NetnsPair::within(ns, || std::net::UdpSocket::bind((ADDR_A, 0)).unwrap());
    move || {
        for _ in 0..n {
            let _ = sock.send_to(&[0u8; 64], (ADDR_B, port));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A backlog of 4 packets per CPU, with the veth's packets steered to the other CPU (RPS):
/// bursts overflow it. The setting is the host's, so the test runs alone.
#[test]
fn a_tiny_backlog_is_found_at_rx5() {
    if !root_with_tools_or_skip("a_tiny_backlog_is_found_at_rx5", &[BPFTOOL]) {
        return;
    }
    let _g = exclusive();
    let pair = NetnsPair::new();
    let _backlog = SysctlGuard::set("net.core.netdev_max_backlog", "4");
    sh_in(
        &pair.b,
        &[
            "sh",
            "-c",
            &format!(
                "echo 2 > /sys/class/net/{}/queues/rx-0/rps_cpus",
                pair.veth_b
            ),
        ],
    );
    let _rx = deaf_receiver(&pair.b, 9437);
    let _more = repeat("pmt-rig-burst", burst_sender(&pair.a, 9437, 300));
    find(
        &pair.b,
        Expect::at("rx.5", "softnet.dropped", Some("CPU_BACKLOG")),
        burst_sender(&pair.a, 9437, 300),
    );
}

/// A conntrack table 20 entries past what the host holds, and 400 new flows: new flows are
/// dropped at rx.8. The limit is the host's, so the test runs alone.
#[test]
fn a_full_conntrack_table_is_found_at_rx8_four_ways() {
    if !root_with_tools_or_skip(
        "a_full_conntrack_table_is_found_at_rx8_four_ways",
        &[IPTABLES, BPFTOOL],
    ) {
        return;
    }
    let _g = exclusive();
    let pair = NetnsPair::new();
    // Conntrack tracks a namespace once a rule there uses it.
    sh_in(
        &pair.b,
        &[
            "iptables",
            "-A",
            "INPUT",
            "-m",
            "conntrack",
            "--ctstate",
            "NEW,ESTABLISHED",
            "-j",
            "ACCEPT",
        ],
    );
    let used: u64 = std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _max = SysctlGuard::set("net.netfilter.nf_conntrack_max", &(used + 20).to_string());
    let _rx = deaf_receiver(&pair.b, 9438);
    let socks: Vec<std::net::UdpSocket> = NetnsPair::within(&pair.a, || {
        (0..400)
            .map(|_| std::net::UdpSocket::bind((ADDR_A, 0)).unwrap())
            .collect()
    });
    let step = move || {
        for s in &socks {
            let _ = s.send_to(b"x", (ADDR_B, 9438));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    find(
        &pair.b,
        Expect::at("rx.8", "nf_conntrack.drop", Some("NETFILTER_DROP")),
        step,
    );
}
