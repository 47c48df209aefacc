//! Applies commands to a project's state inside one write transaction: deduplication, identity, property
//! operations, group memberships, and stamping each event with the state that holds at that moment.
//!
//! A request is checked for rejections before anything of it is applied, so a rejected request changes nothing.
//! User and group records are read through the writer's [`StateCache`]; those a transaction changes are written
//! back once at its end, and its events go to the log as a few large records, not one B-tree entry each.

use std::collections::{HashMap, HashSet};

use herd_model::{
    Alias, Command, GROUP_IDENTIFY_EVENT, GroupIdentify, GroupLimits, GroupSet, IDENTIFY_EVENT, Identify, Properties,
    StoredEvent, Track, Value,
};
use redb::{ReadableTable, Table, WriteTransaction};

use crate::cache::StateCache;
use crate::dedup::{DedupIndex, key_hash};
use crate::error::{Rejection, Result};
use crate::records::{GroupState, MAX_DEVICES_PER_USER, UserState, decode, encode, encode_log_record};
use crate::tables::*;

/// Most events in one log record; a commit writes its events as records of at most this many.
pub(crate) const MAX_EVENTS_PER_LOG_RECORD: usize = 4096;

/// Settings that shape how commands apply.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    pub group_limits: GroupLimits,
    /// How long an insert id suppresses duplicates, ms (Amplitude: 7 days).
    pub dedup_window_ms: i64,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { group_limits: GroupLimits::default(), dedup_window_ms: 7 * 24 * 3600 * 1000 }
    }
}

/// What happened to an accepted request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Records written to the log (events, `$identify` and `$groupidentify` records).
    pub stored: usize,
    /// Commands skipped because their insert id was seen within the dedup window.
    pub duplicates: usize,
    /// Groups that were not attached, with the command index and a reason the sender can act on.
    pub dropped_groups: Vec<DroppedGroup>,
}

/// A group left off an event or identification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedGroup {
    pub command_index: usize,
    pub group_type: String,
    pub group_value: String,
    pub reason: String,
}

/// Counters and the known group types, kept in memory by the writer and persisted in [`META`] / [`GROUP_TYPES`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub next_seq: u64,
    pub next_amplitude_id: u64,
    pub next_group_key: u64,
    pub next_dedup_block: u64,
    pub group_types: Vec<String>,
}

impl Counters {
    pub(crate) fn load(txn: &WriteTransaction) -> Result<Counters> {
        let meta = txn.open_table(META)?;
        let get = |k: &str, default: u64| -> Result<u64> { Ok(meta.get(k)?.map(|v| v.value()).unwrap_or(default)) };
        let mut counters = Counters {
            next_seq: get("next_seq", 1)?,
            next_amplitude_id: get("next_amplitude_id", 1)?,
            next_group_key: get("next_group_key", 1)?,
            next_dedup_block: get("next_dedup_block", 1)?,
            group_types: Vec::new(),
        };
        let types = txn.open_table(GROUP_TYPES)?;
        let mut ordered: Vec<(u64, String)> = Vec::new();
        for row in types.iter()? {
            let (k, v) = row?;
            ordered.push((v.value(), k.value().to_owned()));
        }
        ordered.sort();
        counters.group_types = ordered.into_iter().map(|(_, t)| t).collect();
        Ok(counters)
    }
}

/// What the writer keeps in memory between transactions; cleared (and reloaded) when a transaction fails.
#[derive(Default)]
pub(crate) struct WriterMemory {
    pub cache: StateCache,
    pub dedup: DedupIndex,
}

/// One write transaction's view of a project.
pub(crate) struct Batch<'t, 'm> {
    meta: Table<'t, &'static str, u64>,
    log: Table<'t, u64, &'static [u8]>,
    dedup_blocks: Table<'t, (i64, u64), &'static [u8]>,
    user_ids: Table<'t, &'static str, u64>,
    device_ids: Table<'t, &'static str, u64>,
    users_table: Table<'t, u64, &'static [u8]>,
    groups_table: Table<'t, &'static str, &'static [u8]>,
    group_types_table: Table<'t, &'static str, u64>,
    counters: Counters,
    memory: &'m mut WriterMemory,
    dirty_users: HashSet<u64>,
    dirty_groups: HashSet<String>,
    /// This transaction's events, in `seq` order, written to the log by [`Batch::finish`].
    events: Vec<StoredEvent>,
    options: ApplyOptions,
}

