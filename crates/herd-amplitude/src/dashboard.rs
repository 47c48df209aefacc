//! Amplitude's Dashboard REST API, event segmentation (`GET /api/2/events/segmentation`, research §7.1–7.2): the
//! query string in, as a [`Segmentation`]; a [`SegmentationResult`] out, as Amplitude's response body.
//!
//! Decisions where Amplitude's docs are silent or where Herd adds to them:
//! - **Query string.** Repeated `e` keys are the chart's events in order (some clients send the second event as
//!   a second `e`), then `e2`; at most two. Repeated `s` keys are several segments, as is an `s` that is an array of
//!   arrays; `g` may be repeated or followed by `g2` (at most two in all). Any other parameter given twice is an
//!   error. Raw (unencoded) JSON as `curl -g` sends it is read whole, `&` inside strings included, and
//!   percent-escapes inside it are decoded (Amplitude's docs write `ce:Play%20Song`); unknown parameters are
//!   ignored.
//! - **Events.** `ce:` is stripped from custom event names; `_all`, `_active` and `_new` are Herd's `Any`,
//!   `Active` and `New` (each unit's first event ever: new users, or new groups with `countGroup`);
//!   Amplitude's revenue pseudo-events (`revenue_amount`, `verified_revenue`, `unverified_revenue`) are
//!   refused. `n` (`any` | `active`) is accepted and has no effect, since Herd counts every event as active.
//! - **Properties.** User-level keys (`subprop_type: "user"`, segment `prop`, `g`): `gp:name` is the custom user
//!   property `name`; Amplitude's built-in names (`country`, `platform`, `version`, `os`, `device`, `DMA`, …, see
//!   [`BUILTIN_PROPERTIES`]) are built-ins; any other name is taken as a custom user property (Amplitude would need
//!   `gp:`). Event keys are taken as written. Group properties (Herd's extension):
//!   `{"subprop_type":"group","group_type":T,"subprop_key":K}` and `{"type":"group","group_type":T,"value":K}`, with
//!   an optional `grp:` prefix on `K`; a group-by (or filter) whose key is [`GROUP_VALUE`] or, for group-bys,
//!   missing, is about the group value itself (`PropertySource::GroupValue(T)`); a key `dyn:<name>` is the
//!   dynamic group property `<name>` of that type (`PropertySource::Dynamic(T)`). A segment condition with a
//!   `group_type` key and `g` given as a group-by JSON object reach group properties the same way.
//! - **Property metrics.** `m=sums` / `m=value_avg` take their property from the first `group_by` of `e` (Amplitude:
//!   "you must include a valid group by value in parameter `e`"); it is removed from `e`'s group-bys, and from
//!   `e2`'s when `e2` starts with the same group-by. `m=histogram` takes its property the same way and answers one
//!   series per value bucket (about ten round-width buckets `[a, b)` covering the values in the range, in value
//!   order), each counting units.
//! - **Formulas.** `m=formula` needs `formula`; `formula` without `m=formula` is refused rather than ignored. The
//!   formula text is checked by the query engine.
//! - **`countGroup`** (Herd's extension, the key Amplitude's chart definitions use): `User` (exactly; the default)
//!   counts users, any other value is a group type name, case-sensitive. `Event` is refused (use `m=totals`).
//!   `properties=current` (or `stamped`, the default) picks the property mode.
//! - **Dates and ranges.** `start`/`end` are `YYYYMMDD` (also `YYYY-MM-DD`), inclusive, local days of the
//!   project's time zone. Ranges are capped as Amplitude documents: real-time 2 days, hourly 7 days, daily 366
//!   days (a leap year); weekly and monthly are not capped. `limit` must be 1–1000 (refused, not clamped).
//!   `rollingWindow`, `rollingAverage` and "who performed" segment conditions are refused with a 400.
//! - **Cohorts.** A segment condition `{"prop":"userdata_cohort","op":"is"|"is not","values":[ids]}` keeps the
//!   events of users (or, for a cohort of groups, of groups) in any of the cohorts; unknown ids are refused.
//! - **Time zones.** [`parse_segmentation`] computes local midnights itself for `UTC` and fixed offsets (`+02:00`,
//!   `-05`); for IANA names (no tz data here) it uses UTC midnights and keeps the name on the [`Segmentation`], so
//!   callers with tz data should use [`parse_segmentation_with`]. Likewise the response takes the x-axis labels
//!   from the caller ([`x_labels`] formats them for UTC and fixed offsets, [`format_x_value`] for anything else).
//! - **Response.** `xValues` are `YYYY-MM-DD` (local date of the bucket start; weeks start on Sunday) for daily,
//!   weekly and monthly charts, and `YYYY-MM-DDTHH:MM:SS` (local) for hourly and real-time charts. A series
//!   without group-by is labelled with its segment index (`0`), as Amplitude's responses show; with group-bys,
//!   `[segmentIndex, "value"]`, two values joined with `"; "`. `seriesCollapsed` is
//!   `[[{"setId": "", "value": total}]]` per series. Herd adds `seriesMeta`: `{segmentIndex, eventIndex, labels}`
//!   per series (plus `formula` and `formulaIndex` for formulas), which is unambiguous. Whole numbers are written
//!   as JSON integers; non-finite values as `0`.

