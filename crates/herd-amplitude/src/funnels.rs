//! Amplitude's funnel endpoint (`GET /api/2/funnels`, research §7.3): the query string in, as a [`Funnel`]; a
//! [`FunnelResult`] out, as Amplitude's response body.
//!
//! Decisions where Amplitude's docs are silent or where Herd adds to them:
//! - **Query string.** One `e` per step, in order (2 to 32 steps); each step's `group_by` is refused (a funnel
//!   groups by `g`, one property). `mode` is `ordered` (default), `unordered` or `sequential`; `n` is `active`
//!   (default) or `new` (units whose first event ever is in the range); `cs` is the conversion window in seconds
//!   (default 2,592,000 = 30 days; unordered funnels round it down to whole days, at least one); `i` (1, 7, 30)
//!   buckets `dayFunnels` by the day, week or month of entry. `s`, `countGroup`, `properties` and `limit` are as
//!   for event segmentation. Ranges are capped at 366 days.
//! - **Response.** One `data` element per segment and group-by value, as Amplitude's captured responses show:
//!   `meta.segmentIndex`, `groupValue` (`""` without `g`; `(none)` for entry events without the property),
//!   `events` (the step names), `cumulativeRaw`, `cumulative`, `stepByStep`, `medianTransTimes` and
//!   `avgTransTimes` (ms; index 0 is the whole funnel's, entry to last step, over the units that completed it;
//!   index k the time from step k−1 to step k), `dayFunnels` (`series[day][step]`, columns summing to
//!   `cumulativeRaw` since each unit is counted on the day of its entry), `dayMedianTransTimes` and
//!   `dayAvgTransTimes` (-1 where nobody converted that day), `convertedCounts` and `dropoffCounts` (keyed by step
//!   index), and a top-level `numSeries`. Amplitude's Microscope handles (`converted`, `dropoff`, …), the
//!   histograms (`stepTransTimeDistribution`, `stepPrevStepCountDistribution`) and `propsum` are left out.
//! - **`formattedXValues`** are `Mon DD` in the current year and `Mon DD, YYYY` otherwise, as observed.

use herd_model::funnel::{DEFAULT_WINDOW_MS, Entrants, Funnel, FunnelMode, FunnelResult, FunnelSeries};
use herd_model::report::{EventSelector, Interval};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::dashboard::{
    DashboardError, Params, invalid, parse_all_segments, parse_count_by, parse_event, parse_g, parse_limit,
    parse_property_mode, parse_range,
};
use crate::form::Form;

/// Range cap of a funnel, days.
const MAX_DAYS: i64 = 366;

