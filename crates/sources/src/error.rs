//! Errors that name their place: the file, the line and the field.

use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum SourceError {
    /// The file could not be read (absent on this kernel, permission denied...).
    Io { path: PathBuf, err: std::io::Error },
    /// The file was read but does not have the shape any kernel gives it.
    Parse {
        path: PathBuf,
        line: usize,
        field: String,
        msg: String,
    },
}

impl SourceError {
    pub fn io(path: &Path, err: std::io::Error) -> SourceError {
        SourceError::Io {
            path: path.to_path_buf(),
            err,
        }
    }

    /// The same error naming another path.
    pub fn map_path(self, strip: impl Fn(PathBuf) -> PathBuf) -> SourceError {
        match self {
            SourceError::Io { path, err } => SourceError::Io {
                path: strip(path),
                err,
            },
            SourceError::Parse {
                path,
                line,
                field,
                msg,
            } => SourceError::Parse {
                path: strip(path),
                line,
                field,
                msg,
            },
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, SourceError::Io { err, .. } if err.kind() == std::io::ErrorKind::NotFound)
    }
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceError::Io { path, err } => {
                let why = match err.kind() {
                    std::io::ErrorKind::NotFound => "not present on this kernel or host".into(),
                    std::io::ErrorKind::PermissionDenied => {
                        "permission denied (needs root?)".into()
                    }
                    _ => err.to_string(),
                };
                write!(f, "{}: {why}", path.display())
            }
            SourceError::Parse {
                path,
                line,
                field,
                msg,
            } => write!(f, "{} line {line}, {field}: {msg}", path.display()),
        }
    }
}

impl std::error::Error for SourceError {}

/// A parse error before the file's path is known; parsers are pure and take text only.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    pub field: String,
    pub msg: String,
}

/// The most of a message (which may quote the line it is about) an error keeps: a hostile
/// file's one 60 MB line must not become a 60 MB note.
const MSG_CAP: usize = 200;

/// `text` cut to at most `cap` bytes at a character boundary, marked when cut.
fn cut(mut text: String, cap: usize) -> String {
    if text.len() > cap {
        let mut end = cap;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// A piece of a file quoted in an error: its first 60 characters, escaped, so quoting a
/// hostile file's one enormous line costs nothing.
pub fn quoted(text: &str) -> String {
    let head: String = text.chars().take(60).collect();
    if head.len() < text.len() {
        format!("{head:?}...")
    } else {
        format!("{head:?}")
    }
}

impl ParseError {
    pub fn new(line: usize, field: impl Into<String>, msg: impl Into<String>) -> ParseError {
        ParseError {
            line,
            field: cut(field.into(), MSG_CAP),
            msg: cut(msg.into(), MSG_CAP),
        }
    }

    pub fn at(self, path: &Path) -> SourceError {
        SourceError::Parse {
            path: path.to_path_buf(),
            line: self.line,
            field: self.field,
            msg: self.msg,
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, {}: {}", self.line, self.field, self.msg)
    }
}

/// What a line-oriented parser read: the rows it could, and the lines it could not, so one
/// odd row (a device name of an unexpected shape, a CPU row of another width) costs that row,
/// not the whole file. A file that has no shape at all is still an `Err`.
#[derive(Debug, PartialEq)]
pub struct Rows<T> {
    pub rows: Vec<T>,
    pub skipped: Vec<ParseError>,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows {
            rows: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

impl<T> Rows<T> {
    /// Keeps a row, or records why its line was skipped.
    pub fn take(&mut self, row: Result<T, ParseError>) {
        match row {
            Ok(r) => self.rows.push(r),
            Err(e) => self.skipped.push(e),
        }
    }

    /// Keeps the rows one line gave, or records why it was skipped.
    pub fn take_all(&mut self, rows: Result<Vec<T>, ParseError>) {
        match rows {
            Ok(r) => self.rows.extend(r),
            Err(e) => self.skipped.push(e),
        }
    }
}

/// Parses an unsigned decimal field, naming it on failure.
pub fn dec(text: &str, line: usize, field: &str) -> Result<u64, ParseError> {
    text.parse().map_err(|_| {
        ParseError::new(
            line,
            field,
            format!("not an unsigned number: {}", quoted(text)),
        )
    })
}

/// Parses a hexadecimal field (softnet_stat, nf_conntrack statistics), naming it on failure.
pub fn hex(text: &str, line: usize, field: &str) -> Result<u64, ParseError> {
    u64::from_str_radix(text, 16).map_err(|_| {
        ParseError::new(
            line,
            field,
            format!("not a hexadecimal number: {}", quoted(text)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_quoting_a_huge_line_stays_small() {
        let line = "\0".repeat(1 << 20);
        let e = ParseError::new(1, line.clone(), format!("no name in {line:?}"));
        assert!(
            e.msg.len() <= MSG_CAP + 3 && e.field.len() <= MSG_CAP + 3,
            "{}",
            e.msg.len()
        );
        assert!(e.msg.ends_with("..."));
        assert_eq!(cut("é".repeat(200), 201).len(), 200 + 3);
    }
}
