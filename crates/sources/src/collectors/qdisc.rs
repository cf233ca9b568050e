//! Qdiscs over rtnetlink (RTM_GETQDISC dump): every device's qdisc tree with its statistics,
//! the per-kind extended statistics the kernel gives (fq_codel, fq), and ingress/clsact.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, SourceError};
use crate::netlink::{Dump, attrs, parse_messages};
use crate::root::Root;
use netlink_packet_core::Nla;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{TcAttribute, TcFqCodelXstats, TcHandle, TcStats2, TcXstats};
use pktmap_model::snapshot::{Kind, labels};

/// TCA_STATS_PKT64: the 64-bit packet count beside the 32-bit one of gnet_stats_basic (4.20+).
const TCA_STATS_PKT64: u16 = 8;

#[derive(Debug, Default, PartialEq)]
pub struct Qdisc {
    pub ifindex: i32,
    pub kind: String,
    pub handle: String,
    /// `root`, `ingress` (also clsact) or the parent class handle.
    pub parent: String,
    pub bytes: u64,
    pub packets: u64,
    pub drops: u64,
    pub overlimits: u64,
    pub requeues: u64,
    pub backlog: u64,
    pub qlen: u64,
    /// Kind-specific counters (`drop_overlimit`, `ecn_mark`, `flows_plimit`...).
    pub xstats: Vec<(&'static str, u64, Kind)>,
}

fn handle(h: TcHandle) -> String {
    format!(
        "{:x}:{}",
        h.major,
        if h.minor == 0 {
            String::new()
        } else {
            format!("{:x}", h.minor)
        }
    )
}

fn parent(h: TcHandle) -> String {
    match (h.major, h.minor) {
        (0xffff, 0xffff) => "root".into(),
        (0xffff, 0xfff1) => "ingress".into(),
        _ => handle(h),
    }
}

/// Decodes a RTM_GETQDISC dump.
pub fn parse_qdiscs(bytes: &[u8]) -> Result<Vec<Qdisc>, ParseError> {
    let mut out = Vec::new();
    for msg in parse_messages(bytes)? {
        let RouteNetlinkMessage::NewQueueDiscipline(m) = msg else {
            continue;
        };
        let mut q = Qdisc {
            ifindex: m.header.index,
            handle: handle(m.header.handle),
            parent: parent(m.header.parent),
            ..Qdisc::default()
        };
        let mut pkt64 = None;
        for a in &m.attributes {
            match a {
                TcAttribute::Kind(k) => q.kind = k.clone(),
                TcAttribute::Stats2(stats) => {
                    for s in stats {
                        match s {
                            TcStats2::Basic(b) => {
                                q.bytes = b.bytes;
                                q.packets = u64::from(b.packets);
                            }
                            TcStats2::Queue(s) => {
                                q.drops = u64::from(s.drops);
                                q.overlimits = u64::from(s.overlimits);
                                q.requeues = u64::from(s.requeues);
                                q.backlog = u64::from(s.backlog);
                                q.qlen = u64::from(s.qlen);
                            }
                            TcStats2::App(x) => q.xstats = xstats(x, &q.kind),
                            TcStats2::Other(nla) if nla.kind() == TCA_STATS_PKT64 => {
                                let mut v = vec![0u8; nla.value_len()];
                                nla.emit_value(&mut v);
                                pkt64 = v
                                    .get(..8)
                                    .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")));
                            }
                            _ => {}
                        }
                    }
                }
                TcAttribute::Xstats(x) if q.xstats.is_empty() => q.xstats = xstats(x, &q.kind),
                _ => {}
            }
        }
        if let Some(p) = pkt64 {
            q.packets = p;
        }
        out.push(q);
    }
    Ok(out)
}

fn xstats(x: &TcXstats, kind: &str) -> Vec<(&'static str, u64, Kind)> {
    use Kind::*;
    match x {
        TcXstats::FqCodel(TcFqCodelXstats::Qdisc(s)) => vec![
            ("drop_overlimit", s.drop_overlimit.into(), Counter32),
            ("drop_overmemory", s.drop_overmemory.into(), Counter32),
            ("ecn_mark", s.ecn_mark.into(), Counter32),
            ("ce_mark", s.ce_mark.into(), Counter32),
            ("new_flow_count", s.new_flow_count.into(), Counter32),
            ("new_flows_len", s.new_flows_len.into(), Gauge),
            ("old_flows_len", s.old_flows_len.into(), Gauge),
            ("memory_usage", s.memory_usage.into(), Gauge),
        ],
        TcXstats::Other(raw) if kind == "fq" => fq_xstats(raw),
        TcXstats::Other(raw) if kind == "cake" => cake_xstats(raw),
        _ => Vec::new(),
    }
}

/// `struct tc_fq_qd_stats` (include/uapi/linux/pkt_sched.h): eight u64, four u32, then u64s
/// added over releases; fields a kernel does not send are left out.
fn fq_xstats(raw: &[u8]) -> Vec<(&'static str, u64, Kind)> {
    let u64_at = |off: usize| {
        raw.get(off..off + 8)
            .map(|b| u64::from_ne_bytes(b.try_into().expect("8")))
    };
    let u32_at = |off: usize| {
        raw.get(off..off + 4)
            .map(|b| u64::from(u32::from_ne_bytes(b.try_into().expect("4"))))
    };
    let fields = [
        ("highprio_packets", u64_at(8), Kind::Counter64),
        ("tcp_retrans", u64_at(16), Kind::Counter64),
        ("throttled", u64_at(24), Kind::Counter64),
        ("flows_plimit", u64_at(32), Kind::Counter64),
        ("pkts_too_long", u64_at(40), Kind::Counter64),
        ("allocation_errors", u64_at(48), Kind::Counter64),
        ("flows", u32_at(64), Kind::Gauge),
        ("inactive_flows", u32_at(68), Kind::Gauge),
        ("throttled_flows", u32_at(72), Kind::Gauge),
        ("ce_mark", u64_at(80), Kind::Counter64),
        ("horizon_drops", u64_at(88), Kind::Counter64),
        ("horizon_caps", u64_at(96), Kind::Counter64),
    ];
    fields
        .into_iter()
        .filter_map(|(n, v, k)| v.map(|v| (n, v, k)))
        .collect()
}

/// The tc filters on one ingress hook: `(kind, priority, packets hit, packets dropped)` when the
/// kernel reports them. Filters report their actions' statistics only through the actions, so
/// pktmap counts filters by kind.
pub fn parse_filters(bytes: &[u8]) -> Result<Vec<String>, ParseError> {
    let mut kinds = Vec::new();
    for msg in parse_messages(bytes)? {
        let RouteNetlinkMessage::NewTrafficFilter(m) = msg else {
            continue;
        };
        for a in &m.attributes {
            if let TcAttribute::Kind(k) = a {
                kinds.push(k.clone());
            }
        }
    }
    Ok(kinds)
}

/// `tc` handles of the ingress hooks: `ingress`'s ffff:fff1 and clsact's ingress ffff:fff2.
const INGRESS_PARENTS: [u32; 2] = [0xffff_fff1, 0xffff_fff2];

fn nl_u(v: &[u8]) -> u64 {
    match v.len() {
        4 => u64::from(u32::from_ne_bytes(v.try_into().expect("4"))),
        8 => u64::from_ne_bytes(v.try_into().expect("8")),
        _ => 0,
    }
}

/// cake's statistics (TCA_CAKE_STATS_* in include/uapi/linux/pkt_sched.h): memory in use, and
/// per tin drops, ECN marks, ACKs dropped, delays and flows, summed (delays: the worst tin).
fn cake_xstats(raw: &[u8]) -> Vec<(&'static str, u64, Kind)> {
    const MEMORY_USED: u16 = 4;
    const TIN_STATS: u16 = 10;
    const TIN: [(u16, &str, Kind, bool); 8] = [
        (4, "dropped_packets", Kind::Counter32, false),
        (6, "ack_drops", Kind::Counter32, false),
        (8, "ecn_marked_packets", Kind::Counter32, false),
        (11, "backlog_bytes", Kind::Gauge, false),
        (18, "peak_delay_us", Kind::Gauge, true),
        (19, "avg_delay_us", Kind::Gauge, true),
        (21, "sparse_flows", Kind::Gauge, false),
        (22, "bulk_flows", Kind::Gauge, false),
    ];
    let top = attrs(raw);
    let mut out = Vec::new();
    if let Some((_, v)) = top.iter().find(|(t, _)| *t == MEMORY_USED) {
        out.push(("memory_used", nl_u(v), Kind::Gauge));
    }
    let Some((_, tins)) = top.iter().find(|(t, _)| *t == TIN_STATS) else {
        return out;
    };
    let tins: Vec<Vec<(u16, &[u8])>> = attrs(tins).into_iter().map(|(_, t)| attrs(t)).collect();
    for (ty, name, kind, worst) in TIN {
        let values = tins
            .iter()
            .filter_map(|t| t.iter().find(|(a, _)| *a == ty).map(|(_, v)| nl_u(v)));
        let v = if worst {
            values.max().unwrap_or(0)
        } else {
            values.fold(0, u64::saturating_add)
        };
        out.push((name, v, kind));
    }
    out
}

pub struct QdiscCollector;

impl Collector for QdiscCollector {
    fn id(&self) -> &'static str {
        "qdisc"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["rtnetlink RTM_GETQDISC"]
    }
    fn collect(&self, root: &Root, devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let file = root.base().join("netlink").join(Dump::Qdiscs.file());
        let qdiscs = parse_qdiscs(&root.netlink(Dump::Qdiscs)?).map_err(|e| e.at(&file))?;
        for q in qdiscs {
            let dev = u32::try_from(q.ifindex)
                .ok()
                .and_then(|i| devices.name_of(i))
                .map(str::to_string)
                .unwrap_or_else(|| format!("ifindex{}", q.ifindex));
            // Root and ingress qdiscs count everything below them; children are the detail.
            let prefix = match q.parent.as_str() {
                "root" => "qdisc",
                "ingress" => "qdisc.ingress",
                _ => "qdisc.child",
            };
            let l = labels([
                ("dev", dev.as_str()),
                ("kind", q.kind.as_str()),
                ("handle", q.handle.as_str()),
                ("parent", q.parent.as_str()),
            ]);
            use Kind::*;
            for (name, v, kind) in [
                ("packets", q.packets, Counter64),
                ("bytes", q.bytes, Counter64),
                ("drops", q.drops, Counter32),
                ("overlimits", q.overlimits, Counter32),
                ("requeues", q.requeues, Counter32),
                ("backlog", q.backlog, Gauge),
                ("qlen", q.qlen, Gauge),
            ] {
                sink.metric(format!("{prefix}.{name}"), l.clone(), v, kind);
            }
            for (name, v, kind) in &q.xstats {
                sink.metric(format!("qdisc.{}.{name}", q.kind), l.clone(), *v, *kind);
            }
            // Filters hang off an ingress or clsact qdisc: list them by kind.
            if q.parent == "ingress" {
                let mut kinds = Vec::new();
                for parent in INGRESS_PARENTS {
                    let dump = Dump::IngressFilters {
                        ifindex: q.ifindex,
                        parent,
                    };
                    let file = root.base().join("netlink").join(dump.file());
                    match root.netlink(dump) {
                        Ok(bytes) => kinds.extend(parse_filters(&bytes).map_err(|e| e.at(&file))?),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => sink.error(e),
                    }
                }
                let summary = if kinds.is_empty() {
                    "none".to_string()
                } else {
                    let mut counted: std::collections::BTreeMap<&str, usize> = Default::default();
                    for k in &kinds {
                        *counted.entry(k).or_default() += 1;
                    }
                    counted
                        .iter()
                        .map(|(k, n)| format!("{n} {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                sink.setting(
                    "tc.ingress.filters",
                    labels([("dev", dev.as_str())]),
                    summary,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_read_as_tc_prints_them() {
        assert_eq!(
            handle(TcHandle {
                major: 0x8001,
                minor: 0
            }),
            "8001:"
        );
        assert_eq!(
            handle(TcHandle {
                major: 1,
                minor: 0x10
            }),
            "1:10"
        );
        assert_eq!(
            parent(TcHandle {
                major: 0xffff,
                minor: 0xffff
            }),
            "root"
        );
        assert_eq!(
            parent(TcHandle {
                major: 0xffff,
                minor: 0xfff1
            }),
            "ingress"
        );
    }

    fn nest(ty: u16, body: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&((4 + body.len()) as u16).to_ne_bytes());
        b.extend_from_slice(&ty.to_ne_bytes());
        b.extend_from_slice(body);
        b.resize(b.len().div_ceil(4) * 4, 0);
        b
    }

    /// Built by the uapi numbering: cake cannot be loaded on the development kernel to capture.
    #[test]
    fn cake_tins_are_summed_and_the_worst_delay_kept() {
        let tin = |dropped: u32, delay: u32| {
            [
                nest(4, &dropped.to_ne_bytes()),
                nest(19, &delay.to_ne_bytes()),
            ]
            .concat()
        };
        let tins = [nest(1, &tin(5, 300)), nest(2, &tin(7, 900))].concat();
        let raw = [nest(4, &4096u32.to_ne_bytes()), nest(10, &tins)].concat();
        let x = cake_xstats(&raw);
        assert!(x.contains(&("memory_used", 4096, Kind::Gauge)));
        assert!(x.contains(&("dropped_packets", 12, Kind::Counter32)));
        assert!(x.contains(&("avg_delay_us", 900, Kind::Gauge)));
        assert!(
            cake_xstats(&[1, 2, 3]).is_empty(),
            "garbage is no statistics, not a panic"
        );
    }

    #[test]
    fn fq_xstats_of_a_short_struct_keep_what_is_there() {
        let mut raw = vec![0u8; 72];
        raw[32..40].copy_from_slice(&5u64.to_ne_bytes());
        let x = fq_xstats(&raw);
        assert!(x.contains(&("flows_plimit", 5, Kind::Counter64)));
        assert!(x.iter().all(|(n, _, _)| *n != "ce_mark"));
    }
}
