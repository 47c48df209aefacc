//! Funnel charts: one `herd_funnel` query per segment (one row per unit that entered), then per group-by value
//! the units reaching each step, transition times and the funnel of each entry bucket.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use herd_model::funnel::{Funnel, FunnelMode, FunnelResult, FunnelSeries};
use herd_model::report::{EventSelector, Filter};

use crate::aggregates::funnel as herd_funnel;
use crate::buckets::{Zone, bucket_start, buckets};
use crate::compile::Scope;
use crate::compile_stream::StreamQuery;
use crate::error::{QueryError, Result};

/// One unit's attempt as the query returns it.
#[derive(Debug, Clone)]
pub(crate) struct UnitRow {
    pub entry_ts: i64,
    pub label: String,
    pub times: Vec<i64>,
}

/// Reads the `r` struct column of a stream query's batches.
pub(crate) fn unit_rows(batches: &[RecordBatch]) -> Vec<UnitRow> {
    let mut rows = Vec::new();
    for b in batches {
        let r = b.column(0).as_struct();
        let entry = r.column(0).as_primitive::<Int64Type>();
        let label = r.column(1).as_string::<i32>();
        let times = r.column(2).as_list::<i32>();
        for i in 0..b.num_rows() {
            if r.is_null(i) {
                continue;
            }
            let t = times.value(i);
            rows.push(UnitRow {
                entry_ts: entry.value(i),
                label: label.value(i).to_owned(),
                times: t.as_primitive::<Int64Type>().values().to_vec(),
            });
        }
    }
    rows
}

fn validate(req: &Funnel) -> Result<()> {
    let invalid = |m: String| Err(QueryError::Invalid(m));
    if req.steps.len() < 2 {
        return invalid(format!("a funnel needs at least two steps, got {}", req.steps.len()));
    }
    if req.steps.len() > Funnel::MAX_STEPS {
        return invalid(format!("at most {} funnel steps, got {}", Funnel::MAX_STEPS, req.steps.len()));
    }
    if req.end_ms <= req.start_ms {
        return invalid("the end of the range must be after its start".into());
    }
    if req.window_ms <= 0 {
        return invalid("the conversion window must be positive (seconds in `cs`)".into());
    }
    if req.steps.iter().any(|s| s.event == EventSelector::New) {
        return invalid("`_new` is not a funnel step; use `n=new` to let only new users or groups enter".into());
    }
    Ok(())
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2 }
}

/// Folds units' attempts into one series per label.
pub(crate) fn series_of(
    rows: &[UnitRow],
    steps: usize,
    x_values: &[i64],
    bucket: impl Fn(i64) -> i64,
    segment_index: usize,
    labelled: bool,
) -> Vec<FunnelSeries> {
    let position: HashMap<i64, usize> = x_values.iter().enumerate().map(|(i, x)| (*x, i)).collect();
    let mut by_label: HashMap<&str, Vec<&UnitRow>> = HashMap::new();
    for r in rows {
        by_label.entry(if labelled { r.label.as_str() } else { "" }).or_default().push(r);
    }
    if by_label.is_empty() && !labelled {
        by_label.insert("", Vec::new());
    }
    by_label
        .into_iter()
        .map(|(label, units)| {
            let mut counts = vec![0u64; steps];
            let mut by_bucket = vec![vec![0u64; steps]; x_values.len()];
            let mut transitions = Transitions::new(steps);
            let mut bucket_transitions: Vec<Transitions> =
                (0..x_values.len()).map(|_| Transitions::new(steps)).collect();
            for u in &units {
                let at = position.get(&bucket(u.entry_ts)).copied();
                for k in 0..u.times.len().min(steps) {
                    counts[k] += 1;
                    if let Some(at) = at {
                        by_bucket[at][k] += 1;
                    }
                }
                transitions.add(&u.times);
                if let Some(at) = at {
                    bucket_transitions[at].add(&u.times);
                }
            }
            FunnelSeries {
                segment_index,
                label: labelled.then(|| label.to_owned()),
                median_ms: transitions.medians().into_iter().map(Option::unwrap_or_default).collect(),
                average_ms: transitions.averages().into_iter().map(Option::unwrap_or_default).collect(),
                bucket_median_ms: bucket_transitions.iter().map(Transitions::medians).collect(),
                bucket_average_ms: bucket_transitions.iter().map(Transitions::averages).collect(),
                counts,
                by_bucket,
            }
        })
        .collect()
}

/// Transition times per step: index 0 the whole funnel (entry to last step) of units that completed it, index
/// `k` from step `k - 1` to step `k`.
struct Transitions(Vec<Vec<i64>>);

impl Transitions {
    fn new(steps: usize) -> Transitions {
        Transitions(vec![Vec::new(); steps])
    }

    fn add(&mut self, times: &[i64]) {
        let steps = self.0.len();
        if times.len() == steps {
            self.0[0].push(times[steps - 1] - times[0]);
        }
        for k in 1..times.len().min(steps) {
            self.0[k].push((times[k] - times[k - 1]).max(0));
        }
    }

    fn medians(&self) -> Vec<Option<i64>> {
        self.0.iter().map(|v| (!v.is_empty()).then(|| median(v.clone()))).collect()
    }

    fn averages(&self) -> Vec<Option<i64>> {
        self.0.iter().map(|v| (!v.is_empty()).then(|| v.iter().sum::<i64>() / v.len() as i64)).collect()
    }
}

/// Runs a funnel; `dynamic_buckets` as for segmentation (a group-by may name a dynamic property).
pub(crate) async fn funnel(
    ctx: &SessionContext,
    req: &Funnel,
    dynamic_buckets: &HashMap<String, Vec<f64>>,
) -> Result<FunnelResult> {
    validate(req)?;
    let zone = Zone::parse(&req.time_zone).map_err(QueryError::Invalid)?;
    let x_values = buckets(req.start_ms, req.end_ms, req.interval, zone);
    let window = req.effective_window_ms();
    let columns = crate::columns::of(ctx);
    ctx.register_udaf(herd_funnel::udaf(req.mode, req.steps.len(), window));
    let all: Vec<Vec<Filter>> = vec![Vec::new()];
    let segments = if req.segments.is_empty() { &all } else { &req.segments };
    let mut series = Vec::new();
    for (segment_index, segment) in segments.iter().enumerate() {
        let query = StreamQuery {
            scope: Scope { count_by: &req.count_by, mode: req.property_mode, dynamic_buckets, columns: &columns },
            function: herd_funnel::NAME,
            conditions: &req.steps,
            segment,
            label: req.group_by.as_ref(),
            // Later steps may complete after the range's end, within the window of an entry inside it.
            rows_ms: (req.start_ms, req.end_ms.saturating_add(window)),
            entry_ms: (req.start_ms, req.end_ms),
            keep_unmatched: req.mode == FunnelMode::Sequential,
            new_in: (req.entrants == herd_model::funnel::Entrants::New).then_some((req.start_ms, req.end_ms)),
        };
        let sql = query.sql()?;
        tracing::debug!(%sql, "funnel query");
        let batches = ctx.sql(&sql).await?.collect().await?;
        let rows = unit_rows(&batches);
        let bucket = |ts: i64| bucket_start(ts, req.interval, zone);
        let mut lines = series_of(&rows, req.steps.len(), &x_values, bucket, segment_index, req.group_by.is_some());
        lines.sort_by(|a, b| b.counts[0].cmp(&a.counts[0]).then_with(|| a.label.cmp(&b.label)));
        lines.truncate(req.limit.max(1));
        series.extend(lines);
    }
    Ok(FunnelResult { x_values, series })
}
