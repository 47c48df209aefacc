//! Persisted records of the store (project catalog entries, user and group state, segment metadata) and their
//! versioned encoding: one format-version byte followed by JSON.

use herd_model::{GroupSet, Properties, StoredEvent};
use redb::ReadableTable;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::StoreError;

/// Version byte written in front of every record value.
pub(crate) const RECORD_FORMAT_VERSION: u8 = 1;

/// Encodes a record: version byte + JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(RECORD_FORMAT_VERSION);
    // Serialising our own plain data types to a Vec cannot fail.
    serde_json::to_writer(&mut out, value).expect("records serialise to JSON");
    out
}

/// Decodes a record written by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&RECORD_FORMAT_VERSION, json)) => {
            serde_json::from_slice(json).map_err(|e| StoreError::Corrupt { what, detail: e.to_string() })
        }
        Some((v, _)) => Err(StoreError::Corrupt { what, detail: format!("unknown format version {v}") }),
        None => Err(StoreError::Corrupt { what, detail: "empty record".into() }),
    }
}

/// A project in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub id: u64,
    pub name: String,
    pub api_key: String,
    pub secret_key: String,
    pub created_at_ms: i64,
    /// Free-form per-project settings (e.g. `segment.group_type_trait`), set with `herd project set`.
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, String>,
}

/// What Herd knows about one user (one `amplitude_id`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserState {
    pub user_id: Option<String>,
    /// Devices seen for this user, first first (at most [`MAX_DEVICES_PER_USER`] kept).
    pub device_ids: Vec<String>,
    pub properties: Properties,
    /// User-level groups: never removed, only added to.
    pub groups: GroupSet,
    pub first_seen_ms: Option<i64>,
    /// The user has had at least one event (state changes excluded); the first one is marked `first_event`.
    /// Activity times are not kept here: writing this record on every event would cost a random page write each.
    pub has_events: bool,
    /// Set when this anonymous user was merged into an identified one.
    pub merged_into: Option<u64>,
}

/// How many device ids a user record keeps.
pub(crate) const MAX_DEVICES_PER_USER: usize = 100;

/// What Herd knows about one group (one type and value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// Dense per-project group key, assigned at first sight.
    pub key: u64,
    pub properties: Properties,
    pub first_seen_ms: i64,
    /// The `amplitude_id` whose event or identification created the group, if a user was involved.
    pub creator_amplitude_id: Option<u64>,
}

/// An immutable Parquet segment registered in a project's store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentMeta {
    pub id: u64,
    /// Path relative to the project directory.
    pub file: String,
    /// UTC day of the events' `event_time`, `YYYY-MM-DD`.
    pub day: String,
    pub rows: u64,
    pub bytes: u64,
    pub min_seq: u64,
    pub max_seq: u64,
    pub min_server_upload_ms: i64,
    pub max_server_upload_ms: i64,
    pub min_event_ms: i64,
    pub max_event_ms: i64,
}

impl SegmentMeta {
    /// The metadata of a segment file just written with `events`.
    pub(crate) fn describe(id: u64, file: String, day: String, bytes: u64, events: &[StoredEvent]) -> SegmentMeta {
        SegmentMeta {
            id,
            file,
            day,
            rows: events.len() as u64,
            bytes,
            min_seq: events.iter().map(|e| e.seq).min().unwrap_or(0),
            max_seq: events.iter().map(|e| e.seq).max().unwrap_or(0),
            min_server_upload_ms: events.iter().map(|e| e.server_upload_time).min().unwrap_or(0),
            max_server_upload_ms: events.iter().map(|e| e.server_upload_time).max().unwrap_or(0),
            min_event_ms: events.iter().map(|e| e.event_time).min().unwrap_or(0),
            max_event_ms: events.iter().map(|e| e.event_time).max().unwrap_or(0),
        }
    }
}

/// Every registered segment's metadata, in id order, from one read transaction.
pub(crate) fn registered_segments(db: &redb::Database) -> Result<Vec<SegmentMeta>, StoreError> {
    use redb::ReadableDatabase;
    let txn = db.begin_read()?;
    let mut metas = Vec::new();
    for row in txn.open_table(crate::tables::SEGMENTS)?.iter()? {
        metas.push(decode("segment", row?.1.value())?);
    }
    Ok(metas)
}

