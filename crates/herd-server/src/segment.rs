//! Segment's and RudderStack's HTTP Tracking API (`/v1/track`, `/v1/batch`, analytics.js's `/v1/t` …) and the
//! settings document analytics.js loads first (`/v1/projects/{writeKey}/settings`). Parsing and mapping live in
//! `herd-segment`; this module authenticates, applies limits and throttling, and submits.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use herd_model::Command;
use herd_segment::{self as seg, CallKind, SegmentError, SegmentSettings};
use herd_store::{ProjectStore, now_ms};

use crate::AppState;
use crate::auth::{basic, bearer};
use crate::body::{self, BodyError};
use crate::error::{ApiError, Fault};

/// The project setting that holds a project's Segment write key; without it, the API key is the write key.
pub const WRITE_KEY_SETTING: &str = "segment.write_key";

fn segment_error(e: SegmentError) -> ApiError {
    let fault = match e.kind() {
        seg::SegmentErrorKind::BadRequest => Fault::BadRequest,
        // Segment answers oversize calls and batches with 400, not 413 (research/segment.md §1).
        seg::SegmentErrorKind::PayloadTooLarge => Fault::BadRequest,
        seg::SegmentErrorKind::Unauthorized => Fault::Unauthorized,
    };
    ApiError::json(fault, |_| e.body())
}

/// The project whose write key is `key`.
pub fn project_by_write_key(s: &AppState, key: &str) -> Option<Arc<ProjectStore>> {
    s.store.find(|r| match r.settings.get(WRITE_KEY_SETTING) {
        Some(write_key) => write_key == key,
        None => r.api_key == key,
    })
}

pub async fn call(State(s): State<AppState>, Path(call): Path<String>, headers: HeaderMap, raw: Bytes) -> Response {
    handle(s, call, headers, raw).await.unwrap_or_else(IntoResponse::into_response)
}

async fn handle(s: AppState, call: String, headers: HeaderMap, raw: Bytes) -> Result<Response, ApiError> {
    let received = now_ms();
    let kind = CallKind::from_path(&call).ok_or_else(|| {
        ApiError::herd(
            Fault::NotFound,
            "Not found",
            format!("no Segment call /v1/{call}; use track, identify, group, page, screen, alias, batch, import"),
        )
    })?;
    let single = kind != CallKind::Batch;
    let limit = if single { seg::MAX_CALL_BYTES } else { seg::MAX_BATCH_BYTES };
    // An oversize body's size is known when it came uncompressed; a gzip body is decompressed only up to the limit.
    let compressed = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("identity"));
    let size = (!compressed).then_some(raw.len());
    let body = body::decode(&headers, raw, limit).map_err(|e| match e {
        BodyError::TooLarge { .. } if single => segment_error(SegmentError::CallTooLarge { index: None, size }),
        BodyError::TooLarge { .. } => segment_error(SegmentError::BatchTooLarge { size }),
        other => ApiError::json(
            Fault::BadRequest,
            |_| serde_json::json!({"success": false, "error": "invalid_body", "message": other.to_string()}),
        ),
    })?;
    // Basic auth (Segment's libraries and RudderStack send the write key as the user name), else a body writeKey
    // (analytics.js, or Bearer plus a body key).
    let key = basic(&headers)
        .map(|(user, _)| user)
        .filter(|u| !u.is_empty())
        .or_else(|| seg::write_key_from_body(&body))
        .or_else(|| bearer(&headers))
        .ok_or_else(|| segment_error(SegmentError::MissingWriteKey))?;
    let project = project_by_write_key(&s, &key).ok_or_else(|| segment_error(SegmentError::unknown_write_key(&key)))?;
    let settings = SegmentSettings::from_project_settings(&project.record().settings).map_err(|e| {
        ApiError::herd(
            Fault::Internal,
            "Project misconfigured",
            format!("the project's Segment settings are invalid: {e}"),
        )
    })?;
    let request = seg::parse(kind, &body, &settings, received).map_err(segment_error)?;
    throttle(&s, &project, &request.commands, received)?;
    match project.submit(request.commands, received).await {
        Ok(Ok(_receipt)) => {
            Ok(axum::Json(seg::success_body_with(&request.rejected, &request.warnings)).into_response())
        }
        Ok(Err(rejection)) => Err(ApiError::json(
            Fault::BadRequest,
            |_| serde_json::json!({"success": false, "error": "group_type_limit", "message": rejection.to_string()}),
        )),
        Err(e) => Err(ApiError::store(e)),
    }
}

/// Segment's answer to a sender over its rate: 429 with `Retry-After`.
fn throttle(s: &AppState, project: &ProjectStore, commands: &[Command], received: i64) -> Result<(), ApiError> {
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
    let limits =
        crate::throttle::Limits { eps: s.config.throttle.batch_eps, daily_quota: s.config.throttle.daily_quota };
    match s.throttle.admit(project.record().id, limits, &ids, received.div_euclid(1000)) {
        None => Ok(()),
        Some(v) => {
            let ids: Vec<String> = v
                .devices
                .iter()
                .chain(&v.users)
                .chain(&v.daily_devices)
                .chain(&v.daily_users)
                .map(|(id, _)| id.clone())
                .collect();
            Err(ApiError::json(Fault::TooManyRequests, |_| {
                serde_json::json!({"success": false, "error": "rate_limited", "message": format!("too many events for {}; retry after 30 seconds", ids.join(", "))})
            })
            .with_retry_after(30))
        }
    }
}

/// `GET /v1/projects/{writeKey}/settings`: what analytics.js (analytics-next) loads before it sends anything.
pub async fn settings(State(s): State<AppState>, Path(write_key): Path<String>, headers: HeaderMap) -> Response {
    if project_by_write_key(&s, &write_key).is_none() {
        return segment_error(SegmentError::unknown_write_key(&write_key)).into_response();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    axum::Json(seg::settings_document(&write_key, &format!("http://{host}/v1"))).into_response()
}

/// The request headers a preflight is answered with when it names none: what Segment's browser and server
/// libraries send (`X-Retry-Count` on every retry, research `segment.md` §1).
const CORS_ALLOW_HEADERS: &str = "authorization, content-type, content-encoding, x-retry-count";

/// Browsers post to the tracking API from other origins; Segment's API allows that, so Herd's does too.
///
/// Any origin, without credentials (the write key is the credential). A preflight is granted the request headers it
/// asks for: analytics.js adds `X-Retry-Count` to every retry and lets a page add headers of its own
/// (`deliveryStrategy.config.headers`), and a preflight refused for one of them loses the event in the browser.
/// `Retry-After` is exposed, or a page could not read it from a cross-origin 429 and would retry on its own
/// schedule instead (decision 32 in docs/decisions.md).
pub async fn cors(request: axum::extract::Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS;
    let requested =
        request.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS).filter(|v| preflight && !v.is_empty()).cloned();
    let mut response = if preflight { StatusCode::NO_CONTENT.into_response() } else { next.run(request).await };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("retry-after"));
    if preflight {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            requested.unwrap_or_else(|| HeaderValue::from_static(CORS_ALLOW_HEADERS)),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
        h.append(header::VARY, HeaderValue::from_static("access-control-request-headers"));
    }
    response
}
