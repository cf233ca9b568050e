//! Files as root. pktmap runs as root, writes where other users can write (`/tmp`) and replays
//! bundles somebody else made, so every read of a bundle stays inside it and is bounded, and
//! every write lands where it was asked to, never through a link planted beside it.

pub mod read;
pub mod write;

/// The most pktmap reads of one file, live or replayed. Live, a larger file is cut at its last
/// whole line and the collector is `partial`; in a replay it is an error naming the file.
pub const FILE_CAP: u64 = 64 << 20;

/// The most one replayed bundle yields in all: its distinct files read, or an archive
/// unpacked. A real capture is about a megabyte.
pub const BUNDLE_CAP: u64 = 128 << 20;

/// The most entries one directory of a replayed bundle, or one archive, may hold.
pub const ENTRY_CAP: usize = 100_000;

/// The most a snapshot file given to `--from`/`--to` may hold.
pub const SNAPSHOT_FILE_CAP: u64 = 256 << 20;

/// The names of a path that must stay below its top, one per component: `.` is skipped, and
/// an absolute path or a `..` is refused here rather than cleaned up into something else.
pub(crate) fn below(rel: &std::path::Path) -> std::io::Result<Vec<&std::ffi::OsStr>> {
    use std::path::Component;
    rel.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "an absolute name or one with `..`, which would leave the bundle or output",
            )),
        })
        .collect()
}

/// The error for input over one of the caps above.
pub(crate) fn over_cap(what: &str, cap: u64) -> std::io::Error {
    std::io::Error::other(format!(
        "{what} is larger than pktmap's cap of {} MiB",
        cap >> 20
    ))
}
