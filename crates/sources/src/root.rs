//! Where every read goes: a live `/` or a captured tree holding `proc/` and `sys/`.

use crate::error::SourceError;
use crate::ethtool::{Query, query_live};
use crate::netlink::{Dump, dump_live};
use std::collections::{BTreeMap, BTreeSet};

/// Marks a directory a capture had to create empty, so that git keeps it; never listed.
const KEEP: &str = ".pktmap-keep";
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
    /// Inside a namespace's thread: where this thread's `/proc/net` and its own sysfs are.
    netns_dirs: Option<(PathBuf, PathBuf)>,
    /// When set, every successful read is kept so `capture` can write it out as a tree that
    /// `--root` replays.
    recording: Option<Arc<Mutex<Recording>>>,
}

/// What a capture holds, by path relative to the root.
#[derive(Debug, Default)]
struct Recording {
    files: BTreeMap<PathBuf, Vec<u8>>,
    /// Directories listed, with the entries the listing returned.
    dirs: BTreeMap<PathBuf, BTreeSet<String>>,
    links: BTreeMap<PathBuf, PathBuf>,
}

impl Root {
    /// The running host.
    pub fn live() -> Root {
        Root::at("/")
    }

    /// A captured tree: `DIR/proc/...` and `DIR/sys/...`.
    pub fn at(dir: impl Into<PathBuf>) -> Root {
        Root {
            base: dir.into(),
            netns_dirs: None,
            recording: None,
        }
    }

    /// The live root as seen from a thread that entered a network namespace: `/proc/net` is
    /// the thread's own (`/proc/thread-self/net`), sysfs the one mounted at `sys`.
    pub fn in_netns(self, sys: PathBuf) -> Root {
        Root {
            netns_dirs: Some((PathBuf::from("/proc/thread-self/net"), sys)),
            ..self
        }
    }

