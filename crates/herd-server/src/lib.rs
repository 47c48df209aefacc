//! Herd's HTTP server: the only crate that knows axum. Routes Amplitude's and Segment's ingestion APIs, the Export
//! API and the admin API to the store; decides status codes in one place ([`error`]).

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod body;
pub mod cohorts;
pub mod error;
pub mod export;
pub mod ingest;
pub mod query;
pub mod rest;
pub mod segment;
pub mod settings;
pub mod throttle;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use herd_config::Config;
use herd_store::Store;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Arc<Config>,
    pub throttle: Arc<throttle::Throttle>,
    /// Reports and SQL, on their own runtime.
    pub queries: Arc<herd_query::QueryEngine>,
}

impl AppState {
    pub fn new(store: Arc<Store>, config: Arc<Config>) -> AppState {
        let throttle = Arc::new(throttle::Throttle::new(config.throttle.window_secs));
        let queries = Arc::new(herd_query::QueryEngine::new(config.query.threads).expect("query runtime starts"));
        AppState { store, config, throttle, queries }
    }
}

/// The OpenAPI document of every route below (kept in step by a test that calls each documented operation).
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// All routes.
pub fn router(state: AppState) -> Router {
    // Compressed bodies may not exceed the largest decompressed limit; each endpoint checks its own limit after
    // decompression, so the sender gets Amplitude's 413 body rather than a bare one.
    let raw_limit = state.config.limits.batch_max_body_bytes.max(state.config.limits.httpapi_max_body_bytes);
    let segment = Router::new()
        .route("/v1/projects/{write_key}/settings", get(segment::settings))
        .route("/v1/{call}", post(segment::call).options(|| async {}))
        .layer(axum::middleware::from_fn(segment::cors));
    Router::new()
        .merge(segment)
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/2/httpapi", post(ingest::http_api))
        .route("/batch", post(ingest::batch))
        .route("/identify", get(ingest::identify_get).post(ingest::identify_post))
        .route("/groupidentify", get(ingest::group_identify_get).post(ingest::group_identify_post))
        .route("/", post(ingest::legacy_upload))
        .route("/api/2/export", get(export::export))
        .route("/api/2/events/segmentation", get(query::segmentation_rest))
        .route("/api/2/funnels", get(query::funnels_rest))
        .route("/api/2/retention", get(query::retention_rest))
        .route("/api/2/users", get(rest::users))
        .route("/api/2/realtime", get(rest::realtime))
        .route("/api/2/events/list", get(rest::events_list))
        .route("/api/2/taxonomy/event", get(rest::taxonomy))
        .route("/api/2/usersearch", get(rest::user_search))
        .route("/api/2/useractivity", get(rest::user_activity))
        .route("/api/v1/query", post(query::native))
        .route("/api/v1/sql", post(query::sql))
        .route("/api/v1/groups/{group_type}", get(accounts::list))
        .route("/api/v1/groups/{group_type}/{group_value}", get(accounts::profile))
        .route("/api/3/cohorts/upload", post(cohorts::upload))
        .route("/api/3/cohorts", get(cohorts::list_amplitude))
        .route("/api/5/cohorts/request/{id}", get(cohorts::request))
        .route("/api/5/cohorts/request-status/{request_id}", get(cohorts::request_status))
        .route("/api/5/cohorts/request/{request_id}/file", get(cohorts::file))
        .route("/api/v1/cohorts", get(cohorts::list_native))
        .route("/api/v1/cohorts/{id}", put(cohorts::put_definition).delete(cohorts::delete))
        .route("/api/v1/cohorts/{id}/ids", put(cohorts::put_ids))
        .route("/api/v1/cohorts/{id}/members", get(cohorts::members))
        .route("/api/v1/dynamic-properties", get(accounts::list_dynamic))
        .route("/api/v1/dynamic-properties/{name}", put(accounts::put_dynamic).delete(accounts::delete_dynamic))
        .route("/admin/projects", get(admin::list_projects).post(admin::create_project))
        .route("/admin/projects/{project}/settings/{key}", put(admin::set_setting))
        .layer(DefaultBodyLimit::max(raw_limit))
        .with_state(state)
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
