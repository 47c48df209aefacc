//! Amplitude's smaller Dashboard REST endpoints (research §7.5): active and new users (`/api/2/users`, also by
//! group with `countGroup`), real-time active users (`/api/2/realtime`), the events list (`/api/2/events/list`),
//! the event taxonomy (`/api/2/taxonomy/event`), user search (`/api/2/usersearch`) and user activity
//! (`/api/2/useractivity`): their parameters in, their response bodies out.
//!
//! Decisions where Amplitude's docs are silent:
//! - `/api/2/users` is an event segmentation of `_active` (`m=active`, default) or `_new` (`m=new`: each unit's
//!   first event ever) with uniques, so `start`, `end`, `i`, `s`, `g`, `countGroup` and `properties` mean what
//!   they mean there; the body keeps Amplitude's `series`, `seriesMeta` and `xValues`.
//! - `/api/2/realtime` counts active units in 5-minute buckets of today and yesterday (project time zone); today's
//!   series stops at the current bucket.
//! - `/api/2/events/list` counts the current calendar week (from Sunday, project time zone): `totals` are events,
//!   `value` distinct users; event types seen only before this week are listed with zeros.
//! - `/api/2/usersearch` matches an `amplitude_id`, a device id, a user id, then user ids starting with the text
//!   (at most 100 matches, by `amplitude_id`).

use herd_model::report::Segmentation;
use serde_json::{Map, Value, json};

use crate::dashboard::{DashboardError, parse_segmentation_with};
use crate::form::Form;

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Parses `/api/2/users` into the segmentation it stands for.
pub fn parse_users(
    query: &str,
    time_zone: &str,
    local_midnight: &dyn Fn(i32, u8, u8) -> i64,
) -> Result<Segmentation, DashboardError> {
    let form = Form::parse_query(query);
    let mut metric: Option<&str> = None;
    let mut pairs: Vec<String> = Vec::new();
    for (k, v) in form.pairs() {
        match k.as_str() {
            "m" if metric.is_some() => {
                return Err(DashboardError::Invalid {
                    param: "m".into(),
                    problem: "is given twice; give it once".into(),
                });
            }
            "m" => metric = Some(v),
            "e" | "e2" | "formula" => {
                return Err(DashboardError::Invalid {
                    param: k.clone(),
                    problem: "is not a parameter of /api/2/users (it counts active or new users; use m)".into(),
                });
            }
            _ => pairs.push(format!("{}={}", encode(k), encode(v))),
        }
    }
    let event = match metric.unwrap_or("active") {
        "active" => "_active",
        "new" => "_new",
        other => {
            return Err(DashboardError::Invalid {
                param: "m".into(),
                problem: format!("is {other:?}; use active or new"),
            });
        }
    };
    pairs.push(format!("e={}", encode(&json!({ "event_type": event }).to_string())));
    parse_segmentation_with(&pairs.join("&"), time_zone, local_midnight)
}

/// The `/api/2/users` body from the segmentation answer's body ([`crate::segmentation_response`]).
pub fn users_response(segmentation_body: &Value) -> Value {
    let data = &segmentation_body["data"];
    json!({"data": {"series": data["series"], "seriesMeta": data["seriesMeta"], "xValues": data["xValues"]}})
}

/// The `/api/2/realtime` body: `x_labels` are the day's `HH:MM` slots.
pub fn realtime_response(x_labels: &[String], today: &[f64], yesterday: &[f64]) -> Value {
    json!({"data": {"xValues": x_labels, "seriesLabels": ["Today", "Yesterday"], "series": [today, yesterday]}})
}

/// One event type of `/api/2/events/list`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventTypeSummary {
    pub name: String,
    /// Events this week.
    pub totals: u64,
    /// Distinct users this week.
    pub users: u64,
}

/// The `/api/2/events/list` body.
pub fn events_list_response(events: &[EventTypeSummary]) -> Value {
    let data: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({"name": e.name, "display": e.name, "totals": e.totals, "value": e.users, "non_active": false,
                   "deleted": false, "hidden": false, "flow_hidden": false})
        })
        .collect();
    json!({ "data": data })
}

/// One event type of the taxonomy, with what Herd saw of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaxonomyEvent {
    pub event_type: String,
    /// Event property names seen, sorted.
    pub properties: Vec<String>,
    pub events: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// The `/api/2/taxonomy/event` body: Amplitude's `event_type`, `category`, `description`, plus Herd's
/// `properties`, `events`, `first_seen` and `last_seen` (what was instrumented, for data QA).
pub fn taxonomy_response(events: &[TaxonomyEvent]) -> Value {
    let data: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({"event_type": e.event_type, "category": {"name": null}, "description": null,
                   "properties": e.properties, "events": e.events, "first_seen": e.first_seen,
                   "last_seen": e.last_seen})
        })
        .collect();
    json!({"success": true, "data": data})
}

/// The `/api/2/usersearch` body.
pub fn user_search_response(matches: &[(Option<String>, u64)]) -> Value {
    if matches.is_empty() {
        return json!({"type": "nomatch", "matches": []});
    }
    let matches: Vec<Value> =
        matches.iter().map(|(user_id, aid)| json!({"user_id": user_id, "amplitude_id": aid})).collect();
    json!({"type": "match_user_or_device_id", "matches": matches})
}

/// The `/api/2/useractivity` body from the user's fields and events (export-row-like objects).
pub fn user_activity_response(user_data: Map<String, Value>, events: Vec<Value>) -> Value {
    json!({"userData": user_data, "events": events})
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_model::report::{CountBy, EventSelector, Interval};

    fn midnight(y: i32, m: u8, d: u8) -> i64 {
        let date = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
        (date.to_julian_day() - time::OffsetDateTime::UNIX_EPOCH.date().to_julian_day()) as i64 * 86_400_000
    }

    #[test]
    fn users_is_a_segmentation_of_active_or_new() {
        let r = parse_users("start=20260101&end=20260107&i=7&countGroup=org", "UTC", &midnight).unwrap();
        assert_eq!(r.events[0].event, EventSelector::Active);
        assert_eq!(r.interval, Interval::Week);
        assert_eq!(r.count_by, CountBy::Group("org".into()));
        let r = parse_users("start=20260101&end=20260107&m=new", "UTC", &midnight).unwrap();
        assert_eq!(r.events[0].event, EventSelector::New);
        assert!(parse_users("start=20260101&end=20260107&m=old", "UTC", &midnight).is_err());
        assert!(parse_users("start=20260101&end=20260107&e=x", "UTC", &midnight).is_err());
        assert!(parse_users("m=new", "UTC", &midnight).is_err(), "start and end are needed");
    }

    #[test]
    fn search_bodies() {
        assert_eq!(user_search_response(&[]), json!({"type": "nomatch", "matches": []}));
        assert_eq!(
            user_search_response(&[(Some("alice".into()), 7)]),
            json!({"type": "match_user_or_device_id", "matches": [{"user_id": "alice", "amplitude_id": 7}]})
        );
    }
}
