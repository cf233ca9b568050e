//! The network devices of the root, read once per snapshot and handed to each collector, so
//! no collector depends on another having run first (`snapshot --collector ethtool` works
//! alone). They are read while the collectors that do not ask for them already run: a
//! collector that asks waits until they are there.

use crate::collectors::link::parse_links;
use crate::netlink::Dump;
use crate::root::Root;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Device name -> ifindex, once [`fill`](Devices::fill)ed.
#[derive(Debug, Default)]
pub struct Devices(OnceLock<BTreeMap<String, u32>>);

impl Devices {
    /// The devices of `root`, read now.
    pub fn read(root: &Root) -> Devices {
        let d = Devices::later();
        d.fill(root);
        d
    }

    /// Devices not read yet: [`fill`](Devices::fill) reads them, and asking before waits.
    pub fn later() -> Devices {
        Devices::default()
    }

    /// Reads them from the rtnetlink link dump (a capture's `netlink/rtnl-links.bin`), else
    /// from `/sys/class/net/*/ifindex`. None readable: no devices, and each collector says what
    /// it could not read itself.
    pub fn fill(&self, root: &Root) {
        let _ = self.0.set(read_map(root));
    }

    fn map(&self) -> &BTreeMap<String, u32> {
        self.0.wait()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map().keys().map(String::as_str)
    }

    /// The name of the device with this ifindex.
    pub fn name_of(&self, ifindex: u32) -> Option<&str> {
        self.map()
            .iter()
            .find(|(_, i)| **i == ifindex)
            .map(|(n, _)| n.as_str())
    }
}

fn read_map(root: &Root) -> BTreeMap<String, u32> {
    if let Ok(links) = root.netlink(Dump::Links).map(|b| parse_links(&b))
        && let Ok(links) = links
    {
        return links.into_iter().map(|l| (l.name, l.index)).collect();
    }
    let dir = root.sys("class/net");
    let names = root.list(&dir).unwrap_or_default();
    names
        .into_iter()
        .filter_map(|n| {
            let i = root.read_value(&dir.join(&n).join("ifindex")).ok()?;
            Some((n, i.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_come_from_the_link_dump_or_sysfs() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hosts");
        // The flood host has a link dump.
        let d = Devices::read(&Root::at(root.join("vm-udp-flood/t1")));
        assert!(d.names().any(|n| n == "lo"), "{d:?}");
        let lo = d.map()["lo"];
        assert_eq!(d.name_of(lo), Some("lo"));
        // A capture with neither is no devices, not an error.
        let none = Devices::read(&Root::at(root.join("netutils-8cpu-softnet/t1")));
        assert_eq!(none.names().count(), 0);
    }
}