use herd_model::report::{
    CountBy, EventSelector, EventSpec, Filter, FilterOp, Interval, Metric, NONE_LABEL, PropertyMode, PropertyRef,
    PropertySource, Segmentation, SegmentationResult, Series,
};
use serde_json::{Map, Value, json};
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

use crate::error::RejectionKind;
use crate::form::Form;
use crate::response::error_body;

/// Group-by values returned when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 1000;
/// Events of one chart (`e`, `e2`).
pub const MAX_EVENTS: usize = 2;
/// Group-bys of one event, its own plus `g`.
pub const MAX_GROUP_BYS: usize = 2;
/// User segments of one chart (Amplitude's chart limit).
pub const MAX_SEGMENTS: usize = 10;
/// The property key that means "the group value itself" in group filters and group-bys.
pub const GROUP_VALUE: &str = "$group_value";

/// The prefix that names a dynamic group property (Herd's extension) in a group filter or group-by key.
pub(crate) const DYNAMIC_PREFIX: &str = "dyn:";

/// Names taken as built-in properties in user-level keys: Amplitude's documented names, then the names of Herd's
/// own event columns.
pub const BUILTIN_PROPERTIES: [&str; 26] = [
    "version",
    "country",
    "city",
    "region",
    "DMA",
    "language",
    "platform",
    "os",
    "device",
    "device_type",
    "start_version",
    "paying",
    "library",
    "carrier",
    "app_version",
    "version_name",
    "os_name",
    "os_version",
    "device_brand",
    "device_manufacturer",
    "device_model",
    "dma",
    "user_id",
    "device_id",
    "amplitude_id",
    "event_type",
];

const DAY_MS: i64 = 86_400_000;
const OPS: &str = "is, is not, contains, does not contain, less, less or equal, greater, greater or equal, set is, \
                   set is not";
const METRICS: &str = "uniques (default), totals, pct_dau, average, sums, value_avg, histogram, formula";
const EVENT_EXAMPLE: &str = r#"{"event_type":"ce:Song Played"}"#;

/// Why a Dashboard REST request was refused. Every variant is the request's fault ([`RejectionKind::BadRequest`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DashboardError {
    #[error("missing required parameter `{param}`")]
    Missing { param: &'static str },
    #[error("`{param}` is not valid JSON: {detail}")]
    BadJson { param: String, detail: String },
    #[error("unknown metric {0:?}")]
    UnknownMetric(String),
    #[error("unknown operator {op:?} in `{at}`")]
    UnknownOp { at: String, op: String },
    #[error("`{at}` has {count} group-bys, at most {MAX_GROUP_BYS}")]
    TooManyGroupBys { at: String, count: usize, with_g: bool },
    #[error("`end` {end} is before `start` {start}")]
    EndBeforeStart { start: String, end: String },
    /// A parameter (or a place inside one, like `e.filters[0].subprop_type`) has a value Herd cannot use.
    #[error("invalid `{param}`: {problem}")]
    Invalid { param: String, problem: String },
    /// Something Amplitude has and Herd does not (yet).
    #[error("`{param}` is not supported: {hint}")]
    Unsupported { param: String, hint: String },
}

pub(crate) fn invalid(param: impl Into<String>, problem: impl Into<String>) -> DashboardError {
    DashboardError::Invalid { param: param.into(), problem: problem.into() }
}

pub(crate) fn unsupported(param: impl Into<String>, hint: impl Into<String>) -> DashboardError {
    DashboardError::Unsupported { param: param.into(), hint: hint.into() }
}

impl DashboardError {
    pub fn kind(&self) -> RejectionKind {
        RejectionKind::BadRequest
    }

    /// The body's `error`: what is wrong, short.
    pub fn error_text(&self) -> String {
        match self {
            DashboardError::Missing { param } => format!("Missing required parameter: {param}"),
            DashboardError::BadJson { param, .. } => format!("Invalid JSON in parameter {param}"),
            DashboardError::UnknownMetric(m) => format!("Unknown metric: {m}"),
            DashboardError::UnknownOp { op, .. } => format!("Unknown filter operator: {op}"),
            DashboardError::TooManyGroupBys { .. } => "Too many group-bys".into(),
            DashboardError::EndBeforeStart { .. } => "End date is before start date".into(),
            DashboardError::Invalid { param, .. } => format!("Invalid parameter: {param}"),
            DashboardError::Unsupported { param, .. } => format!("Unsupported parameter: {param}"),
        }
    }

