// SPDX-License-Identifier: GPL-2.0
/* Latency histograms along the path, in the kernel: log2 buckets in a per-CPU array, one
 * increment per event, nothing per packet to user space. Tracepoints only: BTF-typed, and raw
 * where a packet's address is all that is needed. User space may attach the programs only in
 * sampling windows (being attached costs more than what these programs do): a start time from
 * before the current window opened is never matched. Every run is counted, so that user space
 * can size the windows to the traffic. */
#include "vmlinux-min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "pktmap.h"

char LICENSE[] SEC("license") = "GPL";

#define NET_RX_SOFTIRQ 3

/* Run-queue latency only for this process or thread (0: every task), and only for tasks whose
 * command starts with target_comm (empty: any); set by the loader. */
const volatile __u32 target_pid = 0;
const volatile char target_comm[16] = {};

static __always_inline int wanted(struct task_struct *p)
{
	if (target_pid && p->pid != target_pid && p->tgid != target_pid)
		return 0;
	if (!target_comm[0])
		return 1;
	char comm[16] = {};
	BPF_CORE_READ_STR_INTO(&comm, p, comm);
	for (int i = 0; i < 16; i++) {
		if (!target_comm[i])
			return 1;
		if (comm[i] != target_comm[i])
			return 0;
	}
	return 1;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HISTS * HIST_BUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LAT_STATS);
	__type(key, __u32);
	__type(value, __u64);
} lat_stats SEC(".maps");

/* [0]: when the current sampling window opened (bpf_ktime_get_ns's clock, set by user space
 * before it attaches); 0 when the programs stay attached for the whole interval. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} window SEC(".maps");

/* Whether a start time at t0 was taken in the current window. The end of a start from an
 * earlier window may have passed while nothing was attached, and its slot since been reused. */
static __always_inline int current(__u64 t0)
{
	__u32 k = 0;
	__u64 *open = bpf_map_lookup_elem(&window, &k);
	return !open || t0 >= *open;
}

/* Per-CPU: when NET_RX was raised, when it was entered (0: not timed; 1: raised, not timed). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} softirq_ts SEC(".maps");

/* Start times by skb address (rx, tx) or pid (wakeups), one slot per hash. */
#define SLOTS(name)                                   \
	struct {                                      \
		__uint(type, BPF_MAP_TYPE_ARRAY);     \
		__uint(max_entries, TRACK_SLOTS);     \
		__type(key, __u32);                   \
		__type(value, struct track_slot);     \
	} name SEC(".maps")
SLOTS(rx_slots);
SLOTS(tx_slots);
SLOTS(wake_slots);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NAPI_DEVS_MAX);
	__type(key, struct napi_key);
	__type(value, struct napi_dev);
} napi_devs SEC(".maps");

/* floor(log2(v)) without a loop the verifier would have to walk. */
static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 r = 0, shift;
	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (__u32)(v >> 1);
	return r;
}

static __always_inline void record(__u32 hist, __u64 value)
{
	__u32 idx = hist * HIST_BUCKETS + log2_bucket(value);
	__u64 *c = bpf_map_lookup_elem(&hists, &idx);
	if (c)
		*c += 1;
}

static __always_inline void stat(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&lat_stats, &idx);
	if (c)
		*c += 1;
}

/* Under load NET_RX runs for every few packets, so its timings are sampled like packets are:
 * one softirq in TRACK_SAMPLE, chosen at random, saves a clock read per tracepoint on the
 * others. The first raise of a pending period decides; later raises find it decided. */
