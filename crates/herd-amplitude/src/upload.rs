//! `POST /2/httpapi` and `POST /batch` bodies → commands (research §1–§2).
//!
//! A request is all-or-nothing: if any event has a problem, nothing is ingested and the 400 body lists every
//! offending index, so SDKs can drop exactly those events and resend the rest. Event-level problems never
//! set the request-level `missing_field`, because SDKs drop the whole batch when it is present.

use herd_model::{Command, IdRules};
use serde_json::{Map, Value};

use crate::error::{EventErrors, MISSING_FIELD, RejectionKind};
use crate::event::{Context, Dialect, DroppedId, convert_all};
use crate::fields::{as_whole, describe};
use crate::response::{error_body, error_head, payload_too_large_body};
use crate::timefmt::parse_upload_time;

/// Request limits the server configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// More events than this → 413 (Amplitude: 2,000, counted after gunzip).
    pub max_events: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits { max_events: 2000 }
    }
}

/// An accepted upload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Upload {
    pub api_key: String,
    /// In wire order; `$groupidentify` events may yield several commands.
    pub commands: Vec<Command>,
    /// Number of events on the wire (Amplitude's `events_ingested`).
    pub event_count: usize,
    /// For each command, the index of the wire event it came from.
    pub command_origin: Vec<usize>,
    /// Ids removed because they were shorter than `min_id_length` (their events kept another id).
    pub dropped_ids: Vec<DroppedId>,
    /// Things worth telling the sender although nothing was rejected (e.g. a `time` that looks like seconds).
    pub warnings: Vec<String>,
}

/// Why an upload was rejected. Map [`UploadError::kind`] to a status, then render [`UploadError::body`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UploadError {
    #[error("Missing request body")]
    MissingBody,
    /// The body is not JSON, or not a JSON object.
    #[error("Invalid JSON request body: {0}")]
    InvalidJson(String),
    /// A request-level field (`api_key`, `events`, legacy `e`) is missing or has the wrong type.
    #[error("Request missing required field: {field}: {detail}")]
    MissingField { field: &'static str, detail: String },
    /// `options` is not `{"min_id_length": <non-negative integer>}`.
    #[error("Invalid request options: {0}")]
    InvalidOptions(String),
    #[error("Payload too large: {count} events, at most {max} per request")]
    TooManyEvents { count: usize, max: usize },
    /// Some events are invalid; nothing was ingested.
    #[error("{}: {}", .0.error_text(), .0.message())]
    Events(Box<EventErrors>),
}

impl UploadError {
    pub fn kind(&self) -> RejectionKind {
        match self {
            UploadError::TooManyEvents { .. } => RejectionKind::PayloadTooLarge,
            _ => RejectionKind::BadRequest,
        }
    }

    /// Amplitude's `error` string.
    pub fn error_text(&self) -> &'static str {
        match self {
            UploadError::MissingBody => "Missing request body",
            UploadError::InvalidJson(_) => "Invalid JSON request body",
            UploadError::MissingField { .. } => MISSING_FIELD,
            UploadError::InvalidOptions(_) => "Invalid request options",
            UploadError::TooManyEvents { .. } => "Payload too large",
            UploadError::Events(e) => e.error_text(),
        }
    }

    /// What to fix, in words.
    pub fn message(&self) -> String {
        match self {
            UploadError::MissingBody => {
                "the request body is empty; send a JSON object {\"api_key\": …, \"events\": […]}".into()
            }
            UploadError::InvalidJson(detail) => format!(
                "{detail}; send a JSON object {{\"api_key\": …, \"events\": […]}} (gzip needs \
                 `Content-Encoding: gzip`)"
            ),
            UploadError::MissingField { detail, .. } => detail.clone(),
            UploadError::InvalidOptions(detail) => detail.clone(),
            UploadError::TooManyEvents { count, max } => {
                format!("the request has {count} events; send at most {max} events per request")
            }
            UploadError::Events(e) => e.message(),
        }
    }

    /// The JSON body, with `code` set to the status the server sends.
    pub fn body(&self, code: u16) -> Value {
        match self {
            UploadError::TooManyEvents { .. } => payload_too_large_body(code, &self.message()),
            UploadError::MissingField { field, .. } => {
                let mut body = error_head(code, self.error_text());
                body.insert("missing_field".into(), (*field).into());
                body.insert("message".into(), self.message().into());
                Value::Object(body)
            }
            UploadError::Events(errors) => {
                let mut body = error_head(code, self.error_text());
                errors.write_maps(&mut body);
                body.insert("message".into(), self.message().into());
                Value::Object(body)
            }
            _ => error_body(code, self.error_text(), &self.message()),
        }
    }
}

