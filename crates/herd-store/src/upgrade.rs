//! Rewrites a project's format-v1 segments (JSON bags only) as format v2 (with typed columns) when the project
//! opens, so that every query sees one layout (docs/decisions.md, "segment format v2").
//!
//! Crash safety follows the flusher's rules: the v2 file is written durably under a new name, then the segment's
//! record is switched to it in one transaction, then the v1 file is deleted. A crash before the switch leaves an
//! unregistered v2 file, after it an unregistered v1 file; both are removed as orphans at the next open.

use std::path::Path;

use redb::Database;

use crate::error::Result;
use crate::records::{SegmentMeta, encode, registered_segments};
use crate::segment;
use crate::tables::SEGMENTS;

/// The v2 file name of a segment being rewritten from `file` (`….parquet` → `….v2.parquet`).
fn v2_name(file: &str) -> String {
    match file.strip_suffix(".parquet") {
        Some(stem) => format!("{stem}.v{}.parquet", segment::SEGMENT_FORMAT_VERSION),
        None => format!("{file}.v{}.parquet", segment::SEGMENT_FORMAT_VERSION),
    }
}

/// Rewrites every registered segment older than [`segment::SEGMENT_FORMAT_VERSION`]. Returns how many.
pub(crate) fn upgrade_segments(db: &Database, dir: &Path) -> Result<usize> {
    let metas = registered_segments(db)?;
    let mut upgraded = 0;
    for meta in metas {
        let old = dir.join(&meta.file);
        if segment::layout(&old)?.format >= segment::SEGMENT_FORMAT_VERSION {
            continue;
        }
        let events = segment::read(&old)?;
        let file = v2_name(&meta.file);
        let bytes = segment::write(&dir.join(&file), &events)?;
        let new_meta = SegmentMeta { file, bytes, ..meta.clone() };
        let txn = db.begin_write()?;
        txn.open_table(SEGMENTS)?.insert(meta.id, encode(&new_meta).as_slice())?;
        txn.commit()?;
        if let Err(e) = std::fs::remove_file(&old) {
            // Left behind, it is an orphan that the next open removes.
            tracing::warn!(path = %old.display(), error = %e, "could not remove a rewritten v1 segment");
        }
        upgraded += 1;
    }
    if upgraded > 0 {
        tracing::info!(segments = upgraded, "rewrote segments in format v{}", segment::SEGMENT_FORMAT_VERSION);
    }
    Ok(upgraded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::decode;
    use redb::ReadableDatabase;

    #[test]
    fn v1_segments_are_rewritten_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("store.redb")).unwrap();
        let mut groups = herd_model::GroupSet::new();
        groups.insert("org", "o1");
        let event = herd_model::StoredEvent { seq: 1, uuid: "u".into(), groups, ..Default::default() };
        let file = "segments/2026-01-01/0000000001.parquet".to_owned();
        segment::write_v1(&dir.path().join(&file), std::slice::from_ref(&event)).unwrap();
        let meta = SegmentMeta {
            id: 1,
            file: file.clone(),
            day: "2026-01-01".into(),
            rows: 1,
            bytes: 1,
            min_seq: 1,
            max_seq: 1,
            min_server_upload_ms: 0,
            max_server_upload_ms: 0,
            min_event_ms: 0,
            max_event_ms: 0,
        };
        let txn = db.begin_write().unwrap();
        txn.open_table(SEGMENTS).unwrap().insert(1, encode(&meta).as_slice()).unwrap();
        txn.commit().unwrap();
        assert_eq!(segment::layout(&dir.path().join(&file)).unwrap().format, 1);

        assert_eq!(upgrade_segments(&db, dir.path()).unwrap(), 1);
        let txn = db.begin_read().unwrap();
        let stored: SegmentMeta =
            decode("segment", txn.open_table(SEGMENTS).unwrap().get(1).unwrap().unwrap().value()).unwrap();
        assert_eq!(stored.file, v2_name(&file));
        assert!(!dir.path().join(&file).exists());
        let path = dir.path().join(&stored.file);
        assert_eq!(segment::layout(&path).unwrap().format, segment::SEGMENT_FORMAT_VERSION);
        assert_eq!(segment::read(&path).unwrap(), vec![event]);
        assert_eq!(upgrade_segments(&db, dir.path()).unwrap(), 0);
    }

    #[test]
    fn v2_names() {
        assert_eq!(v2_name("segments/2026-01-01/0000000001.parquet"), "segments/2026-01-01/0000000001.v2.parquet");
    }
}