impl<'t, 'm> Batch<'t, 'm> {
    pub(crate) fn open(
        txn: &'t WriteTransaction,
        counters: Counters,
        memory: &'m mut WriterMemory,
        options: ApplyOptions,
    ) -> Result<Batch<'t, 'm>> {
        Ok(Batch {
            meta: txn.open_table(META)?,
            log: txn.open_table(LOG)?,
            dedup_blocks: txn.open_table(DEDUP_BLOCKS)?,
            user_ids: txn.open_table(USER_IDS)?,
            device_ids: txn.open_table(DEVICE_IDS)?,
            users_table: txn.open_table(USERS)?,
            groups_table: txn.open_table(GROUPS)?,
            group_types_table: txn.open_table(GROUP_TYPES)?,
            counters,
            memory,
            dirty_users: HashSet::new(),
            dirty_groups: HashSet::new(),
            events: Vec::new(),
            options,
        })
    }

    /// Writes the log records, dedup block, changed state and counters; returns the counters for the writer.
    pub(crate) fn finish(mut self, now_ms: i64) -> Result<Counters> {
        for run in self.events.chunks(MAX_EVENTS_PER_LOG_RECORD) {
            let bytes = encode_log_record(run);
            self.log.insert(run[0].seq, bytes.as_slice())?;
        }
        if self.memory.dedup.persist(
            &mut self.dedup_blocks,
            self.counters.next_dedup_block,
            now_ms,
            self.options.dedup_window_ms,
        )? {
            self.counters.next_dedup_block += 1;
            self.meta.insert("next_dedup_block", self.counters.next_dedup_block)?;
        }
        for id in &self.dirty_users {
            let bytes = encode(&self.memory.cache.users[id]);
            self.users_table.insert(*id, bytes.as_slice())?;
        }
        for key in &self.dirty_groups {
            let bytes = encode(&self.memory.cache.groups[key]);
            self.groups_table.insert(key.as_str(), bytes.as_slice())?;
        }
        self.meta.insert("next_seq", self.counters.next_seq)?;
        self.meta.insert("next_amplitude_id", self.counters.next_amplitude_id)?;
        self.meta.insert("next_group_key", self.counters.next_group_key)?;
        Ok(self.counters)
    }

    /// Applies one request's commands, or refuses the whole request without changing anything.
    pub(crate) fn apply_request(
        &mut self,
        commands: Vec<Command>,
        received_at_ms: i64,
    ) -> Result<std::result::Result<Receipt, Rejection>> {
        if let Some(rejection) = self.check(&commands) {
            return Ok(Err(rejection));
        }
        let mut receipt = Receipt::default();
        self.events.reserve(commands.len());
        for (index, command) in commands.into_iter().enumerate() {
            if let Some(insert_id) = command.insert_id() {
                let device = match &command {
                    Command::Track(t) => t.device_id.as_deref(),
                    Command::Identify(i) => i.device_id.as_deref(),
                    _ => None,
                };
                if self.is_duplicate(device, insert_id, received_at_ms)? {
                    receipt.duplicates += 1;
                    continue;
                }
            }
            match command {
                Command::Track(t) => self.track(index, *t, received_at_ms, &mut receipt)?,
                Command::Identify(i) => self.identify(index, *i, received_at_ms, &mut receipt)?,
                Command::GroupIdentify(g) => self.group_identify(index, *g, received_at_ms, &mut receipt)?,
                Command::Alias(a) => self.alias(&a, received_at_ms)?,
            }
        }
        Ok(Ok(receipt))
    }

    /// Rejections that depend on state. Group identifications of a type the project cannot take are refused,
    /// because nothing else in them could be kept; events only lose the extra group (see [`Self::admit_groups`]).
    fn check(&self, commands: &[Command]) -> Option<Rejection> {
        let limit = self.options.group_limits.max_types_per_project;
        let known = &self.counters.group_types;
        let mut new_types: Vec<&str> = Vec::new();
        for command in commands {
            if let Command::GroupIdentify(g) = command {
                let t = g.group_type.as_str();
                if !known.iter().any(|k| k == t) && !new_types.contains(&t) {
                    new_types.push(t);
                    if known.len() + new_types.len() > limit {
                        return Some(Rejection::GroupTypeLimit {
                            group_type: t.to_owned(),
                            limit,
                            known: known.join(", "),
                        });
                    }
                }
            }
        }
        None
    }

