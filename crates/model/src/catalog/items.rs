//! Every counter, tunable, drop reason and tool pktmap knows, with the stage it belongs to.

use super::{Class, Group, Item, ItemKind};
use Class::*;

const STATS: &str = "/sys/class/net/DEV/statistics";
const DEV: &str = "/proc/net/dev";
const SOFTNET: &str = "/proc/net/softnet_stat";
const SNMP: &str = "/proc/net/snmp";
const NETSTAT: &str = "/proc/net/netstat";
const SNMP6: &str = "/proc/net/snmp6";
const CT_STAT: &str = "/proc/net/stat/nf_conntrack";
const ETHTOOL: &str = "ethtool netlink / SIOCETHTOOL";
const SOCK_DIAG: &str = "sock_diag netlink";
const RTNL_QDISC: &str = "rtnetlink qdisc dump";
const KFREE: &str = "tracepoint skb:kfree_skb";
const NFT: &str = "nfnetlink nftables rule dump / ip_tables getsockopt";

const fn item(
    key: &'static str,
    kind: ItemKind,
    stage: &'static str,
    source: &'static str,
) -> Item {
    Item {
        key,
        kind,
        stage,
        class: Info,
        source,
        about: "",
        commands: &[],
        values: &[],
        same_as: None,
        includes: &[],
    }
}

const fn counter(
    key: &'static str,
    stage: &'static str,
    class: Class,
    source: &'static str,
) -> Item {
    item(key, ItemKind::Counter, stage, source).class(class)
}

const fn sysctl(key: &'static str, stage: &'static str) -> Item {
    item(key, ItemKind::Sysctl, stage, "/proc/sys")
}

impl Item {
    const fn class(mut self, class: Class) -> Item {
        self.class = class;
        self
    }
    const fn about(mut self, about: &'static str) -> Item {
        self.about = about;
        self
    }
    const fn cmds(mut self, commands: &'static [&'static str]) -> Item {
        self.commands = commands;
        self
    }
    const fn values(mut self, values: &'static [&'static str]) -> Item {
        self.values = values;
        self
    }
    const fn includes(mut self, others: &'static [&'static str]) -> Item {
        self.includes = others;
        self
    }
    const fn same_as(mut self, other: &'static str) -> Item {
        self.same_as = Some(other);
        self
    }
}

const IP_LINK: &[&str] = &["ip -s -s link show dev DEV"];

