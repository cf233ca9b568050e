//! All integration tests, one binary.

mod cli;
mod faults;
mod golden;
mod hostile;
mod live;
mod support;
mod trace;
