//! Table definitions of a project's store (`projects/<id>/store.redb`).

use redb::TableDefinition;

/// Counters and format version: `format_version`, `next_seq`, `next_amplitude_id`, `next_group_key`, `next_segment_id`.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The durable log: seq of a record's first event → a run of stamped events (one commit's, at most
/// `writer::MAX_EVENTS_PER_LOG_RECORD`), until flushed into segments. Format 1 held one event per record.
pub(crate) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// Deduplication blocks: (newest server time ms in the block, block id) → the key hashes and first-seen times
/// one commit added (see `dedup.rs`).
pub(crate) const DEDUP_BLOCKS: TableDefinition<(i64, u64), &[u8]> = TableDefinition::new("dedup_blocks");
/// Format 1's dedup table, `device_id \0 insert_id` → first-seen ms; migrated into [`DEDUP_BLOCKS`] and deleted.
pub(crate) const LEGACY_DEDUP: TableDefinition<&str, i64> = TableDefinition::new("dedup");
/// Format 1's expiry index of [`LEGACY_DEDUP`]; deleted by the migration.
pub(crate) const LEGACY_DEDUP_EXPIRY: TableDefinition<(i64, &str), ()> = TableDefinition::new("dedup_expiry");
/// user_id → amplitude_id.
pub(crate) const USER_IDS: TableDefinition<&str, u64> = TableDefinition::new("user_ids");
/// device_id → amplitude_id (the latest user seen on that device).
pub(crate) const DEVICE_IDS: TableDefinition<&str, u64> = TableDefinition::new("device_ids");
/// amplitude_id → user state record.
pub(crate) const USERS: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
/// `group_type \x1f group_value` → group state record.
pub(crate) const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("groups");
/// group type → position in the order first seen (0, 1, …).
pub(crate) const GROUP_TYPES: TableDefinition<&str, u64> = TableDefinition::new("group_types");
/// segment id → segment metadata record.
pub(crate) const SEGMENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("segments");

/// Version of a project store's table layout. Format 2 replaced the dedup B-tree with [`DEDUP_BLOCKS`]; a format 1
/// store is migrated when it opens.
pub(crate) const PROJECT_STORE_FORMAT_VERSION: u64 = 2;

/// The key of a group in [`GROUPS`].
pub(crate) fn group_key(group_type: &str, value: &str) -> String {
    let mut k = String::with_capacity(group_type.len() + value.len() + 1);
    k.push_str(group_type);
    k.push('\u{1f}');
    k.push_str(value);
    k
}
