//! How far one unit gets through a funnel, given its events in time order: the pure evaluation behind
//! `herd_funnel`, independent of DataFusion so that it can be tested by hand.
//!
//! Every event carries a mask: bit `k` set when it qualifies as step `k` (its type and the step's filters),
//! [`IN_RANGE`] set when it may be an entry (it falls in the chart's range). A unit's answer is its best attempt:
//! the most steps any entry reaches, and of the entries that reach that many, the earliest.

use herd_model::funnel::{FunnelMode, SIMULTANEOUS_MS};

/// The mask bit of events that may enter the funnel.
pub(crate) const IN_RANGE: u64 = 1 << 62;

/// One event of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StepEvent {
    pub ts: i64,
    /// Ingestion order, to order events with equal times.
    pub seq: i64,
    pub mask: u64,
    /// The event's group-by value, as an index into the caller's label table.
    pub label: u32,
}

/// A unit's best attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    /// Time of the entry event.
    pub entry_ts: i64,
    /// Label of the entry event.
    pub label: u32,
    /// `reached[k]`: when step `k` was reached (never earlier than `reached[k - 1]`); as many as steps reached.
    pub reached: Vec<i64>,
}

/// Chains a sequential search may try from one entry before it settles for the best found: bursts of many
/// simultaneous events could otherwise make the search exponential.
const SEARCH_BUDGET: usize = 10_000;

/// The depth-first search of sequential funnels.
struct Search<'a> {
    events: &'a [StepEvent],
    spec: &'a FunnelSpec,
    t0: i64,
    budget: usize,
}

impl Search<'_> {
    fn extend(&mut self, chain: &mut Vec<usize>, latest: i64, best: &mut Vec<usize>) {
        if chain.len() > best.len() {
            best.clone_from(chain);
        }
        if chain.len() == self.spec.steps || self.budget == 0 {
            return;
        }
        let bit = 1u64 << chain.len();
        let from = self.events.partition_point(|e| e.ts < latest - SIMULTANEOUS_MS);
        // The first event left out that is not simultaneous with the previous step: it is between that step and
        // any candidate more than a second after it.
        let mut other: Option<i64> = None;
        for j in from..self.events.len() {
            let e = self.events[j];
            if e.ts - self.t0 > self.spec.window_ms || other.is_some_and(|o| e.ts > o + SIMULTANEOUS_MS) {
                break;
            }
            if chain.contains(&j) {
                continue;
            }
            if e.mask & bit != 0 {
                self.budget = self.budget.saturating_sub(1);
                chain.push(j);
                self.extend(chain, latest.max(e.ts), best);
                chain.pop();
                if best.len() == self.spec.steps || self.budget == 0 {
                    return;
                }
            }
            if e.ts > latest + SIMULTANEOUS_MS && other.is_none() {
                other = Some(e.ts);
            }
        }
    }
}

/// The evaluation's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FunnelSpec {
    pub mode: FunnelMode,
    pub steps: usize,
    pub window_ms: i64,
}

impl FunnelSpec {
    /// The best attempt over `events` (sorted here), or `None` when no event may enter.
    pub(crate) fn evaluate(&self, events: &mut [StepEvent]) -> Option<Attempt> {
        events.sort_unstable_by_key(|e| (e.ts, e.seq));
        let mut best: Option<Attempt> = None;
        for (i, e) in events.iter().enumerate() {
            let may_enter = e.mask & IN_RANGE != 0
                && match self.mode {
                    FunnelMode::Unordered => e.mask & self.step_bits() != 0,
                    _ => e.mask & 1 != 0,
                };
            if !may_enter {
                continue;
            }
            let attempt = match self.mode {
                FunnelMode::Ordered => self.ordered(events, i),
                FunnelMode::Sequential => self.sequential(events, i),
                FunnelMode::Unordered => match self.unordered(events, i) {
                    Some(a) => a,
                    None => continue,
                },
            };
            let better = best.as_ref().is_none_or(|b| attempt.reached.len() > b.reached.len());
            if better {
                let done = attempt.reached.len() == self.steps;
                best = Some(attempt);
                if done {
                    break;
                }
            }
        }
        best
    }

    fn step_bits(&self) -> u64 {
        if self.steps >= 62 { IN_RANGE - 1 } else { (1u64 << self.steps) - 1 }
    }

