//! Accounts and dynamic group properties, with numbers worked out by hand.
//!
//! "Now" is fixed at NOW = 2026-01-15 00:00 UTC; d = one day. Every `play` has `seconds = 10`.
//!
//! | who   | user-level org | `play` events (event-level groups)         |
//! |-------|----------------|--------------------------------------------|
//! | alice | A              | NOW−1d+1h, NOW−2d                           |
//! | bob   | A              | NOW−10d (outside a 7-day window)            |
//! | carol | B              | NOW−3d                                      |
//! | dave  |                | NOW−1d (org C)                              |
//! | erin  |                | NOW−1d+2h (org [A, B])                      |
//! | frank | A              | none                                        |
//!
//! Org A: `plan = free` (NOW−12d), then `plan = pro, seats = 5` (NOW−6d). Org B: `plan = enterprise`.
//!
//! Dynamic properties: `wau` = distinct active members over 7 rolling days (A 2: alice, erin; B 2: carol, erin;
//! C 1: dave); `plays30` = `play` events over 30 days (A 4, B 2, C 1); `secs` = sum of `seconds` over 30 days
//! (A 40, B 20, C 10). Members: A alice, bob, frank (user level), erin (events) = 4; B carol, erin = 2; C dave = 1.

use std::sync::Arc;

use herd_model::accounts::*;
use herd_model::report::*;
use herd_model::{Command, GroupIdentify, GroupSet, Identify, PropertyOps, Track};
use herd_query::QueryEngine;
use herd_store::{NewProject, ProjectStore, Store, StoreOptions};
use serde_json::json;

const NOW: i64 = 1_768_435_200_000;
const D: i64 = 86_400_000;
const H: i64 = 3_600_000;

fn props(v: serde_json::Value) -> herd_model::Properties {
    v.as_object().cloned().unwrap()
}

fn member(user: &str, org: &str) -> Command {
    let mut groups = GroupSet::new();
    groups.insert("org", org);
    Command::Identify(Box::new(Identify { user_id: Some(user.into()), groups, ..Default::default() }))
}

fn set_org(org: &str, p: serde_json::Value, time: i64) -> Command {
    Command::GroupIdentify(Box::new(GroupIdentify {
        group_type: "org".into(),
        group_value: org.into(),
        ops: PropertyOps::set(props(p)),
        time: Some(time),
        ..Default::default()
    }))
}

fn play(user: &str, time: i64, groups: serde_json::Value) -> Command {
    Command::Track(Box::new(Track {
        user_id: Some(user.into()),
        event_type: "play".into(),
        time: Some(time),
        groups: GroupSet::from_wire(&props(groups)),
        event_properties: props(json!({"seconds": 10})),
        ..Default::default()
    }))
}

struct Fixture {
    _dir: tempfile::TempDir,
    _store: Store,
    project: Arc<ProjectStore>,
    engine: QueryEngine,
    rt: tokio::runtime::Runtime,
}

const DEFINITIONS: [&str; 3] = [
    r#"{"name":"wau","group_type":"org","event":{"event":"active"},"metric":{"type":"uniques"},
        "window":{"rolling":{"days":7}},"buckets":[2]}"#,
    r#"{"name":"plays30","group_type":"org","event":{"event":{"named":"play"}},"metric":{"type":"totals"},
        "window":{"rolling":{"days":30}}}"#,
    r#"{"name":"secs","group_type":"org","event":{"event":"any"},
        "metric":{"type":"sum","property":{"source":"event","key":"seconds"}},"window":{"rolling":{"days":30}}}"#,
];

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    store.create_project(NewProject { name: "p".into(), ..Default::default() }).unwrap();
    for def in DEFINITIONS {
        let def = DynamicProperty::parse(def).unwrap();
        store.set_setting("p", &def.setting_key(), Some(&serde_json::to_string(&def).unwrap())).unwrap();
    }
    let project = store.by_name("p").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let commands = vec![
        set_org("A", json!({"plan": "free"}), NOW - 12 * D),
        set_org("B", json!({"plan": "enterprise"}), NOW - 12 * D),
        member("alice", "A"),
        member("bob", "A"),
        member("carol", "B"),
        member("frank", "A"),
        play("alice", NOW - D + H, json!({})),
        play("alice", NOW - 2 * D, json!({})),
        play("bob", NOW - 10 * D, json!({})),
        play("carol", NOW - 3 * D, json!({})),
        play("dave", NOW - D, json!({"org": "C"})),
    ];
    rt.block_on(project.submit(commands, NOW - 12 * D)).unwrap().unwrap();
    project.flush().unwrap();
    let later = vec![
        set_org("A", json!({"plan": "pro", "seats": 5}), NOW - 6 * D),
        play("erin", NOW - D + 2 * H, json!({"org": ["A", "B"]})),
    ];
    rt.block_on(project.submit(later, NOW - 6 * D)).unwrap().unwrap();
    Fixture { _dir: dir, _store: store, project, engine: QueryEngine::new(1).unwrap().with_fixed_now(NOW), rt }
}

