//! Compaction: merges a day's small segments into larger ones, so that a server ingesting steadily (a flush every
//! few seconds) does not leave thousands of files per day for every query to open.
//!
//! Crash rules as for flushing: the merged file is written durably under a new id, then one transaction registers
//! it and unregisters the segments it replaces. The replaced files are deleted only after [`RETIRE_AFTER`],
//! because a query whose snapshot predates the merge may still be reading them; after a crash they are
//! unregistered files, removed when the project opens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase};

use crate::error::Result;
use crate::records::{SegmentMeta, encode, registered_segments};
use crate::segment;
use crate::tables::{META, SEGMENTS};

/// Rows a merged segment holds at most; segments this large are left alone. Merging reads the events of one
/// merged segment into memory, so this also bounds the compactor's memory (~1–2 KB per event).
pub(crate) const TARGET_ROWS: u64 = 250_000;
/// Most merges per pass, so one pass never holds up flushing for long.
const MAX_MERGES_PER_PASS: usize = 4;
/// How long a replaced segment file stays on disk for queries that still read it.
pub(crate) const RETIRE_AFTER: Duration = Duration::from_secs(600);

/// Files of replaced segments, waiting for [`RETIRE_AFTER`] before they are deleted.
#[derive(Debug, Default)]
pub(crate) struct Retired(Vec<(Instant, PathBuf)>);

impl Retired {
    /// Deletes the files retired at least `after` ago.
    pub(crate) fn delete_expired(&mut self, after: Duration) {
        self.0.retain(|(at, path)| {
            if at.elapsed() < after {
                return true;
            }
            if let Err(e) = std::fs::remove_file(path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                // Left behind, it is an orphan that the next open removes.
                tracing::warn!(path = %path.display(), error = %e, "could not remove a compacted segment");
            }
            false
        });
    }
}

/// Runs of consecutive small segments of one day that together stay within [`TARGET_ROWS`], two or more each.
fn plan(metas: &[SegmentMeta]) -> Vec<Vec<SegmentMeta>> {
    let mut by_day: BTreeMap<&str, Vec<&SegmentMeta>> = BTreeMap::new();
    for m in metas {
        by_day.entry(m.day.as_str()).or_default().push(m);
    }
    let mut runs = Vec::new();
    for (_, mut day) in by_day {
        day.sort_by_key(|m| m.id);
        let mut run: Vec<SegmentMeta> = Vec::new();
        let mut rows = 0;
        for m in day {
            if rows + m.rows > TARGET_ROWS {
                if run.len() >= 2 {
                    runs.push(std::mem::take(&mut run));
                }
                run.clear();
                rows = 0;
            }
            if m.rows < TARGET_ROWS {
                rows += m.rows;
                run.push(m.clone());
            }
        }
        if run.len() >= 2 {
            runs.push(run);
        }
    }
    runs
}

/// Merges up to a few runs of small segments. Returns the number of segments replaced.
pub(crate) fn compact_once(db: &Database, dir: &Path, retired: &mut Retired) -> Result<usize> {
    let metas = registered_segments(db)?;
    let mut replaced = 0;
    for run in plan(&metas).into_iter().take(MAX_MERGES_PER_PASS) {
        let mut events = Vec::new();
        for m in &run {
            events.extend(segment::read(&dir.join(&m.file))?);
        }
        events.sort_by_key(|e| e.seq);
        let id = {
            let txn = db.begin_read()?;
            txn.open_table(META)?.get("next_segment_id")?.map(|v| v.value()).unwrap_or(1)
        };
        let day = run[0].day.clone();
        let file = format!("segments/{day}/{id:010}.parquet");
        let bytes = segment::write(&dir.join(&file), &events)?;
        let merged = SegmentMeta::describe(id, file, day, bytes, &events);
        let txn = db.begin_write()?;
        {
            let mut segments = txn.open_table(SEGMENTS)?;
            segments.insert(merged.id, encode(&merged).as_slice())?;
            for m in &run {
                segments.remove(m.id)?;
            }
            txn.open_table(META)?.insert("next_segment_id", id + 1)?;
        }
        txn.commit()?;
        let now = Instant::now();
        retired.0.extend(run.iter().map(|m| (now, dir.join(&m.file))));
        tracing::debug!(segments = run.len(), rows = merged.rows, day = %merged.day, "compacted segments");
        replaced += run.len();
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: u64, day: &str, rows: u64) -> SegmentMeta {
        SegmentMeta {
            id,
            file: format!("{id}"),
            day: day.into(),
            rows,
            bytes: 0,
            min_seq: 0,
            max_seq: 0,
            min_server_upload_ms: 0,
            max_server_upload_ms: 0,
            min_event_ms: 0,
            max_event_ms: 0,
        }
    }

    fn ids(runs: Vec<Vec<SegmentMeta>>) -> Vec<Vec<u64>> {
        runs.into_iter().map(|r| r.into_iter().map(|m| m.id).collect()).collect()
    }

    #[test]
    fn runs_stay_within_a_day_and_the_target() {
        let t = TARGET_ROWS;
        let metas = vec![
            meta(1, "d1", 10),
            meta(2, "d2", 10),
            meta(3, "d1", 10),
            meta(4, "d1", t),
            meta(5, "d1", t / 2),
            meta(6, "d1", t / 2),
            meta(7, "d1", 1),
            meta(8, "d2", 5),
            meta(9, "d3", 5),
        ];
        // d1: [1, 3] (then a full segment), [5, 6] (full at t), [7] alone is left; d2: [2, 8]; d3 has one.
        assert_eq!(ids(plan(&metas)), vec![vec![1, 3], vec![5, 6], vec![2, 8]]);
        assert!(plan(&[meta(1, "d", t), meta(2, "d", t)]).is_empty());
    }
}
