//! Retention by users and by groups on a hand-built dataset, the expected numbers worked out by hand.
//!
//! Every event is `play`; start and return are `play`; daily, range D1 .. D1+3d, 3 periods, periods are 24 hours
//! from the anchor's hour.
//!
//! | who   | org (user-level) | plays                                              |
//! |-------|------------------|----------------------------------------------------|
//! | alice | A                | D1+10h, D1+2d+9h (47 h later: period 1)            |
//! | bob   | A                | D1+1d+11h                                          |
//! | carol | A                | D1+3d+10h (after the range: never starts)          |
//! | dave  | B                | D1+1d+8h, D1+2d+7h, D1+3d+8h                       |
//! | erin  |                  | D1+2d+12h with event-level org [A, C], D1+3d+13h org C |
//! | olaf  | E                | D1−5d (before the range), D1+1h                    |

use herd_model::report::*;
use herd_model::retention::*;
use herd_query::QueryEngine;
use serde_json::json;

use crate::support::*;

fn dataset(now_ms: i64) -> Fixture {
    let none = || json!({});
    let mut f = Fixture::new(vec![
        member("alice", "A", json!({"plan": "pro"})),
        member("bob", "A", json!({})),
        member("carol", "A", json!({})),
        member("dave", "B", json!({})),
        member("olaf", "E", json!({})),
        track("olaf", "play", D1 - 5 * DAY, none()),
        track("olaf", "play", D1 + H, none()),
        track("alice", "play", D1 + 10 * H, none()),
        track("bob", "play", D1 + DAY + 11 * H, none()),
        track("dave", "play", D1 + DAY + 8 * H, none()),
        track("dave", "play", D1 + 2 * DAY + 7 * H, none()),
        track("alice", "play", D1 + 2 * DAY + 9 * H, none()),
        track("erin", "play", D1 + 2 * DAY + 12 * H, json!({"org": ["A", "C"]})),
        track("carol", "play", D1 + 3 * DAY + 10 * H, none()),
        track("dave", "play", D1 + 3 * DAY + 8 * H, none()),
        track("erin", "play", D1 + 3 * DAY + 13 * H, json!({"org": "C"})),
    ]);
    f.engine = QueryEngine::new(1).unwrap().with_fixed_now(now_ms);
    f
}

fn chart(count_by: CountBy, mode: RetentionMode) -> Retention {
    Retention {
        start: step("play"),
        returning: step("play"),
        mode,
        start_ms: D1,
        end_ms: D1 + 3 * DAY,
        interval: Interval::Day,
        periods: Some(3),
        count_by,
        segments: vec![],
        group_by: None,
        property_mode: PropertyMode::Stamped,
        limit: 100,
        time_zone: "UTC".into(),
    }
}

fn org() -> CountBy {
    CountBy::Group("org".into())
}

/// (cohort day index, counts) per cohort, then the combined counts.
type Rows = (Vec<(i64, Vec<u64>)>, Vec<u64>);

impl Fixture {
    fn retention(&self, req: &Retention) -> RetentionResult {
        self.rt.block_on(self.engine.retention(self.project.clone(), req.clone())).unwrap()
    }

    fn rows(&self, req: &Retention) -> Rows {
        let r = self.retention(req);
        assert_eq!(r.series.len(), 1, "{r:?}");
        let s = &r.series[0];
        let cohorts = s
            .cohorts
            .iter()
            .map(|c| {
                assert!(
                    c.cells
                        .iter()
                        .all(|cell| cell.outof == c.cells[0].outof || matches!(req.mode, RetentionMode::Bracket(_)))
                );
                ((c.start_ms - D1) / DAY, c.cells.iter().map(|cell| cell.count).collect())
            })
            .collect();
        (cohorts, s.combined.iter().map(|c| c.count).collect())
    }
}

const LATER: i64 = D1 + 30 * DAY;

