// SPDX-License-Identifier: GPL-2.0
// Does nothing: `pktmap doctor` loads and attaches it to learn whether this kernel allows
// fentry programs (some refuse them even with BTF, e.g. under lockdown).
#include "vmlinux-min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/tcp_v4_rcv")
int BPF_PROG(probe_fentry)
{
	return 0;
}
