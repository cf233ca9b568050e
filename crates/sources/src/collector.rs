//! The one trait every source implements, the one list of them, and the run that turns them
//! into a snapshot.

use crate::collectors::*;
use crate::devices::Devices;
use crate::error::{ParseError, SourceError};
use crate::kept::Kept;
use crate::meta;
use crate::root::Root;
use pktmap_model::census;
use pktmap_model::snapshot::{
    CollectorRun, CollectorStatus, Kind, Labels, Metric, Setting, SkippedRow, Snapshot, SocketInfo,
};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// Keep an earlier collection's socket census when nothing asks for a new one.
    pub carry: Option<Carry>,
    /// Live: read through files kept open between collections.
    pub keep: Option<Arc<Kept>>,
}

/// The collections a new one may carry the socket census from (`pktmap_model::census`): the
/// one of the same namespace, while its census is younger than `max_age` and no socket-stage
/// counter moved since.
#[derive(Debug, Clone)]
pub struct Carry {
    pub previous: Arc<Vec<Snapshot>>,
    pub max_age: Duration,
}

impl Carry {
    /// The earlier snapshot `now` may carry the census from, if any: the one of the namespace
    /// this thread is in (`here`), or, for a collection that names no namespace, the only one.
    fn from<'a>(&'a self, now: &Snapshot, here: Option<u64>) -> Option<&'a Snapshot> {
        let before = self.previous.iter().find(|s| match &s.meta.netns {
            Some(n) => here == Some(n.inode),
            None => self.previous.len() == 1,
        })?;
        let at = census::taken_at(before)?;
        let age = now.meta.time_unix_ms.saturating_sub(at);
        (u128::from(age) < self.max_age.as_millis() && !census::moved(before, now))
            .then_some(before)
    }
}

/// Every collector, in two lanes that run at once, each lane in order. A collector that reads
/// what another recorded runs in the same lane after it: netclass after link's netlink
/// counters, the socket census after the counters that decide whether it is needed. The lanes
/// take about the same time on an idle host.
pub static LANES: [&[&dyn Collector]; 2] = [
    &[
        &link::LinkCollector,
        &netdev::NetDev,
        &netclass::NetClass,
        &queues::Queues,
        &qdisc::QdiscCollector,
        &ethtool::Ethtool,
        &conntrack::Conntrack,
        &firewall::Firewall,
        &stat_tables::Neigh,
        &stat_tables::RtCache,
    ],
    &[
        &softnet::Softnet,
        &snmp::Snmp,
        &snmp::Netstat,
        &snmp6::Snmp6,
        &sockstat::Sockstat,
        &sysctl::Sysctl,
        &interrupts::Interrupts,
        &softirqs::Softirqs,
        &pressure::Pressure,
        &cpuidle::CpuIdle,
        &sockets::Sockets,
        &procs::Procs,
    ],
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
    // The namespace this thread reads: which census to carry, which kept files to read.
    let here = (opts.carry.is_some() || opts.keep.is_some())
        .then(|| {
            std::fs::metadata("/proc/thread-self/ns/net")
                .map(|m| m.ino())
                .ok()
        })
        .flatten();
    let kept = match (&opts.keep, here) {
        (Some(keep), Some(inode)) if root.is_live() => Some(keep.space(inode)),
        _ => None,
    };
    let keeping;
    let root = match &kept {
        Some(files) => {
            keeping = root.clone().keeping(files.clone());
            &keeping
        }
        None => root,
    };
    let meta = meta::read(root);
    let devices = Devices::read(root);
    let [first, second] = LANES.map(|lane| {
        lane.iter()
            .copied()
            .filter(|c| !(opts.skip_host_wide && c.host_wide()))
            .filter(|c| opts.only.is_empty() || opts.only.iter().any(|o| o == c.id()))
            .collect::<Vec<_>>()
    });
    // The second lane on a thread of its own, which shares this one's network and mount
    // namespaces (a namespace's collection runs on a thread that entered it). Both lanes start
    // together: counters that count the same packets in two places (a device's rx_dropped and
    // softnet's dropped, first in each lane) are read as close in time as they can be, or a
    // burst between the two reads shows as a loss at the wrong stage.
    let (mut snapshot, other) = std::thread::scope(|scope| {
        let other = (!second.is_empty()).then(|| {
            let meta = meta.clone();
            let devices = &devices;
            scope.spawn(move || run_lane(&second, root, devices, opts, here, Snapshot::new(meta)))
        });
        let mine = run_lane(&first, root, &devices, opts, here, Snapshot::new(meta));
        (mine, other.map(|t| t.join()))
    });
    match other {
        Some(Ok(s)) => snapshot.absorb(s),
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => {}
    }
    if let Some(files) = kept {
        files.sweep();
    }
    snapshot
}

