//! The firewall: every nftables and legacy iptables rule and chain policy that drops or
//! rejects, recorded with its text and location, and its counter as a loss metric at the stage
//! of the hook that runs it (see `pktmap_model::firewall`).

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::SourceError;
use crate::firewall;
use crate::root::Root;
use pktmap_model::snapshot::{Kind, Labels};

pub struct Firewall;

impl Collector for Firewall {
    fn id(&self) -> &'static str {
        "firewall"
    }
    fn sources(&self) -> &'static [&'static str] {
        &[
            "nfnetlink NFT_MSG_GETCHAIN, NFT_MSG_GETRULE (nftables, iptables-nft)",
            "proc/net/ip_tables_names",
            "proc/net/ip6_tables_names",
            "ip_tables / ip6_tables getsockopt (legacy tables)",
        ]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let (set, errors) = firewall::read(root)?;
        for e in errors {
            sink.error(e);
        }
        sink.metric(
            "netfilter.rules",
            Labels::new(),
            set.rules.len() as u64,
            Kind::Gauge,
        );
        let discarding = set.discarding();
        for r in &discarding {
            if let (Some(name), Some(packets)) = (r.counter(), r.packets) {
                sink.metric(name, r.labels(), packets, Kind::Counter64);
            }
        }
        sink.firewall(discarding);
        Ok(())
    }
}
