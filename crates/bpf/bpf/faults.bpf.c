// SPDX-License-Identifier: GPL-2.0
// Not loaded by pktmap: the fault rig's tests attach these to a veth in a namespace they
// created, to drop every packet where XDP and tc ingress run.
#include "vmlinux-min.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_drop_all(void *ctx)
{
	return 1; /* XDP_DROP */
}

SEC("tc")
int tc_shoot_all(void *ctx)
{
	return 2; /* TC_ACT_SHOT */
}
