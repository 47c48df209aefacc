//! Insert-id deduplication over a sliding window (Amplitude: 7 days): an in-memory index of 128-bit key hashes,
//! persisted as append-only blocks, one per commit, so a commit's writes stay sequential however many ids it
//! brings (a B-tree keyed by the ids themselves would copy a random leaf page per id on every commit).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use redb::{ReadableTable, Table, WriteTransaction};

use siphasher::sip128::{Hasher128, SipHasher13};

use crate::error::{Result, StoreError};
use crate::tables::{DEDUP_BLOCKS, LEGACY_DEDUP, LEGACY_DEDUP_EXPIRY};

/// Version byte of a dedup block.
const DEDUP_BLOCK_FORMAT_VERSION: u8 = 1;
/// Bytes per entry in a block: the key hash (u128) and the first-seen time (i64), little endian.
const ENTRY_BYTES: usize = 24;
/// Most expired blocks removed in one commit, so pruning a backlog never holds up one commit for long.
const MAX_BLOCKS_PRUNED_PER_COMMIT: usize = 64;

/// The 128-bit hash of a dedup key (`device_id \0 insert_id`). SipHash-1-3 with fixed keys: the hashes are
/// persisted, so the function must never change; 128 bits make a false duplicate practically impossible.
pub(crate) fn key_hash(device: Option<&str>, insert_id: &str) -> u128 {
    let mut h = SipHasher13::new_with_keys(0, 0);
    h.write(device.unwrap_or("").as_bytes());
    h.write_u8(0);
    h.write(insert_id.as_bytes());
    h.finish128().as_u128()
}

/// The keys are hashes already; the map only needs some of their bits.
#[derive(Default)]
pub(crate) struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// Key hashes seen within the window, with the time each was first seen.
#[derive(Default)]
pub(crate) struct DedupIndex {
    seen: HashMap<u128, i64, BuildHasherDefault<PrehashedKey>>,
    /// Entries added in the current commit, not yet in a block.
    pending: Vec<(u128, i64)>,
}

impl DedupIndex {
    /// Loads the blocks still inside the window.
    pub(crate) fn load(txn: &WriteTransaction, now_ms: i64, window_ms: i64) -> Result<DedupIndex> {
        let mut index = DedupIndex::default();
        let blocks = txn.open_table(DEDUP_BLOCKS)?;
        for row in blocks.range((now_ms - window_ms, 0)..)? {
            let (_, v) = row?;
            for (hash, seen) in entries(v.value())? {
                if now_ms - seen < window_ms {
                    index.seen.insert(hash, seen);
                }
            }
        }
        Ok(index)
    }

    /// True if the key was seen within the window; otherwise records it as seen now.
    pub(crate) fn check_and_insert(&mut self, hash: u128, now_ms: i64, window_ms: i64) -> bool {
        if let Some(&seen) = self.seen.get(&hash)
            && now_ms - seen < window_ms
        {
            return true;
        }
        self.seen.insert(hash, now_ms);
        self.pending.push((hash, now_ms));
        false
    }

