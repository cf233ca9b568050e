//! One moment of the host: every value the collectors read, with its metadata.
//!
//! Collectors write raw values only; rates, wraps and resets are the delta engine's job.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `format` field every snapshot file carries.
pub const SNAPSHOT_FORMAT: &str = "pktmap-snapshot";
/// Bumped whenever a field changes meaning or a reader could misread an older file.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Labels such as `dev`, `cpu`, `queue`, `irq`. Sorted, so keys compare stably.
pub type Labels = BTreeMap<String, String>;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub format: String,
    pub version: u32,
    pub pktmap_version: String,
    pub meta: Meta,
    pub collectors: Vec<CollectorRun>,
    pub metrics: Vec<Metric>,
    pub settings: Vec<Setting>,
    /// What a labelled thing *is*: `dev=eth0` -> its ifindex. When the identity changes
    /// between two snapshots (an interface deleted and re-created under the same name), every
    /// counter carrying that label restarted from zero, whatever its value says.
    #[serde(default)]
    pub identities: BTreeMap<String, String>,
    /// The sockets worth a look (listeners, queues building, drops, retransmits), not all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sockets: Vec<SocketInfo>,
    /// The firewall rules and chain policies that discard packets (every one, with or without
    /// a counter); their counters are also metrics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firewall: Vec<crate::firewall::FwRule>,
}

/// One socket from sock_diag, with why pktmap kept it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct SocketInfo {
    /// `tcp`, `udp` (v6 sockets say so in their addresses).
    pub proto: String,
    /// `LISTEN`, `ESTABLISHED`...
    pub state: String,
    pub local: String,
    pub remote: String,
    /// Bytes unread (for a listener: connections waiting to be accepted).
    pub recv_q: u64,
    /// Bytes unacknowledged (for a listener: the accept queue's limit).
    pub send_q: u64,
    pub inode: u64,
    /// skmeminfo (`ss -m`): rmem_alloc, rcvbuf, wmem_alloc, sndbuf, fwd_alloc, wmem_queued,
    /// optmem, backlog, drops.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skmem: BTreeMap<String, u64>,
    /// tcp_info fields by their kernel names (`rtt` and `rttvar` in µs, rates in bytes/s).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tcp_info: BTreeMap<String, u64>,
    pub congestion: Option<String>,
    pub pid: Option<u32>,
    pub command: Option<String>,
    /// Why it is in the snapshot: `listener`, `recvq`, `drops`, `retrans`, `slow`.
    pub why: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Meta {
    pub hostname: Option<String>,
    pub kernel: Option<String>,
    /// `/proc/sys/kernel/random/boot_id`: two snapshots from different boots share no counter.
    pub boot_id: Option<String>,
    /// Seconds since boot (`/proc/uptime`), the clock intervals are measured with: unlike the
    /// wall clock it never jumps.
    pub uptime_s: Option<f64>,
    /// Wall-clock time the snapshot was taken, milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    pub cpus_online: Vec<u32>,
    pub numa_nodes: Vec<u32>,
    /// The root the values were read from (`/` on a live host).
    pub root: String,
    /// The network namespace read, when pktmap was told which (`--netns`, `--pid`,
    /// `--all-netns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsLabel>,
}

/// How a network namespace is known: by inode always, by name and container when it has them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct NetnsLabel {
    pub inode: u64,
    /// Its name under /run/netns (`ip netns`).
    pub name: Option<String>,
    /// A container or pod found from the cgroup of a process inside.
    pub container: Option<String>,
    /// A process inside it.
    pub pid: Option<u32>,
    /// The namespace pktmap itself runs in.
    pub own: bool,
}

impl NetnsLabel {
    /// `name`, the container, or `netns:[INODE]`, for headings.
    pub fn display(&self) -> String {
        let mut s = match (&self.name, &self.container) {
            (Some(n), _) => n.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) if self.own => "pktmap's own".into(),
            (None, None) => match self.pid {
                Some(p) => format!("pid {p}"),
                None => "unnamed".into(),
            },
        };
        s.push_str(&format!(" (net:[{}])", self.inode));
        s
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CollectorStatus {
    /// Everything read.
    Ok,
    /// Ran, but some of its sources or some rows of a file could not be read (see `notes`
    /// and `skipped`); what it recorded is what could be read.
    Partial,
    /// Its source could not be read at all (absent on this kernel, permission denied); `notes`
    /// says why.
    Unavailable,
    /// Its source was read but has no shape any kernel gives it (a header missing, a binary
    /// reply that does not decode): nothing recorded; `notes` names the file, line and field.
    Error,
}

/// A row of a file a collector could not read, and why; the other rows were read.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SkippedRow {
    /// As the kernel names it (`/proc/net/dev`).
    pub path: String,
    /// 1-based.
    pub line: usize,
    pub field: String,
    pub reason: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CollectorRun {
    pub id: String,
    pub status: CollectorStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Rows it could not read, each costing only itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedRow>,
    pub duration_us: u64,
    pub sources: Vec<String>,
    /// Not read in this collection: carried from an earlier one, read at this time
    /// (milliseconds since the epoch). Only the socket census is ever carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_from_ms: Option<u64>,
}

/// How a value behaves over time, which decides how its delta is computed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A counter the kernel keeps in 32 bits (softnet_stat columns): it wraps at 2^32.
    Counter32,
    Counter64,
    /// A level, not a count (queue length, entries in use): no rate.
    Gauge,
}

