//! Writing results: colour choice, broken pipes, atomic files.

use anyhow::Result;
use pktmap_render::Style;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// Colour on a terminal unless `NO_COLOR` is set (https://no-color.org).
pub fn style() -> Style {
    Style {
        color: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

pub fn text(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()?;
    Ok(())
}

pub fn json<T: serde::Serialize>(v: &T) -> Result<()> {
    text(&(serde_json::to_string_pretty(v)? + "\n"))
}

/// `pktmap walk | head` closing the pipe is not a failure.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes beside the target and renames over it, so a crash leaves the old file or the new
/// one, never half of either. A target that exists and is not a regular file (`/dev/null`, a
/// pipe, a terminal) is written in place: renaming over it would replace the device.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .write_all(bytes)?;
        return Ok(());
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
