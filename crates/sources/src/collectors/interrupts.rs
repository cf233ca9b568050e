//! `/proc/interrupts`, with each network queue's IRQ named after its device and queue across
//! the drivers' naming schemes, plus `/proc/irq/N/smp_affinity_list`.

use super::softirqs::split_cpu_table;
use crate::collector::{Collector, Sink};
use crate::devices::Devices;
use crate::error::{ParseError, Rows, SourceError, dec};
use crate::root::Root;
use pktmap_model::snapshot::{Kind, labels};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, PartialEq)]
pub struct IrqRow {
    /// Number for device IRQs, a mnemonic (`NMI`, `LOC`) for architecture ones.
    pub irq: String,
    /// `(cpu, count)`; architecture rows such as `ERR` have one value only.
    pub counts: Vec<(u32, u64)>,
    /// Everything after the counts: chip, hardware IRQ, trigger and the action names.
    pub desc: String,
}

impl IrqRow {
    /// Handler names: the last word, split at the commas of shared lines (`uhci, eth0`).
    pub fn actions(&self) -> Vec<&str> {
        // Actions follow the chip words after the widest run of spaces; for shared legacy
        // IRQs they are joined by ", ".
        let tail = self.desc.rsplit("  ").next().unwrap_or(&self.desc);
        tail.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect()
    }
}

/// Parses `/proc/interrupts` (any kernel): a `CPUn` header, then one row per IRQ; a row that
/// does not read costs that IRQ only.
pub fn parse_interrupts(text: &str) -> Result<Rows<IrqRow>, ParseError> {
    let (cpus, table) = split_cpu_table(text)?;
    let mut rows = Rows {
        rows: Vec::new(),
        skipped: table.skipped,
    };
    for (n, irq, rest) in table.rows {
        rows.take(irq_row(&cpus, n, irq, rest));
    }
    Ok(rows)
}

fn irq_row(cpus: &[u32], n: usize, irq: &str, rest: &str) -> Result<IrqRow, ParseError> {
    let irq = irq.trim().to_string();
    let mut counts = Vec::new();
    let mut rest = rest;
    for cpu in cpus {
        let trimmed = rest.trim_start();
        let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let word = &trimmed[..end];
        if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        counts.push((*cpu, dec(word, n, &format!("IRQ {irq} CPU{cpu}"))?));
        rest = &trimmed[end..];
    }
    let numbered = irq.bytes().all(|b| b.is_ascii_digit());
    if numbered && counts.len() != cpus.len() {
        return Err(ParseError::new(
            n,
            format!("IRQ {irq}"),
            format!("{} counts for {} CPUs", counts.len(), cpus.len()),
        ));
    }
    Ok(IrqRow {
        irq,
        counts,
        desc: rest.trim().to_string(),
    })
}

/// Which way a queue IRQ carries traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Rx,
    Tx,
    TxRx,
}

impl Dir {
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::Rx => "rx",
            Dir::Tx => "tx",
            Dir::TxRx => "txrx",
        }
    }
}

/// A network queue behind an IRQ action name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueIrq {
    /// The interface, or until it is resolved the bus name (`virtio2`, a PCI address).
    pub dev: String,
    pub queue: Option<u32>,
    pub dir: Dir,
}

/// Recognises the action names drivers give queue IRQs:
/// `eth0-TxRx-3` (ixgbe, i40e), `i40e-eth0-TxRx-3` and `ice-eth0-TxRx-3`, `ens5-Tx-Rx-3`
/// (ena), `eth0-rx-0`/`eth0-tx-0` (igb), `eth0-rxtx-0` (vmxnet3), `eth0-fp-0` (bnx2x),
/// `eth0-0` (bnx2, mlx4_en), `eth0-q0` (be2net), `virtio0-input.3`/`virtio0-output.3`,
/// `mlx5_comp3@pci:ADDR`, `mlx5-comp-3@pci:ADDR`, `mlx4-comp-3@pci:ADDR`, `mlx4-3@ADDR`; and a bare known device name
/// (a single-vector or shared IRQ). `devs` are the namespace's interfaces; when empty (a
/// bare capture of /proc/interrupts) the suffix patterns alone decide.
pub fn identify_queue(action: &str, devs: &BTreeSet<String>) -> Option<QueueIrq> {
    if devs.contains(action) {
        return Some(QueueIrq {
            dev: action.to_string(),
            queue: None,
            dir: Dir::TxRx,
        });
    }
    if let Some(rest) = action.strip_prefix("virtio")
        && let Some((num, q)) = rest.split_once('-')
        && num.bytes().all(|b| b.is_ascii_digit())
    {
        let (dir, queue) = if let Some(q) = q.strip_prefix("input.") {
            (Dir::Rx, q)
        } else if let Some(q) = q.strip_prefix("output.") {
            (Dir::Tx, q)
        } else {
            return None;
        };
        return Some(QueueIrq {
            dev: format!("virtio{num}"),
            queue: Some(queue.parse().ok()?),
            dir,
        });
    }
    if let Some((name, addr)) = action.split_once('@') {
        let addr = addr.strip_prefix("pci:").unwrap_or(addr);
        let q = name
            .strip_prefix("mlx5_comp")
            .or_else(|| name.strip_prefix("mlx5-comp-"))
            .or_else(|| name.strip_prefix("mlx4-comp-"))
            .or_else(|| name.strip_prefix("mlx4-"))?;
        return Some(QueueIrq {
            dev: addr.to_string(),
            queue: Some(q.parse().ok()?),
            dir: Dir::TxRx,
        });
    }
    // DEV-SUFFIX, possibly behind a DRIVER- prefix.
    let candidates = std::iter::once(action).chain(action.split_once('-').map(|(_, r)| r));
    for name in candidates {
        for (suffix, dir) in SUFFIXES {
            let Some(idx) = name.rfind(suffix) else {
                continue;
            };
            let (dev, q) = (&name[..idx], &name[idx + suffix.len()..]);
            let Ok(queue) = q.parse::<u32>() else {
                continue;
            };
            let plausible = if devs.is_empty() {
                looks_like_ifname(dev)
            } else {
                devs.contains(dev)
            };
            if plausible {
                return Some(QueueIrq {
                    dev: dev.to_string(),
                    queue: Some(queue),
                    dir: *dir,
                });
            }
        }
    }
    None
}

