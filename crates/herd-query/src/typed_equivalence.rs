//! Tests that reading segment format v2's typed columns answers exactly as reading the JSON bags: one dataset
//! (a segment plus a log tail, with the property shapes Herd meets: text, numbers, booleans, objects, arrays, JSON
//! null, absent keys, multi-valued groups, events without groups), every filter operator and label kind, compiled
//! once against the session's typed columns and once with [`Columns::json_only`].

use std::collections::HashMap;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use herd_model::report::{
    CountBy, EventSelector, EventSpec, Filter, FilterOp, Interval, PropertyMode, PropertyRef, PropertySource,
};
use herd_model::{Command, GroupIdentify, GroupSet, Identify, PropertyOps, Track};
use herd_store::{NewProject, Store, StoreOptions};
use serde_json::json;

use crate::columns::{self, Columns};
use crate::compile::{Aggregate, Scope};

const D1: i64 = 1_767_571_200_000;

fn obj(v: serde_json::Value) -> herd_model::Properties {
    v.as_object().cloned().unwrap_or_default()
}

fn track(user: &str, i: i64, groups: serde_json::Value, props: serde_json::Value) -> Command {
    Command::Track(Box::new(Track {
        user_id: Some(user.into()),
        event_type: "e".into(),
        time: Some(D1 + i * 3_600_000),
        groups: GroupSet::from_wire(&obj(groups)),
        event_properties: obj(props),
        ..Default::default()
    }))
}

fn org(value: &str, props: serde_json::Value) -> Command {
    Command::GroupIdentify(Box::new(GroupIdentify {
        group_type: "org".into(),
        group_value: value.into(),
        ops: PropertyOps::set(obj(props)),
        ..Default::default()
    }))
}

fn dataset() -> (Vec<Command>, Vec<Command>) {
    let first = vec![
        org("A", json!({"plan": "enterprise", "seats": 10})),
        org("B", json!({"plan": "free", "tags": ["x", "y"]})),
        Command::Identify(Box::new(Identify {
            user_id: Some("u1".into()),
            user_ops: PropertyOps::set(obj(json!({"tier": "gold", "age": 30}))),
            ..Default::default()
        })),
        track("u1", 0, json!({"org": "A"}), json!({"k": "Dashboards", "n": 3, "b": true})),
        track("u2", 1, json!({"org": ["A", "B"]}), json!({"k": "reports", "n": 2.5, "o": {"z": 1}})),
        track("u3", 2, json!({}), json!({"k": null, "arr": [1, "two"]})),
        track("u1", 3, json!({"org": "B", "team": "t1"}), json!({"n": "7"})),
    ];
    let tail = vec![
        org("C", json!({"plan": "growth"})),
        track("u4", 4, json!({"org": "C"}), json!({"k": "dashboards", "n": 10})),
        track("u2", 5, json!({"org": ["B", "C"]}), json!({"k": "x"})),
        track("u5", 6, json!({"team": "t2"}), json!({})),
    ];
    (first, tail)
}

fn refs() -> Vec<PropertyRef> {
    let p = |source: PropertySource, key: &str| PropertyRef { source, key: key.into() };
    vec![
        p(PropertySource::Event, "k"),
        p(PropertySource::Event, "n"),
        p(PropertySource::Event, "b"),
        p(PropertySource::Event, "o"),
        p(PropertySource::Event, "arr"),
        p(PropertySource::Event, "missing"),
        p(PropertySource::User, "tier"),
        p(PropertySource::User, "age"),
        p(PropertySource::Group("org".into()), "plan"),
        p(PropertySource::Group("org".into()), "seats"),
        p(PropertySource::Group("org".into()), "tags"),
        p(PropertySource::Group("team".into()), "plan"),
        p(PropertySource::GroupValue("org".into()), ""),
        p(PropertySource::GroupValue("team".into()), ""),
    ]
}

async fn rows(ctx: &datafusion::prelude::SessionContext, sql: &str) -> String {
    let batches: Vec<RecordBatch> = ctx
        .sql(&format!("SELECT * FROM ({sql}) r ORDER BY 1, 2, 3, 4, 5"))
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    pretty_format_batches(&batches).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn typed_columns_answer_like_json() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    store.create_project(NewProject { name: "p".into(), ..Default::default() }).unwrap();
    let project = store.by_name("p").unwrap();
    let (first, tail) = dataset();
    project.submit(first, D1).await.unwrap().unwrap();
    project.flush().unwrap();
    project.submit(tail, D1).await.unwrap().unwrap();
    let loaded = crate::session::open(&project, false).await.unwrap();
    let typed = columns::of(&loaded.ctx);
    let json_only = Columns::json_only();
    let no_buckets = HashMap::new();
    let mut checked = 0;
    for count_by in [CountBy::User, CountBy::Group("org".into())] {
        for property in refs() {
            let mut specs = Vec::new();
            for op in [
                FilterOp::Is,
                FilterOp::IsNot,
                FilterOp::Contains,
                FilterOp::DoesNotContain,
                FilterOp::Less,
                FilterOp::GreaterOrEqual,
                FilterOp::SetIs,
                FilterOp::SetIsNot,
            ] {
                for values in [vec!["dashboards"], vec!["A", "enterprise", "3", "gold", "t1"], vec!["B", "A"]] {
                    let values = values.into_iter().map(String::from).collect();
                    let filter = Filter { property: property.clone(), op, values };
                    specs.push(EventSpec { event: EventSelector::Any, filters: vec![filter], group_by: vec![] });
                }
            }
            specs.push(EventSpec { event: EventSelector::Any, filters: vec![], group_by: vec![property.clone()] });
            for spec in &specs {
                let mut answers = Vec::new();
                for columns in [&*typed, &json_only] {
                    let aggregate = Aggregate {
                        scope: Scope {
                            count_by: &count_by,
                            mode: PropertyMode::Stamped,
                            dynamic_buckets: &no_buckets,
                            columns,
                        },
                        event: spec,
                        segment: &[],
                        value: Some(&property),
                        start_ms: D1,
                        end_ms: D1 + 86_400_000,
                        interval: Interval::Hour,
                        time_zone: "UTC",
                        by_bucket: true,
                        bare: false,
                        histogram: None,
                    };
                    answers.push(rows(&loaded.ctx, &aggregate.sql_with_totals(true).unwrap()).await);
                }
                assert_eq!(answers[0], answers[1], "{count_by:?} {spec:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 300);
    // The typed path was taken: the session has typed columns, and a key with array values stayed JSON.
    assert_eq!(typed.get("e.k"), columns::Typed::Column("\"e.k\"".into()));
    assert_eq!(typed.get("e.arr"), columns::Typed::Json);
    assert_eq!(typed.get("gp.org.tags"), columns::Typed::Json);
}
