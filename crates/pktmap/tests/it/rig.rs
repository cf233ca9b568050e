//! The fault rig, second half: each fault induced for real in namespaces the test creates,
//! then found at its stage four ways, which must agree: `walk` and `diagnose` live, the same
//! two replayed from two snapshot files, and (where the kernel gives a reason) `diagnose
//! --trace`. Frames the socket API cannot send (bad checksums, other hosts' MACs, unknown
//! EtherTypes) are built byte by byte and sent through an AF_PACKET socket.

use crate::support::*;
use serde_json::Value;
use std::time::Duration;

/// What a fault must look like: the first losing stage and the counter that shows it.
pub(crate) struct Expect {
    stage: &'static str,
    counter: &'static str,
    /// The kernel's drop reason, checked with `diagnose --trace`.
    reason: Option<&'static str>,
    /// Words the first loss finding's title holds (a firewall rule's name).
    title: Option<&'static str>,
}

impl Expect {
    pub(crate) fn at(
        stage: &'static str,
        counter: &'static str,
        reason: Option<&'static str>,
    ) -> Expect {
        Expect {
            stage,
            counter,
            reason,
            title: None,
        }
    }

    pub(crate) fn titled(self, title: &'static str) -> Expect {
        Expect {
            title: Some(title),
            ..self
        }
    }
}

/// The first loss finding of a diagnose document.
fn first_loss(d: &Value) -> &Value {
    d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["loss"] == true)
        .unwrap_or_else(|| panic!("no loss finding: {d:#}"))
}

fn evidence_keys(d: &Value) -> Vec<String> {
    d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["loss"] == true)
        .flat_map(|f| f["evidence"].as_array().unwrap().iter())
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect()
}