    /// What to fix, in words.
    pub fn message(&self) -> String {
        match self {
            DashboardError::Missing { param: "e" } => {
                format!("add e=<event JSON>, URL-encoded, e.g. e={EVENT_EXAMPLE}; `_all` is any event")
            }
            DashboardError::Missing { param: "formula" } => {
                "m=formula needs formula=<formula>, e.g. formula=UNIQUES(A)/UNIQUES(B) (A is e, B is e2)".into()
            }
            DashboardError::Missing { param } => {
                format!("add {param}=YYYYMMDD (a day in the project's time zone; start and end are included)")
            }
            DashboardError::BadJson { param, detail } => {
                format!("{param} must be URL-encoded JSON, e.g. {param}={EVENT_EXAMPLE}; the parser said: {detail}")
            }
            DashboardError::UnknownMetric(_) => format!("m must be one of {METRICS}"),
            DashboardError::UnknownOp { at, .. } => format!("{at} must be one of {OPS}"),
            DashboardError::TooManyGroupBys { at, count, with_g } => {
                let source = if *with_g { " (its own group_by plus g)" } else { "" };
                format!("{at} has {count} group-bys{source}; use at most {MAX_GROUP_BYS}")
            }
            DashboardError::EndBeforeStart { start, end } => {
                format!("end ({end}) must be the same day as start ({start}) or later; both days are included")
            }
            DashboardError::Invalid { param, problem } => format!("{param} {problem}"),
            DashboardError::Unsupported { param, hint } => format!("Herd does not support {param}; {hint}"),
        }
    }

