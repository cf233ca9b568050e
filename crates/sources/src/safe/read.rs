//! Reading a bundle as hostile input: a path resolves one component at a time below the
//! bundle's top directory, never through a link and never above it, and only regular files
//! and directories are read. Plus the bounded read every file goes through, live or not.

use super::{ENTRY_CAP, FILE_CAP, over_cap};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What a name below a bundle's top is, without following it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entry {
    File,
    Dir,
    Link,
    /// A FIFO, device or socket: never opened for reading.
    Other,
}

/// Reads at most `cap` bytes in plain chunks, and says whether the file held more. Not
/// `fs::read`: procfs and sysfs report sizes of 0 or 4096 whatever they hold, so sizing a
/// buffer from a stat is a wasted system call on every file.
pub fn read_capped(r: &mut impl Read, cap: u64) -> io::Result<(Vec<u8>, bool)> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match r.read(&mut chunk) {
            Ok(0) => return Ok((bytes, false)),
            Ok(n) => {
                bytes.extend_from_slice(&chunk[..n]);
                if bytes.len() as u64 > cap {
                    bytes.truncate(cap as usize);
                    return Ok((bytes, true));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A file the user named (a snapshot for `--from`): links are the user's own and followed,
/// but it must be a regular file no larger than `cap`, so a FIFO cannot hang pktmap and
/// `/dev/zero` cannot fill its memory.
pub fn read_regular(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let c = cstr(path.as_os_str())?;
    // O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever.
    // SAFETY: a valid C string; the descriptor is owned at once.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    let file = File::from(owned(fd)?);
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(entry_of(&meta)));
    }
    if meta.len() > cap {
        return Err(over_cap("the file", cap));
    }
    let (bytes, more) = read_capped(&mut &file, cap)?;
    if more {
        return Err(over_cap("the file", cap));
    }
    Ok(bytes)
}

/// The bytes of the regular file `rel` below `base`, refused when larger than [`FILE_CAP`].
pub fn read_file(base: &Path, rel: &Path) -> io::Result<Vec<u8>> {
    let fd = open_path(base, rel)?;
    let file = File::from(fd);
    let meta = file.metadata()?;
    match entry_of(&meta) {
        Entry::File => {}
        Entry::Dir => return Err(io::Error::from(io::ErrorKind::IsADirectory)),
        other => return Err(not_regular(other)),
    }
    // A capture never holds a hard link; one in a bundle could be another file of this host.
    if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
        return Err(io::Error::other(
            "a hard link, which no capture holds: not read",
        ));
    }
    if meta.len() > FILE_CAP {
        return Err(over_cap("the file", FILE_CAP));
    }
    // The O_PATH descriptor cannot be read; reopen the very file it names.
    let mut f = File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    let (bytes, more) = read_capped(&mut f, FILE_CAP)?;
    if more {
        return Err(over_cap("the file", FILE_CAP));
    }
    Ok(bytes)
}

/// The entry names of the directory `rel` below `base`, at most [`ENTRY_CAP`].
pub fn list_dir(base: &Path, rel: &Path) -> io::Result<Vec<String>> {
    let fd = open_path(base, rel)?;
    let meta = File::from(fd.try_clone()?).metadata()?;
    if entry_of(&meta) != Entry::Dir {
        return Err(io::Error::from(io::ErrorKind::NotADirectory));
    }
    let mut names = Vec::new();
    for e in std::fs::read_dir(format!("/proc/self/fd/{}", fd.as_raw_fd()))? {
        names.push(e?.file_name().to_string_lossy().into_owned());
        if names.len() > ENTRY_CAP {
            return Err(io::Error::other(format!(
                "more than {ENTRY_CAP} entries, pktmap's cap for one directory"
            )));
        }
    }
    Ok(names)
}

/// The target of the link `rel` below `base`, as text: never followed.
pub fn read_link(base: &Path, rel: &Path) -> io::Result<PathBuf> {
    let (dir, last) = parent_of(base, rel)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: dir is an open descriptor, last a valid C string, buf as long as we say.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            last.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(PathBuf::from(OsStr::from_bytes(&buf)))
}

/// What `rel` below `base` is, or None when it is not there (or not reachable without
/// following a link).
pub fn entry(base: &Path, rel: &Path) -> Option<Entry> {
    let fd = open_path(base, rel).ok()?;
    Some(entry_of(&File::from(fd).metadata().ok()?))
}

fn entry_of(meta: &std::fs::Metadata) -> Entry {
    let t = meta.file_type();
    if t.is_file() {
        Entry::File
    } else if t.is_dir() {
        Entry::Dir
    } else if t.is_symlink() {
        Entry::Link
    } else {
        Entry::Other
    }
}

fn not_regular(e: Entry) -> io::Error {
    io::Error::other(match e {
        Entry::Link => "a symbolic link, which a bundle's files are never read through",
        _ => "a FIFO, device or socket, not a regular file: not read",
    })
}

/// An O_PATH descriptor of `rel` below `base`; the last component is not followed either,
/// so a link yields the link itself.
fn open_path(base: &Path, rel: &Path) -> io::Result<OwnedFd> {
    let (dir, last) = parent_of(base, rel)?;
    openat(&dir, &last, libc::O_PATH | libc::O_NOFOLLOW)
}

/// The directory holding `rel`'s last component, reached one component at a time, and that
/// component. `.` is the top itself.
fn parent_of(base: &Path, rel: &Path) -> io::Result<(OwnedFd, CString)> {
    let mut parts = super::below(rel)?;
    let mut dir = owned(
        // SAFETY: a valid C string; the descriptor is owned at once.
        unsafe {
            libc::open(
                cstr(base.as_os_str())?.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        },
    )?;
    let Some(last) = parts.pop() else {
        return Ok((dir, c".".to_owned()));
    };
    for p in parts {
        dir = openat(
            &dir,
            &cstr(p)?,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        )?;
    }
    Ok((dir, cstr(last)?))
}

/// `openat`; a file it creates gets mode 0600, whatever the umask allows beyond that.
pub(super) fn openat(dir: &OwnedFd, name: &CString, flags: i32) -> io::Result<OwnedFd> {
    let mode: libc::c_uint = 0o600;
    // SAFETY: dir is an open descriptor and name a valid C string; the mode is read only
    // with O_CREAT.
    owned(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode,
        )
    })
}

pub(super) fn owned(fd: i32) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(super) fn cstr(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_read_says_the_file_held_more() {
        let (b, more) = read_capped(&mut &b"abcdef"[..], 4).unwrap();
        assert_eq!((b.as_slice(), more), (&b"abcd"[..], true));
        let (b, more) = read_capped(&mut &b"abcd"[..], 4).unwrap();
        assert_eq!((b.as_slice(), more), (&b"abcd"[..], false));
    }

    #[test]
    fn paths_that_leave_the_top_are_refused_before_any_open() {
        for rel in ["../etc/passwd", "/etc/passwd", "proc/../../x"] {
            let e = read_file(Path::new("/"), Path::new(rel)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{rel}");
        }
    }
}
