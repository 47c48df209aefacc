//! Funnels by users and by groups on a hand-built dataset, the expected numbers worked out by hand.
//!
//! Steps `signup → invite → pay`; range D1 .. D1+7d (UTC); window 30 days unless a test says otherwise.
//!
//! | who   | org (user-level) | events                                                           |
//! |-------|------------------|------------------------------------------------------------------|
//! | alice | A                | signup D1+1h                                                     |
//! | bob   | A                | invite D1+2h                                                     |
//! | carol | A                | pay D1+3h                                                        |
//! | dave  | B                | signup D1+1h                                                     |
//! | erin  | B                | invite D1+2d+1h                                                  |
//! | frank |                  | signup D1+10h, invite 500 ms *before* it, pay D1+11h            |
//! | gina  |                  | signup D1+1d, view +1m, invite +2m, pay +3m                      |
//! | hank  |                  | pay D1+2d, signup +1m, invite +2m                                |
//! | ivy   |                  | signup D1+3d with event-level org [C, D], invite +1h with org C  |
//! | olaf  | E                | view D1−10d (before the range), signup D1+4d, invite +1m         |
//!
//! By user (ordered): entrants alice, dave, frank, gina, hank, ivy, olaf = 7; invite: frank, gina, hank, ivy,
//! olaf = 5; pay: frank, gina = 2. By org: A converts through three members; B reaches invite 2 days later;
//! C reaches invite, D only signs up; E reaches invite: [5, 4, 1].

use herd_model::funnel::*;
use herd_model::report::*;
use serde_json::json;

use crate::support::*;

fn dataset() -> Fixture {
    let none = || json!({});
    Fixture::new(vec![
        member("alice", "A", json!({"plan": "pro"})),
        member("bob", "A", json!({})),
        member("carol", "A", json!({})),
        member("dave", "B", json!({"plan": "free"})),
        member("erin", "B", json!({})),
        member("olaf", "E", json!({})),
        track("olaf", "view", D1 - 10 * DAY, none()),
        track("alice", "signup", D1 + H, none()),
        track("bob", "invite", D1 + 2 * H, none()),
        track("carol", "pay", D1 + 3 * H, none()),
        track("dave", "signup", D1 + H, none()),
        track("erin", "invite", D1 + 2 * DAY + H, none()),
        track("frank", "signup", D1 + 10 * H, none()),
        track("frank", "invite", D1 + 10 * H - 500, none()),
        track("frank", "pay", D1 + 11 * H, none()),
        track("gina", "signup", D1 + DAY, none()),
        track("gina", "view", D1 + DAY + MIN, none()),
        track("gina", "invite", D1 + DAY + 2 * MIN, none()),
        track("gina", "pay", D1 + DAY + 3 * MIN, none()),
        track("hank", "pay", D1 + 2 * DAY, none()),
        track("hank", "signup", D1 + 2 * DAY + MIN, none()),
        track("hank", "invite", D1 + 2 * DAY + 2 * MIN, none()),
        track("ivy", "signup", D1 + 3 * DAY, json!({"org": ["C", "D"]})),
        track("ivy", "invite", D1 + 3 * DAY + H, json!({"org": "C"})),
        track("olaf", "signup", D1 + 4 * DAY, none()),
        track("olaf", "invite", D1 + 4 * DAY + MIN, none()),
    ])
}

