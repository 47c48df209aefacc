//! Retention charts: one `herd_retention` query per segment (one row per unit that started), then per group-by
//! value the cohorts (latest first), their cells for the chart's mode, and the combined row.

use std::collections::{BTreeMap, HashMap};

use datafusion::prelude::SessionContext;
use herd_model::report::{EventSelector, Filter, Interval};
use herd_model::retention::{
    Retention, RetentionCell, RetentionCohort, RetentionMode, RetentionResult, RetentionSeries,
};

use crate::aggregates::retention::{self as herd_retention, RetentionSpec, floor_hour};
use crate::buckets::Zone;
use crate::compile::Scope;
use crate::compile_stream::StreamQuery;
use crate::error::{QueryError, Result};
use crate::funnel::{UnitRow, unit_rows};

fn validate(req: &Retention) -> Result<()> {
    let invalid = |m: String| Err(QueryError::Invalid(m));
    if req.end_ms <= req.start_ms {
        return invalid("the end of the range must be after its start".into());
    }
    if !matches!(req.interval, Interval::Day | Interval::Week | Interval::Month) {
        return invalid("retention is daily, weekly or monthly".into());
    }
    if req.returning.event == EventSelector::New {
        return invalid("`_new` is a start event only; return with `_all`, `_active` or an event".into());
    }
    if req.periods.is_some_and(|p| p == 0 || p > Retention::MAX_PERIODS) {
        return invalid(format!("periods must be 1 to {}", Retention::MAX_PERIODS));
    }
    if let RetentionMode::Bracket(b) = &req.mode {
        if b.is_empty() || b.len() > 100 {
            return invalid("give 1 to 100 brackets, e.g. [[0,5]] for day 0 to day 4".into());
        }
        if let Some((from, to)) = b.iter().find(|(from, to)| from >= to || *to as usize > Retention::MAX_PERIODS + 1) {
            return invalid(format!(
                "bracket [{from},{to}] must be [from, to) with from < to ≤ {}",
                Retention::MAX_PERIODS + 1
            ));
        }
    }
    Ok(())
}

/// One unit in one cohort.
struct Start {
    anchor: i64,
    returned: u64,
}

/// One label's units: by cohort bucket, and each unit's first cohort.
type LabelStarts = (BTreeMap<i64, Vec<Start>>, Vec<Start>);

/// Which periods a cell covers, `[from, to)`.
fn cell_ranges(req: &Retention, periods: usize) -> Vec<(usize, usize)> {
    match &req.mode {
        RetentionMode::NDay => (0..=periods).map(|n| (n, n + 1)).collect(),
        RetentionMode::Rolling => (0..=periods).map(|n| (n, periods + 1)).collect(),
        RetentionMode::Bracket(b) => b.iter().map(|(from, to)| (*from as usize, *to as usize)).collect(),
    }
}

fn retained(req: &Retention, cell: usize, (from, to): (usize, usize), returned: u64) -> bool {
    // Period 0 of n-day and rolling rows is the cohort itself.
    if cell == 0 && !matches!(req.mode, RetentionMode::Bracket(_)) {
        return true;
    }
    (from..to).any(|n| returned & (1u64 << n) != 0)
}

fn cells(
    req: &Retention,
    ranges: &[(usize, usize)],
    starts: &[&Start],
    now_ms: i64,
    combined: bool,
) -> Vec<RetentionCell> {
    let period = req.period_ms();
    ranges
        .iter()
        .enumerate()
        .map(|(i, range)| {
            let (from, to) = *range;
            // "On or after N" keeps growing until today; it is complete once period N has ended.
            let end = if req.mode == RetentionMode::Rolling { from + 1 } else { to };
            // The combined row only counts units whose period has begun.
            let counted: Vec<&&Start> =
                starts.iter().filter(|s| !combined || floor_hour(s.anchor) + from as i64 * period <= now_ms).collect();
            RetentionCell {
                count: counted.iter().filter(|s| retained(req, i, *range, s.returned)).count() as u64,
                outof: counted.len() as u64,
                incomplete: counted.iter().any(|s| floor_hour(s.anchor) + end as i64 * period > now_ms),
            }
        })
        .collect()
}