    /// Greedy: each next step takes the earliest unused event that qualifies, is no more than a second before
    /// any step taken so far, and is within the window of the entry. Taking the earliest keeps every later
    /// choice open, so the greedy attempt from an entry reaches as far as any attempt from it.
    fn ordered(&self, events: &[StepEvent], entry: usize) -> Attempt {
        let t0 = events[entry].ts;
        let mut used = vec![entry];
        let mut reached = vec![t0];
        let mut latest = t0;
        // Events are sorted, so candidates start at the first event no more than a second before `latest`.
        let mut from = events.partition_point(|e| e.ts < latest - SIMULTANEOUS_MS);
        for k in 1..self.steps {
            let bit = 1u64 << k;
            let found = events[from..]
                .iter()
                .enumerate()
                .take_while(|(_, e)| e.ts - t0 <= self.window_ms)
                .find(|(j, e)| e.mask & bit != 0 && !used.contains(&(from + j)))
                .map(|(j, e)| (from + j, e.ts));
            let Some((j, ts)) = found else { break };
            used.push(j);
            latest = latest.max(ts);
            reached.push(latest);
            from = events.partition_point(|e| e.ts < latest - SIMULTANEOUS_MS);
        }
        Attempt { entry_ts: t0, label: events[entry].label, reached }
    }

    /// Each next step must be the unit's next event, except that events within a second of the step before or of
    /// the step taken are simultaneous and so not "between" them (Amplitude's 1-second rule). Unlike ordered
    /// funnels, the earliest candidate is not always best (a candidate left out is an event between), so the few
    /// candidates a step has are searched depth first.
    fn sequential(&self, events: &[StepEvent], entry: usize) -> Attempt {
        let mut best = vec![entry];
        let mut search = Search { events, spec: self, t0: events[entry].ts, budget: SEARCH_BUDGET };
        search.extend(&mut vec![entry], events[entry].ts, &mut best);
        let mut latest = i64::MIN;
        let reached = best
            .iter()
            .map(|j| {
                latest = latest.max(events[*j].ts);
                latest
            })
            .collect();
        Attempt { entry_ts: events[entry].ts, label: events[entry].label, reached }
    }