pub static ITEMS: &[Item] = &[
    // ---- link counters, sysfs (the full set, 64-bit) ----
    counter("rx_packets", "rx.1", Traffic, STATS).about("Packets the device received.").cmds(IP_LINK),
    counter("rx_bytes", "rx.1", Info, STATS).about("Bytes the device received.").cmds(IP_LINK),
    counter("rx_errors", "rx.1", Error, STATS)
        .includes(&["rx_crc_errors", "rx_frame_errors", "rx_length_errors", "rx_fifo_errors", "rx_over_errors", "rx_missed_errors"]).about("All receive errors the driver reports, summed.").cmds(IP_LINK),
    counter("rx_crc_errors", "rx.1", Error, STATS)
        .about("Frames whose frame check sequence did not match: a cable, optic or port problem.")
        .cmds(&["ip -s -s link show dev DEV", "ethtool -S DEV | grep -i crc"]),
    counter("rx_frame_errors", "rx.1", Error, STATS).about("Frames with alignment errors.").cmds(IP_LINK),
    counter("rx_length_errors", "rx.1", Error, STATS).about("Frames too short or too long for the link.").cmds(IP_LINK),
    counter("rx_compressed", "rx.1", Info, STATS).about("Compressed packets received (legacy links only).").cmds(IP_LINK),
    counter("multicast", "rx.1", Info, STATS).about("Multicast frames received.").cmds(IP_LINK),
    counter("rx_missed_errors", "rx.3", Drop, STATS)
        .about("Frames the card could not place because the RX ring had no free descriptor.")
        .cmds(&["ip -s -s link show dev DEV", "ethtool -g DEV", "ethtool -G DEV rx MAX"]),
    counter("rx_fifo_errors", "rx.3", Drop, STATS)
        .about("Receive FIFO overruns: the card's buffer filled before the ring could take the data.")
        .cmds(&["ip -s -s link show dev DEV", "ethtool -g DEV"]),
    counter("rx_over_errors", "rx.3", Drop, STATS)
        .about("Receiver overruns: frames lost because the ring was full.")
        .cmds(&["ip -s -s link show dev DEV", "ethtool -g DEV"]),
    counter("rx_dropped", "rx.3", Drop, STATS)
        .includes(&["softnet.dropped"])
        .about("Packets the driver or the core dropped without an error: full ring, no memory, \
                or a frame the stack did not want. Its meaning varies by driver.")
        .cmds(&["ip -s -s link show dev DEV", "ethtool -S DEV | grep -iE 'drop|miss'"]),
    counter("rx_nohandler", "rx.7", Drop, STATS)
        .about("Packets dropped because no protocol handler wanted them (unknown EtherType, \
                or a bond slave's frame with nowhere to go).")
        .cmds(IP_LINK),
    counter("rx_otherhost_dropped", "rx.8", Drop, STATS)
        .about("Packets addressed to another host's MAC, dropped by IP input (counted since 6.0).")
        .cmds(IP_LINK),
    counter("tx_packets", "tx.5", Traffic, STATS).about("Packets the device sent.").cmds(IP_LINK),
    counter("tx_bytes", "tx.5", Info, STATS).about("Bytes the device sent.").cmds(IP_LINK),
    counter("tx_dropped", "tx.4", Drop, STATS)
        .about("Packets the driver dropped on transmit, most often for lack of ring space or memory.")
        .cmds(&["ip -s -s link show dev DEV", "ethtool -g DEV"]),
    counter("tx_errors", "tx.5", Error, STATS)
        .includes(&["tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors", "tx_heartbeat_errors", "tx_window_errors"]).about("All transmit errors the driver reports, summed.").cmds(IP_LINK),
    counter("tx_fifo_errors", "tx.4", Error, STATS).about("Transmit FIFO underruns.").cmds(IP_LINK),
    counter("tx_aborted_errors", "tx.5", Error, STATS).about("Transmissions the card aborted.").cmds(IP_LINK),
    counter("tx_carrier_errors", "tx.5", Error, STATS).about("Transmit failures for loss of carrier: link flaps.").cmds(IP_LINK),
    counter("tx_heartbeat_errors", "tx.5", Error, STATS).about("Heartbeat (SQE test) errors on old links.").cmds(IP_LINK),
    counter("tx_window_errors", "tx.5", Error, STATS).about("Late collisions on half-duplex links.").cmds(IP_LINK),
    counter("collisions", "tx.5", Error, STATS).about("Collisions on half-duplex links.").cmds(IP_LINK),
    counter("tx_compressed", "tx.5", Info, STATS).about("Compressed packets sent (legacy links only).").cmds(IP_LINK),
    // ---- /proc/net/dev: the same devices, fewer and some summed columns ----
    counter("netdev.rx_packets", "rx.1", Traffic, DEV).same_as("rx_packets")
        .about("Packets received, as /proc/net/dev prints them.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.rx_bytes", "rx.1", Info, DEV).same_as("rx_bytes")
        .about("Bytes received, as /proc/net/dev prints them.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.rx_errs", "rx.1", Error, DEV).same_as("rx_errors")
        .about("Receive errors, as /proc/net/dev prints them.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.rx_drop", "rx.3", Drop, DEV).same_as("rx_dropped").includes(&["softnet.dropped"])
        .about("rx_dropped plus rx_missed_errors: /proc/net/dev sums the two.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.rx_fifo", "rx.3", Drop, DEV).same_as("rx_fifo_errors")
        .about("Receive FIFO overruns, as /proc/net/dev prints them.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.rx_frame", "rx.1", Error, DEV).same_as("rx_frame_errors")
        .about("Length, overrun, CRC and frame errors summed, as /proc/net/dev prints them.")
        .cmds(&["cat /proc/net/dev"]),
    counter("netdev.rx_compressed", "rx.1", Info, DEV).same_as("rx_compressed")
        .about("Compressed packets received, from /proc/net/dev.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.rx_multicast", "rx.1", Info, DEV).same_as("multicast")
        .about("Multicast frames received, from /proc/net/dev.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.tx_packets", "tx.5", Traffic, DEV).same_as("tx_packets")
        .about("Packets sent, as /proc/net/dev prints them.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.tx_bytes", "tx.5", Info, DEV).same_as("tx_bytes")
        .about("Bytes sent, as /proc/net/dev prints them.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.tx_errs", "tx.5", Error, DEV).same_as("tx_errors")
        .about("Transmit errors, as /proc/net/dev prints them.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.tx_drop", "tx.4", Drop, DEV).same_as("tx_dropped")
        .about("Transmit drops, as /proc/net/dev prints them.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.tx_fifo", "tx.4", Error, DEV).same_as("tx_fifo_errors")
        .about("Transmit FIFO errors, as /proc/net/dev prints them.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.tx_colls", "tx.5", Error, DEV).same_as("collisions")
        .about("Collisions, as /proc/net/dev prints them.").cmds(&["cat /proc/net/dev"]),
    counter("netdev.tx_carrier", "tx.5", Error, DEV).same_as("tx_carrier_errors")
        .about("Carrier, aborted, window and heartbeat errors summed, as /proc/net/dev prints them.")
        .cmds(&["cat /proc/net/dev"]),
    counter("netdev.tx_compressed", "tx.5", Info, DEV).same_as("tx_compressed")
        .about("Compressed packets sent, from /proc/net/dev.").cmds(&["cat /proc/net/dev"]),
    // ---- device attributes (sysfs) ----
    item("link.kind", ItemKind::Sysfs, "rx.1", "/sys/class/net/DEV")
        .about("What the device is: physical (has a bus device), loopback, bridge, veth (a \
                virtual device linked to a peer) or another virtual device.")
        .cmds(&["ip -d link show dev DEV"]),
    item("link.driver", ItemKind::Sysfs, "rx.1", "/sys/class/net/DEV/device/driver")
        .about("The kernel driver behind a physical device.")
        .cmds(&["ethtool -i DEV"]),
    item("link.operstate", ItemKind::Sysfs, "rx.1", "/sys/class/net/DEV/operstate")
        .about("Whether the link is up, down or dormant.")
        .cmds(&["ip link show dev DEV"]),
    item("link.mtu", ItemKind::Sysfs, "rx.1", "/sys/class/net/DEV/mtu")
        .about("Largest packet the device sends or receives without fragmenting.")
        .cmds(&["ip link show dev DEV"]),
    item("link.speed", ItemKind::Sysfs, "rx.1", "/sys/class/net/DEV/speed")
        .about("Negotiated link speed in Mb/s; absent on virtual devices.")
        .cmds(&["ethtool DEV"]),
    item("link.numa_node", ItemKind::Sysfs, "rx.2", "/sys/class/net/DEV/device/numa_node")
        .about("NUMA node the card is attached to: its queues are best served by CPUs of that node.")
        .cmds(&["cat /sys/class/net/DEV/device/numa_node", "lscpu"]),
    item("link.rx_queues", ItemKind::Sysfs, "rx.2", "/sys/class/net/DEV/queues")
        .about("Receive queues the kernel set up for the device.")
        .cmds(&["ls /sys/class/net/DEV/queues", "ethtool -l DEV"]),
    item("link.tx_queues", ItemKind::Sysfs, "tx.4", "/sys/class/net/DEV/queues")
        .about("Transmit queues the kernel set up for the device.")
        .cmds(&["ls /sys/class/net/DEV/queues", "ethtool -l DEV"]),
    item("link.tx_queue_len", ItemKind::Sysfs, "tx.3", "/sys/class/net/DEV/tx_queue_len")
        .about("Default queue length given to the device's qdiscs, in packets.")
        .cmds(&["ip link show dev DEV"]),
    item("link.qdisc", ItemKind::Link, "tx.3", "rtnetlink link dump")
        .about("The root qdisc the device transmits through.")
        .cmds(&["tc qdisc show dev DEV"]),
    item("link.iflink", ItemKind::Sysfs, "ct.veth", "/sys/class/net/DEV/iflink")
        .about("The device this one is linked to: a veth's peer (by index when it lives in \
                another namespace), a VLAN's parent.")
        .cmds(&["ip -d link show dev DEV"]),
    item("link.peer_index", ItemKind::Link, "ct.veth", "rtnetlink link dump")
        .values(&["link.peer", "link.peer_netnsid"])
        .about("A veth's other end: its interface index, and with --all-netns the namespace and \
                name it has there, so the container leg reads as one path.")
        .cmds(&["ip -d link show type veth", "ethtool -S DEV | grep peer_ifindex"]),
    item("link.master", ItemKind::Sysfs, "ct.bridge", "/sys/class/net/DEV/master")
        .about("The bridge or bond this device is a port of.")
        .cmds(&["bridge link show"]),
    // ---- ethtool ----
    item("ethtool.stats", ItemKind::Ethtool, "rx.1", ETHTOOL)
        .about("The driver's own counters, per queue where the driver keeps them; the only place \
                many ring and no-buffer drops are visible.")
        .cmds(&["ethtool -S DEV"]),
    item("ethtool.ring.rx", ItemKind::Ethtool, "rx.3", ETHTOOL)
        .about("Descriptors in each RX ring, and the most the card allows. A bigger ring absorbs \
                longer bursts at the cost of memory and cache.")
        .cmds(&["ethtool -g DEV", "ethtool -G DEV rx N"]),
    item("ethtool.ring.tx", ItemKind::Ethtool, "tx.4", ETHTOOL)
        .about("Descriptors in each TX ring, and the most the card allows.")
        .cmds(&["ethtool -g DEV", "ethtool -G DEV tx N"]),
    item("ethtool.channels.combined", ItemKind::Ethtool, "rx.2", ETHTOOL)
        .about("How many queue pairs the card uses; each can be served by its own CPU.")
        .cmds(&["ethtool -l DEV", "ethtool -L DEV combined N"]),
    item("ethtool.rss.indirection", ItemKind::Ethtool, "rx.2", ETHTOOL)
        .about("The table that maps RSS hash values to receive queues; it decides how evenly \
                flows spread.")
        .cmds(&["ethtool -x DEV", "ethtool -X DEV equal N"]),
    item("ethtool.coalesce.rx-usecs", ItemKind::Ethtool, "rx.4", ETHTOOL)
        .about("How long the card waits after a packet before interrupting: lower for latency, \
                higher for fewer interrupts.")
        .cmds(&["ethtool -c DEV", "ethtool -C DEV rx-usecs N"]),
    item("ethtool.coalesce.rx-frames", ItemKind::Ethtool, "rx.4", ETHTOOL)
        .about("How many packets the card gathers before interrupting.")
        .cmds(&["ethtool -c DEV", "ethtool -C DEV rx-frames N"]),
    item("ethtool.coalesce.adaptive-rx", ItemKind::Ethtool, "rx.4", ETHTOOL)
        .about("Whether the driver tunes coalescing itself from the traffic it sees.")
        .cmds(&["ethtool -c DEV", "ethtool -C DEV adaptive-rx on"]),
    item("ethtool.features.generic-receive-offload", ItemKind::Ethtool, "rx.6", ETHTOOL)
        .about("GRO: merges segments of a flow during NAPI poll. Saves CPU; holds packets briefly \
                and changes packet boundaries on forwarding hosts.")
        .cmds(&["ethtool -k DEV", "ethtool -K DEV gro on"]),
    item("ethtool.features.generic-segmentation-offload", ItemKind::Ethtool, "tx.2", ETHTOOL)
        .about("GSO: the stack passes large buffers down and cuts them into segments just before \
                the driver when the card cannot.")
        .cmds(&["ethtool -k DEV", "ethtool -K DEV gso on"]),
    item("ethtool.features.tcp-segmentation-offload", ItemKind::Ethtool, "tx.5", ETHTOOL)
        .about("TSO: the card cuts large TCP buffers into segments itself.")
        .cmds(&["ethtool -k DEV", "ethtool -K DEV tso on"]),
    item("ethtool.driver", ItemKind::Ethtool, "rx.1", ETHTOOL)
        .values(&["ethtool.bus"])
        .about("The driver and bus address ethtool reports for the device.")
        .cmds(&["ethtool -i DEV"]),
    item("ethtool.channels.rx", ItemKind::Ethtool, "rx.2", ETHTOOL)
        .values(&["ethtool.channels.tx", "ethtool.channels.other"])
        .about("Separate RX-only and TX-only queues, for cards that do not pair them.")
        .cmds(&["ethtool -l DEV"]),
    item("ethtool.features.receive-hashing", ItemKind::Ethtool, "rx.2", ETHTOOL)
        .values(&["ethtool.features.ntuple-filters"])
        .about("Whether the card hashes flows to spread them over queues (RSS), and whether \
                n-tuple filters can steer chosen flows to chosen queues.")
        .cmds(&["ethtool -k DEV", "ethtool -n DEV"]),
    item("ethtool.features.large-receive-offload", ItemKind::Ethtool, "rx.6", ETHTOOL)
        .about("LRO: the card merges segments itself; unlike GRO it loses headers, so it must be \
                off on a host that forwards.")
        .cmds(&["ethtool -k DEV", "ethtool -K DEV lro off"]),
    item("ethtool.coalesce.tx-usecs", ItemKind::Ethtool, "tx.4", ETHTOOL)
        .values(&["ethtool.coalesce.adaptive-tx"])
        .about("Transmit completion coalescing: how long the card waits before reporting sent packets.")
        .cmds(&["ethtool -c DEV"]),
    // ---- interrupts ----
    item("/proc/interrupts", ItemKind::Irq, "rx.4", "/proc/interrupts")
        .class(Traffic)
        .values(&["interrupts"])
        .about("Interrupt counts per CPU. pktmap keeps the lines of network queues and names the \
                device and queue behind each.")
        .cmds(&["grep DEV /proc/interrupts"]),
    item("smp_affinity_list", ItemKind::Irq, "rx.4", "/proc/irq/N/smp_affinity_list")
        .about("The CPUs allowed to take an IRQ. All queue IRQs on one CPU means one CPU does all \
                the receive work.")
        .cmds(&["cat /proc/irq/N/smp_affinity_list", "echo CPU > /proc/irq/N/smp_affinity_list"]),
    item("irqbalance", ItemKind::Irq, "rx.4", "/proc/*/comm")
        .values(&["irqbalance.running"])
        .about("A daemon that rewrites IRQ affinities periodically; it undoes affinities set by hand.")
        .cmds(&["systemctl status irqbalance"]),
    // ---- softnet ----
    counter("softnet.processed", "rx.5", Traffic, SOFTNET)
        .about("Packets this CPU's softirq took from devices and its backlog (column 1).")
        .cmds(&["cat /proc/net/softnet_stat"]),
    counter("softnet.dropped", "rx.5", Drop, SOFTNET)
        .about("Packets dropped because this CPU's input backlog was full (column 2): raise \
                netdev_max_backlog or spread the work.")
        .cmds(&["cat /proc/net/softnet_stat", "sysctl net.core.netdev_max_backlog"]),
    counter("softnet.time_squeeze", "rx.5", Strain, SOFTNET)
        .about("Rounds of net_rx_action that stopped with work left because the packet or time \
                budget ran out (column 3). Growing steadily: the CPU cannot keep up.")
        .cmds(&["cat /proc/net/softnet_stat", "sysctl net.core.netdev_budget net.core.netdev_budget_usecs"]),
    counter("softnet.cpu_collision", "tx.4", Info, SOFTNET)
        .about("Times this CPU found a TX queue lock taken (column 9; always 0 since 4.x).")
        .cmds(&["cat /proc/net/softnet_stat"]),
    counter("softnet.received_rps", "rx.7", Info, SOFTNET)
        .about("Times another CPU woke this one to process packets RPS steered here (column 10).")
        .cmds(&["cat /proc/net/softnet_stat"]),
    counter("softnet.flow_limit_count", "rx.7", Drop, SOFTNET)
        .about("Packets dropped by the backlog flow limit, which keeps one big flow from filling \
                the backlog (column 11).")
        .cmds(&["cat /proc/net/softnet_stat", "sysctl net.core.flow_limit_cpu_bitmap"]),
    item("softnet.backlog_len", ItemKind::Gauge, "rx.7", SOFTNET)
        .about("Packets waiting in this CPU's backlog right now (column 12, since 5.10).")
        .cmds(&["cat /proc/net/softnet_stat"]),
    item("softnet.input_qlen", ItemKind::Gauge, "rx.7", SOFTNET)
        .about("Packets in the backlog's input queue right now (column 14, since 6.x).")
        .cmds(&["cat /proc/net/softnet_stat"]),
    item("softnet.process_qlen", ItemKind::Gauge, "rx.7", SOFTNET)
        .about("Packets in the backlog's process queue right now (column 15, since 6.x).")
        .cmds(&["cat /proc/net/softnet_stat"]),
    counter("NET_RX", "rx.5", Info, "/proc/softirqs")
        .values(&["softirqs.NET_RX"])
        .about("NET_RX softirq runs per CPU: where receive processing happens.")
        .cmds(&["grep NET_RX /proc/softirqs"]),
    counter("NET_TX", "tx.4", Info, "/proc/softirqs")
        .values(&["softirqs.NET_TX"])
        .about("NET_TX softirq runs per CPU: deferred transmit completion and qdisc runs.")
        .cmds(&["grep NET_TX /proc/softirqs"]),
    item("ksoftirqd", ItemKind::Process, "rx.5", "/proc/PID/stat")
        .values(&["ksoftirqd.cpu_ms"])
        .about("CPU time of the per-CPU thread that takes over softirq work when it runs too \
                long; busy ksoftirqd means receive work is competing with ordinary tasks.")
        .cmds(&["top -p $(pgrep -d, ksoftirqd)"]),
    // ---- sysctls ----
    sysctl("net.core.netdev_budget", "rx.5")
        .about("Packets one net_rx_action round may process across all devices (default 300).")
        .cmds(&["sysctl net.core.netdev_budget", "sysctl -w net.core.netdev_budget=600"]),
    sysctl("net.core.netdev_budget_usecs", "rx.5")
        .about("Microseconds one net_rx_action round may run (default 2000).")
        .cmds(&["sysctl net.core.netdev_budget_usecs", "sysctl -w net.core.netdev_budget_usecs=4000"]),
    sysctl("net.core.dev_weight", "rx.6")
        .about("Packets one device's NAPI poll may take per call (default 64).")
        .cmds(&["sysctl net.core.dev_weight"]),
    sysctl("net.core.netdev_max_backlog", "rx.7")
        .about("Length of each CPU's input backlog, used by RPS, veth and non-NAPI drivers \
                (default 1000). Global, not per namespace.")
        .cmds(&["sysctl net.core.netdev_max_backlog", "sysctl -w net.core.netdev_max_backlog=16384"]),
    sysctl("net.core.rps_sock_flow_entries", "rx.7")
        .about("Size of the global RFS table of flows and the CPUs their readers run on; 0 \
                turns RFS off.")
        .cmds(&["sysctl net.core.rps_sock_flow_entries", "sysctl -w net.core.rps_sock_flow_entries=32768"]),
    sysctl("net.core.flow_limit_table_len", "rx.7")
        .about("Size of the per-CPU table the backlog flow limit uses.")
        .cmds(&["sysctl net.core.flow_limit_table_len"]),
    sysctl("net.netfilter.nf_conntrack_max", "rx.8")
        .about("Most conntrack entries the table may hold; when full, new flows are dropped. \
                Global, shared by every namespace.")
        .cmds(&["sysctl net.netfilter.nf_conntrack_max", "sysctl -w net.netfilter.nf_conntrack_max=N"]),
    sysctl("net.netfilter.nf_conntrack_buckets", "rx.8")
        .about("Hash buckets of the conntrack table; lookups slow down when entries far exceed it.")
        .cmds(&["sysctl net.netfilter.nf_conntrack_buckets"]),
    item("net.netfilter.nf_conntrack_count", ItemKind::Gauge, "rx.8", "/proc/sys/net/netfilter/nf_conntrack_count")
        .about("Conntrack entries in use now; compare with nf_conntrack_max.")
        .cmds(&["sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max", "conntrack -C"]),
    sysctl("net.ipv4.conf.all.rp_filter", "rx.8")
        .about("Reverse path filter: 1 drops packets arriving on an interface the route back \
                would not use; asymmetric routing makes it drop good traffic.")
        .cmds(&["sysctl net.ipv4.conf.all.rp_filter"]),
    sysctl("net.ipv4.conf.default.rp_filter", "rx.8")
        .about("Reverse path filter given to interfaces created from now on.")
        .cmds(&["sysctl net.ipv4.conf.default.rp_filter"]),
    sysctl("net.ipv4.ip_forward", "rx.8")
        .about("Whether this host routes packets between interfaces (a node with containers does).")
        .cmds(&["sysctl net.ipv4.ip_forward"]),
    sysctl("net.ipv4.tcp_congestion_control", "rx.9")
        .about("The congestion control new TCP connections use (cubic, bbr, dctcp...).")
        .cmds(&["sysctl net.ipv4.tcp_congestion_control", "ss -tin | grep -E 'cubic|bbr'"]),
    sysctl("net.ipv4.tcp_available_congestion_control", "rx.9")
        .about("Congestion control modules loaded and usable.")
        .cmds(&["sysctl net.ipv4.tcp_available_congestion_control"]),
    sysctl("net.ipv4.tcp_ecn", "rx.9")
        .about("ECN negotiation: 1 asks for it, 2 only accepts it. DCTCP needs it on.")
        .cmds(&["sysctl net.ipv4.tcp_ecn"]),
    sysctl("net.ipv4.tcp_syncookies", "rx.10")
        .about("Whether SYN cookies answer when the SYN queue is full.")
        .cmds(&["sysctl net.ipv4.tcp_syncookies"]),
    sysctl("net.core.rmem_max", "rx.10")
        .about("Largest receive buffer an application may ask for with SO_RCVBUF.")
        .cmds(&["sysctl net.core.rmem_max", "sysctl -w net.core.rmem_max=N"]),
    sysctl("net.core.rmem_default", "rx.10")
        .about("Receive buffer of a new non-TCP socket (UDP, raw).")
        .cmds(&["sysctl net.core.rmem_default"]),
    sysctl("net.ipv4.tcp_rmem", "rx.10")
        .about("TCP receive buffer minimum, starting size and autotuning ceiling, in bytes; the \
                ceiling should cover the bandwidth-delay product.")
        .cmds(&["sysctl net.ipv4.tcp_rmem", "sysctl -w net.ipv4.tcp_rmem='4096 131072 N'"]),
    sysctl("net.ipv4.tcp_moderate_rcvbuf", "rx.10")
        .about("Whether TCP grows receive buffers automatically.")
        .cmds(&["sysctl net.ipv4.tcp_moderate_rcvbuf"]),
    sysctl("net.ipv4.tcp_mem", "rx.10")
        .about("Pages all TCP sockets together may use: below pressure, pressure, hard limit.")
        .cmds(&["sysctl net.ipv4.tcp_mem"]),
    sysctl("net.ipv4.udp_mem", "rx.10")
        .about("Pages all UDP sockets together may use: below pressure, pressure, hard limit.")
        .cmds(&["sysctl net.ipv4.udp_mem"]),
    sysctl("net.core.somaxconn", "rx.10")
        .about("Ceiling on any listen backlog: a larger backlog passed to listen() is cut to this.")
        .cmds(&["sysctl net.core.somaxconn", "ss -lnt"]),
    sysctl("net.ipv4.tcp_max_syn_backlog", "rx.10")
        .about("How many half-open connections (SYN received) a listener may hold.")
        .cmds(&["sysctl net.ipv4.tcp_max_syn_backlog"]),
    sysctl("net.core.busy_read", "rx.11")
        .about("Microseconds a blocking read busy-polls the device before sleeping (0 = off).")
        .cmds(&["sysctl net.core.busy_read"]),
    sysctl("net.core.busy_poll", "rx.11")
        .about("Microseconds poll/select busy-poll before sleeping (0 = off).")
        .cmds(&["sysctl net.core.busy_poll"]),
    sysctl("net.core.wmem_max", "tx.1")
        .about("Largest send buffer an application may ask for with SO_SNDBUF.")
        .cmds(&["sysctl net.core.wmem_max", "sysctl -w net.core.wmem_max=N"]),
    sysctl("net.core.wmem_default", "tx.1")
        .about("Send buffer of a new non-TCP socket.")
        .cmds(&["sysctl net.core.wmem_default"]),
    sysctl("net.ipv4.tcp_wmem", "tx.1")
        .about("TCP send buffer minimum, starting size and autotuning ceiling, in bytes.")
        .cmds(&["sysctl net.ipv4.tcp_wmem", "sysctl -w net.ipv4.tcp_wmem='4096 16384 N'"]),
    sysctl("net.ipv4.tcp_notsent_lowat", "tx.1")
        .about("Unsent bytes above which a TCP socket stops reporting writable; lowering it \
                keeps queues short for latency-sensitive senders.")
        .cmds(&["sysctl net.ipv4.tcp_notsent_lowat"]),
    sysctl("net.core.default_qdisc", "tx.3")
        .about("The qdisc new devices get (fq_codel by default; fq for BBR pacing).")
        .cmds(&["sysctl net.core.default_qdisc", "tc qdisc show"]),
    // ---- per-queue steering ----
    item("rps_cpus", ItemKind::Sysfs, "rx.7", "/sys/class/net/DEV/queues/rx-N/rps_cpus")
        .about("CPUs RPS may steer this receive queue's packets to (a hex mask; 0 = off).")
        .cmds(&["cat /sys/class/net/DEV/queues/rx-N/rps_cpus", "echo MASK > /sys/class/net/DEV/queues/rx-N/rps_cpus"]),
    item("rps_flow_cnt", ItemKind::Sysfs, "rx.7", "/sys/class/net/DEV/queues/rx-N/rps_flow_cnt")
        .about("This queue's share of the RFS flow table: rps_sock_flow_entries divided by the \
                number of queues.")
        .cmds(&["cat /sys/class/net/DEV/queues/rx-N/rps_flow_cnt"]),
    item("xps_cpus", ItemKind::Sysfs, "tx.4", "/sys/class/net/DEV/queues/tx-N/xps_cpus")
        .about("CPUs that transmit on this TX queue (a hex mask).")
        .cmds(&["cat /sys/class/net/DEV/queues/tx-N/xps_cpus"]),
    item("xdp", ItemKind::Link, "rx.7", "rtnetlink link dump")
        .about("An XDP program attached to the device and its mode: native (in the driver), \
                offload (on the card) or generic (after the skb is built, little gain).")
        .cmds(&["ip link show dev DEV", "bpftool net list"]),
    item("tc.ingress.filters", ItemKind::Qdisc, "rx.7", "rtnetlink filter dump")
        .about("The tc filters attached to a device's ingress hook, by kind (bpf, flower, u32, matchall).")
        .cmds(&["tc -s filter show dev DEV ingress"]),
    item("tc.ingress", ItemKind::Qdisc, "rx.7", RTNL_QDISC)
        .values(&["qdisc.ingress.packets", "qdisc.ingress.bytes", "qdisc.ingress.overlimits", "qdisc.ingress.requeues", "qdisc.ingress.backlog", "qdisc.ingress.qlen"])
        .about("The ingress or clsact qdisc: where tc filters see received packets.")
        .cmds(&["tc qdisc show dev DEV ingress", "tc -s filter show dev DEV ingress"]),
    // ---- IP ----
    counter("neigh.unresolved_discards", "tx.2", Drop, "/proc/net/stat/arp_cache")
        .about("Packets discarded while waiting for an ARP answer that never came (or whose queue was full): the next hop does not answer.")
        .cmds(&["ip neigh show nud failed", "ip -s neigh"]),
    counter("neigh.table_fulls", "tx.2", Drop, "/proc/net/stat/arp_cache")
        .about("ARP entries that could not be created because the table was full: new neighbours cannot be reached (gc_thresh3 too low for this many peers).")
        .cmds(&["sysctl net.ipv4.neigh.default.gc_thresh3", "ip -s neigh | wc -l"]),
    counter("neigh6.unresolved_discards", "tx.2", Drop, "/proc/net/stat/ndisc_cache")
        .about("IPv6 packets discarded while neighbour discovery never resolved the next hop.")
        .cmds(&["ip -6 neigh show nud failed"]),
    counter("neigh6.table_fulls", "tx.2", Drop, "/proc/net/stat/ndisc_cache")
        .about("IPv6 neighbour entries that could not be created because the table was full.")
        .cmds(&["sysctl net.ipv6.neigh.default.gc_thresh3"]),
    counter("rt_cache.in_martian_src", "rx.8", Drop, "/proc/net/stat/rt_cache")
        .about("Received packets dropped for an impossible source address (a martian: loopback, multicast, one of this host's own, or one rp_filter rejects).")
        .cmds(&["sysctl -w net.ipv4.conf.all.log_martians=1", "dmesg | grep -i martian"]),
    counter("rt_cache.in_martian_dst", "rx.8", Drop, "/proc/net/stat/rt_cache")
        .about("Received packets dropped for an impossible destination address.")
        .cmds(&["sysctl -w net.ipv4.conf.all.log_martians=1"]),
    counter("Ip.InReceives", "rx.8", Traffic, SNMP).about("IP packets handed to IP input.").cmds(&["nstat -az Ip.InReceives"]),
    counter("ip.undelivered", "rx.8", Drop, "derived from /proc/net/snmp and netstat")
        .includes(&["netfilter.in_drops", "netfilter.forward_drops"])
        .about("IP packets received that no IP counter accounts for: not delivered, forwarded, or counted as dropped or malformed. A netfilter rule (or a full conntrack table) drops packets without moving any IP counter, so this gap is where its drops show.")
        .cmds(&["iptables -L -v -n -x", "nft list ruleset", "pktmap trace drops"]),
    item("netfilter.rules", ItemKind::Gauge, "rx.8", NFT)
        .about("Firewall rules in the namespace, nftables and legacy iptables together.")
        .cmds(&["nft list ruleset | grep -c .", "iptables-legacy-save | grep -c '^-A'"]),
    counter("netfilter.in_drops", "rx.8", Drop, NFT)
        .about("Packets an IPv4 or inet firewall rule (or a chain's drop policy) on PREROUTING or INPUT discarded, by the rule's own counter; one line per rule. These are the packets IP received and never accounted for.")
        .cmds(&["nft -a list ruleset", "iptables -L -v -n -x --line-numbers", "pktmap diagnose"]),
    counter("netfilter.in6_drops", "rx.8", Drop, NFT)
        .about("Packets an IPv6 firewall rule (or a chain's drop policy) on PREROUTING or INPUT discarded, by the rule's own counter; one line per rule.")
        .cmds(&["nft -a list ruleset", "ip6tables -L -v -n -x --line-numbers"]),
    counter("netfilter.forward_drops", "ct.netns", Drop, NFT)
        .about("Packets an IPv4 or inet firewall rule on FORWARD discarded while routing them between interfaces (containers, pods, VMs), by the rule's own counter; one line per rule.")
        .cmds(&["nft -a list ruleset", "iptables -L FORWARD -v -n -x --line-numbers"]),
    counter("netfilter.forward6_drops", "ct.netns", Drop, NFT)
        .about("Packets an IPv6 firewall rule on FORWARD discarded, by the rule's own counter; one line per rule.")
        .cmds(&["nft -a list ruleset", "ip6tables -L FORWARD -v -n -x --line-numbers"]),
    counter("netfilter.out_drops", "tx.2", Drop, NFT)
        .about("Packets a firewall rule on OUTPUT or POSTROUTING (or a netdev egress chain) discarded on their way out; the sender sees EPERM. One line per rule.")
        .cmds(&["nft -a list ruleset", "iptables -L OUTPUT -v -n -x --line-numbers"]),
    counter("netfilter.ingress_drops", "rx.7", Drop, NFT)
        .about("Packets a netdev or inet ingress chain's rule discarded, before IP sees them; one line per rule.")
        .cmds(&["nft -a list ruleset"]),
    counter("netfilter.bridge_drops", "ct.bridge", Drop, NFT)
        .about("Frames a bridge-family rule discarded while a bridge forwarded them; one line per rule.")
        .cmds(&["nft -a list ruleset", "ebtables -L --Lc"]),
    counter("netfilter.arp_drops", "rx.8", Drop, NFT)
        .about("ARP packets an arp-family rule discarded; one line per rule.")
        .cmds(&["nft -a list ruleset", "arptables -L -v -n"]),
    counter("Ip.InDiscards", "rx.8", Drop, SNMP)
        .about("IP input packets discarded for lack of resources, with nothing wrong in them.")
        .cmds(&["nstat -az Ip.InDiscards"]),
    counter("Ip.InHdrErrors", "rx.8", Error, SNMP)
        .includes(&["IpExt.InCsumErrors"])
        .about("IP input packets with a bad header: checksum, version, TTL exceeded, options.")
        .cmds(&["nstat -az Ip.InHdrErrors"]),
    counter("Ip.InAddrErrors", "rx.8", Error, SNMP)
        .about("IP input packets with a destination this host does not accept or route.")
        .cmds(&["nstat -az Ip.InAddrErrors"]),
    counter("Ip.InUnknownProtos", "rx.8", Drop, SNMP)
        .about("IP packets for a protocol with no handler on this host.")
        .cmds(&["nstat -az Ip.InUnknownProtos"]),
    counter("Ip.InDelivers", "rx.8", Info, SNMP).about("IP packets delivered to a transport protocol.").cmds(&["nstat -az Ip.InDelivers"]),
    counter("Ip.ForwDatagrams", "rx.8", Info, SNMP).about("IP packets forwarded to another interface.").cmds(&["nstat -az Ip.ForwDatagrams"]),
    counter("Ip.ReasmFails", "rx.8", Error, SNMP).about("Fragmented packets that could not be reassembled.").cmds(&["nstat -az Ip.ReasmFails"]),
    counter("Ip.OutRequests", "tx.2", Traffic, SNMP).about("IP packets local protocols asked to send.").cmds(&["nstat -az Ip.OutRequests"]),
    counter("Ip.OutDiscards", "tx.2", Drop, SNMP)
        .includes(&["qdisc.drops", "softnet.dropped", "tx_dropped"])
        .about("IP output packets discarded; on veth a drop on the receiving side is also \
                charged here.")
        .cmds(&["nstat -az Ip.OutDiscards"]),
    counter("Ip.OutNoRoutes", "tx.2", Drop, SNMP).about("IP output packets with no route.").cmds(&["nstat -az Ip.OutNoRoutes", "ip route"]),
    counter("Ip.FragFails", "tx.2", Error, SNMP)
        .about("Packets that needed fragmenting but could not be (DF set).")
        .cmds(&["nstat -az Ip.FragFails"]),
    counter("IpExt.InNoRoutes", "rx.8", Drop, NETSTAT).about("Received IP packets with no route.").cmds(&["nstat -az IpExt.InNoRoutes"]),
    counter("IpExt.InTruncatedPkts", "rx.8", Error, NETSTAT).about("Received IP packets shorter than their header claims.").cmds(&["nstat -az IpExt.InTruncatedPkts"]),
    counter("IpExt.InCsumErrors", "rx.8", Error, NETSTAT).about("Received IP packets with a bad checksum.").cmds(&["nstat -az IpExt.InCsumErrors"]),
    counter("Ip6InReceives", "rx.8", Traffic, SNMP6).about("IPv6 packets handed to IPv6 input.").cmds(&["nstat -az Ip6InReceives"]),
    counter("Ip6InDiscards", "rx.8", Drop, SNMP6).about("IPv6 input packets discarded for lack of resources.").cmds(&["nstat -az Ip6InDiscards"]),
    counter("Ip6InHdrErrors", "rx.8", Error, SNMP6).about("IPv6 input packets with a bad header.").cmds(&["nstat -az Ip6InHdrErrors"]),
    counter("Ip6InAddrErrors", "rx.8", Error, SNMP6).about("IPv6 input packets with a destination not accepted here.").cmds(&["nstat -az Ip6InAddrErrors"]),
    counter("Ip6InNoRoutes", "rx.8", Drop, SNMP6).about("IPv6 input packets with no route.").cmds(&["nstat -az Ip6InNoRoutes"]),
    counter("Ip6OutRequests", "tx.2", Traffic, SNMP6).about("IPv6 packets local protocols asked to send.").cmds(&["nstat -az Ip6OutRequests"]),
    counter("Ip6OutDiscards", "tx.2", Drop, SNMP6)
        .includes(&["qdisc.drops", "softnet.dropped", "tx_dropped"]).about("IPv6 output packets discarded.").cmds(&["nstat -az Ip6OutDiscards"]),
    // ---- conntrack per-CPU statistics ----
    counter("nf_conntrack.drop", "rx.8", Drop, CT_STAT)
        .about("Packets dropped because a new conntrack entry could not be made: the table is full.")
        .cmds(&["conntrack -S", "dmesg | grep 'table full'"]),
    counter("nf_conntrack.early_drop", "rx.8", Drop, CT_STAT)
        .about("Entries evicted early to make room in a full table.")
        .cmds(&["conntrack -S"]),
    counter("nf_conntrack.insert_failed", "rx.8", Drop, CT_STAT)
        .about("Entries that could not be inserted, often a race between two packets of a new \
                flow (a known cause of DNS timeouts with UDP).")
        .cmds(&["conntrack -S"]),
    counter("nf_conntrack.invalid", "rx.8", Info, CT_STAT)
        .about("Packets conntrack could not classify; a rule matching INVALID may drop them.")
        .cmds(&["conntrack -S"]),
    counter("nf_conntrack.icmp_error", "rx.8", Error, CT_STAT)
        .about("ICMP errors that matched no tracked connection.")
        .cmds(&["conntrack -S"]),
    item("nf_conntrack.entries", ItemKind::Gauge, "rx.8", CT_STAT)
        .about("Conntrack entries in use, as the statistics table prints it.")
        .cmds(&["conntrack -S"]),
    // ---- TCP and UDP ----
    counter("Tcp.InSegs", "rx.9", Traffic, SNMP).about("TCP segments received.").cmds(&["nstat -az Tcp.InSegs"]),
    counter("Tcp.OutSegs", "tx.2", Info, SNMP).about("TCP segments sent, retransmissions excluded.").cmds(&["nstat -az Tcp.OutSegs"]),
    counter("Tcp.RetransSegs", "rx.9", Strain, SNMP)
        .about("TCP segments sent again: loss on the path or at the peer, or a timeout.")
        .cmds(&["nstat -az Tcp.RetransSegs", "ss -ti"]),
    counter("Tcp.InErrs", "rx.9", Error, SNMP)
        .includes(&["Tcp.InCsumErrors"])
        .about("TCP segments received with errors (bad checksum, bad offset).")
        .cmds(&["nstat -az Tcp.InErrs"]),
    counter("Tcp.InCsumErrors", "rx.9", Error, SNMP).about("TCP segments with a bad checksum.").cmds(&["nstat -az Tcp.InCsumErrors"]),
    counter("Tcp.OutRsts", "rx.9", Info, SNMP).about("TCP resets sent.").cmds(&["nstat -az Tcp.OutRsts"]),
    counter("Tcp.AttemptFails", "rx.9", Info, SNMP).about("Connection attempts that failed.").cmds(&["nstat -az Tcp.AttemptFails"]),
    counter("Tcp.EstabResets", "rx.9", Info, SNMP).about("Established connections reset.").cmds(&["nstat -az Tcp.EstabResets"]),
    item("Tcp.CurrEstab", ItemKind::Gauge, "rx.9", SNMP).about("TCP connections established now.").cmds(&["nstat -az Tcp.CurrEstab"]),
    counter("Tcp.ActiveOpens", "rx.9", Info, SNMP).about("TCP connections this host opened (SYN sent).").cmds(&["nstat -az Tcp.ActiveOpens"]),
    counter("Tcp.PassiveOpens", "rx.9", Info, SNMP).about("TCP connections this host accepted (SYN received by a listener).").cmds(&["nstat -az Tcp.PassiveOpens"]),
    counter("TcpExt.EmbryonicRsts", "rx.9", Info, NETSTAT).about("Resets received for connections still in their handshake.").cmds(&["nstat -az TcpExt.EmbryonicRsts"]),
    counter("TcpExt.LockDroppedIcmps", "rx.9", Info, NETSTAT).about("ICMP errors for a TCP socket ignored because its owner held it locked.").cmds(&["nstat -az TcpExt.LockDroppedIcmps"]),
    counter("TcpExt.OutOfWindowIcmps", "rx.9", Info, NETSTAT).about("ICMP errors ignored because they quote a sequence outside the window.").cmds(&["nstat -az TcpExt.OutOfWindowIcmps"]),
    counter("TcpExt.TCPAbortFailed", "rx.9", Error, NETSTAT).about("Resets TCP wanted to send and could not, for lack of memory.").cmds(&["nstat -az TcpExt.TCPAbortFailed"]),
    counter("TcpExt.TCPAbortOnData", "rx.9", Info, NETSTAT).about("Connections reset because data arrived after the application closed, or it closed with data unread.").cmds(&["nstat -az TcpExt.TCPAbortOnData"]),
    counter("TcpExt.TCPChallengeACK", "rx.9", Info, NETSTAT).about("Challenge ACKs sent in answer to a suspicious reset or SYN (RFC 5961).").cmds(&["nstat -az TcpExt.TCPChallengeACK"]),
    counter("TcpExt.TCPSYNChallenge", "rx.9", Info, NETSTAT).about("Challenge ACKs sent for a SYN on an established connection.").cmds(&["nstat -az TcpExt.TCPSYNChallenge"]),
    counter("TcpExt.TCPDSACKRecv", "rx.9", Info, NETSTAT).about("D-SACK blocks received: the peer reports a segment it got twice, so the retransmission was needless.").cmds(&["nstat -az TcpExt.TCPDSACKRecv"]),
    counter("TcpExt.TCPDSACKRecvSegs", "rx.9", Info, NETSTAT).about("Segments the peer reported as received twice (D-SACK): retransmissions that were not needed.").cmds(&["nstat -az TcpExt.TCPDSACKRecvSegs"]),
    counter("TcpExt.TCPDSACKUndo", "rx.9", Info, NETSTAT).about("Congestion-window reductions undone because D-SACK proved the retransmission needless.").cmds(&["nstat -az TcpExt.TCPDSACKUndo"]),
    counter("TcpExt.TCPSACKReorder", "rx.9", Info, NETSTAT).about("Reordering detected from SACK blocks.").cmds(&["nstat -az TcpExt.TCPSACKReorder"]),
    counter("TcpExt.TCPSpuriousRtxHostQueues", "rx.9", Info, NETSTAT).about("Retransmissions skipped or sent while the original was still in this host's queues (qdisc or driver): not a network loss.").cmds(&["nstat -az TcpExt.TCPSpuriousRtxHostQueues"]),
    counter("TcpExt.IPReversePathFilter", "rx.8", Drop, NETSTAT).about("Packets dropped by the reverse path filter: they arrived on an interface the route back does not use.").cmds(&["nstat -az TcpExt.IPReversePathFilter", "sysctl net.ipv4.conf.all.rp_filter"]),
    counter("Icmp.InErrors", "rx.8", Error, SNMP).about("ICMP messages received with an error (bad checksum, too short).").cmds(&["nstat -az Icmp.InErrors"]),
    counter("Icmp6InErrors", "rx.8", Error, SNMP6).about("ICMPv6 messages received with an error.").cmds(&["nstat -az Icmp6InErrors"]),
    counter("Ip.ReasmReqds", "rx.8", Info, SNMP).about("IP fragments received that needed reassembly.").cmds(&["nstat -az Ip.ReasmReqds"]),
    counter("Ip6InUnknownProtos", "rx.8", Error, SNMP6).about("IPv6 packets for a protocol nothing here handles.").cmds(&["nstat -az Ip6InUnknownProtos"]),
    counter("Udp.InDatagrams", "rx.9", Traffic, SNMP).about("UDP datagrams delivered to sockets.").cmds(&["nstat -az Udp.InDatagrams"]),
    counter("Udp.NoPorts", "rx.9", Drop, SNMP)
        .about("UDP datagrams to a port with no socket: a wrong destination or a service down.")
        .cmds(&["nstat -az Udp.NoPorts", "ss -uln"]),
    counter("Udp.InErrors", "rx.9", Error, SNMP)
        .includes(&["Udp.RcvbufErrors", "Udp.InCsumErrors", "Udp.MemErrors"])
        .about("UDP datagrams that could not be delivered; includes buffer-full drops and bad checksums.")
        .cmds(&["nstat -az Udp.InErrors"]),
    counter("Udp.RcvbufErrors", "rx.10", Drop, SNMP)
        .about("UDP datagrams dropped because the socket's receive buffer was full: the reader \
                is too slow or the buffer too small.")
        .cmds(&["nstat -az Udp.RcvbufErrors", "ss -uamp"]),
    counter("Udp.SndbufErrors", "tx.1", Drop, SNMP)
        .includes(&["qdisc.drops", "softnet.dropped", "tx_dropped"])
        .about("UDP datagrams dropped on send for lack of buffer; a qdisc drop below, and on \
                veth a receive-side backlog drop, are charged here too.")
        .cmds(&["nstat -az Udp.SndbufErrors"]),
    counter("Udp.InCsumErrors", "rx.9", Error, SNMP).about("UDP datagrams with a bad checksum.").cmds(&["nstat -az Udp.InCsumErrors"]),
    counter("Udp.MemErrors", "rx.10", Drop, SNMP)
        .about("UDP datagrams dropped because all UDP sockets together hit udp_mem.")
        .cmds(&["nstat -az Udp.MemErrors", "sysctl net.ipv4.udp_mem"]),
    counter("Udp.OutDatagrams", "tx.2", Info, SNMP).about("UDP datagrams sent.").cmds(&["nstat -az Udp.OutDatagrams"]),
    counter("Udp6InDatagrams", "rx.9", Traffic, SNMP6).about("UDP over IPv6 datagrams delivered.").cmds(&["nstat -az Udp6InDatagrams"]),
    counter("Udp6NoPorts", "rx.9", Drop, SNMP6).about("UDP over IPv6 datagrams to a port with no socket.").cmds(&["nstat -az Udp6NoPorts"]),
    counter("Udp6InErrors", "rx.9", Error, SNMP6)
        .includes(&["Udp6RcvbufErrors"]).about("UDP over IPv6 datagrams not delivered.").cmds(&["nstat -az Udp6InErrors"]),
    counter("Udp6RcvbufErrors", "rx.10", Drop, SNMP6).about("UDP over IPv6 datagrams dropped: receive buffer full.").cmds(&["nstat -az Udp6RcvbufErrors"]),
    counter("Udp6SndbufErrors", "tx.1", Drop, SNMP6)
        .includes(&["qdisc.drops", "softnet.dropped", "tx_dropped"]).about("UDP over IPv6 datagrams dropped on send.").cmds(&["nstat -az Udp6SndbufErrors"]),
    counter("TcpExt.TCPDeferAcceptDrop", "rx.10", Info, NETSTAT)
        .about("Bare ACKs completing a handshake on a TCP_DEFER_ACCEPT listener, ignored on purpose while the listener waits for data: not a loss.")
        .cmds(&["nstat -az TcpExt.TCPDeferAcceptDrop"]),
    counter("TcpExt.TCPSackRecoveryFail", "rx.9", Strain, NETSTAT)
        .about("SACK-based loss recovery that failed and fell back to a retransmission timeout: a connection stalled for an RTO.")
        .cmds(&["nstat -az TcpExt.TCPSackRecoveryFail", "ss -ti"]),
    counter("TcpExt.ListenOverflows", "rx.10", Drop, NETSTAT)
        .about("Connections dropped because a listener's accept queue was full: the application \
                accepts too slowly or the backlog is too small.")
        .cmds(&["nstat -az TcpExt.ListenOverflows", "ss -lnt"]),
    counter("TcpExt.ListenDrops", "rx.10", Drop, NETSTAT)
        .includes(&["TcpExt.ListenOverflows"])
        .about("SYNs and handshakes a listener dropped for any reason, overflows included.")
        .cmds(&["nstat -az TcpExt.ListenDrops", "ss -lnt"]),
    counter("TcpExt.PruneCalled", "rx.10", Strain, NETSTAT)
        .about("Times a socket's receive queue had to be pruned to fit its buffer.")
        .cmds(&["nstat -az TcpExt.PruneCalled", "sysctl net.ipv4.tcp_rmem"]),
    counter("TcpExt.RcvPruned", "rx.10", Drop, NETSTAT)
        .about("Packets dropped from receive queues because pruning could not free enough.")
        .cmds(&["nstat -az TcpExt.RcvPruned"]),
    counter("TcpExt.OfoPruned", "rx.10", Drop, NETSTAT)
        .about("Out-of-order packets dropped to make room in the receive buffer.")
        .cmds(&["nstat -az TcpExt.OfoPruned"]),
    counter("TcpExt.TCPRcvCollapsed", "rx.10", Strain, NETSTAT)
        .about("Packets merged in the receive queue to save memory: the buffer is tight.")
        .cmds(&["nstat -az TcpExt.TCPRcvCollapsed", "sysctl net.ipv4.tcp_rmem"]),
    counter("TcpExt.TCPBacklogDrop", "rx.10", Drop, NETSTAT)
        .about("Packets dropped because the socket backlog was full while the application held \
                the socket lock.")
        .cmds(&["nstat -az TcpExt.TCPBacklogDrop"]),
    counter("TcpExt.TCPRcvQDrop", "rx.10", Drop, NETSTAT)
        .about("Packets dropped because the receive queue could not take them (memory limits).")
        .cmds(&["nstat -az TcpExt.TCPRcvQDrop"]),
    counter("TcpExt.TCPZeroWindowDrop", "rx.10", Drop, NETSTAT)
        .about("Segments dropped because this side advertised a zero window.")
        .cmds(&["nstat -az TcpExt.TCPZeroWindowDrop"]),
    counter("TcpExt.TCPOFODrop", "rx.10", Drop, NETSTAT)
        .about("Out-of-order segments dropped for lack of receive buffer.")
        .cmds(&["nstat -az TcpExt.TCPOFODrop"]),
    counter("TcpExt.TCPReqQFullDrop", "rx.10", Drop, NETSTAT)
        .about("SYNs dropped because the SYN queue was full and cookies were off.")
        .cmds(&["nstat -az TcpExt.TCPReqQFullDrop", "sysctl net.ipv4.tcp_max_syn_backlog"]),
    counter("TcpExt.TCPReqQFullDoCookies", "rx.10", Strain, NETSTAT)
        .about("SYNs answered with a cookie because the SYN queue was full.")
        .cmds(&["nstat -az TcpExt.TCPReqQFullDoCookies"]),
    counter("TcpExt.TCPMemoryPressures", "rx.10", Strain, NETSTAT)
        .about("Times TCP as a whole entered memory pressure (tcp_mem).")
        .cmds(&["nstat -az TcpExt.TCPMemoryPressures", "sysctl net.ipv4.tcp_mem"]),
    counter("TcpExt.TCPAbortOnMemory", "rx.10", Drop, NETSTAT)
        .about("Connections aborted for lack of memory.")
        .cmds(&["nstat -az TcpExt.TCPAbortOnMemory"]),
    counter("TcpExt.BeyondWindow", "rx.10", Drop, NETSTAT)
        .about("Segments dropped because they fell beyond the advertised receive window.")
        .cmds(&["nstat -az TcpExt.BeyondWindow"]),
    counter("TcpExt.TCPToZeroWindowAdv", "rx.10", Strain, NETSTAT)
        .about("Times this host closed its receive window to zero: a reader not keeping up.")
        .cmds(&["nstat -az TcpExt.TCPToZeroWindowAdv"]),
    counter("TcpExt.TCPWantZeroWindowAdv", "rx.10", Strain, NETSTAT)
        .about("Times this host wanted to advertise a zero window.")
        .cmds(&["nstat -az TcpExt.TCPWantZeroWindowAdv"]),
    counter("TcpExt.TCPTimeouts", "rx.9", Strain, NETSTAT)
        .about("Retransmission timeouts: the sender waited a whole RTO, a large latency hit.")
        .cmds(&["nstat -az TcpExt.TCPTimeouts", "ss -ti"]),
    counter("TcpExt.TCPSynRetrans", "rx.9", Strain, NETSTAT)
        .about("SYNs and SYN-ACKs sent again: the peer's or this host's handshake was lost.")
        .cmds(&["nstat -az TcpExt.TCPSynRetrans"]),
    counter("TcpExt.TCPLostRetransmit", "rx.9", Strain, NETSTAT)
        .about("Retransmissions that were themselves lost.")
        .cmds(&["nstat -az TcpExt.TCPLostRetransmit"]),
    counter("TcpExt.TCPAbortOnTimeout", "rx.9", Error, NETSTAT)
        .about("Connections aborted after too many retransmission timeouts.")
        .cmds(&["nstat -az TcpExt.TCPAbortOnTimeout"]),
    // ---- sockets (sock_diag) ----
    item("tcp_info.rtt", ItemKind::Socket, "rx.9", SOCK_DIAG)
        .about("A connection's smoothed round-trip time and its variation.")
        .cmds(&["ss -ti"]),
    item("tcp_info.cwnd", ItemKind::Socket, "rx.9", SOCK_DIAG)
        .about("A connection's congestion window in segments; small and pinned means loss or \
                a buffer limit.")
        .cmds(&["ss -ti"]),
    item("tcp_info.retrans", ItemKind::Socket, "rx.9", SOCK_DIAG)
        .about("Segments of a connection retransmitted now and in total.")
        .cmds(&["ss -ti"]),
    item("tcp_info.pacing_rate", ItemKind::Socket, "tx.3", SOCK_DIAG)
        .about("The rate the stack paces a connection's packets at (honoured by fq or TCP itself).")
        .cmds(&["ss -ti"]),
    item("skmem", ItemKind::Socket, "rx.10", SOCK_DIAG)
        .values(&["sockets.tcp.drops", "sockets.udp.drops"])
        .about("A socket's memory: bytes queued for receive against its receive buffer, bytes \
                queued for send against its send buffer, and packets it dropped.")
        .cmds(&["ss -tinm", "ss -uamp"]),
    item("Recv-Q", ItemKind::Socket, "rx.11", SOCK_DIAG)
        .values(&["sockets.tcp.recvq_bytes", "sockets.udp.recvq_bytes", "sockets.tcp.recvq_nonzero", "sockets.udp.recvq_nonzero"])
        .about("Bytes delivered to a socket that the application has not read; for a listener, \
                connections waiting to be accepted.")
        .cmds(&["ss -tn", "ss -lnt"]),
    item("Send-Q", ItemKind::Socket, "tx.1", SOCK_DIAG)
        .values(&["sockets.tcp.sendq_bytes", "sockets.udp.sendq_bytes"])
        .about("Bytes sent but not yet acknowledged; for a listener, the accept queue's limit.")
        .cmds(&["ss -tn", "ss -lnt"]),
    item("SO_RCVBUF", ItemKind::Socket, "rx.10", SOCK_DIAG)
        .about("A receive buffer set by the application: capped at rmem_max, and it turns off \
                receive autotuning for that socket.")
        .cmds(&["ss -tm"]),
    item("sockets.tcp.listeners_at_cap", ItemKind::Socket, "rx.10", SOCK_DIAG)
        .values(&["sockets.tcp.listeners"])
        .about("Listeners whose accept queue (Recv-Q) has reached its limit (Send-Q, the listen \
                backlog capped by somaxconn): new connections are being dropped.")
        .cmds(&["ss -lnt", "sysctl net.core.somaxconn"]),
    item("sockets.tcp.state", ItemKind::Socket, "rx.9", SOCK_DIAG)
        .values(&["sockets.udp.state"])
        .about("Sockets per state (ESTABLISHED, TIME_WAIT, LISTEN...).")
        .cmds(&["ss -s", "ss -tan state time-wait | wc -l"]),
    // ---- qdisc (rtnetlink) ----
    item("qdisc.packets", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Traffic)
        .about("Packets a device's root qdisc sent on.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.bytes", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .about("Bytes a device's root qdisc sent on.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.drops", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Drop)
        .includes(&["qdisc.fq_codel.drop_overlimit", "qdisc.fq_codel.drop_overmemory", "qdisc.fq.flows_plimit", "qdisc.fq.horizon_drops", "qdisc.cake.dropped_packets"])
        .about("Packets the qdisc dropped: full queue, over its limit, or its AQM chose to.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.backlog", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .about("Bytes waiting in the qdisc now: queueing delay on transmit.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.qlen", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .about("Packets waiting in the qdisc now.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.overlimits", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Strain)
        .about("Times a shaper held a packet back for being over its rate.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.requeues", ItemKind::Qdisc, "tx.4", RTNL_QDISC)
        .class(Strain)
        .about("Packets the driver refused (ring full) and the qdisc queued again.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.child.packets", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .values(&["qdisc.child.bytes", "qdisc.child.drops", "qdisc.child.overlimits", "qdisc.child.requeues", "qdisc.child.backlog", "qdisc.child.qlen"])
        .about("Statistics of a qdisc below the root (an mq queue, an htb leaf): already counted \
                by the root, shown for the detail.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.fq_codel.drop_overlimit", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Drop)
        .about("Packets fq_codel dropped because the qdisc hit its packet limit (not CoDel's choice).")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.fq_codel.drop_overmemory", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Drop)
        .about("Packets fq_codel dropped because it hit its memory limit.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.fq_codel.ecn_mark", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Strain)
        .about("Packets CoDel marked with ECN instead of dropping: queueing delay above target.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.fq.flows_plimit", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Drop)
        .about("Packets fq dropped because one flow exceeded its per-flow limit.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.fq.horizon_drops", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Drop)
        .about("Packets fq dropped for a departure time beyond its horizon.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.fq.throttled", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Strain)
        .about("Times fq held a flow back to pace it.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.cake.dropped_packets", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Drop)
        .values(&["qdisc.cake.ack_drops"])
        .about("Packets cake dropped over all its tins (AQM, overflow), and ACKs it thinned.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.cake.ecn_marked_packets", ItemKind::Qdisc, "tx.3", RTNL_QDISC)
        .class(Strain)
        .about("Packets cake marked with ECN instead of dropping.")
        .cmds(&["tc -s qdisc show dev DEV"]),
    item("qdisc.ingress.drops", ItemKind::Qdisc, "rx.7", RTNL_QDISC)
        .class(Drop)
        .about("Received packets a tc ingress or clsact filter dropped.")
        .cmds(&["tc -s filter show dev DEV ingress"]),
    // ---- drop reasons ----
    item("NETFILTER_DROP", ItemKind::DropReason, "rx.8", KFREE)
        .class(Drop)
        .about("Dropped by netfilter: a firewall rule, or a full conntrack table (the code \
                location tells which).")
        .cmds(&["pktmap trace drops", "iptables -L -v -n", "nft list ruleset"]),
    item("NO_SOCKET", ItemKind::DropReason, "rx.9", KFREE)
        .class(Drop)
        .about("No socket matched the packet: a closed port, a wrong destination, or a \
                connection already gone.")
        .cmds(&["pktmap trace drops", "ss -tuln"]),
    item("SOCKET_RCVBUFF", ItemKind::DropReason, "rx.10", KFREE)
        .class(Drop)
        .about("The socket's receive buffer was full.")
        .cmds(&["pktmap trace drops", "ss -tinm"]),
    item("CPU_BACKLOG", ItemKind::DropReason, "rx.5", KFREE)
        .class(Drop)
        .about("The per-CPU input backlog was full (netdev_max_backlog).")
        .cmds(&["pktmap trace drops", "cat /proc/net/softnet_stat"]),
    item("QDISC_DROP", ItemKind::DropReason, "tx.3", KFREE)
        .class(Drop)
        .about("The qdisc dropped the packet on transmit.")
        .cmds(&["pktmap trace drops", "tc -s qdisc"]),
    item("TCP_LISTEN_OVERFLOW", ItemKind::DropReason, "rx.10", KFREE)
        .class(Drop)
        .about("A completed handshake found the accept queue full. A SYN turned away by a full \
                queue is not reported with this reason on 6.18: only the counters show it.")
        .cmds(&["pktmap trace drops", "ss -lnt"]),
    // ---- container legs ----
    item("veth", ItemKind::Container, "ct.veth", "/sys/class/net/DEV/iflink")
        .about("One end of a virtual cable; its peer (iflink) may live in another namespace.")
        .cmds(&["ip -d link show type veth"]),
    item("bridge", ItemKind::Container, "ct.bridge", "/sys/class/net/DEV/bridge")
        .about("A software switch joining the host side of container veths.")
        .cmds(&["bridge link show"]),
    item("netns", ItemKind::Container, "ct.netns", "/proc/PID/ns/net")
        .about("A network namespace: its own devices, counters, sockets and most sysctls.")
        .cmds(&["ip netns list", "lsns -t net"]),
    // ---- CPU ----
    item("cpuidle", ItemKind::Cpu, "rx.11", "/sys/devices/system/cpu/cpu0/cpuidle")
        .values(&["cpuidle.state"])
        .about("Idle states the CPU may enter and how long each takes to leave; deep states add \
                wake-up latency to every packet that finds the CPU asleep.")
        .cmds(&["cpupower idle-info", "cat /sys/devices/system/cpu/cpu0/cpuidle/state*/latency"]),
    item("/proc/pressure/cpu", ItemKind::Cpu, "rx.11", "/proc/pressure/cpu")
        .values(&["psi.cpu.some_us", "psi.cpu.full_us"])
        .about("Time tasks waited for a CPU (pressure stall information, microseconds): when it \
                grows, readers run late and Recv-Q builds.")
        .cmds(&["cat /proc/pressure/cpu"]),
];

/// Families whose every counter belongs to one stage unless an item above says otherwise.
pub static GROUPS: &[Group] = &[
    Group {
        prefix: "Ip.",
        stage: "rx.8",
        about: "IPv4 (RFC 4293) counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "IpExt.",
        stage: "rx.8",
        about: "Linux IPv4 extension counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "Icmp.",
        stage: "rx.8",
        about: "ICMP counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "IcmpMsg.",
        stage: "rx.8",
        about: "ICMP counters per message type",
        class: None,
        detail: false,
    },
    Group {
        prefix: "Ip6",
        stage: "rx.8",
        about: "IPv6 counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "Icmp6",
        stage: "rx.8",
        about: "ICMPv6 counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "Tcp.",
        stage: "rx.9",
        about: "TCP (RFC 4022) counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "TcpExt.",
        stage: "rx.9",
        about: "Linux TCP extension counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "MPTcpExt.",
        stage: "rx.9",
        about: "Multipath TCP counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "TlsExt.",
        stage: "rx.9",
        about: "kernel TLS counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "Udp.",
        stage: "rx.9",
        about: "UDP counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "UdpLite.",
        stage: "rx.9",
        about: "UDP-Lite counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "Udp6",
        stage: "rx.9",
        about: "UDP over IPv6 counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "UdpLite6",
        stage: "rx.9",
        about: "UDP-Lite over IPv6 counters",
        class: None,
        detail: false,
    },
    Group {
        prefix: "sockstat.",
        stage: "rx.10",
        about: "socket counts and memory (/proc/net/sockstat)",
        class: None,
        detail: false,
    },
    Group {
        prefix: "sockstat6.",
        stage: "rx.10",
        about: "IPv6 socket counts (/proc/net/sockstat6)",
        class: None,
        detail: false,
    },
    Group {
        prefix: "nf_conntrack.",
        stage: "rx.8",
        about: "conntrack per-CPU statistics",
        class: None,
        detail: false,
    },
    // A driver's own statistics, classified by name (`ethtool.CLASS.NAME`): each class at the
    // stage that loses what it counts. Receive-side ones repeat the kernel's ring counters.
    Group {
        prefix: "ethtool.drop.",
        stage: "rx.3",
        about: "driver receive drops",
        class: Some(Class::Drop),
        detail: true,
    },
    Group {
        prefix: "ethtool.miss.",
        stage: "rx.3",
        about: "frames the card missed for want of a descriptor",
        class: Some(Class::Drop),
        detail: true,
    },
    Group {
        prefix: "ethtool.nobuf.",
        stage: "rx.3",
        about: "frames lost for want of a receive buffer",
        class: Some(Class::Drop),
        detail: true,
    },
    Group {
        prefix: "ethtool.fifo.",
        stage: "rx.3",
        about: "receive FIFO overruns",
        class: Some(Class::Drop),
        detail: true,
    },
    Group {
        prefix: "ethtool.error.",
        stage: "rx.1",
        about: "frames the card rejected as malformed",
        class: Some(Class::Error),
        detail: true,
    },
    Group {
        prefix: "ethtool.xdp_drop.",
        stage: "rx.7",
        about: "packets an XDP program dropped (no kernel counter sees them)",
        class: Some(Class::Drop),
        detail: false,
    },
    Group {
        prefix: "ethtool.tx_drop.",
        stage: "tx.4",
        about: "driver transmit drops",
        class: Some(Class::Drop),
        detail: true,
    },
    Group {
        prefix: "ethtool.tx_error.",
        stage: "tx.5",
        about: "driver transmit errors",
        class: Some(Class::Error),
        detail: true,
    },
    Group {
        prefix: "ethtool.pause.",
        stage: "rx.1",
        about: "flow-control pause frames",
        class: Some(Class::Strain),
        detail: false,
    },
    Group {
        prefix: "ethtool.other.",
        stage: "rx.1",
        about: "other driver statistics",
        class: Some(Class::Info),
        detail: false,
    },
    Group {
        prefix: "neigh.",
        stage: "tx.2",
        about: "ARP table statistics (/proc/net/stat/arp_cache)",
        class: Some(Class::Info),
        detail: false,
    },
    Group {
        prefix: "neigh6.",
        stage: "tx.2",
        about: "IPv6 neighbour table statistics (/proc/net/stat/ndisc_cache)",
        class: Some(Class::Info),
        detail: false,
    },
    Group {
        prefix: "rt_cache.",
        stage: "rx.8",
        about: "route input statistics (/proc/net/stat/rt_cache)",
        class: Some(Class::Info),
        detail: false,
    },
    Group {
        prefix: "softnet.",
        stage: "rx.5",
        about: "softnet_stat columns",
        class: None,
        detail: false,
    },
];
