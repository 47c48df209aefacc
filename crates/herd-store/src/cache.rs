//! The writer's in-memory copy of the state it reads for every event (id mappings, user and group records),
//! kept across commits so that an event of a user or group seen before costs no B-tree lookup or JSON decoding.
//!
//! Only the writer changes these tables, so the copy stays true; it holds committed state plus the open
//! transaction's changes, and the writer clears it when a transaction fails. Each map is bounded: past
//! [`MAX_ENTRIES`] it is emptied after a commit and refills from the tables.

use std::collections::HashMap;

use crate::records::{GroupState, UserState};

/// Most entries kept per map (about 0.5–1 KB each for user and group records with a few properties).
pub(crate) const MAX_ENTRIES: usize = 500_000;

#[derive(Default)]
pub(crate) struct StateCache {
    pub user_ids: HashMap<String, u64>,
    pub device_ids: HashMap<String, u64>,
    pub users: HashMap<u64, UserState>,
    pub groups: HashMap<String, GroupState>,
}

impl StateCache {
    /// Empties the maps that grew past [`MAX_ENTRIES`]; called between transactions.
    pub(crate) fn trim(&mut self) {
        if self.user_ids.len() > MAX_ENTRIES {
            self.user_ids = HashMap::new();
        }
        if self.device_ids.len() > MAX_ENTRIES {
            self.device_ids = HashMap::new();
        }
        if self.users.len() > MAX_ENTRIES {
            self.users = HashMap::new();
        }
        if self.groups.len() > MAX_ENTRIES {
            self.groups = HashMap::new();
        }
    }
}
