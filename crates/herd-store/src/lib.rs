//! Herd's durable embedded store.
//!
//! A data directory holds a catalog of projects (`catalog.redb`) and, per project, a redb file with the event log
//! and the state (users, groups, dedup keys, segment catalog) plus immutable Parquet segments by UTC day.
//! Each project has one serial writer thread that group-commits requests; an acknowledgement means fsync'd.
//! A flusher moves the log into segments and drops the flushed entries in one transaction.

mod apply;
mod catalog;
mod error;
mod project;
mod records;
pub mod segment;
pub mod shred;
mod store;
mod tables;
mod upgrade;
mod writer;

pub use apply::{ApplyOptions, DroppedGroup, Receipt};
pub use catalog::{Catalog, DATA_DIR_FORMAT_VERSION, NewProject, generate_key};
pub use error::{Rejection, Result, StoreError};
pub use project::{FlushOptions, ProjectStats, ProjectStore, Snapshot};
pub use records::{GroupState, ProjectRecord, SegmentMeta, UserState};
pub use store::{Store, StoreOptions};
pub use writer::WriteOutcome;

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A random version-4 UUID string.
pub(crate) fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}
