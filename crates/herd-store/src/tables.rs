//! Table definitions of a project's store (`projects/<id>/store.redb`).

use redb::TableDefinition;

/// Counters and format version: `format_version`, `next_seq`, `next_amplitude_id`, `next_group_key`, `next_segment_id`.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The durable log: seq → stamped event, until flushed into a segment.
pub(crate) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// Deduplication: `device_id \0 insert_id` (or `\0 insert_id`) → server time of first sight, ms.
pub(crate) const DEDUP: TableDefinition<&str, i64> = TableDefinition::new("dedup");
/// Expiry index of [`DEDUP`]: (server time ms, key) → ().
pub(crate) const DEDUP_EXPIRY: TableDefinition<(i64, &str), ()> = TableDefinition::new("dedup_expiry");
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

/// Version of a project store's table layout.
pub(crate) const PROJECT_STORE_FORMAT_VERSION: u64 = 1;

/// The key of a group in [`GROUPS`].
pub(crate) fn group_key(group_type: &str, value: &str) -> String {
    let mut k = String::with_capacity(group_type.len() + value.len() + 1);
    k.push_str(group_type);
    k.push('\u{1f}');
    k.push_str(value);
    k
}
