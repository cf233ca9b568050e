//! The pktmap model: the stage catalog (data), snapshots, deltas between them, the loss
//! ledger, and the walk, diagnosis and audit built from them. Nothing here reads the system;
//! the one exception, `fuzz`, reads the committed seed and corpus files for the tests that
//! share its parser list.

pub mod audit;
pub mod catalog;
pub mod census;
pub mod delta;
pub mod diagnose;
pub mod experiment;
pub mod findings;
pub mod firewall;
pub mod fuzz;
pub mod ledger;
pub mod snapshot;
pub mod trace;
pub mod walk;

pub use catalog::{Class, Item, ItemKind, Path, Stage};
pub use delta::{Change, ChangeStatus, Delta};
pub use snapshot::{
    CollectorRun, CollectorStatus, Kind, Labels, Meta, Metric, Setting, Snapshot, SocketInfo,
};
