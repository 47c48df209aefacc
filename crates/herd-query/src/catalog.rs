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

/// What a user's events add up to (Amplitude's `userData` numbers).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct UserSummary {
    pub events: u64,
    /// Distinct session ids (events without a session, id −1, not counted).
    pub sessions: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// Time in sessions, ms: per session, its last event minus its start (the session id), summed.
    pub usage_time_ms: i64,
    /// Events with a revenue.
    pub purchases: u64,
    /// `revenue`, else `price × quantity` (quantity 1 when absent), summed.
    pub revenue: f64,
    /// The app version of the first event that has one.
    pub start_version: Option<String>,
    /// The latest event's location, `(lat, lng)`.
    pub last_location: Option<(f64, f64)>,
}

/// The summary of the events of a user (its `amplitude_id`s).
pub(crate) async fn user_summary(ctx: &SessionContext, amplitude_ids: &[u64]) -> Result<UserSummary> {
    let ids = amplitude_ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let mine = format!("amplitude_id IN ({ids}) AND event_type NOT IN {}", state_changes());
    let money = "COALESCE(TRY_CAST(herd_get(revenue, 'revenue') AS DOUBLE), TRY_CAST(herd_get(revenue, 'price') AS DOUBLE) \
                 * COALESCE(TRY_CAST(herd_get(revenue, 'quantity') AS DOUBLE), 1))";
    let sql = format!(
        "SELECT COUNT(*), COUNT(DISTINCT CASE WHEN session_id >= 0 THEN session_id END), \
         MIN(CAST(event_time AS BIGINT)), MAX(CAST(event_time AS BIGINT)), COUNT({money}), COALESCE(SUM({money}), 0) \
         FROM events WHERE {mine}"
    );
    let rows = crate::rows::to_json_rows(&ctx.sql(&sql).await?.collect().await?)?;
    let row: Vec<Value> = rows.into_iter().next().map(|r| r.into_iter().map(|(_, v)| v).collect()).unwrap_or_default();
    let int = |i: usize| row.get(i).and_then(Value::as_i64);
    let usage_sql = format!(
        "SELECT COALESCE(SUM(d), 0) FROM (SELECT MAX(CAST(event_time AS BIGINT)) - session_id AS d FROM events \
         WHERE {mine} AND session_id >= 0 GROUP BY session_id) s"
    );
    let usage = crate::rows::to_json_rows(&ctx.sql(&usage_sql).await?.collect().await?)?;
    let usage = usage.first().and_then(|r| r.values().next()).and_then(Value::as_i64).unwrap_or(0);
    let first_version = format!(
        "SELECT herd_get(device, 'app_version') FROM events WHERE {mine} AND herd_get(device, 'app_version') IS NOT NULL \
         ORDER BY event_time, seq LIMIT 1"
    );
    let version = crate::rows::to_json_rows(&ctx.sql(&first_version).await?.collect().await?)?;
    let location = format!(
        "SELECT TRY_CAST(herd_get(device, 'location_lat') AS DOUBLE), TRY_CAST(herd_get(device, 'location_lng') AS DOUBLE) \
         FROM events WHERE {mine} AND herd_get(device, 'location_lat') IS NOT NULL ORDER BY event_time DESC, seq DESC LIMIT 1"
    );
    let location = crate::rows::to_json_rows(&ctx.sql(&location).await?.collect().await?)?;
    let location: Vec<Option<f64>> =
        location.first().map(|r| r.values().map(Value::as_f64).collect()).unwrap_or_default();
    Ok(UserSummary {
        events: int(0).unwrap_or(0).max(0) as u64,
        sessions: int(1).unwrap_or(0).max(0) as u64,
        first_ms: int(2),
        last_ms: int(3),
        usage_time_ms: usage,
        purchases: int(4).unwrap_or(0).max(0) as u64,
        revenue: row.get(5).and_then(Value::as_f64).unwrap_or(0.0),
        start_version: version.first().and_then(|r| r.values().next()).and_then(Value::as_str).map(str::to_owned),
        last_location: match location.as_slice() {
            [Some(lat), Some(lng)] => Some((*lat, *lng)),
            _ => None,
        },
    })
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
