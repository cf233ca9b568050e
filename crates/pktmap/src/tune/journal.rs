//! The tune journal: every change `tune try` makes, written (and synced) before the change is
//! made, with what undoes it; marked reverted or kept after. An entry still `applied` is an
//! experiment that did not finish: `tune revert` undoes it, and no new one starts meanwhile.

use anyhow::{Context, Result};
use pktmap_sources::safe::write::write_file;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const DEFAULT: &str = "/var/lib/pktmap/tune.json";

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Written before the change: the change may be in place.
    Applied,
    Reverted,
    /// Left in place on purpose (`--keep`).
    Kept,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Entry {
    pub id: u64,
    /// The setting's key (`knob.rs`): a sysctl, a queue file, `qdisc:DEV`, `ethtool:DEV:...`.
    pub key: String,
    pub old: String,
    pub new: String,
    /// The namespace's inode (None: pktmap's own, the host's when run there) and its name.
    pub netns: Option<u64>,
    pub netns_label: Option<String>,
    pub started_unix: u64,
    pub state: State,
    /// The measured effect, once the experiment ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

pub struct Journal {
    path: PathBuf,
    pub entries: Vec<Entry>,
}

impl Journal {
    pub fn open(path: &Path) -> Result<Journal> {
        let entries = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .with_context(|| format!("{}: not a pktmap tune journal", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Journal {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// Writes the journal through and syncs it (a crash leaves the old file or the new one).
    pub fn save(&self) -> Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let body = serde_json::to_vec_pretty(&self.entries)?;
        write_file(&self.path, &body).with_context(|| format!("writing {}", self.path.display()))
    }

    /// Experiments whose change may still be in place.
    pub fn unreverted(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.state == State::Applied)
    }

    pub fn next_id(&self) -> u64 {
        self.entries.iter().map(|e| e.id).max().unwrap_or(0) + 1
    }

    pub fn set(&mut self, id: u64, state: State, result: Option<serde_json::Value>) -> Result<()> {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == id) {
            e.state = state;
            if result.is_some() {
                e.result = result;
            }
        }
        self.save()
    }
}

/// A line for `walk` and `diagnose` to print while an experiment is unreverted, from the
/// default journal or the one `PKTMAP_TUNE_JOURNAL` names.
pub fn warning() -> Option<String> {
    let path =
        std::env::var_os("PKTMAP_TUNE_JOURNAL").map_or_else(|| DEFAULT.into(), PathBuf::from);
    let j = Journal::open(&path).ok()?;
    let e = j.unreverted().next()?;
    Some(format!(
        "pktmap: a tune experiment is still applied: {}={} (was {}){}; `pktmap tune revert` undoes it",
        e.key,
        e.new,
        e.old,
        e.netns_label
            .as_ref()
            .map(|l| format!(" in {l}"))
            .unwrap_or_default()
    ))
}
