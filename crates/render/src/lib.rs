//! Renderers: pure functions from model values to text or JSON. Nothing here reads the host.

pub mod alerts;
pub mod catalog;
pub mod dashboard;
pub mod explain;
pub mod findings;
pub mod fmt;
pub mod map;
pub mod metrics;
pub mod page;
pub mod tune;
pub mod walk;

/// Whether to colour: set by the caller from the terminal and `NO_COLOR`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn red(&self, t: &str) -> String {
        self.paint("1;31", t)
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}
