//! All integration tests, one binary.

mod cli;
mod deploy;
mod faults;
mod files;
mod firewall;
mod golden;
mod hostile;
mod live;
mod map;
mod privileges;
mod rig;
mod rig_stack;
mod serve;
mod serve_files;
mod serve_limits;
mod soak;
mod support;
mod top;
mod trace;
mod tune;
