//! Retention against a brute-force reference: on random small datasets (several users per group, array-valued
//! groups, starts on several days), every cohort's n-day counts and the combined row by user and by group equal
//! those computed directly from the definitions in `herd_model::retention`.

use std::collections::BTreeMap;

use herd_model::report::*;
use herd_model::retention::*;
use herd_query::QueryEngine;
use proptest::prelude::*;
use serde_json::json;

use crate::support::*;

const PERIODS: usize = 4;
const END: i64 = D1 + 4 * DAY;

/// User, type (0 = start `a`, else another event), hour offset from D1 (−24 .. 8 days), org choice.
type Gen = (usize, usize, i64, usize);

fn orgs(choice: usize) -> Vec<&'static str> {
    [vec![], vec!["A"], vec!["B"], vec!["A", "B"]][choice].clone()
}

/// cohort day → counts per period (index 0 the size), and the combined counts.
type Expected = (BTreeMap<i64, Vec<u64>>, Vec<u64>);

/// Straight from the definitions: a cohort per day with a start in the range, anchored at that day's first start;
/// period N = whole days between the hours of the anchor and of a later event.
fn reference(units: &[Vec<(i64, bool)>]) -> Expected {
    let hour = |t: i64| t.div_euclid(H) * H;
    let mut cohorts: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    let mut combined = vec![0u64; PERIODS + 1];
    for events in units {
        let events: Vec<(i64, bool)> = events.iter().copied().filter(|(t, _)| *t >= D1).collect();
        let mut days: Vec<i64> =
            events.iter().filter(|(t, s)| *s && *t < END).map(|(t, _)| t.div_euclid(DAY) * DAY).collect();
        days.sort();
        days.dedup();
        for (k, day) in days.iter().enumerate() {
            let anchor =
                events.iter().filter(|(t, s)| *s && t.div_euclid(DAY) * DAY == *day).map(|(t, _)| *t).min().unwrap();
            let row = cohorts.entry(*day).or_insert_with(|| vec![0; PERIODS + 1]);
            for n in 0..=PERIODS {
                let back =
                    n == 0 || events.iter().any(|(t, _)| *t > anchor && (hour(*t) - hour(anchor)) / DAY == n as i64);
                if back {
                    row[n] += 1;
                    if k == 0 {
                        combined[n] += 1;
                    }
                }
            }
        }
    }
    (cohorts, combined)
}

fn check(data: &[Gen]) {
    // Distinct times (a millisecond apart per event), so that ties between users need no tie rule.
    let at = |i: usize, h: i64| D1 + h * H + i as i64;
    let commands = data
        .iter()
        .enumerate()
        .map(|(i, (u, t, h, o))| {
            track(&format!("u{u}"), if *t == 0 { "a" } else { "b" }, at(i, *h), json!({"org": orgs(*o)}))
        })
        .collect();
    let mut f = Fixture::new(commands);
    f.engine = QueryEngine::new(1).unwrap().with_fixed_now(D1 + 365 * DAY);
    let req = Retention {
        start: step("a"),
        returning: EventSpec { event: EventSelector::Active, filters: vec![], group_by: vec![] },
        mode: RetentionMode::NDay,
        start_ms: D1,
        end_ms: END,
        interval: Interval::Day,
        periods: Some(PERIODS),
        count_by: CountBy::User,
        segments: vec![],
        group_by: None,
        property_mode: PropertyMode::Stamped,
        limit: 100,
        time_zone: "UTC".into(),
    };
    let stream = |keep: &dyn Fn(&Gen) -> bool| -> Vec<(i64, bool)> {
        data.iter().enumerate().filter(|(_, g)| keep(g)).map(|(i, (_, t, h, _))| (at(i, *h), *t == 0)).collect()
    };
    let got = |req: &Retention| -> Expected {
        let r = f.rt.block_on(f.engine.retention(f.project.clone(), req.clone())).unwrap();
        let s = &r.series[0];
        let cohorts = s.cohorts.iter().map(|c| (c.start_ms, c.cells.iter().map(|x| x.count).collect())).collect();
        (cohorts, s.combined.iter().map(|c| c.count).collect())
    };
    let users: Vec<Vec<(i64, bool)>> = (0..4).map(|u| stream(&|g| g.0 == u)).collect();
    assert_eq!(got(&req), reference(&users), "by user");
    let groups: Vec<Vec<(i64, bool)>> = ["A", "B"].iter().map(|o| stream(&|g| orgs(g.3).contains(o))).collect();
    let by_org = Retention { count_by: CountBy::Group("org".into()), ..req };
    assert_eq!(got(&by_org), reference(&groups), "by org");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn retention_matches_the_brute_force_reference(
        data in prop::collection::vec((0..4usize, 0..3usize, -24..192i64, 0..4usize), 1..30),
    ) {
        check(&data);
    }
}