    /// `{"code": code, "error": …, "message": …}` for the status the server sends.
    pub fn body(&self, code: u16) -> Value {
        error_body(code, &self.error_text(), &self.message())
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------------------------------

/// Parses the query string of `GET /api/2/events/segmentation` for a project in `time_zone` (an IANA name, `UTC`
/// or a fixed offset like `+02:00`). `start_ms`/`end_ms` are local midnights for `UTC` and fixed offsets and UTC
/// midnights for IANA names (see [`parse_segmentation_with`] to do better).
pub fn parse_segmentation(query: &str, time_zone: &str) -> Result<Segmentation, DashboardError> {
    let offset_ms = fixed_offset_secs(time_zone).map_or(0, |s| i64::from(s) * 1000);
    parse_segmentation_with(query, time_zone, &|y, m, d| utc_midnight(y, m, d) - offset_ms)
}

/// As [`parse_segmentation`], with the caller's conversion of a local date (year, month 1–12, day 1–31) in
/// `time_zone` to the instant (ms since the epoch) of its first moment.
pub fn parse_segmentation_with(
    query: &str,
    time_zone: &str,
    local_midnight: &dyn Fn(i32, u8, u8) -> i64,
) -> Result<Segmentation, DashboardError> {
    let form = Form::parse_query(query);
    let params = Params(form.pairs());

    for param in ["rollingWindow", "rollingAverage"] {
        if params.all(param).next().is_some() {
            return Err(unsupported(param, "ask for the plain series and compute the rolling values yourself"));
        }
    }

    // Events.
    let mut raw_events: Vec<&str> = params.all("e").collect();
    raw_events.extend(params.single("e2")?);
    if raw_events.is_empty() {
        return Err(DashboardError::Missing { param: "e" });
    }
    if raw_events.len() > MAX_EVENTS {
        return Err(invalid(
            "e",
            format!(
                "is given with e2 for {} events in all; a chart has at most {MAX_EVENTS} (e and e2)",
                raw_events.len()
            ),
        ));
    }
    let mut events = Vec::with_capacity(raw_events.len());
    for (i, raw) in raw_events.iter().enumerate() {
        events.push(parse_event(if i == 0 { "e" } else { "e2" }, raw)?);
    }

    // Metric.
    let formula_text = params.single("formula")?;
    let metric_text = params.single("m")?;
    let metric_name = metric_text.map(|m| m.trim().to_ascii_lowercase());
    let mut formula = None;
    let metric = match metric_name.as_deref() {
        None | Some("uniques") => Metric::Uniques,
        Some("totals") => Metric::Totals,
        Some("pct_dau") => Metric::PctActive,
        Some("average") => Metric::Average,
        Some(name @ ("sums" | "value_avg" | "histogram")) => {
            let property = take_metric_property(&mut events, name)?;
            match name {
                "sums" => Metric::Sum(property),
                "value_avg" => Metric::ValueAverage(property),
                _ => Metric::Histogram(property),
            }
        }
        Some("formula") => match formula_text.map(str::trim) {
            Some(f) if !f.is_empty() => {
                formula = Some(f.to_owned());
                Metric::Uniques
            }
            _ => return Err(DashboardError::Missing { param: "formula" }),
        },
        Some(_) => return Err(DashboardError::UnknownMetric(metric_text.unwrap_or_default().to_owned())),
    };
    if formula.is_none() && formula_text.is_some() {
        return Err(invalid("formula", "is only used with m=formula; add m=formula or leave formula out"));
    }

    // Segment group-bys (`g`, `g2`) go to every event.
    let mut raw_g: Vec<&str> = params.all("g").collect();
    raw_g.extend(params.single("g2")?);
    if raw_g.len() > MAX_GROUP_BYS {
        return Err(DashboardError::TooManyGroupBys { at: "g".into(), count: raw_g.len(), with_g: false });
    }
    let mut segment_group_by = Vec::new();
    for raw in raw_g {
        segment_group_by.push(parse_g(raw)?);
    }
    for (i, event) in events.iter_mut().enumerate() {
        event.group_by.extend(segment_group_by.iter().cloned());
        if event.group_by.len() > MAX_GROUP_BYS {
            let at = if i == 0 { "e" } else { "e2" };
            return Err(DashboardError::TooManyGroupBys { at: at.into(), count: event.group_by.len(), with_g: true });
        }
    }

    let segments = parse_all_segments(&params)?;

    // Time.
    let interval = match params.single("i")?.map(str::trim) {
        None | Some("1") => Interval::Day,
        Some("-300000") => Interval::FiveMinutes,
        Some("-3600000") => Interval::Hour,
        Some("7") => Interval::Week,
        Some("30") => Interval::Month,
        Some(other) => {
            return Err(invalid(
                "i",
                format!(
                    "is {other:?}; use -300000 (real-time, 5 minutes), -3600000 (hourly), 1 (daily, the \
                     default), 7 (weekly) or 30 (monthly)"
                ),
            ));
        }
    };
    let (start_ms, end_ms, days) = parse_range(&params, local_midnight)?;
    let max_days = match interval {
        Interval::FiveMinutes => Some((2, "real-time (i=-300000)")),
        Interval::Hour => Some((7, "hourly (i=-3600000)")),
        Interval::Day => Some((366, "daily (i=1)")),
        Interval::Week | Interval::Month => None,
    };
    if let Some((max, what)) = max_days.filter(|(max, _)| days > *max) {
        return Err(invalid(
            "end",
            format!(
                "makes a range of {days} days; {what} charts cover at most {max} days: move start or end, or use a longer interval"
            ),
        ));
    }

    // Herd's extensions and the rest.
    let count_by = parse_count_by(&params)?;
    let property_mode = parse_property_mode(&params)?;
    match params.single("n")?.map(str::trim) {
        None | Some("any" | "active") => {}
        Some(other) => return Err(invalid("n", format!("is {other:?}; use any or active"))),
    }
    let limit = parse_limit(&params)?;
    let time_zone = if time_zone.trim().is_empty() { "UTC" } else { time_zone };

    Ok(Segmentation {
        events,
        metric,
        formula,
        interval,
        start_ms,
        end_ms,
        count_by,
        segments,
        property_mode,
        limit,
        time_zone: time_zone.to_owned(),
    })
}

/// `s` (repeatable): the user segments, none when the only one is empty.
pub(crate) fn parse_all_segments(params: &Params<'_>) -> Result<Vec<Vec<Filter>>, DashboardError> {
    let mut segments = Vec::new();
    let raw_segments: Vec<&str> = params.all("s").collect();
    let repeated = raw_segments.len() > 1;
    for (k, raw) in raw_segments.iter().enumerate() {
        segments.extend(parse_segments(raw, repeated.then_some(k))?);
    }
    if segments.len() > MAX_SEGMENTS {
        return Err(invalid("s", format!("defines {} segments; use at most {MAX_SEGMENTS}", segments.len())));
    }
    if segments.len() == 1 && segments[0].is_empty() {
        segments.clear();
    }

    Ok(segments)
}

/// `start` and `end` (inclusive local days) as `[start_ms, end_ms)`, and the number of days.
pub(crate) fn parse_range(
    params: &Params<'_>,
    local_midnight: &dyn Fn(i32, u8, u8) -> i64,
) -> Result<(i64, i64, i64), DashboardError> {
    let start_text = params.single("start")?.ok_or(DashboardError::Missing { param: "start" })?;
    let end_text = params.single("end")?.ok_or(DashboardError::Missing { param: "end" })?;
    let start = parse_date("start", start_text)?;
    let end = parse_date("end", end_text)?;
    if end < start {
        return Err(DashboardError::EndBeforeStart { start: start_text.trim().into(), end: end_text.trim().into() });
    }
    let days = (end - start).whole_days() + 1;
    let midnight = |d: Date| local_midnight(d.year(), u8::from(d.month()), d.day());
    Ok((midnight(start), midnight(end.next_day().unwrap_or(end)), days))
}

/// `countGroup` (Herd's extension): `User` or a group type.
pub(crate) fn parse_count_by(params: &Params<'_>) -> Result<CountBy, DashboardError> {
    Ok(match params.single("countGroup")? {
        None | Some("User") => CountBy::User,
        Some("Event") => return Err(unsupported("countGroup=Event", "use m=totals to count events")),
        Some(t) if t.trim().is_empty() => {
            return Err(invalid("countGroup", "is empty; use User (the default) or a group type name, e.g. org id"));
        }
        Some(t) => CountBy::Group(t.to_owned()),
    })
}

/// `properties`: `stamped` (default) or `current`.
pub(crate) fn parse_property_mode(params: &Params<'_>) -> Result<PropertyMode, DashboardError> {
    Ok(match params.single("properties")?.map(str::trim) {
        None | Some("stamped") => PropertyMode::Stamped,
        Some("current") => PropertyMode::Current,
        Some(other) => {
            return Err(invalid(
                "properties",
                format!("is {other:?}; use stamped (as on each event, the default) or current (as now)"),
            ));
        }
    })
}

/// `limit`: group-by values returned, 1–1000.
pub(crate) fn parse_limit(params: &Params<'_>) -> Result<usize, DashboardError> {
    Ok(match params.single("limit")? {
        None => DEFAULT_LIMIT,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n @ 1..=MAX_LIMIT) => n,
            _ => {
                return Err(invalid(
                    "limit",
                    format!("is {text:?}; use a whole number from 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"),
                ));
            }
        },
    })
}