SEC("tp_btf/softirq_raise")
int BPF_PROG(softirq_raise, unsigned int vec)
{
	stat(LAT_STAT_RUNS);
	if (vec != NET_RX_SOFTIRQ)
		return 0;
	__u32 k = 0;
	__u64 *ts = bpf_map_lookup_elem(&softirq_ts, &k);
	if (ts && !*ts)
		*ts = bpf_get_prandom_u32() % TRACK_SAMPLE ? 1 : bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(softirq_entry, unsigned int vec)
{
	stat(LAT_STAT_RUNS);
	if (vec != NET_RX_SOFTIRQ)
		return 0;
	__u64 now = 0;
	__u32 k = 0;
	__u64 *raised = bpf_map_lookup_elem(&softirq_ts, &k);
	if (raised) {
		if (*raised > 1 && current(*raised)) {
			now = bpf_ktime_get_ns();
			record(HIST_SOFTIRQ_WAIT, now - *raised);
		}
		*raised = 0;
	}
	k = 1;
	__u64 *entered = bpf_map_lookup_elem(&softirq_ts, &k);
	if (!entered)
		return 0;
	if (bpf_get_prandom_u32() % TRACK_SAMPLE) {
		*entered = 0;
		return 0;
	}
	*entered = now ? now : bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(softirq_exit, unsigned int vec)
{
	stat(LAT_STAT_RUNS);
	if (vec != NET_RX_SOFTIRQ)
		return 0;
	__u32 k = 1;
	__u64 *entered = bpf_map_lookup_elem(&softirq_ts, &k);
	if (entered && *entered) {
		if (current(*entered))
			record(HIST_SOFTIRQ_RUN, bpf_ktime_get_ns() - *entered);
		*entered = 0;
	}
	return 0;
}

SEC("tp_btf/napi_poll")
int BPF_PROG(napi_poll, struct napi_struct *napi, int work, int budget)
{
	stat(LAT_STAT_RUNS);
	/* Totals are the sums of the per-device rows: counted once, here. */
	record(HIST_NAPI_WORK, work);

	struct napi_key key = {};
	struct net_device *dev = napi->dev;
	if (dev) {
		key.ifindex = dev->ifindex;
		key.netns = dev->nd_net.net->ns.inum;
	}
	struct napi_dev *d = bpf_map_lookup_elem(&napi_devs, &key);
	if (!d) {
		struct napi_dev zero = {};
		bpf_map_update_elem(&napi_devs, &key, &zero, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&napi_devs, &key);
		if (!d) {
			stat(LAT_STAT_NAPI_FULL);
			return 0;
		}
	}
	d->polls += 1;
	d->work += work;
	if (work >= budget)
		d->full_budget += 1;
	return 0;
}

/* Fibonacci hashing: skb addresses differ in their middle bits, pids in their low ones; the
 * top bits of the product mix both. */
static __always_inline struct track_slot *slot(void *map, __u64 key)
{
	__u32 k = (__u32)((key * 0x9E3779B97F4A7C15ULL) >> 50) & (TRACK_SLOTS - 1);
	return bpf_map_lookup_elem(map, &k);
}

static __always_inline void track(struct track_slot *s, __u64 key)
{
	if (s->key && s->key != key)
		stat(LAT_STAT_REPLACED);
	s->ts = bpf_ktime_get_ns();
	s->key = key;
}

/* Per-packet start times are kept for one packet in TRACK_SAMPLE: the percentiles of a random
 * sample are the same, and the other packets cost one slot read. A packet not sampled clears a
 * slot that names its address: an skb freed (dropped) after its start and reused must not be
 * matched with the old start time. */
static __always_inline void start(void *map, __u64 skb)
{
	struct track_slot *s = slot(map, skb);
	if (!s)
		return;
	if (bpf_get_prandom_u32() % TRACK_SAMPLE) {
		if (s->key == skb)
			s->key = 0;
		return;
	}
	track(s, skb);
}

/* A racing start on another CPU can change the slot between the two reads; the cost is one
 * wrong sample in a rare collision, against a lock on every packet. */
static __always_inline void finish(void *map, __u64 key, __u32 hist)
{
	/* Key 0 marks an empty slot (and is the idle task's pid). */
	if (!key)
		return;
	struct track_slot *s = slot(map, key);
	if (!s || s->key != key)
		return;
	__u64 t0 = s->ts;
	s->key = 0;
	if (!current(t0)) {
		stat(LAT_STAT_LATE);
		return;
	}
	__u64 now = bpf_ktime_get_ns();
	if (now > t0)
		record(hist, now - t0);
}

/* Only the skb's address is needed here, as a number: raw tracepoints hand it over as one (a
 * BTF-typed pointer may not be hashed), at the same dispatch cost. */
SEC("raw_tp/netif_receive_skb")
int BPF_PROG(netif_receive_skb, struct sk_buff *skb)
{
	stat(LAT_STAT_RUNS);
	start(&rx_slots, (__u64)skb);
	return 0;
}

/* Whether the skb carries TCP, from its IP header: UDP and ICMP sockets copy through the same
 * tracepoint, and the histogram is TCP's. IPv6 extension headers before TCP are not followed
 * (rare on a data path); such a segment is left out, not misfiled. */
static __always_inline int is_tcp(const struct sk_buff *skb)
{
	__be16 proto = BPF_CORE_READ(skb, protocol);
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u8 l4 = 0;
	if (proto == bpf_htons(0x0800))
		bpf_probe_read_kernel(&l4, 1, head + nh + 9);
	else if (proto == bpf_htons(0x86DD))
		bpf_probe_read_kernel(&l4, 1, head + nh + 6);
	return l4 == 6;
}

/* A packet that will never finish here gives back its slot, so it is not later counted as
 * replaced (a drop). */
static __always_inline void forget(void *map, __u64 key)
{
	struct track_slot *s = slot(map, key);
	if (s && s->key == key)
		s->key = 0;
}

SEC("raw_tp/skb_copy_datagram_iovec")
int BPF_PROG(skb_copy_datagram_iovec, const struct sk_buff *skb, int len)
{
	stat(LAT_STAT_RUNS);
	if (!is_tcp(skb)) {
		forget(&rx_slots, (__u64)skb);
		return 0;
	}
	finish(&rx_slots, (__u64)skb, HIST_RX_TO_COPY);
	return 0;
}

/* Whether the transmit queue the stack picked for skb has a qdisc that queues: a noqueue
 * device (a veth, a bridge) hands packets straight to its driver, and the time between the two
 * tracepoints there is the CPU being taken away (a VM's steal), not a queue. */
static __always_inline int queued(struct sk_buff *skb)
{
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	struct netdev_queue *tx = BPF_CORE_READ(dev, _tx);
	__u16 q = BPF_CORE_READ(skb, queue_mapping);
	struct netdev_queue *txq;
	struct Qdisc *qdisc;
	void *enqueue = 0;

	if (!tx)
		return 0;
	txq = (void *)tx + q * bpf_core_type_size(struct netdev_queue);
	if (bpf_probe_read_kernel(&qdisc, sizeof(qdisc), (void *)txq +
				  bpf_core_field_offset(struct netdev_queue, qdisc)) || !qdisc)
		return 0;
	bpf_probe_read_kernel(&enqueue, sizeof(enqueue), (void *)qdisc +
			      bpf_core_field_offset(struct Qdisc, enqueue));
	return enqueue != 0;
}

SEC("raw_tp/net_dev_queue")
int BPF_PROG(net_dev_queue, struct sk_buff *skb)
{
	stat(LAT_STAT_RUNS);
	if (queued(skb))
		start(&tx_slots, (__u64)skb);
	return 0;
}

SEC("raw_tp/net_dev_start_xmit")
int BPF_PROG(net_dev_start_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	stat(LAT_STAT_RUNS);
	finish(&tx_slots, (__u64)skb, HIST_QDISC);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *p)
{
	stat(LAT_STAT_RUNS);
	__u32 pid = p->pid;
	if (!pid || !wanted(p))
		return 0;
	struct track_slot *s = slot(&wake_slots, pid);
	if (s)
		track(s, pid);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	stat(LAT_STAT_RUNS);
	finish(&wake_slots, next->pid, HIST_RUNQ);
	return 0;
}