/// Folds units' cohorts into one series per label.
fn series_of(req: &Retention, rows: &[UnitRow], segment_index: usize, now_ms: i64) -> Vec<RetentionSeries> {
    let periods = req.period_count();
    let ranges = cell_ranges(req, periods);
    let labelled = req.group_by.is_some();
    let mut by_label: BTreeMap<&str, LabelStarts> = BTreeMap::new();
    for r in rows {
        let (cohorts, firsts) = by_label.entry(if labelled { r.label.as_str() } else { "" }).or_default();
        for (k, triple) in r.times.chunks_exact(3).enumerate() {
            let start = Start { anchor: triple[1], returned: triple[2] as u64 };
            if k == 0 {
                firsts.push(Start { anchor: start.anchor, returned: start.returned });
            }
            cohorts.entry(triple[0]).or_default().push(start);
        }
    }
    if by_label.is_empty() && !labelled {
        by_label.insert("", Default::default());
    }
    by_label
        .into_iter()
        .map(|(label, (cohorts, firsts))| RetentionSeries {
            segment_index,
            label: labelled.then(|| label.to_owned()),
            cohorts: cohorts
                .iter()
                .rev()
                .map(|(bucket, starts)| RetentionCohort {
                    start_ms: *bucket,
                    cells: cells(req, &ranges, &starts.iter().collect::<Vec<_>>(), now_ms, false),
                })
                .collect(),
            combined: cells(req, &ranges, &firsts.iter().collect::<Vec<_>>(), now_ms, true),
        })
        .collect()
}

/// Runs a retention chart; `dynamic_buckets` as for segmentation.
pub(crate) async fn retention(
    ctx: &SessionContext,
    req: &Retention,
    dynamic_buckets: &HashMap<String, Vec<f64>>,
    now_ms: i64,
) -> Result<RetentionResult> {
    validate(req)?;
    let zone = Zone::parse(&req.time_zone).map_err(QueryError::Invalid)?;
    let periods = req.period_count();
    let new = req.start.event == EventSelector::New;
    let columns = crate::columns::of(ctx);
    ctx.register_udaf(herd_retention::udaf(RetentionSpec {
        zone,
        interval: req.interval,
        period_ms: req.period_ms(),
        periods,
        first_event_starts: new,
    }));
    let conditions = [req.start.clone(), req.returning.clone()];
    let horizon = (periods as i64 + 2) * req.period_ms();
    let all: Vec<Vec<Filter>> = vec![Vec::new()];
    let segments = if req.segments.is_empty() { &all } else { &req.segments };
    let mut series = Vec::new();
    for (segment_index, segment) in segments.iter().enumerate() {
        let query = StreamQuery {
            scope: Scope { count_by: &req.count_by, mode: req.property_mode, dynamic_buckets, columns: &columns },
            function: herd_retention::NAME,
            conditions: &conditions,
            segment,
            label: req.group_by.as_ref(),
            rows_ms: (req.start_ms, req.end_ms.saturating_add(horizon)),
            entry_ms: (req.start_ms, req.end_ms),
            // `_new` needs every event, to know which is the first.
            keep_unmatched: new,
            new_in: new.then_some((req.start_ms, req.end_ms)),
        };
        let sql = query.sql()?;
        tracing::debug!(%sql, "retention query");
        let rows = unit_rows(&ctx.sql(&sql).await?.collect().await?);
        let mut lines = series_of(req, &rows, segment_index, now_ms);
        let size = |s: &RetentionSeries| s.combined.first().map_or(0, |c| c.outof);
        lines.sort_by(|a, b| size(b).cmp(&size(a)).then_with(|| a.label.cmp(&b.label)));
        lines.truncate(req.limit.max(1));
        series.extend(lines);
    }
    Ok(RetentionResult { series })
}