    /// The same root, keeping everything read through it.
    pub fn recording(self) -> Root {
        Root {
            recording: Some(Arc::default()),
            ..self
        }
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// `proc/REL` under the root.
    pub fn proc(&self, rel: &str) -> PathBuf {
        match (&self.netns_dirs, rel.strip_prefix("net/")) {
            (Some((net, _)), Some(rest)) => net.join(rest),
            _ => self.base.join("proc").join(rel),
        }
    }

    /// `sys/REL` under the root.
    pub fn sys(&self, rel: &str) -> PathBuf {
        match &self.netns_dirs {
            Some((_, sys)) => sys.join(rel),
            None => self.base.join("sys").join(rel),
        }
    }

    /// The whole file in one read, so a value is never half from one moment and half from
    /// the next.
    pub fn read(&self, path: &Path) -> Result<String, SourceError> {
        // Not fs::read: procfs and sysfs report sizes of 0 or 4096 whatever they hold, so the
        // stat it makes to size its buffer is a wasted system call on every file.
        // File::read_to_end asks for the size too, so read in plain chunks.
        let bytes = read_plain(path).map_err(|e| SourceError::io(path, e))?;
        self.record(path, |rec, rel| {
            rec.files.insert(rel, bytes.clone());
        });
        // Interface names and process names are bytes to the kernel, not UTF-8.
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The reply bytes of an rtnetlink dump: asked of the kernel on the live root, read from
    /// `netlink/` in a capture.
    pub fn netlink(&self, dump: Dump) -> Result<Vec<u8>, SourceError> {
        let file = self.base.join("netlink").join(dump.file());
        let bytes = if self.base == Path::new("/") {
            dump_live(dump)
                .map_err(|e| SourceError::io(Path::new(&format!("rtnetlink {dump:?} dump")), e))?
        } else {
            read_plain(&file).map_err(|e| SourceError::io(&file, e))?
        };
        self.record(&file, |rec, rel| {
            rec.files.insert(rel, bytes.clone());
        });
        Ok(bytes)
    }

    /// An ethtool answer for `dev`, in `ethtool`'s own layout: asked of the kernel on the live
    /// root, read from `ethtool/DEV/` in a capture.
    pub fn ethtool(&self, dev: &str, q: Query) -> Result<String, SourceError> {
        let file = self.base.join("ethtool").join(dev).join(q.file());
        let text = if self.base == Path::new("/") {
            query_live(dev, q)
                .map_err(|e| SourceError::io(Path::new(&format!("ethtool {q:?} of {dev}")), e))?
        } else {
            String::from_utf8_lossy(&read_plain(&file).map_err(|e| SourceError::io(&file, e))?)
                .into_owned()
        };
        self.record(&file, |rec, rel| {
            rec.files.insert(rel, text.clone().into_bytes());
        });
        Ok(text)
    }

    /// Like [`read`](Self::read), trimmed; for one-value sysfs and sysctl files.
    pub fn read_value(&self, path: &Path) -> Result<String, SourceError> {
        Ok(self.read(path)?.trim().to_string())
    }

    /// Entry names of a directory, sorted so output is stable.
    pub fn list(&self, dir: &Path) -> Result<Vec<String>, SourceError> {
        self.list_where(dir, |_| true)
    }

    /// The entries of a directory that `keep` accepts; only those are recorded.
    pub fn list_where(
        &self,
        dir: &Path,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, SourceError> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| SourceError::io(dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != KEEP && keep(n))
            .collect();
        names.sort();
        self.record(dir, |rec, rel| {
            rec.dirs
                .entry(rel)
                .or_default()
                .extend(names.iter().cloned());
        });
        Ok(names)
    }

    /// The last component of a symlink's target (`device/driver` -> `virtio_net`).
    pub fn link_name(&self, path: &Path) -> Result<String, SourceError> {
        let target = std::fs::read_link(path).map_err(|e| SourceError::io(path, e))?;
        self.record(path, |rec, rel| {
            rec.links.insert(rel, target.clone());
        });
        Ok(target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default())
    }

    /// Whether a path exists; recorded as a directory when it is one, so a replay agrees.
    pub fn exists(&self, path: &Path) -> bool {
        let found = path.exists();
        if found && path.is_dir() {
            self.record(path, |rec, rel| {
                rec.dirs.entry(rel).or_default();
            });
        }
        found
    }

    fn record(&self, path: &Path, f: impl FnOnce(&mut Recording, PathBuf)) {
        let Some(rec) = &self.recording else { return };
        // Inside a namespace, its /proc/net and sysfs are recorded where a replay reads them.
        let rel = match &self.netns_dirs {
            Some((net, _)) if path.starts_with(net) => {
                Path::new("proc/net").join(path.strip_prefix(net).expect("checked"))
            }
            Some((_, sys)) if path.starts_with(sys) => {
                Path::new("sys").join(path.strip_prefix(sys).expect("checked"))
            }
            _ => match path.strip_prefix(&self.base) {
                Ok(rel) => rel.to_path_buf(),
                Err(_) => return,
            },
        };
        f(&mut rec.lock().unwrap_or_else(|e| e.into_inner()), rel);
    }

    /// Writes everything read so far under `out` as a tree `--root` replays. Symbolic links
    /// are kept as links with their original targets, which only their last component of
    /// matters to pktmap. Returns the number of files written.
    pub fn write_recording(&self, out: &Path) -> std::io::Result<usize> {
        let Some(rec) = &self.recording else {
            return Ok(0);
        };
        let rec = rec.lock().unwrap_or_else(|e| e.into_inner());
        for (path, bytes) in &rec.files {
            let target = out.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(target, bytes)?;
        }
        for (path, to) in &rec.links {
            let target = out.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let _ = std::fs::remove_file(&target);
            std::os::unix::fs::symlink(to, target)?;
        }
        // Listed entries nothing was read from still have to list on replay.
        for (dir, entries) in &rec.dirs {
            for path in
                std::iter::once(out.join(dir)).chain(entries.iter().map(|e| out.join(dir).join(e)))
            {
                if std::fs::symlink_metadata(&path).is_err() {
                    std::fs::create_dir_all(&path)?;
                    std::fs::write(path.join(KEEP), b"")?;
                }
            }
        }
        Ok(rec.files.len())
    }
}

fn read_plain(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_replays_the_same_reads() {
        let src = std::env::temp_dir().join(format!("pktmap-root-src-{}", std::process::id()));
        let out = std::env::temp_dir().join(format!("pktmap-root-out-{}", std::process::id()));
        std::fs::create_dir_all(src.join("proc/net")).unwrap();
        std::fs::write(src.join("proc/net/dev"), "x\n").unwrap();
        std::os::unix::fs::symlink("../../bus/virtio_net", src.join("proc/drv")).unwrap();
        let root = Root::at(&src).recording();
        assert_eq!(root.read(&root.proc("net/dev")).unwrap(), "x\n");
        assert_eq!(root.link_name(&root.proc("drv")).unwrap(), "virtio_net");
        assert_eq!(root.list(&root.proc("net")).unwrap(), vec!["dev"]);
        assert!(root.read(&root.proc("absent")).is_err());
        assert_eq!(root.write_recording(&out).unwrap(), 1);
        let replay = Root::at(&out);
        assert_eq!(replay.read(&replay.proc("net/dev")).unwrap(), "x\n");
        assert_eq!(replay.link_name(&replay.proc("drv")).unwrap(), "virtio_net");
        std::fs::remove_dir_all(&src).unwrap();
        std::fs::remove_dir_all(&out).unwrap();
    }
}
