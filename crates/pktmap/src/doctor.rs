//! `pktmap doctor`: what this kernel and these privileges offer, and therefore which pktmap
//! features work here and which do not, and why.

use serde::Serialize;

#[derive(Serialize)]
pub struct Check {
    pub what: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Effective capability bits of this process (`CapEff` in /proc/self/status).
pub fn capabilities() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("CapEff:")
                    .map(|v| u64::from_str_radix(v.trim(), 16).ok())
            })
        })
        .flatten()
        .unwrap_or(0)
}

pub fn checks() -> Vec<Check> {
    let mut out = Vec::new();
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").ok();
    out.push(Check {
        what: "kernel BTF",
        ok: btf.is_some(),
        detail: match &btf {
            Some(b) => format!("/sys/kernel/btf/vmlinux, {} KiB: CO-RE programs load, reason names are read from it", b.len() / 1024),
            None => "absent: pktmap trace cannot run (build the kernel with CONFIG_DEBUG_INFO_BTF)".into(),
        },
    });
    let has = |t: &str| {
        btf.as_deref()
            .is_some_and(|b| pktmap_bpf::btf::has_type(b, t))
    };
    for (tp, feature) in [
        ("kfree_skb", "trace drops: drop reasons"),
        ("softirq_raise", "trace latency: NET_RX raise to run (rx.5)"),
        (
            "softirq_entry",
            "trace latency: softirq latency and run time (rx.5)",
        ),
        ("softirq_exit", "trace latency: softirq run time (rx.5)"),
        (
            "napi_poll",
            "trace latency: NAPI work against budget (rx.6)",
        ),
        (
            "netif_receive_skb",
            "trace latency: receive to copy (rx.11)",
        ),
        (
            "skb_copy_datagram_iovec",
            "trace latency: receive to copy (rx.11)",
        ),
        ("net_dev_queue", "trace latency: qdisc residence (tx.3)"),
        (
            "net_dev_start_xmit",
            "trace latency: qdisc residence (tx.3)",
        ),
        ("sched_wakeup", "trace latency: run-queue latency (rx.11)"),
        ("sched_switch", "trace latency: run-queue latency (rx.11)"),
    ] {
        let ok = has(&format!("btf_trace_{tp}"));
        out.push(Check {
            what: tp,
            ok,
            detail: format!(
                "tracepoint {}for {feature}",
                if ok { "present " } else { "absent: no " }
            ),
        });
    }
    let reasons = pktmap_bpf::btf::drop_reasons();
    out.push(Check {
        what: "drop reasons",
        ok: reasons.is_ok(),
        detail: match &reasons {
            Ok(r) => match pktmap_bpf::btf::unmapped_reasons(r).as_slice() {
                [] => format!(
                    "{} reasons named in enum skb_drop_reason, each mapped to its stage",
                    r.len()
                ),
                new => format!(
                    "{} reasons named in enum skb_drop_reason; {} newer than pktmap's mapping, \
                     placed by their family only: {}",
                    r.len(),
                    new.len(),
                    new.join(", ")
                ),
            },
            Err(e) => e.clone(),
        },
    });
    let kprobes = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    out.push(Check {
        what: "kprobes",
        ok: true,
        detail: if kprobes {
            "present, and not needed: pktmap uses tracepoints only".into()
        } else {
            "absent, and not needed: pktmap uses tracepoints only".into()
        },
    });
    // Only tried when BPF can be loaded at all, so the answer is about fentry itself.
    let fentry = pktmap_bpf::probe::fentry();
    out.push(Check {
        what: "fentry",
        ok: true,
        detail: match fentry {
            Ok(()) => "allowed (tried), and not needed: pktmap uses tracepoints only".into(),
            Err(e) => format!("refused ({e}), and not needed: pktmap uses tracepoints only"),
        },
    });
    let ringbuf = has("bpf_ringbuf_query")
        || btf.as_deref().is_some_and(|b| {
            pktmap_bpf::btf::enum_values(b, "bpf_map_type")
                .is_ok_and(|m| m.values().any(|n| n == "BPF_MAP_TYPE_RINGBUF"))
        });
    out.push(Check {
        what: "BPF ring buffer",
        ok: ringbuf,
        detail: if ringbuf {
            "available (not needed: pktmap counts in the kernel and sends no packet to user space)"
                .into()
        } else {
            "absent".into()
        },
    });
    let caps = capabilities();
    let cap = |bit: u32| caps & (1 << bit) != 0;
    let (bpf, perfmon, admin) = (cap(39), cap(38), cap(21));
    let (syslog, ptrace, net_admin) = (cap(34), cap(19), cap(12));
    out.push(Check {
        what: "privileges",
        ok: (bpf && perfmon) || admin,
        detail: format!(
            "CAP_BPF {}, CAP_PERFMON {}, CAP_SYSLOG {}, CAP_SYS_ADMIN {}, CAP_SYS_PTRACE {}, CAP_NET_ADMIN {}: trace needs CAP_BPF+CAP_PERFMON (CAP_SYSLOG names drop locations, CAP_SYS_ADMIN measures its own cost); --netns/--pid need CAP_SYS_ADMIN, --all-netns also CAP_SYS_PTRACE; walk, snapshot, diagnose and audit need none, though naming firewall rules needs CAP_NET_ADMIN (and CAP_NET_RAW for legacy tables)",
            yes(bpf), yes(perfmon), yes(syslog), yes(admin), yes(ptrace), yes(net_admin)
        ),
    });
    out
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

pub fn text(checks: &[Check]) -> String {
    let mut out = vec!["pktmap doctor".to_string()];
    for c in checks {
        out.push(format!(
            "{} {:<26} {}",
            if c.ok { "ok  " } else { "MISS" },
            c.what,
            c.detail
        ));
    }
    out.join("\n") + "\n"
}
