//! Amplitude's retention endpoint (`GET /api/2/retention`, research §7.4): the query string in, as a
//! [`Retention`]; a [`RetentionResult`] out, as Amplitude's response body.
//!
//! Decisions where Amplitude's docs are silent or where Herd adds to them:
//! - **Query string.** `se` is the start event JSON (`_new`: each unit's first event ever; `_active`, `_all` or an
//!   event), `re` the return event (`_all`, `_active` or an event); both default to `_active`. `rm` is `n-day`
//!   (also `nday`, the spelling the live API accepts; the default), `rolling` (return on or after) or `bracket`
//!   with `rb`, a JSON list of half-open day ranges (`[[0,5]]` is day 0 to day 4). `i` is 1, 7 or 30 (periods of
//!   24 hours, 7 days or 30 days from each unit's start, times rounded down to the hour). `periods` (Herd's
//!   extension) sets how many periods after period 0 are counted (default 30 days, 12 weeks or 12 months; at most
//!   62). `s`, `g` (one), `countGroup`, `properties` and `limit` are as for event segmentation.
//! - **Response.** `data.series` has one element per segment and group-by value: `dates` (cohort days as
//!   `Mon DD`, latest first; `, YYYY` outside the current year), `values` keyed by those dates (n-day and rolling:
//!   index 0 the cohort's size, index N period N; brackets: one cell per bracket), `combined` (each unit once, in
//!   its first cohort, over the cohorts whose period has begun; `retainedSetId` is `null`). `data.seriesMeta`
//!   has `segmentIndex`, `eventIndex` (0) and, with `g`, `groupValue`. Herd adds `datesISO` (`YYYY-MM-DD`).

use herd_model::report::{EventSelector, EventSpec, Interval};
use herd_model::retention::{Retention, RetentionCell, RetentionMode, RetentionResult};
use serde_json::{Map, Value, json};

use crate::dashboard::{
    DashboardError, Params, invalid, parse_all_segments, parse_count_by, parse_event, parse_g, parse_json, parse_limit,
    parse_property_mode, parse_range,
};
use crate::form::Form;

const MAX_DAYS: i64 = 366;

fn event_or_active(params: &Params<'_>, name: &'static str) -> Result<EventSpec, DashboardError> {
    match params.single(name)? {
        None => Ok(EventSpec { event: EventSelector::Active, filters: vec![], group_by: vec![] }),
        Some(raw) => {
            let spec = parse_event(name, raw)?;
            if !spec.group_by.is_empty() {
                return Err(invalid(name, "has a group_by; retention groups by one property, given as g"));
            }
            Ok(spec)
        }
    }
}

fn parse_brackets(raw: &str) -> Result<Vec<(u32, u32)>, DashboardError> {
    let hint = "must be a JSON list of [from, to) day ranges, e.g. [[0,5],[5,10]] for day 0-4 and day 5-9";
    let Value::Array(items) = parse_json("rb", raw)? else { return Err(invalid("rb", hint)) };
    items
        .iter()
        .map(|b| match b.as_array().map(Vec::as_slice) {
            Some([Value::Number(a), Value::Number(b)]) => match (a.as_u64(), b.as_u64()) {
                (Some(a), Some(b)) if a < b && b <= 63 => Ok((a as u32, b as u32)),
                _ => Err(invalid("rb", format!("has [{a},{b}]; a bracket is [from, to) with from < to ≤ 63"))),
            },
            _ => Err(invalid("rb", hint)),
        })
        .collect()
}