    fn is_duplicate(&mut self, device: Option<&str>, insert_id: &str, now: i64) -> Result<bool> {
        let hash = key_hash(device, insert_id);
        Ok(self.memory.dedup.check_and_insert(hash, now, self.options.dedup_window_ms))
    }

    fn user_id_owner(&mut self, user_id: &str) -> Result<Option<u64>> {
        cached_owner(&self.user_ids, &mut self.memory.cache.user_ids, user_id)
    }

    fn device_owner(&mut self, device_id: &str) -> Result<Option<u64>> {
        cached_owner(&self.device_ids, &mut self.memory.cache.device_ids, device_id)
    }

    fn set_user_id_owner(&mut self, user_id: &str, id: u64) -> Result<()> {
        set_cached_owner(&mut self.user_ids, &mut self.memory.cache.user_ids, user_id, id)
    }

    fn set_device_owner(&mut self, device_id: &str, id: u64) -> Result<()> {
        set_cached_owner(&mut self.device_ids, &mut self.memory.cache.device_ids, device_id, id)
    }

    /// Finds or creates the internal user for a pair of ids (Amplitude's `amplitude_id` rules).
    fn resolve(&mut self, user_id: Option<&str>, device_id: Option<&str>, now: i64) -> Result<u64> {
        let by_user = match user_id {
            Some(u) => self.user_id_owner(u)?,
            None => None,
        };
        let by_device = match device_id {
            Some(d) => self.device_owner(d)?,
            None => None,
        };
        let id = match (user_id, by_user, by_device) {
            (_, Some(id), _) => id,
            // A known anonymous device identifies itself: the same user from now on.
            (Some(u), None, Some(dev_user)) if self.user(dev_user)?.user_id.is_none() => {
                self.user_mut(dev_user)?.user_id = Some(u.to_owned());
                self.set_user_id_owner(u, dev_user)?;
                dev_user
            }
            (None, None, Some(dev_user)) => dev_user,
            // A new user id (also on a device that belonged to someone else): a new user, as in Amplitude.
            _ => {
                let id = self.counters.next_amplitude_id;
                self.counters.next_amplitude_id += 1;
                let state =
                    UserState { user_id: user_id.map(str::to_owned), first_seen_ms: Some(now), ..UserState::default() };
                self.memory.cache.users.insert(id, state);
                self.dirty_users.insert(id);
                if let Some(u) = user_id {
                    self.set_user_id_owner(u, id)?;
                }
                id
            }
        };
        if let Some(d) = device_id {
            if by_device != Some(id) {
                if let Some(anon) = by_device
                    && anon != id
                    && self.user(anon)?.user_id.is_none()
                {
                    self.user_mut(anon)?.merged_into = Some(id);
                }
                self.set_device_owner(d, id)?;
            }
            let user = self.user(id)?;
            if !user.device_ids.iter().any(|x| x == d) && user.device_ids.len() < MAX_DEVICES_PER_USER {
                self.user_mut(id)?.device_ids.push(d.to_owned());
            }
        }
        Ok(id)
    }

    fn user(&mut self, id: u64) -> Result<&UserState> {
        self.load_user(id)?;
        Ok(&self.memory.cache.users[&id])
    }

    fn user_mut(&mut self, id: u64) -> Result<&mut UserState> {
        self.load_user(id)?;
        self.dirty_users.insert(id);
        Ok(self.memory.cache.users.get_mut(&id).expect("loaded above"))
    }

    fn load_user(&mut self, id: u64) -> Result<()> {
        if !self.memory.cache.users.contains_key(&id) {
            let state = match self.users_table.get(id)? {
                Some(bytes) => decode("user", bytes.value())?,
                None => UserState::default(),
            };
            self.memory.cache.users.insert(id, state);
        }
        Ok(())
    }

    /// The group's state, created (and marked for writing) on first sight. Callers that change it mark it dirty.
    fn group_mut(&mut self, key: &str, now: i64, creator: Option<u64>) -> Result<&mut GroupState> {
        if !self.memory.cache.groups.contains_key(key) {
            let state = match self.groups_table.get(key)? {
                Some(bytes) => decode("group", bytes.value())?,
                None => {
                    let dense = self.counters.next_group_key;
                    self.counters.next_group_key += 1;
                    self.dirty_groups.insert(key.to_owned());
                    GroupState {
                        key: dense,
                        first_seen_ms: now,
                        creator_amplitude_id: creator,
                        ..GroupState::default()
                    }
                }
            };
            self.memory.cache.groups.insert(key.to_owned(), state);
        }
        Ok(self.memory.cache.groups.get_mut(key).expect("inserted above"))
    }

