//! Event segmentation: runs the compiled aggregates for every event and segment of a chart and assembles the
//! series (one per group-by value combination), the per-bucket values and the whole-range totals.

use std::collections::{BTreeMap, HashMap};

use datafusion::arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use herd_model::report::{
    EventSelector, EventSpec, Filter, Metric, PropertyRef, Segmentation, SegmentationResult, Series,
};

use crate::buckets::{Zone, buckets};
use crate::compile::{Aggregate, Scope, histogram_bounds};
use crate::error::{QueryError, Result};
use crate::formula::{Formula, FormulaMetric};

/// Counts of one (bucket, labels) cell.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    uniques: f64,
    totals: f64,
    vsum: f64,
    vcount: f64,
}

/// labels → bucket → cell.
type Cells = BTreeMap<Vec<String>, HashMap<i64, Cell>>;

fn column<T: 'static>(arrays: &[std::sync::Arc<dyn Array>], i: usize) -> &T {
    arrays[i].as_any().downcast_ref::<T>().expect("cast above")
}

/// Runs an [`Aggregate::sql_with_totals`] query: (cells per bucket, whole-range cells under bucket 0).
async fn run_with_totals(ctx: &SessionContext, sql: &str, labels: usize) -> Result<(Cells, Cells)> {
    let (mut by, mut total) = (Cells::new(), Cells::new());
    collect_cells(ctx, sql, labels, |x, key, cell| match x {
        Some(x) => by.entry(key).or_default().insert(x, cell),
        None => total.entry(key).or_default().insert(0, cell),
    })
    .await?;
    Ok((by, total))
}

async fn collect_cells(
    ctx: &SessionContext,
    sql: &str,
    labels: usize,
    mut put: impl FnMut(Option<i64>, Vec<String>, Cell) -> Option<Cell>,
) -> Result<()> {
    tracing::debug!(%sql, "segmentation query");
    let batches: Vec<RecordBatch> = ctx.sql(sql).await?.collect().await?;
    for b in batches {
        let mut arrays = Vec::new();
        arrays.push(cast(b.column(0), &DataType::Int64)?);
        for i in 0..labels {
            arrays.push(cast(b.column(1 + i), &DataType::Utf8)?);
        }
        for i in 0..4 {
            arrays.push(cast(b.column(1 + labels + i), &DataType::Float64)?);
        }
        let x = column::<Int64Array>(&arrays, 0);
        let nums: Vec<&Float64Array> = (0..4).map(|i| column::<Float64Array>(&arrays, 1 + labels + i)).collect();
        for row in 0..b.num_rows() {
            let key: Vec<String> = (0..labels)
                .map(|i| {
                    let a = column::<StringArray>(&arrays, 1 + i);
                    if a.is_valid(row) { a.value(row).to_owned() } else { herd_model::report::NONE_LABEL.to_owned() }
                })
                .collect();
            let get = |i: usize| if nums[i].is_valid(row) { nums[i].value(row) } else { 0.0 };
            let cell = Cell { uniques: get(0), totals: get(1), vsum: get(2), vcount: get(3) };
            put(x.is_valid(row).then(|| x.value(row)), key, cell);
        }
    }
    Ok(())
}

fn metric_value(metric: &Metric, cell: Cell, active: f64) -> f64 {
    match metric {
        Metric::Uniques => cell.uniques,
        Metric::Totals => cell.totals,
        Metric::Average => {
            if cell.uniques == 0.0 {
                0.0
            } else {
                cell.totals / cell.uniques
            }
        }
        Metric::PctActive => {
            if active == 0.0 {
                0.0
            } else {
                100.0 * cell.uniques / active
            }
        }
        Metric::Sum(_) => cell.vsum,
        Metric::Histogram(_) => cell.uniques,
        Metric::ValueAverage(_) => {
            if cell.vcount == 0.0 {
                0.0
            } else {
                cell.vsum / cell.vcount
            }
        }
    }
}

fn value_property(metric: &Metric) -> Option<&PropertyRef> {
    match metric {
        Metric::Sum(p) | Metric::ValueAverage(p) | Metric::Histogram(p) => Some(p),
        _ => None,
    }
}

struct Plan<'a> {
    req: &'a Segmentation,
    zone_name: &'a str,
    dynamic_buckets: &'a HashMap<String, Vec<f64>>,
    columns: &'a crate::columns::Columns,
}

