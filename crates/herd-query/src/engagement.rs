//! Stickiness and lifecycle charts, by users or by groups: the chart event's rows (with filters and segment, as
//! segmentation compiles them) reduced to distinct (unit, day) or (unit, interval) pairs in SQL, then counted here.

use std::collections::{BTreeSet, HashMap};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::SessionContext;
use herd_model::engagement::{
    Lifecycle, LifecycleResult, LifecycleSeries, Stickiness, StickinessResult, StickinessSeries,
};
use herd_model::report::{EventSelector, EventSpec, Filter, Interval};

use crate::buckets::{Zone, bucket_start, buckets, interval_name};
use crate::compile::{Aggregate, Scope, lit};
use crate::error::{QueryError, Result};

#[allow(clippy::too_many_arguments)]
fn rows<'a>(
    scope: Scope<'a>,
    event: &'a EventSpec,
    segment: &'a [Filter],
    start_ms: i64,
    end_ms: i64,
    interval: Interval,
    time_zone: &'a str,
) -> Aggregate<'a> {
    Aggregate {
        scope,
        event,
        segment,
        value: None,
        start_ms,
        end_ms,
        interval,
        time_zone,
        by_bucket: true,
        bare: false,
        histogram: None,
    }
}

/// The `(i64, text)` pairs of a two-column result.
async fn pairs(ctx: &SessionContext, sql: &str) -> Result<Vec<(i64, String)>> {
    tracing::debug!(%sql, "engagement query");
    let batches: Vec<RecordBatch> = ctx.sql(sql).await?.collect().await?;
    let mut out = Vec::new();
    for b in batches {
        let x = cast(b.column(0), &DataType::Int64)?;
        let unit = cast(b.column(1), &DataType::Utf8)?;
        let (x, unit) = (x.as_primitive::<Int64Type>(), unit.as_string::<i32>());
        for i in 0..b.num_rows() {
            if x.is_valid(i) && unit.is_valid(i) {
                out.push((x.value(i), unit.value(i).to_owned()));
            }
        }
    }
    Ok(out)
}

fn range_ok(start_ms: i64, end_ms: i64) -> Result<()> {
    if end_ms <= start_ms {
        return Err(QueryError::Invalid("the end of the range must be after its start".into()));
    }
    Ok(())
}

pub(crate) async fn stickiness(
    ctx: &SessionContext,
    req: &Stickiness,
    dynamic_buckets: &HashMap<String, Vec<f64>>,
) -> Result<StickinessResult> {
    range_ok(req.start_ms, req.end_ms)?;
    let max_days = match req.interval {
        Interval::Week => 7,
        Interval::Month => 31,
        _ => return Err(QueryError::Invalid("stickiness is weekly or monthly".into())),
    };
    Zone::parse(&req.time_zone).map_err(QueryError::Invalid)?;
    let all: Vec<Vec<Filter>> = vec![Vec::new()];
    let segments = if req.segments.is_empty() { &all } else { &req.segments };
    let mut series = Vec::new();
    for (segment_index, segment) in segments.iter().enumerate() {
        let columns = crate::columns::of(ctx);
        let scope = Scope { count_by: &req.count_by, mode: req.property_mode, dynamic_buckets, columns: &columns };
        let days = rows(scope, &req.event, segment, req.start_ms, req.end_ms, Interval::Day, &req.time_zone);
        let sql = format!(
            "SELECT days, COUNT(*) AS pairs FROM (SELECT unit, herd_bucket(x, {period}, {tz}) AS p, \
             COUNT(DISTINCT x) AS days FROM ({rows}) r GROUP BY unit, p) d GROUP BY days",
            period = lit(interval_name(req.interval)),
            tz = lit(&req.time_zone),
            rows = days.filtered()?,
        );
        let mut exactly = vec![0u64; max_days];
        for (d, pairs) in pairs(ctx, &format!("SELECT days, CAST(pairs AS VARCHAR) FROM ({sql}) s")).await? {
            let d = (d as usize).clamp(1, max_days);
            exactly[d - 1] += pairs.parse::<u64>().unwrap_or(0);
        }
        let at_least: Vec<u64> = (0..max_days).map(|i| exactly[i..].iter().sum()).collect();
        series.push(StickinessSeries { segment_index, total: at_least[0], exactly, at_least });
    }
    Ok(StickinessResult { series })
}

pub(crate) async fn lifecycle(
    ctx: &SessionContext,
    req: &Lifecycle,
    dynamic_buckets: &HashMap<String, Vec<f64>>,
) -> Result<LifecycleResult> {
    range_ok(req.start_ms, req.end_ms)?;
    if !matches!(req.interval, Interval::Day | Interval::Week | Interval::Month) {
        return Err(QueryError::Invalid("lifecycle is daily, weekly or monthly".into()));
    }
    let zone = Zone::parse(&req.time_zone).map_err(QueryError::Invalid)?;
    let x_values = buckets(req.start_ms, req.end_ms, req.interval, zone);
    // The interval before the first one decides who is current or dormant in it.
    let before = bucket_start(x_values.first().copied().unwrap_or(req.start_ms) - 1, req.interval, zone);
    let all: Vec<Vec<Filter>> = vec![Vec::new()];
    let segments = if req.segments.is_empty() { &all } else { &req.segments };
    let columns = crate::columns::of(ctx);
    let scope = || Scope { count_by: &req.count_by, mode: req.property_mode, dynamic_buckets, columns: &columns };
    // First events ever: any event, no filters and no segment (new to the project as a whole).
    let any = EventSpec { event: EventSelector::New, filters: vec![], group_by: vec![] };
    let first = rows(scope(), &any, &[], before, req.end_ms, req.interval, &req.time_zone);
    let first_sql = format!("SELECT x, CAST(unit AS VARCHAR) FROM ({}) f", first.filtered()?);
    let first_bucket: HashMap<String, i64> = pairs(ctx, &first_sql).await?.into_iter().map(|(x, u)| (u, x)).collect();
    let mut series = Vec::new();
    for (segment_index, segment) in segments.iter().enumerate() {
        let active = rows(scope(), &req.event, segment, before, req.end_ms, req.interval, &req.time_zone);
        let sql = format!("SELECT DISTINCT x, CAST(unit AS VARCHAR) FROM ({}) a", active.filtered()?);
        let mut by_unit: HashMap<String, BTreeSet<i64>> = HashMap::new();
        for (x, unit) in pairs(ctx, &sql).await? {
            by_unit.entry(unit).or_default().insert(x);
        }
        let n = x_values.len();
        let mut s = LifecycleSeries {
            segment_index,
            new: vec![0; n],
            current: vec![0; n],
            resurrected: vec![0; n],
            dormant: vec![0; n],
        };
        for (unit, active) in &by_unit {
            let mut previous = before;
            for (i, t) in x_values.iter().enumerate() {
                let (now, then) = (active.contains(t), active.contains(&previous));
                if now && first_bucket.get(unit) == Some(t) {
                    s.new[i] += 1;
                } else if now && then {
                    s.current[i] += 1;
                } else if now {
                    s.resurrected[i] += 1;
                } else if then {
                    s.dormant[i] += 1;
                }
                previous = *t;
            }
        }
        series.push(s);
    }
    Ok(LifecycleResult { x_values, series })
}
