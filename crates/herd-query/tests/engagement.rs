//! Stickiness and lifecycle by users and by groups, worked out by hand.

use herd_model::engagement::*;
use herd_model::report::*;
use serde_json::json;

use crate::support::*;

fn play(user: &str, time: i64) -> herd_model::Command {
    track(user, "play", time, json!({}))
}

fn org() -> CountBy {
    CountBy::Group("org".into())
}

/// Weeks start on Sunday: week 1 is Jan 4–10 (D1 is Monday Jan 5), week 2 Jan 11–17.
/// alice (org A) plays D1, D1+1d twice, D1+3d, D1+7d; bob (org A) D1+1d; carol (org B) D1+8d, D1+9d.
#[test]
fn stickiness_counts_each_unit_and_week_by_its_days() {
    let f = Fixture::new(vec![
        member("alice", "A", json!({})),
        member("bob", "A", json!({})),
        member("carol", "B", json!({})),
        play("alice", D1),
        play("alice", D1 + DAY),
        play("alice", D1 + DAY + H),
        play("bob", D1 + DAY),
        play("alice", D1 + 3 * DAY),
        play("alice", D1 + 7 * DAY),
        play("carol", D1 + 8 * DAY),
        play("carol", D1 + 9 * DAY),
    ]);
    let mut req = Stickiness {
        event: step("play"),
        start_ms: D1 - DAY,
        end_ms: D1 + 13 * DAY,
        interval: Interval::Week,
        count_by: CountBy::User,
        segments: vec![],
        property_mode: PropertyMode::Stamped,
        time_zone: "UTC".into(),
    };
    let run = |req: &Stickiness| f.rt.block_on(f.engine.stickiness(f.project.clone(), req.clone())).unwrap().series;
    // (alice, w1) 3 days, (alice, w2) 1, (bob, w1) 1, (carol, w2) 2.
    let s = &run(&req)[0];
    assert_eq!((s.total, s.exactly.clone()), (4, vec![2, 1, 1, 0, 0, 0, 0]));
    assert_eq!(s.at_least, [4, 2, 1, 0, 0, 0, 0]);
    // Org A: week 1 on 3 days (alice's and bob's days together), week 2 on 1; org B week 2 on 2.
    req.count_by = org();
    let s = &run(&req)[0];
    assert_eq!((s.total, s.exactly.clone()), (3, vec![1, 1, 1, 0, 0, 0, 0]));
    req.interval = Interval::Day;
    assert!(f.rt.block_on(f.engine.stickiness(f.project.clone(), req)).is_err());
}

/// Daily, D1 .. D1+4d. olaf (org A) plays D1−1d and D1; alice (org A) plays D1, D1+1d, D1+3d; bob (org A) plays
/// D1+1d; carol (org B) first views on D1 and plays on D1+1d.
#[test]
fn lifecycle_new_current_resurrected_dormant() {
    let f = Fixture::new(vec![
        member("olaf", "A", json!({})),
        member("alice", "A", json!({})),
        member("bob", "A", json!({})),
        member("carol", "B", json!({})),
        play("olaf", D1 - DAY),
        play("olaf", D1),
        play("alice", D1),
        track("carol", "view", D1 + H, json!({})),
        play("alice", D1 + DAY),
        play("bob", D1 + DAY),
        play("carol", D1 + DAY),
        play("alice", D1 + 3 * DAY),
    ]);
    let mut req = Lifecycle {
        event: step("play"),
        start_ms: D1,
        end_ms: D1 + 4 * DAY,
        interval: Interval::Day,
        count_by: CountBy::User,
        segments: vec![],
        property_mode: PropertyMode::Stamped,
        time_zone: "UTC".into(),
    };
    let run = |req: &Lifecycle| {
        let r = f.rt.block_on(f.engine.lifecycle(f.project.clone(), req.clone())).unwrap();
        assert_eq!(r.x_values, (0..4).map(|i| D1 + i * DAY).collect::<Vec<_>>());
        let s = r.series[0].clone();
        (s.new, s.current, s.resurrected, s.dormant)
    };
    // carol was new on D1 but played first on D1+1: resurrected, as Amplitude counts her.
    assert_eq!(run(&req), (vec![1, 1, 0, 0], vec![1, 1, 0, 0], vec![0, 1, 0, 1], vec![0, 1, 3, 0]));
    req.count_by = org();
    // Org A was seen before the range (olaf): current, current, dormant, resurrected. Org B as carol.
    assert_eq!(run(&req), (vec![0, 0, 0, 0], vec![1, 1, 0, 0], vec![0, 1, 0, 1], vec![0, 0, 2, 0]));
}