/// Longest first, so `-Tx-Rx-` wins over `-Rx-`.
const SUFFIXES: &[(&str, Dir)] = &[
    ("-Tx-Rx-", Dir::TxRx),
    ("-TxRx-", Dir::TxRx),
    ("-rxtx-", Dir::TxRx),
    ("-rx-", Dir::Rx),
    ("-tx-", Dir::Tx),
    ("-fp-", Dir::TxRx),
    ("-q", Dir::TxRx),
    ("-", Dir::TxRx),
];

/// Interface-like names without a device list: rules out `megasas0-msix3`, `nvme0q1`,
/// `ioat-msix` and PCI-addressed helpers like `i40e-0000:02:00.0:fdir-TxRx-0`.
fn looks_like_ifname(dev: &str) -> bool {
    const NET_PREFIXES: &[&str] = &[
        "eth", "en", "em", "ib", "bond", "p", "wl", "ww", "sl", "net", "vmnic", "ixgbe",
    ];
    !dev.is_empty()
        && dev.len() < 16
        && dev
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && NET_PREFIXES.iter().any(|p| dev.starts_with(p))
}

pub struct Interrupts;

impl Collector for Interrupts {
    fn id(&self) -> &'static str {
        "interrupts"
    }
    fn host_wide(&self) -> bool {
        true
    }
    fn sources(&self) -> &'static [&'static str] {
        &[
            "proc/interrupts",
            "proc/irq/N/smp_affinity_list",
            "sys/bus/virtio/devices",
            "sys/bus/pci/devices",
        ]
    }
    fn collect(&self, root: &Root, devices: &Devices, sink: &mut Sink) -> Result<(), SourceError> {
        let path = root.proc("interrupts");
        let parsed = parse_interrupts(&root.read(&path)?).map_err(|e| e.at(&path))?;
        sink.skipped(&path, parsed.skipped);
        let rows = parsed.rows;
        let devs: BTreeSet<String> = devices.names().map(str::to_string).collect();
        let mut bus_names: HashMap<String, String> = HashMap::new();
        for row in &rows {
            let Some(q) = row.actions().iter().find_map(|a| identify_queue(a, &devs)) else {
                continue;
            };
            let dev = bus_names
                .entry(q.dev.clone())
                .or_insert_with(|| resolve_bus_name(root, &q.dev).unwrap_or(q.dev.clone()))
                .clone();
            let queue = q.queue.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
            let base = [
                ("irq", row.irq.as_str()),
                ("dev", dev.as_str()),
                ("queue", queue.as_str()),
                ("dir", q.dir.as_str()),
            ];
            for (cpu, count) in &row.counts {
                let mut l = labels(base);
                l.insert("cpu".into(), cpu.to_string());
                // kstat_irqs are unsigned int, printed with %10u: they wrap at 2^32.
                sink.metric("interrupts", l, *count, Kind::Counter32);
            }
            match root.read_value(&root.proc(&format!("irq/{}/smp_affinity_list", row.irq))) {
                Ok(aff) => sink.setting("smp_affinity_list", labels(base), aff),
                Err(e) if e.is_not_found() => {}
                Err(e) => sink.error(e),
            }
        }
        Ok(())
    }
}

