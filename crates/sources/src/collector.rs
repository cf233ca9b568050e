//! The one trait every source implements, the one list of them, and the run that turns them
//! into a snapshot.

use crate::collectors::*;
use crate::devices::Devices;
use crate::error::{ParseError, SourceError};
use crate::meta;
use crate::root::Root;
use pktmap_model::snapshot::{
    CollectorRun, CollectorStatus, Kind, Labels, Metric, Setting, SkippedRow, Snapshot, SocketInfo,
};
use std::time::Instant;

/// A kernel source. Stateless: it reads and records raw values, nothing else.
pub trait Collector: Sync {
    /// Short stable name, used in snapshots and messages.
    fn id(&self) -> &'static str;
    /// The files it reads, relative to the root, for the snapshot's record and for `capture`.
    fn sources(&self) -> &'static [&'static str];
    /// Reads everything. An error means nothing usable was read; a partial read records notes.
    /// `devices` are the root's network devices, read once before any collector runs.
    fn collect(&self, root: &Root, devices: &Devices, sink: &mut Sink) -> Result<(), SourceError>;
    /// Reads host-wide state (per-CPU tables, IRQs, processes) that every namespace shows the
    /// same: read once, in pktmap's own namespace, when walking all of them.
    fn host_wide(&self) -> bool {
        false
    }
}

/// Which collectors a snapshot runs.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Leave out host-wide collectors (a second namespace of an --all-netns walk).
    pub skip_host_wide: bool,
    /// Run only these collector ids (`snapshot --collector`); empty means all.
    pub only: Vec<String>,
}

/// Every collector, in the order they run.
pub static COLLECTORS: &[&dyn Collector] = &[
    &link::LinkCollector,
    &netdev::NetDev,
    &netclass::NetClass,
    &queues::Queues,
    &qdisc::QdiscCollector,
    &ethtool::Ethtool,
    &softnet::Softnet,
    &snmp::Snmp,
    &snmp::Netstat,
    &snmp6::Snmp6,
    &sockstat::Sockstat,
    &conntrack::Conntrack,
    &firewall::Firewall,
    &stat_tables::Neigh,
    &stat_tables::RtCache,
    &sysctl::Sysctl,
    &interrupts::Interrupts,
    &softirqs::Softirqs,
    &pressure::Pressure,
    &cpuidle::CpuIdle,
    &sockets::Sockets,
    &procs::Procs,
];

/// Where a collector writes.
pub struct Sink<'a> {
    snapshot: &'a mut Snapshot,
    notes: Vec<String>,
    skipped: Vec<SkippedRow>,
    root: &'a Root,
}

impl Sink<'_> {
    pub fn metric(&mut self, name: impl Into<String>, labels: Labels, value: u64, kind: Kind) {
        self.snapshot.metrics.push(Metric {
            name: name.into(),
            labels,
            value,
            kind,
        });
    }

    pub fn setting(&mut self, name: impl Into<String>, labels: Labels, value: impl Into<String>) {
        self.snapshot.settings.push(Setting {
            name: name.into(),
            labels,
            value: value.into(),
        });
    }

    /// Records what `label=value` is (an ifindex), so a re-created device reads as a reset.
    pub fn identity(&mut self, label: &str, value: &str, id: impl Into<String>) {
        self.snapshot
            .identities
            .insert(format!("{label}={value}"), id.into());
    }

    /// Something this collector could not read; the collector becomes `partial`.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Rows of `path` a parser could not read: each a note and a typed entry; the collector
    /// becomes `partial`, and what it recorded is the rows that could be read.
    pub fn skipped(&mut self, path: &std::path::Path, rows: Vec<ParseError>) {
        for e in rows {
            let shown = match self.root.shown(e.clone().at(path)) {
                SourceError::Parse { path, .. } | SourceError::Io { path, .. } => path,
            };
            self.notes.push(format!(
                "{} line {}, {}: {} (row skipped)",
                shown.display(),
                e.line,
                e.field,
                e.msg
            ));
            self.skipped.push(SkippedRow {
                path: shown.display().to_string(),
                line: e.line,
                field: e.field,
                reason: e.msg,
            });
        }
    }

    /// A source that could not be read, named as the kernel names it.
    pub fn error(&mut self, e: SourceError) {
        self.notes.push(self.root.shown(e).to_string());
    }

    /// The sockets worth a look, with why.
    pub fn sockets(&mut self, sockets: Vec<SocketInfo>) {
        self.snapshot.sockets.extend(sockets);
    }

    pub fn firewall(&mut self, rules: Vec<pktmap_model::firewall::FwRule>) {
        self.snapshot.firewall.extend(rules);
    }

    /// Whether an earlier collector already recorded this metric (netlink before sysfs).
    pub fn has_metric(&self, name: &str, labels: &Labels) -> bool {
        self.snapshot
            .metrics
            .iter()
            .any(|m| m.name == name && &m.labels == labels)
    }

    /// Whether an earlier collector already recorded this setting.
    pub fn has_setting(&self, name: &str, labels: &Labels) -> bool {
        self.snapshot
            .settings
            .iter()
            .any(|s| s.name == name && &s.labels == labels)
    }
}

/// Runs every collector against `root`. One that fails is recorded as unavailable with its
/// reason and the others go on.
pub fn take_snapshot(root: &Root) -> Snapshot {
    take_snapshot_with(root, &Options::default())
}

pub fn take_snapshot_with(root: &Root, opts: &Options) -> Snapshot {
    let mut snapshot = Snapshot::new(meta::read(root));
    let devices = Devices::read(root);
    let chosen = COLLECTORS
        .iter()
        .filter(|c| !(opts.skip_host_wide && c.host_wide()))
        .filter(|c| opts.only.is_empty() || opts.only.iter().any(|o| o == c.id()));
    for c in chosen {
        let started = Instant::now();
        let mut sink = Sink {
            snapshot: &mut snapshot,
            notes: Vec::new(),
            skipped: Vec::new(),
            root,
        };
        let result = c.collect(root, &devices, &mut sink);
        let (mut notes, skipped) = (sink.notes, sink.skipped);
        for cut in root.take_cut() {
            notes.push(format!(
                "{}: larger than pktmap's cap of {} MiB; read up to its last whole line there",
                root.shown_path(cut).display(),
                crate::safe::FILE_CAP >> 20
            ));
        }
        let status = match result {
            Ok(()) if notes.is_empty() => CollectorStatus::Ok,
            Ok(()) => CollectorStatus::Partial,
            Err(e) => {
                let status = match e {
                    SourceError::Parse { .. } => CollectorStatus::Error,
                    SourceError::Io { .. } => CollectorStatus::Unavailable,
                };
                notes.insert(0, root.shown(e).to_string());
                status
            }
        };
        snapshot.collectors.push(CollectorRun {
            id: c.id().to_string(),
            status,
            notes,
            skipped,
            duration_us: started.elapsed().as_micros() as u64,
            sources: c.sources().iter().map(|s| s.to_string()).collect(),
        });
    }
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a collector could not read is said under a stage of the walk: each has one.
    #[test]
    fn every_collector_has_the_stage_its_unread_rows_are_said_under() {
        for c in COLLECTORS {
            assert!(
                pktmap_model::catalog::collector_stage(c.id()).is_some(),
                "{}",
                c.id()
            );
        }
        assert_eq!(
            COLLECTORS.len(),
            pktmap_model::catalog::COLLECTOR_STAGES.len()
        );
    }
}
