//! Funnels against a brute-force reference: on random small datasets (ties, events just outside the range or the
//! window, array-valued groups, steps that share an event type), the steps' counts by user and by group equal
//! those of an exhaustive search over every chain of distinct events.

use herd_model::funnel::*;
use herd_model::report::*;
use proptest::prelude::*;
use serde_json::json;

use crate::support::*;

/// One generated event: user index, type index, time offset from `D1` in units of 400 ms, org choice.
type Gen = (usize, usize, i64, usize);

const TYPES: [&str; 4] = ["a", "b", "c", "x"];
const TICK: i64 = 400;
const START: i64 = D1 + 5 * TICK;
const END: i64 = D1 + 25 * TICK;

fn orgs(choice: usize) -> Vec<&'static str> {
    match choice {
        0 => vec![],
        1 => vec!["A"],
        2 => vec!["B"],
        _ => vec!["A", "B"],
    }
}

#[derive(Debug, Clone, Copy)]
struct Ev {
    ts: i64,
    kind: usize,
}

/// The most steps any chain of distinct events reaches, by Herd's documented rules.
fn reference(events: &[Ev], steps: &[usize], mode: FunnelMode, window: i64) -> usize {
    let events: Vec<Ev> = events.iter().copied().filter(|e| e.ts >= START && e.ts < END + window).collect();
    let matches = |e: &Ev, k: usize| e.kind == steps[k];
    let in_range = |e: &Ev| e.ts < END;
    let mut best = 0;
    match mode {
        FunnelMode::Unordered => {
            // Steps 0..k each matched by some event (one event may match several), all within the window, the
            // first step's event in the range.
            for k in 1..=steps.len() {
                for lo in &events {
                    let inside: Vec<&Ev> = events.iter().filter(|e| e.ts >= lo.ts && e.ts - lo.ts <= window).collect();
                    let all = (0..k).all(|j| inside.iter().any(|e| matches(e, j)));
                    let entry = inside.iter().any(|e| matches(e, 0) && in_range(e));
                    if all && entry {
                        best = best.max(k);
                    }
                }
            }
        }
        _ => {
            fn extend(
                chain: &mut Vec<usize>,
                events: &[Ev],
                ok: &dyn Fn(&[usize], usize) -> bool,
                steps: usize,
                best: &mut usize,
            ) {
                *best = (*best).max(chain.len());
                if chain.len() == steps {
                    return;
                }
                for j in 0..events.len() {
                    if !chain.contains(&j) && ok(chain, j) {
                        chain.push(j);
                        extend(chain, events, ok, steps, best);
                        chain.pop();
                    }
                }
            }
            let ok = |chain: &[usize], j: usize| {
                let e = &events[j];
                let k = chain.len();
                if !matches(e, k) {
                    return false;
                }
                if k == 0 {
                    return in_range(e);
                }
                let t0 = events[chain[0]].ts;
                let latest = chain.iter().map(|i| events[*i].ts).max().expect("not empty");
                if e.ts < latest - SIMULTANEOUS_MS || e.ts - t0 > window {
                    return false;
                }
                // Sequential: no other event strictly between, beyond a second of either step.
                mode != FunnelMode::Sequential
                    || !events.iter().enumerate().any(|(x, o)| {
                        x != j
                            && !chain.contains(&x)
                            && o.ts > latest + SIMULTANEOUS_MS
                            && o.ts < e.ts - SIMULTANEOUS_MS
                    })
            };
            extend(&mut Vec::new(), &events, &ok, steps.len(), &mut best);
        }
    }
    best
}

fn counts_of(levels: impl Iterator<Item = usize>, steps: usize) -> Vec<u64> {
    let levels: Vec<usize> = levels.collect();
    (1..=steps).map(|k| levels.iter().filter(|l| **l >= k).count() as u64).collect()
}

fn check(data: &[Gen], steps: &[usize], window: i64) {
    let commands = data
        .iter()
        .map(|(u, t, at, o)| track(&format!("u{u}"), TYPES[*t], D1 + at * TICK, json!({ "org": orgs(*o) })))
        .collect();
    let f = Fixture::new(commands);
    for mode in [FunnelMode::Ordered, FunnelMode::Sequential, FunnelMode::Unordered] {
        let req = Funnel {
            steps: steps.iter().map(|k| step(TYPES[*k])).collect(),
            mode,
            window_ms: window,
            entrants: Entrants::Active,
            start_ms: START,
            end_ms: END,
            interval: Interval::Day,
            count_by: CountBy::User,
            segments: vec![],
            group_by: None,
            property_mode: PropertyMode::Stamped,
            limit: 100,
            time_zone: "UTC".into(),
        };
        let effective = req.effective_window_ms();
        let unit_events = |keep: &dyn Fn(&Gen) -> bool| -> Vec<Ev> {
            data.iter().filter(|g| keep(g)).map(|(_, t, at, _)| Ev { ts: D1 + at * TICK, kind: *t }).collect()
        };
        let users = (0..4).map(|u| reference(&unit_events(&|g| g.0 == u), steps, mode, effective));
        let expected = counts_of(users, steps.len());
        let got = f.rt.block_on(f.engine.funnel(f.project.clone(), req.clone())).unwrap();
        assert_eq!(got.series[0].counts, expected, "by user, {mode:?}");

        let by_org = Funnel { count_by: CountBy::Group("org".into()), ..req };
        let groups =
            ["A", "B"].map(|org| reference(&unit_events(&|g| orgs(g.3).contains(&org)), steps, mode, effective));
        let expected = counts_of(groups.into_iter(), steps.len());
        let got = f.rt.block_on(f.engine.funnel(f.project.clone(), by_org)).unwrap();
        assert_eq!(got.series[0].counts, expected, "by org, {mode:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn funnel_counts_match_the_brute_force_reference(
        data in prop::collection::vec((0..4usize, 0..4usize, 0..40i64, 0..4usize), 1..24),
        steps in prop::sample::select(vec![vec![0, 1, 2], vec![0, 1], vec![0, 0, 1], vec![0, 1, 0], vec![2, 1, 0]]),
        window_ticks in 2..20i64,
    ) {
        check(&data, &steps, window_ticks * TICK);
    }
}

#[test]
fn sequential_repeated_step_case() {
    check(&[(0, 0, 10, 2), (0, 0, 15, 2), (0, 0, 8, 2), (0, 1, 18, 0)], &[0, 0, 1], 8 * TICK);
}
