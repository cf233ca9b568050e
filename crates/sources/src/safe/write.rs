//! Writing as root where other users can write: a file is built under a name nobody can
//! guess, created exclusively and never through a link, readable by its owner only, synced,
//! then renamed over its destination; a capture directory is made by pktmap and filled
//! relative to its open descriptor, one component at a time, never through a link.

use super::read::{cstr, openat, owned};
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Writes `bytes` to `path` atomically, mode 0600. See [`write_with`].
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |f| f.write_all(bytes))
}

/// Writes `path` through `fill`: beside it under an unpredictable name, `O_EXCL|O_NOFOLLOW`,
/// mode 0600, synced, renamed over it and the rename synced, so a crash leaves the old file or
/// the new one. A destination that is a symbolic link is refused (name the file it points
/// to instead); one that is a character device owned by root (`/dev/null`) is written in
/// place; any other kind (a FIFO someone planted) is refused.
pub fn write_with(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            let to = std::fs::read_link(path).unwrap_or_default();
            return Err(io::Error::other(format!(
                "it is a symbolic link (to {}); pktmap does not write through links: give the \
                 path it points to",
                to.display()
            )));
        }
        Ok(m) if m.file_type().is_char_device() && m.uid() == 0 => {
            let c = cstr(path.as_os_str())?;
            // SAFETY: a valid C string; the descriptor is owned at once.
            let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_NOFOLLOW) };
            return fill(&mut File::from(owned(fd)?));
        }
        Ok(m) if !m.is_file() && !m.is_dir() => {
            return Err(io::Error::other(
                "it is a FIFO, socket or device not owned by root: not written",
            ));
        }
        _ => {}
    }
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = open_dir(path.parent().unwrap_or(Path::new("")))?;
    let tmp = cstr(format!(".{}.{}.tmp", name.to_string_lossy(), random_hex()).as_ref())?;
    let name = cstr(name)?;
    let fd = openat(
        &dir,
        &tmp,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
    )?;
    let result = (|| {
        let mut f = File::from(fd);
        fill(&mut f)?;
        f.sync_all()?;
        // SAFETY: dir is open; both names are valid C strings. renameat replaces whatever
        // the destination is (a link planted since the check above included) without
        // following it.
        if unsafe {
            libc::renameat(
                dir.as_raw_fd(),
                tmp.as_ptr(),
                dir.as_raw_fd(),
                name.as_ptr(),
            )
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
        File::from(dir.try_clone()?).sync_all()
    })();
    if result.is_err() {
        // SAFETY: as above; the name is ours.
        unsafe { libc::unlinkat(dir.as_raw_fd(), tmp.as_ptr(), 0) };
    }
    result
}

/// A directory `capture` made (or, with `force`, was allowed to write into), written only
/// relative to its descriptor.
pub struct OutDir {
    fd: OwnedFd,
    force: bool,
}

