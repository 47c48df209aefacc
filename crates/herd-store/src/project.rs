//! One project's store: its redb file, its serial writer, its flusher, and reads over segments plus the log tail.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd_model::{Command, StoredEvent};
use redb::{Database, ReadableDatabase, ReadableTable};
use tokio::sync::{mpsc, oneshot};

use crate::apply::ApplyOptions;
use crate::error::{Result, StoreError};
use crate::records::{
    ProjectRecord, SegmentMeta, check_format_version, decode, decode_log_record, encode, log_record_len,
};
use crate::segment;
use crate::tables::*;
use crate::writer::{WriteOutcome, WriteRequest};

/// How the flusher behaves.
#[derive(Debug, Clone, Copy)]
pub struct FlushOptions {
    /// How often the flusher looks at the log.
    pub interval: Duration,
    /// Most log entries moved into segments in one flush (bounds the flusher's memory).
    pub max_rows: usize,
}

impl Default for FlushOptions {
    fn default() -> Self {
        FlushOptions { interval: Duration::from_secs(5), max_rows: 50_000 }
    }
}

/// A project's open store.
#[derive(Debug)]
pub struct ProjectStore {
    record: Mutex<ProjectRecord>,
    dir: PathBuf,
    db: Arc<Database>,
    writer: mpsc::Sender<WriteRequest>,
    flush_lock: Mutex<()>,
    stop: Arc<AtomicBool>,
}

/// A consistent view of a project's events for one query.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub segments: Vec<SegmentMeta>,
    /// Absolute paths of `segments`' files, in the same order.
    pub segment_files: Vec<PathBuf>,
    /// Acknowledged events not yet in a segment.
    pub tail: Vec<StoredEvent>,
}

/// Counts that describe a project's storage.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProjectStats {
    pub log_rows: u64,
    pub segments: u64,
    pub segment_rows: u64,
    pub users: u64,
    pub groups: u64,
    pub group_types: Vec<String>,
}

impl ProjectStore {
    /// Opens (or creates) the store of `record` under `data_dir/projects/<id>` and starts its writer and flusher.
    pub fn open(
        data_dir: &Path,
        record: ProjectRecord,
        options: ApplyOptions,
        flush: FlushOptions,
    ) -> Result<Arc<ProjectStore>> {
        let dir = data_dir.join("projects").join(record.id.to_string());
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let path = dir.join("store.redb");
        let db = match Database::create(&path) {
            Ok(db) => Arc::new(db),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(StoreError::Locked { dir: dir.clone() }),
            Err(e) => return Err(e.into()),
        };
        init_tables(&db)?;
        remove_orphan_segments(&db, &dir)?;
        crate::upgrade::upgrade_segments(&db, &dir)?;
        let writer = crate::writer::spawn(db.clone(), options, record.name.clone())?;
        let store = Arc::new(ProjectStore {
            record: Mutex::new(record),
            dir,
            db,
            writer,
            flush_lock: Mutex::new(()),
            stop: Arc::new(AtomicBool::new(false)),
        });
        spawn_flusher(Arc::downgrade(&store), store.stop.clone(), flush)?;
        Ok(store)
    }

    pub fn record(&self) -> ProjectRecord {
        self.record.lock().expect("record lock").clone()
    }

    pub(crate) fn set_record(&self, record: ProjectRecord) {
        *self.record.lock().expect("record lock") = record;
    }

    /// Applies one request's commands. Returns once they are durable (or refused without change).
    pub async fn submit(&self, commands: Vec<Command>, received_at_ms: i64) -> Result<WriteOutcome> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(WriteRequest { commands, received_at_ms, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Moves log entries into segments now. Returns the number of events moved.
    pub fn flush(&self) -> Result<usize> {
        let _guard = self.flush_lock.lock().expect("flush lock");
        flush_once(&self.db, &self.dir, usize::MAX)
    }

    /// Merges small segments of a day now (a few merges; the flusher does this after each flush). Returns the
    /// number of segments replaced. Replaced files are deleted at once, so no query may be running.
    pub fn compact(&self) -> Result<usize> {
        let _guard = self.flush_lock.lock().expect("flush lock");
        let mut retired = crate::compact::Retired::default();
        let replaced = crate::compact::compact_once(&self.db, &self.dir, &mut retired)?;
        retired.delete_expired(Duration::ZERO);
        Ok(replaced)
    }

    /// All stored records whose `server_upload_time` lies in `[start_ms, end_ms)`, from segments and the log
    /// tail, in ingestion order. One read transaction gives a consistent view while the flusher runs.
    pub fn events_uploaded_between(&self, start_ms: i64, end_ms: i64) -> Result<Vec<StoredEvent>> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        let segments = txn.open_table(SEGMENTS)?;
        for row in segments.iter()? {
            let (_, v) = row?;
            let meta: SegmentMeta = decode("segment", v.value())?;
            if meta.max_server_upload_ms < start_ms || meta.min_server_upload_ms >= end_ms {
                continue;
            }
            let events = segment::read(&self.dir.join(&meta.file))?;
            out.extend(events.into_iter().filter(|e| (start_ms..end_ms).contains(&e.server_upload_time)));
        }
        let log = txn.open_table(LOG)?;
        for row in log.iter()? {
            let (_, v) = row?;
            let events = decode_log_record(v.value())?;
            out.extend(events.into_iter().filter(|e| (start_ms..end_ms).contains(&e.server_upload_time)));
        }
        out.sort_by_key(|e| e.seq);
        Ok(out)
    }

    /// What a query reads, from one read transaction: the registered segment files and the log tail.
    /// Segments are immutable and never deleted while registered, so the files stay readable.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let txn = self.db.begin_read()?;
        let mut snapshot = Snapshot::default();
        for row in txn.open_table(SEGMENTS)?.iter()? {
            let (_, v) = row?;
            let meta: SegmentMeta = decode("segment", v.value())?;
            snapshot.segment_files.push(self.dir.join(&meta.file));
            snapshot.segments.push(meta);
        }
        for row in txn.open_table(LOG)?.iter()? {
            let (_, v) = row?;
            snapshot.tail.extend(decode_log_record(v.value())?);
        }
        Ok(snapshot)
    }

