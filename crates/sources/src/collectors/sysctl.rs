//! Every sysctl the catalog names, read from `/proc/sys`. Read-only: pktmap prints the
//! `sysctl -w` line instead of writing.

use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::SourceError;
use crate::root::Root;
use pktmap_model::catalog::{ITEMS, ItemKind};
use pktmap_model::snapshot::Labels;

/// `net.core.somaxconn` -> `sys/net/core/somaxconn`.
pub fn sysctl_path(key: &str) -> String {
    format!("sys/{}", key.replace('.', "/"))
}

pub struct Sysctl;

impl Collector for Sysctl {
    fn id(&self) -> &'static str {
        "sysctl"
    }
    fn sources(&self) -> &'static [&'static str] {
        &["proc/sys/net"]
    }
    fn collect(&self, root: &Root, _devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let mut read = 0;
        let mut absent = Vec::new();
        for item in ITEMS.iter().filter(|i| i.kind == ItemKind::Sysctl) {
            match root.read(&root.proc(&sysctl_path(item.key))) {
                Ok(v) => {
                    // tcp_rmem and friends separate their fields with tabs.
                    let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
                    sink.setting(item.key, Labels::new(), v);
                    read += 1;
                }
                // Absent: a global sysctl seen from a container's namespace, a module not
                // loaded (nf_conntrack), or a kernel that predates it.
                Err(e) if e.is_not_found() => absent.push(item.key),
                Err(e) => sink.error(e),
            }
        }
        if !absent.is_empty() && read > 0 {
            sink.note(format!(
                "absent here: {} (global sysctls show only in the host's namespace; some need a module loaded)",
                absent.join(", ")
            ));
        }
        if read == 0 {
            return Err(SourceError::io(
                &root.proc("sys/net"),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths() {
        assert_eq!(
            super::sysctl_path("net.core.somaxconn"),
            "sys/net/core/somaxconn"
        );
    }
}
