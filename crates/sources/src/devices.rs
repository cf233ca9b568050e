//! The network devices of the root, read once before the collectors run and handed to each,
//! so no collector depends on another having run first (`snapshot --collector ethtool` works
//! alone).

use crate::collectors::link::parse_links;
use crate::netlink::Dump;
use crate::root::Root;
use std::collections::BTreeMap;

/// Device name -> ifindex.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Devices(BTreeMap<String, u32>);

impl Devices {
    /// From the rtnetlink link dump (a capture's `netlink/rtnl-links.bin`), else from
    /// `/sys/class/net/*/ifindex`. None readable: no devices, and each collector says what it
    /// could not read itself.
    pub fn read(root: &Root) -> Devices {
        if let Ok(links) = root.netlink(Dump::Links).map(|b| parse_links(&b))
            && let Ok(links) = links
        {
            return Devices(links.into_iter().map(|l| (l.name, l.index)).collect());
        }
        let dir = root.sys("class/net");
        let names = root.list(&dir).unwrap_or_default();
        Devices(
            names
                .into_iter()
                .filter_map(|n| {
                    let i = root.read_value(&dir.join(&n).join("ifindex")).ok()?;
                    Some((n, i.parse().ok()?))
                })
                .collect(),
        )
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The name of the device with this ifindex.
    pub fn name_of(&self, ifindex: u32) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, i)| **i == ifindex)
            .map(|(n, _)| n.as_str())
    }
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
        let lo = d.0["lo"];
        assert_eq!(d.name_of(lo), Some("lo"));
        // A capture with neither is no devices, not an error.
        let none = Devices::read(&Root::at(root.join("netutils-8cpu-softnet/t1")));
        assert_eq!(none, Devices::default());
    }
}