/// Version byte of a log record holding a run of events (format 1 held one event per record).
pub(crate) const LOG_RECORD_FORMAT_VERSION: u8 = 2;

/// Encodes a log record: a run of stamped events with consecutive `seq`s, waiting to be flushed into segments.
/// Layout: version byte, event count (u32, little endian), then the events as one JSON array. One record per
/// commit (split at [`crate::writer`]'s record size) keeps the log's B-tree small and its inserts sequential.
pub(crate) fn encode_log_record(events: &[StoredEvent]) -> Vec<u8> {
    // Sized for a typical stamped event, so the buffer rarely grows (a regrowth copies megabytes).
    let mut out = Vec::with_capacity(64 + events.len() * 1536);
    out.push(LOG_RECORD_FORMAT_VERSION);
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    serde_json::to_writer(&mut out, events).expect("stored events serialise to JSON");
    out
}

/// Decodes a log record written by [`encode_log_record`], or a single-event record of format 1.
pub(crate) fn decode_log_record(bytes: &[u8]) -> Result<Vec<StoredEvent>, StoreError> {
    match bytes.first() {
        Some(&RECORD_FORMAT_VERSION) => Ok(vec![decode("event log", bytes)?]),
        Some(&LOG_RECORD_FORMAT_VERSION) if bytes.len() >= 5 => serde_json::from_slice(&bytes[5..])
            .map_err(|e| StoreError::Corrupt { what: "event log", detail: e.to_string() }),
        Some(v) => Err(StoreError::Corrupt { what: "event log", detail: format!("unknown format version {v}") }),
        None => Err(StoreError::Corrupt { what: "event log", detail: "empty record".into() }),
    }
}

/// The number of events in a log record, read from its header without decoding the events.
pub(crate) fn log_record_len(bytes: &[u8]) -> Result<usize, StoreError> {
    match bytes.first() {
        Some(&RECORD_FORMAT_VERSION) => Ok(1),
        Some(&LOG_RECORD_FORMAT_VERSION) if bytes.len() >= 5 => {
            Ok(u32::from_le_bytes(bytes[1..5].try_into().expect("four bytes")) as usize)
        }
        _ => Err(StoreError::Corrupt { what: "event log", detail: "bad record header".into() }),
    }
}

/// Records `expected` as the format version in a fresh `meta` table, or checks that an existing one matches.
pub(crate) fn check_format_version(
    meta: &mut redb::Table<'_, &'static str, u64>,
    what: &'static str,
    expected: u64,
) -> Result<(), StoreError> {
    let found = meta.get("format_version")?.map(|v| v.value());
    match found {
        None => {
            meta.insert("format_version", expected)?;
            Ok(())
        }
        Some(v) if v == expected => Ok(()),
        Some(v) => Err(StoreError::Corrupt { what, detail: format!("format {v}; this herd reads format {expected}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_their_version() {
        let rec = ProjectRecord {
            id: 1,
            name: "p".into(),
            api_key: "a".into(),
            secret_key: "s".into(),
            created_at_ms: 0,
            settings: Default::default(),
        };
        let bytes = encode(&rec);
        assert_eq!(bytes[0], RECORD_FORMAT_VERSION);
        assert_eq!(decode::<ProjectRecord>("project", &bytes).unwrap(), rec);
        let mut wrong = bytes.clone();
        wrong[0] = 99;
        assert!(
            decode::<ProjectRecord>("project", &wrong).unwrap_err().to_string().contains("unknown format version 99")
        );
    }

    #[test]
    fn log_records_hold_runs_of_events_and_read_format_one() {
        let events: Vec<StoredEvent> =
            (1..=3).map(|seq| StoredEvent { seq, event_type: format!("e{seq}"), ..StoredEvent::default() }).collect();
        let bytes = encode_log_record(&events);
        assert_eq!(bytes[0], LOG_RECORD_FORMAT_VERSION);
        assert_eq!(log_record_len(&bytes).unwrap(), 3);
        assert_eq!(decode_log_record(&bytes).unwrap(), events);
        let old = encode(&events[0]);
        assert_eq!(log_record_len(&old).unwrap(), 1);
        assert_eq!(decode_log_record(&old).unwrap(), vec![events[0].clone()]);
        assert!(decode_log_record(&[7, 0]).unwrap_err().to_string().contains("unknown format version 7"));
    }
}