impl Kind {
    pub fn width_bits(self) -> Option<u32> {
        match self {
            Kind::Counter32 => Some(32),
            Kind::Counter64 => Some(64),
            Kind::Gauge => None,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    pub value: u64,
    pub kind: Kind,
}

impl Metric {
    /// Whether `other` is the same series: the same name and labels.
    pub fn same_series(&self, other: &Metric) -> bool {
        self.name == other.name && self.labels == other.labels
    }
}

/// Finds series of one snapshot in another's list. Two collections list the same counters in
/// the same order, so a series is looked for first at the index given; by name and labels,
/// through an index made on first need, only where the two lists differ (a device came or
/// went).
pub struct SeriesIndex<'a> {
    list: &'a [Metric],
    by_key: Option<foldhash::HashMap<(&'a str, &'a Labels), usize>>,
}

impl<'a> SeriesIndex<'a> {
    pub fn new(list: &'a [Metric]) -> SeriesIndex<'a> {
        SeriesIndex { list, by_key: None }
    }

    /// Where `m` is in the list (its first place), trying `at` first.
    pub fn find(&mut self, m: &Metric, at: usize) -> Option<usize> {
        if self.list.get(at).is_some_and(|p| p.same_series(m)) {
            return Some(at);
        }
        let list = self.list;
        self.by_key
            .get_or_insert_with(|| {
                let mut keys = foldhash::HashMap::default();
                for (j, p) in list.iter().enumerate() {
                    keys.entry((p.name.as_str(), &p.labels)).or_insert(j);
                }
                keys
            })
            .get(&(m.name.as_str(), &m.labels))
            .copied()
    }
}

/// A setting or other non-numeric fact (a sysctl, an affinity list, whether irqbalance runs).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Setting {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    pub value: String,
}

impl SocketInfo {
    /// ` (nginx pid 123)`, or nothing when the owner is unknown.
    pub fn owner(&self) -> String {
        match (&self.command, self.pid) {
            (Some(c), Some(p)) => format!(" ({c} pid {p})"),
            _ => String::new(),
        }
    }
}

/// Why a snapshot file cannot be used.
#[derive(Debug)]
pub enum LoadError {
    Json(serde_json::Error),
    NotASnapshot,
    Version { found: u32, written_by: String },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Json(e) => write!(f, "not valid snapshot JSON: {e}"),
            LoadError::NotASnapshot => {
                write!(
                    f,
                    "not a pktmap snapshot (no \"format\": \"{SNAPSHOT_FORMAT}\" field)"
                )
            }
            LoadError::Version { found, written_by } => write!(
                f,
                "snapshot format version {found} (written by pktmap {written_by}) is not readable \
                 by pktmap {} (format version {SNAPSHOT_VERSION}); take a new snapshot or use \
                 the pktmap that wrote it",
                env!("CARGO_PKG_VERSION")
            ),
        }
    }
}

impl std::error::Error for LoadError {}

impl Snapshot {
    /// Appends what another part of the same collection read (a second lane of collectors).
    pub fn absorb(&mut self, other: Snapshot) {
        self.collectors.extend(other.collectors);
        self.metrics.extend(other.metrics);
        self.settings.extend(other.settings);
        self.identities.extend(other.identities);
        self.sockets.extend(other.sockets);
        self.firewall.extend(other.firewall);
    }

    pub fn new(meta: Meta) -> Snapshot {
        Snapshot {
            format: SNAPSHOT_FORMAT.to_string(),
            version: SNAPSHOT_VERSION,
            pktmap_version: env!("CARGO_PKG_VERSION").to_string(),
            meta,
            collectors: Vec::new(),
            metrics: Vec::new(),
            settings: Vec::new(),
            identities: BTreeMap::new(),
            sockets: Vec::new(),
            firewall: Vec::new(),
        }
    }

    /// Parses a snapshot, checking format and version before the body so that a file from
    /// another version gets a message naming versions rather than a missing-field error.
    pub fn from_json(text: &str) -> Result<Snapshot, LoadError> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u32>,
            pktmap_version: Option<String>,
        }
        let head: Head = serde_json::from_str(text).map_err(LoadError::Json)?;
        if head.format.as_deref() != Some(SNAPSHOT_FORMAT) {
            return Err(LoadError::NotASnapshot);
        }
        let found = head.version.unwrap_or(0);
        if found != SNAPSHOT_VERSION {
            return Err(LoadError::Version {
                found,
                written_by: head.pktmap_version.unwrap_or_else(|| "unknown".into()),
            });
        }
        serde_json::from_str(text).map_err(LoadError::Json)
    }

    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|s| s.name == name && s.labels.is_empty())
            .map(|s| s.value.as_str())
    }

    pub fn collector(&self, id: &str) -> Option<&CollectorRun> {
        self.collectors.iter().find(|c| c.id == id)
    }
}

