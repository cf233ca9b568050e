//! A capture as one value: the files, listings and links pktmap read, by path relative to the
//! root. `capture` records into it and writes it as a directory or as one archive (what users
//! attach to tickets); `--root bundle.tar.gz` reads an archive back into it, as hostile input.

use crate::safe::read::read_capped;
use crate::safe::write::OutDir;
use crate::safe::{BUNDLE_CAP, ENTRY_CAP, FILE_CAP, over_cap};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Marks a directory a capture had to create empty, so that git keeps it; never listed.
pub const KEEP: &str = ".pktmap-keep";

#[derive(Debug, Default)]
pub struct Tree {
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    /// Directories, with the entries a listing returned (for an archive read back: every
    /// entry below it).
    pub dirs: BTreeMap<PathBuf, BTreeSet<String>>,
    /// Links, kept as their target's text: pktmap reads only the last component (a driver's
    /// name) and never follows one.
    pub links: BTreeMap<PathBuf, PathBuf>,
}

/// How a capture is written, from the name given to `--out`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Tar,
    TarGz,
    TarZst,
}

impl Format {
    /// The archive format a name asks for; None for a directory.
    pub fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy();
        [
            (".tar", Format::Tar),
            (".tar.gz", Format::TarGz),
            (".tgz", Format::TarGz),
            (".tar.zst", Format::TarZst),
            (".tzst", Format::TarZst),
        ]
        .into_iter()
        .find(|(ext, _)| name.ends_with(ext))
        .map(|(_, f)| f)
    }

    /// The format of an archive's first bytes: gzip and zstd by their magic, else plain tar.
    fn sniff(head: &[u8]) -> Format {
        match head {
            [0x1f, 0x8b, ..] => Format::TarGz,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Format::TarZst,
            _ => Format::Tar,
        }
    }
}

impl Tree {
    /// Writes the tree under `out`; returns the number of files.
    pub fn write_dir(&self, out: &OutDir) -> io::Result<usize> {
        for (path, bytes) in &self.files {
            out.file(path, bytes)?;
        }
        for (path, to) in &self.links {
            out.symlink(path, to)?;
        }
        // Listed entries nothing was read from still have to list on replay.
        for path in self.empty_dirs() {
            if !out.has(&path) {
                out.dir(&path)?;
                out.file(&path.join(KEEP), b"")?;
            }
        }
        Ok(self.files.len())
    }

    /// Writes the tree as one tar archive, compressed as `format` says, into `w`.
    pub fn write_archive(&self, w: &mut impl Write, format: Format) -> io::Result<()> {
        let mut tar = tar::Builder::new(Vec::new());
        let header = |kind: tar::EntryType, mode: u32, size: u64| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_size(size);
            h
        };
        for (path, bytes) in &self.files {
            let mut h = header(tar::EntryType::Regular, 0o600, bytes.len() as u64);
            tar.append_data(&mut h, path, bytes.as_slice())?;
        }
        for (path, to) in &self.links {
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            tar.append_link(&mut h, path, to)?;
        }
        for path in self.empty_dirs() {
            let mut h = header(tar::EntryType::Directory, 0o700, 0);
            tar.append_data(&mut h, &path, io::empty())?;
        }
        let bytes = tar.into_inner()?;
        match format {
            Format::Tar => w.write_all(&bytes),
            Format::TarGz => {
                let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
                gz.write_all(&bytes)?;
                gz.finish().map(drop)
            }
            Format::TarZst => {
                ruzstd::encoding::compress(
                    bytes.as_slice(),
                    &mut *w,
                    ruzstd::encoding::CompressionLevel::Fastest,
                );
                Ok(())
            }
        }
    }

    /// Reads an archive (plain, gzip or zstd, told by its first bytes) as hostile input:
    /// only regular files, directories and links; no absolute name and no `..`; each file at
    /// most [`FILE_CAP`], all of them at most [`BUNDLE_CAP`], at most [`ENTRY_CAP`] entries,
    /// and the decompressed stream cut off past what those allow, so a decompression bomb
    /// costs bounded time and memory. Errors name the entry.
    pub fn read_archive(file: impl Read) -> io::Result<Tree> {
        let mut file = io::BufReader::new(file);
        let head = io::BufRead::fill_buf(&mut file)?.to_vec();
        // Every entry costs at most a header and a block of padding beyond its bytes.
        let stream_cap = BUNDLE_CAP + ENTRY_CAP as u64 * 1024;
        let stream: Box<dyn Read> = match Format::sniff(&head) {
            Format::Tar => Box::new(file),
            Format::TarGz => Box::new(flate2::read::MultiGzDecoder::new(file)),
            Format::TarZst => Box::new(
                // A frame may ask for a window of gigabytes; 8 MiB is what zstd's own levels use.
                ruzstd::decoding::StreamingDecoder::new_with_max_window_size(file, 8 << 20)
                    .map_err(io::Error::other)?,
            ),
        };
        let mut tree = Tree::default();
        let (mut total, mut count) = (0u64, 0usize);
        let mut archive = tar::Archive::new(Capped {
            inner: stream,
            left: stream_cap,
        });
        for entry in archive.entries()? {
            let mut entry = entry?;
            count += 1;
            if count > ENTRY_CAP {
                return Err(io::Error::other(format!(
                    "more than {ENTRY_CAP} entries, pktmap's cap for a bundle"
                )));
            }
            let raw = entry.path()?.into_owned();
            let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", raw.display()));
            let path = inside(&raw).map_err(named)?;
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    if entry.size() > FILE_CAP {
                        return Err(named(over_cap("the file", FILE_CAP)));
                    }
                    let (bytes, more) = read_capped(&mut entry, FILE_CAP).map_err(named)?;
                    total += bytes.len() as u64;
                    if more {
                        return Err(named(over_cap("the file", FILE_CAP)));
                    }
                    if total > BUNDLE_CAP {
                        return Err(over_cap("the bundle", BUNDLE_CAP));
                    }
                    tree.add_parents(&path);
                    tree.files.insert(path, bytes);
                }
                tar::EntryType::Directory => {
                    tree.add_parents(&path);
                    tree.dirs.entry(path).or_default();
                }
                tar::EntryType::Symlink => {
                    let to = entry
                        .link_name()?
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    tree.add_parents(&path);
                    tree.links.insert(path, to);
                }
                other => {
                    return Err(named(io::Error::other(format!(
                        "a {other:?} entry; a bundle holds only files, directories and links"
                    ))));
                }
            }
        }
        Ok(tree)
    }

    /// Directories listed or made that nothing below was read from: written empty.
    fn empty_dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (dir, entries) in &self.dirs {
            for path in std::iter::once(dir.clone()).chain(entries.iter().map(|e| dir.join(e))) {
                let taken = self.files.contains_key(&path)
                    || self.links.contains_key(&path)
                    || self
                        .files
                        .keys()
                        .chain(self.links.keys())
                        .any(|p| p.starts_with(&path));
                if !taken && !out.contains(&path) {
                    out.push(path);
                }
            }
        }
        out
    }

    /// Registers `path` in each of its ancestors' listings, as a directory tree lists it.
    fn add_parents(&mut self, path: &Path) {
        let mut child = path;
        while let Some(parent) = child.parent() {
            if let Some(name) = child.file_name() {
                let name = name.to_string_lossy().into_owned();
                if name != KEEP {
                    self.dirs
                        .entry(parent.to_path_buf())
                        .or_default()
                        .insert(name);
                }
            }
            child = parent;
        }
    }
}