/// Parses a funnel query string; `local_midnight` as for [`crate::parse_segmentation_with`].
pub fn parse_funnel_with(
    query: &str,
    time_zone: &str,
    local_midnight: &dyn Fn(i32, u8, u8) -> i64,
) -> Result<Funnel, DashboardError> {
    let form = Form::parse_query(query);
    let params = Params(form.pairs());
    let raw_steps: Vec<&str> = params.all("e").collect();
    if raw_steps.len() < 2 {
        return Err(invalid(
            "e",
            format!(
                "is given {} time(s); a funnel needs one e per step, at least two, e.g. \
                 e={{\"event_type\":\"Sign Up\"}}&e={{\"event_type\":\"Purchase\"}}",
                raw_steps.len()
            ),
        ));
    }
    if raw_steps.len() > Funnel::MAX_STEPS {
        return Err(invalid(
            "e",
            format!("is given {} times; a funnel has at most {}", raw_steps.len(), Funnel::MAX_STEPS),
        ));
    }
    let mut steps = Vec::with_capacity(raw_steps.len());
    for (i, raw) in raw_steps.iter().enumerate() {
        let at = format!("e#{}", i + 1);
        let step = parse_event(&at, raw)?;
        if !step.group_by.is_empty() {
            return Err(invalid(at, "has a group_by; a funnel groups by one property, given as g"));
        }
        if step.event == EventSelector::New {
            return Err(invalid(at, "is _new; use n=new to let only new users (or groups) enter"));
        }
        steps.push(step);
    }
    let mode = match params.single("mode")?.map(str::trim) {
        None | Some("ordered") => FunnelMode::Ordered,
        Some("unordered") => FunnelMode::Unordered,
        Some("sequential") => FunnelMode::Sequential,
        Some(other) => {
            return Err(invalid("mode", format!("is {other:?}; use ordered (the default), unordered or sequential")));
        }
    };
    let entrants = match params.single("n")?.map(str::trim) {
        None | Some("active") => Entrants::Active,
        Some("new") => Entrants::New,
        Some(other) => return Err(invalid("n", format!("is {other:?}; use active (the default) or new"))),
    };
    let window_ms = match params.single("cs")?.map(str::trim) {
        None => DEFAULT_WINDOW_MS,
        Some(text) => match text.parse::<i64>() {
            Ok(secs @ 1..=31_622_400) => secs * 1000,
            _ => {
                return Err(invalid(
                    "cs",
                    format!("is {text:?}; give the conversion window in seconds, 1 to 31622400 (366 days)"),
                ));
            }
        },
    };
    let interval = match params.single("i")?.map(str::trim) {
        None | Some("1") => Interval::Day,
        Some("7") => Interval::Week,
        Some("30") => Interval::Month,
        Some(other) => return Err(invalid("i", format!("is {other:?}; use 1 (daily, the default), 7 or 30"))),
    };
    let group_by = match params.all("g").collect::<Vec<_>>().as_slice() {
        [] => None,
        [g] => Some(parse_g(g)?),
        more => return Err(invalid("g", format!("is given {} times; a funnel groups by one property", more.len()))),
    };
    let segments = parse_all_segments(&params)?;
    let (start_ms, end_ms, days) = parse_range(&params, local_midnight)?;
    if days > MAX_DAYS {
        return Err(invalid("end", format!("makes a range of {days} days; a funnel covers at most {MAX_DAYS}")));
    }
    Ok(Funnel {
        steps,
        mode,
        window_ms,
        entrants,
        start_ms,
        end_ms,
        interval,
        count_by: parse_count_by(&params)?,
        segments,
        group_by,
        property_mode: parse_property_mode(&params)?,
        limit: parse_limit(&params)?,
        time_zone: if time_zone.trim().is_empty() { "UTC".into() } else { time_zone.to_owned() },
    })
}

/// The display name of a step, as Amplitude's `events` lists them.
fn step_name(step: &herd_model::report::EventSpec) -> String {
    match &step.event {
        EventSelector::Named(n) => n.clone(),
        EventSelector::Any => "_all".into(),
        EventSelector::Active | EventSelector::New => "_active".into(),
    }
}

/// `Mon DD`, with `, YYYY` when the day is not in `current_year`.
pub fn format_funnel_day(wall_clock_ms: i64, current_year: i32) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(wall_clock_ms.div_euclid(1000)) else {
        return wall_clock_ms.to_string();
    };
    let month = &t.month().to_string()[..3];
    if t.year() == current_year {
        format!("{month} {:02}", t.day())
    } else {
        format!("{month} {:02}, {}", t.day(), t.year())
    }
}

fn keyed(values: impl Iterator<Item = u64>) -> Value {
    Value::Object(values.enumerate().map(|(i, v)| (i.to_string(), v.into())).collect::<Map<String, Value>>())
}

fn day_series(x_labels: &[String], formatted: &[String], series: Vec<Value>) -> Value {
    json!({"xValues": x_labels, "series": series, "formattedXValues": formatted})
}

