//! Cohorts of users and of groups as segments of reports, and their members; behavioural membership follows
//! "now".
//!
//! `play` events: dave D1 and D1+1h; alice (org A) D1+5d, +6d, +7d; bob (org A) D1+8d; carol (org B) D1+9d
//! twice. Cohorts: `active` (users who played at least twice in the last 7 days), `big` (org A, a static cohort
//! of groups), `picked` (users bob and dave by user id).

use herd_model::cohort::*;
use herd_model::funnel::{DEFAULT_WINDOW_MS, Entrants, Funnel, FunnelMode};
use herd_model::report::*;
use herd_query::QueryEngine;
use serde_json::json;

use crate::support::*;

fn cohort(id: &str, count_by: CountBy, definition: CohortDefinition) -> Cohort {
    Cohort {
        version: COHORT_FORMAT_VERSION,
        id: id.into(),
        name: id.into(),
        count_by,
        definition,
        owner: String::new(),
        published: true,
        updated_ms: 0,
    }
}

fn dataset(now_ms: i64) -> Fixture {
    let play = |u: &str, t: i64| track(u, "play", t, json!({}));
    let mut f = Fixture::new(vec![
        member("alice", "A", json!({})),
        member("bob", "A", json!({})),
        member("carol", "B", json!({})),
        play("dave", D1),
        play("dave", D1 + H),
        play("alice", D1 + 5 * DAY),
        play("alice", D1 + 6 * DAY),
        play("alice", D1 + 7 * DAY),
        play("bob", D1 + 8 * DAY),
        play("carol", D1 + 9 * DAY),
        play("carol", D1 + 9 * DAY + H),
    ]);
    let org = CountBy::Group("org".into());
    for c in [
        cohort("active", CountBy::User, CohortDefinition::Behavioral { event: step("play"), min_count: 2, days: 7 }),
        cohort("big", org, CohortDefinition::Static { id_type: IdType::ByUserId, ids: vec!["A".into()] }),
        cohort(
            "picked",
            CountBy::User,
            CohortDefinition::Static { id_type: IdType::ByUserId, ids: vec!["bob".into(), "dave".into()] },
        ),
    ] {
        f.store.set_setting("p", &c.setting_key(), Some(&serde_json::to_string(&c).unwrap())).unwrap();
    }
    f.engine = QueryEngine::new(1).unwrap().with_fixed_now(now_ms);
    f
}

fn in_cohort(op: FilterOp, id: &str) -> Filter {
    Filter {
        property: PropertyRef { source: PropertySource::Cohort, key: COHORT_PROPERTY.into() },
        op,
        values: vec![id.into()],
    }
}

fn uniques(f: &Fixture, count_by: CountBy, segment: Vec<Filter>) -> f64 {
    let req = Segmentation {
        events: vec![step("play")],
        metric: Metric::Uniques,
        formula: None,
        interval: Interval::Day,
        start_ms: D1,
        end_ms: D1 + 10 * DAY,
        count_by,
        segments: vec![segment],
        property_mode: PropertyMode::Stamped,
        limit: 100,
        time_zone: "UTC".into(),
    };
    f.rt.block_on(f.engine.segmentation(f.project.clone(), req)).unwrap().series[0].total
}

#[test]
fn cohorts_segment_reports_by_users_and_by_groups() {
    let f = dataset(D1 + 10 * DAY);
    // Events of org A: alice's and bob's.
    assert_eq!(uniques(&f, CountBy::User, vec![in_cohort(FilterOp::Is, "big")]), 2.0);
    assert_eq!(uniques(&f, CountBy::User, vec![in_cohort(FilterOp::IsNot, "big")]), 2.0);
    // Played twice in the last 7 days: alice and carol; their orgs A and B.
    assert_eq!(uniques(&f, CountBy::User, vec![in_cohort(FilterOp::Is, "active")]), 2.0);
    assert_eq!(uniques(&f, CountBy::Group("org".into()), vec![in_cohort(FilterOp::Is, "active")]), 2.0);
    // Several ids are alternatives.
    let either = Filter { values: vec!["picked".into(), "active".into()], ..in_cohort(FilterOp::Is, "") };
    assert_eq!(uniques(&f, CountBy::User, vec![either]), 4.0);

    // A funnel segment decides who enters: bob (one play) and dave (two).
    let funnel = Funnel {
        steps: vec![step("play"), step("play")],
        mode: FunnelMode::Ordered,
        window_ms: DEFAULT_WINDOW_MS,
        entrants: Entrants::Active,
        start_ms: D1,
        end_ms: D1 + 10 * DAY,
        interval: Interval::Day,
        count_by: CountBy::User,
        segments: vec![vec![in_cohort(FilterOp::Is, "picked")]],
        group_by: None,
        property_mode: PropertyMode::Stamped,
        limit: 100,
        time_zone: "UTC".into(),
    };
    let r = f.rt.block_on(f.engine.funnel(f.project.clone(), funnel)).unwrap();
    assert_eq!(r.series[0].counts, [2, 1]);

    let err =
        f.rt.block_on(f.engine.segmentation(f.project.clone(), {
            let mut r = herd_model::report::Segmentation {
                events: vec![step("play")],
                metric: Metric::Uniques,
                formula: None,
                interval: Interval::Day,
                start_ms: D1,
                end_ms: D1 + DAY,
                count_by: CountBy::User,
                segments: vec![],
                property_mode: PropertyMode::Stamped,
                limit: 100,
                time_zone: "UTC".into(),
            };
            r.segments = vec![vec![in_cohort(FilterOp::Is, "nope")]];
            r
        }))
        .unwrap_err();
    assert!(err.to_string().contains("unknown cohort \"nope\""), "{err}");
}

#[test]
fn behavioural_membership_follows_now_and_static_lists_resolve_to_users() {
    let later = dataset(D1 + 10 * DAY);
    let members = |f: &Fixture, id: &str| f.rt.block_on(f.engine.cohort_members(f.project.clone(), id.into())).unwrap();
    let names = |m: CohortMembers| match m {
        CohortMembers::Users(u) => u.into_iter().map(|(_, uid)| uid.unwrap_or_default()).collect::<Vec<_>>(),
        CohortMembers::Groups(g) => g,
    };
    let mut active = names(members(&later, "active"));
    active.sort();
    assert_eq!(active, ["alice", "carol"]);
    // Two days after D1, only dave had played twice in the 7 days before.
    let early = dataset(D1 + 2 * DAY);
    assert_eq!(names(members(&early, "active")), ["dave"]);
    assert_eq!(uniques(&early, CountBy::User, vec![in_cohort(FilterOp::Is, "active")]), 1.0);
    let mut picked = names(members(&later, "picked"));
    picked.sort();
    assert_eq!(picked, ["bob", "dave"]);
    assert_eq!(names(members(&later, "big")), ["A"]);
}
