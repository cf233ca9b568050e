//! `/sys/class/net/*`: what only sysfs tells (driver, speed, NUMA node), and, where rtnetlink
//! was not available (a capture without it), every link counter under `statistics/` and the
//! device attributes the link collector would have given.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::SourceError;
use crate::root::Root;
use pktmap_model::snapshot::{Kind, labels};

pub struct NetClass;

impl Collector for NetClass {
    fn id(&self) -> &'static str {
        "netclass"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["sys/class/net"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let class = root.sys("class/net");
        for dev in root.list(&class)? {
            let dir = class.join(&dev);
            // A device deleted between listing and reading is simply absent from this sample.
            let Ok(ifindex) = root.read_value(&dir.join("ifindex")) else {
                continue;
            };
            let l = labels([("dev", &dev)]);
            let from_netlink = sink.has_metric("rx_packets", &l);
            let set = |sink: &mut Sink, name: &str, v: String| {
                if !sink.has_setting(name, &l) {
                    sink.setting(name, l.clone(), v);
                }
            };
            if let Some(speed) =
                read_value(root, &dir, "speed").filter(|s| s.parse::<i64>().is_ok_and(|v| v > 0))
            {
                // speed reads as -1 or fails with EINVAL on virtual and down links.
                set(sink, "link.speed", speed);
            }
            if let Some(node) = read_value(root, &dir, "device/numa_node").filter(|n| n != "-1") {
                set(sink, "link.numa_node", node);
            }
            if let Ok(driver) = root.link_name(&dir.join("device/driver")) {
                set(sink, "link.driver", driver);
            }
            if from_netlink {
                continue;
            }
            sink.identity("dev", &dev, ifindex.clone());
            let stats = dir.join("statistics");
            match root.list(&stats) {
                Ok(names) => {
                    for name in names {
                        let path = stats.join(&name);
                        match root.read_value(&path).map(|v| v.parse::<u64>()) {
                            Ok(Ok(v)) => sink.metric(name, l.clone(), v, Kind::Counter64),
                            Ok(Err(_)) => sink.note(format!("{}: not a number", path.display())),
                            Err(e) if e.is_not_found() => {}
                            Err(e) => sink.error(e),
                        }
                    }
                }
                // No statistics directory (a minimal capture): the attributes still count.
                Err(e) if e.is_not_found() => {}
                Err(e) => sink.error(e),
            }
            let read = |f: &str| root.read_value(&dir.join(f)).ok();
            for (file, name) in [
                ("operstate", "link.operstate"),
                ("mtu", "link.mtu"),
                ("tx_queue_len", "link.tx_queue_len"),
            ] {
                if let Some(v) = read(file) {
                    sink.setting(name, l.clone(), v);
                }
            }
            let iflink = read("iflink");
            if let Some(iflink) = iflink.as_ref().filter(|i| **i != ifindex) {
                sink.setting("link.iflink", l.clone(), iflink.clone());
            }
            if let Ok(master) = root.link_name(&dir.join("master")) {
                sink.setting("link.master", l.clone(), master);
            }
            let has = |f: &str| root.exists(&dir.join(f));
            let kind = if dev == "lo" {
                "loopback"
            } else if has("bridge") {
                "bridge"
            } else if has("bonding") {
                "bond"
            } else if has("device") {
                "physical"
            } else if iflink.is_some_and(|i| i != ifindex) {
                // A virtual device linked to another: veth (and, rarer, vlan or macvlan; only
                // rtnetlink's link kind tells them apart, and this is its fallback).
                "veth"
            } else {
                "virtual"
            };
            sink.setting("link.kind", l.clone(), kind);
            if let Ok(queues) = root.list(&dir.join("queues")) {
                let count = |p: &str| {
                    queues
                        .iter()
                        .filter(|q| q.starts_with(p))
                        .count()
                        .to_string()
                };
                sink.setting("link.rx_queues", l.clone(), count("rx-"));
                sink.setting("link.tx_queues", l.clone(), count("tx-"));
            }
        }
        Ok(())
    }
}

fn read_value(root: &Root, dir: &std::path::Path, file: &str) -> Option<String> {
    root.read_value(&dir.join(file)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{Options, take_snapshot_with};

    /// A captured sysfs without netlink dumps: each attribute recorded once per device, and a
    /// bond named as one.
    #[test]
    fn sysfs_alone_records_each_attribute_once_and_knows_bonds() {
        let dir = std::env::temp_dir().join(format!("pktmap-netclass-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let net = dir.join("sys/class/net");
        for (dev, idx) in [("eth0", "2"), ("bond0", "3")] {
            std::fs::create_dir_all(net.join(dev)).unwrap();
            std::fs::write(net.join(dev).join("ifindex"), idx).unwrap();
            std::fs::write(net.join(dev).join("iflink"), idx).unwrap();
            std::fs::write(net.join(dev).join("speed"), "1000\n").unwrap();
        }
        std::fs::create_dir_all(net.join("eth0/device")).unwrap();
        std::fs::write(net.join("eth0/device/numa_node"), "0\n").unwrap();
        std::os::unix::fs::symlink(
            "../../bus/pci/drivers/e1000e",
            net.join("eth0/device/driver"),
        )
        .unwrap();
        std::fs::create_dir_all(net.join("bond0/bonding")).unwrap();
        let snap = take_snapshot_with(
            &Root::at(&dir),
            &Options {
                only: vec!["netclass".into()],
                ..Options::default()
            },
        );
        let count = |name: &str, dev: &str| {
            snap.settings
                .iter()
                .filter(|s| s.name == name && s.labels.get("dev").map(String::as_str) == Some(dev))
                .count()
        };
        for name in ["link.speed", "link.numa_node", "link.driver", "link.kind"] {
            assert_eq!(count(name, "eth0"), 1, "{name}");
        }
        assert_eq!(count("link.speed", "bond0"), 1);
        let kind = |dev: &str| {
            snap.settings
                .iter()
                .find(|s| {
                    s.name == "link.kind" && s.labels.get("dev").map(String::as_str) == Some(dev)
                })
                .map(|s| s.value.clone())
        };
        assert_eq!(kind("bond0").as_deref(), Some("bond"));
        assert_eq!(kind("eth0").as_deref(), Some("physical"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
