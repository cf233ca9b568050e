//! Where every read goes: a live `/` or a captured tree holding `proc/` and `sys/`.

use crate::error::SourceError;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
}

impl Root {
    /// The running host.
    pub fn live() -> Root {
        Root::at("/")
    }

    /// A captured tree: `DIR/proc/...` and `DIR/sys/...`.
    pub fn at(dir: impl Into<PathBuf>) -> Root {
        Root { base: dir.into() }
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// `proc/REL` under the root.
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.base.join("proc").join(rel)
    }

    /// `sys/REL` under the root.
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.base.join("sys").join(rel)
    }

    /// The whole file in one read, so a value is never half from one moment and half from
    /// the next.
    pub fn read(&self, path: &Path) -> Result<String, SourceError> {
        let bytes = std::fs::read(path).map_err(|e| SourceError::io(path, e))?;
        // Interface names and process names are bytes to the kernel, not UTF-8.
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Like [`read`](Self::read), trimmed; for one-value sysfs and sysctl files.
    pub fn read_value(&self, path: &Path) -> Result<String, SourceError> {
        Ok(self.read(path)?.trim().to_string())
    }

    /// Entry names of a directory, sorted so output is stable.
    pub fn list(&self, dir: &Path) -> Result<Vec<String>, SourceError> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| SourceError::io(dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The last component of a symlink's target (`device/driver` -> `virtio_net`).
    pub fn link_name(&self, path: &Path) -> Result<String, SourceError> {
        let target = std::fs::read_link(path).map_err(|e| SourceError::io(path, e))?;
        Ok(target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default())
    }

    pub fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}
