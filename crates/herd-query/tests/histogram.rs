//! The histogram metric: counted units per bucket of a numeric property, buckets in value order.
//!
//! `buy` events on 2026-01-05 (UTC) with `price`: u1 3 and 3.5 (org A), u2 7 (org A), u3 12 (org B), u4 17 (no
//! org), u5 without a price. Values 3–17 give buckets of width 2 from 2 to 18.

use herd_model::report::*;
use herd_model::{Command, GroupSet, Track};
use herd_query::QueryEngine;
use herd_store::{NewProject, Store, StoreOptions};
use serde_json::json;

const D1: i64 = 1_767_571_200_000;

fn buy(user: &str, price: Option<f64>, org: Option<&str>) -> Command {
    let mut groups = GroupSet::new();
    if let Some(o) = org {
        groups.insert("org", o);
    }
    let props = match price {
        Some(p) => json!({ "price": p }),
        None => json!({}),
    };
    Command::Track(Box::new(Track {
        user_id: Some(user.into()),
        event_type: "buy".into(),
        time: Some(D1 + 3_600_000),
        groups,
        event_properties: props.as_object().cloned().unwrap(),
        ..Default::default()
    }))
}

#[test]
fn histogram_counts_units_per_value_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    store.create_project(NewProject { name: "p".into(), ..Default::default() }).unwrap();
    let project = store.by_name("p").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let commands = vec![
        buy("user-1", Some(3.0), Some("A")),
        buy("user-1", Some(3.5), Some("A")),
        buy("user-2", Some(7.0), Some("A")),
        buy("user-3", Some(12.0), Some("B")),
        buy("user-4", Some(17.0), None),
        buy("user-5", None, Some("B")),
    ];
    rt.block_on(project.submit(commands, D1)).unwrap().unwrap();
    let engine = QueryEngine::new(1).unwrap();
    let price = PropertyRef { source: PropertySource::Event, key: "price".into() };
    let mut req = Segmentation {
        events: vec![EventSpec { event: EventSelector::Named("buy".into()), filters: vec![], group_by: vec![] }],
        metric: Metric::Histogram(price),
        formula: None,
        interval: Interval::Day,
        start_ms: D1,
        end_ms: D1 + 86_400_000,
        count_by: CountBy::User,
        segments: vec![],
        property_mode: PropertyMode::Stamped,
        limit: 100,
        time_zone: "UTC".into(),
    };
    let lines = |req: &Segmentation| {
        let r = rt.block_on(engine.segmentation(project.clone(), req.clone())).unwrap();
        r.series.into_iter().map(|s| (s.labels.join(";"), s.total)).collect::<Vec<_>>()
    };
    let s = |l: &str, n: f64| (l.to_owned(), n);
    assert_eq!(lines(&req), [s("[2, 4)", 1.0), s("[6, 8)", 1.0), s("[12, 14)", 1.0), s("[16, 18)", 1.0)]);
    // By org, u4's event (no org) is not counted: values 3–12 give buckets of width 1.
    req.count_by = CountBy::Group("org".into());
    assert_eq!(lines(&req), [s("[3, 4)", 1.0), s("[7, 8)", 1.0), s("[12, 13)", 1.0)]);
    // With a group-by, buckets are in value order within each group-by value.
    req.count_by = CountBy::User;
    req.events[0].group_by = vec![PropertyRef { source: PropertySource::GroupValue("org".into()), key: String::new() }];
    assert_eq!(lines(&req), [s("(none);[16, 18)", 1.0), s("A;[2, 4)", 1.0), s("A;[6, 8)", 1.0), s("B;[12, 14)", 1.0)]);
}
