//! `pktmap trace drops`: drop counts by the kernel's own reason, placed on the map.

use crate::catalog::{self, ItemKind};
use serde::Serialize;

/// Reason families and the stage they belong to, for reasons without a catalog entry of their
/// own; longest prefix wins. Names as the kernel's `enum skb_drop_reason` spells them.
pub static REASON_STAGES: &[(&str, &str)] = &[
    ("NETFILTER", "rx.8"),
    ("IP_", "rx.8"),
    ("IPV6", "rx.8"),
    ("PKT_TOO_SMALL", "rx.8"),
    ("PKT_TOO_BIG", "tx.2"),
    ("OTHERHOST", "rx.8"),
    ("XFRM", "rx.8"),
    ("IP_OUTNOROUTES", "tx.2"),
    ("NEIGH", "tx.2"),
    ("TC_", "rx.7"),
    ("XDP", "rx.7"),
    ("TAP_", "rx.7"),
    ("UNHANDLED_PROTO", "rx.7"),
    ("DEV_", "rx.7"),
    ("CPU_BACKLOG", "rx.5"),
    ("QDISC", "tx.3"),
    ("FULL_RING", "tx.4"),
    ("SOCKET_", "rx.10"),
    ("PROTO_MEM", "rx.10"),
    ("TCP_LISTEN", "rx.10"),
    ("TCP_ZEROWINDOW", "rx.10"),
    ("TCP_OFO", "rx.10"),
    ("TCP_", "rx.9"),
    ("UDP_", "rx.9"),
    ("NO_SOCKET", "rx.9"),
    ("NOMEM", "rx.6"),
    ("SKB_", "rx.6"),
];

/// The stage a drop reason belongs to: the reviewed mapping, else (a reason a newer kernel
/// added) its family.
pub fn reason_stage(name: &str) -> Option<&'static str> {
    if let Some(r) = catalog::reason(name) {
        return Some(r.stage);
    }
    if let Some(i) = catalog::item(name).filter(|i| i.kind == ItemKind::DropReason) {
        return Some(i.stage);
    }
    REASON_STAGES
        .iter()
        .filter(|(p, _)| name.starts_with(p))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, s)| *s)
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ReasonRow {
    /// The kernel's value (subsystem in the high bits).
    pub reason: u32,
    pub name: String,
    pub stage: Option<&'static str>,
    pub count: u64,
    pub rate: f64,
    /// Where in the kernel, worst first: `(symbol+offset, count)`.
    pub locations: Vec<(String, u64)>,
    /// Sampled packets by flow, most sampled first: `(udp 10.0.0.1:5000 > 10.0.0.2:53, n)`
    /// (with `--sample`).
    pub samples: Vec<(String, u64)>,
    /// Which namespaces, for reading: `(label, count)`, the largest few.
    pub netns: Vec<(String, u64)>,
    /// Every namespace's count, by inode (0: none known), so a report of one namespace takes
    /// exactly its own drops, however many namespaces there are.
    pub by_netns: Vec<(u64, u64)>,
    /// Which devices: `(name or ifindex, count)`.
    pub devices: Vec<(String, u64)>,
    /// Where, as pairs that happened: `(namespace inode, device, count)`, the largest first.
    pub places: Vec<(u64, String, u64)>,
    /// EtherTypes: `(name, count)`.
    pub protocols: Vec<(String, u64)>,
}

/// What one of pktmap's programs cost while tracing.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Cost {
    pub program: String,
    pub runs: u64,
    pub run_time_ns: u64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct DropTrace {
    pub schema: &'static str,
    pub interval_s: f64,
    /// Drops the program saw.
    pub events: u64,
    /// Drops seen but not attributed because the program's map was full.
    pub map_full: u64,
    /// Samples not sent because their ring buffer was full.
    pub samples_lost: u64,
    pub reasons: Vec<ReasonRow>,
    /// pktmap's own cost (kernel run-time statistics of its program).
    pub cost: Vec<Cost>,
    /// What these privileges kept from the report, by name.
    pub limits: Vec<String>,
}

/// A sampled packet as a person reads it: `udp 10.0.0.1:5000 > 10.0.0.2:53`.
pub fn flow(
    family: u8,
    l4proto: u8,
    saddr: [u8; 16],
    daddr: [u8; 16],
    sport: u16,
    dport: u16,
) -> String {
    let addr = |a: [u8; 16]| -> String {
        match family {
            4 => std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string(),
            _ => format!("[{}]", std::net::Ipv6Addr::from(a)),
        }
    };
    let proto = match l4proto {
        6 => "tcp".to_string(),
        17 => "udp".to_string(),
        1 => "icmp".to_string(),
        58 => "icmpv6".to_string(),
        p => format!("proto {p}"),
    };
    if family == 0 {
        return "not IP".to_string();
    }
    match (u16::from_be(sport), u16::from_be(dport)) {
        (0, 0) => format!("{proto} {} > {}", addr(saddr), addr(daddr)),
        (s, d) => format!("{proto} {}:{s} > {}:{d}", addr(saddr), addr(daddr)),
    }
}

