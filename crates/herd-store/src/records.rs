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

/// A log entry: a stamped event waiting to be flushed into a segment.
pub(crate) fn encode_event(event: &StoredEvent) -> Vec<u8> {
    encode(event)
}

pub(crate) fn decode_event(bytes: &[u8]) -> Result<StoredEvent, StoreError> {
    decode("event log", bytes)
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
}