    /// Keeps the groups whose type the project knows or can still take; registers new types; reports the rest.
    fn admit_groups(&mut self, index: usize, groups: &GroupSet, receipt: &mut Receipt) -> Result<GroupSet> {
        let limit = self.options.group_limits.max_types_per_project;
        let mut admitted = GroupSet::new();
        for (group_type, values) in &groups.0 {
            if !self.counters.group_types.iter().any(|t| t == group_type) {
                if self.counters.group_types.len() >= limit {
                    for v in values {
                        receipt.dropped_groups.push(DroppedGroup {
                            command_index: index,
                            group_type: group_type.clone(),
                            group_value: v.clone(),
                            reason: format!(
                                "the project already uses {limit} group types ({}); the event was stored without this group",
                                self.counters.group_types.join(", ")
                            ),
                        });
                    }
                    continue;
                }
                let position = self.counters.group_types.len() as u64;
                self.group_types_table.insert(group_type.as_str(), position)?;
                self.counters.group_types.push(group_type.clone());
            }
            admitted.0.insert(group_type.clone(), values.clone());
        }
        Ok(admitted)
    }

    /// The `group_properties` stamp for a set of groups: type → value → properties now.
    fn stamp_groups(&mut self, groups: &GroupSet, now: i64, creator: Option<u64>) -> Result<Properties> {
        let mut out = Properties::new();
        for (group_type, values) in &groups.0 {
            let mut by_value = Properties::new();
            for v in values {
                let state = self.group_mut(&group_key(group_type, v), now, creator)?;
                by_value.insert(v.clone(), Value::Object(state.properties.clone()));
            }
            out.insert(group_type.clone(), Value::Object(by_value));
        }
        Ok(out)
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.counters.next_seq;
        self.counters.next_seq += 1;
        seq
    }

    fn append(&mut self, event: StoredEvent) {
        self.events.push(event);
    }

    fn track(&mut self, index: usize, t: Track, now: i64, receipt: &mut Receipt) -> Result<()> {
        let aid = self.resolve(t.user_id.as_deref(), t.device_id.as_deref(), now)?;
        let event_groups = self.admit_groups(index, &t.groups, receipt)?;
        let limits = self.options.group_limits;
        self.load_user(aid)?;
        let user = self.memory.cache.users.get_mut(&aid).expect("loaded above");
        let mut changed = !t.skip_user_properties_sync && t.user_ops.apply(&mut user.properties);
        let first_event = !user.has_events;
        if first_event {
            user.has_events = true;
            changed = true;
        }
        let user_properties = user.properties.clone();
        let union = GroupSet::union_for_event(&event_groups, &user.groups, limits);
        if changed {
            self.dirty_users.insert(aid);
        }
        for (group_type, group_value) in union.dropped_values {
            receipt.dropped_groups.push(DroppedGroup {
                command_index: index,
                group_type,
                group_value,
                reason: format!("an event carries at most {} group values", limits.max_values_per_event),
            });
        }
        let group_properties = self.stamp_groups(&union.groups, now, Some(aid))?;
        let mut data = Properties::new();
        if first_event {
            data.insert("first_event".into(), Value::Bool(true));
        }
        let event = StoredEvent {
            seq: self.next_seq(),
            uuid: crate::new_uuid(),
            amplitude_id: Some(aid),
            user_id: t.user_id,
            device_id: t.device_id,
            event_type: t.event_type,
            event_time: event_time(t.time, t.client_upload_time, now),
            client_event_time: t.time,
            client_upload_time: t.client_upload_time,
            server_upload_time: now,
            insert_id: t.insert_id,
            session_id: t.session_id.unwrap_or(-1),
            event_id: t.event_id,
            event_properties: t.event_properties,
            user_properties,
            groups: union.groups,
            group_properties,
            device: t.device,
            revenue: t.revenue,
            data,
            extra: t.extra,
        };
        self.append(event);
        receipt.stored += 1;
        Ok(())
    }