/// The `format` of a file holding one snapshot per namespace (`--all-netns`).
pub const SNAPSHOT_SET_FORMAT: &str = "pktmap-snapshots";

/// One snapshot per network namespace, taken together.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SnapshotSet {
    pub format: String,
    pub version: u32,
    pub snapshots: Vec<Snapshot>,
}

impl SnapshotSet {
    pub fn new(snapshots: Vec<Snapshot>) -> SnapshotSet {
        SnapshotSet {
            format: SNAPSHOT_SET_FORMAT.into(),
            version: SNAPSHOT_VERSION,
            snapshots,
        }
    }
}

/// Reads a snapshot file of either kind: one snapshot, or a set of them.
pub fn load_snapshots(text: &str) -> Result<Vec<Snapshot>, LoadError> {
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
        version: Option<u32>,
    }
    let head: Head = serde_json::from_str(text).map_err(LoadError::Json)?;
    if head.format.as_deref() == Some(SNAPSHOT_SET_FORMAT) {
        let found = head.version.unwrap_or(0);
        if found != SNAPSHOT_VERSION {
            return Err(LoadError::Version {
                found,
                written_by: "unknown".into(),
            });
        }
        let set: SnapshotSet = serde_json::from_str(text).map_err(LoadError::Json)?;
        return Ok(set.snapshots);
    }
    Ok(vec![Snapshot::from_json(text)?])
}

/// Names each veth's far end across namespaces. A veth says its peer's ifindex and the id
/// its namespace gives the peer's namespace; the snapshot's identities map those ids to
/// namespace inodes (`netnsid=ID`). Adds the setting `link.peer` = `DEVICE in NAMESPACE`.
pub fn link_veth_peers(snaps: &mut [Snapshot]) {
    let mut found = Vec::new();
    for (n, s) in snaps.iter().enumerate() {
        for set in s.settings.iter().filter(|x| x.name == "link.peer_index") {
            let Some(dev) = set.labels.get("dev") else {
                continue;
            };
            let nsid = s
                .settings
                .iter()
                .find(|x| x.name == "link.peer_netnsid" && x.labels == set.labels)
                .and_then(|x| s.identities.get(&format!("netnsid={}", x.value)));
            // Without a peer namespace id the peer is in the same namespace.
            let far_inode = match nsid {
                Some(inode) => inode.parse::<u64>().ok(),
                None => s.meta.netns.as_ref().map(|l| l.inode),
            };
            let Some(m) = snaps
                .iter()
                .position(|o| o.meta.netns.as_ref().map(|l| l.inode) == far_inode)
            else {
                continue;
            };
            let far = &snaps[m];
            let Some(far_dev) = far
                .identities
                .iter()
                .find(|(k, v)| k.starts_with("dev=") && **v == set.value)
                .map(|(k, _)| k.trim_start_matches("dev=").to_string())
            else {
                continue;
            };
            let ns = far
                .meta
                .netns
                .as_ref()
                .map(NetnsLabel::display)
                .unwrap_or_default();
            found.push((n, dev.clone(), format!("{far_dev} in {ns}")));
        }
    }
    for (n, dev, value) in found {
        snaps[n].settings.push(Setting {
            name: "link.peer".into(),
            labels: labels([("dev", &dev)]),
            value,
        });
    }
}

/// Builds a label map from pairs; the common case in collectors and tests.
pub fn labels<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A CPU list in the kernel's compact form: `[0,1,2,5]` -> `0-2,5`.
pub fn format_cpu_list(cpus: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        let mut s = Snapshot::new(Meta::default());
        s.metrics.push(Metric {
            name: "softnet.dropped".into(),
            labels: labels([("cpu", "0")]),
            value: 7,
            kind: Kind::Counter32,
        });
        s
    }

    #[test]
    fn cpu_lists_in_compact_form() {
        assert_eq!(format_cpu_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(format_cpu_list(&[]), "");
    }

    #[test]
    fn round_trips_through_json() {
        let s = sample();
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(Snapshot::from_json(&text).unwrap(), s);
    }

    #[test]
    fn newer_version_is_refused_naming_both_versions() {
        let mut v: serde_json::Value = serde_json::to_value(sample()).unwrap();
        v["version"] = 99.into();
        v["pktmap_version"] = "9.9.9".into();
        let err = Snapshot::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(err.contains("version 99"), "{err}");
        assert!(err.contains("9.9.9"), "{err}");
        assert!(err.contains(env!("CARGO_PKG_VERSION")), "{err}");
    }

    #[test]
    fn other_json_is_not_a_snapshot() {
        let err = Snapshot::from_json(r#"{"hello": 1}"#).unwrap_err();
        assert!(matches!(err, LoadError::NotASnapshot));
        assert!(matches!(
            Snapshot::from_json("{\"format\": ").unwrap_err(),
            LoadError::Json(_)
        ));
    }
}