fn query(filters: Vec<AccountFilter>, sort: Option<AccountSort>) -> AccountsQuery {
    AccountsQuery { group_type: "org".into(), filters, history: false, sort, limit: 100, offset: 0 }
}

fn filter(field: AccountField, op: FilterOp, value: &str) -> AccountFilter {
    AccountFilter { field, op, values: vec![value.into()] }
}

impl Fixture {
    fn accounts(&self, q: AccountsQuery) -> AccountsResult {
        self.rt.block_on(self.engine.accounts(self.project.clone(), q)).unwrap()
    }

    fn values(&self, q: AccountsQuery) -> Vec<String> {
        self.accounts(q).accounts.into_iter().map(|a| a.group_value).collect()
    }

    fn segmentation(&self, req: Segmentation) -> Vec<(Vec<String>, f64)> {
        let r = self.rt.block_on(self.engine.segmentation(self.project.clone(), req)).unwrap();
        let mut lines: Vec<_> = r.series.into_iter().map(|s| (s.labels, s.total)).collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        lines
    }
}

#[test]
fn the_accounts_list_has_members_activity_and_dynamic_properties() {
    let f = fixture();
    let r = f.accounts(query(vec![], None));
    assert_eq!(r.total, 3);
    let rows: Vec<(&str, u64, u64, Option<i64>)> =
        r.accounts.iter().map(|a| (a.group_value.as_str(), a.members, a.events, a.last_seen_ms)).collect();
    // Default order: members, descending.
    assert_eq!(
        rows,
        vec![("A", 4, 4, Some(NOW - D + 2 * H)), ("B", 2, 2, Some(NOW - D + 2 * H)), ("C", 1, 1, Some(NOW - D))]
    );
    let dynamic = |v: &str| r.accounts.iter().find(|a| a.group_value == v).unwrap().dynamic.clone();
    assert_eq!(
        dynamic("A").into_iter().collect::<Vec<_>>(),
        [("plays30".into(), 4.0), ("secs".into(), 40.0), ("wau".into(), 2.0)]
    );
    assert_eq!(dynamic("B")["wau"], 2.0);
    assert_eq!(dynamic("C")["wau"], 1.0);
    assert_eq!(dynamic("C")["secs"], 10.0);
    let a = &r.accounts[0];
    assert_eq!(a.properties, props(json!({"plan": "pro", "seats": 5})));
    assert_eq!(a.first_seen_ms, NOW - 12 * D);
}

#[test]
fn filters_sorting_history_and_paging() {
    let f = fixture();
    let plan = |op, v| filter(AccountField::Property("plan".into()), op, v);
    assert_eq!(f.values(query(vec![plan(FilterOp::Is, "pro")], None)), ["A"]);
    assert!(f.values(query(vec![plan(FilterOp::Is, "free")], None)).is_empty(), "A is no longer free");
    let mut past = query(vec![plan(FilterOp::Is, "free")], None);
    past.history = true;
    assert_eq!(f.values(past), ["A"], "but it was");
    // C has no plan: only the negative operators match it.
    assert_eq!(f.values(query(vec![plan(FilterOp::IsNot, "pro")], None)), ["B", "C"]);
    let wau = AccountField::Dynamic("wau".into());
    assert_eq!(f.values(query(vec![filter(wau.clone(), FilterOp::GreaterOrEqual, "2")], None)), ["A", "B"]);
    assert_eq!(f.values(query(vec![filter(AccountField::Members, FilterOp::Less, "2")], None)), ["C"]);
    let by_plays = Some(AccountSort { field: AccountField::Dynamic("plays30".into()), descending: false });
    assert_eq!(f.values(query(vec![], by_plays)), ["C", "B", "A"]);
    // Missing values sort last in either direction.
    let by_plan = |descending| Some(AccountSort { field: AccountField::Property("plan".into()), descending });
    assert_eq!(f.values(query(vec![], by_plan(false))), ["B", "A", "C"]);
    assert_eq!(f.values(query(vec![], by_plan(true))), ["A", "B", "C"]);
    let mut page = query(vec![], None);
    (page.offset, page.limit) = (1, 1);
    let r = f.accounts(page);
    assert_eq!((r.total, r.accounts[0].group_value.as_str()), (3, "B"));

    let unknown = query(vec![filter(AccountField::Dynamic("nope".into()), FilterOp::Is, "1")], None);
    let err = f.rt.block_on(f.engine.accounts(f.project.clone(), unknown)).unwrap_err();
    assert!(err.is_invalid_request() && err.to_string().contains("wau"), "{err}");
}