    fn identify(&mut self, index: usize, i: Identify, now: i64, receipt: &mut Receipt) -> Result<()> {
        let aid = self.resolve(i.user_id.as_deref(), i.device_id.as_deref(), now)?;
        let new_groups = self.admit_groups(index, &i.groups, receipt)?;
        self.load_user(aid)?;
        let user = self.memory.cache.users.get_mut(&aid).expect("loaded above");
        let mut changed = i.user_ops.apply(&mut user.properties);
        // User-level groups are only ever added to: a new value for a known type joins the old ones.
        for (t, v) in new_groups.pairs() {
            changed |= user.groups.insert(t, v);
        }
        if changed {
            self.dirty_users.insert(aid);
        }
        let user_properties = user.properties.clone();
        let groups = user.groups.clone();
        let group_properties = self.stamp_groups(&groups, now, Some(aid))?;
        let event = StoredEvent {
            seq: self.next_seq(),
            uuid: crate::new_uuid(),
            amplitude_id: Some(aid),
            user_id: i.user_id,
            device_id: i.device_id,
            event_type: IDENTIFY_EVENT.to_owned(),
            event_time: i.time.unwrap_or(now),
            client_event_time: i.time,
            server_upload_time: now,
            insert_id: i.insert_id,
            session_id: -1,
            user_properties,
            groups,
            group_properties,
            device: i.device,
            extra: i.extra,
            ..StoredEvent::default()
        };
        self.append(event);
        receipt.stored += 1;
        Ok(())
    }

    fn group_identify(&mut self, index: usize, g: GroupIdentify, now: i64, receipt: &mut Receipt) -> Result<()> {
        let mut single = GroupSet::new();
        single.insert(&g.group_type, &g.group_value);
        // `check` refused unknown types past the limit, but events earlier in the same request may have taken the
        // last free slot; then this identification is reported as dropped.
        let admitted = self.admit_groups(index, &single, receipt)?;
        if admitted.is_empty() {
            return Ok(());
        }
        let creator = match (g.user_id.as_deref(), g.device_id.as_deref()) {
            (None, None) => None,
            (u, d) => Some(self.resolve(u, d, now)?),
        };
        let key = group_key(&g.group_type, &g.group_value);
        let state = self.group_mut(&key, now, creator)?;
        if g.ops.apply(&mut state.properties) {
            self.dirty_groups.insert(key);
        }
        let group_properties = self.stamp_groups(&admitted, now, creator)?;
        let event = StoredEvent {
            seq: self.next_seq(),
            uuid: crate::new_uuid(),
            amplitude_id: creator,
            user_id: g.user_id,
            device_id: g.device_id,
            event_type: GROUP_IDENTIFY_EVENT.to_owned(),
            event_time: g.time.unwrap_or(now),
            client_event_time: g.time,
            server_upload_time: now,
            insert_id: g.insert_id,
            session_id: -1,
            groups: admitted,
            group_properties,
            extra: g.extra,
            ..StoredEvent::default()
        };
        self.append(event);
        receipt.stored += 1;
        Ok(())
    }

    /// `previous_id` (an earlier user id or an anonymous id) belongs to `user_id`'s user from now on.
    fn alias(&mut self, a: &Alias, now: i64) -> Result<()> {
        let aid = self.resolve(Some(&a.user_id), None, now)?;
        if self.user_id_owner(&a.previous_id)?.is_none() {
            self.set_user_id_owner(&a.previous_id, aid)?;
        }
        self.set_device_owner(&a.previous_id, aid)?;
        Ok(())
    }
}

/// The `amplitude_id` an id map (user ids or device ids) gives `id`, read through the writer's cache of that map.
fn cached_owner(
    table: &Table<'_, &'static str, u64>,
    cache: &mut HashMap<String, u64>,
    id: &str,
) -> Result<Option<u64>> {
    if let Some(&owner) = cache.get(id) {
        return Ok(Some(owner));
    }
    let found = table.get(id)?.map(|v| v.value());
    if let Some(owner) = found {
        cache.insert(id.to_owned(), owner);
    }
    Ok(found)
}

/// Points `id` at `owner` in an id map and in the writer's cache of it.
fn set_cached_owner(
    table: &mut Table<'_, &'static str, u64>,
    cache: &mut HashMap<String, u64>,
    id: &str,
    owner: u64,
) -> Result<()> {
    table.insert(id, owner)?;
    cache.insert(id.to_owned(), owner);
    Ok(())
}

/// Amplitude's clock-skew correction: `event_time = client_event_time + (server_received − client_upload)`,
/// applied only when the client's clock is off by a minute or more.
fn event_time(time: Option<i64>, client_upload: Option<i64>, now: i64) -> i64 {
    let Some(time) = time else { return now };
    match client_upload {
        Some(upload) if (now - upload).abs() >= 60_000 => time + (now - upload),
        _ => time,
    }
}
