//! The log tail in memory: the log records committed and not yet flushed into segments, decoded once and shared
//! by the writer (adds a commit's records before acknowledging it), the flusher (moves them into segments without
//! decoding the log again) and queries (read them without decoding the log on every query).
//!
//! A query must see each event exactly once, in a segment or in the tail: the flusher registers segments, drops
//! log records and removes them here while holding the write lock, and a snapshot reads the segment list and the
//! tail under the read lock.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use herd_model::StoredEvent;

/// One log record's events, keyed in the log by the first event's `seq`.
pub(crate) type Record = Arc<Vec<StoredEvent>>;

#[derive(Debug, Default)]
pub(crate) struct Tail {
    records: RwLock<BTreeMap<u64, Record>>,
}

impl Tail {
    pub(crate) fn from_records(records: impl IntoIterator<Item = (u64, Record)>) -> Tail {
        Tail { records: RwLock::new(records.into_iter().collect()) }
    }

    /// Adds records just committed to the log.
    pub(crate) fn extend(&self, records: Vec<(u64, Record)>) {
        self.write().extend(records);
    }

    /// The oldest records, whole, until they hold at least `max_events` events (at least one record).
    pub(crate) fn oldest(&self, max_events: usize) -> Vec<(u64, Record)> {
        let records = self.read();
        let mut out = Vec::new();
        let mut events = 0;
        for (key, record) in records.iter() {
            if events >= max_events {
                break;
            }
            events += record.len();
            out.push((*key, record.clone()));
        }
        out
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, BTreeMap<u64, Record>> {
        self.records.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<u64, Record>> {
        self.records.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(first: u64, n: u64) -> (u64, Record) {
        (first, Arc::new((first..first + n).map(|seq| StoredEvent { seq, ..StoredEvent::default() }).collect()))
    }

    #[test]
    fn oldest_takes_whole_records() {
        let tail = Tail::from_records([record(1, 3), record(4, 3)]);
        tail.extend(vec![record(7, 1)]);
        let keys = |v: Vec<(u64, Record)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(keys(tail.oldest(1)), vec![1]);
        assert_eq!(keys(tail.oldest(4)), vec![1, 4]);
        assert_eq!(keys(tail.oldest(usize::MAX)), vec![1, 4, 7]);
    }
}