    /// Writes this commit's new entries as one block, then drops blocks that left the window (a few per commit).
    /// Returns whether a block was written (and `block_id` used).
    pub(crate) fn persist(
        &mut self,
        blocks: &mut Table<'_, (i64, u64), &'static [u8]>,
        block_id: u64,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<bool> {
        let written = !self.pending.is_empty();
        if written {
            let newest = self.pending.iter().map(|(_, t)| *t).max().unwrap_or(now_ms);
            let mut bytes = Vec::with_capacity(1 + self.pending.len() * ENTRY_BYTES);
            bytes.push(DEDUP_BLOCK_FORMAT_VERSION);
            for (hash, seen) in self.pending.drain(..) {
                bytes.extend_from_slice(&hash.to_le_bytes());
                bytes.extend_from_slice(&seen.to_le_bytes());
            }
            // Keyed by the newest time in the block: the block expires when all its entries have.
            blocks.insert((newest, block_id), bytes.as_slice())?;
        }
        let cutoff = now_ms - window_ms;
        let mut expired = Vec::new();
        for row in blocks.range(..=(cutoff, u64::MAX))?.take(MAX_BLOCKS_PRUNED_PER_COMMIT) {
            let (k, v) = row?;
            expired.push((k.value(), entries(v.value())?));
        }
        for (key, entries) in expired {
            for (hash, seen) in entries {
                // A key seen again after it expired has a newer time and stays.
                if self.seen.get(&hash) == Some(&seen) {
                    self.seen.remove(&hash);
                }
            }
            blocks.remove(key)?;
        }
        Ok(written)
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}

fn entries(bytes: &[u8]) -> Result<Vec<(u128, i64)>> {
    let corrupt = |detail: String| StoreError::Corrupt { what: "dedup block", detail };
    match bytes.split_first() {
        Some((&DEDUP_BLOCK_FORMAT_VERSION, rest)) if rest.len() % ENTRY_BYTES == 0 => Ok(rest
            .chunks_exact(ENTRY_BYTES)
            .map(|c| {
                let hash = u128::from_le_bytes(c[..16].try_into().expect("16 bytes"));
                let seen = i64::from_le_bytes(c[16..].try_into().expect("8 bytes"));
                (hash, seen)
            })
            .collect()),
        Some((&DEDUP_BLOCK_FORMAT_VERSION, rest)) => Err(corrupt(format!("{} bytes of entries", rest.len()))),
        Some((v, _)) => Err(corrupt(format!("unknown format version {v}"))),
        None => Err(corrupt("empty block".into())),
    }
}

/// Project store format 1 kept dedup keys as text in a B-tree with an expiry index; moves them into one block.
pub(crate) fn migrate_from_format_1(txn: &WriteTransaction) -> Result<usize> {
    let mut moved: Vec<(u128, i64)> = Vec::new();
    {
        let legacy = txn.open_table(LEGACY_DEDUP)?;
        for row in legacy.iter()? {
            let (k, v) = row?;
            let key = k.value();
            let (device, insert_id) = key.split_once('\0').unwrap_or(("", key));
            let device = (!device.is_empty()).then_some(device);
            moved.push((key_hash(device, insert_id), v.value()));
        }
    }
    txn.delete_table(LEGACY_DEDUP)?;
    txn.delete_table(LEGACY_DEDUP_EXPIRY)?;
    if !moved.is_empty() {
        let mut index = DedupIndex { pending: moved.clone(), ..DedupIndex::default() };
        let newest = moved.iter().map(|(_, t)| *t).max().unwrap_or(0);
        let mut blocks = txn.open_table(DEDUP_BLOCKS)?;
        // A window reaching back past every entry: nothing is pruned during the migration itself.
        index.persist(&mut blocks, 0, newest, i64::MAX / 4)?;
        // Block ids of the new format count from 1.
    }
    Ok(moved.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_separate_device_from_id() {
        // Persisted: this value must never change.
        assert_eq!(key_hash(Some("d"), "i"), key_hash(Some("d"), "i"));
        assert_ne!(key_hash(Some("d"), "i"), key_hash(None, "di"));
        assert_ne!(key_hash(Some("ab"), "c"), key_hash(Some("a"), "bc"));
        assert_eq!(key_hash(Some("device-1"), "insert-1"), 235_401_012_033_098_157_231_161_384_706_745_356_353);
    }

    #[test]
    fn entries_round_trip_and_reject_garbage() {
        let mut bytes = vec![DEDUP_BLOCK_FORMAT_VERSION];
        bytes.extend_from_slice(&7u128.to_le_bytes());
        bytes.extend_from_slice(&(-3i64).to_le_bytes());
        assert_eq!(entries(&bytes).unwrap(), vec![(7, -3)]);
        assert!(entries(&bytes[..10]).is_err());
        assert!(entries(&[9]).unwrap_err().to_string().contains("unknown format version 9"));
    }

    #[test]
    fn window_decides_duplicates() {
        let mut index = DedupIndex::default();
        assert!(!index.check_and_insert(1, 1_000, 100));
        assert!(index.check_and_insert(1, 1_099, 100));
        assert!(!index.check_and_insert(1, 1_100, 100), "expired keys are accepted again");
        assert_eq!(index.pending, vec![(1, 1_000), (1, 1_100)]);
    }

    #[test]
    fn format_1_keys_migrate_and_blocks_expire() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("s.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut legacy = txn.open_table(LEGACY_DEDUP).unwrap();
            legacy.insert("dev\0id-1", 1_000).unwrap();
            legacy.insert("\0id-2", 2_000).unwrap();
            txn.open_table(LEGACY_DEDUP_EXPIRY).unwrap().insert((1_000, "dev\0id-1"), ()).unwrap();
        }
        assert_eq!(migrate_from_format_1(&txn).unwrap(), 2);
        txn.commit().unwrap();

        let txn = db.begin_write().unwrap();
        let mut index = DedupIndex::load(&txn, 2_500, 10_000).unwrap();
        assert!(index.check_and_insert(key_hash(Some("dev"), "id-1"), 2_500, 10_000));
        assert!(index.check_and_insert(key_hash(None, "id-2"), 2_500, 10_000));
        assert!(!index.check_and_insert(key_hash(None, "id-3"), 2_500, 10_000));
        {
            let mut blocks = txn.open_table(DEDUP_BLOCKS).unwrap();
            assert!(index.persist(&mut blocks, 1, 2_500, 10_000).unwrap());
            // Later, with a window that only the newest block is in: the migrated block goes, id-3 stays.
            assert!(!index.persist(&mut blocks, 2, 3_000, 1_000).unwrap());
            assert_eq!(blocks.iter().unwrap().count(), 1);
        }
        assert!(!index.check_and_insert(key_hash(Some("dev"), "id-1"), 3_000, 1_000));
        assert!(index.check_and_insert(key_hash(None, "id-3"), 3_000, 1_000));
        assert!(txn.open_table(LEGACY_DEDUP).is_ok_and(|t| t.iter().unwrap().next().is_none()));
    }
}