/// Runs one lane's collectors in order into `snapshot`.
fn run_lane(
    lane: &[&dyn Collector],
    root: &Root,
    devices: &Devices,
    opts: &Options,
    here: Option<u64>,
    mut snapshot: Snapshot,
) -> Snapshot {
    for c in lane {
        // The collectors before the census read the counters that may ask for a new one.
        if c.id() == census::COLLECTOR
            && let Some(before) = opts.carry.as_ref().and_then(|k| k.from(&snapshot, here))
        {
            census::carry(before, &mut snapshot);
            continue;
        }
        let started = Instant::now();
        let mut sink = Sink {
            snapshot: &mut snapshot,
            notes: Vec::new(),
            skipped: Vec::new(),
            root,
        };
        let result = c.collect(root, devices, &mut sink);
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
            carried_from_ms: None,
        });
    }
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every collector, lane by lane: the order their records appear in a snapshot.
    fn collectors() -> impl Iterator<Item = &'static dyn Collector> {
        LANES.iter().flat_map(|lane| lane.iter().copied())
    }

    fn census_of(s: &Snapshot) -> &CollectorRun {
        s.collectors
            .iter()
            .find(|c| c.id == census::COLLECTOR)
            .unwrap()
    }

    /// A collection keeps the census of the one before while no socket-stage counter moved and
    /// that census is young enough; a counter moving, or its age, takes a new one.
    #[test]
    fn the_census_is_carried_only_while_quiet_and_young() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/hosts/vm-udp-flood");
        let (t0, t1) = (Root::at(dir.join("t0")), Root::at(dir.join("t1")));
        let first = take_snapshot(&t0);
        assert!(!first.sockets.is_empty());
        let after = |before: &Snapshot, max_age: u64| Options {
            carry: Some(Carry {
                previous: Arc::new(vec![before.clone()]),
                max_age: Duration::from_secs(max_age),
            }),
            ..Options::default()
        };
        // The same counters again: carried, with when it was read.
        let quiet = take_snapshot_with(&t0, &after(&first, 3600));
        let run = census_of(&quiet);
        assert_eq!(run.carried_from_ms, Some(first.meta.time_unix_ms));
        assert_eq!(run.duration_us, 0);
        assert_eq!(quiet.sockets, first.sockets);
        let census = |s: &Snapshot| -> Vec<Metric> {
            let mut m: Vec<Metric> = s
                .metrics
                .iter()
                .filter(|m| m.name.starts_with(census::PREFIX))
                .cloned()
                .collect();
            m.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
            m
        };
        assert_eq!(census(&quiet), census(&first));
        // Too old to keep: a census of its own.
        let old = take_snapshot_with(&t0, &after(&first, 0));
        assert_eq!(census_of(&old).carried_from_ms, None);
        // The flood moved Udp.RcvbufErrors between the two captures: a census of its own.
        let moved = take_snapshot_with(&t1, &after(&first, 3600));
        assert_eq!(census_of(&moved).carried_from_ms, None);
        assert_eq!(moved.sockets, take_snapshot(&t1).sockets);
        // A census named for a namespace is carried only into that namespace's collection.
        let named = |inode| {
            let mut s = first.clone();
            s.meta.netns = Some(pktmap_model::snapshot::NetnsLabel {
                inode,
                ..Default::default()
            });
            s
        };
        let here = std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
        let same = take_snapshot_with(&t0, &after(&named(here), 3600));
        assert!(census_of(&same).carried_from_ms.is_some());
        let other = take_snapshot_with(&t0, &after(&named(here + 1), 3600));
        assert_eq!(census_of(&other).carried_from_ms, None);
    }

    /// What a collector could not read is said under a stage of the walk: each has one.
    #[test]
    fn every_collector_has_the_stage_its_unread_rows_are_said_under() {
        for c in collectors() {
            assert!(
                pktmap_model::catalog::collector_stage(c.id()).is_some(),
                "{}",
                c.id()
            );
        }
        assert_eq!(
            collectors().count(),
            pktmap_model::catalog::COLLECTOR_STAGES.len()
        );
    }
}