/// Parses a retention query string; `local_midnight` as for [`crate::parse_segmentation_with`].
pub fn parse_retention_with(
    query: &str,
    time_zone: &str,
    local_midnight: &dyn Fn(i32, u8, u8) -> i64,
) -> Result<Retention, DashboardError> {
    let form = Form::parse_query(query);
    let params = Params(form.pairs());
    let start = event_or_active(&params, "se")?;
    let returning = event_or_active(&params, "re")?;
    if returning.event == EventSelector::New {
        return Err(invalid("re", "is _new; the return event is _all, _active or an event"));
    }
    let rb = params.single("rb")?;
    let mode = match params.single("rm")?.map(str::trim) {
        None | Some("n-day" | "nday") => RetentionMode::NDay,
        Some("rolling") => RetentionMode::Rolling,
        Some("bracket") => match rb {
            Some(raw) => RetentionMode::Bracket(parse_brackets(raw)?),
            None => return Err(DashboardError::Missing { param: "rb" }),
        },
        Some(other) => {
            return Err(invalid("rm", format!("is {other:?}; use n-day (the default), rolling or bracket (with rb)")));
        }
    };
    if rb.is_some() && !matches!(mode, RetentionMode::Bracket(_)) {
        return Err(invalid("rb", "is only used with rm=bracket"));
    }
    let interval = match params.single("i")?.map(str::trim) {
        None | Some("1") => Interval::Day,
        Some("7") => Interval::Week,
        Some("30") => Interval::Month,
        Some(other) => return Err(invalid("i", format!("is {other:?}; use 1 (daily, the default), 7 or 30"))),
    };
    let periods = match params.single("periods")?.map(str::trim) {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(n @ 1..=Retention::MAX_PERIODS) => Some(n),
            _ => return Err(invalid("periods", format!("is {text:?}; use 1 to {}", Retention::MAX_PERIODS))),
        },
    };
    let group_by = match params.all("g").collect::<Vec<_>>().as_slice() {
        [] => None,
        [g] => Some(parse_g(g)?),
        more => return Err(invalid("g", format!("is given {} times; retention groups by one property", more.len()))),
    };
    let segments = parse_all_segments(&params)?;
    let (start_ms, end_ms, days) = parse_range(&params, local_midnight)?;
    if days > MAX_DAYS {
        return Err(invalid("end", format!("makes a range of {days} days; retention covers at most {MAX_DAYS}")));
    }
    Ok(Retention {
        start,
        returning,
        mode,
        start_ms,
        end_ms,
        interval,
        periods,
        count_by: parse_count_by(&params)?,
        segments,
        group_by,
        property_mode: parse_property_mode(&params)?,
        limit: parse_limit(&params)?,
        time_zone: if time_zone.trim().is_empty() { "UTC".into() } else { time_zone.to_owned() },
    })
}

fn cell(c: &RetentionCell, combined: bool) -> Value {
    let mut m = Map::new();
    m.insert("count".into(), c.count.into());
    m.insert("outof".into(), c.outof.into());
    if combined {
        m.insert("retainedSetId".into(), Value::Null);
    }
    m.insert("incomplete".into(), c.incomplete.into());
    Value::Object(m)
}

/// Amplitude's response body. `label(start_ms)` gives a cohort's `Mon DD` date and `iso(start_ms)` its
/// `YYYY-MM-DD` date (both in the project's time zone).
pub fn retention_response(
    result: &RetentionResult,
    label: &dyn Fn(i64) -> String,
    iso: &dyn Fn(i64) -> String,
) -> Value {
    let mut series = Vec::new();
    let mut meta = Vec::new();
    for s in &result.series {
        let dates: Vec<String> = s.cohorts.iter().map(|c| label(c.start_ms)).collect();
        let values: Map<String, Value> = s
            .cohorts
            .iter()
            .map(|c| (label(c.start_ms), c.cells.iter().map(|x| cell(x, false)).collect::<Vec<_>>().into()))
            .collect();
        series.push(json!({
            "dates": dates,
            "datesISO": s.cohorts.iter().map(|c| iso(c.start_ms)).collect::<Vec<_>>(),
            "values": values,
            "combined": s.combined.iter().map(|x| cell(x, true)).collect::<Vec<_>>(),
        }));
        let mut m = json!({"segmentIndex": s.segment_index, "eventIndex": 0});
        if let Some(l) = &s.label {
            m["groupValue"] = l.clone().into();
        }
        meta.push(m);
    }
    json!({"data": {"series": series, "seriesMeta": meta}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<Retention, DashboardError> {
        parse_retention_with(q, "UTC", &|y, m, d| {
            let date = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
            date.midnight().assume_utc().unix_timestamp() * 1000
        })
    }

    #[test]
    fn parses_events_modes_and_brackets() {
        let r = parse(r#"se={"event_type":"_new"}&re={"event_type":"ce:play"}&start=20260105&end=20260111&rm=bracket&rb=[[0,5],[5,10]]&i=7&countGroup=org"#).unwrap();
        assert_eq!(r.start.event, EventSelector::New);
        assert_eq!(r.returning.event, EventSelector::Named("play".into()));
        assert_eq!(r.mode, RetentionMode::Bracket(vec![(0, 5), (5, 10)]));
        assert_eq!(r.interval, Interval::Week);
        let r = parse("start=20260105&end=20260105&rm=nday").unwrap();
        assert_eq!(
            (r.start.event, r.returning.event, r.mode),
            (EventSelector::Active, EventSelector::Active, RetentionMode::NDay)
        );
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let base = "start=20260105&end=20260111";
        let err = |extra: &str| parse(&format!("{base}&{extra}")).unwrap_err().to_string();
        assert!(err("rm=bracket").contains("rb"));
        assert!(err("rm=bracket&rb=[[5,2]]").contains("from < to"));
        assert!(err("rb=[[0,5]]").contains("only used with rm=bracket"));
        assert!(err("rm=weekly").contains("n-day (the default), rolling or bracket"));
        assert!(err(r#"re={"event_type":"_new"}"#).contains("_all, _active or an event"));
        assert!(err("periods=0").contains("1 to 62"));
    }
}