/// The decoded query parameters.
pub(crate) struct Params<'a>(pub(crate) &'a [(String, String)]);

impl<'a> Params<'a> {
    pub(crate) fn all(&self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A parameter that may be given once.
    pub(crate) fn single(&self, name: &'a str) -> Result<Option<&'a str>, DashboardError> {
        let mut values = self.all(name);
        let first = values.next();
        let more = values.count();
        if more > 0 {
            return Err(invalid(name, format!("is given {} times; give it once", more + 1)));
        }
        Ok(first)
    }
}

pub(crate) fn parse_json(param: &str, raw: &str) -> Result<Value, DashboardError> {
    if raw.trim().is_empty() {
        return Err(invalid(param, "is empty"));
    }
    serde_json::from_str(raw).map_err(|e| DashboardError::BadJson { param: param.to_owned(), detail: e.to_string() })
}

/// A short description of a JSON value for messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A required, non-empty string field of an object.
fn str_field<'v>(obj: &'v Map<String, Value>, at: &str, field: &str) -> Result<&'v str, DashboardError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        None | Some(Value::Null) => Err(invalid(format!("{at}.{field}"), "is missing")),
        Some(Value::String(_)) => Err(invalid(format!("{at}.{field}"), "is empty")),
        Some(other) => Err(invalid(format!("{at}.{field}"), format!("must be a string, got {}", describe(other)))),
    }
}

pub(crate) fn parse_event(param: &str, raw: &str) -> Result<EventSpec, DashboardError> {
    let value = parse_json(param, raw)?;
    let Value::Object(obj) = &value else {
        return Err(invalid(param, format!("must be a JSON object like {EVENT_EXAMPLE}, got {}", describe(&value))));
    };
    let event_type = str_field(obj, param, "event_type").map_err(|e| match e {
        DashboardError::Invalid { param, problem } => DashboardError::Invalid {
            param,
            problem: format!("{problem}; use e.g. {EVENT_EXAMPLE}, \"_all\" (any event) or \"_active\""),
        },
        other => other,
    })?;
    let event = match event_type {
        "_all" => EventSelector::Any,
        "_active" => EventSelector::Active,
        "_new" => EventSelector::New,
        "revenue_amount" | "verified_revenue" | "unverified_revenue" => {
            return Err(unsupported(
                format!("{param}.event_type {event_type:?}"),
                "name the event itself, e.g. ce:Purchase (m=sums with its price property sums revenue)",
            ));
        }
        name => EventSelector::Named(name.strip_prefix("ce:").unwrap_or(name).to_owned()),
    };
    let mut filters = Vec::new();
    for (i, f) in array_field(obj, param, "filters")?.iter().enumerate() {
        filters.push(parse_filter(&format!("{param}.filters[{i}]"), f)?);
    }
    let raw_group_by = array_field(obj, param, "group_by")?;
    if raw_group_by.len() > MAX_GROUP_BYS {
        return Err(DashboardError::TooManyGroupBys { at: param.to_owned(), count: raw_group_by.len(), with_g: false });
    }
    let mut group_by = Vec::new();
    for (i, g) in raw_group_by.iter().enumerate() {
        group_by.push(parse_group_by(&format!("{param}.group_by[{i}]"), g)?);
    }
    Ok(EventSpec { event, filters, group_by })
}

