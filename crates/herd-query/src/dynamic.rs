//! Dynamic group properties: each definition's number per group, computed over its window ending now, and the
//! `herd_dynamic(groups)` SQL function that shows those numbers to reports the way stamped group properties are
//! shown (`{type: {value: {name: number}}}` for the event's groups), so filters, group-bys and sorts treat them
//! like any group property.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::prelude::SessionContext;
use herd_model::accounts::{CalendarUnit, DynamicMetric, DynamicProperty, Window};
use herd_model::report::{CountBy, Filter, Interval, PropertyMode, PropertyRef, PropertySource};
use serde_json::{Map, Value};

use crate::buckets::{Zone, bucket_start};
use crate::compile::{Scope, per_group_sql};
use crate::error::{QueryError, Result};

/// group value → definition name → number.
type ByGroup = HashMap<String, HashMap<String, f64>>;

/// Computed values: group type → (definition names, numbers by group).
#[derive(Debug, Default)]
pub(crate) struct DynamicValues {
    pub(crate) by_type: HashMap<String, (Vec<String>, ByGroup)>,
}

impl DynamicValues {
    /// The value of `name` for one group; 0 when the group had nothing in the window.
    pub(crate) fn get(&self, group_type: &str, value: &str, name: &str) -> f64 {
        self.by_type
            .get(group_type)
            .and_then(|(_, values)| values.get(value))
            .and_then(|m| m.get(name))
            .copied()
            .unwrap_or(0.0)
    }
}

/// `[start, end)` of a window that ends at `now_ms`.
pub(crate) fn window_range(window: Window, now_ms: i64, zone: Zone) -> (i64, i64) {
    let start = match window {
        Window::Rolling { days } => now_ms - i64::from(days) * 86_400_000,
        Window::Calendar { unit } => {
            let interval = match unit {
                CalendarUnit::Day => Interval::Day,
                CalendarUnit::Week => Interval::Week,
                CalendarUnit::Month => Interval::Month,
            };
            bucket_start(now_ms, interval, zone)
        }
    };
    (start, now_ms + 1)
}

/// One definition's number for every group that had events in its window.
pub(crate) async fn compute(
    ctx: &SessionContext,
    def: &DynamicProperty,
    now_ms: i64,
    zone: Zone,
) -> Result<HashMap<String, f64>> {
    if def.event.filters.iter().any(|f| matches!(f.property.source, PropertySource::Dynamic(_))) {
        return Err(QueryError::Invalid(format!(
            "dynamic property {:?} filters on a dynamic property; define it from event, user or group properties",
            def.name
        )));
    }
    let count_by = CountBy::Group(def.group_type.clone());
    let no_buckets = HashMap::new();
    let columns = crate::columns::of(ctx);
    let scope =
        Scope { count_by: &count_by, mode: PropertyMode::Stamped, dynamic_buckets: &no_buckets, columns: &columns };
    let value = match &def.metric {
        DynamicMetric::Sum(p) | DynamicMetric::Average(p) => Some(p),
        _ => None,
    };
    let (start, end) = window_range(def.window, now_ms, zone);
    let sql = per_group_sql(&scope, &def.event, value, start, end)?;
    tracing::debug!(%sql, name = %def.name, "dynamic property");
    let batches: Vec<RecordBatch> = ctx.sql(&sql).await?.collect().await?;
    let mut out = HashMap::new();
    for b in batches {
        let unit = cast(b.column(0), &DataType::Utf8)?;
        let unit = unit.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        let nums: Vec<ArrayRef> =
            (1..5).map(|i| cast(b.column(i), &DataType::Float64)).collect::<std::result::Result<_, _>>()?;
        let num = |i: usize, row: usize| {
            let a = nums[i].as_any().downcast_ref::<Float64Array>().expect("cast to Float64");
            if a.is_valid(row) { a.value(row) } else { 0.0 }
        };
        for row in 0..b.num_rows() {
            if !unit.is_valid(row) {
                continue;
            }
            let v = match def.metric {
                DynamicMetric::Uniques => num(0, row),
                DynamicMetric::Totals => num(1, row),
                DynamicMetric::Sum(_) => num(2, row),
                DynamicMetric::Average(_) => {
                    let n = num(3, row);
                    if n == 0.0 { 0.0 } else { num(2, row) / n }
                }
            };
            out.insert(unit.value(row).to_owned(), v);
        }
    }
    Ok(out)
}

