//! Links over rtnetlink (RTM_GETLINK dump): 64-bit statistics of every device in one request,
//! its kind, master, peer, qdisc, queue counts and attached XDP program.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::SourceError;
use crate::netlink::{Dump, parse_messages};
use crate::root::Root;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkXdp, Stats64, XdpAttached,
};
use pktmap_model::snapshot::{Kind, labels};
use std::collections::HashMap;

/// One link as pktmap uses it.
#[derive(Debug, Default, PartialEq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `veth`, `bridge`, `vlan`... from IFLA_INFO_KIND; empty for physical devices and lo.
    pub kind: String,
    pub loopback: bool,
    /// IFLA_PARENT_DEV_BUS_NAME: set for devices on a bus (pci, virtio): physical.
    pub bus: Option<String>,
    pub master: Option<u32>,
    /// IFLA_LINK: the peer (veth) or lower device (vlan).
    pub link: Option<u32>,
    /// IFLA_LINK_NETNSID: the peer lives in another namespace.
    pub link_netnsid: Option<i32>,
    pub mtu: Option<u32>,
    pub qdisc: Option<String>,
    pub operstate: Option<String>,
    pub tx_queue_len: Option<u32>,
    pub rx_queues: Option<u32>,
    pub tx_queues: Option<u32>,
    /// (mode, program id): mode is native, generic or offload.
    pub xdp: Option<(&'static str, u32)>,
    pub stats: Option<[(&'static str, u64); 25]>,
}

fn stats(s: &Stats64) -> [(&'static str, u64); 25] {
    [
        ("rx_packets", s.rx_packets),
        ("tx_packets", s.tx_packets),
        ("rx_bytes", s.rx_bytes),
        ("tx_bytes", s.tx_bytes),
        ("rx_errors", s.rx_errors),
        ("tx_errors", s.tx_errors),
        ("rx_dropped", s.rx_dropped),
        ("tx_dropped", s.tx_dropped),
        ("multicast", s.multicast),
        ("collisions", s.collisions),
        ("rx_length_errors", s.rx_length_errors),
        ("rx_over_errors", s.rx_over_errors),
        ("rx_crc_errors", s.rx_crc_errors),
        ("rx_frame_errors", s.rx_frame_errors),
        ("rx_fifo_errors", s.rx_fifo_errors),
        ("rx_missed_errors", s.rx_missed_errors),
        ("tx_aborted_errors", s.tx_aborted_errors),
        ("tx_carrier_errors", s.tx_carrier_errors),
        ("tx_fifo_errors", s.tx_fifo_errors),
        ("tx_heartbeat_errors", s.tx_heartbeat_errors),
        ("tx_window_errors", s.tx_window_errors),
        ("rx_compressed", s.rx_compressed),
        ("tx_compressed", s.tx_compressed),
        ("rx_nohandler", s.rx_nohandler),
        ("rx_otherhost_dropped", s.rx_otherhost_dropped),
    ]
}

/// Decodes a RTM_GETLINK dump.
pub fn parse_links(bytes: &[u8]) -> Result<Vec<Link>, crate::error::ParseError> {
    let mut links = Vec::new();
    for msg in parse_messages(bytes)? {
        let RouteNetlinkMessage::NewLink(m) = msg else {
            continue;
        };
        let mut l = Link {
            index: m.header.index,
            loopback: m.header.flags.contains(LinkFlags::Loopback),
            ..Link::default()
        };
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => l.name = n.clone(),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        if let LinkInfo::Kind(k) = i {
                            l.kind = kind_name(k);
                        }
                    }
                }
                LinkAttribute::ParentDevBusName(b) => l.bus = Some(b.clone()),
                LinkAttribute::Controller(i) => l.master = Some(*i),
                LinkAttribute::Link(i) => l.link = Some(*i),
                LinkAttribute::LinkNetNsId(i) => l.link_netnsid = Some(*i),
                LinkAttribute::Mtu(v) => l.mtu = Some(*v),
                LinkAttribute::Qdisc(q) => l.qdisc = Some(q.clone()),
                LinkAttribute::OperState(s) => l.operstate = Some(format!("{s:?}").to_lowercase()),
                LinkAttribute::TxQueueLen(v) => l.tx_queue_len = Some(*v),
                LinkAttribute::NumRxQueues(v) => l.rx_queues = Some(*v),
                LinkAttribute::NumTxQueues(v) => l.tx_queues = Some(*v),
                LinkAttribute::Xdp(x) => l.xdp = xdp(x),
                LinkAttribute::Stats64(s) => l.stats = Some(stats(s)),
                _ => {}
            }
        }
        links.push(l);
    }
    Ok(links)
}