impl Plan<'_> {
    fn aggregate<'b>(
        &'b self,
        event: &'b EventSpec,
        segment: &'b [Filter],
        by_bucket: bool,
        bare: bool,
    ) -> Aggregate<'b> {
        Aggregate {
            scope: Scope {
                count_by: &self.req.count_by,
                mode: self.req.property_mode,
                dynamic_buckets: self.dynamic_buckets,
                columns: self.columns,
            },
            event,
            segment,
            value: if bare { None } else { value_property(&self.req.metric) },
            start_ms: self.req.start_ms,
            end_ms: self.req.end_ms,
            interval: self.req.interval,
            time_zone: self.zone_name,
            by_bucket,
            bare,
            histogram: None,
        }
    }
}

/// The smallest and largest value of a histogram's property, if any event has one.
async fn value_range(ctx: &SessionContext, sql: &str) -> Result<Option<(f64, f64)>> {
    let batches: Vec<RecordBatch> = ctx.sql(sql).await?.collect().await?;
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else { return Ok(None) };
    let arrays = [cast(b.column(0), &DataType::Float64)?, cast(b.column(1), &DataType::Float64)?];
    let (lo, hi) = (column::<Float64Array>(&arrays, 0), column::<Float64Array>(&arrays, 1));
    Ok((lo.is_valid(0) && hi.is_valid(0)).then(|| (lo.value(0), hi.value(0))))
}

/// The lower bound of a histogram bucket label `[a, b)`.
fn bucket_start_of(label: &str) -> f64 {
    label.strip_prefix('[').and_then(|r| r.split(',').next()).and_then(|a| a.trim().parse().ok()).unwrap_or(f64::MAX)
}

/// Checks a chart before anything runs; the messages say what to fix.
fn validate(req: &Segmentation) -> Result<()> {
    let invalid = |m: String| Err(QueryError::Invalid(m));
    if req.events.is_empty() {
        return invalid("a segmentation needs at least one event".into());
    }
    if req.events.len() > 10 {
        return invalid(format!("at most 10 events per chart, got {}", req.events.len()));
    }
    if req.end_ms <= req.start_ms {
        return invalid("the end of the range must be after its start".into());
    }
    if let Some(e) = req.events.iter().find(|e| e.group_by.len() > 2) {
        return invalid(format!("at most two group-bys per event, got {}", e.group_by.len()));
    }
    Ok(())
}

