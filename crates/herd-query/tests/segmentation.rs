//! Event segmentation by users and by groups: multi-member groups, array-valued groups, user-level vs event-level
//! groups, events without a group, stamped vs current properties, time zones.
//!
//! The dataset (all UTC; D1 = 2026-01-05, D2 = 2026-01-06):
//!
//! | who   | user-level org | event-level groups | `play` events            |
//! |-------|----------------|--------------------|--------------------------|
//! | alice | A              |                    | D1 10:00, D1 11:00       |
//! | bob   | A              |                    | D1 12:00                 |
//! | carol | B              |                    | D2 10:00                 |
//! | dave  |                |                    | D1 13:00                 |
//! | dave  |                | org C              | D2 11:00                 |
//! | erin  |                | org [A, B]         | D2 12:00                 |
//! | frank | A              |                    | D2 02:00 (= D1 21:00 in New York) |
//!
//! Group properties: org A `plan = enterprise`, org B `plan = free` before any event; after all events org A's plan
//! becomes `growth` (so stamped and current properties differ). alice has user property `tier = gold`.

use std::sync::Arc;

use herd_model::report::*;
use herd_model::{Command, GroupIdentify, GroupSet, Identify, PropertyOps, Track};
use herd_query::QueryEngine;
use herd_store::{NewProject, ProjectStore, Store, StoreOptions};
use serde_json::json;

const D1: i64 = 1_767_571_200_000;
const D2: i64 = D1 + 86_400_000;
const H: i64 = 3_600_000;

fn props(v: serde_json::Value) -> herd_model::Properties {
    v.as_object().cloned().unwrap()
}

fn identify(user: &str, org: Option<&str>, user_props: serde_json::Value) -> Command {
    let mut groups = GroupSet::new();
    if let Some(o) = org {
        groups.insert("org", o);
    }
    Command::Identify(Box::new(Identify {
        user_id: Some(user.into()),
        user_ops: PropertyOps::set(props(user_props)),
        groups,
        ..Default::default()
    }))
}