/// An archive entry's name as a path below the bundle's top; an absolute name or `..` is
/// refused, never cleaned up into something else.
fn inside(raw: &Path) -> io::Result<PathBuf> {
    let out: PathBuf = crate::safe::below(raw)?.into_iter().collect();
    if out.as_os_str().is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "an empty name"));
    }
    Ok(out)
}

/// A reader that fails once it has given `left` bytes.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other(
                "the archive unpacks to more than pktmap's cap for a bundle (a decompression bomb?)",
            ));
        }
        let n = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tree {
        let mut t = Tree::default();
        t.files.insert("proc/net/dev".into(), b"x\n".to_vec());
        t.links.insert(
            "sys/class/net/eth0/device/driver".into(),
            "../../../../bus/virtio/drivers/virtio_net".into(),
        );
        t.dirs
            .insert("sys/class/net".into(), ["eth0".into(), "lo".into()].into());
        t
    }

    #[test]
    fn every_format_reads_back_what_was_written() {
        for f in [Format::Tar, Format::TarGz, Format::TarZst] {
            let mut bytes = Vec::new();
            sample().write_archive(&mut bytes, f).unwrap();
            let back = Tree::read_archive(bytes.as_slice()).unwrap();
            assert_eq!(back.files, sample().files, "{f:?}");
            assert_eq!(back.links, sample().links, "{f:?}");
            assert!(
                back.dirs["sys/class/net/lo".as_ref() as &Path].is_empty(),
                "{f:?}"
            );
            assert_eq!(
                back.dirs["sys/class/net".as_ref() as &Path],
                ["eth0".to_string(), "lo".to_string()].into(),
                "{f:?}"
            );
        }
    }

    #[test]
    fn names_are_told_from_the_extension() {
        assert_eq!(Format::of("a/b.tar.gz".as_ref()), Some(Format::TarGz));
        assert_eq!(Format::of("b.tgz".as_ref()), Some(Format::TarGz));
        assert_eq!(Format::of("b.tar.zst".as_ref()), Some(Format::TarZst));
        assert_eq!(Format::of("b.tar".as_ref()), Some(Format::Tar));
        assert_eq!(Format::of("capture".as_ref()), None);
    }

    #[test]
    fn names_that_leave_the_bundle_are_refused() {
        for bad in ["/etc/passwd", "../x", "proc/../../x", "."] {
            assert!(inside(Path::new(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            inside(Path::new("./proc/net/dev")).unwrap(),
            Path::new("proc/net/dev")
        );
    }

    #[test]
    fn the_capped_reader_stops_a_stream_at_its_cap() {
        let mut r = Capped {
            inner: io::repeat(0),
            left: 10_000,
        };
        let mut sink = Vec::new();
        let e = r.read_to_end(&mut sink).unwrap_err();
        assert!(e.to_string().contains("decompression bomb"), "{e}");
        assert_eq!(sink.len(), 10_000);
    }
}
