//! Herd's durable embedded store.
//!
//! A data directory holds a catalog of projects (`catalog.redb`) and, per project, a redb file with the event log
//! and the state (users, groups, dedup keys, segment catalog) plus immutable Parquet segments by UTC day.
//! Each project has one serial writer thread that group-commits requests; an acknowledgement means fsync'd.
//! A flusher moves the log into segments and drops the flushed entries in one transaction.

mod apply;
mod cache;
mod catalog;
mod compact;
mod dedup;
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
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(x >> 4)] as char);
        out.push(HEX[usize::from(x & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_are_version_4_in_canonical_form() {
        let u = super::new_uuid();
        assert_eq!(u.len(), 36);
        let dashes: Vec<usize> = u.match_indices('-').map(|(i, _)| i).collect();
        assert_eq!(dashes, vec![8, 13, 18, 23]);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, super::new_uuid());
    }
}
