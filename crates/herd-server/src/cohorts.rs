//! Cohorts over HTTP, with HTTP Basic `api_key:secret_key`. Amplitude's API: `POST /api/3/cohorts/upload`,
//! `GET /api/3/cohorts`, `GET /api/5/cohorts/request/{id}`, `GET /api/5/cohorts/request-status/{request_id}`,
//! `GET /api/5/cohorts/request/{request_id}/file`. Herd's: `GET /api/v1/cohorts`, `PUT|DELETE
//! /api/v1/cohorts/{id}` (a JSON definition, static or behavioural), `PUT /api/v1/cohorts/{id}/ids` (a text file,
//! one id per line, replacing a static cohort's ids or creating one), `GET /api/v1/cohorts/{id}/members`.
//! Cohorts are project settings `cohort.<id>`, so `herd project set` and the admin API see them too.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use herd_model::cohort::{COHORT_FORMAT_VERSION, Cohort, CohortDefinition, IdType, check_id, ids_from_lines};
use herd_model::report::CountBy;
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, Fault};
use crate::export::query_project;
use crate::query::{check_group_type, query_error};

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::herd(Fault::BadRequest, "Invalid request", message)
}

fn not_found(id: &str, cohorts: &[Cohort]) -> ApiError {
    let known: Vec<&str> = cohorts.iter().map(|c| c.id.as_str()).collect();
    ApiError::herd(Fault::NotFound, "Not found", format!("no cohort {id:?}; this project's: [{}]", known.join(", ")))
}

fn save(s: &AppState, project: &herd_store::ProjectStore, cohort: &Cohort) -> Result<(), ApiError> {
    cohort.check().map_err(bad)?;
    let record = project.record();
    let key = cohort.setting_key();
    let value = serde_json::to_string(cohort).expect("cohorts serialise");
    crate::settings::check(&record.settings, &key, Some(&value)).map_err(bad)?;
    s.store.set_setting(&record.name, &key, Some(&value)).map_err(ApiError::store)?;
    Ok(())
}

/// A new id: the time in base 36, then a counter if taken.
fn new_id(existing: &[Cohort]) -> String {
    let mut n = herd_store::now_ms().unsigned_abs();
    let mut text = String::new();
    while n > 0 {
        text.insert(0, char::from_digit((n % 36) as u32, 36).expect("digit"));
        n /= 36;
    }
    let mut id = text.clone();
    let mut k = 1;
    while existing.iter().any(|c| c.id == id) {
        id = format!("{text}-{k}");
        k += 1;
    }
    id
}

/// How many of `ids` name a user (or a group of the cohort's type) the project knows.
fn matched(
    project: &herd_store::ProjectStore,
    count_by: &CountBy,
    id_type: IdType,
    ids: &[String],
) -> Result<usize, ApiError> {
    let known: HashSet<String> = match count_by {
        CountBy::User => project
            .users()
            .map_err(ApiError::store)?
            .into_iter()
            .filter_map(|(id, u)| match id_type {
                IdType::ByAmpId => Some(id.to_string()),
                IdType::ByUserId => u.user_id,
            })
            .collect(),
        CountBy::Group(t) => project
            .groups()
            .map_err(ApiError::store)?
            .into_iter()
            .filter(|(gt, _, _)| gt == t)
            .map(|(_, v, _)| v)
            .collect(),
    };
    Ok(ids.iter().filter(|i| known.contains(*i)).count())
}

