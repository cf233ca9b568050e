//! How much a loss counter must move before it is a finding. Most never move on a healthy
//! host (pruning, queue drops, overflows, conntrack drops, checksum errors, no-buffer): the
//! first event matters (kernel-notes: five `RcvPruned` were a socket in real trouble). A few
//! move a little on every host (stray packets to closed ports, ICMP chatter, connection
//! teardown, the VM's own channels): those need a rate that matters against the traffic.

use serde::Serialize;

#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Floor {
    /// Never moves on a healthy host: one event is a finding.
    FirstEvent,
    /// Moves on healthy hosts: a finding from `events` in the interval that are also `share`
    /// of the stage's traffic.
    Noisy { events: u64, share: f64 },
}

/// The floor of the counters below.
pub const NOISY: Floor = Floor::Noisy {
    events: 10,
    share: 0.001,
};

/// Loss counters (and drop reasons) that move on a healthy host, by key, or by family when
/// the entry ends in `*`.
pub static NOISY_KEYS: &[&str] = &[
    // Frames for protocols nobody listens to (LLDP, other VLANs) and stray datagrams.
    "rx_dropped",
    "netdev.rx_drop",
    "Udp.NoPorts",
    "Udp6NoPorts",
    "UdpLite.NoPorts",
    "UdpLite6NoPorts",
    // Addressing chatter: broadcasts, packets for other hosts, unknown protocols, no route.
    "Ip.InAddrErrors",
    "Ip6InAddrErrors",
    "Ip.InUnknownProtos",
    "Ip6InUnknownProtos",
    "IpExt.InNoRoutes",
    "Ip6InNoRoutes",
    "Icmp.*",
    "Icmp6*",
    // Martians from misconfigured neighbours, and next hops that stopped answering.
    "rt_cache.in_martian_src",
    "rt_cache.in_martian_dst",
    "neigh.unresolved_discards",
    "neigh6.unresolved_discards",
    // A firewall turning away scans, and the IP gap it leaves.
    "ip.undelivered",
    "netfilter.*",
    "NETFILTER_DROP",
    // Conntrack insert races (parallel UDP lookups, DNS) happen on healthy hosts.
    "nf_conntrack.insert_failed",
    "nf_conntrack.early_drop",
    // TCP teardown and old or out-of-window segments: duplicates, late packets, resets.
    "Tcp.OutRsts",
    "Tcp.AttemptFails",
    "Tcp.EstabResets",
    "TcpExt.TCPAbortOn*",
    "TcpExt.PAWS*",
    "TcpExt.TCPACKSkipped*",
    "TcpExt.OutOfWindowIcmps",
    "TcpExt.LockDroppedIcmps",
    "TcpExt.TW*",
    "TcpExt.TCPChallengeACK",
    "TcpExt.TCPSYNChallenge",
    "TcpExt.EmbryonicRsts",
    "NOT_SPECIFIED",
    "NO_SOCKET",
    "SOCKET_CLOSE",
    "OTHERHOST",
    "TCP_OLD_SEQUENCE",
    "TCP_OLD_DATA",
    "TCP_OLD_ACK",
    "TCP_INVALID_SEQUENCE",
    "TCP_CLOSE",
    "TCP_RESET",
    "TCP_FLAGS",
    "TCP_OFO_DROP",
    "UNHANDLED_PROTO",
    // Strain that comes with any load: judged by a rate, like the noisy losses.
    "qdisc.requeues",
    "IP_NOPROTO",
    "PKT_TOO_SMALL",
];

/// The floor of a loss counter or drop reason.
pub fn floor(key: &str) -> Floor {
    let noisy = NOISY_KEYS.iter().any(|k| match k.strip_suffix('*') {
        Some(family) => key.starts_with(family),
        None => key == *k,
    });
    if noisy { NOISY } else { Floor::FirstEvent }
}

impl Floor {
    /// Whether `delta` events at `rate` per second clear the floor against `traffic` per
    /// second (0 when the stage has no traffic counter).
    pub fn cleared(self, delta: u64, rate: f64, traffic: f64) -> bool {
        match self {
            Floor::FirstEvent => delta >= 1,
            Floor::Noisy { events, share } => {
                delta >= events && (traffic <= 0.0 || rate / traffic >= share)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_counters_count_from_the_first_event_and_noisy_ones_need_a_rate() {
        assert_eq!(floor("TcpExt.RcvPruned"), Floor::FirstEvent);
        assert!(floor("TcpExt.RcvPruned").cleared(5, 1.25, 10_000.0));
        assert_eq!(floor("Udp.NoPorts"), NOISY);
        assert!(!NOISY.cleared(5, 1.25, 0.0));
        assert!(!NOISY.cleared(50, 10.0, 100_000.0), "below a thousandth");
        assert!(NOISY.cleared(500, 100.0, 10_000.0));
        assert_eq!(floor("Icmp.InErrors"), NOISY);
        assert_eq!(floor("Icmp6InErrors"), NOISY);
        assert_eq!(floor("TcpExt.TCPAbortOnData"), NOISY);
        assert_eq!(floor("TcpExt.TCPAbortFailed"), Floor::FirstEvent);
        assert_eq!(floor("Udp6InErrors"), Floor::FirstEvent);
    }

    #[test]
    fn every_noisy_key_names_something_the_catalog_or_the_kernel_knows() {
        for k in NOISY_KEYS {
            let family = k.ends_with('*');
            let known = super::super::item(k).is_some()
                || super::super::group(k).is_some()
                || super::super::reason(k).is_some()
                || family;
            assert!(known, "{k}");
        }
    }
}