    /// Steps in any order: the events from `start` within the window; step `k` is reached when steps `0..=k`
    /// have all occurred. `None` when the start event is not one the attempt uses (a later start gives the same
    /// attempt), so that every attempt is counted from its own first event.
    fn unordered(&self, events: &[StepEvent], start: usize) -> Option<Attempt> {
        let t0 = events[start].ts;
        let mut first: Vec<Option<(usize, i64)>> = vec![None; self.steps];
        let mut missing = self.steps;
        for (j, e) in events[start..].iter().enumerate() {
            if e.ts - t0 > self.window_ms || missing == 0 {
                break;
            }
            for (k, slot) in first.iter_mut().enumerate() {
                if slot.is_none() && e.mask & (1u64 << k) != 0 {
                    *slot = Some((start + j, e.ts));
                    missing -= 1;
                }
            }
        }
        let prefix: Vec<(usize, i64)> = first.iter().map_while(|s| *s).collect();
        // The attempt must use its start event, and its first step must be in the range (an entry).
        if !prefix.iter().any(|(j, _)| *j == start)
            || prefix.first().is_none_or(|(j, _)| events[*j].mask & IN_RANGE == 0)
        {
            return None;
        }
        let mut latest = i64::MIN;
        let reached = prefix.iter().map(|(_, ts)| {
            latest = latest.max(*ts);
            latest
        });
        let reached: Vec<i64> = reached.collect();
        let label = prefix.first().map(|(j, _)| events[*j].label)?;
        Some(Attempt { entry_ts: t0, label, reached })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    fn ev(ts: i64, steps: &[usize]) -> StepEvent {
        let mask = steps.iter().fold(IN_RANGE, |m, k| m | (1 << k));
        StepEvent { ts, seq: ts, mask, label: 0 }
    }

    fn spec(mode: FunnelMode, steps: usize, window_ms: i64) -> FunnelSpec {
        FunnelSpec { mode, steps, window_ms }
    }

    fn reached(mode: FunnelMode, window: i64, events: &[StepEvent]) -> Vec<i64> {
        let mut events = events.to_vec();
        spec(mode, 3, window).evaluate(&mut events).map(|a| a.reached).unwrap_or_default()
    }

    #[test]
    fn ordered_takes_the_best_entry_and_allows_other_events_between() {
        let events = [ev(0, &[0]), ev(10 * S, &[]), ev(20 * S, &[1]), ev(200 * S, &[0]), ev(210 * S, &[2])];
        // From the first entry, step 3 at 210 s is outside a 100 s window; no later entry does better.
        assert_eq!(reached(FunnelMode::Ordered, 100 * S, &events), vec![0, 20 * S]);
        assert_eq!(reached(FunnelMode::Ordered, 300 * S, &events), vec![0, 20 * S, 210 * S]);
    }

    #[test]
    fn a_later_entry_converts_when_the_first_does_not() {
        let events = [ev(0, &[0]), ev(500 * S, &[0]), ev(510 * S, &[1]), ev(520 * S, &[2])];
        let mut e = events.to_vec();
        let a = spec(FunnelMode::Ordered, 3, 100 * S).evaluate(&mut e).expect("entered");
        assert_eq!((a.entry_ts, a.reached), (500 * S, vec![500 * S, 510 * S, 520 * S]));
    }

    #[test]
    fn simultaneous_events_count_in_either_order() {
        // Step 2 logged 400 ms before step 1: within a second, so still a conversion.
        let events = [ev(10 * S, &[0]), ev(20 * S + 600, &[2]), ev(21 * S, &[1])];
        assert_eq!(reached(FunnelMode::Ordered, 100 * S, &events), vec![10 * S, 21 * S, 21 * S]);
        // 1.5 s before is not simultaneous.
        let events = [ev(10 * S, &[0]), ev(19 * S + 500, &[2]), ev(21 * S, &[1])];
        assert_eq!(reached(FunnelMode::Ordered, 100 * S, &events), vec![10 * S, 21 * S]);
    }

    #[test]
    fn one_event_is_not_two_steps() {
        let steps = [ev(0, &[0, 1]), ev(5 * S, &[0, 1, 2])];
        assert_eq!(reached(FunnelMode::Ordered, 100 * S, &steps), vec![0, 5 * S]);
    }

    #[test]
    fn sequential_needs_adjacent_events() {
        let events = [ev(0, &[0]), ev(10 * S, &[]), ev(20 * S, &[1]), ev(30 * S, &[2])];
        assert_eq!(reached(FunnelMode::Sequential, 100 * S, &events), vec![0]);
        let events = [ev(0, &[0]), ev(20 * S, &[1]), ev(30 * S, &[2]), ev(40 * S, &[])];
        assert_eq!(reached(FunnelMode::Sequential, 100 * S, &events), vec![0, 20 * S, 30 * S]);
        // A repeated first step is another event too.
        let events = [ev(0, &[0]), ev(10 * S, &[0]), ev(20 * S, &[1])];
        assert_eq!(reached(FunnelMode::Sequential, 100 * S, &events), vec![10 * S, 20 * S]);
    }

    #[test]
    fn sequential_tries_each_candidate() {
        // Steps [a, a, b]: taking the simultaneous earlier `a` as step 2 would leave the later `a` between step 2
        // and `b`; taking the later one converts.
        let a = |ts| ev(ts, &[0, 1]);
        let events = [a(3200), a(4000), a(6000), ev(7200, &[2])];
        let mut e = events.to_vec();
        let attempt = spec(FunnelMode::Sequential, 3, 3200).evaluate(&mut e).expect("entered");
        assert_eq!((attempt.entry_ts, attempt.reached), (4000, vec![4000, 6000, 7200]));
    }

    #[test]
    fn sequential_ignores_events_simultaneous_with_a_step() {
        // Another event 500 ms after step 1, and one 300 ms before step 3: neither is between.
        let events = [ev(0, &[0]), ev(500, &[]), ev(20 * S, &[1]), ev(30 * S - 300, &[]), ev(30 * S, &[2])];
        assert_eq!(reached(FunnelMode::Sequential, 100 * S, &events), vec![0, 20 * S, 30 * S]);
        // Step 2 logged just before step 1.
        let events = [ev(10 * S - 500, &[1]), ev(10 * S, &[0]), ev(11 * S + 500, &[2])];
        assert_eq!(reached(FunnelMode::Sequential, 100 * S, &events), vec![10 * S, 10 * S, 11 * S + 500]);
    }

    #[test]
    fn unordered_counts_steps_in_any_order_within_the_window() {
        let events = [ev(0, &[2]), ev(10 * S, &[0]), ev(20 * S, &[1])];
        assert_eq!(reached(FunnelMode::Unordered, 100 * S, &events), vec![10 * S, 20 * S, 20 * S]);
        assert_eq!(reached(FunnelMode::Ordered, 100 * S, &events), vec![10 * S, 20 * S]);
        // Step 2 (index 1) missing: only the first step is reached, even though step 3 happened.
        let events = [ev(0, &[2]), ev(10 * S, &[0])];
        assert_eq!(reached(FunnelMode::Unordered, 100 * S, &events), vec![10 * S]);
    }

    #[test]
    fn events_out_of_range_do_not_enter_but_may_convert() {
        let mut late = ev(0, &[0]);
        late.mask &= !IN_RANGE;
        let events = [late, ev(10 * S, &[1])];
        assert_eq!(reached(FunnelMode::Ordered, 100 * S, &events), Vec::<i64>::new());
        let mut after = ev(10 * S, &[1]);
        after.mask &= !IN_RANGE;
        let events = [ev(0, &[0]), after];
        assert_eq!(reached(FunnelMode::Ordered, 100 * S, &events), vec![0, 10 * S]);
    }
}