/// An optional array field (missing or `null` is empty).
fn array_field<'v>(obj: &'v Map<String, Value>, at: &str, field: &str) -> Result<&'v [Value], DashboardError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(invalid(format!("{at}.{field}"), format!("must be an array, got {}", describe(other)))),
    }
}

fn parse_filter(at: &str, v: &Value) -> Result<Filter, DashboardError> {
    let Value::Object(obj) = v else {
        return Err(invalid(
            at,
            format!(
                "must be an object {{\"subprop_type\", \"subprop_key\", \"subprop_op\", \"subprop_value\"}}, got {}",
                describe(v)
            ),
        ));
    };
    let kind = str_field(obj, at, "subprop_type")?;
    let key = str_field(obj, at, "subprop_key")?;
    let op = parse_op(&format!("{at}.subprop_op"), str_field(obj, at, "subprop_op")?)?;
    let values = parse_values(&format!("{at}.subprop_value"), obj.get("subprop_value"))?;
    let property = property_of(at, "subprop_type", kind, Some(key), obj.get("group_type"), false)?;
    Ok(Filter { property, op, values })
}

fn parse_group_by(at: &str, v: &Value) -> Result<PropertyRef, DashboardError> {
    let Value::Object(obj) = v else {
        return Err(invalid(at, format!("must be an object {{\"type\", \"value\"}}, got {}", describe(v))));
    };
    let kind = str_field(obj, at, "type")?;
    let key = match obj.get("value") {
        None | Some(Value::Null) if kind.trim().eq_ignore_ascii_case("group") => None,
        _ => Some(str_field(obj, at, "value")?),
    };
    property_of(at, "type", kind, key, obj.get("group_type"), true)
}

/// The property named by a filter's `subprop_type`/`subprop_key` or a group-by's `type`/`value`.
fn property_of(
    at: &str,
    type_field: &str,
    kind: &str,
    key: Option<&str>,
    group_type: Option<&Value>,
    group_by: bool,
) -> Result<PropertyRef, DashboardError> {
    let key = key.unwrap_or(GROUP_VALUE);
    let key_field = if group_by { "value" } else { "subprop_key" };
    match kind.trim().to_ascii_lowercase().as_str() {
        "event" => Ok(PropertyRef { source: PropertySource::Event, key: key.to_owned() }),
        "user" => user_level(&format!("{at}.{key_field}"), key),
        "group" => {
            let group_type = match group_type {
                Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
                _ => {
                    return Err(invalid(
                        format!("{at}.group_type"),
                        "is needed with type group: the group type whose property this is, e.g. \"org id\"",
                    ));
                }
            };
            Ok(group_property(group_type, key))
        }
        other => Err(invalid(format!("{at}.{type_field}"), format!("is {other:?}; use event, user or group"))),
    }
}

fn group_property(group_type: String, key: &str) -> PropertyRef {
    if key == GROUP_VALUE {
        return PropertyRef { source: PropertySource::GroupValue(group_type), key: String::new() };
    }
    if let Some(name) = key.strip_prefix(DYNAMIC_PREFIX) {
        return PropertyRef { source: PropertySource::Dynamic(group_type), key: name.to_owned() };
    }
    let key = key.strip_prefix("grp:").unwrap_or(key);
    PropertyRef { source: PropertySource::Group(group_type), key: key.to_owned() }
}

/// A user-level key: `gp:name`, a built-in name, or (leniently) a bare custom user property name.
fn user_level(at: &str, key: &str) -> Result<PropertyRef, DashboardError> {
    if key.starts_with("grp:") {
        return Err(invalid(
            at,
            format!(
                "is the group property {key:?} but has no group type; use {{\"type\":\"group\",\"group_type\":\"org \
                 id\",\"value\":{key:?}}}"
            ),
        ));
    }
    Ok(match key.strip_prefix("gp:") {
        Some(name) => PropertyRef { source: PropertySource::User, key: name.to_owned() },
        None if BUILTIN_PROPERTIES.contains(&key) => {
            PropertyRef { source: PropertySource::Builtin, key: key.to_owned() }
        }
        None => PropertyRef { source: PropertySource::User, key: key.to_owned() },
    })
}

fn parse_op(at: &str, op: &str) -> Result<FilterOp, DashboardError> {
    let normal = op.trim().to_ascii_lowercase().replace('_', " ");
    Ok(match normal.split_whitespace().collect::<Vec<_>>().join(" ").as_str() {
        "is" => FilterOp::Is,
        "is not" => FilterOp::IsNot,
        "contains" => FilterOp::Contains,
        "does not contain" => FilterOp::DoesNotContain,
        "less" => FilterOp::Less,
        "less or equal" => FilterOp::LessOrEqual,
        "greater" => FilterOp::Greater,
        "greater or equal" => FilterOp::GreaterOrEqual,
        "set is" => FilterOp::SetIs,
        "set is not" => FilterOp::SetIsNot,
        _ => return Err(DashboardError::UnknownOp { at: at.to_owned(), op: op.to_owned() }),
    })
}

