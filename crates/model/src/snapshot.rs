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
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CollectorStatus {
    Ok,
    /// Ran, but some of its sources could not be read (see `notes`).
    Partial,
    /// Read nothing; `notes` says why.
    Unavailable,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CollectorRun {
    pub id: String,
    pub status: CollectorStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub duration_us: u64,
    pub sources: Vec<String>,
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

/// A setting or other non-numeric fact (a sysctl, an affinity list, whether irqbalance runs).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Setting {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    pub value: String,
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

/// Builds a label map from pairs; the common case in collectors and tests.
pub fn labels<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
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
