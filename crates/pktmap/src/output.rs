//! Writing results: colour choice, broken pipes. Files are written by `pktmap_sources::safe`.

use anyhow::Result;
use pktmap_render::Style;
use std::io::{IsTerminal, Write};

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
