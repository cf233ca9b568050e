//! Facts about the host every snapshot carries: name, kernel, boot, clock, CPUs, NUMA nodes.

use crate::root::Root;
use pktmap_model::snapshot::Meta;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn read(root: &Root) -> Meta {
    let value = |rel: &str| root.read_value(&root.proc(rel)).ok();
    Meta {
        hostname: value("sys/kernel/hostname"),
        kernel: value("sys/kernel/osrelease"),
        boot_id: value("sys/kernel/random/boot_id"),
        uptime_s: value("uptime").and_then(|u| parse_uptime(&u)),
        time_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        cpus_online: root
            .read_value(&root.sys("devices/system/cpu/online"))
            .ok()
            .and_then(|l| parse_cpu_list(&l))
            .unwrap_or_default(),
        numa_nodes: root
            .read_value(&root.sys("devices/system/node/online"))
            .ok()
            .and_then(|l| parse_cpu_list(&l))
            .unwrap_or_default(),
        root: root.base().display().to_string(),
        netns: None,
    }
}

/// `/proc/uptime`: "seconds-since-boot idle-seconds".
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// A kernel list such as `0-3,8,10-11` (cpu/online, node/online, smp_affinity_list).
/// `None` on anything malformed; an empty string is an empty list.
pub fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                // A range wider than any machine is garbage, not a list to allocate.
                if b < a || b - a > 65_536 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("0-99999999"), None);
        assert_eq!(parse_cpu_list("a"), None);
    }

    #[test]
    fn uptime() {
        assert_eq!(parse_uptime("350735.47 234388.90\n"), Some(350735.47));
        assert_eq!(parse_uptime(""), None);
    }
}
