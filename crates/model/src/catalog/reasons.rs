//! Every place the kernel drops a packet, as `enum skb_drop_reason` names it (6.18: 128
//! reasons): the stage it belongs to, and the counters pktmap reads that move when it fires,
//! so a snapshot alone sees what a counter can show. An empty list means only tracing sees
//! it: no counter moves (netfilter rules move none of IP's), or the one that does is not read
//! (AF_PACKET and unix sockets, tc and XDP programs' own). Reviewed data: a test checks that
//! every reason of the running kernel is here, and `doctor` names any a newer kernel adds.

/// One drop reason.
#[derive(Debug, serde::Serialize)]
pub struct Reason {
    /// The kernel's name without `SKB_DROP_REASON_`.
    pub name: &'static str,
    pub stage: &'static str,
    /// Counters (catalog keys or family names) that move when it fires.
    pub counters: &'static [&'static str],
}

const fn r(name: &'static str, stage: &'static str, counters: &'static [&'static str]) -> Reason {
    Reason {
        name,
        stage,
        counters,
    }
}

pub static REASONS: &[Reason] = &[
    r("NOT_SPECIFIED", "rx.7", &[]),
    r("NO_SOCKET", "rx.9", &["Udp.NoPorts", "Udp6NoPorts"]),
    r("SOCKET_CLOSE", "rx.10", &[]),
    r("SOCKET_FILTER", "rx.10", &[]),
    r(
        "SOCKET_RCVBUFF",
        "rx.10",
        &["Udp.RcvbufErrors", "Udp6RcvbufErrors", "TcpExt.TCPRcvQDrop"],
    ),
    r("UNIX_DISCONNECT", "rx.10", &[]),
    r("UNIX_SKIP_OOB", "rx.10", &[]),
    // Fired by IP (a header or length short of what it claims) and by UDP (a datagram
    // shorter than its length field): the code location tells them apart.
    r(
        "PKT_TOO_SMALL",
        "rx.8",
        &[
            "Ip.InHdrErrors",
            "IpExt.InTruncatedPkts",
            "Udp.InErrors",
            "Udp6InErrors",
        ],
    ),
    r("TCP_CSUM", "rx.9", &["Tcp.InCsumErrors"]),
    r("UDP_CSUM", "rx.9", &["Udp.InCsumErrors"]),
    r(
        "NETFILTER_DROP",
        "rx.8",
        &[
            // IP's gap holds the input rules' drops; since 6.7 `Ip.ForwDatagrams` counts a
            // packet before the FORWARD hook, so a forward rule's drops are outside it.
            "ip.undelivered",
            "netfilter.forward_drops",
            "netfilter.in6_drops",
            "netfilter.forward6_drops",
            "netfilter.out_drops",
            "netfilter.ingress_drops",
            "netfilter.bridge_drops",
            "netfilter.arp_drops",
        ],
    ),
    r("OTHERHOST", "rx.8", &["rx_otherhost_dropped"]),
    r("IP_CSUM", "rx.8", &["IpExt.InCsumErrors"]),
    r("IP_INHDR", "rx.8", &["Ip.InHdrErrors"]),
    r("IP_RPFILTER", "rx.8", &["TcpExt.IPReversePathFilter"]),
    r("UNICAST_IN_L2_MULTICAST", "rx.8", &[]),
    r("XFRM_POLICY", "rx.8", &[]),
    r("IP_NOPROTO", "rx.8", &["Ip.InUnknownProtos"]),
    r(
        "PROTO_MEM",
        "rx.10",
        &["TcpExt.TCPRcvQDrop", "Udp.MemErrors"],
    ),
    r("TCP_AUTH_HDR", "rx.9", &[]),
    r("TCP_MD5NOTFOUND", "rx.9", &["TcpExt.TCPMD5NotFound"]),
    r("TCP_MD5UNEXPECTED", "rx.9", &["TcpExt.TCPMD5Unexpected"]),
    r("TCP_MD5FAILURE", "rx.9", &["TcpExt.TCPMD5Failure"]),
    r("TCP_AONOTFOUND", "rx.9", &["TcpExt.TCPAORequired"]),
    r("TCP_AOUNEXPECTED", "rx.9", &[]),
    r("TCP_AOKEYNOTFOUND", "rx.9", &["TcpExt.TCPAOKeyNotFound"]),
    r("TCP_AOFAILURE", "rx.9", &["TcpExt.TCPAOBad"]),
    r("SOCKET_BACKLOG", "rx.10", &["TcpExt.TCPBacklogDrop"]),
    r("TCP_FLAGS", "rx.9", &[]),
    r("TCP_ABORT_ON_DATA", "rx.9", &["TcpExt.TCPAbortOnData"]),
    r("TCP_ZEROWINDOW", "rx.10", &["TcpExt.TCPZeroWindowDrop"]),
    r("TCP_OLD_DATA", "rx.9", &[]),
    r("TCP_OVERWINDOW", "rx.9", &[]),
    r("TCP_OFOMERGE", "rx.9", &["TcpExt.TCPOFOMerge"]),
    r("TCP_RFC7323_PAWS", "rx.9", &["TcpExt.PAWSEstab"]),
    r("TCP_RFC7323_PAWS_ACK", "rx.9", &[]),
    r("TCP_RFC7323_TW_PAWS", "rx.9", &[]),
    r("TCP_RFC7323_TSECR", "rx.9", &["TcpExt.TSECRRejected"]),
    r(
        "TCP_LISTEN_OVERFLOW",
        "rx.10",
        &["TcpExt.ListenOverflows", "TcpExt.ListenDrops"],
    ),
    r("TCP_OLD_SEQUENCE", "rx.9", &[]),
    r("TCP_INVALID_SEQUENCE", "rx.9", &[]),
    // kernel-notes: a receive buffer shrinking under an advertised window shows as this.
    r(
        "TCP_INVALID_END_SEQUENCE",
        "rx.10",
        &["TcpExt.BeyondWindow"],
    ),
    r("TCP_INVALID_ACK_SEQUENCE", "rx.9", &[]),
    r("TCP_RESET", "rx.9", &["Tcp.EstabResets"]),
    r("TCP_INVALID_SYN", "rx.9", &[]),
    r("TCP_CLOSE", "rx.9", &[]),
    r("TCP_FASTOPEN", "rx.9", &[]),
    r("TCP_OLD_ACK", "rx.9", &[]),
    r("TCP_TOO_OLD_ACK", "rx.9", &[]),
    r("TCP_ACK_UNSENT_DATA", "rx.9", &[]),
    r("TCP_OFO_QUEUE_PRUNE", "rx.10", &["TcpExt.OfoPruned"]),
    r("TCP_OFO_DROP", "rx.10", &["TcpExt.TCPOFODrop"]),
    r("IP_OUTNOROUTES", "tx.2", &["Ip.OutNoRoutes"]),
    r("BPF_CGROUP_EGRESS", "tx.2", &[]),
    r("IPV6DISABLED", "rx.8", &[]),
    // Counted in the neighbour tables' own statistics (/proc/net/stat/arp_cache).
    r(
        "NEIGH_CREATEFAIL",
        "tx.2",
        &["neigh.table_fulls", "neigh6.table_fulls"],
    ),
    // The queue of a neighbour that failed is dropped without a table statistic.
    r("NEIGH_FAILED", "tx.2", &[]),
    r(
        "NEIGH_QUEUEFULL",
        "tx.2",
        &["neigh.unresolved_discards", "neigh6.unresolved_discards"],
    ),
    r("NEIGH_DEAD", "tx.2", &[]),
    r("NEIGH_HH_FILLFAIL", "tx.2", &[]),
    r("TC_EGRESS", "tx.3", &[]),
    r("SECURITY_HOOK", "rx.8", &[]),
    r("QDISC_DROP", "tx.3", &["qdisc.drops"]),
    r(
        "QDISC_OVERLIMIT",
        "tx.3",
        &["qdisc.drops", "qdisc.overlimits"],
    ),
    r("QDISC_CONGESTED", "tx.3", &["qdisc.drops"]),
    r("CAKE_FLOOD", "tx.3", &["qdisc.drops"]),
    r("FQ_BAND_LIMIT", "tx.3", &["qdisc.drops"]),
    r("FQ_HORIZON_LIMIT", "tx.3", &["qdisc.drops"]),
    r("FQ_FLOW_LIMIT", "tx.3", &["qdisc.drops"]),
    r("CPU_BACKLOG", "rx.5", &["softnet.dropped"]),
    r("XDP", "rx.7", &[]),
    r("TC_INGRESS", "rx.7", &["qdisc.ingress.drops"]),
    // rx_nohandler only where delivery must be exact (bond members); rx_dropped otherwise.
    r("UNHANDLED_PROTO", "rx.7", &["rx_dropped", "rx_nohandler"]),
    r("SKB_CSUM", "rx.9", &[]),
    r("SKB_GSO_SEG", "tx.2", &[]),
    // 6.12 (backported): a GSO packet whose headers do not hold what its type says, refused in
    // __dev_queue_xmit before the qdisc.
    r("SKB_BAD_GSO", "tx.2", &[]),
    r("SKB_UCOPY_FAULT", "rx.11", &[]),
    r("DEV_HDR", "rx.1", &[]),
    r("DEV_READY", "tx.4", &["tx_dropped"]),
    r("FULL_RING", "tx.4", &["tx_dropped"]),
    r("NOMEM", "rx.6", &[]),
    r("HDR_TRUNC", "rx.1", &[]),
    r("TAP_FILTER", "rx.7", &[]),
    r("TAP_TXFILTER", "rx.7", &[]),
    r("ICMP_CSUM", "rx.8", &["Icmp.InErrors"]),
    r("INVALID_PROTO", "rx.8", &[]),
    r("IP_INADDRERRORS", "rx.8", &["Ip.InAddrErrors"]),
    r("IP_INNOROUTES", "rx.8", &["IpExt.InNoRoutes"]),
    // Martians are counted in the route input statistics (/proc/net/stat/rt_cache).
    r("IP_LOCAL_SOURCE", "rx.8", &["rt_cache.in_martian_src"]),
    r("IP_INVALID_SOURCE", "rx.8", &["rt_cache.in_martian_src"]),
    r("IP_LOCALNET", "rx.8", &["rt_cache.in_martian_src"]),
    r("IP_INVALID_DEST", "rx.8", &["rt_cache.in_martian_dst"]),
    r("PKT_TOO_BIG", "tx.2", &["Ip.FragFails"]),
    r("DUP_FRAG", "rx.8", &["Ip.ReasmFails"]),
    r("FRAG_REASM_TIMEOUT", "rx.8", &["Ip.ReasmFails"]),
    r("FRAG_TOO_FAR", "rx.8", &["Ip.ReasmFails"]),
    r("TCP_MINTTL", "rx.9", &["TcpExt.TCPMinTTLDrop"]),
    r("IPV6_BAD_EXTHDR", "rx.8", &["Ip6InHdrErrors"]),
    r("IPV6_TOO_MANY_EXTHDRS", "rx.8", &["Ip6InHdrErrors"]),
    r("IPV6_NDISC_FRAG", "rx.8", &[]),
    r("IPV6_NDISC_HOP_LIMIT", "rx.8", &[]),
    r("IPV6_NDISC_BAD_CODE", "rx.8", &[]),
    r("IPV6_NDISC_BAD_OPTIONS", "rx.8", &[]),
    r("IPV6_NDISC_NS_OTHERHOST", "rx.8", &[]),
    r("QUEUE_PURGE", "rx.10", &[]),
    r("TC_COOKIE_ERROR", "rx.7", &[]),
    r("PACKET_SOCK_ERROR", "rx.7", &[]),
    r("TC_CHAIN_NOTFOUND", "rx.7", &[]),
    r("TC_RECLASSIFY_LOOP", "rx.7", &[]),
    r("VXLAN_INVALID_HDR", "rx.7", &[]),
    r("VXLAN_VNI_NOT_FOUND", "rx.7", &[]),
    r("MAC_INVALID_SOURCE", "ct.bridge", &[]),
    r("VXLAN_ENTRY_EXISTS", "rx.7", &[]),
    r("NO_TX_TARGET", "tx.2", &[]),
    r("IP_TUNNEL_ECN", "rx.7", &[]),
    r("TUNNEL_TXINFO", "tx.2", &[]),
    r("LOCAL_MAC", "ct.bridge", &[]),
    r("ARP_PVLAN_DISABLE", "ct.bridge", &[]),
    r("MAC_IEEE_MAC_CONTROL", "ct.bridge", &[]),
    r("BRIDGE_INGRESS_STP_STATE", "ct.bridge", &[]),
    r("CAN_RX_INVALID_FRAME", "rx.1", &[]),
    r("CANFD_RX_INVALID_FRAME", "rx.1", &[]),
    r("CANXL_RX_INVALID_FRAME", "rx.1", &[]),
    r("PFMEMALLOC", "rx.10", &[]),
    r("DUALPI2_STEP_DROP", "tx.3", &["qdisc.drops"]),
    r("PSP_INPUT", "rx.8", &[]),
    r("PSP_OUTPUT", "tx.2", &[]),
    r("RECURSION_LIMIT", "tx.2", &[]),
    r("SKB_RX_HEADROOM", "rx.6", &[]),
];

/// The mapping of a reason by its kernel name.
pub fn reason(name: &str) -> Option<&'static Reason> {
    REASONS.iter().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_names_a_stage_and_counters_the_catalog_places() {
        let mut seen = std::collections::HashSet::new();
        for r in REASONS {
            assert!(seen.insert(r.name), "{} twice", r.name);
            assert!(
                super::super::stage(r.stage).is_some(),
                "{}: {}",
                r.name,
                r.stage
            );
            for c in r.counters {
                assert!(
                    super::super::place(c).is_some(),
                    "{}: {c} is not placed",
                    r.name
                );
            }
        }
        assert!(REASONS.len() >= 128);
    }
}