/// Parses a `/2/httpapi` or `/batch` body (already gunzipped).
pub fn parse_upload(body: &[u8], limits: UploadLimits) -> Result<Upload, UploadError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(UploadError::MissingBody);
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| UploadError::InvalidJson(format!("the body is not valid JSON ({e})")))?;
    let Value::Object(mut request) = value else {
        let got = describe(&value);
        return Err(UploadError::InvalidJson(format!("the body must be a JSON object, got {got}")));
    };
    let api_key = request_api_key(request.get("api_key"), "api_key")?;
    let events = match request.shift_remove("events") {
        Some(Value::Array(events)) => events,
        other => {
            let detail = match other {
                None | Some(Value::Null) => "`events` is required: an array of event objects".into(),
                Some(v) => format!("`events` must be an array of event objects, got {}", describe(&v)),
            };
            return Err(UploadError::MissingField { field: "events", detail });
        }
    };
    let rules = parse_options(request.get("options")).map_err(UploadError::InvalidOptions)?;
    let mut warnings = Vec::new();
    let client_upload_time = request.get("client_upload_time").and_then(|v| {
        let parsed = parse_upload_time(v);
        if parsed.is_none() && !v.is_null() {
            warnings
                .push(format!("`client_upload_time` {} is neither ISO-8601 nor milliseconds; ignored", describe(v)));
        }
        parsed
    });
    let ctx = Context { rules, client_upload_time, dialect: Dialect::Event };
    let mut upload = convert_events(api_key, events, limits, &ctx)?;
    warnings.append(&mut upload.warnings);
    upload.warnings = warnings;
    Ok(upload)
}

/// The request-level API key: a non-empty string.
pub(crate) fn request_api_key(value: Option<&Value>, field: &'static str) -> Result<String, UploadError> {
    match value {
        Some(Value::String(key)) if !key.trim().is_empty() => Ok(key.trim().to_owned()),
        other => {
            let detail = match other {
                None | Some(Value::Null) => {
                    format!("`{field}` is required: your project's API key as a string")
                }
                Some(v) => {
                    format!("`{field}` must be your project's API key as a string, got {}", describe(v))
                }
            };
            Err(UploadError::MissingField { field, detail })
        }
    }
}

/// `options`: `{"min_id_length": N}`; absent or `null` means the defaults. Other keys are ignored.
pub(crate) fn parse_options(options: Option<&Value>) -> Result<IdRules, String> {
    let mut rules = IdRules::default();
    let options: &Map<String, Value> = match options {
        None | Some(Value::Null) => return Ok(rules),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(format!("`options` must be an object like {{\"min_id_length\": 5}}, got {}", describe(other)));
        }
    };
    match options.get("min_id_length") {
        None | Some(Value::Null) => {}
        Some(v) => match as_whole(v).and_then(|n| usize::try_from(n).ok()) {
            Some(n) => rules.min_id_length = n,
            None => {
                return Err(format!("`options.min_id_length` must be a non-negative integer, got {}", describe(v)));
            }
        },
    }
    Ok(rules)
}

/// Converts a request's events (shared with the legacy upload): limit check, then all-or-nothing conversion.
pub(crate) fn convert_events(
    api_key: String,
    events: Vec<Value>,
    limits: UploadLimits,
    ctx: &Context,
) -> Result<Upload, UploadError> {
    let event_count = events.len();
    if event_count > limits.max_events {
        return Err(UploadError::TooManyEvents { count: event_count, max: limits.max_events });
    }
    let converted = convert_all(events, ctx);
    if !converted.errors.is_empty() {
        return Err(UploadError::Events(Box::new(converted.errors)));
    }
    Ok(Upload {
        api_key,
        commands: converted.commands,
        event_count,
        command_origin: converted.origin,
        dropped_ids: converted.dropped_ids,
        warnings: converted.warnings,
    })
}

#[cfg(test)]
mod tests;
