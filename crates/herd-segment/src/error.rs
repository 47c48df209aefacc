//! Rejections and response bodies (research `segment.md` §1.5).
//!
//! Segment answers `200 {"success": true}` (user-observed, not in the docs) and `400` "for large payloads and
//! JSON errors" (SD-http); RudderStack answers 401 for a missing or unknown write key. Segment documents no error
//! body, so Herd's is `{"success": false, "error": <code>, "message": <what to fix>}`, with `rejected` listing
//! refused calls by index. Codes are Segment's "Failed on Ingest" discard reasons where one exists
//! (`no_user_anon_id`, `event_not_defined`, `event_not_string`, `properties_not_object`, `traits_not_object`,
//! `name_not_string`, `category_not_string`, `empty_batch`; segment-docs `src/connections/delivery-overview.md`).
//! SDKs read only the status (analytics-node: 400 is "always non-retriable"), so the extra keys are harmless.

use serde_json::{Map, Value, json};

use crate::{MAX_BATCH_BYTES, MAX_BATCH_CALLS, MAX_CALL_BYTES};

/// How the server should answer. The server maps kinds to statuses in one place; [`SegmentErrorKind::status`]
/// gives the status Segment (or, for keys, RudderStack) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentErrorKind {
    /// Malformed request, or no call in it could be accepted.
    BadRequest,
    /// A call over 32 KB or a batch over 500 KB.
    PayloadTooLarge,
    /// No write key, or one no project has.
    Unauthorized,
}

impl SegmentErrorKind {
    /// Segment answers oversize requests with 400, not 413 (SD-http: "Segment returns a 400 Bad Request error");
    /// RudderStack answers a missing or unknown write key with 401.
    pub fn status(self) -> u16 {
        match self {
            SegmentErrorKind::BadRequest | SegmentErrorKind::PayloadTooLarge => 400,
            SegmentErrorKind::Unauthorized => 401,
        }
    }
}

/// One call that was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallProblem {
    /// Index in the batch (0 for a single call).
    pub index: usize,
    /// Segment's discard reason where it has one, e.g. `no_user_anon_id`.
    pub code: &'static str,
    /// What to fix, naming the call.
    pub message: String,
}

impl CallProblem {
    pub fn to_json(&self) -> Value {
        json!({"index": self.index, "error": self.code, "message": self.message})
    }
}

/// How many problems a `message` lists before summarising; `rejected` always lists them all.
const MAX_LISTED: usize = 20;

fn summary(problems: &[CallProblem]) -> String {
    let mut text = problems.iter().take(MAX_LISTED).map(|p| p.message.as_str()).collect::<Vec<_>>().join("; ");
    if problems.len() > MAX_LISTED {
        text.push_str(&format!("; and {} more", problems.len() - MAX_LISTED));
    }
    text
}

/// `40000 bytes`, or `more than 32768 bytes` when the exact size is unknown.
fn size_text(size: Option<usize>, limit: usize) -> String {
    match size {
        Some(size) => format!("{size} bytes"),
        None => format!("more than {limit} bytes"),
    }
}

/// Why a whole request was refused. Map [`SegmentError::kind`] to a status, then send [`SegmentError::body`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("the request body is empty")]
    EmptyBody,
    /// Not JSON, or not a JSON object.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A batch body without a `batch` array.
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    #[error("the batch is empty")]
    EmptyBatch,
    /// The body names more than one write key.
    #[error("the body names several write keys")]
    ConflictingWriteKeys,
    /// One call is larger than [`MAX_CALL_BYTES`]; `index` is its place in a batch; `size` is `None` when it is
    /// not known (a compressed body is decompressed only up to the limit).
    #[error("call exceeds {MAX_CALL_BYTES} bytes")]
    CallTooLarge { index: Option<usize>, size: Option<usize> },
    /// The body of a batch is larger than [`MAX_BATCH_BYTES`] (the server checks this); `size` as above.
    #[error("batch exceeds {MAX_BATCH_BYTES} bytes")]
    BatchTooLarge { size: Option<usize> },
    /// Every call was refused; nothing of the request can be stored.
    #[error("{}", summary(.0))]
    Calls(Vec<CallProblem>),
    /// Neither Basic auth nor the body gave a write key (the server checks this).
    #[error("no write key")]
    MissingWriteKey,
    /// No project has the write key (the server checks this); `hint` shows its start and length only.
    #[error("unknown write key {hint}")]
    UnknownWriteKey { hint: String },
}

