//! `POST /` from legacy amplitude-js (≤ 8.x) and Android 2.x SDKs (research §1.7).
//!
//! Form fields: `client` (API key), `e` (JSON array of events), `v` (`2`), `upload_time` (ms) and optionally
//! `checksum` = lowercase hex `md5(v + client + e + upload_time)`. Events use `timestamp` for their time and
//! are otherwise converted with the HTTP V2 rules. The request is all-or-nothing like the other APIs.
//!
//! These clients compare the plain-text body exactly: `success` on 200, and on 400 `invalid_api_key` or
//! `bad_checksum`; any other 400 body is logged and the batch retried later, so that body is free text
//! (`<Amplitude error>: <what to fix>`). A 413 makes them halve the batch.

use md5::{Digest, Md5};
use serde_json::Value;

use crate::error::RejectionKind;
use crate::event::{Context, Dialect};
use crate::fields::describe;
use crate::form::Form;
use crate::timefmt::parse_upload_time;
use crate::upload::{Upload, UploadError, UploadLimits, convert_events};

/// The 200 body legacy SDKs require.
pub const LEGACY_SUCCESS: &str = "success";
/// The 400 body legacy SDKs recognise as a bad key (the server sends it when `client` names no project).
pub const LEGACY_INVALID_API_KEY: &str = "invalid_api_key";
/// The 400 body legacy SDKs recognise as a checksum mismatch.
pub const LEGACY_BAD_CHECKSUM: &str = "bad_checksum";

/// Why a legacy upload was rejected. Map [`LegacyError::kind`] to a status, then send [`LegacyError::body`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LegacyError {
    /// `client` is missing or empty.
    #[error("invalid_api_key")]
    MissingApiKey,
    #[error("bad_checksum")]
    BadChecksum,
    #[error(transparent)]
    Upload(#[from] UploadError),
}

impl LegacyError {
    pub fn kind(&self) -> RejectionKind {
        match self {
            LegacyError::Upload(e) => e.kind(),
            _ => RejectionKind::BadRequest,
        }
    }

    /// The plain-text body.
    pub fn body(&self) -> String {
        match self {
            LegacyError::MissingApiKey => LEGACY_INVALID_API_KEY.to_owned(),
            LegacyError::BadChecksum => LEGACY_BAD_CHECKSUM.to_owned(),
            LegacyError::Upload(e) => format!("{}: {}", e.error_text(), e.message()),
        }
    }
}

/// `md5(v + client + e + upload_time)` as lowercase hex, as legacy amplitude-js computes it.
pub fn legacy_checksum(v: &str, client: &str, e: &str, upload_time: &str) -> String {
    let mut md5 = Md5::new();
    for part in [v, client, e, upload_time] {
        md5.update(part.as_bytes());
    }
    hex::encode(md5.finalize())
}

/// Parses a legacy upload form body.
///
/// `v` is not checked beyond its part in the checksum; an `upload_time` that is not ms is ignored; the
/// minimum id length is Amplitude's default (legacy clients cannot send `options`).
pub fn parse_legacy(form: &[u8], limits: UploadLimits) -> Result<Upload, LegacyError> {
    let form = Form::parse(form).map_err(|e| UploadError::InvalidJson(e.to_string()))?;
    let client = form.get("client").map(str::trim).unwrap_or_default();
    if client.is_empty() {
        return Err(LegacyError::MissingApiKey);
    }
    let Some(e) = form.get("e").filter(|e| !e.trim().is_empty()) else {
        let detail = "`e` is required: the events as a JSON array string".to_owned();
        return Err(UploadError::MissingField { field: "e", detail }.into());
    };
    let v = form.get("v").unwrap_or_default();
    let upload_time = form.get("upload_time").unwrap_or_default();
    if let Some(checksum) = form.get("checksum").map(str::trim).filter(|c| !c.is_empty()) {
        // The key as sent (untrimmed): that is what the client hashed.
        let sent_client = form.get("client").unwrap_or_default();
        if !checksum.eq_ignore_ascii_case(&legacy_checksum(v, sent_client, e, upload_time)) {
            return Err(LegacyError::BadChecksum);
        }
    }
    let events = match serde_json::from_str::<Value>(e) {
        Ok(Value::Array(events)) => events,
        Ok(other) => {
            let detail = format!("`e` must be a JSON array of events, got {}", describe(&other));
            return Err(UploadError::MissingField { field: "e", detail }.into());
        }
        Err(err) => {
            let detail = format!("`e` is not valid JSON ({err})");
            return Err(UploadError::InvalidJson(detail).into());
        }
    };
    let client_upload_time = parse_upload_time(&Value::String(upload_time.to_owned()));
    let ctx = Context { rules: herd_model::IdRules::default(), client_upload_time, dialect: Dialect::Legacy };
    Ok(convert_events(client.to_owned(), events, limits, &ctx)?)
}

#[cfg(test)]
mod tests;