fn assert_walk(how: &str, w: &Value, e: &Expect) {
    assert_eq!(w["first_loss"], e.stage, "{how}: walk's first loss: {w:#}");
    let stage = w["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == e.stage)
        .unwrap();
    assert!(
        stage["counters"].as_array().unwrap().iter().any(|c| {
            c["name"] == e.counter && c["above_floor"] == true && c["delta"].as_u64() > Some(0)
        }),
        "{how}: {} past its floor at {}: {stage:#}",
        e.counter,
        e.stage
    );
}

fn assert_diagnose(how: &str, d: &Value, e: &Expect) {
    assert_eq!(first_loss(d)["stage"], e.stage, "{how}: {d:#}");
    if let Some(t) = e.title {
        let title = first_loss(d)["title"].as_str().unwrap();
        assert!(title.contains(t), "{how}: {t:?} in {title:?}");
    }
    assert!(
        evidence_keys(d).iter().any(|k| k == e.counter),
        "{how}: {} in the evidence: {d:#}",
        e.counter
    );
}

/// Runs `step` over and over in the background and finds the fault in namespace `ns` four
/// ways.
pub(crate) fn find(ns: &str, e: Expect, step: impl FnMut() + Send + 'static) {
    let _traffic = repeat("pmt-rig", step);
    std::thread::sleep(Duration::from_millis(300));
    let live_walk = json_of(&NetnsPair::pktmap_in(
        ns,
        &["walk", "--json", "--interval", "1s"],
    ));
    assert_walk("live", &live_walk, &e);
    let live = NetnsPair::pktmap_in(ns, &["diagnose", "--json", "--interval", "1s"]);
    assert!(
        matches!(live.status.code(), Some(1 | 2)),
        "{}",
        stderr(&live)
    );
    assert_diagnose("live", &serde_json::from_slice(&live.stdout).unwrap(), &e);

    let (_dir, a, b) = snapshot_pair(ns);
    let replay_walk = json_of(&run(&["walk", "--json", "--from", &a, "--to", &b]));
    assert_walk("replayed", &replay_walk, &e);
    let replay = run(&["diagnose", "--json", "--from", &a, "--to", &b]);
    assert_diagnose(
        "replayed",
        &serde_json::from_slice(&replay.stdout).unwrap(),
        &e,
    );

    if let Some(reason) = e.reason {
        let traced = diagnose_traced_in(ns);
        let d: Value = serde_json::from_slice(&traced.stdout)
            .unwrap_or_else(|err| panic!("{err}: {}", stderr(&traced)));
        assert_diagnose("traced", &d, &e);
        let key = format!("drop reason {reason}");
        assert!(evidence_keys(&d).contains(&key), "traced: {key}: {d:#}");
    }
}

/// A device's MAC address, as its namespace reads it.
pub(crate) fn mac(ns: &str, dev: &str) -> [u8; 6] {
    let out = std::process::Command::new("ip")
        .args(["-n", ns, "-br", "link", "show", "dev", dev])
        .output()
        .unwrap();
    let text = stdout(&out);
    let word = text.split_whitespace().nth(2).unwrap();
    let mut m = [0u8; 6];
    for (i, p) in word.split(':').enumerate() {
        m[i] = u8::from_str_radix(p, 16).unwrap();
    }
    m
}

pub(crate) fn ipv4(a: &str) -> [u8; 4] {
    a.parse::<std::net::Ipv4Addr>().unwrap().octets()
}

/// The Internet checksum.
pub(crate) fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame carrying an IPv4 packet `proto` from a to `dst` with `payload`; then
/// `spoil` may damage it.
pub(crate) fn frame(src: [u8; 6], dst: [u8; 6], to: &str, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(dst);
    f.extend(src);
    f.extend(0x0800u16.to_be_bytes());
    let len = (20 + payload.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend(len.to_be_bytes());
    ip.extend([0, 0, 0x40, 0, 64, proto, 0, 0]);
    ip.extend(ipv4(ADDR_A));
    ip.extend(ipv4(to));
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend(ip);
    f.extend(payload);
    f
}

/// An IPv4 frame from a's MAC to b's, addressed to `to`.
pub(crate) fn to_b(pair: &NetnsPair, to: &str, proto: u8, payload: &[u8]) -> Vec<u8> {
    frame(
        mac(&pair.a, &pair.veth_a),
        mac(&pair.b, &pair.veth_b),
        to,
        proto,
        payload,
    )
}

/// A UDP datagram to `port` with a correct checksum over the pseudo-header.
pub(crate) fn udp(to: &str, port: u16, body: &[u8]) -> Vec<u8> {
    let len = (8 + body.len()) as u16;
    let mut u = Vec::new();
    u.extend(40000u16.to_be_bytes());
    u.extend(port.to_be_bytes());
    u.extend(len.to_be_bytes());
    u.extend([0, 0]);
    u.extend(body);
    let mut pseudo = Vec::new();
    pseudo.extend(ipv4(ADDR_A));
    pseudo.extend(ipv4(to));
    pseudo.extend([0, 17]);
    pseudo.extend(len.to_be_bytes());
    pseudo.extend(&u);
    let c = checksum(&pseudo);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

/// An AF_PACKET socket on `dev` in namespace `ns`, and a step that sends `frame` 50 times.
pub(crate) fn sender(ns: &str, dev: &str, frame: Vec<u8>) -> impl FnMut() + Send + 'static {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let dev = dev.to_string();
    let (fd, ifindex) = NetnsPair::within(ns, move || {
        // SAFETY: plain socket calls; the descriptor is owned at once.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let name = std::ffi::CString::new(dev).unwrap();
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as i32;
        assert!(ifindex > 0);
        (fd, ifindex)
    });
    move || {
        // SAFETY: a zeroed sockaddr_ll is valid; the fields set are the ones sendto reads.
        let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        to.sll_family = libc::AF_PACKET as u16;
        to.sll_ifindex = ifindex;
        to.sll_halen = 6;
        to.sll_addr[..6].copy_from_slice(&frame[..6]);
        for _ in 0..50 {
            // SAFETY: the frame and address outlive the call.
            unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    (&to as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                );
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A UDP socket in namespace `ns` (bound to `from`) and a step that sends 50 datagrams to
/// `to:port`.
pub(crate) fn udp_sender(
    ns: &str,
    from: &str,
    to: &str,
    port: u16,
) -> impl FnMut() + Send + 'static {
    let from = from.to_string();
    let sock = NetnsPair::within(ns, move || {
        std::net::UdpSocket::bind((from.as_str(), 0)).unwrap()
    });
    let to = format!("{to}:{port}");
    move || {
        for _ in 0..50 {
            let _ = sock.send_to(&[0u8; 32], &to);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// b's MAC as a permanent neighbour entry in a, so a sends without asking.
pub(crate) fn static_neighbour(pair: &NetnsPair) {
    let peer = mac(&pair.b, &pair.veth_b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    sh(&[
        "ip",
        "-n",
        &pair.a,
        "neigh",
        "replace",
        ADDR_B,
        "lladdr",
        &peer,
        "dev",
        &pair.veth_a,
        "nud",
        "permanent",
    ]);
}

pub(crate) fn rig_pair(
    test: &str,
    tools: &[Tool],
) -> Option<(NetnsPair, std::sync::RwLockReadGuard<'static, ()>)> {
    if !root_with_tools_or_skip(test, tools) {
        return None;
    }
    let g = shared();
    Some((NetnsPair::new(), g))
}

#[test]
fn a_reject_rule_is_found_at_rx8() {
    let Some((pair, _g)) = rig_pair("a_reject_rule_is_found_at_rx8", &[IPTABLES, BPFTOOL]) else {
        return;
    };
    sh_in(
        &pair.b,
        &[
            "iptables", "-A", "INPUT", "-p", "udp", "--dport", "9401", "-j", "REJECT",
        ],
    );
    let step = udp_sender(&pair.a, ADDR_A, ADDR_B, 9401);
    find(
        &pair.b,
        Expect::at("rx.8", "netfilter.in_drops", Some("NETFILTER_DROP"))
            .titled("ip table filter chain INPUT rule handle"),
        step,
    );
}

#[test]
fn a_strict_reverse_path_filter_is_found_at_rx8() {
    // Alone: a failed reverse-path check also counts as a martian source in the route input
    // statistics, which are the host's and would show in every other test's namespace.
    if !root_with_tools_or_skip("a_strict_reverse_path_filter_is_found_at_rx8", &[BPFTOOL]) {
        return;
    }
    let _g = exclusive();
    let pair = NetnsPair::new();
    // b routes 10.88.0.0/24 out of another device, so a's packets from 10.88.0.1 arrive on
    // the wrong interface for strict mode.
    let (x1, x2) = (format!("{}x", pair.veth_b), format!("{}y", pair.veth_b));
    sh(&[
        "ip", "-n", &pair.b, "link", "add", &x1, "type", "veth", "peer", "name", &x2,
    ]);
    for dev in [&x1, &x2] {
        sh(&["ip", "-n", &pair.b, "link", "set", dev, "up"]);
    }
    sh(&[
        "ip",
        "-n",
        &pair.b,
        "route",
        "add",
        "10.88.0.0/24",
        "dev",
        &x1,
    ]);
    for conf in ["all".to_string(), pair.veth_b.clone()] {
        sysctl_in(&pair.b, &format!("net.ipv4.conf.{conf}.rp_filter=1"));
    }
    sh(&[
        "ip",
        "-n",
        &pair.a,
        "addr",
        "add",
        "10.88.0.1/32",
        "dev",
        &pair.veth_a,
    ]);
    // b's ARP answers are filtered the same way: a knows b's address by heart.
    static_neighbour(&pair);
    let step = udp_sender(&pair.a, "10.88.0.1", ADDR_B, 9402);
    find(
        &pair.b,
        Expect::at("rx.8", "TcpExt.IPReversePathFilter", Some("IP_RPFILTER")),
        step,
    );
}

/// No protocol handler takes the frame: the kernel counts it in the device's `rx_dropped`
/// (`rx_nohandler` only when delivery must be exact, under a bond), which the catalog keeps
/// at rx.3 as the article does; the reason says where it happened.
#[test]
fn frames_of_an_unknown_ethertype_are_counted_by_the_device() {
    let Some((pair, _g)) = rig_pair(
        "frames_of_an_unknown_ethertype_are_counted_by_the_device",
        &[BPFTOOL],
    ) else {
        return;
    };
    let mut f = to_b(&pair, ADDR_B, 17, &[0; 28]);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    find(
        &pair.b,
        Expect::at("rx.3", "rx_dropped", Some("UNHANDLED_PROTO")),
        sender(&pair.a, &pair.veth_a, f),
    );
}

#[test]
fn frames_for_another_host_are_found_at_rx8() {
    let Some((pair, _g)) = rig_pair("frames_for_another_host_are_found_at_rx8", &[BPFTOOL]) else {
        return;
    };
    let f = frame(
        mac(&pair.a, &pair.veth_a),
        [0x02, 0, 0, 0, 0, 0x99],
        ADDR_B,
        17,
        &udp(ADDR_B, 9404, &[0; 20]),
    );
    find(
        &pair.b,
        Expect::at("rx.8", "rx_otherhost_dropped", Some("OTHERHOST")),
        sender(&pair.a, &pair.veth_a, f),
    );
}

#[test]
fn ip_headers_with_a_bad_checksum_are_found_at_rx8() {
    let Some((pair, _g)) = rig_pair(
        "ip_headers_with_a_bad_checksum_are_found_at_rx8",
        &[BPFTOOL],
    ) else {
        return;
    };
    let mut f = to_b(&pair, ADDR_B, 17, &udp(ADDR_B, 9405, &[0; 20]));
    f[24] ^= 0xff;
    find(
        &pair.b,
        Expect::at("rx.8", "IpExt.InCsumErrors", Some("IP_CSUM")),
        sender(&pair.a, &pair.veth_a, f),
    );
}

#[test]
fn udp_datagrams_with_a_bad_checksum_are_found_at_rx9() {
    let Some((pair, _g)) = rig_pair(
        "udp_datagrams_with_a_bad_checksum_are_found_at_rx9",
        &[BPFTOOL],
    ) else {
        return;
    };
    let _rx = NetnsPair::within(&pair.b, || {
        std::net::UdpSocket::bind((ADDR_B, 9406)).unwrap()
    });
    let mut payload = udp(ADDR_B, 9406, &[0; 20]);
    payload[6] ^= 0xff;
    let f = to_b(&pair, ADDR_B, 17, &payload);
    find(
        &pair.b,
        Expect::at("rx.9", "Udp.InCsumErrors", Some("UDP_CSUM")),
        sender(&pair.a, &pair.veth_a, f),
    );
}

#[test]
fn packets_of_an_unknown_ip_protocol_are_found_at_rx8() {
    let Some((pair, _g)) = rig_pair(
        "packets_of_an_unknown_ip_protocol_are_found_at_rx8",
        &[BPFTOOL],
    ) else {
        return;
    };
    let f = to_b(&pair, ADDR_B, 253, &[0; 20]);
    find(
        &pair.b,
        Expect::at("rx.8", "Ip.InUnknownProtos", Some("IP_NOPROTO")),
        sender(&pair.a, &pair.veth_a, f),
    );
}

#[test]
fn packets_for_an_address_this_host_does_not_have_are_found_at_rx8() {
    let Some((pair, _g)) = rig_pair(
        "packets_for_an_address_this_host_does_not_have_are_found_at_rx8",
        &[],
    ) else {
        return;
    };
    // Forwarding is off in a new namespace: a packet for 10.77.0.99 is an address error.
    let to = "10.77.0.99";
    let f = to_b(&pair, to, 17, &udp(to, 9407, &[0; 20]));
    find(
        &pair.b,
        Expect::at("rx.8", "Ip.InAddrErrors", None),
        sender(&pair.a, &pair.veth_a, f),
    );
}

#[test]
fn a_full_pfifo_under_an_htb_class_is_found_at_tx3() {
    let Some((pair, _g)) = rig_pair(
        "a_full_pfifo_under_an_htb_class_is_found_at_tx3",
        &[BPFTOOL],
    ) else {
        return;
    };
    let dev = pair.veth_a.as_str();
    let tc = |args: &[&str]| {
        let mut v = vec!["tc", "-n", pair.a.as_str()];
        v.extend_from_slice(args);
        sh(&v);
    };
    tc(&[
        "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10",
    ]);
    tc(&[
        "class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", "rate", "1mbit",
    ]);
    tc(&[
        "qdisc", "add", "dev", dev, "parent", "1:10", "handle", "10:", "pfifo", "limit", "5",
    ]);
    let _rx = crate::live::deaf_receiver(&pair.b, 9408);
    find(
        &pair.a,
        Expect::at("tx.3", "qdisc.drops", Some("QDISC_DROP")),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9408),
    );
}

#[test]
fn sending_where_no_route_leads_is_found_at_tx2() {
    let Some((pair, _g)) = rig_pair("sending_where_no_route_leads_is_found_at_tx2", &[]) else {
        return;
    };
    find(
        &pair.a,
        Expect::at("tx.2", "Ip.OutNoRoutes", None),
        udp_sender(&pair.a, ADDR_A, "10.200.0.1", 9409),
    );
}

#[test]
fn a_veth_whose_peer_is_down_is_found_at_tx4() {
    let Some((pair, _g)) = rig_pair("a_veth_whose_peer_is_down_is_found_at_tx4", &[]) else {
        return;
    };
    static_neighbour(&pair);
    sh(&["ip", "-n", &pair.b, "link", "set", &pair.veth_b, "down"]);
    find(
        &pair.a,
        Expect::at("tx.4", "tx_dropped", None),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9410),
    );
}

/// A frame from a to b carrying `payload` after an IPv4 header that `spoil` then damages
/// (its checksum recomputed, so only the damage is wrong).
/// Changes a frame's IP header with `spoil`, then makes its checksum right again.
pub(crate) fn reheader(f: &mut [u8], spoil: impl Fn(&mut [u8])) {
    let ip = &mut f[14..34];
    spoil(ip);
    ip[10..12].copy_from_slice(&[0, 0]);
    let c = checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

fn spoiled_ip(pair: &NetnsPair, proto: u8, payload: &[u8], spoil: impl Fn(&mut [u8])) -> Vec<u8> {
    let mut f = to_b(pair, ADDR_B, proto, payload);
    reheader(&mut f, spoil);
    f
}

#[test]
fn ip_headers_shorter_than_allowed_are_found_at_rx8() {
    let Some((pair, _g)) = rig_pair(
        "ip_headers_shorter_than_allowed_are_found_at_rx8",
        &[BPFTOOL],
    ) else {
        return;
    };
    // IHL 4: a header of 16 bytes, under the 20 any IPv4 header has.
    let f = spoiled_ip(&pair, 17, &udp(ADDR_B, 9411, &[0; 20]), |ip| ip[0] = 0x44);
    find(
        &pair.b,
        Expect::at("rx.8", "Ip.InHdrErrors", Some("IP_INHDR")),
        sender(&pair.a, &pair.veth_a, f),
    );
}

#[test]
fn ip_packets_shorter_than_their_header_says_are_found_at_rx8() {
    let Some((pair, _g)) = rig_pair(
        "ip_packets_shorter_than_their_header_says_are_found_at_rx8",
        &[BPFTOOL],
    ) else {
        return;
    };
    // The total length claims 200 bytes more than the frame carries.
    let f = spoiled_ip(&pair, 17, &udp(ADDR_B, 9412, &[0; 20]), |ip| {
        let len = u16::from_be_bytes([ip[2], ip[3]]) + 200;
        ip[2..4].copy_from_slice(&len.to_be_bytes());
    });
    find(
        &pair.b,
        Expect::at("rx.8", "IpExt.InTruncatedPkts", Some("PKT_TOO_SMALL")),
        sender(&pair.a, &pair.veth_a, f),
    );
}

#[test]
fn udp_datagrams_longer_than_their_packet_are_found_at_rx9() {
    let Some((pair, _g)) = rig_pair(
        "udp_datagrams_longer_than_their_packet_are_found_at_rx9",
        &[BPFTOOL],
    ) else {
        return;
    };
    let mut u = udp(ADDR_B, 9413, &[0; 20]);
    // The UDP length claims more than the IP packet holds.
    u[4..6].copy_from_slice(&200u16.to_be_bytes());
    let f = to_b(&pair, ADDR_B, 17, &u);
    find(
        &pair.b,
        Expect::at("rx.9", "Udp.InErrors", Some("PKT_TOO_SMALL")),
        sender(&pair.a, &pair.veth_a, f),
    );
}

#[test]
fn icmp_messages_with_a_bad_checksum_are_found_at_rx8() {
    let Some((pair, _g)) = rig_pair("icmp_messages_with_a_bad_checksum_are_found_at_rx8", &[])
    else {
        return;
    };
    // An echo request whose checksum is off by one.
    let mut icmp = vec![8, 0, 0, 0, 0, 1, 0, 1];
    icmp.extend([0u8; 24]);
    let c = checksum(&icmp).wrapping_add(1);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let f = to_b(&pair, ADDR_B, 1, &icmp);
    find(
        &pair.b,
        Expect::at("rx.8", "Icmp.InErrors", None),
        sender(&pair.a, &pair.veth_a, f),
    );
}

/// Packets from a loopback source arriving on a veth: a martian, dropped in the route lookup
/// and counted only in the route input statistics. Alone: those statistics are the host's,
/// and would show in every other test's namespace too.
#[test]
fn packets_from_a_loopback_source_are_found_at_rx8() {
    if !root_or_skip("packets_from_a_loopback_source_are_found_at_rx8") {
        return;
    }
    let _g = exclusive();
    let pair = NetnsPair::new();
    let f = spoiled_ip(&pair, 17, &udp(ADDR_B, 9414, &[0; 20]), |ip| {
        ip[12..16].copy_from_slice(&[127, 0, 0, 1]);
    });
    find(
        &pair.b,
        Expect::at("rx.8", "rt_cache.in_martian_src", None),
        sender(&pair.a, &pair.veth_a, f),
    );
}

// The first faults of the rig (faults.rs), found the same four ways here.

#[test]
fn a_drop_rule_is_found_at_rx8_four_ways() {
    let Some((pair, _g)) = rig_pair(
        "a_drop_rule_is_found_at_rx8_four_ways",
        &[IPTABLES, BPFTOOL],
    ) else {
        return;
    };
    pair.drop_udp_in_b(9416);
    find(
        &pair.b,
        Expect::at("rx.8", "netfilter.in_drops", Some("NETFILTER_DROP"))
            .titled("ip table filter chain INPUT rule handle"),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9416),
    );
}

#[test]
fn a_closed_port_is_found_at_rx9_four_ways() {
    let Some((pair, _g)) = rig_pair("a_closed_port_is_found_at_rx9_four_ways", &[BPFTOOL]) else {
        return;
    };
    find(
        &pair.b,
        Expect::at("rx.9", "Udp.NoPorts", Some("NO_SOCKET")),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9417),
    );
}

#[test]
fn a_receiver_that_never_reads_is_found_at_rx10_four_ways() {
    let Some((pair, _g)) = rig_pair(
        "a_receiver_that_never_reads_is_found_at_rx10_four_ways",
        &[BPFTOOL],
    ) else {
        return;
    };
    let _rx = crate::live::deaf_receiver(&pair.b, 9418);
    find(
        &pair.b,
        Expect::at("rx.10", "Udp.RcvbufErrors", Some("SOCKET_RCVBUFF")),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9418),
    );
}

#[test]
fn a_tbf_with_a_tiny_limit_is_found_at_tx3_four_ways() {
    let Some((pair, _g)) = rig_pair(
        "a_tbf_with_a_tiny_limit_is_found_at_tx3_four_ways",
        &[BPFTOOL],
    ) else {
        return;
    };
    pair.tbf_in_a(&["rate", "1mbit", "burst", "4kb", "limit", "4kb"]);
    let _rx = crate::live::deaf_receiver(&pair.b, 9419);
    find(
        &pair.a,
        Expect::at("tx.3", "qdisc.drops", Some("QDISC_DROP")),
        udp_sender(&pair.a, ADDR_A, ADDR_B, 9419),
    );
}
