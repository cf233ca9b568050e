// SPDX-License-Identifier: GPL-2.0
/* Counts freed-and-dropped packets by reason, code location, namespace, device and protocol,
 * in the kernel: one per-CPU hash update per drop, nothing per packet to user space. Attached
 * to the BTF-typed tracepoint skb:kfree_skb (no kprobe). */
#include "vmlinux-min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pktmap.h"

char LICENSE[] SEC("license") = "GPL";

/* Reasons below this are not drops (SKB_NOT_DROPPED_YET, SKB_CONSUMED); set by the loader. */
const volatile __u32 min_reason = 2;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, DROPS_MAX_ENTRIES);
	__type(key, struct drop_key);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_STATS);
	__type(key, __u32);
	__type(value, __u64);
} drop_stats SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&drop_stats, &idx);
	if (v)
		*v += 1;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(count_drop, struct sk_buff *skb, void *location, int reason)
{
	if ((__u32)reason < min_reason)
		return 0;
	bump(DROP_STAT_EVENTS);

	struct drop_key key = {};
	key.reason = reason;
	key.location = (__u64)location;
	key.protocol = BPF_CORE_READ(skb, protocol);
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	if (dev) {
		key.ifindex = BPF_CORE_READ(dev, ifindex);
		key.netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	} else {
		struct sock *sk = BPF_CORE_READ(skb, sk);
		if (sk)
			key.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	}

	__u64 *count = bpf_map_lookup_elem(&drops, &key);
	if (count) {
		*count += 1;
		return 0;
	}
	__u64 one = 1;
	if (bpf_map_update_elem(&drops, &key, &one, BPF_NOEXIST))
		bump(DROP_STAT_FULL);
	return 0;
}
