//! Where every read goes: a live `/` or a captured tree holding `proc/` and `sys/`.

use crate::bundle::{Format, KEEP, Tree};
use crate::error::SourceError;
use crate::ethtool::{Query, query_live};
use crate::kept::Files;
use crate::netlink::{Dump, dump_live};
use crate::safe::read::{self as safe_read, Entry, read_capped};
use crate::safe::write::{OutDir, write_with};
use crate::safe::{BUNDLE_CAP, FILE_CAP, over_cap};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
    source: Source,
    /// Inside a namespace's thread: where this thread's `/proc/net` and its own sysfs are.
    netns_dirs: Option<(PathBuf, PathBuf)>,
    /// When set, every successful read is kept so `capture` can write it out as a tree that
    /// `--root` replays.
    recording: Option<Arc<Mutex<Tree>>>,
    reads: Arc<Mutex<Reads>>,
    /// Live, in `serve`: files kept open between collections (`crate::kept`).
    kept: Option<Arc<Files>>,
}

/// Where the bytes come from.
#[derive(Debug, Clone)]
enum Source {
    /// The running kernel: files read as they are, bounded by [`FILE_CAP`].
    Live,
    /// A capture directory: hostile input, read below its top only.
    Dir,
    /// A capture archive, unpacked into memory under the same rules.
    Archive(Arc<Tree>),
}

/// What this root has read, for the bounds.
#[derive(Debug, Default)]
struct Reads {
    /// Replays: the size of each distinct file read, and their sum, which may not pass
    /// [`BUNDLE_CAP`] (kept as it goes: a capture of thousands of files is read whole).
    sizes: BTreeMap<PathBuf, u64>,
    total: u64,
    /// Live files cut at [`FILE_CAP`] since the last [`Root::take_cut`], by the thread that
    /// read them (collectors run in two lanes at once).
    cut: Vec<(std::thread::ThreadId, PathBuf)>,
}

impl Root {
    /// The running host.
    pub fn live() -> Root {
        Root::at("/")
    }

    /// A captured directory: `DIR/proc/...` and `DIR/sys/...` (`/` is the live host).
    pub fn at(dir: impl Into<PathBuf>) -> Root {
        let base = dir.into();
        Root {
            source: if base == Path::new("/") {
                Source::Live
            } else {
                Source::Dir
            },
            base,
            netns_dirs: None,
            recording: None,
            reads: Arc::default(),
            kept: None,
        }
    }

    /// What `--root PATH` names: a capture directory, or a capture archive (`.tar`,
    /// `.tar.gz`, `.tar.zst`), unpacked into memory with the bounds of [`Tree::read_archive`].
    pub fn open(path: impl Into<PathBuf>) -> Result<Root, SourceError> {
        let path = path.into();
        let meta = std::fs::metadata(&path).map_err(|e| SourceError::io(&path, e))?;
        if meta.is_dir() {
            return Ok(Root::at(path));
        }
        let bytes =
            safe_read::read_regular(&path, BUNDLE_CAP).map_err(|e| SourceError::io(&path, e))?;
        Root::from_archive(&bytes, path)
    }

    /// A capture archive's bytes as a root; `name` is what messages call it.
    pub fn from_archive(bytes: &[u8], name: impl Into<PathBuf>) -> Result<Root, SourceError> {
        let name = name.into();
        let tree = Tree::read_archive(bytes).map_err(|e| SourceError::io(&name, e))?;
        Ok(Root {
            source: Source::Archive(Arc::new(tree)),
            ..Root::at(name)
        })
    }

    /// The live root as seen from a thread that entered a network namespace: `/proc/net` is
    /// the thread's own (`/proc/thread-self/net`), sysfs the one mounted at `sys`.
    pub fn in_netns(self, sys: PathBuf) -> Root {
        Root {
            netns_dirs: Some((PathBuf::from("/proc/thread-self/net"), sys)),
            ..self
        }
    }

    /// The same root, reading through files kept open between collections.
    pub fn keeping(self, files: Arc<Files>) -> Root {
        Root {
            kept: Some(files),
            ..self
        }
    }

    /// What `collector` left for this collection of the namespace (`serve` only: a root
    /// without kept state remembers nothing), taken out.
    pub fn recall<T: std::any::Any>(&self, collector: &'static str) -> Option<T> {
        self.kept.as_ref()?.recall(collector)
    }

