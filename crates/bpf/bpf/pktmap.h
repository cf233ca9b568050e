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

/* Bounded maps: a full map is counted in DROP_STAT_FULL, never silent. */
#define DROPS_MAX_ENTRIES 8192
#define DROP_STAT_EVENTS 0
#define DROP_STAT_FULL 1
#define DROP_STATS 2

#endif