impl SegmentError {
    /// An unknown write key, shown in the body by its first 6 characters and its length only.
    pub fn unknown_write_key(key: &str) -> SegmentError {
        let shown: String = key.chars().take(6).collect();
        let ellipsis = if shown.len() < key.len() { "…" } else { "" };
        SegmentError::UnknownWriteKey { hint: format!("{shown}{ellipsis} ({} characters)", key.chars().count()) }
    }

    pub fn kind(&self) -> SegmentErrorKind {
        match self {
            SegmentError::CallTooLarge { .. } | SegmentError::BatchTooLarge { .. } => SegmentErrorKind::PayloadTooLarge,
            SegmentError::MissingWriteKey | SegmentError::UnknownWriteKey { .. } => SegmentErrorKind::Unauthorized,
            _ => SegmentErrorKind::BadRequest,
        }
    }

    /// The body's `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            SegmentError::EmptyBody => "empty_body",
            SegmentError::InvalidJson(_) => "invalid_json",
            SegmentError::InvalidBatch(_) => "invalid_batch",
            SegmentError::EmptyBatch => "empty_batch",
            SegmentError::ConflictingWriteKeys => "conflicting_write_keys",
            SegmentError::CallTooLarge { .. } => "call_too_large",
            SegmentError::BatchTooLarge { .. } => "batch_too_large",
            SegmentError::Calls(problems) => match problems.as_slice() {
                [one] => one.code,
                _ => "invalid_calls",
            },
            SegmentError::MissingWriteKey => "missing_write_key",
            SegmentError::UnknownWriteKey { .. } => "invalid_write_key",
        }
    }

    /// What to fix, in words.
    pub fn message(&self) -> String {
        const SHAPE: &str = "send one call as a JSON object, or a batch as {\"batch\": [calls…]} (gzip needs \
                             `Content-Encoding: gzip`)";
        match self {
            SegmentError::EmptyBody => format!("the request body is empty; {SHAPE}"),
            SegmentError::InvalidJson(detail) => format!("{detail}; {SHAPE}"),
            SegmentError::InvalidBatch(detail) => detail.clone(),
            SegmentError::EmptyBatch => "`batch` holds no calls; send at least one call or nothing at all".into(),
            SegmentError::ConflictingWriteKeys => {
                "the body names more than one `writeKey`; send each source's calls in their own request".into()
            }
            SegmentError::CallTooLarge { index: Some(i), size } => format!(
                "batch[{i}] is {}; each call must be at most {MAX_CALL_BYTES} bytes (32 KB), so send fewer or \
                 shorter properties",
                size_text(*size, MAX_CALL_BYTES)
            ),
            SegmentError::CallTooLarge { index: None, size } => format!(
                "the call is {}; a call must be at most {MAX_CALL_BYTES} bytes (32 KB), so send fewer or shorter \
                 properties",
                size_text(*size, MAX_CALL_BYTES)
            ),
            SegmentError::BatchTooLarge { size } => format!(
                "the batch is {}; a batch must be at most {MAX_BATCH_BYTES} bytes (500 KB) and hold at most \
                 {MAX_BATCH_CALLS} calls, so send smaller batches",
                size_text(*size, MAX_BATCH_BYTES)
            ),
            SegmentError::Calls(problems) => {
                let outcome = if problems.len() == 1 { "the call was not stored" } else { "no call was stored" };
                format!("{}; {outcome}", summary(problems))
            }
            SegmentError::MissingWriteKey => "no write key: send it as the Basic auth user name (`writeKey:` \
                                             base64-encoded) or as `writeKey` in the body"
                .into(),
            SegmentError::UnknownWriteKey { hint } => format!(
                "no project has the write key {hint}; copy the Segment write key from your Herd project's settings"
            ),
        }
    }

    /// `{"success": false, "error": code, "message": …}`, plus `rejected` for refused calls.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("success".into(), false.into());
        body.insert("error".into(), self.code().into());
        body.insert("message".into(), self.message().into());
        if let SegmentError::Calls(problems) = self {
            body.insert("rejected".into(), problems.iter().map(CallProblem::to_json).collect());
        }
        Value::Object(body)
    }
}