/// `0x0800` -> `ipv4`.
pub fn ethertype(be: u16) -> String {
    match u16::from_be(be) {
        0x0800 => "ipv4".into(),
        0x86dd => "ipv6".into(),
        0x0806 => "arp".into(),
        0 => "none".into(),
        p => format!("{p:#06x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_land_on_stages() {
        assert_eq!(reason_stage("NO_SOCKET"), Some("rx.9"));
        assert_eq!(reason_stage("NETFILTER_DROP"), Some("rx.8"));
        assert_eq!(reason_stage("SOCKET_RCVBUFF"), Some("rx.10"));
        assert_eq!(reason_stage("TCP_LISTEN_OVERFLOW"), Some("rx.10"));
        // A receive buffer shrinking under an advertised window (kernel-notes).
        assert_eq!(reason_stage("TCP_INVALID_END_SEQUENCE"), Some("rx.10"));
        assert_eq!(reason_stage("IP_OUTNOROUTES"), Some("tx.2"));
        assert_eq!(reason_stage("QDISC_DROP"), Some("tx.3"));
        assert_eq!(reason_stage("NOT_SPECIFIED"), Some("rx.7"));
        // A reason a newer kernel adds lands by its family, or nowhere.
        assert_eq!(reason_stage("TCP_SOMETHING_NEW"), Some("rx.9"));
        assert_eq!(reason_stage("BRAND_NEW_THING"), None);
        for (_, s) in REASON_STAGES {
            assert!(catalog::stage(s).is_some(), "{s}");
        }
        assert_eq!(ethertype(0x0008), "ipv4");
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[10, 0, 0, 1]);
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&[10, 0, 0, 2]);
        assert_eq!(
            flow(4, 17, a, b, 5000u16.to_be(), 53u16.to_be()),
            "udp 10.0.0.1:5000 > 10.0.0.2:53"
        );
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(flow(6, 58, v6, v6, 0, 0), "icmpv6 [::1] > [::1]");
        assert_eq!(flow(0, 0, a, b, 0, 0), "not IP");
    }
}

/// One latency histogram: log2 buckets and the percentiles read from them.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Histogram {
    pub name: &'static str,
    pub stage: &'static str,
    /// `ns` or `packets`.
    pub unit: &'static str,
    pub count: u64,
    /// Upper bounds of the buckets holding the 50th, 90th and 99th percentiles.
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    /// `(bucket low bound, count)` of the non-empty buckets.
    pub buckets: Vec<(u64, u64)>,
}

/// NAPI polls of one device on one CPU: where receive work ran and whether it kept up.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct NapiRow {
    pub device: String,
    /// The device's namespace, when it is not pktmap's own.
    pub netns: Option<String>,
    pub cpu: u32,
    pub polls: u64,
    /// Polls that used their whole budget: more was waiting than one poll may take.
    pub full_budget: u64,
    /// Packets per poll, on average.
    pub mean_work: f64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct LatencyTrace {
    pub schema: &'static str,
    pub interval_s: f64,
    /// With time sampling: the share of each period the programs were attached (percent: the
    /// one asked for, or under an automatic duty the share of the interval the traffic
    /// allowed) and the time they were, summed. None: attached throughout the interval.
    pub duty_percent: Option<u32>,
    pub observed_s: Option<f64>,
    /// Under an automatic duty: the program runs a second it keeps to.
    pub duty_budget: Option<u64>,
    /// Program runs counted, all programs together: what being attached cost, in events.
    pub runs: u64,
    /// With time sampling: how long past each window the ending programs stay, the longest
    /// latency a window can record.
    pub grace_ms: Option<u64>,
    /// With time sampling: the period that holds one window (shorter intervals shorten it).
    pub period_ms: Option<u64>,
    pub histograms: Vec<Histogram>,
    pub napi_polls: u64,
    /// Polls that used their whole budget: the device had more work than one poll allows.
    pub napi_full_budget: u64,
    /// Device rows not kept because the NAPI device map was full (their polls are missing).
    pub napi_full: u64,
    /// Sampled start times overwritten before their end was seen: packets dropped on the way
    /// (they never reach the end), or more packets in flight than the slots hold.
    pub replaced: u64,
    /// Sampled start times whose end came only after their window had closed (slower than
    /// the grace, or the packet's address reused meanwhile): not counted.
    pub late: u64,
    /// Per device and CPU, busiest first.
    pub napi: Vec<NapiRow>,
    /// Tracepoints this kernel lacks or refused, and why: their histograms stay empty.
    pub disabled: Vec<(String, String)>,
    pub cost: Vec<Cost>,
    /// What these privileges kept from the report, by name.
    pub limits: Vec<String>,
}