fn funnel(count_by: CountBy) -> Funnel {
    Funnel {
        steps: vec![step("signup"), step("invite"), step("pay")],
        mode: FunnelMode::Ordered,
        window_ms: DEFAULT_WINDOW_MS,
        entrants: Entrants::Active,
        start_ms: D1,
        end_ms: D1 + 7 * DAY,
        interval: Interval::Day,
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

impl Fixture {
    fn funnel(&self, req: &Funnel) -> FunnelResult {
        self.rt.block_on(self.engine.funnel(self.project.clone(), req.clone())).unwrap()
    }

    fn counts(&self, req: &Funnel) -> Vec<u64> {
        let r = self.funnel(req);
        assert_eq!(r.series.len(), 1, "{r:?}");
        r.series[0].counts.clone()
    }
}

#[test]
fn by_user_and_by_group_members_complete_steps_together() {
    let f = dataset();
    assert_eq!(f.counts(&funnel(CountBy::User)), [7, 5, 2]);
    assert_eq!(f.counts(&funnel(org())), [5, 4, 1]);
}

#[test]
fn members_converting_outside_the_window_do_not_count() {
    let f = dataset();
    let mut req = funnel(org());
    req.window_ms = DAY;
    // Org B's invite came two days after its signup.
    assert_eq!(f.counts(&req), [5, 3, 1]);
    req.count_by = CountBy::User;
    req.window_ms = 2 * MIN;
    // Within two minutes: frank (simultaneous), gina (2 min), hank, olaf; ivy's invite took an hour; gina's pay
    // came 3 minutes after her signup.
    assert_eq!(f.counts(&req), [7, 4, 0]);
}

#[test]
fn modes_ordered_sequential_unordered() {
    let f = dataset();
    let mut req = funnel(CountBy::User);
    req.mode = FunnelMode::Sequential;
    // gina viewed between signup and invite; frank's simultaneous invite still counts; hank and olaf are
    // adjacent; ivy too.
    assert_eq!(f.counts(&req), [7, 4, 1]);
    req.mode = FunnelMode::Unordered;
    // hank paid before signing up: in any order that is a full conversion.
    assert_eq!(f.counts(&req), [7, 5, 3]);
}

#[test]
fn transition_times_and_day_funnels() {
    let f = dataset();
    let r = f.funnel(&funnel(CountBy::User));
    let s = &r.series[0];
    // invite after signup: frank 0 (simultaneous), gina 2m, hank 1m, ivy 1h, olaf 1m.
    // pay after invite: frank 1h, gina 1m. Whole funnel (entry to pay): frank 1h, gina 3m.
    assert_eq!(s.median_ms, [(H + 3 * MIN) / 2, MIN, (H + MIN) / 2]);
    assert_eq!(s.average_ms, [(H + 3 * MIN) / 2, 64 * MIN / 5, (H + MIN) / 2]);
    assert_eq!(r.x_values.len(), 7);
    // Entry days: D1 alice, dave, frank; D1+1 gina; D1+2 hank; D1+3 ivy; D1+4 olaf.
    assert_eq!(s.by_bucket[0], [3, 1, 1]);
    assert_eq!(s.by_bucket[1], [1, 1, 1]);
    assert_eq!(s.by_bucket[4], [1, 1, 0]);
    assert_eq!(s.by_bucket[6], [0, 0, 0]);
    assert_eq!(s.step_by_step(), [1.0, 5.0 / 7.0, 2.0 / 5.0]);
    assert_eq!(s.cumulative(), [1.0, 5.0 / 7.0, 2.0 / 7.0]);
}

#[test]
fn new_entrants_exclude_units_seen_before_the_range() {
    let f = dataset();
    let mut req = funnel(org());
    req.entrants = Entrants::New;
    // Org E's first event was olaf's view before the range.
    assert_eq!(f.counts(&req), [4, 3, 1]);
    req.count_by = CountBy::User;
    assert_eq!(f.counts(&req), [6, 4, 2]);
}

#[test]
fn group_by_and_segments_apply_at_entry() {
    let f = dataset();
    let mut req = funnel(CountBy::User);
    req.group_by = Some(PropertyRef { source: PropertySource::User, key: "plan".into() });
    let r = f.funnel(&req);
    let lines: Vec<(Option<String>, Vec<u64>)> = r.series.iter().map(|s| (s.label.clone(), s.counts.clone())).collect();
    let l = |s: &str, c: [u64; 3]| (Some(s.to_owned()), c.to_vec());
    assert_eq!(lines, [l("(none)", [5, 5, 2]), l("free", [1, 0, 0]), l("pro", [1, 0, 0])]);
    // A segment decides who enters: by org, only orgs entering through a member on plan "free".
    let mut req = funnel(org());
    req.segments = vec![vec![], vec![is(PropertyRef { source: PropertySource::User, key: "plan".into() }, "free")]];
    let r = f.funnel(&req);
    let counts: Vec<(usize, Vec<u64>)> = r.series.iter().map(|s| (s.segment_index, s.counts.clone())).collect();
    // Org B entered through dave (free) and still converts through erin, who has no plan.
    assert_eq!(counts, [(0, vec![5, 4, 1]), (1, vec![1, 1, 0])]);
}

#[test]
fn step_filters_and_an_empty_funnel() {
    let f = dataset();
    let mut req = funnel(CountBy::User);
    req.steps[0].filters = vec![is(PropertyRef { source: PropertySource::Builtin, key: "user_id".into() }, "gina")];
    assert_eq!(f.counts(&req), [1, 1, 1]);
    req.start_ms = D1 + 30 * DAY;
    req.end_ms = D1 + 31 * DAY;
    assert_eq!(f.counts(&req), [0, 0, 0]);
    req.steps.truncate(1);
    let err = f.rt.block_on(f.engine.funnel(f.project.clone(), req)).unwrap_err();
    assert!(err.to_string().contains("at least two steps"), "{err}");
}