/// `dynamic_buckets`: bucket boundaries of the dynamic properties the chart refers to (already registered).
pub(crate) async fn segmentation(
    ctx: &SessionContext,
    req: &Segmentation,
    dynamic_buckets: &HashMap<String, Vec<f64>>,
) -> Result<SegmentationResult> {
    validate(req)?;
    let zone = Zone::parse(&req.time_zone).map_err(QueryError::Invalid)?;
    let x_values = buckets(req.start_ms, req.end_ms, req.interval, zone);
    if x_values.len() > 10_000 {
        return Err(QueryError::Invalid(format!(
            "the range has {} buckets; choose a coarser interval or a shorter range",
            x_values.len()
        )));
    }
    let columns = crate::columns::of(ctx);
    let plan = Plan { req, zone_name: &req.time_zone, dynamic_buckets, columns: &columns };
    let all_users: Vec<Vec<Filter>> = vec![Vec::new()];
    let segments = if req.segments.is_empty() { &all_users } else { &req.segments };
    let formula = req.formula.as_deref().map(Formula::parse).transpose()?;
    if let Some(f) = &formula
        && f.max_index() >= req.events.len()
    {
        return Err(QueryError::Invalid(format!(
            "the formula refers to event {} but the chart has {} event(s)",
            (b'A' + f.max_index() as u8) as char,
            req.events.len()
        )));
    }
    let active_spec = EventSpec { event: EventSelector::Active, filters: Vec::new(), group_by: Vec::new() };
    let mut series = Vec::new();
    for (segment_index, segment) in segments.iter().enumerate() {
        let needs_active = matches!(req.metric, Metric::PctActive) && formula.is_none();
        let (active_by_bucket, active_total) = if needs_active {
            let (by, total) =
                run_with_totals(ctx, &plan.aggregate(&active_spec, segment, true, true).sql_with_totals(true)?, 0)
                    .await?;
            (by.into_values().next().unwrap_or_default(), total.into_values().next().unwrap_or_default())
        } else {
            Default::default()
        };
        let mut per_event: Vec<(Cells, Cells)> = Vec::new();
        for event in &req.events {
            let labels = if formula.is_some() { 0 } else { event.group_by.len() };
            let (by, total) = if formula.is_some() {
                let bare = EventSpec { group_by: Vec::new(), ..event.clone() };
                run_with_totals(ctx, &plan.aggregate(&bare, segment, true, false).sql_with_totals(true)?, 0).await?
            } else if matches!(req.metric, Metric::Histogram(_)) {
                let range = value_range(ctx, &plan.aggregate(event, segment, false, false).value_range_sql()?).await?;
                match range {
                    None => Default::default(),
                    Some((lo, hi)) => {
                        let bounds = histogram_bounds(lo, hi);
                        let mut both = plan.aggregate(event, segment, true, false);
                        both.histogram = Some(&bounds);
                        run_with_totals(ctx, &both.sql_with_totals(true)?, labels + 1).await?
                    }
                }
            } else {
                let uniques = !matches!(req.metric, Metric::Totals | Metric::Sum(_) | Metric::ValueAverage(_));
                let both = plan.aggregate(event, segment, true, false);
                run_with_totals(ctx, &both.sql_with_totals(uniques)?, labels).await?
            };
            per_event.push((by, total));
        }
        if let Some(f) = &formula {
            let cell =
                |cells: &Cells, x: i64| cells.values().next().and_then(|m| m.get(&x)).copied().unwrap_or_default();
            let eval = |x: i64, total: bool| {
                f.eval(&|m, i| {
                    let c = if total { cell(&per_event[i].1, 0) } else { cell(&per_event[i].0, x) };
                    match m {
                        FormulaMetric::Uniques => c.uniques,
                        FormulaMetric::Totals => c.totals,
                        FormulaMetric::Average => metric_value(&Metric::Average, c, 0.0),
                    }
                })
            };
            series.push(Series {
                event_index: 0,
                segment_index,
                labels: vec![req.formula.clone().unwrap_or_default()],
                values: x_values.iter().map(|x| eval(*x, false)).collect(),
                total: eval(0, true),
            });
            continue;
        }
        for (event_index, (by, total)) in per_event.into_iter().enumerate() {
            let active_total = active_total.get(&0).map(|c| c.uniques).unwrap_or(0.0);
            let mut lines: Vec<Series> = total
                .iter()
                .map(|(labels, totals)| {
                    let cells = by.get(labels);
                    let values = x_values
                        .iter()
                        .map(|x| {
                            let c = cells.and_then(|m| m.get(x)).copied().unwrap_or_default();
                            let active = active_by_bucket.get(x).map(|c| c.uniques).unwrap_or(0.0);
                            metric_value(&req.metric, c, active)
                        })
                        .collect();
                    let t = totals.get(&0).copied().unwrap_or_default();
                    Series {
                        event_index,
                        segment_index,
                        labels: labels.clone(),
                        values,
                        total: metric_value(&req.metric, t, active_total),
                    }
                })
                .collect();
            if lines.is_empty() && req.events[event_index].group_by.is_empty() {
                // Nothing matched: still one line of zeros, as charts show.
                lines.push(Series {
                    event_index,
                    segment_index,
                    labels: Vec::new(),
                    values: vec![0.0; x_values.len()],
                    total: 0.0,
                });
            }
            lines.sort_by(|a, b| b.total.total_cmp(&a.total).then_with(|| a.labels.cmp(&b.labels)));
            lines.truncate(req.limit.max(1));
            if matches!(req.metric, Metric::Histogram(_)) {
                // A histogram reads left to right: buckets in value order within each group-by value.
                let key = |s: &Series| {
                    let (bucket, rest) = s
                        .labels
                        .split_last()
                        .map(|(b, r)| (bucket_start_of(b), r.to_vec()))
                        .unwrap_or((0.0, Vec::new()));
                    (rest, bucket)
                };
                lines.sort_by(|a, b| {
                    let (ra, ba) = key(a);
                    let (rb, bb) = key(b);
                    ra.cmp(&rb).then(ba.total_cmp(&bb))
                });
            }
            series.extend(lines);
        }
    }
    Ok(SegmentationResult { x_values, series })
}
