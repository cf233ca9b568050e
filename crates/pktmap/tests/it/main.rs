//! All integration tests, one binary.

mod cli;
mod golden;
mod live;
mod support;
