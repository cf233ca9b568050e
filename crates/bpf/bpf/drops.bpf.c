// SPDX-License-Identifier: GPL-2.0
/* Counts freed-and-dropped packets by reason, code location, namespace, device and protocol,
 * in the kernel, nothing per packet to user space. Attached to the BTF-typed tracepoint
 * skb:kfree_skb (no kprobe). Drops come in runs at one site (a flood into a closed port, a
 * full socket): a run is counted in a per-CPU slot and moved into the hash when the site
 * changes, so most drops cost an array slot, not a hash lookup. */
#include "vmlinux-min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
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

static __always_inline void bump(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&drop_stats, &idx);
	if (v)
		*v += n;
}

/* This CPU's current run of drops at one key (read by user space after detaching). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct drop_run);
} last_run SEC(".maps");

static __always_inline void add(struct drop_key *key, __u64 n)
{
	__u64 *count = bpf_map_lookup_elem(&drops, key);
	if (!count) {
		if (!bpf_map_update_elem(&drops, key, &n, BPF_NOEXIST))
			return;
		/* Another CPU may have added the key since the lookup. */
		count = bpf_map_lookup_elem(&drops, key);
		if (!count) {
			bump(DROP_STAT_FULL, n);
			return;
		}
	}
	*count += n;
}

static __always_inline int same_key(const struct drop_key *a, const struct drop_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2];
}

/* Samples a second, 0: none; set by the loader. */
const volatile __u32 sample_per_sec = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SAMPLES_RING_BYTES);
} samples SEC(".maps");

/* One shared budget: [0] the second it counts for, [1] samples taken in it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} sample_budget SEC(".maps");

static __always_inline int sample_allowed(void)
{
	__u32 k0 = 0, k1 = 1;
	__u64 *second = bpf_map_lookup_elem(&sample_budget, &k0);
	__u64 *taken = bpf_map_lookup_elem(&sample_budget, &k1);
	if (!second || !taken)
		return 0;
	__u64 now = bpf_ktime_get_ns() / 1000000000ULL;
	if (*second != now) {
		/* Racy across CPUs at the turn of a second: a few samples more, never unbounded. */
		*second = now;
		*taken = 0;
	}
	return __sync_fetch_and_add(taken, 1) < sample_per_sec;
}

static __always_inline void sample(struct sk_buff *skb, struct drop_key *key)
{
	struct drop_sample *s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
	if (!s) {
		bump(DROP_STAT_SAMPLE_LOST, 1);
		return;
	}
	__builtin_memset(s, 0, sizeof(*s));
	s->reason = key->reason;
	s->netns = key->netns;
	s->ifindex = key->ifindex;
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u8 first = 0;
	bpf_probe_read_kernel(&first, 1, head + nh);
	if (key->protocol == bpf_htons(0x0800) && (first >> 4) == 4) {
		s->family = 4;
		bpf_probe_read_kernel(&s->l4proto, 1, head + nh + 9);
		bpf_probe_read_kernel(s->saddr, 4, head + nh + 12);
		bpf_probe_read_kernel(s->daddr, 4, head + nh + 16);
		if (th == nh)
			th = nh + (first & 0xf) * 4;
	} else if (key->protocol == bpf_htons(0x86dd) && (first >> 4) == 6) {
		s->family = 6;
		bpf_probe_read_kernel(&s->l4proto, 1, head + nh + 6);
		bpf_probe_read_kernel(s->saddr, 16, head + nh + 8);
		bpf_probe_read_kernel(s->daddr, 16, head + nh + 24);
		if (th == nh)
			th = nh + 40;
	}
	/* 0xffff: the transport header was never set. */
	if (s->family && th != 0xffff && (s->l4proto == 6 || s->l4proto == 17)) {
		bpf_probe_read_kernel(&s->sport, 2, head + th);
		bpf_probe_read_kernel(&s->dport, 2, head + th + 2);
	}
	bpf_ringbuf_submit(s, 0);
}

/* The namespace a drop happened in: the device's, else the socket the skb is charged to,
 * else (TCP drops after the socket lookup, where neither is set) the receiving socket the
 * tracepoint names since 6.11. */
static __always_inline int count(struct sk_buff *skb, void *location, int reason,
				 struct sock *rx_sk)
{
	if ((__u32)reason < min_reason)
		return 0;
	bump(DROP_STAT_EVENTS, 1);

	struct drop_key key = {};
	key.reason = reason;
	key.location = (__u64)location;
	/* The arguments are BTF-typed: plain loads (relocated by CO-RE, fault-safe in the
	 * verifier's eyes), not a probe_read helper call per field. */
	key.protocol = skb->protocol;
	struct net_device *dev = skb->dev;
	if (dev) {
		key.ifindex = dev->ifindex;
		key.netns = dev->nd_net.net->ns.inum;
	} else {
		struct sock *sk = skb->sk;
		if (!sk)
			sk = rx_sk;
		if (sk)
			key.netns = sk->__sk_common.skc_net.net->ns.inum;
	}

	if (sample_per_sec && sample_allowed())
		sample(skb, &key);

	__u32 zero = 0;
	struct drop_run *run = bpf_map_lookup_elem(&last_run, &zero);
	if (!run) {
		add(&key, 1);
		return 0;
	}
	if (run->count && same_key(&run->key, &key)) {
		run->count += 1;
		return 0;
	}
	if (run->count)
		add(&run->key, run->count);
	run->key = key;
	run->count = 1;
	return 0;
}

/* 6.11 and later: kfree_skb also names the receiving socket. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(count_drop, struct sk_buff *skb, void *location, int reason, struct sock *rx_sk)
{
	return count(skb, location, reason, rx_sk);
}

/* Before 6.11: three arguments. The loader picks the one this kernel's tracepoint fits. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(count_drop_3, struct sk_buff *skb, void *location, int reason)
{
	return count(skb, location, reason, 0);
}
