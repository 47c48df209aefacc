//! What the report tests share: a store with one project built from commands, an engine, and short builders for
//! the commands and report parts the tests use.

use std::sync::Arc;

use herd_model::report::{EventSelector, EventSpec, Filter, FilterOp, PropertyRef};
use herd_model::{Command, GroupSet, Identify, PropertyOps, Track};
use herd_query::QueryEngine;
use herd_store::{NewProject, ProjectStore, Store, StoreOptions};

/// 2026-01-05 00:00 UTC, a Monday.
pub(crate) const D1: i64 = 1_767_571_200_000;
pub(crate) const DAY: i64 = 86_400_000;
pub(crate) const H: i64 = 3_600_000;
pub(crate) const MIN: i64 = 60_000;

pub(crate) fn props(v: serde_json::Value) -> herd_model::Properties {
    v.as_object().cloned().unwrap_or_default()
}

/// An event of `user` at `time` with event-level `groups` (wire shape, e.g. `{"org": "A"}`).
pub(crate) fn track(user: &str, event: &str, time: i64, groups: serde_json::Value) -> Command {
    track_with(user, event, time, groups, serde_json::json!({}))
}

/// [`track`] with event properties.
pub(crate) fn track_with(
    user: &str,
    event: &str,
    time: i64,
    groups: serde_json::Value,
    p: serde_json::Value,
) -> Command {
    Command::Track(Box::new(Track {
        user_id: Some(user.into()),
        event_type: event.into(),
        time: Some(time),
        groups: GroupSet::from_wire(&props(groups)),
        event_properties: props(p),
        ..Default::default()
    }))
}

/// `user` joins the user-level group `org = value` and gets `user_props`.
pub(crate) fn member(user: &str, org: &str, user_props: serde_json::Value) -> Command {
    let mut groups = GroupSet::new();
    groups.insert("org", org);
    Command::Identify(Box::new(Identify {
        user_id: Some(user.into()),
        user_ops: PropertyOps::set(props(user_props)),
        groups,
        ..Default::default()
    }))
}

/// A named event step without filters.
pub(crate) fn step(event: &str) -> EventSpec {
    EventSpec { event: EventSelector::Named(event.into()), filters: vec![], group_by: vec![] }
}

pub(crate) fn is(property: PropertyRef, value: &str) -> Filter {
    Filter { property, op: FilterOp::Is, values: vec![value.into()] }
}

/// One project holding `commands` (submitted with "now" = `D1`), optionally half flushed to a segment.
pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) store: Store,
    pub(crate) project: Arc<ProjectStore>,
    pub(crate) engine: QueryEngine,
    pub(crate) rt: tokio::runtime::Runtime,
}

impl Fixture {
    pub(crate) fn new(commands: Vec<Command>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        store.create_project(NewProject { name: "p".into(), ..Default::default() }).unwrap();
        let project = store.by_name("p").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let half = commands.len() / 2;
        let mut commands = commands;
        let rest = commands.split_off(half);
        // Half the data in a segment, the rest in the log tail: reports must see both.
        if !commands.is_empty() {
            rt.block_on(project.submit(commands, D1)).unwrap().unwrap();
            project.flush().unwrap();
        }
        if !rest.is_empty() {
            rt.block_on(project.submit(rest, D1)).unwrap().unwrap();
        }
        Fixture { _dir: dir, store, project, engine: QueryEngine::new(1).unwrap(), rt }
    }
}
