//! Amplitude's ingestion endpoints: `/2/httpapi`, `/batch`, `/identify`, `/groupidentify` and the legacy form
//! upload at `/`. Each parses with `herd-amplitude`, finds the project by key, throttles, and submits the
//! commands to the project's writer; the answer goes out only after the commit is durable.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use herd_amplitude as amp;
use herd_model::Command;
use herd_store::{ProjectStore, Receipt, Rejection, now_ms};
use serde_json::{Value, json};

use crate::AppState;
use crate::body::{self, BodyError};
use crate::error::{ApiError, Fault};

/// Which upload endpoint, for its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    HttpApi,
    Batch,
}

pub async fn http_api(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Response {
    upload(s, Endpoint::HttpApi, headers, raw).await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn batch(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Response {
    upload(s, Endpoint::Batch, headers, raw).await.unwrap_or_else(IntoResponse::into_response)
}

fn body_error(e: BodyError) -> ApiError {
    match e {
        BodyError::TooLarge { .. } => {
            ApiError::json(Fault::PayloadTooLarge, |c| amp::payload_too_large_body(c, &e.to_string()))
        }
        other => ApiError::json(Fault::BadRequest, |c| amp::error_body(c, "Invalid request body", &other.to_string())),
    }
}

fn invalid_key(key: &str) -> ApiError {
    ApiError::json(Fault::BadRequest, |c| amp::invalid_api_key_body(c, key))
}

async fn upload(s: AppState, endpoint: Endpoint, headers: HeaderMap, raw: Bytes) -> Result<Response, ApiError> {
    let received = now_ms();
    let limits = &s.config.limits;
    let limit = match endpoint {
        Endpoint::HttpApi => limits.httpapi_max_body_bytes,
        Endpoint::Batch => limits.batch_max_body_bytes,
    };
    let body = body::decode(&headers, raw, limit).map_err(body_error)?;
    let upload = amp::parse_upload(&body, amp::UploadLimits { max_events: limits.max_events_per_request })
        .map_err(|e| ApiError::json(e.kind().into(), |c| e.body(c)))?;
    let project = s.store.by_api_key(&upload.api_key).ok_or_else(|| invalid_key(&upload.api_key))?;
    let eps = match endpoint {
        Endpoint::HttpApi => s.config.throttle.httpapi_eps,
        Endpoint::Batch => s.config.throttle.batch_eps,
    };
    throttle(&s, &project, eps, &upload.commands, &upload.command_origin, received)?;
    let receipt = submit(&project, upload.commands, received, |rejection| {
        // Only `$groupidentify` events can be refused; SDKs drop the listed events and resend the rest.
        ApiError::json(Fault::BadRequest, |c| {
            json!({"code": c, "error": "Invalid field values on some events", "events_with_invalid_fields": {"groups": rejected_indices(&upload.command_origin)}, "message": rejection.to_string()})
        })
    })
    .await?;
    let mut success = amp::UploadSuccess::new(upload.event_count, body.len(), received);
    success.warnings = upload.warnings;
    for dropped in &upload.dropped_ids {
        success.warnings.push(format!(
            "event {}: {} {:?} is shorter than min_id_length and was removed; the event was kept with its other id",
            dropped.index, dropped.field, dropped.value
        ));
    }
    success.dropped_groups = dropped_groups(&receipt, Some(&upload.command_origin));
    Ok(axum::Json(success.to_json()).into_response())
}

/// The indices of group identification events in a refused upload (all of them: the writer refuses the request
/// as a whole, so every `$groupidentify` of an over-limit type is listed).
fn rejected_indices(origin: &[usize]) -> Vec<usize> {
    let mut v: Vec<usize> = origin.to_vec();
    v.dedup();
    v
}

/// Herd's report of groups left off events: `{"<event index>": ["type=value: reason", …]}`.
fn dropped_groups(receipt: &Receipt, origin: Option<&[usize]>) -> Option<Value> {
    if receipt.dropped_groups.is_empty() {
        return None;
    }
    let mut out = serde_json::Map::new();
    for d in &receipt.dropped_groups {
        let index = origin.and_then(|o| o.get(d.command_index).copied()).unwrap_or(d.command_index);
        let entry = out.entry(index.to_string()).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::from(format!("{}={}: {}", d.group_type, d.group_value, d.reason)));
        }
    }
    Some(Value::Object(out))
}

/// Refuses the request with Amplitude's 429 body if any device or user in it is over its rate.
fn throttle(
    s: &AppState,
    project: &ProjectStore,
    eps: u32,
    commands: &[Command],
    origin: &[usize],
    received: i64,
) -> Result<(), ApiError> {
    if !s.config.throttle.enabled {
        return Ok(());
    }
    let mut per_id: std::collections::HashMap<(bool, &str), u32> = Default::default();
    for c in commands {
        if let Command::Track(t) = c {
            if let Some(d) = t.device_id.as_deref() {
                *per_id.entry((false, d)).or_default() += 1;
            }
            if let Some(u) = t.user_id.as_deref() {
                *per_id.entry((true, u)).or_default() += 1;
            }
        }
    }
    let ids: Vec<(bool, &str, u32)> = per_id.iter().map(|((u, id), n)| (*u, *id, *n)).collect();
    let limits = crate::throttle::Limits { eps, daily_quota: s.config.throttle.daily_quota };
    let Some(verdict) = s.throttle.admit(project.record().id, limits, &ids, received.div_euclid(1000)) else {
        return Ok(());
    };
    let mut t = amp::Throttle { eps_threshold: u64::from(eps), retry_after_secs: 30, ..Default::default() };
    t.throttled_devices = verdict.devices.iter().cloned().collect();
    t.throttled_users = verdict.users.iter().cloned().collect();
    t.exceeded_daily_quota_devices = verdict.daily_devices.iter().cloned().collect();
    t.exceeded_daily_quota_users = verdict.daily_users.iter().cloned().collect();
    for (c, index) in commands.iter().zip(origin) {
        if let Command::Track(tr) = c {
            let hit_device = tr
                .device_id
                .as_deref()
                .is_some_and(|d| t.throttled_devices.contains_key(d) || t.exceeded_daily_quota_devices.contains_key(d));
            let hit_user = tr
                .user_id
                .as_deref()
                .is_some_and(|u| t.throttled_users.contains_key(u) || t.exceeded_daily_quota_users.contains_key(u));
            if (hit_device || hit_user) && t.throttled_events.last() != Some(index) {
                t.throttled_events.push(*index);
            }
        }
    }
    Err(ApiError::json(Fault::TooManyRequests, |c| amp::throttled_body(c, &t)).with_retry_after(30))
}

/// Submits commands and waits for durability. A refusal by the writer is rendered by `refused`.
async fn submit(
    project: &Arc<ProjectStore>,
    commands: Vec<Command>,
    received: i64,
    refused: impl FnOnce(Rejection) -> ApiError,
) -> Result<Receipt, ApiError> {
    match project.submit(commands, received).await {
        Ok(Ok(receipt)) => Ok(receipt),
        Ok(Err(rejection)) => Err(refused(rejection)),
        Err(e) => Err(ApiError::store(e)),
    }
}

/// Identify and Group Identify take the same form either as the body (POST) or the query string (GET).
fn form_bytes(headers: &HeaderMap, raw: Bytes, limit: usize) -> Result<Bytes, ApiError> {
    body::decode(headers, raw, limit).map_err(body_error)
}

fn identify_error(e: amp::IdentifyError) -> ApiError {
    ApiError::json(e.kind().into(), |c| e.body(c))
}

/// Which identification API a form is for.
#[derive(Debug, Clone, Copy)]
enum Identification {
    User,
    Group,
}

impl Identification {
    fn parse(self, form: &[u8]) -> Result<(String, Vec<Command>), amp::IdentifyError> {
        match self {
            Identification::User => amp::parse_identify(form).map(|r| (r.api_key, r.commands)),
            Identification::Group => amp::parse_group_identify(form).map(|r| (r.api_key, r.commands)),
        }
    }
}

pub async fn identify_get(State(s): State<AppState>, RawQuery(q): RawQuery) -> Response {
    identification_get(s, Identification::User, q).await
}

pub async fn identify_post(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Response {
    identification_post(s, Identification::User, headers, raw).await
}

pub async fn group_identify_get(State(s): State<AppState>, RawQuery(q): RawQuery) -> Response {
    identification_get(s, Identification::Group, q).await
}

pub async fn group_identify_post(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Response {
    identification_post(s, Identification::Group, headers, raw).await
}

async fn identification_get(s: AppState, which: Identification, query: Option<String>) -> Response {
    identification(s, which, Bytes::from(query.unwrap_or_default())).await.unwrap_or_else(IntoResponse::into_response)
}

async fn identification_post(s: AppState, which: Identification, headers: HeaderMap, raw: Bytes) -> Response {
    let result = async {
        let form = form_bytes(&headers, raw, s.config.limits.httpapi_max_body_bytes)?;
        identification(s, which, form).await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn identification(s: AppState, which: Identification, form: Bytes) -> Result<Response, ApiError> {
    let received = now_ms();
    let (api_key, commands) = which.parse(&form).map_err(identify_error)?;
    let project = s.store.by_api_key(&api_key).ok_or_else(|| invalid_key(&api_key))?;
    submit(&project, commands, received, refused_identification).await?;
    Ok(amp::TEXT_SUCCESS.into_response())
}

fn refused_identification(rejection: Rejection) -> ApiError {
    ApiError::json(Fault::BadRequest, |c| amp::error_body(c, "Invalid identification", &rejection.to_string()))
}

/// The legacy amplitude-js / Android 2.x upload: plain-text answers that those SDKs special-case.
pub async fn legacy_upload(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Response {
    let result = async {
        let received = now_ms();
        let form = body::decode(&headers, raw, s.config.limits.httpapi_max_body_bytes).map_err(|e| match e {
            BodyError::TooLarge { .. } => ApiError::text(Fault::PayloadTooLarge, "request_too_large"),
            other => ApiError::text(Fault::BadRequest, other.to_string()),
        })?;
        let limits = amp::UploadLimits { max_events: s.config.limits.max_events_per_request };
        let upload = amp::parse_legacy(&form, limits).map_err(|e| ApiError::text(e.kind().into(), e.body()))?;
        let project = s
            .store
            .by_api_key(&upload.api_key)
            .ok_or_else(|| ApiError::text(Fault::BadRequest, amp::LEGACY_INVALID_API_KEY))?;
        submit(&project, upload.commands, received, |r| ApiError::text(Fault::BadRequest, r.to_string())).await?;
        Ok::<_, ApiError>(amp::LEGACY_SUCCESS.into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
