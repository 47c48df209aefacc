//! Amplitude's smaller Dashboard REST endpoints with HTTP Basic `api_key:secret_key`: `/api/2/users`,
//! `/api/2/realtime`, `/api/2/events/list`, `/api/2/taxonomy/event`, `/api/2/usersearch`, `/api/2/useractivity`.
//! Wire shapes live in `herd_amplitude::rest`; the numbers come from `herd_query`.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use herd_amplitude as amp;
use herd_model::report::{CountBy, EventSelector, EventSpec, Interval, Metric, PropertyMode, Segmentation};
use herd_query::buckets::{Zone, bucket_start};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{ApiError, Fault};
use crate::export::query_project;
use crate::query::{check_group_type, query_error};

fn bad(param: &str, problem: impl std::fmt::Display) -> ApiError {
    let message = format!("{param} {problem}");
    ApiError::json(
        Fault::BadRequest,
        |code| json!({"code": code, "error": format!("Invalid parameter: {param}"), "message": message}),
    )
}

fn zone_of(project: &herd_store::ProjectStore) -> Result<(String, Zone), ApiError> {
    let settings = project.record().settings;
    let name = settings.get(herd_query::TIME_ZONE_SETTING).cloned().unwrap_or_else(|| "UTC".into());
    let zone = herd_query::project_zone(&settings)
        .map_err(|e| ApiError::herd(Fault::Internal, "Project misconfigured", e.to_string()))?;
    Ok((name, zone))
}

fn params(query: &Option<String>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| bad("query string", format!("is malformed: {e}")))
}

fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `GET /api/2/users`: active or new users (or groups, with `countGroup`) per interval.
pub async fn users(State(s): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let (tz, zone) = zone_of(&project)?;
        let req = amp::parse_users(q.as_deref().unwrap_or(""), &tz, &|y, m, d| zone.midnight(y, m, d))
            .map_err(|e| ApiError::json(e.kind().into(), |c| e.body(c)))?;
        check_group_type(&project, &req.count_by)?;
        let result = s.queries.segmentation(project, req.clone()).await.map_err(query_error)?;
        let labels: Vec<String> =
            result.x_values.iter().map(|x| amp::format_x_value(x + zone.offset_ms(*x), req.interval)).collect();
        let body = amp::segmentation_response(&req, &result, &labels);
        Ok::<_, ApiError>(Json(amp::users_response(&body)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

fn count_by(pairs: &[(String, String)]) -> CountBy {
    match single(pairs, "countGroup") {
        None | Some("User") => CountBy::User,
        Some(t) => CountBy::Group(t.to_owned()),
    }
}

/// `GET /api/2/realtime`: active units per 5 minutes, today and yesterday.
pub async fn realtime(State(s): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let pairs = params(&q)?;
        let (tz, zone) = zone_of(&project)?;
        let now = herd_store::now_ms();
        let today = bucket_start(now, Interval::Day, zone);
        let yesterday = bucket_start(today - 1, Interval::Day, zone);
        let req = Segmentation {
            events: vec![EventSpec { event: EventSelector::Active, filters: vec![], group_by: vec![] }],
            metric: Metric::Uniques,
            formula: None,
            interval: Interval::FiveMinutes,
            start_ms: yesterday,
            end_ms: bucket_start(now, Interval::FiveMinutes, zone) + 300_000,
            count_by: count_by(&pairs),
            segments: vec![],
            property_mode: PropertyMode::Stamped,
            limit: 1,
            time_zone: tz,
        };
        check_group_type(&project, &req.count_by)?;
        let result = s.queries.segmentation(project, req).await.map_err(query_error)?;
        let values = result.series.first().map(|s| s.values.clone()).unwrap_or_default();
        let (mut before, mut after) = (Vec::new(), Vec::new());
        let mut labels = Vec::new();
        for (x, v) in result.x_values.iter().zip(values) {
            if *x < today {
                before.push(v);
                let local = amp::format_x_value(x + zone.offset_ms(*x), Interval::FiveMinutes);
                labels.push(local.get(11..16).unwrap_or_default().to_owned());
            } else {
                after.push(v);
            }
        }
        Ok::<_, ApiError>(Json(amp::realtime_response(&labels, &after, &before)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/2/events/list`: event types with this week's events and users.
pub async fn events_list(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let (_, zone) = zone_of(&project)?;
        let week = bucket_start(herd_store::now_ms(), Interval::Week, zone);
        let stats = s.queries.event_types(project, week).await.map_err(query_error)?;
        let list: Vec<amp::EventTypeSummary> = stats
            .into_iter()
            .map(|e| amp::EventTypeSummary { name: e.event_type, totals: e.period_events, users: e.period_users })
            .collect();
        Ok::<_, ApiError>(Json(amp::events_list_response(&list)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/2/taxonomy/event`: every event type seen, with its event properties.
pub async fn taxonomy(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let stats = s.queries.event_types(project, i64::MIN).await.map_err(query_error)?;
        let list: Vec<amp::TaxonomyEvent> = stats
            .into_iter()
            .map(|e| amp::TaxonomyEvent {
                event_type: e.event_type,
                properties: e.properties,
                events: e.events,
                first_seen: amp::format_export_time(e.first_seen_ms).unwrap_or_default(),
                last_seen: amp::format_export_time(e.last_seen_ms).unwrap_or_default(),
            })
            .collect();
        Ok::<_, ApiError>(Json(amp::taxonomy_response(&list)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// The user an `amplitude_id` stands for now (anonymous users merged into another resolve to it).
fn canonical(users: &[(u64, herd_store::UserState)], id: u64) -> u64 {
    users.iter().find(|(i, _)| *i == id).and_then(|(_, u)| u.merged_into).unwrap_or(id)
}

/// `GET /api/2/usersearch?user=`: by amplitude id, device id, user id, then user id prefix.
pub async fn user_search(State(s): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let pairs = params(&q)?;
        let text = single(&pairs, "user").map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
            bad("user", "is required: an amplitude id, a device id, a user id or the start of a user id")
        })?;
        let users = project.users().map_err(ApiError::store)?;
        let id_match = text.parse::<u64>().ok();
        let mut found: Vec<u64> = users
            .iter()
            .filter(|(id, u)| {
                Some(*id) == id_match || u.user_id.as_deref() == Some(text) || u.device_ids.iter().any(|d| d == text)
            })
            .map(|(id, _)| canonical(&users, *id))
            .collect();
        if found.is_empty() {
            found = users
                .iter()
                .filter(|(_, u)| u.merged_into.is_none() && u.user_id.as_deref().is_some_and(|u| u.starts_with(text)))
                .map(|(id, _)| *id)
                .collect();
        }
        found.sort_unstable();
        found.dedup();
        found.truncate(100);
        let matches: Vec<(Option<String>, u64)> = found
            .iter()
            .map(|id| (users.iter().find(|(i, _)| i == id).and_then(|(_, u)| u.user_id.clone()), *id))
            .collect();
        Ok::<_, ApiError>(Json(amp::user_search_response(&matches)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/2/useractivity?user=<amplitude_id>&offset&limit&direction=latest|earliest`.
pub async fn user_activity(State(s): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let pairs = params(&q)?;
        let number = |name: &str, default: usize| -> Result<usize, ApiError> {
            single(&pairs, name)
                .map_or(Ok(default), |v| v.trim().parse().map_err(|_| bad(name, format!("is {v:?}; give a number"))))
        };
        let id: u64 = single(&pairs, "user")
            .ok_or_else(|| bad("user", "is required: the user's amplitude_id (find it with /api/2/usersearch)"))?
            .trim()
            .parse()
            .map_err(|_| bad("user", "must be an amplitude_id (a number); find it with /api/2/usersearch"))?;
        let (offset, limit) = (number("offset", 0)?, number("limit", 1000)?);
        if limit == 0 || limit > 1000 {
            return Err(bad("limit", format!("is {limit}; use 1–1000")));
        }
        let latest = match single(&pairs, "direction").unwrap_or("latest") {
            "latest" => true,
            "earliest" => false,
            other => return Err(bad("direction", format!("is {other:?}; use latest or earliest"))),
        };
        let users = project.users().map_err(ApiError::store)?;
        let canon = canonical(&users, id);
        let Some((_, user)) = users.iter().find(|(i, _)| *i == canon) else {
            return Err(ApiError::herd(Fault::NotFound, "Not found", format!("no user with amplitude_id {id}")));
        };
        let merged: Vec<u64> = users.iter().filter(|(_, u)| u.merged_into == Some(canon)).map(|(i, _)| *i).collect();
        let ids: Vec<u64> = std::iter::once(canon).chain(merged.iter().copied()).collect();
        let events =
            s.queries.user_events(project.clone(), ids.clone(), offset, limit, latest).await.map_err(query_error)?;
        let summary = s.queries.user_summary(project.clone(), ids.clone()).await.map_err(query_error)?;
        // Device fields come from the user's latest event, whatever page was asked for.
        let latest_event = if latest && offset == 0 {
            events.first().cloned()
        } else {
            s.queries
                .user_events(project.clone(), ids.clone(), 0, 1, true)
                .await
                .map_err(query_error)?
                .into_iter()
                .next()
        };
        let device = |k: &str| latest_event.as_ref().and_then(|e| e.get(k)).cloned().unwrap_or(Value::Null);
        let mut data = Map::new();
        data.insert("user_id".into(), json!(user.user_id));
        data.insert("canonical_amplitude_id".into(), json!(canon));
        data.insert("merged_amplitude_ids".into(), json!(merged));
        data.insert("num_events".into(), json!(summary.events));
        data.insert("num_sessions".into(), json!(summary.sessions));
        // Amplitude gives times as text in the project's zone; Herd gives ms since the epoch, as its other APIs.
        data.insert("first_used".into(), json!(summary.first_ms));
        data.insert("last_used".into(), json!(summary.last_ms));
        data.insert("usage_time".into(), json!(summary.usage_time_ms));
        data.insert("purchases".into(), json!(summary.purchases));
        data.insert("revenue".into(), json!(summary.revenue));
        data.insert("start_version".into(), json!(summary.start_version));
        let location = summary.last_location.map(|(lat, lng)| json!({"lat": lat, "lng": lng}));
        data.insert("last_location".into(), location.unwrap_or(Value::Null));
        // Amplitude's userData names ← Herd's stored device keys.
        for (name, key) in [
            ("platform", "platform"),
            ("os", "os_name"),
            ("version", "app_version"),
            ("device", "device_model"),
            ("device_type", "device_model"),
            ("carrier", "carrier"),
            ("country", "country"),
            ("region", "region"),
            ("city", "city"),
            ("dma", "dma"),
            ("language", "language"),
        ] {
            data.insert(name.into(), device(key));
        }
        let mut device_ids = user.device_ids.clone();
        for (_, u) in users.iter().filter(|(i, _)| merged.contains(i)) {
            device_ids.extend(u.device_ids.iter().filter(|d| !device_ids.contains(d)).cloned().collect::<Vec<_>>());
        }
        data.insert("device_ids".into(), json!(device_ids));
        data.insert("properties".into(), Value::Object(user.properties.clone()));
        data.insert("groups".into(), user.groups.to_json());
        let events: Vec<Value> = events.into_iter().map(Value::Object).collect();
        Ok::<_, ApiError>(Json(amp::user_activity_response(data, events)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
