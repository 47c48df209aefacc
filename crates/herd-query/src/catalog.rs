//! What a project holds, for the data-QA and user views: its event types (events and users in a period, first and
//! last seen, event property names) and one user's events, latest or earliest first.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array, ListBuilder, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::prelude::SessionContext;
use serde_json::{Map, Value};

use crate::compile::lit;
use crate::error::Result;

/// One event type of a project.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EventTypeStats {
    pub event_type: String,
    /// Events since the period's start.
    pub period_events: u64,
    /// Distinct users since the period's start.
    pub period_users: u64,
    /// Events ever.
    pub events: u64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Event property names ever seen, sorted.
    pub properties: Vec<String>,
}

fn strings(a: &dyn Array) -> Result<StringArray> {
    let a = cast(a, &DataType::Utf8)?;
    Ok(a.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone())
}

fn ints(a: &dyn Array) -> Result<Int64Array> {
    let a = cast(a, &DataType::Int64)?;
    Ok(a.as_any().downcast_ref::<Int64Array>().expect("cast to Int64").clone())
}

fn state_changes() -> String {
    format!("({}, {})", lit(herd_model::IDENTIFY_EVENT), lit(herd_model::GROUP_IDENTIFY_EVENT))
}

/// Every event type (state changes excluded) with its counts since `period_start_ms`.
pub(crate) async fn event_types(ctx: &SessionContext, period_start_ms: i64) -> Result<Vec<EventTypeStats>> {
    ctx.register_udf(ScalarUDF::new_from_impl(HerdKeys { signature: Signature::variadic_any(Volatility::Immutable) }));
    let t = "CAST(event_time AS BIGINT)";
    let sql = format!(
        "SELECT event_type, SUM(CASE WHEN {t} >= {period_start_ms} THEN 1 ELSE 0 END), \
         COUNT(DISTINCT CASE WHEN {t} >= {period_start_ms} THEN amplitude_id END), COUNT(*), MIN({t}), MAX({t}) \
         FROM events WHERE event_type NOT IN {} GROUP BY event_type",
        state_changes()
    );
    let mut out: BTreeMap<String, EventTypeStats> = BTreeMap::new();
    for b in ctx.sql(&sql).await?.collect().await? {
        let name = strings(b.column(0))?;
        let nums: Vec<Int64Array> = (1..6).map(|i| ints(b.column(i))).collect::<Result<_>>()?;
        for row in 0..b.num_rows() {
            let n = |i: usize| if nums[i].is_valid(row) { nums[i].value(row) } else { 0 };
            out.insert(
                name.value(row).to_owned(),
                EventTypeStats {
                    event_type: name.value(row).to_owned(),
                    period_events: n(0) as u64,
                    period_users: n(1) as u64,
                    events: n(2) as u64,
                    first_seen_ms: n(3),
                    last_seen_ms: n(4),
                    properties: Vec::new(),
                },
            );
        }
    }
    let sql = format!(
        "SELECT DISTINCT event_type, k FROM (SELECT event_type, unnest(herd_keys(event_properties)) AS k FROM events \
         WHERE event_type NOT IN {}) keys",
        state_changes()
    );
    for b in ctx.sql(&sql).await?.collect().await? {
        let (name, key) = (strings(b.column(0))?, strings(b.column(1))?);
        for row in 0..b.num_rows() {
            if let Some(stats) = out.get_mut(name.value(row))
                && key.is_valid(row)
            {
                stats.properties.push(key.value(row).to_owned());
            }
        }
    }
    let mut list: Vec<EventTypeStats> = out.into_values().collect();
    for s in &mut list {
        s.properties.sort();
    }
    Ok(list)
}

/// Events of the given `amplitude_id`s (a user and the anonymous users merged into it), as JSON objects with the
/// property columns parsed.
pub(crate) async fn user_events(
    ctx: &SessionContext,
    amplitude_ids: &[u64],
    offset: usize,
    limit: usize,
    latest_first: bool,
) -> Result<Vec<Map<String, Value>>> {
    let ids = amplitude_ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let order = if latest_first { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT uuid, event_type, event_time, server_upload_time, amplitude_id, user_id, device_id, session_id, \
         insert_id AS \"$insert_id\", event_properties, user_properties, groups, group_properties, device \
         FROM events WHERE amplitude_id IN ({ids}) AND event_type NOT IN {} \
         ORDER BY event_time {order}, seq {order} LIMIT {limit} OFFSET {offset}",
        state_changes()
    );
    let mut rows = crate::rows::to_json_rows(&ctx.sql(&sql).await?.collect().await?)?;
    for row in &mut rows {
        for key in ["event_properties", "user_properties", "groups", "group_properties", "device"] {
            if let Some(Value::String(text)) = row.get(key) {
                let parsed = serde_json::from_str(text).unwrap_or(Value::Null);
                row.insert(key.to_owned(), parsed);
            }
        }
        // The device fields are top-level in Amplitude's event objects.
        if let Some(Value::Object(device)) = row.remove("device") {
            for (k, v) in device {
                row.entry(k).or_insert(v);
            }
        }
    }
    Ok(rows)
}

/// `herd_keys(json)`: the top-level keys of a JSON object, as a list.
#[derive(Debug, PartialEq, Eq, Hash)]
struct HerdKeys {
    signature: Signature,
}

impl ScalarUDFImpl for HerdKeys {
    fn name(&self) -> &str {
        "herd_keys"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let json = cast(&arrays[0], &DataType::Utf8)?;
        let json = json.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        let mut out = ListBuilder::new(StringBuilder::new());
        for row in 0..args.number_rows {
            if json.is_valid(row)
                && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json.value(row))
            {
                for k in map.keys() {
                    out.values().append_value(k);
                }
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