fn one(req: &Funnel, s: &FunnelSeries, x_labels: &[String], formatted: &[String]) -> Value {
    let counts = &s.counts;
    let times = |v: &[Option<i64>]| -> Value { v.iter().map(|t| t.unwrap_or(-1)).collect::<Vec<_>>().into() };
    json!({
        "meta": {"segmentIndex": s.segment_index},
        "groupValue": s.label.clone().unwrap_or_default(),
        "events": req.steps.iter().map(step_name).collect::<Vec<_>>(),
        "cumulativeRaw": counts,
        "cumulative": s.cumulative(),
        "stepByStep": s.step_by_step(),
        "medianTransTimes": s.median_ms,
        "avgTransTimes": s.average_ms,
        "dayFunnels": day_series(x_labels, formatted, s.by_bucket.iter().map(|c| json!(c)).collect()),
        "dayMedianTransTimes": day_series(x_labels, formatted, s.bucket_median_ms.iter().map(|v| times(v)).collect()),
        "dayAvgTransTimes": day_series(x_labels, formatted, s.bucket_average_ms.iter().map(|v| times(v)).collect()),
        "convertedCounts": keyed(counts.iter().copied()),
        "dropoffCounts": keyed((0..counts.len()).map(|i| if i == 0 { 0 } else { counts[i - 1] - counts[i] })),
    })
}

/// Amplitude's response body; `x_labels` are the `YYYY-MM-DD` labels of `result.x_values` (see
/// [`crate::format_x_value`]) and `formatted` their [`format_funnel_day`] forms.
pub fn funnel_response(req: &Funnel, result: &FunnelResult, x_labels: &[String], formatted: &[String]) -> Value {
    let data: Vec<Value> = result.series.iter().map(|s| one(req, s, x_labels, formatted)).collect();
    json!({"data": data, "numSeries": data.len()})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<Funnel, DashboardError> {
        parse_funnel_with(q, "UTC", &|y, m, d| {
            let date = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
            date.midnight().assume_utc().unix_timestamp() * 1000
        })
    }

    #[test]
    fn parses_steps_mode_window_and_group_by() {
        let f = parse(
            r#"e={"event_type":"ce:signup"}&e={"event_type":"pay","filters":[{"subprop_type":"event","subprop_key":"plan","subprop_op":"is","subprop_value":["pro"]}]}&start=20260105&end=20260111&mode=sequential&cs=3600&n=new&g=country&countGroup=org&i=7"#,
        )
        .unwrap();
        assert_eq!(f.steps.len(), 2);
        assert_eq!(f.steps[0].event, EventSelector::Named("signup".into()));
        assert_eq!(f.steps[1].filters.len(), 1);
        assert_eq!(
            (f.mode, f.window_ms, f.entrants, f.interval),
            (FunnelMode::Sequential, 3_600_000, Entrants::New, Interval::Week)
        );
        assert_eq!(f.end_ms - f.start_ms, 7 * 86_400_000);
        assert_eq!(f.count_by, herd_model::report::CountBy::Group("org".into()));
        assert!(f.group_by.is_some());
    }

    #[test]
    fn refuses_what_it_cannot_use_and_says_how_to_fix_it() {
        let one = r#"e={"event_type":"a"}&start=20260105&end=20260111"#;
        assert!(parse(one).unwrap_err().to_string().contains("at least two"));
        let two = r#"e={"event_type":"a"}&e={"event_type":"b"}&start=20260105&end=20260111"#;
        let err = |extra: &str| parse(&format!("{two}&{extra}")).unwrap_err().to_string();
        assert!(err("mode=strict").contains("ordered (the default), unordered or sequential"));
        assert!(err("cs=0").contains("seconds"));
        assert!(err("n=old").contains("active (the default) or new"));
        assert!(err("g=country&g=city").contains("one property"));
        assert!(err("i=-3600000").contains("use 1"));
        let new_step = r#"e={"event_type":"_new"}&e={"event_type":"b"}&start=20260105&end=20260111"#;
        assert!(parse(new_step).unwrap_err().to_string().contains("n=new"));
    }

    #[test]
    fn day_labels_carry_the_year_only_outside_the_current_one() {
        let d = 1_767_571_200_000; // 2026-01-05
        assert_eq!(format_funnel_day(d, 2026), "Jan 05");
        assert_eq!(format_funnel_day(d, 2027), "Jan 05, 2026");
    }
}