/// Filter values: a list of strings (numbers and booleans as written, `null` as `(none)`); a single value is
/// taken as a one-element list.
fn parse_values(at: &str, v: Option<&Value>) -> Result<Vec<String>, DashboardError> {
    let one = |v: &Value| -> Result<String, DashboardError> {
        Ok(match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => NONE_LABEL.to_owned(),
            other => {
                return Err(invalid(at, format!("must hold strings, got {}", describe(other))));
            }
        })
    };
    match v {
        None => Err(invalid(at, "is missing; give the values to compare with as a list, e.g. [\"iOS\"]")),
        Some(Value::Array(items)) => items.iter().map(one).collect(),
        Some(single) => Ok(vec![one(single)?]),
    }
}

/// `m=sums` / `m=value_avg`: the property is `e`'s first group-by; it leaves `e`'s group-bys (and `e2`'s when
/// `e2` starts with the same one).
fn take_metric_property(events: &mut [EventSpec], metric: &str) -> Result<PropertyRef, DashboardError> {
    let Some(first) = events.first_mut() else {
        return Err(DashboardError::Missing { param: "e" });
    };
    if first.group_by.is_empty() {
        return Err(invalid(
            "e.group_by",
            format!(
                "is needed with m={metric}: its first entry is the property to aggregate, e.g. \
                 \"group_by\":[{{\"type\":\"event\",\"value\":\"price\"}}]"
            ),
        ));
    }
    let property = first.group_by.remove(0);
    for other in events.iter_mut().skip(1) {
        if other.group_by.first() == Some(&property) {
            other.group_by.remove(0);
        }
    }
    Ok(property)
}

/// One `g`: a user-level property name, or (Herd's extension) a group-by JSON object.
pub(crate) fn parse_g(raw: &str) -> Result<PropertyRef, DashboardError> {
    let raw = raw.trim();
    if raw.starts_with('{') {
        return parse_group_by("g", &parse_json("g", raw)?);
    }
    if raw.is_empty() {
        return Err(invalid("g", "is empty; name a property, e.g. g=country or g=gp:plan"));
    }
    user_level("g", raw)
}

/// One `s`: a list of conditions (one segment) or a list of such lists (several segments).
fn parse_segments(raw: &str, repeat: Option<usize>) -> Result<Vec<Vec<Filter>>, DashboardError> {
    let value = parse_json("s", raw)?;
    let Value::Array(items) = &value else {
        return Err(invalid(
            "s",
            format!(
                "must be a JSON array of conditions like [{{\"prop\":\"country\",\"op\":\"is\",\"values\":[\"France\"]}}], got {}",
                describe(&value)
            ),
        ));
    };
    let prefix = repeat.map_or_else(|| "s".to_owned(), |k| format!("s#{}", k + 1));
    if !items.is_empty() && items.iter().all(Value::is_array) {
        let mut segments = Vec::new();
        for (k, seg) in items.iter().enumerate() {
            let conditions = seg.as_array().map(Vec::as_slice).unwrap_or_default();
            segments.push(parse_conditions(&format!("{prefix}[{k}]"), conditions)?);
        }
        return Ok(segments);
    }
    Ok(vec![parse_conditions(&prefix, items)?])
}

fn parse_conditions(at: &str, items: &[Value]) -> Result<Vec<Filter>, DashboardError> {
    let mut filters = Vec::new();
    for (i, v) in items.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Value::Object(obj) = v else {
            return Err(invalid(
                at,
                format!("must be an object {{\"prop\", \"op\", \"values\"}}, got {}", describe(v)),
            ));
        };
        if obj.get("type").and_then(Value::as_str) == Some("event") {
            return Err(unsupported(
                format!("{at} (a \"who performed\" condition)"),
                "use property conditions {\"prop\", \"op\", \"values\"} in s, or filter the event in e",
            ));
        }
        let prop = str_field(obj, &at, "prop")?;
        let op = parse_op(&format!("{at}.op"), str_field(obj, &at, "op")?)?;
        let values = parse_values(&format!("{at}.values"), obj.get("values"))?;
        if prop == herd_model::cohort::COHORT_PROPERTY {
            if !matches!(op, FilterOp::Is | FilterOp::IsNot) {
                return Err(invalid(format!("{at}.op"), "must be is or is not in a cohort condition"));
            }
            let property = PropertyRef { source: PropertySource::Cohort, key: prop.to_owned() };
            filters.push(Filter { property, op, values });
            continue;
        }
        let property = match obj.get("group_type") {
            None | Some(Value::Null) => user_level(&format!("{at}.prop"), prop)?,
            group_type => property_of(&at, "type", "group", Some(prop), group_type, false)?,
        };
        filters.push(Filter { property, op, values });
    }
    Ok(filters)
}