#[test]
fn a_group_profile_has_history_members_and_recent_events() {
    let f = fixture();
    let p = f.rt.block_on(f.engine.group_profile(f.project.clone(), "org".into(), "A".into(), 3)).unwrap().unwrap();
    assert_eq!(p.account.members, 4);
    assert_eq!(p.history.len(), 2);
    assert_eq!(p.history[0].time_ms, NOW - 12 * D);
    assert_eq!(p.history[1].changes["plan"], [json!("free"), json!("pro")]);
    assert_eq!(p.history[1].changes["seats"], [serde_json::Value::Null, json!(5)]);
    let members: Vec<(Option<&str>, bool, u64)> =
        p.members.iter().map(|m| (m.user_id.as_deref(), m.user_level, m.events)).collect();
    assert_eq!(members[0], (Some("alice"), true, 2));
    assert!(members.contains(&(Some("frank"), true, 0)));
    assert!(members.contains(&(Some("erin"), false, 1)));
    let recent: Vec<&str> = p.recent_events.iter().map(|e| e["user_id"].as_str().unwrap()).collect();
    assert_eq!(recent, ["erin", "alice", "alice"], "latest first, at most 3");
    assert_eq!(p.recent_events[0]["event_properties"]["seconds"], 10);
    assert!(f.rt.block_on(f.engine.group_profile(f.project.clone(), "org".into(), "Z".into(), 3)).unwrap().is_none());
}

fn chart(count_by: CountBy) -> Segmentation {
    Segmentation {
        events: vec![EventSpec { event: EventSelector::Named("play".into()), filters: vec![], group_by: vec![] }],
        metric: Metric::Uniques,
        formula: None,
        interval: Interval::Day,
        start_ms: NOW - 30 * D,
        end_ms: NOW,
        count_by,
        segments: vec![],
        property_mode: PropertyMode::Stamped,
        limit: 100,
        time_zone: "UTC".into(),
    }
}

fn dynamic(name: &str) -> PropertyRef {
    PropertyRef { source: PropertySource::Dynamic("org".into()), key: name.into() }
}

#[test]
fn dynamic_properties_filter_and_group_segmentations() {
    let f = fixture();
    let org = CountBy::Group("org".into());
    // Orgs with wau > 1 that played: A and B.
    let mut req = chart(org.clone());
    req.events[0].filters = vec![Filter { property: dynamic("wau"), op: FilterOp::Greater, values: vec!["1".into()] }];
    assert_eq!(f.segmentation(req.clone()), [(vec![], 2.0)]);
    // Users whose event had such an org: alice, bob (A), carol (B), erin (A and B); not dave (C).
    req.count_by = CountBy::User;
    assert_eq!(f.segmentation(req), [(vec![], 4.0)]);

    // Group-by in wau's buckets ([2]): by org, A and B are ≥ 2, C is below.
    let mut req = chart(org);
    req.events[0].group_by = vec![dynamic("wau")];
    assert_eq!(f.segmentation(req), [(vec!["< 2".into()], 1.0), (vec!["≥ 2".into()], 2.0)]);
    // By user, over events with no org at all there is none; here every event has one.
    let mut req = chart(CountBy::User);
    req.events[0].group_by = vec![dynamic("plays30")];
    assert_eq!(f.segmentation(req), [(vec!["[1, 5)".into()], 5.0)]);

    let mut req = chart(CountBy::User);
    req.events[0].group_by = vec![dynamic("nope")];
    let err = f.rt.block_on(f.engine.segmentation(f.project.clone(), req)).unwrap_err();
    assert!(err.to_string().contains("not a dynamic property"), "{err}");
}
