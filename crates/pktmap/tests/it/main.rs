//! All integration tests, one binary.

mod cli;
mod faults;
mod golden;
mod live;
mod support;
