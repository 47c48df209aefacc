//! Amplitude's Export API: `GET /api/2/export?start=YYYYMMDDTHH&end=YYYYMMDDTHH` with Basic `api_key:secret_key`,
//! answered with a zip of gzipped JSON-lines files, one per hour of server upload time. Unlike Amplitude there is
//! no two-hour delay: the log tail is included, so an event is exportable as soon as it is acknowledged.

use std::io::Write;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use herd_amplitude as amp;
use herd_model::StoredEvent;
use serde::Deserialize;

use crate::AppState;
use crate::auth::basic;
use crate::error::{ApiError, Fault};

#[derive(Debug, Deserialize)]
pub struct ExportParams {
    start: Option<String>,
    end: Option<String>,
}

/// The project that `api_key:secret_key` opens, or 401.
pub fn query_project(s: &AppState, headers: &HeaderMap) -> Result<std::sync::Arc<herd_store::ProjectStore>, ApiError> {
    let unauthorized = |msg: &str| ApiError::herd(Fault::Unauthorized, "Invalid credentials", msg);
    let (api_key, secret) =
        basic(headers).ok_or_else(|| unauthorized("send HTTP Basic auth with api_key:secret_key"))?;
    s.store.by_keys(&api_key, &secret).ok_or_else(|| {
        unauthorized("the API key and secret key do not match a project; query access needs the secret key")
    })
}

pub async fn export(State(s): State<AppState>, headers: HeaderMap, Query(p): Query<ExportParams>) -> Response {
    run(s, headers, p).await.unwrap_or_else(IntoResponse::into_response)
}

async fn run(s: AppState, headers: HeaderMap, p: ExportParams) -> Result<Response, ApiError> {
    let project = query_project(&s, &headers)?;
    let bad = |m: String| ApiError::herd(Fault::BadRequest, "Invalid request", m);
    let (start, end) = match (p.start.as_deref(), p.end.as_deref()) {
        (Some(start), Some(end)) => amp::parse_export_range(start, end).map_err(|e| bad(e.to_string()))?,
        _ => return Err(bad("start and end are required, as YYYYMMDDTHH (UTC hours, end inclusive)".into())),
    };
    let project_id = project.record().id;
    let zip = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, ApiError> {
        let events = project.events_uploaded_between(start, end).map_err(ApiError::store)?;
        if events.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            build_zip(project_id, &events)
                .map_err(|e| ApiError::herd(Fault::Internal, "Internal error", e.to_string()))?,
        ))
    })
    .await
    .map_err(|e| ApiError::herd(Fault::Internal, "Internal error", e.to_string()))??;
    let Some(zip) = zip else {
        return Err(ApiError::herd(Fault::NotFound, "No data", "no events were uploaded in the requested range"));
    };
    let mut response = zip.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    Ok(response)
}

/// One member per hour of server upload time, named as Amplitude names them: `<id>/<id>_<YYYY-MM-DD>_<H>#0.json.gz`.
fn build_zip(project_id: u64, events: &[StoredEvent]) -> std::io::Result<Vec<u8>> {
    let mut by_hour: std::collections::BTreeMap<i64, Vec<&StoredEvent>> = Default::default();
    for e in events {
        by_hour.entry(e.server_upload_time.div_euclid(3_600_000)).or_default().push(e);
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // The members are gzipped already; storing them avoids compressing twice.
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (hour, events) in by_hour {
        let stamp = amp::format_export_time(hour * 3_600_000).unwrap_or_default();
        let day = stamp.get(..10).unwrap_or("0000-00-00");
        let h = (hour.rem_euclid(24)).to_string();
        let name = format!("{project_id}/{project_id}_{day}_{h}#0.json.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for e in events {
            serde_json::to_writer(&mut gz, &amp::export_row(e))?;
            gz.write_all(b"\n")?;
        }
        zip.start_file(name, options).map_err(std::io::Error::other)?;
        zip.write_all(&gz.finish()?)?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}
