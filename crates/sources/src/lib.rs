//! Reading the kernel: one collector per source, every read through a [`Root`], pure parsers
//! beside each collector so that captured files test them.

pub mod bundle;
pub mod collector;
pub mod collectors;
pub mod devices;
pub mod error;
pub mod ethtool;
pub mod firewall;
pub mod kept;
pub mod meta;
pub mod netlink;
pub mod netns;
pub mod parsers;
pub mod root;
pub mod safe;

pub use collector::{Carry, Collector, Options, Sink, take_snapshot, take_snapshot_with};
pub use error::SourceError;
pub use root::Root;
