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
fn capabilities() -> u64 {
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
        ("kfree_skb", "trace drops"),
        ("netif_receive_skb", "receive-to-copy latency (planned)"),
        (
            "skb_copy_datagram_iovec",
            "receive-to-copy latency (planned)",
        ),
        ("softirq_entry", "softirq latency (planned)"),
        ("napi_poll", "NAPI budget histograms (planned)"),
        ("net_dev_queue", "qdisc residence (planned)"),
        ("sched_switch", "run-queue latency (planned)"),
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
            Ok(r) => format!("{} reasons named in enum skb_drop_reason", r.len()),
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
    let ringbuf = has("bpf_ringbuf_query")
        || btf.as_deref().is_some_and(|b| {
            pktmap_bpf::btf::enum_values(b, "bpf_map_type")
                .is_ok_and(|m| m.values().any(|n| n == "BPF_MAP_TYPE_RINGBUF"))
        });
    out.push(Check {
        what: "BPF ring buffer",
        ok: ringbuf,
        detail: if ringbuf {
            "available for sampled packets".into()
        } else {
            "absent".into()
        },
    });
    let caps = capabilities();
    let cap = |bit: u32| caps & (1 << bit) != 0;
    let (bpf, perfmon, admin, net_admin) = (cap(39), cap(38), cap(21), cap(12));
    out.push(Check {
        what: "privileges",
        ok: (bpf && perfmon) || admin,
        detail: format!(
            "CAP_BPF {}, CAP_PERFMON {}, CAP_SYS_ADMIN {}, CAP_NET_ADMIN {}: trace needs CAP_BPF+CAP_PERFMON (or CAP_SYS_ADMIN); --netns/--pid/--all-netns need CAP_SYS_ADMIN; walk, snapshot, diagnose and audit need none",
            yes(bpf), yes(perfmon), yes(admin), yes(net_admin)
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