/// Segment's success body, `{"success": true}`.
pub fn success_body() -> Value {
    json!({"success": true})
}

/// `{"success": true}` plus Herd's additions, each left out when empty: `rejected` (calls of a batch that were
/// dropped while the rest was stored, as Segment does) and `warnings`.
pub fn success_body_with(rejected: &[CallProblem], warnings: &[String]) -> Value {
    let mut body = Map::new();
    body.insert("success".into(), true.into());
    if !rejected.is_empty() {
        body.insert("rejected".into(), rejected.iter().map(CallProblem::to_json).collect());
    }
    if !warnings.is_empty() {
        body.insert("warnings".into(), warnings.into());
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(index: usize) -> CallProblem {
        CallProblem { index, code: "no_user_anon_id", message: format!("batch[{index}] (track): no id") }
    }

    #[test]
    fn kinds_and_statuses() {
        assert_eq!(SegmentError::EmptyBody.kind().status(), 400);
        assert_eq!(SegmentError::BatchTooLarge { size: Some(1) }.kind(), SegmentErrorKind::PayloadTooLarge);
        assert_eq!(SegmentError::BatchTooLarge { size: None }.kind().status(), 400);
        assert_eq!(SegmentError::MissingWriteKey.kind().status(), 401);
        assert_eq!(SegmentError::Calls(vec![problem(0)]).code(), "no_user_anon_id");
        assert_eq!(SegmentError::Calls(vec![problem(0), problem(1)]).code(), "invalid_calls");
    }

    #[test]
    fn sizes_are_exact_or_said_to_be_unknown() {
        let known = SegmentError::CallTooLarge { index: None, size: Some(40_000) }.message();
        assert!(known.starts_with("the call is 40000 bytes; "), "{known}");
        // A gzip body is decompressed only up to the limit, so its size is not known.
        let unknown = SegmentError::BatchTooLarge { size: None }.message();
        assert!(unknown.starts_with("the batch is more than 512000 bytes; "), "{unknown}");
        let in_batch = SegmentError::CallTooLarge { index: Some(3), size: Some(33_000) }.message();
        assert!(in_batch.starts_with("batch[3] is 33000 bytes; "), "{in_batch}");
    }

    #[test]
    fn bodies() {
        insta::assert_json_snapshot!(SegmentError::unknown_write_key("abcdefghijkl").body(), @r#"
        {
          "success": false,
          "error": "invalid_write_key",
          "message": "no project has the write key abcdef… (12 characters); copy the Segment write key from your Herd project's settings"
        }
        "#);
        let many: Vec<CallProblem> = (0..25).map(problem).collect();
        let body = SegmentError::Calls(many).body();
        assert_eq!(body["rejected"].as_array().map(Vec::len), Some(25));
        assert!(body["message"].as_str().is_some_and(|m| m.ends_with("; and 5 more; no call was stored")));
        assert_eq!(success_body(), json!({"success": true}));
        assert_eq!(success_body_with(&[], &[]), json!({"success": true}));
        assert_eq!(
            success_body_with(&[problem(2)], &["w".to_owned()]),
            json!({"success": true, "rejected": [{"index": 2, "error": "no_user_anon_id",
                   "message": "batch[2] (track): no id"}], "warnings": ["w"]})
        );
    }
}