impl OutDir {
    /// Creates `path` with mode 0700. An existing empty directory is used as it is; a
    /// non-empty one only with `force`, and then a link inside it is replaced, never
    /// followed. A link at `path` itself is refused.
    pub fn create(path: &Path, force: bool) -> io::Result<OutDir> {
        let c = cstr(path.as_os_str())?;
        // SAFETY: a valid C string.
        let made = unsafe { libc::mkdir(c.as_ptr(), 0o700) } == 0;
        let err = io::Error::last_os_error();
        if !made && err.kind() != io::ErrorKind::AlreadyExists {
            return Err(err);
        }
        let fd = owned(
            // SAFETY: a valid C string; the descriptor is owned at once.
            unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                )
            },
        )
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => io::Error::other(
                "it exists and is not a directory (a link is never followed): choose another",
            ),
            _ => e,
        })?;
        if !made
            && !force
            && std::fs::read_dir(format!("/proc/self/fd/{}", fd.as_raw_fd()))?
                .next()
                .is_some()
        {
            return Err(io::Error::other(
                "it exists and is not empty; pass --force to write into it (links inside it \
                 are replaced, never followed)",
            ));
        }
        Ok(OutDir { fd, force })
    }

    /// Writes the file `rel`, mode 0600, replacing whatever stood there.
    pub fn file(&self, rel: &Path, bytes: &[u8]) -> io::Result<()> {
        let (dir, name) = self.parent(rel)?;
        self.clear(&dir, &name)?;
        let fd = openat(
            &dir,
            &name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
        )?;
        File::from(fd).write_all(bytes)
    }

    /// Makes the link `rel` -> `target` (a sysfs driver link: kept as text, never followed).
    pub fn symlink(&self, rel: &Path, target: &Path) -> io::Result<()> {
        let (dir, name) = self.parent(rel)?;
        self.clear(&dir, &name)?;
        let t = cstr(target.as_os_str())?;
        // SAFETY: dir is open; both are valid C strings.
        if unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), name.as_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Makes the directory `rel` and its parents.
    pub fn dir(&self, rel: &Path) -> io::Result<()> {
        let mut dir = self.fd.try_clone()?;
        for name in names(rel)? {
            dir = self.subdir(&dir, &name)?;
        }
        Ok(())
    }

    /// Whether anything stands at `rel` (not followed).
    pub fn has(&self, rel: &Path) -> bool {
        self.parent(rel)
            .and_then(|(dir, name)| openat(&dir, &name, libc::O_PATH | libc::O_NOFOLLOW))
            .is_ok()
    }

    fn parent(&self, rel: &Path) -> io::Result<(OwnedFd, CString)> {
        let mut parts = names(rel)?;
        let name = parts
            .pop()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "an empty path"))?;
        let mut dir = self.fd.try_clone()?;
        for p in parts {
            dir = self.subdir(&dir, &p)?;
        }
        Ok((dir, name))
    }

    /// Opens (making it where absent) one directory below `dir`, never through a link.
    fn subdir(&self, dir: &OwnedFd, name: &CString) -> io::Result<OwnedFd> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        match openat(dir, name, flags) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // A link or a file where a directory belongs: only an existing directory given
            // with --force can hold one, since what pktmap made is its own, mode 0700.
            Err(e)
                if self.force && matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) =>
            {
                self.clear(dir, name)?
            }
            Err(e) => return Err(e),
        }
        // SAFETY: dir is open; name a valid C string.
        if unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o700) } != 0 {
            return Err(io::Error::last_os_error());
        }
        openat(dir, name, flags)
    }

    /// Removes a file or link standing at `name` (a directory there is an error).
    fn clear(&self, dir: &OwnedFd, name: &CString) -> io::Result<()> {
        // SAFETY: dir is open; name a valid C string. unlinkat removes a link, not its target.
        if unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) } != 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::NotFound {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// The components of a relative path inside the output; anything else is refused.
fn names(rel: &Path) -> io::Result<Vec<CString>> {
    super::below(rel)?.into_iter().map(cstr).collect()
}

fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let c = cstr(dir.as_os_str())?;
    // SAFETY: a valid C string; the descriptor is owned at once.
    owned(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })
}

/// 64 random bits from the kernel, so a temporary name cannot be planted in advance.
fn random_hex() -> String {
    let mut b = [0u8; 8];
    // SAFETY: b is 8 writable bytes.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != 8 {
        // getrandom only fails before the pool is ready; O_EXCL still refuses a planted name.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return format!("{:x}{:x}", t.as_nanos(), std::process::id());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("pktmap-write-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The temporary file a write fills, as seen from inside the fill.
    fn temp_of(dir: &Path, dest: &Path) -> (String, u32) {
        let mut seen = None;
        write_with(dest, |f| {
            let e = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap())
                .find(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                .unwrap();
            seen = Some((
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().permissions().mode() & 0o777,
            ));
            f.write_all(b"x")
        })
        .unwrap();
        seen.unwrap()
    }

    #[test]
    fn temporary_names_cannot_be_guessed_and_are_private() {
        let d = scratch("names");
        let dest = d.join("out.json");
        let (a, mode_a) = temp_of(&d, &dest);
        let (b, _) = temp_of(&d, &dest);
        assert_ne!(a, b);
        let random = a.trim_start_matches(".out.json.").trim_end_matches(".tmp");
        assert_eq!(random.len(), 16, "{a}");
        assert!(random.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_eq!(mode_a, 0o600);
        assert_eq!(std::fs::read(&dest).unwrap(), b"x");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary left"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn links_and_planted_fifos_are_refused_and_dev_null_written_in_place() {
        let d = scratch("kinds");
        let victim = d.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, d.join("link")).unwrap();
        let e = write_file(&d.join("link"), b"x").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        let fifo = cstr(d.join("fifo").as_os_str()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o666) }, 0);
        let e = write_file(&d.join("fifo"), b"x").unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        write_file(Path::new("/dev/null"), b"x").unwrap();
        assert!(
            std::fs::symlink_metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_output_directory_never_leaves_itself() {
        let d = scratch("outdir");
        let out = OutDir::create(&d.join("cap"), false).unwrap();
        for bad in ["../x", "/etc/x", "a/../../x"] {
            assert!(out.file(Path::new(bad), b"x").is_err(), "{bad}");
        }
        out.file(Path::new("proc/net/dev"), b"x").unwrap();
        assert!(out.has(Path::new("proc/net/dev")));
        assert!(!d.join("x").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