fn plan(org: &str, plan: &str) -> Command {
    Command::GroupIdentify(Box::new(GroupIdentify {
        group_type: "org".into(),
        group_value: org.into(),
        ops: PropertyOps::set(props(json!({ "plan": plan }))),
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

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    store.create_project(NewProject { name: "p".into(), ..Default::default() }).unwrap();
    let project = store.by_name("p").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let commands = vec![
        plan("A", "enterprise"),
        plan("B", "free"),
        identify("alice", Some("A"), json!({"tier": "gold"})),
        identify("bob", Some("A"), json!({})),
        identify("carol", Some("B"), json!({})),
        identify("frank", Some("A"), json!({})),
        play("alice", D1 + 10 * H, json!({})),
        play("alice", D1 + 11 * H, json!({})),
        play("bob", D1 + 12 * H, json!({})),
        play("dave", D1 + 13 * H, json!({})),
        play("carol", D2 + 10 * H, json!({})),
        play("dave", D2 + 11 * H, json!({"org": "C"})),
        play("erin", D2 + 12 * H, json!({"org": ["A", "B"]})),
        play("frank", D2 + 2 * H, json!({})),
    ];
    rt.block_on(project.submit(commands, D1)).unwrap().unwrap();
    // Half the data in a segment, the rest in the log tail: queries must see both.
    project.flush().unwrap();
    rt.block_on(project.submit(vec![plan("A", "growth")], D2 + 20 * H)).unwrap().unwrap();
    Fixture { _dir: dir, _store: store, project, engine: QueryEngine::new(1).unwrap(), rt }
}

fn chart(count_by: CountBy, metric: Metric) -> Segmentation {
    Segmentation {
        events: vec![EventSpec { event: EventSelector::Named("play".into()), filters: vec![], group_by: vec![] }],
        metric,
        formula: None,
        interval: Interval::Day,
        start_ms: D1,
        end_ms: D2 + 86_400_000,
        count_by,
        segments: vec![],
        property_mode: PropertyMode::Stamped,
        limit: 100,
        time_zone: "UTC".into(),
    }
}

fn org() -> CountBy {
    CountBy::Group("org".into())
}

fn org_plan(op: FilterOp, value: &str) -> Filter {
    Filter {
        property: PropertyRef { source: PropertySource::Group("org".into()), key: "plan".into() },
        op,
        values: vec![value.into()],
    }
}

impl Fixture {
    fn run(&self, req: Segmentation) -> SegmentationResult {
        self.rt.block_on(self.engine.segmentation(self.project.clone(), req)).unwrap()
    }

    /// (labels, values, total) of every series.
    fn lines(&self, req: Segmentation) -> Vec<(Vec<String>, Vec<f64>, f64)> {
        let r = self.run(req);
        assert_eq!(r.x_values.len(), 2);
        r.series.into_iter().map(|s| (s.labels, s.values, s.total)).collect()
    }
}

#[test]
fn uniques_and_totals_by_user_and_by_group() {
    let f = fixture();
    let cases: Vec<(&str, Segmentation, Vec<f64>, f64)> = vec![
        // Users: D1 alice bob dave; D2 carol dave erin frank; over the range all six.
        ("uniques by user", chart(CountBy::User, Metric::Uniques), vec![3.0, 4.0], 6.0),
        ("totals by user", chart(CountBy::User, Metric::Totals), vec![4.0, 4.0], 8.0),
        // Orgs: D1 only A (dave has none: not counted); D2 B (carol), C (dave), A+B (erin), A (frank).
        ("uniques by org", chart(org(), Metric::Uniques), vec![1.0, 3.0], 3.0),
        // An event counts once for each of its groups: D1 alice 2 + bob 1; D2 carol 1, dave 1, erin 2, frank 1.
        ("totals by org", chart(org(), Metric::Totals), vec![3.0, 5.0], 8.0),
        ("average by org", chart(org(), Metric::Average), vec![3.0, 5.0 / 3.0], 8.0 / 3.0),
        (
            "property sum by user",
            chart(CountBy::User, Metric::Sum(PropertyRef { source: PropertySource::Event, key: "seconds".into() })),
            vec![40.0, 40.0],
            80.0,
        ),
    ];
    for (name, req, values, total) in cases {
        let lines = f.lines(req);
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        assert_eq!(lines[0].1, values, "{name}");
        assert!((lines[0].2 - total).abs() < 1e-9, "{name}: total {} != {total}", lines[0].2);
    }
}

#[test]
fn group_by_group_value_and_group_properties() {
    let f = fixture();
    let mut req = chart(CountBy::User, Metric::Uniques);
    req.events[0].group_by = vec![PropertyRef { source: PropertySource::GroupValue("org".into()), key: String::new() }];
    let lines = f.lines(req);
    let find = |l: &str| lines.iter().find(|x| x.0 == vec![l.to_owned()]).map(|x| (x.1.clone(), x.2)).unwrap();
    // A: D1 alice bob, D2 erin frank; B: D2 carol erin; C: D2 dave; (none): D1 dave.
    assert_eq!(find("A"), (vec![2.0, 2.0], 4.0));
    assert_eq!(find("B"), (vec![0.0, 2.0], 2.0));
    assert_eq!(find("C"), (vec![0.0, 1.0], 1.0));
    assert_eq!(find("(none)"), (vec![1.0, 0.0], 1.0));
    assert_eq!(lines[0].0, vec!["A".to_owned()], "ordered by total, descending");

    // Stamped group property: plan was enterprise for A during all events.
    let mut req = chart(org(), Metric::Uniques);
    req.events[0].filters = vec![org_plan(FilterOp::Is, "enterprise")];
    assert_eq!(f.lines(req.clone())[0].1, vec![1.0, 1.0]);
    // Counting users whose event had any org on the enterprise plan: D1 alice bob; D2 erin (A and B) frank.
    req.count_by = CountBy::User;
    assert_eq!(f.lines(req)[0].1, vec![2.0, 2.0]);

    // Current properties: A is on growth now; stamped events never were.
    let mut req = chart(org(), Metric::Uniques);
    req.events[0].filters = vec![org_plan(FilterOp::Is, "growth")];
    assert_eq!(f.lines(req.clone())[0].1, vec![0.0, 0.0]);
    req.property_mode = PropertyMode::Current;
    assert_eq!(f.lines(req)[0].1, vec![1.0, 1.0]);

    // Group-by a group property while counting orgs.
    let mut req = chart(org(), Metric::Uniques);
    req.events[0].group_by = vec![PropertyRef { source: PropertySource::Group("org".into()), key: "plan".into() }];
    let lines = f.lines(req);
    let labels: Vec<(String, f64)> = lines.iter().map(|l| (l.0[0].clone(), l.2)).collect();
    assert_eq!(labels, vec![("(none)".to_owned(), 1.0), ("enterprise".to_owned(), 1.0), ("free".to_owned(), 1.0)]);
}

#[test]
fn user_property_segments_formulas_and_time_zones() {
    let f = fixture();
    let mut req = chart(CountBy::User, Metric::Uniques);
    req.segments = vec![
        vec![],
        vec![Filter {
            property: PropertyRef { source: PropertySource::User, key: "tier".into() },
            op: FilterOp::Is,
            values: vec!["gold".into()],
        }],
    ];
    let r = f.run(req);
    assert_eq!(r.series.len(), 2);
    assert_eq!(r.series[1].values, vec![1.0, 0.0], "only alice is gold");

    let mut req = chart(CountBy::User, Metric::Uniques);
    req.events.push(EventSpec { event: EventSelector::Any, filters: vec![], group_by: vec![] });
    req.formula = Some("UNIQUES(A)/UNIQUES(B)".into());
    let r = f.run(req);
    assert_eq!(r.series.len(), 1);
    assert_eq!(r.series[0].values, vec![1.0, 1.0]);

    // In New York, frank's D2 02:00 UTC event happened on D1.
    let mut req = chart(CountBy::User, Metric::Uniques);
    req.time_zone = "America/New_York".into();
    req.start_ms = D1 + 5 * H;
    req.end_ms = D2 + 29 * H;
    let r = f.run(req);
    assert_eq!(r.x_values, vec![D1 + 5 * H, D2 + 5 * H]);
    assert_eq!(r.series[0].values, vec![4.0, 3.0]);

    // Hourly buckets on D1: alice 10h, 11h; bob 12h; dave 13h.
    let mut req = chart(CountBy::User, Metric::Totals);
    req.interval = Interval::Hour;
    req.end_ms = D2;
    let r = f.run(req);
    assert_eq!(r.x_values.len(), 24);
    let nonzero: Vec<(usize, f64)> = r.series[0].values.iter().copied().enumerate().filter(|(_, v)| *v > 0.0).collect();
    assert_eq!(nonzero, vec![(10, 1.0), (11, 1.0), (12, 1.0), (13, 1.0)]);
}

#[test]
fn compaction_changes_no_answer() {
    let f = fixture();
    let charts = || {
        vec![
            chart(CountBy::User, Metric::Uniques),
            chart(org(), Metric::Uniques),
            chart(org(), Metric::Totals),
            Segmentation {
                events: vec![EventSpec {
                    event: EventSelector::Named("play".into()),
                    filters: vec![org_plan(FilterOp::Is, "enterprise")],
                    group_by: vec![],
                }],
                ..chart(org(), Metric::Uniques)
            },
        ]
    };
    // Flush the tail (the day-2 group identification) so day 2 has two segments, then merge them.
    f.project.flush().unwrap();
    let before: Vec<_> = charts().into_iter().map(|c| f.lines(c)).collect();
    let segments = f.project.stats().unwrap().segments;
    assert!(f.project.compact().unwrap() >= 2);
    assert!(f.project.stats().unwrap().segments < segments);
    let after: Vec<_> = charts().into_iter().map(|c| f.lines(c)).collect();
    assert_eq!(after, before);
}
