// SPDX-License-Identifier: GPL-2.0
/* Latency histograms along the path, in the kernel: log2 buckets in a per-CPU array, one
 * increment per event, nothing per packet to user space. BTF-typed tracepoints only. */
#include "vmlinux-min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pktmap.h"

char LICENSE[] SEC("license") = "GPL";

#define NET_RX_SOFTIRQ 3

/* Run-queue latency only for this process or thread (0: every task), and only for tasks whose
 * command starts with target_comm (empty: any); set by the loader. */
const volatile __u32 target_pid = 0;
const volatile char target_comm[16] = {};

static __always_inline int wanted(struct task_struct *p)
{
	if (target_pid && BPF_CORE_READ(p, pid) != target_pid && BPF_CORE_READ(p, tgid) != target_pid)
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

/* Per-CPU: when NET_RX was raised, when it was entered. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} softirq_ts SEC(".maps");

/* Start times by skb address or pid; LRU so a packet never seen again ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TRACK_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
} rx_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TRACK_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
} tx_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TRACK_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} wake_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NAPI_DEVS_MAX);
	__type(key, __u32);
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

SEC("tp_btf/softirq_raise")
int BPF_PROG(softirq_raise, unsigned int vec)
{
	if (vec != NET_RX_SOFTIRQ)
		return 0;
	__u32 k = 0;
	__u64 *ts = bpf_map_lookup_elem(&softirq_ts, &k);
	if (ts && !*ts)
		*ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(softirq_entry, unsigned int vec)
{
	if (vec != NET_RX_SOFTIRQ)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u32 k = 0;
	__u64 *raised = bpf_map_lookup_elem(&softirq_ts, &k);
	if (raised && *raised) {
		record(HIST_SOFTIRQ_WAIT, now - *raised);
		*raised = 0;
	}
	k = 1;
	__u64 *entered = bpf_map_lookup_elem(&softirq_ts, &k);
	if (entered)
		*entered = now;
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(softirq_exit, unsigned int vec)
{
	if (vec != NET_RX_SOFTIRQ)
		return 0;
	__u32 k = 1;
	__u64 *entered = bpf_map_lookup_elem(&softirq_ts, &k);
	if (entered && *entered) {
		record(HIST_SOFTIRQ_RUN, bpf_ktime_get_ns() - *entered);
		*entered = 0;
	}
	return 0;
}

SEC("tp_btf/napi_poll")
int BPF_PROG(napi_poll, struct napi_struct *napi, int work, int budget)
{
	/* Totals are the sums of the per-device rows: counted once, here. */
	record(HIST_NAPI_WORK, work);

	__u32 ifindex = BPF_CORE_READ(napi, dev, ifindex);
	struct napi_dev *d = bpf_map_lookup_elem(&napi_devs, &ifindex);
	if (!d) {
		struct napi_dev zero = {};
		bpf_map_update_elem(&napi_devs, &ifindex, &zero, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&napi_devs, &ifindex);
		if (!d) {
			stat(LAT_STAT_TRACK_FULL);
			return 0;
		}
	}
	d->polls += 1;
	d->work += work;
	if (work >= budget)
		d->full_budget += 1;
	return 0;
}

/* Per-packet start times are kept for one packet in TRACK_SAMPLE: a map update per packet
 * would cost more than the path it measures, and the percentiles of a random sample are the
 * same. Packets that are dropped never reach finish() and age out of the LRU map. */
static __always_inline void start(void *map, __u64 key)
{
	if (bpf_get_prandom_u32() % TRACK_SAMPLE)
		return;
	__u64 now = bpf_ktime_get_ns();
	if (bpf_map_update_elem(map, &key, &now, BPF_ANY))
		stat(LAT_STAT_TRACK_FULL);
}

static __always_inline void finish(void *map, __u64 key, __u32 hist)
{
	__u64 *t0 = bpf_map_lookup_elem(map, &key);
	if (!t0)
		return;
	record(hist, bpf_ktime_get_ns() - *t0);
	bpf_map_delete_elem(map, &key);
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(netif_receive_skb, struct sk_buff *skb)
{
	start(&rx_start, (__u64)skb);
	return 0;
}

SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(skb_copy_datagram_iovec, const struct sk_buff *skb, int len)
{
	finish(&rx_start, (__u64)skb, HIST_RX_TO_COPY);
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(net_dev_queue, struct sk_buff *skb)
{
	start(&tx_start, (__u64)skb);
	return 0;
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(net_dev_start_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	finish(&tx_start, (__u64)skb, HIST_QDISC);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *p)
{
	if (!wanted(p))
		return 0;
	__u32 pid = BPF_CORE_READ(p, pid);
	__u64 now = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&wake_start, &pid, &now, BPF_ANY))
		stat(LAT_STAT_TRACK_FULL);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 pid = BPF_CORE_READ(next, pid);
	__u64 *t0 = bpf_map_lookup_elem(&wake_start, &pid);
	if (!t0)
		return 0;
	record(HIST_RUNQ, bpf_ktime_get_ns() - *t0);
	bpf_map_delete_elem(&wake_start, &pid);
	return 0;
}
