//! All integration tests, one binary.

mod cli;
mod deploy;
mod faults;
mod files;
mod golden;
mod hostile;
mod live;
mod privileges;
mod rig;
mod serve;
mod soak;
mod support;
mod trace;