fn kind_name(k: &InfoKind) -> String {
    // InfoKind's Display prints the kernel's own kind string ("veth", "bridge").
    k.to_string()
}

fn xdp(attrs: &[LinkXdp]) -> Option<(&'static str, u32)> {
    let mode = attrs.iter().find_map(|a| match a {
        LinkXdp::Attached(XdpAttached::Driver) => Some("native"),
        LinkXdp::Attached(XdpAttached::SocketBuffer) => Some("generic"),
        LinkXdp::Attached(XdpAttached::Hardware) => Some("offload"),
        LinkXdp::Attached(XdpAttached::Multiple) => Some("multiple"),
        _ => None,
    })?;
    let id = attrs
        .iter()
        .find_map(|a| match a {
            LinkXdp::ProgId(id) => Some(*id),
            _ => None,
        })
        .unwrap_or(0);
    Some((mode, id))
}

pub struct LinkCollector;

impl Collector for LinkCollector {
    fn id(&self) -> &'static str {
        "link"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["rtnetlink RTM_GETLINK"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let file = root.base().join("netlink").join(Dump::Links.file());
        let links = parse_links(&root.netlink(Dump::Links)?).map_err(|e| e.at(&file))?;
        let names: HashMap<u32, &str> = links.iter().map(|l| (l.index, l.name.as_str())).collect();
        for l in &links {
            let dev = labels([("dev", l.name.as_str())]);
            sink.identity("dev", &l.name, l.index.to_string());
            for (name, v) in l.stats.iter().flatten() {
                sink.metric(*name, dev.clone(), *v, Kind::Counter64);
            }
            let kind = if l.loopback {
                "loopback"
            } else if !l.kind.is_empty() {
                l.kind.as_str()
            } else if l.bus.is_some() {
                "physical"
            } else {
                "virtual"
            };
            sink.setting("link.kind", dev.clone(), kind);
            let mut set = |name: &str, v: Option<String>| {
                if let Some(v) = v {
                    sink.setting(name, dev.clone(), v);
                }
            };
            set("link.operstate", l.operstate.clone());
            set("link.mtu", l.mtu.map(|v| v.to_string()));
            set("link.tx_queue_len", l.tx_queue_len.map(|v| v.to_string()));
            set("link.rx_queues", l.rx_queues.map(|v| v.to_string()));
            set("link.tx_queues", l.tx_queues.map(|v| v.to_string()));
            set("link.qdisc", l.qdisc.clone());
            set(
                "link.master",
                l.master
                    .map(|i| names.get(&i).map_or(i.to_string(), |n| n.to_string())),
            );
            // A peer in another namespace is known by index only; in this one, by name.
            let peer = l.link.filter(|i| *i != l.index && *i != 0).map(|i| {
                match (l.link_netnsid, names.get(&i)) {
                    (None, Some(n)) => n.to_string(),
                    (Some(ns), _) => format!("ifindex {i} in netns id {ns}"),
                    (None, None) => format!("ifindex {i}"),
                }
            });
            set("link.iflink", peer);
            if l.kind == "veth" {
                set("link.peer_index", l.link.map(|i| i.to_string()));
                set("link.peer_netnsid", l.link_netnsid.map(|i| i.to_string()));
            }
            set("xdp", l.xdp.map(|(mode, id)| format!("{mode} prog {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture() -> Vec<u8> {
        let p = format!(
            "{}/../../fixtures/hosts/vm-udp-flood/t1/netlink/rtnl-links.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(p).unwrap()
    }

    #[test]
    fn decodes_a_captured_dump() {
        let links = parse_links(&capture()).unwrap();
        let lo = links.iter().find(|l| l.name == "lo").unwrap();
        assert!(lo.loopback);
        let veth = links.iter().find(|l| l.name == "pmfix-vb").unwrap();
        assert_eq!(veth.kind, "veth");
        assert!(
            veth.link_netnsid.is_some(),
            "the peer lives in the other namespace"
        );
        let rx = veth
            .stats
            .unwrap()
            .iter()
            .find(|s| s.0 == "rx_packets")
            .unwrap()
            .1;
        assert!(rx > 100_000);
    }

    #[test]
    fn truncated_and_garbage_dumps_are_errors_not_panics() {
        let bytes = capture();
        for cut in (1..bytes.len()).step_by(7) {
            let _ = parse_links(&bytes[..cut]);
        }
        let e = parse_links(&bytes[..bytes.len() - 5]).unwrap_err();
        assert_eq!(e.field, "netlink header");
        let mut garbage = bytes.clone();
        garbage[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(parse_links(&garbage).is_err());
        assert!(parse_links(&[]).unwrap().is_empty());
    }
}
