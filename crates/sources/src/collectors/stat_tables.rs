//! `/proc/net/stat/arp_cache`, `ndisc_cache` and `rt_cache`: the neighbour tables' and the
//! route input path's per-CPU statistics, where drops no SNMP counter counts show: packets
//! discarded while a neighbour never resolved (NEIGH_* reasons), and martian sources and
//! destinations (IP_INVALID_SOURCE and its kin).

use super::conntrack::{parse_nf_conntrack_stat, record_cpu_table};
use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::SourceError;
use crate::root::Root;

/// Reads one table if this kernel has it (no IPv6, no ndisc_cache: not an error).
fn table(root: &Root, sink: &mut Sink, file: &str, prefix: &str) -> Result<bool, SourceError> {
    let path = root.proc(&format!("net/stat/{file}"));
    let text = match root.read(&path) {
        Ok(t) => t,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    };
    let parsed = parse_nf_conntrack_stat(&text).map_err(|e| e.at(&path))?;
    sink.skipped(&path, parsed.skipped);
    record_cpu_table(sink, prefix, &parsed.rows);
    Ok(true)
}

/// The neighbour tables (ARP, IPv6 neighbour discovery).
pub struct Neigh;

impl Collector for Neigh {
    fn id(&self) -> &'static str {
        "neigh"
    }
    fn host_wide(&self) -> bool {
        // The tables are the kernel's, shared by every namespace.
        true
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/net/stat/arp_cache", "proc/net/stat/ndisc_cache"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        if !table(root, sink, "arp_cache", "neigh")? {
            return Err(SourceError::io(
                &root.proc("net/stat/arp_cache"),
                std::io::ErrorKind::NotFound.into(),
            ));
        }
        table(root, sink, "ndisc_cache", "neigh6")?;
        Ok(())
    }
}

/// The route input path's statistics (martians, no-route).
pub struct RtCache;

impl Collector for RtCache {
    fn id(&self) -> &'static str {
        "rt_cache"
    }
    fn host_wide(&self) -> bool {
        true
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/net/stat/rt_cache"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        if !table(root, sink, "rt_cache", "rt_cache")? {
            return Err(SourceError::io(
                &root.proc("net/stat/rt_cache"),
                std::io::ErrorKind::NotFound.into(),
            ));
        }
        Ok(())
    }
}