/// The dynamic properties among `properties`, which must all be defined.
pub(crate) fn referenced_by<'a, 'p>(
    properties: impl Iterator<Item = &'p PropertyRef>,
    defs: &'a [DynamicProperty],
) -> Result<Vec<&'a DynamicProperty>> {
    let refs: Vec<(&str, &str)> = properties
        .filter_map(|p| match &p.source {
            PropertySource::Dynamic(t) => Some((t.as_str(), p.key.as_str())),
            _ => None,
        })
        .collect();
    let mut out: Vec<&DynamicProperty> = Vec::new();
    for (t, name) in refs {
        match defs.iter().find(|d| d.name == name && d.group_type == t) {
            Some(d) if !out.iter().any(|o| o.name == d.name) => out.push(d),
            Some(_) => {}
            None => {
                let known: Vec<&str> = defs.iter().filter(|d| d.group_type == t).map(|d| d.name.as_str()).collect();
                return Err(QueryError::Invalid(format!(
                    "{name:?} is not a dynamic property of group type {t:?}; defined: [{}]",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

/// Everything a report's properties need computed when it runs: the dynamic properties among `filters` and
/// `group_bys` (all must be defined in the project) and the cohorts the filters name. Registers both and returns
/// the dynamic properties' bucket boundaries by name (for group-bys).
pub(crate) async fn prepare(
    ctx: &SessionContext,
    project: &herd_store::ProjectStore,
    filters: Vec<&Filter>,
    group_bys: Vec<&PropertyRef>,
    now_ms: i64,
) -> Result<HashMap<String, Vec<f64>>> {
    let record = project.record();
    let defs = DynamicProperty::all_in(&record.settings);
    let used = referenced_by(filters.iter().map(|f| &f.property).chain(group_bys), &defs)?;
    let zone = crate::project_zone(&record.settings)?;
    register(ctx, &used, now_ms, zone).await?;
    crate::cohorts::register(ctx, &record.settings, filters.into_iter(), now_ms).await?;
    Ok(used.iter().map(|d| (d.name.clone(), d.bucket_bounds())).collect())
}

/// Computes `defs` and registers `herd_dynamic` with their values.
pub(crate) async fn register(
    ctx: &SessionContext,
    defs: &[&DynamicProperty],
    now_ms: i64,
    zone: Zone,
) -> Result<Arc<DynamicValues>> {
    let mut values = DynamicValues::default();
    for def in defs {
        let computed = compute(ctx, def, now_ms, zone).await?;
        let (names, by_value) = values.by_type.entry(def.group_type.clone()).or_default();
        names.push(def.name.clone());
        for (group, v) in computed {
            by_value.entry(group).or_default().insert(def.name.clone(), v);
        }
    }
    let values = Arc::new(values);
    ctx.register_udf(udf(values.clone()));
    Ok(values)
}

/// `herd_dynamic` over `values`.
pub(crate) fn udf(values: Arc<DynamicValues>) -> ScalarUDF {
    ScalarUDF::new_from_impl(HerdDynamic { signature: Signature::variadic_any(Volatility::Immutable), values })
}

#[derive(Debug)]
struct HerdDynamic {
    signature: Signature,
    values: Arc<DynamicValues>,
}

impl PartialEq for HerdDynamic {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.values, &other.values)
    }
}
impl Eq for HerdDynamic {}
impl std::hash::Hash for HerdDynamic {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (Arc::as_ptr(&self.values) as usize).hash(h);
    }
}

impl ScalarUDFImpl for HerdDynamic {
    fn name(&self) -> &str {
        "herd_dynamic"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let groups = cast(&arrays[0], &DataType::Utf8)?;
        let groups = groups.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        let mut out = StringBuilder::new();
        for row in 0..args.number_rows {
            let mut by_type = Map::new();
            if groups.is_valid(row)
                && let Ok(Value::Object(g)) = serde_json::from_str::<Value>(groups.value(row))
            {
                for (t, values) in g {
                    let Some((names, _)) = self.values.by_type.get(&t) else { continue };
                    let list: Vec<String> = match values {
                        Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                        Value::String(s) => vec![s],
                        _ => Vec::new(),
                    };
                    let mut by_value = Map::new();
                    for v in list {
                        let props: Map<String, Value> =
                            names.iter().map(|n| (n.clone(), Value::from(self.values.get(&t, &v, n)))).collect();
                        by_value.insert(v, Value::Object(props));
                    }
                    by_type.insert(t, Value::Object(by_value));
                }
            }
            out.append_value(Value::Object(by_type).to_string());
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_now_and_calendar_windows_start_at_the_local_period() {
        // 2026-01-15 (a Thursday) 10:00 UTC.
        let now = 1_768_471_200_000;
        let utc = Zone::parse("UTC").unwrap();
        assert_eq!(window_range(Window::Rolling { days: 7 }, now, utc), (now - 7 * 86_400_000, now + 1));
        let day = |unit| window_range(Window::Calendar { unit }, now, utc).0;
        assert_eq!(day(CalendarUnit::Day), now - 10 * 3_600_000);
        // The week starts on Sunday 2026-01-11.
        assert_eq!(day(CalendarUnit::Week), now - 10 * 3_600_000 - 4 * 86_400_000);
        assert_eq!(day(CalendarUnit::Month), now - 10 * 3_600_000 - 14 * 86_400_000);
        // In Tokyo (UTC+9) it is already 19:00, so the local day began at 15:00 UTC the day before.
        let tokyo = Zone::parse("Asia/Tokyo").unwrap();
        assert_eq!(window_range(Window::Calendar { unit: CalendarUnit::Day }, now, tokyo).0, now - 19 * 3_600_000);
    }
}
