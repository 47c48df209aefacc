//! `herd_funnel(ts, seq, mask, label)`: one unit's best attempt at a funnel (see [`super::funnel_steps`]) as
//! `{entry_ts, label, times}`, where `times[k]` is when step `k` was reached; NULL when the unit never entered.

use herd_model::funnel::FunnelMode;

use super::funnel_steps::{FunnelSpec, StepEvent};
use super::stream::{StreamUdaf, UnitEvaluator, UnitResult};

/// The SQL name.
pub(crate) const NAME: &str = "herd_funnel";

impl UnitEvaluator for FunnelSpec {
    fn name(&self) -> &'static str {
        NAME
    }

    fn evaluate(&self, events: &mut [StepEvent]) -> Option<UnitResult> {
        FunnelSpec::evaluate(self, events).map(|a| UnitResult {
            entry_ts: a.entry_ts,
            label: a.label,
            times: a.reached,
        })
    }
}

/// The function for one funnel's mode, step count and window.
pub(crate) fn udaf(mode: FunnelMode, steps: usize, window_ms: i64) -> datafusion::logical_expr::AggregateUDF {
    datafusion::logical_expr::AggregateUDF::new_from_impl(StreamUdaf::new(FunnelSpec { mode, steps, window_ms }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregates::funnel_steps::IN_RANGE;
    use crate::aggregates::stream::tests::both_ways;

    /// A small deterministic generator, so the case list is reproducible without a dependency.
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn row_and_groups_accumulators_agree() {
        let labels = ["a", "b", "c"];
        for mode in [FunnelMode::Ordered, FunnelMode::Sequential, FunnelMode::Unordered] {
            let mut seed = 7;
            let mut rows = Vec::new();
            for _ in 0..400 {
                let group = (lcg(&mut seed) % 23) as usize;
                let ts = (lcg(&mut seed) % 50) as i64 * 700;
                let mut mask = (lcg(&mut seed) % 8) as i64;
                if !lcg(&mut seed).is_multiple_of(5) {
                    mask |= IN_RANGE as i64;
                }
                rows.push((group, ts, lcg(&mut seed) as i64, mask, labels[(lcg(&mut seed) % 3) as usize]));
            }
            let (by_row, by_groups) = both_ways(FunnelSpec { mode, steps: 3, window_ms: 9_000 }, &rows, 23);
            assert_eq!(by_row, by_groups, "{mode:?}");
            assert!(by_row.iter().any(|v| !v.is_null()), "some unit entered");
        }
    }
}
