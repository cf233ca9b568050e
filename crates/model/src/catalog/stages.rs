//! The stages of the packet's journey, in the order a packet meets them.

use super::{Path, Stage};

pub static STAGES: &[Stage] = &[
    Stage {
        id: "rx.1",
        path: Path::Rx,
        title: "NIC",
        happens: "The card takes the frame off the wire, checks its frame check sequence and \
                  counts what it rejects in its own hardware counters.",
        drop_points: &["frames failing the FCS/CRC, length or alignment checks"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["ip -s -s link show dev DEV", "ethtool -S DEV"],
    },
    Stage {
        id: "rx.2",
        path: Path::Rx,
        title: "RSS",
        happens: "The card hashes each flow's addresses and ports and uses an indirection table \
                  to pick one of its receive queues; every queue has its own ring and interrupt.",
        drop_points: &["none directly; one busy queue while others idle overloads one CPU"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["ethtool -l DEV", "ethtool -x DEV"],
    },
    Stage {
        id: "rx.3",
        path: Path::Rx,
        title: "RX ring",
        happens: "The card writes the frame by DMA into a free descriptor of the queue's ring. \
                  If the driver has not handed back descriptors fast enough, there is no room.",
        drop_points: &["ring full: missed, fifo, overrun and no-buffer counters"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &[
            "ethtool -g DEV",
            "ethtool -S DEV | grep -iE 'drop|miss|fifo|no_buf'",
        ],
    },
    Stage {
        id: "rx.4",
        path: Path::Rx,
        title: "hard IRQ",
        happens: "The queue raises its interrupt. The handler does almost nothing: it masks the \
                  queue and schedules NAPI on the CPU that took the interrupt, so the IRQ's \
                  affinity decides which CPU does all the receive work that follows.",
        drop_points: &["none directly; coalescing settings trade latency for fewer interrupts"],
        unit: "irq/s",
        traffic_also: &[],
        inspect: &[
            "grep DEV /proc/interrupts",
            "cat /proc/irq/N/smp_affinity_list",
            "ethtool -c DEV",
        ],
    },
    Stage {
        id: "rx.5",
        path: Path::Rx,
        title: "softirq (net_rx_action)",
        happens: "The NET_RX softirq runs net_rx_action, which polls the scheduled devices until \
                  the round's packet budget or time budget is spent. What is left waits for the \
                  next round or is handed to the CPU's ksoftirqd thread.",
        drop_points: &[
            "per-CPU backlog full (softnet dropped)",
            "budget exhausted with work left (time_squeeze: delay, then ring drops)",
        ],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["cat /proc/net/softnet_stat", "grep NET_RX /proc/softirqs"],
    },
    Stage {
        id: "rx.6",
        path: Path::Rx,
        title: "NAPI poll and GRO",
        happens: "The driver's poll function takes finished descriptors off the ring, wraps each \
                  frame in an sk_buff and refills the ring; GRO merges consecutive segments of a \
                  flow into one large buffer so the layers above run once per batch.",
        drop_points: &["buffer allocation failures while refilling the ring"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["ethtool -k DEV | grep generic-receive-offload"],
    },
    Stage {
        id: "rx.7",
        path: Path::Rx,
        title: "netif_receive_skb (taps, tc ingress, XDP, RPS)",
        happens: "The buffer is shown to packet taps (tcpdump), to generic XDP and to tc ingress, \
                  may be steered to another CPU's backlog by RPS/RFS, and is handed to the \
                  handler of its protocol.",
        drop_points: &[
            "no handler for the protocol (rx_nohandler)",
            "flow limit on the backlog",
            "a tc ingress or XDP program dropping",
        ],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &[
            "cat /sys/class/net/DEV/queues/rx-*/rps_cpus",
            "tc -s filter show dev DEV ingress",
            "ip link show dev DEV",
        ],
    },
    Stage {
        id: "rx.8",
        path: Path::Rx,
        title: "IP and netfilter",
        happens: "ip_rcv checks the header, the PREROUTING hooks and conntrack run, the route is \
                  looked up, and INPUT (or FORWARD) hooks decide whether the packet goes on.",
        drop_points: &[
            "bad header or address",
            "reverse path filter",
            "a firewall rule",
            "conntrack table full",
        ],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &[
            "nstat -az 'Ip*'",
            "iptables -L -v -n",
            "nft list ruleset",
            "conntrack -S",
        ],
    },
    Stage {
        id: "rx.9",
        path: Path::Rx,
        title: "TCP/UDP",
        happens: "The transport finds the socket the packet belongs to, checks checksum and \
                  sequence, runs congestion control and sends acknowledgements.",
        drop_points: &[
            "no socket for the port",
            "checksum errors",
            "out-of-window segments",
        ],
        unit: "pkt/s",
        traffic_also: &["Udp.InErrors", "Udp.NoPorts", "Udp6InErrors", "Udp6NoPorts"],
        inspect: &["nstat -az 'Tcp*' 'Udp*'", "ss -tin"],
    },
    Stage {
        id: "rx.10",
        path: Path::Rx,
        title: "socket queue",
        happens: "Data waits on the socket's receive queue, limited by its receive buffer, and \
                  the reader is woken. For a listener, finished handshakes wait in the accept \
                  queue, limited by the listen backlog.",
        drop_points: &[
            "receive buffer full",
            "accept queue full",
            "queue pruned under memory pressure",
            "socket backlog full while the application holds the socket",
        ],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &[
            "ss -tinm",
            "ss -lnt",
            "nstat -az | grep -iE 'listen|prune|collapse|rcvbuf'",
        ],
    },
    Stage {
        id: "rx.11",
        path: Path::Rx,
        title: "application",
        happens: "The application wakes up and copies the data out with read or recv. If it is \
                  not scheduled in time, data piles up unread in Recv-Q: a host problem, not a \
                  network one.",
        drop_points: &["none here; a slow reader pushes the loss back to the socket queue"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["ss -tnp", "cat /proc/pressure/cpu", "cpupower idle-info"],
    },
    Stage {
        id: "tx.1",
        path: Path::Tx,
        title: "socket send buffer",
        happens: "write or send copies data into the socket's send queue, limited by its send \
                  buffer; TCP releases it as fast as the congestion window and the peer's \
                  receive window allow.",
        drop_points: &["send buffer full (the writer blocks, or UDP counts SndbufErrors)"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["ss -tinm", "sysctl net.ipv4.tcp_wmem"],
    },
    Stage {
        id: "tx.2",
        path: Path::Tx,
        title: "TCP/IP",
        happens: "Headers are built, the route is chosen, OUTPUT and POSTROUTING hooks run, and \
                  large buffers are cut into segments by GSO if the card cannot do it.",
        drop_points: &["no route", "a firewall rule on OUTPUT", "output discards"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["nstat -az 'Ip*'", "ip route get ADDR"],
    },
    Stage {
        id: "tx.3",
        path: Path::Tx,
        title: "qdisc",
        happens: "The device's queueing discipline orders, paces, shapes and, when it is full or \
                  over its rate, drops packets before they reach the driver.",
        drop_points: &["qdisc full or over limit"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["tc -s qdisc show dev DEV"],
    },
    Stage {
        id: "tx.4",
        path: Path::Tx,
        title: "TX ring",
        happens: "The driver places the packet on a transmit ring for the card to fetch by DMA. \
                  A full ring stops the queue and pushes packets back to the qdisc.",
        drop_points: &["driver transmit drops", "requeues when the ring is full"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["ethtool -g DEV", "ethtool -S DEV | grep -i tx"],
    },
    Stage {
        id: "tx.5",
        path: Path::Tx,
        title: "NIC",
        happens: "The card segments large buffers (TSO), fills in checksums and puts the frames \
                  on the wire.",
        drop_points: &["carrier, fifo and other transmit errors"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["ip -s -s link show dev DEV", "ethtool -k DEV"],
    },
    Stage {
        id: "ct.veth",
        path: Path::Container,
        title: "veth pair",
        happens: "A veth pair is a cable between namespaces: what one end sends, the other end \
                  receives through the sending CPU's backlog, and the packet crosses the whole \
                  stack again on the far side.",
        drop_points: &[
            "the receiving side's per-CPU backlog",
            "the peer's own netfilter and sockets",
        ],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["ip -s link show type veth", "nsenter -t PID -n ip -s link"],
    },
    Stage {
        id: "ct.bridge",
        path: Path::Container,
        title: "bridge",
        happens: "A Linux bridge forwards frames between the host's side and the containers' veth \
                  ends; with br_netfilter loaded, bridged frames also meet iptables.",
        drop_points: &["bridge port not forwarding", "bridged netfilter rules"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["bridge link show", "ip -s link show type bridge"],
    },
    Stage {
        id: "ct.netns",
        path: Path::Container,
        title: "network namespace",
        happens: "Each network namespace has its own devices, counters, sockets and most sysctls, \
                  so every stage of this map exists again inside each container; the conntrack \
                  table and a few sysctls are shared with the host.",
        drop_points: &["every stage above, counted inside the namespace"],
        unit: "pkt/s",
        traffic_also: &[],
        inspect: &["ip netns list", "nsenter -t PID -n nstat -az"],
    },
];
