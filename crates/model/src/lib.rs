//! The pktmap model: the stage catalog (data), snapshots, deltas between them and the
//! stage-by-stage walk built from a delta. Nothing here does I/O.

pub mod audit;
pub mod catalog;
pub mod delta;
pub mod diagnose;
pub mod findings;
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