pub async fn upload(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let u =
            herd_amplitude::parse_cohort_upload(&body).map_err(|e| ApiError::json(e.kind().into(), |c| e.body(c)))?;
        check_group_type(&project, &u.count_by)?;
        let cohorts = Cohort::all_in(&project.record().settings);
        let id = match &u.existing_cohort_id {
            Some(id) if cohorts.iter().any(|c| &c.id == id) => id.clone(),
            Some(id) => return Err(not_found(id, &cohorts)),
            None => new_id(&cohorts),
        };
        let hits = matched(&project, &u.count_by, u.id_type, &u.ids)?;
        let cohort = Cohort {
            version: COHORT_FORMAT_VERSION,
            id: id.clone(),
            name: u.name,
            count_by: u.count_by,
            definition: CohortDefinition::Static { id_type: u.id_type, ids: u.ids.clone() },
            owner: u.owner,
            published: u.published,
            updated_ms: herd_store::now_ms(),
        };
        if !u.skip_save {
            save(&s, &project, &cohort)?;
        }
        Ok::<_, ApiError>(Json(herd_amplitude::cohort_upload_response(&id, hits, u.ids.len(), &[])).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

async fn with_sizes(
    s: &AppState,
    project: std::sync::Arc<herd_store::ProjectStore>,
) -> Result<Vec<(Cohort, usize)>, ApiError> {
    let mut out = Vec::new();
    for c in Cohort::all_in(&project.record().settings) {
        let members = s.queries.cohort_members(project.clone(), c.id.clone()).await.map_err(query_error)?;
        out.push((c, members.len()));
    }
    Ok(out)
}

pub async fn list_amplitude(State(s): State<AppState>, headers: HeaderMap, RawQuery(_): RawQuery) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let cohorts = with_sizes(&s, project).await?;
        Ok::<_, ApiError>(Json(herd_amplitude::cohorts_response(&cohorts)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

fn existing(project: &herd_store::ProjectStore, id: &str) -> Result<Cohort, ApiError> {
    let cohorts = Cohort::all_in(&project.record().settings);
    cohorts.iter().find(|c| c.id == id).cloned().ok_or_else(|| not_found(id, &cohorts))
}

/// The download request: the file is computed when fetched, so the request id is the cohort id.
pub async fn request(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        existing(&project, &id)?;
        let body = herd_amplitude::cohort_request_response(&id, &id, false);
        Ok::<_, ApiError>((StatusCode::ACCEPTED, Json(body)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn request_status(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        existing(&project, &id)?;
        Ok::<_, ApiError>(Json(herd_amplitude::cohort_request_response(&id, &id, true)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn file(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        existing(&project, &id)?;
        let members = s.queries.cohort_members(project, id.clone()).await.map_err(query_error)?;
        let disposition = format!("attachment; filename=\"cohort_{id}.csv\"");
        let headers =
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)];
        Ok::<_, ApiError>((headers, herd_amplitude::cohort_csv(&members)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn list_native(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let data: Vec<serde_json::Value> =
            with_sizes(&s, project).await?.into_iter().map(|(c, size)| json!({"cohort": c, "size": size})).collect();
        Ok::<_, ApiError>(Json(json!({"data": data})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn put_definition(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        check_id(&id).map_err(bad)?;
        let mut value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
        let Some(obj) = value.as_object_mut() else { return Err(bad("send the cohort as a JSON object")) };
        obj.entry("id").or_insert_with(|| id.clone().into());
        obj.entry("name").or_insert_with(|| id.clone().into());
        obj.insert("updated_ms".into(), herd_store::now_ms().into());
        let cohort = Cohort::parse(&value.to_string()).map_err(bad)?;
        if cohort.id != id {
            return Err(bad(format!("the body's id {:?} differs from the path's {id:?}", cohort.id)));
        }
        check_group_type(&project, &cohort.count_by)?;
        save(&s, &project, &cohort)?;
        Ok::<_, ApiError>(Json(json!({"data": cohort})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// A text file of ids, one per line. Query `count_group` (`User` or a group type) and `id_type` (`BY_USER_ID`,
/// the default, or `BY_AMP_ID`) apply when the cohort is new.
pub async fn put_ids(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        check_id(&id).map_err(bad)?;
        let text = std::str::from_utf8(&body).map_err(|_| bad("send the ids as UTF-8 text, one per line"))?;
        let ids = ids_from_lines(text);
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or(""))
            .map_err(|e| bad(format!("the query string is malformed: {e}")))?;
        let mut count_by = CountBy::User;
        let mut id_type = IdType::ByUserId;
        for (k, v) in pairs {
            match (k.as_str(), v.as_str()) {
                ("count_group", "User") => count_by = CountBy::User,
                ("count_group", t) => count_by = CountBy::Group(t.to_owned()),
                ("id_type", "BY_USER_ID" | "BY_NAME") => id_type = IdType::ByUserId,
                ("id_type", "BY_AMP_ID" | "BY_ID") => id_type = IdType::ByAmpId,
                (k, v) => {
                    return Err(bad(format!(
                        "{k}={v:?}: use count_group=User|<group type>, id_type=BY_USER_ID|BY_AMP_ID"
                    )));
                }
            }
        }
        let cohort = match Cohort::all_in(&project.record().settings).into_iter().find(|c| c.id == id) {
            Some(c @ Cohort { definition: CohortDefinition::Static { .. }, .. }) => {
                let id_type = match c.definition {
                    CohortDefinition::Static { id_type, .. } => id_type,
                    _ => id_type,
                };
                Cohort { definition: CohortDefinition::Static { id_type, ids }, updated_ms: herd_store::now_ms(), ..c }
            }
            Some(_) => {
                return Err(bad(format!("cohort {id:?} is behavioural; its members are computed, not uploaded")));
            }
            None => {
                check_group_type(&project, &count_by)?;
                Cohort {
                    version: COHORT_FORMAT_VERSION,
                    id: id.clone(),
                    name: id.clone(),
                    count_by,
                    definition: CohortDefinition::Static { id_type, ids },
                    owner: String::new(),
                    published: false,
                    updated_ms: herd_store::now_ms(),
                }
            }
        };
        save(&s, &project, &cohort)?;
        Ok::<_, ApiError>(Json(json!({"data": cohort})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn members(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        existing(&project, &id)?;
        let members = s.queries.cohort_members(project, id).await.map_err(query_error)?;
        Ok::<_, ApiError>(Json(json!({"data": members})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn delete(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let run = async {
        let project = query_project(&s, &headers)?;
        let cohort = existing(&project, &id)?;
        s.store.set_setting(&project.record().name, &cohort.setting_key(), None).map_err(ApiError::store)?;
        Ok::<_, ApiError>(Json(json!({"data": {"deleted": id}})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
