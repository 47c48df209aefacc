//! `POST|GET /identify` (research §3): form fields `api_key`, `identification`, `options` → Identify commands.
//!
//! Also holds what the Group Identify API shares with it: reading the form and the error type.
//!
//! Error bodies (Amplitude only says "400 with a `missing_event` message"): JSON
//! `{"code":400,"error":"missing_event: <what is wrong>","message":"<what to fix>"}` for any problem with
//! `identification`; a missing `api_key` gets the HTTP API's `Request missing required field` body with
//! `missing_field: "api_key"`. Per-identification problems also carry the `events_with_*` index maps.

use herd_model::Command;
use serde_json::Value;

use crate::error::{EventErrors, MISSING_FIELD, RejectionKind};
use crate::event::{Context, Dialect, DroppedId, convert_all};
use crate::fields::describe;
use crate::form::Form;
use crate::response::{error_body, error_head};
use crate::upload::parse_options;

/// At most this many identifications per `/identify` request (Amplitude documents no limit; this matches
/// the HTTP API's 2,000 events).
pub const MAX_IDENTIFICATIONS: usize = 2000;

/// An accepted `/identify` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentifyRequest {
    pub api_key: String,
    /// One [`Command::Identify`] per identification, in order.
    pub commands: Vec<Command>,
    pub dropped_ids: Vec<DroppedId>,
    pub warnings: Vec<String>,
}

/// Why an `/identify` or `/groupidentify` request was rejected. Always 400; render with [`IdentifyError::body`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IdentifyError {
    #[error("missing_event: {0}")]
    NotUtf8(String),
    #[error("Request missing required field: api_key")]
    MissingApiKey,
    #[error("missing_event: identification is missing")]
    MissingIdentification,
    #[error("missing_event: identification is not valid JSON: {0}")]
    IdentificationNotJson(String),
    /// Not an object or an array of objects; holds a description of what was sent.
    #[error("missing_event: identification must be a JSON object or an array of objects, got {0}")]
    IdentificationShape(String),
    #[error("Too many identifications: {count}, at most {max} per request")]
    TooManyIdentifications { count: usize, max: usize },
    #[error("Too many group properties: {count}, at most {max} per request")]
    TooManyProperties { count: usize, max: usize },
    #[error("Invalid request options: {0}")]
    InvalidOptions(String),
    /// Some identifications are invalid; nothing was applied.
    #[error("missing_event: {}", .0.message())]
    Invalid(Box<EventErrors>),
}

impl IdentifyError {
    pub fn kind(&self) -> RejectionKind {
        RejectionKind::BadRequest
    }

    /// The body's `error` string.
    pub fn error_text(&self) -> String {
        match self {
            IdentifyError::MissingApiKey => MISSING_FIELD.to_owned(),
            IdentifyError::Invalid(_) => "missing_event: some identifications are invalid".to_owned(),
            IdentifyError::InvalidOptions(_) => "Invalid request options".to_owned(),
            other => other.to_string(),
        }
    }

    /// What to fix, in words.
    pub fn message(&self) -> String {
        let shape = "send `identification` as a JSON object or an array of JSON objects, form-encoded \
                     (or in the query string for GET)";
        match self {
            IdentifyError::NotUtf8(detail) => format!("{detail}; {shape}"),
            IdentifyError::MissingApiKey => "`api_key` is required: your project's API key as a form field".to_owned(),
            IdentifyError::MissingIdentification
            | IdentifyError::IdentificationNotJson(_)
            | IdentifyError::IdentificationShape(_) => format!("{self}; {shape}"),
            IdentifyError::TooManyIdentifications { count, max } => {
                format!("the request has {count} identifications; send at most {max} per request")
            }
            IdentifyError::TooManyProperties { count, max } => {
                format!("the request sets {count} group properties; send at most {max} per request")
            }
            IdentifyError::InvalidOptions(detail) => detail.clone(),
            IdentifyError::Invalid(errors) => errors.message(),
        }
    }

    /// The JSON body, with `code` set to the status the server sends.
    pub fn body(&self, code: u16) -> Value {
        let mut body = error_head(code, &self.error_text());
        match self {
            IdentifyError::MissingApiKey => {
                body.insert("missing_field".into(), "api_key".into());
            }
            IdentifyError::Invalid(errors) => errors.write_maps(&mut body),
            _ => return error_body(code, &self.error_text(), &self.message()),
        }
        body.insert("message".into(), self.message().into());
        Value::Object(body)
    }
}

/// The fields every form API request has.
pub(crate) struct FormRequest {
    pub(crate) api_key: String,
    /// The identification objects (not yet checked to be objects).
    pub(crate) items: Vec<Value>,
    pub(crate) form: Form,
}

/// Reads `api_key` and `identification` (one object or an array of objects, at most `max`).
pub(crate) fn read_form_request(body: &[u8], max: usize) -> Result<FormRequest, IdentifyError> {
    let form = Form::parse(body).map_err(|e| IdentifyError::NotUtf8(e.to_string()))?;
    let api_key = form.get("api_key").map(str::trim).unwrap_or_default();
    if api_key.is_empty() {
        return Err(IdentifyError::MissingApiKey);
    }
    let api_key = api_key.to_owned();
    let raw = form.get("identification").map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Err(IdentifyError::MissingIdentification);
    }
    let value: Value = serde_json::from_str(raw).map_err(|e| IdentifyError::IdentificationNotJson(e.to_string()))?;
    let items = match value {
        Value::Object(_) => vec![value],
        Value::Array(items) if items.is_empty() => {
            return Err(IdentifyError::IdentificationShape("an empty array".into()));
        }
        Value::Array(items) => items,
        other => return Err(IdentifyError::IdentificationShape(describe(&other))),
    };
    if items.len() > max {
        return Err(IdentifyError::TooManyIdentifications { count: items.len(), max });
    }
    Ok(FormRequest { api_key, items, form })
}

/// Parses an `/identify` form body (POST) or query string (GET).
///
/// Each identification takes `user_id`/`device_id` (HTTP API id rules; at least one must remain),
/// `user_properties` (operations or plain keys), `groups` (user-level), the device and location fields,
/// `insert_id`, `time`, `library`; everything else (`paying`, `start_version`, …) is kept in `extra`.
/// `options` is a JSON string `{"min_id_length": N}`.
pub fn parse_identify(form: &[u8]) -> Result<IdentifyRequest, IdentifyError> {
    let request = read_form_request(form, MAX_IDENTIFICATIONS)?;
    let options = match request.form.get("options").map(str::trim).filter(|o| !o.is_empty()) {
        None => None,
        Some(raw) => Some(
            serde_json::from_str::<Value>(raw)
                .map_err(|e| IdentifyError::InvalidOptions(format!("`options` is not valid JSON ({e})")))?,
        ),
    };
    let rules = parse_options(options.as_ref()).map_err(IdentifyError::InvalidOptions)?;
    let ctx = Context { rules, client_upload_time: None, dialect: Dialect::Identification };
    let converted = convert_all(request.items, &ctx);
    if !converted.errors.is_empty() {
        return Err(IdentifyError::Invalid(Box::new(converted.errors)));
    }
    Ok(IdentifyRequest {
        api_key: request.api_key,
        commands: converted.commands,
        dropped_ids: converted.dropped_ids,
        warnings: converted.warnings,
    })
}

#[cfg(test)]
mod tests;
