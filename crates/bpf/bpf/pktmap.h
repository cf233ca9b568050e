/* The ABI between pktmap's BPF programs and its Rust loader: every struct here has a
 * #[repr(C)] twin in crates/bpf/src/abi.rs, checked by size in a test. */
#ifndef PKTMAP_H
#define PKTMAP_H

/* One drop site: counted in a per-CPU hash, read and summed by user space. */
struct drop_key {
	__u32 reason;    /* enum skb_drop_reason, with its subsystem in the high bits */
	__u32 netns;     /* inode of the namespace of the device or socket, 0 if neither */
	__u64 location;  /* the code address that freed the packet */
	__u32 ifindex;   /* the device, 0 if none */
	__u16 protocol;  /* skb->protocol, network byte order */
	__u16 pad;
};

/* A CPU's latest run of drops at one key, not yet added to the hash. */
struct drop_run {
	struct drop_key key;
	__u64 count;
};

/* One dropped packet's addresses, sent to user space at most sample_per_sec times a second
 * through a ring buffer (addresses in network byte order, IPv4 in the first 4 bytes). */
struct drop_sample {
	__u32 reason;
	__u32 netns;
	__u32 ifindex;
	__u16 sport;
	__u16 dport;
	__u8 family;  /* 4 or 6, 0 if neither */
	__u8 l4proto; /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};
#define SAMPLES_RING_BYTES (256 * 1024)

/* Bounded maps: a full map is counted in DROP_STAT_FULL, never silent. */
#define DROPS_MAX_ENTRIES 8192
#define DROP_STAT_EVENTS 0
#define DROP_STAT_FULL 1
#define DROP_STAT_SAMPLE_LOST 2 /* a sample not sent: the ring buffer was full */
#define DROP_STATS 3

/* Latency histograms: log2 buckets of nanoseconds (napi: of packets), per-CPU array indexed
 * by hist * HIST_BUCKETS + bucket. */
#define HIST_BUCKETS 64
#define HIST_SOFTIRQ_WAIT 0   /* NET_RX raised -> entered (rx.5) */
#define HIST_SOFTIRQ_RUN 1    /* NET_RX entered -> exited (rx.5) */
#define HIST_NAPI_WORK 2      /* packets per napi_poll (rx.6) */
#define HIST_RX_TO_COPY 3     /* netif_receive_skb -> skb_copy_datagram_iovec (rx.7 -> rx.11) */
#define HIST_QDISC 4          /* net_dev_queue -> net_dev_start_xmit (tx.3) */
#define HIST_RUNQ 5           /* sched_wakeup -> sched_switch in (rx.11) */
#define HISTS 6
#define LAT_STAT_NAPI_FULL 0 /* a device's NAPI row not kept: napi_devs was full */
#define LAT_STAT_REPLACED 1  /* a start time overwritten before its end was seen */
#define LAT_STAT_LATE 2      /* a start met its end only after its sampling window closed */
#define LAT_STAT_RUNS 3      /* program runs, all programs: what being attached costs */
#define LAT_STATS 4
/* Start times live in fixed slots (an array indexed by a hash of the skb address or pid), so
 * that per-packet tracepoints read an array slot, never a hash map. */
#define TRACK_SLOTS 16384
struct track_slot {
	__u64 key; /* skb address or pid; 0: empty */
	__u64 ts;
};
/* Per-packet latencies follow one packet in TRACK_SAMPLE, chosen at random. */
#define TRACK_SAMPLE 8

/* A NAPI instance's device: ifindex is only unique within a namespace (every pod has its own
 * ifindex 2). Both 0: the per-CPU backlog, which has no device. */
struct napi_key {
	__u32 netns;
	__u32 ifindex;
};

/* NAPI polls of one device, in a per-CPU hash keyed by napi_key: the CPU is the per-CPU slot. */
struct napi_dev {
	__u64 polls;
	__u64 full_budget; /* polls that used their whole budget */
	__u64 work;        /* packets handled, summed over the polls */
};
#define NAPI_DEVS_MAX 1024

#endif