    /// Every user's current state, by `amplitude_id`.
    pub fn users(&self) -> Result<Vec<(u64, crate::records::UserState)>> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(USERS)?.iter()? {
            let (k, v) = row?;
            out.push((k.value(), decode("user", v.value())?));
        }
        Ok(out)
    }

    /// Every group's current state, as (group type, group value, state).
    pub fn groups(&self) -> Result<Vec<(String, String, crate::records::GroupState)>> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(GROUPS)?.iter()? {
            let (k, v) = row?;
            let key = k.value();
            let (t, value) = key.split_once('\u{1f}').unwrap_or((key, ""));
            out.push((t.to_owned(), value.to_owned(), decode("group", v.value())?));
        }
        Ok(out)
    }

    pub fn stats(&self) -> Result<ProjectStats> {
        let txn = self.db.begin_read()?;
        use redb::ReadableTableMetadata;
        let mut log_rows = 0;
        for row in txn.open_table(LOG)?.iter()? {
            log_rows += log_record_len(row?.1.value())? as u64;
        }
        let mut stats = ProjectStats {
            log_rows,
            users: txn.open_table(USERS)?.len()?,
            groups: txn.open_table(GROUPS)?.len()?,
            ..Default::default()
        };
        for row in txn.open_table(SEGMENTS)?.iter()? {
            let (_, v) = row?;
            let meta: SegmentMeta = decode("segment", v.value())?;
            stats.segments += 1;
            stats.segment_rows += meta.rows;
        }
        let mut types: Vec<(u64, String)> = Vec::new();
        for row in txn.open_table(GROUP_TYPES)?.iter()? {
            let (k, v) = row?;
            types.push((v.value(), k.value().to_owned()));
        }
        types.sort();
        stats.group_types = types.into_iter().map(|(_, t)| t).collect();
        Ok(stats)
    }

    /// The current properties of a group, if it exists.
    pub fn group(&self, group_type: &str, value: &str) -> Result<Option<crate::records::GroupState>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(GROUPS)?;
        let key = group_key(group_type, value);
        match table.get(key.as_str())? {
            Some(v) => Ok(Some(decode("group", v.value())?)),
            None => Ok(None),
        }
    }
}

impl Drop for ProjectStore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn init_tables(db: &Database) -> Result<()> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        if meta.get("format_version")?.map(|v| v.value()) == Some(1) {
            let moved = crate::dedup::migrate_from_format_1(&txn)?;
            meta.insert("format_version", PROJECT_STORE_FORMAT_VERSION)?;
            tracing::info!(dedup_keys = moved, "migrated a project store from format 1");
        }
        check_format_version(&mut meta, "project store", PROJECT_STORE_FORMAT_VERSION)?;
        txn.open_table(LOG)?;
        txn.open_table(DEDUP_BLOCKS)?;
        txn.open_table(USER_IDS)?;
        txn.open_table(DEVICE_IDS)?;
        txn.open_table(USERS)?;
        txn.open_table(GROUPS)?;
        txn.open_table(GROUP_TYPES)?;
        txn.open_table(SEGMENTS)?;
    }
    txn.commit()?;
    Ok(())
}

/// A crash between writing a segment file and registering it leaves an unregistered file; it is deleted here,
/// and its events are still in the log.
fn remove_orphan_segments(db: &Database, dir: &Path) -> Result<()> {
    let txn = db.begin_read()?;
    let table = txn.open_table(SEGMENTS)?;
    let mut registered = std::collections::HashSet::new();
    for row in table.iter()? {
        let (_, v) = row?;
        let meta: SegmentMeta = decode("segment", v.value())?;
        registered.insert(dir.join(meta.file));
    }
    let root = dir.join("segments");
    let Ok(days) = std::fs::read_dir(&root) else { return Ok(()) };
    for day in days.flatten() {
        for file in std::fs::read_dir(day.path()).map_err(|e| StoreError::io(day.path(), e))?.flatten() {
            let path = file.path();
            if !registered.contains(&path) {
                tracing::warn!(path = %path.display(), "removing unregistered segment file left by a crash");
                std::fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            }
        }
    }
    Ok(())
}

