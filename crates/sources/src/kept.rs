//! What a long-running collector (`serve`) keeps between collections of a namespace: files
//! it keeps open and reads again from offset 0, and what a collector remembers for the next
//! collection (which processes are worth reading). Opening a small procfs or sysfs file (the
//! path walk, the file, the close) costs more than reading it; a file kept open still answers
//! with the kernel's value of now, because procfs and sysfs produce their text at each read
//! from the start. Only those two
//! are kept: a file on disk would go on showing the inode it opened, while a procfs or sysfs
//! file whose object is gone (a process that exited, a device removed) fails, and is opened
//! again by its path.

use crate::safe::read::read_capped;
use std::any::Any;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The most files kept open when nothing lower is asked: each kept procfs or sysfs file holds
/// a page of kernel memory for its text, so this bounds that cost at about 4 MiB.
pub const DEFAULT_LIMIT: usize = 1024;

/// Every namespace's kept files, within one limit.
#[derive(Debug)]
pub struct Kept {
    /// By network namespace inode: a file opened in one namespace reads that namespace, and
    /// holds it alive, so a namespace not read in a round is let go at its end.
    spaces: Mutex<HashMap<u64, (Arc<Files>, bool)>>,
    open: Arc<AtomicUsize>,
    limit: usize,
}

/// One namespace's kept files, by the path a user knows them by, and its collectors' memos.
#[derive(Debug)]
pub struct Files {
    files: Mutex<HashMap<PathBuf, (Arc<File>, bool)>>,
    open: Arc<AtomicUsize>,
    limit: usize,
    memos: Mutex<HashMap<&'static str, Box<dyn Any + Send>>>,
}

impl Kept {
    pub fn new(limit: usize) -> Kept {
        Kept {
            spaces: Mutex::default(),
            open: Arc::default(),
            limit,
        }
    }

    /// The files of the namespace with this inode, marked as read in this round.
    pub fn space(&self, inode: u64) -> Arc<Files> {
        let mut spaces = lock(&self.spaces);
        let (files, used) = spaces.entry(inode).or_insert_with(|| {
            let files = Files {
                files: Mutex::default(),
                open: self.open.clone(),
                limit: self.limit,
                memos: Mutex::default(),
            };
            (Arc::new(files), false)
        });
        *used = true;
        files.clone()
    }

    /// Ends a round of collections: the files of namespaces it did not read are closed (a
    /// namespace that is gone is freed by the kernel once nothing holds it).
    pub fn end_round(&self) {
        lock(&self.spaces).retain(|_, (files, used)| {
            if !*used {
                files.close_all();
            }
            std::mem::take(used)
        });
    }

    /// How many files are open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

impl Files {
    /// The file's bytes from its start, up to `cap` (and whether there was more): through the
    /// kept file when there is one, else opened by `path` and kept if it may be.
    pub fn read(&self, key: &Path, path: &Path, cap: u64) -> io::Result<(Vec<u8>, bool)> {
        let kept = lock(&self.files).get_mut(key).map(|(f, used)| {
            *used = true;
            f.clone()
        });
        if let Some(f) = kept {
            match read_capped(&mut At(&f, 0), cap) {
                Ok(read) => return Ok(read),
                // Gone since (a process that exited, a device removed): by its path again.
                Err(_) => self.forget(key),
            }
        }
        let mut f = File::open(path)?;
        let read = read_capped(&mut f, cap)?;
        self.offer(key, f);
        Ok(read)
    }

