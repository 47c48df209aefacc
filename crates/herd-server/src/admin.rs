//! The admin API (`/admin/*`), protected by the bearer token from the config: what the CLI does while a server
//! holds the data directory.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use herd_store::{NewProject, StoreError};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{bearer, same_secret};
use crate::error::{ApiError, Fault};

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = &state.config.server.admin_token;
    if token.is_empty() {
        return Err(ApiError::herd(
            Fault::NotFound,
            "Admin API disabled",
            "set server.admin_token (or HERD_SERVER__ADMIN_TOKEN) to enable the admin API",
        ));
    }
    match bearer(headers) {
        Some(given) if same_secret(&given, token) => Ok(()),
        _ => {
            Err(ApiError::herd(Fault::Unauthorized, "Unauthorized", "send Authorization: Bearer <server.admin_token>"))
        }
    }
}

fn project_json(r: &herd_store::ProjectRecord) -> serde_json::Value {
    serde_json::json!({"id": r.id, "name": r.name, "api_key": r.api_key, "secret_key": r.secret_key, "settings": r.settings})
}

pub async fn list_projects(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&state, &headers)?;
    Ok(Json(serde_json::Value::Array(state.store.projects().iter().map(project_json).collect())))
}

#[derive(Debug, Deserialize)]
pub struct CreateProject {
    name: String,
    api_key: Option<String>,
    secret_key: Option<String>,
}

pub async fn create_project(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&state, &headers)?;
    let req: CreateProject = serde_json::from_slice(&body).map_err(|e| {
        ApiError::herd(
            Fault::BadRequest,
            "Invalid JSON request body",
            format!("expected {{\"name\", \"api_key\"?, \"secret_key\"?}}: {e}"),
        )
    })?;
    let store = state.store.clone();
    let new = NewProject { name: req.name, api_key: req.api_key, secret_key: req.secret_key };
    let record = tokio::task::spawn_blocking(move || store.create_project(new))
        .await
        .map_err(|e| ApiError::herd(Fault::Internal, "Internal error", e.to_string()))?
        .map_err(store_error)?;
    Ok(Json(project_json(&record)))
}

pub async fn set_setting(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((project, key)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&state, &headers)?;
    let value: Option<String> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::herd(
            Fault::BadRequest,
            "Invalid JSON request body",
            format!("send the value as a JSON string, or null to remove it: {e}"),
        )
    })?;
    let current = state.store.by_name(&project).map_err(store_error)?.record();
    crate::settings::check(&current.settings, &key, value.as_deref())
        .map_err(|m| ApiError::herd(Fault::BadRequest, "Invalid setting", m))?;
    let record = state.store.set_setting(&project, &key, value.as_deref()).map_err(store_error)?;
    Ok(Json(project_json(&record)))
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(m) => ApiError::herd(Fault::BadRequest, "Conflict", m),
        StoreError::NoSuchProject(name) => {
            ApiError::herd(Fault::NotFound, "Not found", format!("no project named {name:?}"))
        }
        other => ApiError::store(other),
    }
}