fn spawn_flusher(store: std::sync::Weak<ProjectStore>, stop: Arc<AtomicBool>, options: FlushOptions) -> Result<()> {
    std::thread::Builder::new()
        .name("herd-flusher".into())
        .spawn(move || {
            let tick = Duration::from_millis(100).min(options.interval);
            let mut waited = Duration::ZERO;
            let mut retired = crate::compact::Retired::default();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                waited += tick;
                if waited < options.interval {
                    continue;
                }
                waited = Duration::ZERO;
                let Some(store) = store.upgrade() else { break };
                let _guard = store.flush_lock.lock().expect("flush lock");
                // Small flushes, one after another, keep each of the flusher's write transactions short, so the
                // writer (which needs the same write lock) is never held up for long.
                loop {
                    match flush_once(&store.db, &store.dir, options.max_rows) {
                        Ok(moved) if moved >= options.max_rows => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::error!(error = %e, "flush failed; the events stay in the log and will be retried");
                            break;
                        }
                    }
                }
                // Compaction only once the log is drained, so that it never delays acknowledged events' flush.
                if let Err(e) = crate::compact::compact_once(&store.db, &store.dir, &mut retired) {
                    tracing::error!(error = %e, "compaction failed; the segments stay as they are");
                }
                retired.delete_expired(crate::compact::RETIRE_AFTER);
            }
        })
        .map_err(|e| StoreError::io("flusher thread", e))?;
    Ok(())
}

/// Moves up to `max_rows` log entries into one segment per UTC day, registers the segments and drops the
/// entries in one transaction.
fn flush_once(db: &Database, dir: &Path, max_rows: usize) -> Result<usize> {
    let (events, last_key, mut next_segment_id) = {
        let txn = db.begin_read()?;
        let log = txn.open_table(LOG)?;
        // Whole records only (at least one), so a record is either flushed and dropped or left as it is.
        let mut events = Vec::new();
        let mut last_key = None;
        for row in log.iter()? {
            if events.len() >= max_rows {
                break;
            }
            let (k, v) = row?;
            events.extend(decode_log_record(v.value())?);
            last_key = Some(k.value());
        }
        let meta = txn.open_table(META)?;
        (events, last_key, meta.get("next_segment_id")?.map(|v| v.value()).unwrap_or(1))
    };
    let Some(last_key) = last_key else { return Ok(0) };
    let mut by_day: std::collections::BTreeMap<String, Vec<StoredEvent>> = Default::default();
    for e in events {
        by_day.entry(utc_day(e.event_time)).or_default().push(e);
    }
    let mut metas = Vec::new();
    let mut moved = 0;
    for (day, events) in by_day {
        let id = next_segment_id;
        next_segment_id += 1;
        let file = format!("segments/{day}/{id:010}.parquet");
        let bytes = segment::write(&dir.join(&file), &events)?;
        moved += events.len();
        metas.push(SegmentMeta::describe(id, file, day, bytes, &events));
    }
    let txn = db.begin_write()?;
    {
        let mut segments = txn.open_table(SEGMENTS)?;
        for meta in &metas {
            segments.insert(meta.id, encode(meta).as_slice())?;
        }
        let mut log = txn.open_table(LOG)?;
        log.retain_in(..=last_key, |_, _| false)?;
        let mut meta = txn.open_table(META)?;
        meta.insert("next_segment_id", next_segment_id)?;
    }
    txn.commit()?;
    tracing::debug!(events = moved, segments = metas.len(), "flushed log into segments");
    Ok(moved)
}

/// `YYYY-MM-DD` of a UTC timestamp in ms.
pub(crate) fn utc_day(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_1_store_is_migrated_when_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("store.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            txn.open_table(META).unwrap().insert("format_version", 1).unwrap();
            txn.open_table(LEGACY_DEDUP).unwrap().insert("dev\0id", 5).unwrap();
        }
        txn.commit().unwrap();
        init_tables(&db).unwrap();
        let txn = db.begin_read().unwrap();
        assert_eq!(txn.open_table(META).unwrap().get("format_version").unwrap().unwrap().value(), 2);
        assert_eq!(txn.open_table(DEDUP_BLOCKS).unwrap().iter().unwrap().count(), 1);
        assert!(txn.open_table(LEGACY_DEDUP).is_err(), "the format-1 table is gone");
        drop(txn);
        init_tables(&db).unwrap();
    }

    #[test]
    fn days() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(1_700_000_000_000), "2023-11-14");
        assert_eq!(utc_day(-1), "1969-12-31");
        assert_eq!(utc_day(951_782_400_000), "2000-02-29");
    }
}