/// `virtio2` -> the interface under `/sys/bus/virtio/devices/virtio2/net/`; a PCI address ->
/// the interface under `/sys/bus/pci/devices/ADDR/net/`.
fn resolve_bus_name(root: &Root, name: &str) -> Option<String> {
    let dir = if name.starts_with("virtio") {
        root.sys(&format!("bus/virtio/devices/{name}/net"))
    } else if name.contains(':') {
        root.sys(&format!("bus/pci/devices/{name}/net"))
    } else {
        return None;
    };
    root.list(&dir).ok()?.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<IrqRow> {
        let path = format!(
            "{}/../../fixtures/public/interrupts/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let r = parse_interrupts(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.skipped.is_empty(), "{name}: {:?}", r.skipped);
        r.rows
    }

    fn queues(name: &str) -> Vec<QueueIrq> {
        fixture(name)
            .iter()
            .filter_map(|r| {
                r.actions()
                    .iter()
                    .find_map(|a| identify_queue(a, &BTreeSet::new()))
            })
            .collect()
    }

    #[test]
    fn every_public_capture_parses() {
        let dir = format!(
            "{}/../../fixtures/public/interrupts",
            env!("CARGO_MANIFEST_DIR")
        );
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let r = parse_interrupts(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!r.rows.is_empty());
            assert!(r.skipped.is_empty(), "{}: {:?}", path.display(), r.skipped);
        }
    }

    #[test]
    fn i40e_driver_prefixed_queues() {
        let q = queues("4cpu-i40e-X710-netutils.txt");
        assert!(!q.is_empty());
        assert!(
            q.iter()
                .all(|q| q.dev.starts_with("eth") && q.dir == Dir::TxRx),
            "{q:?}"
        );
    }

    #[test]
    fn igb_split_rx_tx() {
        let q = queues("4cpu-igb-rx-tx-split-netutils.txt");
        assert!(q.iter().any(|q| q.dir == Dir::Rx));
        assert!(q.iter().any(|q| q.dir == Dir::Tx));
    }

    #[test]
    fn ena_tx_rx() {
        let q = queues("8cpu-aarch64-ena-graviton-node_exporter.txt");
        assert!(
            q.iter().any(|q| q.dev == "eth0" && q.queue == Some(1)),
            "{q:?}"
        );
        // The management IRQ is not a queue.
        assert!(q.iter().all(|q| !q.dev.contains("mgmnt")));
    }

    #[test]
    fn mlx5_and_mlx4_by_pci_address() {
        let q = queues("4cpu-mlx5-2port-netutils.txt");
        assert!(
            q.iter().any(|q| q.dev.contains(':') && q.queue.is_some()),
            "{q:?}"
        );
        let q = queues("12cpu-mlx4-bnx2-netutils.txt");
        assert!(q.iter().any(|q| q.dev.contains(':')), "{q:?}");
    }

    #[test]
    fn virtio_input_output() {
        let q = queues("4cpu-x86-virtio-kvm-procfs.txt");
        assert!(
            q.iter()
                .any(|q| q.dev.starts_with("virtio") && q.dir == Dir::Rx)
        );
    }

    #[test]
    fn non_network_irqs_are_not_queues() {
        let devs = BTreeSet::new();
        for a in [
            "megasas0-msix3",
            "nvme0q1",
            "ioat-msix",
            "i40e-0000:02:00.0:fdir-TxRx-0",
            "virtio0-config",
            "hpsa0-msix2",
            "timer",
            "ahci[0000:00:1f.2]",
        ] {
            assert_eq!(identify_queue(a, &devs), None, "{a}");
        }
    }

    #[test]
    fn known_devices_decide() {
        let devs: BTreeSet<String> = ["eth0".to_string(), "ens5".to_string()].into();
        assert_eq!(identify_queue("eth0", &devs).unwrap().queue, None);
        assert_eq!(
            identify_queue("ens5-Tx-Rx-2", &devs).unwrap().queue,
            Some(2)
        );
        assert_eq!(identify_queue("weird9-TxRx-1", &devs), None);
    }

    #[test]
    fn shared_legacy_line_lists_every_action() {
        let rows = fixture("2cpu-kvm-virtio-shared-netutils.txt");
        let shared = rows.iter().find(|r| r.irq == "11").unwrap();
        assert_eq!(shared.actions(), vec!["uhci_hcd:usb1", "eth0", "eth1"]);
    }

    #[test]
    fn many_cpus() {
        let rows = fixture("1152cpu-x86_64-i40e-pcp-CUT.txt");
        assert!(rows.iter().any(|r| r.counts.len() == 1152));
    }

    #[test]
    fn malformed() {
        let r = parse_interrupts("  CPU0 CPU1\n 24: 1\n 25: 1 2\n").unwrap();
        let e = &r.skipped[0];
        assert_eq!((e.line, e.field.as_str()), (2, "IRQ 24"));
        assert_eq!(r.rows.len(), 1, "IRQ 25 is kept");
        assert_eq!(
            parse_interrupts("  CPU0\n garbage\n")
                .unwrap()
                .skipped
                .len(),
            1
        );
        assert!(parse_interrupts("  CPUx\n 1: 2\n").is_err());
        // Architecture rows may have fewer values.
        assert_eq!(
            parse_interrupts("  CPU0 CPU1\nERR: 0\n").unwrap().rows[0]
                .counts
                .len(),
            1
        );
    }
}
