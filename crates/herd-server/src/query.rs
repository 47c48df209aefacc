//! Herd's native query API: `POST /api/v1/query` (reports as JSON, see `herd_model::report`) and
//! `POST /api/v1/sql` (read-only SQL over one project's `events`, `users` and `groups`), both with HTTP Basic
//! `api_key:secret_key`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use herd_model::report::Segmentation;
use herd_query::QueryError;
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, Fault};
use crate::export::query_project;

/// A query error: the sender's fault (400 with the engine's message) or the server's (500, logged).
pub fn query_error(e: QueryError) -> ApiError {
    if e.is_invalid_request() {
        ApiError::herd(Fault::BadRequest, "Invalid query", e.to_string())
    } else {
        tracing::error!(error = %e, "query failed");
        ApiError::herd(Fault::Internal, "Query failed", "the query failed inside the server; see the server log")
    }
}

/// A native query.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NativeQuery {
    Segmentation(Segmentation),
    Accounts(herd_model::accounts::AccountsQuery),
    Funnel(herd_model::funnel::Funnel),
    Retention(herd_model::retention::Retention),
    Stickiness(herd_model::engagement::Stickiness),
    Lifecycle(herd_model::engagement::Lifecycle),
}

pub async fn native(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let query: NativeQuery = serde_json::from_slice(&body).map_err(|e| {
            ApiError::herd(Fault::BadRequest, "Invalid query", format!("the body is not a valid query: {e}"))
        })?;
        match query {
            NativeQuery::Segmentation(req) => {
                check_group_type(&project, &req.count_by)?;
                let result = s.queries.segmentation(project, req).await.map_err(query_error)?;
                Ok::<_, ApiError>(axum::Json(serde_json::json!({"data": result})).into_response())
            }
            NativeQuery::Funnel(req) => {
                check_group_type(&project, &req.count_by)?;
                let result = s.queries.funnel(project, req).await.map_err(query_error)?;
                Ok::<_, ApiError>(axum::Json(serde_json::json!({"data": result})).into_response())
            }
            NativeQuery::Retention(req) => {
                check_group_type(&project, &req.count_by)?;
                let result = s.queries.retention(project, req).await.map_err(query_error)?;
                Ok::<_, ApiError>(axum::Json(serde_json::json!({"data": result})).into_response())
            }
            NativeQuery::Stickiness(req) => {
                check_group_type(&project, &req.count_by)?;
                let result = s.queries.stickiness(project, req).await.map_err(query_error)?;
                Ok::<_, ApiError>(axum::Json(serde_json::json!({"data": result})).into_response())
            }
            NativeQuery::Lifecycle(req) => {
                check_group_type(&project, &req.count_by)?;
                let result = s.queries.lifecycle(project, req).await.map_err(query_error)?;
                Ok::<_, ApiError>(axum::Json(serde_json::json!({"data": result})).into_response())
            }
            NativeQuery::Accounts(req) => {
                check_group_type(&project, &herd_model::report::CountBy::Group(req.group_type.clone()))?;
                let result = s.queries.accounts(project, req).await.map_err(query_error)?;
                Ok::<_, ApiError>(axum::Json(serde_json::json!({"data": result})).into_response())
            }
        }
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// The project setting that holds its reporting time zone (IANA name or offset; default UTC).
pub use herd_query::TIME_ZONE_SETTING;

/// `GET /api/2/events/segmentation`: Amplitude's Dashboard REST API, plus `countGroup` and group properties.
pub async fn segmentation_rest(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let tz = project.record().settings.get(TIME_ZONE_SETTING).cloned().unwrap_or_else(|| "UTC".into());
        let zone = herd_query::buckets::Zone::parse(&tz)
            .map_err(|m| ApiError::herd(Fault::Internal, "Project misconfigured", m))?;
        let req =
            herd_amplitude::parse_segmentation_with(q.as_deref().unwrap_or(""), &tz, &|y, m, d| zone.midnight(y, m, d))
                .map_err(|e| ApiError::json(e.kind().into(), |c| e.body(c)))?;
        check_group_type(&project, &req.count_by)?;
        let result = s.queries.segmentation(project, req.clone()).await.map_err(query_error)?;
        let labels: Vec<String> = result
            .x_values
            .iter()
            .map(|x| herd_amplitude::format_x_value(x + zone.offset_ms(*x), req.interval))
            .collect();
        Ok::<_, ApiError>(axum::Json(herd_amplitude::segmentation_response(&req, &result, &labels)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/2/funnels`: Amplitude's funnel endpoint, plus `countGroup` and group properties.
pub async fn funnels_rest(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let tz = project.record().settings.get(TIME_ZONE_SETTING).cloned().unwrap_or_else(|| "UTC".into());
        let zone = herd_query::buckets::Zone::parse(&tz)
            .map_err(|m| ApiError::herd(Fault::Internal, "Project misconfigured", m))?;
        let req = herd_amplitude::parse_funnel_with(q.as_deref().unwrap_or(""), &tz, &|y, m, d| zone.midnight(y, m, d))
            .map_err(|e| ApiError::json(e.kind().into(), |c| e.body(c)))?;
        check_group_type(&project, &req.count_by)?;
        let result = s.queries.funnel(project, req.clone()).await.map_err(query_error)?;
        let local = |ms: i64| ms + zone.offset_ms(ms);
        let year = current_year(local(herd_store::now_ms()));
        let labels: Vec<String> =
            result.x_values.iter().map(|x| herd_amplitude::format_x_value(local(*x), req.interval)).collect();
        let formatted: Vec<String> =
            result.x_values.iter().map(|x| herd_amplitude::format_funnel_day(local(*x), year)).collect();
        Ok::<_, ApiError>(
            axum::Json(herd_amplitude::funnel_response(&req, &result, &labels, &formatted)).into_response(),
        )
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/2/retention`: Amplitude's retention endpoint, plus `countGroup`, group properties and `periods`.
pub async fn retention_rest(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let tz = project.record().settings.get(TIME_ZONE_SETTING).cloned().unwrap_or_else(|| "UTC".into());
        let zone = herd_query::buckets::Zone::parse(&tz)
            .map_err(|m| ApiError::herd(Fault::Internal, "Project misconfigured", m))?;
        let req =
            herd_amplitude::parse_retention_with(q.as_deref().unwrap_or(""), &tz, &|y, m, d| zone.midnight(y, m, d))
                .map_err(|e| ApiError::json(e.kind().into(), |c| e.body(c)))?;
        check_group_type(&project, &req.count_by)?;
        let result = s.queries.retention(project, req).await.map_err(query_error)?;
        let local = |ms: i64| ms + zone.offset_ms(ms);
        let year = current_year(local(herd_store::now_ms()));
        let day = herd_model::report::Interval::Day;
        let body = herd_amplitude::retention_response(
            &result,
            &|ms| herd_amplitude::format_funnel_day(local(ms), year),
            &|ms| herd_amplitude::format_x_value(local(ms), day),
        );
        Ok::<_, ApiError>(axum::Json(body).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// The calendar year of a local wall-clock time.
fn current_year(local_ms: i64) -> i32 {
    herd_amplitude::format_x_value(local_ms, herd_model::report::Interval::Day)[..4].parse().unwrap_or(0)
}

/// Counting by a group type the project has never seen is almost always a typo: say so instead of answering zeros.
pub(crate) fn check_group_type(
    project: &herd_store::ProjectStore,
    count_by: &herd_model::report::CountBy,
) -> Result<(), ApiError> {
    if let herd_model::report::CountBy::Group(t) = count_by {
        let known = project.stats().map_err(ApiError::store)?.group_types;
        if !known.iter().any(|k| k == t) {
            return Err(ApiError::herd(
                Fault::BadRequest,
                "Invalid query",
                format!("countGroup {t:?} is not a group type of this project; known: User, {}", known.join(", ")),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct SqlRequest {
    sql: String,
}

pub async fn sql(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        // Either {"sql": "..."} or the statement itself as the body.
        let sql = match serde_json::from_slice::<SqlRequest>(&body) {
            Ok(r) => r.sql,
            Err(_) => String::from_utf8(body.to_vec()).map_err(|_| {
                ApiError::herd(Fault::BadRequest, "Invalid query", "send SQL as UTF-8 text or {\"sql\": …}")
            })?,
        };
        let batches = s.queries.sql(project, sql).await.map_err(query_error)?;
        let rows = herd_query::rows::to_json_rows(&batches).map_err(query_error)?;
        Ok::<_, ApiError>(axum::Json(serde_json::json!({"data": rows})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