#[test]
fn n_day_by_user_with_24_hour_periods_and_several_cohorts() {
    let f = dataset(LATER);
    // dave starts on day 1 and again on day 2 (his return 23 h later is period 0 of the first cohort); alice's
    // return on day 2 also starts her a day-2 cohort.
    let (cohorts, combined) = f.rows(&chart(CountBy::User, RetentionMode::NDay));
    assert_eq!(cohorts, [(2, vec![3, 2, 0, 0]), (1, vec![2, 0, 1, 0]), (0, vec![2, 1, 0, 0])]);
    // Each user once, in their first cohort: alice {1}, olaf {}, bob {}, dave {0, 2}, erin {1}.
    assert_eq!(combined, [5, 2, 1, 0]);
}

#[test]
fn a_group_returns_when_any_member_does() {
    let f = dataset(LATER);
    // Org A starts with alice on day 0 and returns through bob (period 1), erin (2) and carol (3); on day 2 it
    // starts with alice again and returns through carol.
    let (cohorts, combined) = f.rows(&chart(org(), RetentionMode::NDay));
    assert_eq!(cohorts, [(2, vec![3, 3, 0, 0]), (1, vec![2, 1, 1, 0]), (0, vec![2, 1, 1, 1])]);
    assert_eq!(combined, [4, 2, 2, 1]);
}

#[test]
fn rolling_and_brackets() {
    let f = dataset(LATER);
    let (cohorts, combined) = f.rows(&chart(CountBy::User, RetentionMode::Rolling));
    assert_eq!(cohorts, [(2, vec![3, 2, 0, 0]), (1, vec![2, 1, 1, 0]), (0, vec![2, 1, 0, 0])]);
    assert_eq!(combined, [5, 3, 1, 0]);
    let (cohorts, combined) = f.rows(&chart(CountBy::User, RetentionMode::Bracket(vec![(0, 2), (2, 4)])));
    assert_eq!(cohorts, [(2, vec![2, 0]), (1, vec![1, 1]), (0, vec![1, 0])]);
    assert_eq!(combined, [3, 1]);
}

#[test]
fn new_units_start_at_their_first_event() {
    let f = dataset(LATER);
    let mut req = chart(CountBy::User, RetentionMode::NDay);
    req.start = EventSpec { event: EventSelector::New, filters: vec![], group_by: vec![] };
    // olaf was seen before the range, carol first plays after it.
    let (cohorts, combined) = f.rows(&req);
    assert_eq!(cohorts, [(2, vec![1, 1, 0, 0]), (1, vec![2, 0, 1, 0]), (0, vec![1, 1, 0, 0])]);
    assert_eq!(combined, [4, 2, 1, 0]);
    req.count_by = org();
    let (_, combined) = f.rows(&req);
    // Orgs A, B and C are new; E is not.
    assert_eq!(combined, [3, 2, 2, 1]);
}

#[test]
fn recent_periods_are_incomplete() {
    let now = D1 + 3 * DAY + 12 * H;
    let f = dataset(now);
    let r = f.retention(&chart(CountBy::User, RetentionMode::NDay));
    let s = &r.series[0];
    let latest = &s.cohorts[0];
    assert_eq!((latest.start_ms - D1) / DAY, 2);
    assert_eq!(latest.cells.iter().map(|c| c.incomplete).collect::<Vec<_>>(), [false, true, true, true]);
    // Period 3 has begun only for the users who started on day 0 (alice, olaf); alice's has not ended.
    assert_eq!((s.combined[3].outof, s.combined[3].incomplete), (2, true));
    assert_eq!((s.combined[0].outof, s.combined[0].incomplete), (5, false));
}

#[test]
fn segments_and_group_by_apply_at_the_start() {
    let f = dataset(LATER);
    let mut req = chart(CountBy::User, RetentionMode::NDay);
    let plan = PropertyRef { source: PropertySource::User, key: "plan".into() };
    req.segments = vec![vec![is(plan.clone(), "pro")]];
    assert_eq!(f.rows(&req), (vec![(2, vec![1, 0, 0, 0]), (0, vec![1, 1, 0, 0])], vec![1, 1, 0, 0]));
    req.segments = vec![];
    req.group_by = Some(plan);
    let r = f.retention(&req);
    let sizes: Vec<(Option<String>, u64)> = r.series.iter().map(|s| (s.label.clone(), s.combined[0].outof)).collect();
    assert_eq!(sizes, [(Some("(none)".into()), 4), (Some("pro".into()), 1)]);
}