fn parse_date(param: &str, text: &str) -> Result<Date, DashboardError> {
    let text = text.trim();
    Date::parse(text, format_description!("[year][month][day]"))
        .or_else(|_| Date::parse(text, format_description!("[year]-[month]-[day]")))
        .map_err(|_| invalid(param, format!("is {text:?}; write a date as YYYYMMDD, e.g. 20240131")))
}

/// The UTC offset of `UTC` (also empty and `Z`) and of fixed offsets `+HH:MM` / `-HH` (as the query engine reads
/// them), in seconds; `None` for anything else (an IANA name).
fn fixed_offset_secs(time_zone: &str) -> Option<i32> {
    let tz = time_zone.trim();
    if tz.is_empty() || tz.eq_ignore_ascii_case("utc") || tz == "Z" {
        return Some(0);
    }
    let (sign, rest) = match tz.as_bytes().first() {
        Some(b'+') => (1, &tz[1..]),
        Some(b'-') => (-1, &tz[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let secs = sign * (h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60);
    (secs.abs() < 86_400).then_some(secs)
}

fn utc_midnight(year: i32, month: u8, day: u8) -> i64 {
    let date = time::Month::try_from(month).ok().and_then(|m| Date::from_calendar_date(year, m, day).ok());
    date.map_or(0, |d| i64::from(d.to_julian_day() - OffsetDateTime::UNIX_EPOCH.date().to_julian_day()) * DAY_MS)
}

// ---------------------------------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------------------------------

/// Amplitude's response body for `result`, with `x_labels` as `xValues` (one per `result.x_values`; see
/// [`x_labels`] and [`format_x_value`]).
pub fn segmentation_response(req: &Segmentation, result: &SegmentationResult, x_labels: &[String]) -> Value {
    debug_assert_eq!(x_labels.len(), result.x_values.len(), "one label per bucket");
    let series: Vec<Value> = result.series.iter().map(|s| s.values.iter().copied().map(number).collect()).collect();
    let labels: Vec<Value> = result.series.iter().map(series_label).collect();
    let collapsed: Vec<Value> =
        result.series.iter().map(|s| json!([{"setId": "", "value": number(s.total)}])).collect();
    let meta: Vec<Value> = result
        .series
        .iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert("segmentIndex".into(), s.segment_index.into());
            m.insert("eventIndex".into(), s.event_index.into());
            m.insert("labels".into(), s.labels.clone().into());
            if let Some(formula) = &req.formula {
                m.insert("formulaIndex".into(), 0.into());
                m.insert("formula".into(), formula.clone().into());
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "data": {
            "series": series,
            "seriesLabels": labels,
            "seriesCollapsed": collapsed,
            "xValues": x_labels,
            "seriesMeta": meta,
        }
    })
}

/// `0` (the segment index) without group-bys, `[segmentIndex, "value"]` with them.
fn series_label(s: &Series) -> Value {
    if s.labels.is_empty() { s.segment_index.into() } else { json!([s.segment_index, s.labels.join("; ")]) }
}

/// A whole number as a JSON integer, others as floats, non-finite as 0.
fn number(v: f64) -> Value {
    if !v.is_finite() {
        return 0.into();
    }
    if v.fract() == 0.0 && v.abs() < 9e15 {
        return (v as i64).into();
    }
    v.into()
}

/// `xValues` for bucket starts in `time_zone` when it is `UTC` or a fixed offset; `None` for IANA names (use
/// [`format_x_value`] with the zone's offset at each bucket start).
pub fn x_labels(x_values: &[i64], interval: Interval, time_zone: &str) -> Option<Vec<String>> {
    let offset_ms = i64::from(fixed_offset_secs(time_zone)?) * 1000;
    Some(x_values.iter().map(|ms| format_x_value(ms + offset_ms, interval)).collect())
}

/// One `xValues` label from a local wall-clock time (the bucket start plus the zone's offset then, in ms):
/// `YYYY-MM-DD` for daily, weekly and monthly charts, `YYYY-MM-DDTHH:MM:SS` for hourly and real-time ones.
pub fn format_x_value(wall_clock_ms: i64, interval: Interval) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(wall_clock_ms.div_euclid(1000))
        .map(|t| t + Duration::milliseconds(wall_clock_ms.rem_euclid(1000)))
    else {
        return wall_clock_ms.to_string();
    };
    let formatted = match interval {
        Interval::FiveMinutes | Interval::Hour => {
            t.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"))
        }
        Interval::Day | Interval::Week | Interval::Month => t.format(format_description!("[year]-[month]-[day]")),
    };
    formatted.unwrap_or_else(|_| wall_clock_ms.to_string())
}

#[cfg(test)]
mod tests;
