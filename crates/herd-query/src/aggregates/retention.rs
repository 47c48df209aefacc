//! `herd_retention(ts, seq, mask, label)`: one unit's cohorts and returns. Mask bit 0 marks start events, bit 1
//! return events, [`IN_RANGE`] events that may start. The answer's `times` are triples `(cohort bucket start,
//! anchor time, returned periods as a bit mask)`, one per cohort bucket the unit started in, earliest first;
//! `entry_ts` is the first anchor and `label` the first anchor's label. NULL when the unit never started.

use herd_model::report::Interval;

use super::IN_RANGE;
use super::funnel_steps::StepEvent;
use super::stream::{StreamUdaf, UnitEvaluator, UnitResult};
use crate::buckets::{Zone, bucket_start};

/// The SQL name.
pub(crate) const NAME: &str = "herd_retention";

const START: u64 = 1;
const RETURN: u64 = 2;
const HOUR_MS: i64 = 3_600_000;

/// Amplitude rounds event times down to the hour before it measures periods.
pub(crate) fn floor_hour(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// The evaluation's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RetentionSpec {
    /// Cohort buckets.
    pub zone: Zone,
    pub interval: Interval,
    pub period_ms: i64,
    /// Periods after period 0.
    pub periods: usize,
    /// The start is the unit's first event ever (`_new`), which must then be a start event in the range.
    pub first_event_starts: bool,
}

impl RetentionSpec {
    /// The bit mask of periods (0..=periods) in which the unit did a return event after `anchor`.
    fn returns(&self, events: &[StepEvent], anchor: usize) -> u64 {
        let a = events[anchor];
        let a_hour = floor_hour(a.ts);
        let horizon = a_hour + (self.periods as i64 + 1) * self.period_ms;
        let mut mask = 0u64;
        for (j, e) in events.iter().enumerate().skip(anchor) {
            if e.ts >= horizon {
                break;
            }
            if j == anchor || e.mask & RETURN == 0 {
                continue;
            }
            let n = (floor_hour(e.ts) - a_hour) / self.period_ms;
            mask |= 1u64 << n;
        }
        mask
    }
}

impl UnitEvaluator for RetentionSpec {
    fn name(&self) -> &'static str {
        NAME
    }

    fn evaluate(&self, events: &mut [StepEvent]) -> Option<UnitResult> {
        events.sort_unstable_by_key(|e| (e.ts, e.seq));
        let starts = |e: &StepEvent| e.mask & START != 0 && e.mask & IN_RANGE != 0;
        let mut anchors: Vec<(i64, usize)> = Vec::new();
        if self.first_event_starts {
            if events.first().is_some_and(starts) {
                anchors.push((bucket_start(events[0].ts, self.interval, self.zone), 0));
            }
        } else {
            for (i, e) in events.iter().enumerate() {
                if starts(e) {
                    let bucket = bucket_start(e.ts, self.interval, self.zone);
                    if anchors.last().is_none_or(|(b, _)| *b != bucket) {
                        anchors.push((bucket, i));
                    }
                }
            }
        }
        let (_, first) = *anchors.first()?;
        let times = anchors.iter().flat_map(|(bucket, i)| [*bucket, events[*i].ts, self.returns(events, *i) as i64]);
        Some(UnitResult { entry_ts: events[first].ts, label: events[first].label, times: times.collect() })
    }
}

/// The function for one chart's buckets and periods.
pub(crate) fn udaf(spec: RetentionSpec) -> datafusion::logical_expr::AggregateUDF {
    datafusion::logical_expr::AggregateUDF::new_from_impl(StreamUdaf::new(spec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregates::stream::tests::both_ways;

    const DAY: i64 = 86_400_000;

    fn spec(first_event_starts: bool) -> RetentionSpec {
        RetentionSpec {
            zone: Zone::parse("UTC").unwrap(),
            interval: Interval::Day,
            period_ms: DAY,
            periods: 7,
            first_event_starts,
        }
    }

    fn ev(ts: i64, mask: u64) -> StepEvent {
        StepEvent { ts, seq: ts, mask, label: 0 }
    }

    #[test]
    fn periods_are_24_hours_from_the_anchor_hour() {
        let base = 20_000 * DAY;
        // Starts at 22:30; returns at 23:10 (period 0), next day 21:00 (still period 0: 22h after 22:00),
        // next day 22:05 (period 1) and 3 days later (period 3).
        let mut events = vec![
            ev(base + 22 * HOUR_MS + 1_800_000, START | IN_RANGE),
            ev(base + 23 * HOUR_MS + 600_000, RETURN),
            ev(base + DAY + 21 * HOUR_MS, RETURN),
            ev(base + DAY + 22 * HOUR_MS + 300_000, RETURN),
            ev(base + 3 * DAY + 22 * HOUR_MS, RETURN),
        ];
        let r = spec(false).evaluate(&mut events).unwrap();
        assert_eq!(r.times, vec![base, base + 22 * HOUR_MS + 1_800_000, 0b1011]);
    }

    #[test]
    fn one_cohort_per_bucket_with_a_start() {
        let base = 20_000 * DAY;
        let mut events = vec![
            ev(base + HOUR_MS, START | IN_RANGE),
            ev(base + 2 * HOUR_MS, START | IN_RANGE),
            ev(base + DAY + HOUR_MS, START | RETURN | IN_RANGE),
            ev(base + 2 * DAY + 5 * HOUR_MS, RETURN),
        ];
        let r = spec(false).evaluate(&mut events).unwrap();
        // Day 1's cohort anchors at 01:00 (returns in periods 1 and 2); day 2's at its own start (period 1).
        assert_eq!(r.times, vec![base, base + HOUR_MS, 0b110, base + DAY, base + DAY + HOUR_MS, 0b10]);
    }

    #[test]
    fn new_units_start_at_their_first_event_only() {
        let base = 20_000 * DAY;
        let mut events = vec![ev(base, RETURN), ev(base + HOUR_MS, START | IN_RANGE)];
        assert!(spec(true).evaluate(&mut events).is_none());
        let mut events = vec![ev(base, START | RETURN | IN_RANGE), ev(base + DAY, START | RETURN | IN_RANGE)];
        assert_eq!(spec(true).evaluate(&mut events).unwrap().times, vec![base, base, 0b10]);
    }

    #[test]
    fn row_and_groups_accumulators_agree() {
        let mut seed = 11u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        let mut rows = Vec::new();
        for _ in 0..500 {
            let group = (next() % 17) as usize;
            let ts = 20_000 * DAY + (next() % 400) as i64 * HOUR_MS / 2;
            let mask = (next() % 4) | if next() % 3 == 0 { 0 } else { IN_RANGE };
            rows.push((group, ts, next() as i64, mask as i64, ["x", "y"][(next() % 2) as usize]));
        }
        for first in [false, true] {
            let (by_row, by_groups) = both_ways(spec(first), &rows, 17);
            assert_eq!(by_row, by_groups);
            assert!(by_row.iter().any(|v| !v.is_null()));
        }
    }
}