    /// Leaves `value` for `collector`'s next collection of this namespace, when the root keeps
    /// state between collections (`serve`); otherwise nothing is kept.
    pub fn remember<T: std::any::Any + Send>(&self, collector: &'static str, value: T) {
        if let Some(kept) = &self.kept {
            kept.remember(collector, value);
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

    /// A path as a user knows it: `/sys/...` and `/proc/net/...` rather than pktmap's
    /// private sysfs mount or the thread's `/proc/thread-self/net`; in a capture, relative
    /// to it, so messages read the same live and replayed.
    pub fn shown_path(&self, p: PathBuf) -> PathBuf {
        let p = match &self.netns_dirs {
            Some((net, sys)) => {
                if let Ok(rel) = p.strip_prefix(sys) {
                    Path::new("/sys").join(rel)
                } else if let Ok(rel) = p.strip_prefix(net) {
                    Path::new("/proc/net").join(rel)
                } else {
                    p
                }
            }
            None => p,
        };
        match p.strip_prefix(&self.base) {
            Ok(rel) if self.base != Path::new("/") => Path::new("/").join(rel),
            _ => p,
        }
    }

    /// An error naming its file as [`Root::shown_path`] does.
    pub fn shown(&self, e: SourceError) -> SourceError {
        e.map_path(|p| self.shown_path(p))
    }

    /// Whether this is the running host rather than a capture.
    pub fn is_live(&self) -> bool {
        matches!(self.source, Source::Live)
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
        let bytes = self.bytes(path)?;
        self.record(path, |rec, rel| {
            rec.files.insert(rel, bytes.clone());
        });
        // Interface names and process names are bytes to the kernel, not UTF-8.
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// A file's bytes, within the bounds. Live, a file over [`FILE_CAP`] is cut at its last
    /// whole line and remembered for [`take_cut`](Self::take_cut); in a replay it is an error,
    /// like a file that is not regular, one reached through a link, and anything past the
    /// bundle's cap.
    fn bytes(&self, path: &Path) -> Result<Vec<u8>, SourceError> {
        let io = |e| SourceError::io(path, e);
        let bytes = match &self.source {
            Source::Live => {
                let (mut bytes, more) = match &self.kept {
                    // Kept by the name a user knows: a namespace's sysfs is mounted afresh
                    // at a new directory for each collection.
                    Some(kept) => kept.read(&self.shown_path(path.to_path_buf()), path, FILE_CAP),
                    None => {
                        std::fs::File::open(path).and_then(|mut f| read_capped(&mut f, FILE_CAP))
                    }
                }
                .map_err(io)?;
                if more {
                    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                    bytes.truncate(whole);
                    let me = std::thread::current().id();
                    self.reads().cut.push((me, path.to_path_buf()));
                }
                return Ok(bytes);
            }
            Source::Dir => safe_read::read_file(&self.base, self.rel(path)?).map_err(io)?,
            Source::Archive(tree) => tree
                .files
                .get(self.rel(path)?)
                .cloned()
                .ok_or_else(|| io(std::io::ErrorKind::NotFound.into()))?,
        };
        let mut reads = self.reads();
        let before = reads.sizes.insert(path.to_path_buf(), bytes.len() as u64);
        reads.total = reads.total - before.unwrap_or(0) + bytes.len() as u64;
        if reads.total > BUNDLE_CAP {
            return Err(io(over_cap("the bundle read so far", BUNDLE_CAP)));
        }
        Ok(bytes)
    }

    /// Live files this thread cut at [`FILE_CAP`] since its last call, named as the kernel
    /// names them.
    pub fn take_cut(&self) -> Vec<PathBuf> {
        let me = std::thread::current().id();
        let mut reads = self.reads();
        let (mine, others) = std::mem::take(&mut reads.cut)
            .into_iter()
            .partition(|(t, _)| *t == me);
        reads.cut = others;
        mine.into_iter().map(|(_, p)| p).collect()
    }

    fn reads(&self) -> std::sync::MutexGuard<'_, Reads> {
        self.reads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A replayed path relative to the bundle's top; every path a collector builds is below it.
    fn rel<'a>(&self, path: &'a Path) -> Result<&'a Path, SourceError> {
        path.strip_prefix(&self.base).map_err(|_| {
            SourceError::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "outside the bundle"),
            )
        })
    }

    /// The reply bytes of an rtnetlink dump: asked of the kernel on the live root, read from
    /// `netlink/` in a capture.
    pub fn netlink(&self, dump: Dump) -> Result<Vec<u8>, SourceError> {
        let file = self.base.join("netlink").join(dump.file());
        let bytes = if self.is_live() {
            dump_live(dump)
                .map_err(|e| SourceError::io(Path::new(&format!("netlink {dump:?} dump")), e))?
        } else {
            self.bytes(&file)?
        };
        self.record(&file, |rec, rel| {
            rec.files.insert(rel, bytes.clone());
        });
        Ok(bytes)
    }

    /// A legacy `ip_tables` (or, `v6`, `ip6_tables`) table's info and entries: asked of the
    /// kernel on the live root, read from `xtables/` in a capture.
    pub fn xtables(&self, v6: bool, table: &str) -> Result<Vec<u8>, SourceError> {
        let family = if v6 { "ip6" } else { "ip" };
        let file = self
            .base
            .join("xtables")
            .join(format!("{family}-{table}.bin"));
        let bytes = if self.is_live() {
            crate::firewall::xtables::read_live(v6, table).map_err(|e| {
                SourceError::io(
                    Path::new(&format!("{family}_tables getsockopt of {table}")),
                    e,
                )
            })?
        } else {
            self.bytes(&file)?
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
        let text = if self.is_live() {
            query_live(dev, q)
                .map_err(|e| SourceError::io(Path::new(&format!("ethtool {q:?} of {dev}")), e))?
        } else {
            String::from_utf8_lossy(&self.bytes(&file)?).into_owned()
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
        let io = |e| SourceError::io(dir, e);
        let all: Vec<String> = match &self.source {
            Source::Live => std::fs::read_dir(dir)
                .map_err(io)?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Source::Dir => safe_read::list_dir(&self.base, self.rel(dir)?).map_err(io)?,
            Source::Archive(tree) => tree
                .dirs
                .get(self.rel(dir)?)
                .ok_or_else(|| io(std::io::ErrorKind::NotFound.into()))?
                .iter()
                .cloned()
                .collect(),
        };
        let mut names: Vec<String> = all.into_iter().filter(|n| n != KEEP && keep(n)).collect();
        names.sort();
        self.record(dir, |rec, rel| {
            rec.dirs
                .entry(rel)
                .or_default()
                .extend(names.iter().cloned());
        });
        Ok(names)
    }

    /// The last component of a symlink's target (`device/driver` -> `virtio_net`). Only read
    /// as text, never followed.
    pub fn link_name(&self, path: &Path) -> Result<String, SourceError> {
        let io = |e| SourceError::io(path, e);
        let target = match &self.source {
            Source::Live => std::fs::read_link(path).map_err(io)?,
            Source::Dir => safe_read::read_link(&self.base, self.rel(path)?).map_err(io)?,
            Source::Archive(tree) => tree
                .links
                .get(self.rel(path)?)
                .cloned()
                .ok_or_else(|| io(std::io::ErrorKind::NotFound.into()))?,
        };
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
        let found = match &self.source {
            Source::Live => path.exists().then(|| path.is_dir()),
            Source::Dir => self
                .rel(path)
                .ok()
                .and_then(|rel| safe_read::entry(&self.base, rel))
                .map(|e| e == Entry::Dir),
            Source::Archive(tree) => self.rel(path).ok().and_then(|rel| {
                if tree.dirs.contains_key(rel) {
                    Some(true)
                } else {
                    (tree.files.contains_key(rel) || tree.links.contains_key(rel)).then_some(false)
                }
            }),
        };
        if found == Some(true) {
            self.record(path, |rec, rel| {
                rec.dirs.entry(rel).or_default();
            });
        }
        found.is_some()
    }

    fn record(&self, path: &Path, f: impl FnOnce(&mut Tree, PathBuf)) {
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

    /// Writes everything read so far, plus `extra` files (the snapshot), to `out`: a new
    /// directory (see [`OutDir::create`]) or, when its name ends in `.tar`, `.tar.gz` or
    /// `.tar.zst`, one archive written like every pktmap file. Either replays with `--root`.
    /// Returns the number of files recorded.
    pub fn write_recording(
        &self,
        out: &Path,
        force: bool,
        extra: &[(&str, &[u8])],
    ) -> std::io::Result<usize> {
        let Some(rec) = &self.recording else {
            return Ok(0);
        };
        let mut rec = rec.lock().unwrap_or_else(|e| e.into_inner());
        let recorded = rec.files.len();
        for (name, bytes) in extra {
            rec.files.insert(PathBuf::from(name), bytes.to_vec());
        }
        match Format::of(out) {
            Some(format) => write_with(out, |f| rec.write_archive(f, format))?,
            None => {
                rec.write_dir(&OutDir::create(out, force)?)?;
            }
        }
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_a_namespace_errors_name_the_paths_a_user_knows() {
        let root = Root::live().in_netns(PathBuf::from("/tmp/pktmap-sysfs-Ab12"));
        let e = SourceError::Io {
            path: root.sys("class/net/eth0/speed"),
            err: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let shown = root.shown(e).to_string();
        assert!(shown.contains("/sys/class/net/eth0/speed"), "{shown}");
        assert!(!shown.contains("pktmap-sysfs"), "{shown}");
        assert_eq!(
            root.shown_path(root.proc("net/snmp")),
            PathBuf::from("/proc/net/snmp")
        );
    }

    #[test]
    fn a_live_file_over_the_cap_is_cut_at_its_last_whole_line_and_said() {
        let p = std::env::temp_dir().join(format!("pktmap-root-cap-{}", std::process::id()));
        let f = std::fs::File::create(&p).unwrap();
        std::io::Write::write_all(&mut &f, b"a 1\nb 2\n").unwrap();
        f.set_len(FILE_CAP + 10).unwrap();
        let root = Root::live();
        assert_eq!(root.read(&p).unwrap(), "a 1\nb 2\n");
        assert_eq!(root.take_cut(), vec![p.clone()]);
        assert!(root.take_cut().is_empty());
        std::fs::remove_file(&p).unwrap();
    }

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
        assert_eq!(root.write_recording(&out, false, &[]).unwrap(), 1);
        let replay = Root::at(&out);
        assert_eq!(replay.read(&replay.proc("net/dev")).unwrap(), "x\n");
        assert_eq!(replay.link_name(&replay.proc("drv")).unwrap(), "virtio_net");
        std::fs::remove_dir_all(&src).unwrap();
        std::fs::remove_dir_all(&out).unwrap();
    }
}