    /// Keeps `f` if it is procfs or sysfs and the limit allows.
    fn offer(&self, key: &Path, f: File) {
        if !regenerated(&f) {
            return;
        }
        let taken = self
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.limit).then_some(n + 1)
            });
        if taken.is_ok()
            && lock(&self.files)
                .insert(key.to_path_buf(), (Arc::new(f), true))
                .is_some()
        {
            // Another lane kept the same file first: one is closed, the count stays.
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn forget(&self, key: &Path) {
        if lock(&self.files).remove(key).is_some() {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Ends a collection: the files it did not read are closed (a process that exited, a
    /// device removed, a file a collector no longer reads).
    pub fn sweep(&self) {
        let mut files = lock(&self.files);
        let before = files.len();
        files.retain(|_, (_, used)| std::mem::take(used));
        self.open.fetch_sub(before - files.len(), Ordering::Relaxed);
    }

    fn close_all(&self) {
        let mut files = lock(&self.files);
        self.open.fetch_sub(files.len(), Ordering::Relaxed);
        files.clear();
    }

    /// What `collector` left for this collection, taken out (None the first time, or if it
    /// left something of another type).
    pub fn recall<T: Any>(&self, collector: &'static str) -> Option<T> {
        let memo = lock(&self.memos).remove(collector)?;
        memo.downcast().ok().map(|b| *b)
    }

    /// Leaves `value` for `collector`'s next collection of this namespace.
    pub fn remember<T: Any + Send>(&self, collector: &'static str, value: T) {
        lock(&self.memos).insert(collector, Box::new(value));
    }

    /// The paths of the files kept now.
    #[cfg(test)]
    pub(crate) fn paths(&self) -> Vec<PathBuf> {
        lock(&self.files).keys().cloned().collect()
    }

    /// How many files of this namespace are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.files).len()
    }
}

/// Whether `f` is procfs or sysfs, whose text is made afresh by each read from its start.
fn regenerated(f: &File) -> bool {
    // SAFETY: fstatfs fills the zeroed struct for an fd that `f` owns.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(f.as_raw_fd(), &mut st) } != 0 {
        return false;
    }
    let magic = st.f_type as u64;
    magic == libc::PROC_SUPER_MAGIC as u64 || magic == libc::SYSFS_MAGIC as u64
}

/// Reads a file from a position without moving its offset (pread), so two lanes may share it.
struct At<'a>(&'a File, u64);

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read_at(buf, self.1)?;
        self.1 += n as u64;
        Ok(n)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comm() -> String {
        std::fs::read_to_string("/proc/thread-self/comm").unwrap()
    }

    fn rename(name: &std::ffi::CStr) {
        // SAFETY: PR_SET_NAME with a NUL-terminated name of under 16 bytes.
        assert_eq!(unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) }, 0);
    }

    /// A kept procfs file read again shows the value of now, not the one it was opened with.
    #[test]
    fn a_kept_file_reads_what_the_kernel_says_now() {
        std::thread::spawn(|| {
            let kept = Kept::new(8);
            let files = kept.space(1);
            // The thread's own comm, by its thread id: the same file from any thread.
            let tid = unsafe { libc::gettid() };
            let path = PathBuf::from(format!("/proc/self/task/{tid}/comm"));
            rename(c"pktmap-a");
            let first = files.read(&path, &path, 64).unwrap().0;
            assert_eq!(String::from_utf8(first).unwrap(), "pktmap-a\n");
            assert_eq!((files.len(), kept.open()), (1, 1));
            rename(c"pktmap-b");
            // Through the kept file: by a path that opens nothing, it still reads.
            let gone = Path::new("/nonexistent/comm");
            let again = files.read(&path, gone, 64).unwrap().0;
            assert_eq!(String::from_utf8(again).unwrap(), "pktmap-b\n");
            assert_eq!(comm(), "pktmap-b\n");
            assert_eq!(kept.open(), 1);
        })
        .join()
        .unwrap();
    }

    /// A file on disk is read but never kept: its fd would go on showing a replaced file.
    #[test]
    fn files_on_disk_are_not_kept() {
        let dir = std::env::temp_dir().join(format!("pktmap-kept-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("value");
        std::fs::write(&path, "1\n").unwrap();
        let kept = Kept::new(8);
        let files = kept.space(1);
        assert_eq!(files.read(&path, &path, 64).unwrap().0, b"1\n");
        assert_eq!(files.len(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A file that fails through its kept fd (its process exited) is opened again by its
    /// path; the limit holds across namespaces; a sweep closes what a collection did not read,
    /// and a round's end closes the namespaces it did not read.
    #[test]
    fn kept_files_are_bounded_swept_and_reopened() {
        let kept = Kept::new(2);
        let (a, b) = (kept.space(1), kept.space(2));
        let stat = Path::new("/proc/self/stat");
        let uptime = Path::new("/proc/uptime");
        let version = Path::new("/proc/version");
        a.read(stat, stat, 4096).unwrap();
        a.read(uptime, uptime, 4096).unwrap();
        b.read(version, version, 4096).unwrap();
        assert_eq!((a.len(), b.len(), kept.open()), (2, 0, 2));
        // A key whose kept file fails: a child's stat after it exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let path = PathBuf::from(format!("/proc/{}/stat", child.id()));
        a.forget(uptime);
        a.read(&path, &path, 4096).unwrap();
        child.wait().unwrap();
        assert!(a.read(&path, &path, 4096).is_err());
        assert_eq!((a.len(), kept.open()), (1, 1));
        // A sweep closes what was not read since the sweep before: stat is kept through the
        // first and closed by the second, which only uptime was read before.
        a.sweep();
        a.read(uptime, uptime, 4096).unwrap();
        a.sweep();
        assert_eq!((a.len(), kept.open()), (1, 1));
        // Namespace 1 read again in the next round, 2 not: 2's table is dropped.
        kept.end_round();
        kept.space(1);
        b.read(version, version, 4096).unwrap();
        assert_eq!(kept.open(), 2);
        kept.end_round();
        assert_eq!(kept.open(), 1);
        assert_eq!(lock(&kept.spaces).len(), 1);
    }
}
