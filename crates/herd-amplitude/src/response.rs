//! Amplitude's response bodies: upload success, errors, throttling and invalid API keys (research §1.5, §2).
//!
//! SDKs read the status from the body's `code` (TS, Python) or from the HTTP status (Kotlin), so every builder
//! takes the status code the server is about to send. Every error body also carries a human `message` that
//! says what to fix; SDKs ignore keys they do not know.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The plain-text success body of `/identify` and `/groupidentify`.
pub const TEXT_SUCCESS: &str = "success";

/// The success body of `/2/httpapi` and `/batch`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadSuccess {
    pub events_ingested: usize,
    pub payload_size_bytes: usize,
    /// When the server received the request, ms since the epoch.
    pub server_upload_time: i64,
    /// Herd addition: things the sender may want to fix although nothing was rejected; left out when empty.
    pub warnings: Vec<String>,
    /// Herd addition: groups left off events (e.g. over the group-type limit); left out when `None`.
    pub dropped_groups: Option<Value>,
}

impl UploadSuccess {
    pub fn new(events_ingested: usize, payload_size_bytes: usize, server_upload_time: i64) -> Self {
        UploadSuccess { events_ingested, payload_size_bytes, server_upload_time, ..Default::default() }
    }

    /// `{"code":200,"events_ingested":N,"payload_size_bytes":B,"server_upload_time":MS}` plus the additions.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("code".into(), 200.into());
        body.insert("events_ingested".into(), self.events_ingested.into());
        body.insert("payload_size_bytes".into(), self.payload_size_bytes.into());
        body.insert("server_upload_time".into(), self.server_upload_time.into());
        if !self.warnings.is_empty() {
            body.insert("warnings".into(), self.warnings.clone().into());
        }
        if let Some(dropped) = &self.dropped_groups {
            body.insert("dropped_groups".into(), dropped.clone());
        }
        Value::Object(body)
    }
}

/// The start of an error body: `{"code": code, "error": error}`; callers add fields, then `message`.
pub(crate) fn error_head(code: u16, error: &str) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("code".into(), code.into());
    body.insert("error".into(), error.into());
    body
}

/// A plain error body: `{"code": code, "error": error, "message": message}`.
pub fn error_body(code: u16, error: &str, message: &str) -> Value {
    let mut body = error_head(code, error);
    body.insert("message".into(), message.into());
    Value::Object(body)
}

/// `{"code":413,"error":"Payload too large","message":…}`.
pub fn payload_too_large_body(code: u16, message: &str) -> Value {
    error_body(code, "Payload too large", message)
}

/// `{"code":400,"error":"Invalid API key: <hint>","message":…}`. The `error` starts with `Invalid API key`
/// because SDKs test that prefix to drop the whole batch instead of retrying it.
///
/// The hint shows only the first 6 characters and the length of the key that was sent, which is enough to
/// spot a wrong or truncated key without echoing a whole key into logs.
pub fn invalid_api_key_body(code: u16, key: &str) -> Value {
    let hint = if key.trim().is_empty() {
        "(empty)".to_owned()
    } else {
        let shown: String = key.chars().take(6).collect();
        let ellipsis = if shown.len() < key.len() { "…" } else { "" };
        format!("{shown}{ellipsis} ({} characters)", key.chars().count())
    };
    let message = "no project has this API key; copy the API key from your Herd project's settings \
                   (the ingestion key, not the secret key) and send it as `api_key`";
    error_body(code, &format!("Invalid API key: {hint}"), message)
}

/// What was throttled, for a 429 body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Throttle {
    /// The per-user/per-device events-per-second limit.
    pub eps_threshold: u64,
    /// Device id → its current events per second.
    pub throttled_devices: BTreeMap<String, u64>,
    /// User id → its current events per second.
    pub throttled_users: BTreeMap<String, u64>,
    /// Indices of the events that were throttled.
    pub throttled_events: Vec<usize>,
    /// User id → events in the last 24 hours, for users over the daily quota.
    pub exceeded_daily_quota_users: BTreeMap<String, u64>,
    /// Device id → events in the last 24 hours, for devices over the daily quota.
    pub exceeded_daily_quota_devices: BTreeMap<String, u64>,
    /// How long the sender should pause those users and devices (Amplitude says 30 s for HTTP V2, 15 s for Batch).
    pub retry_after_secs: u64,
}

/// `{"code":429,"error":"Too many requests for some devices and users",…}` exactly as Amplitude's, plus `message`.
pub fn throttled_body(code: u16, t: &Throttle) -> Value {
    let map =
        |m: &BTreeMap<String, u64>| -> Value { Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect()) };
    let mut body = error_head(code, "Too many requests for some devices and users");
    body.insert("eps_threshold".into(), t.eps_threshold.into());
    body.insert("throttled_devices".into(), map(&t.throttled_devices));
    body.insert("throttled_users".into(), map(&t.throttled_users));
    body.insert("exceeded_daily_quota_users".into(), map(&t.exceeded_daily_quota_users));
    body.insert("exceeded_daily_quota_devices".into(), map(&t.exceeded_daily_quota_devices));
    body.insert("throttled_events".into(), t.throttled_events.clone().into());
    let message = format!(
        "{} device(s) and {} user(s) sent more than {} events per second, {} over the daily quota; \
         pause sending their events for {} seconds, then resend the events listed in `throttled_events`",
        t.throttled_devices.len(),
        t.throttled_users.len(),
        t.eps_threshold,
        t.exceeded_daily_quota_users.len() + t.exceeded_daily_quota_devices.len(),
        t.retry_after_secs,
    );
    body.insert("message".into(), message.into());
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_bodies() {
        insta::assert_json_snapshot!(UploadSuccess::new(50, 1234, 1_396_381_378_123).to_json());
        let mut with = UploadSuccess::new(2, 10, 1);
        with.warnings = vec!["event 0: `time` 5 is before 1973".into()];
        with.dropped_groups = Some(json!({"region": ["eu"]}));
        insta::assert_json_snapshot!(with.to_json());
    }

    #[test]
    fn error_bodies() {
        insta::assert_json_snapshot!(payload_too_large_body(413, "send at most 2000 events"));
        insta::assert_json_snapshot!(invalid_api_key_body(400, "040062a5d38552315b98302ba4f2f"));
        assert_eq!(invalid_api_key_body(400, "")["error"], "Invalid API key: (empty)");
        assert_eq!(invalid_api_key_body(400, "abc")["error"], "Invalid API key: abc (3 characters)");
    }

    #[test]
    fn throttle_body() {
        let t = Throttle {
            eps_threshold: 30,
            throttled_devices: [("C8F9E604-F01A-4BD9-95C6-8E5357DF265D".to_owned(), 31)].into(),
            throttled_users: [("datamonster@amplitude.com".to_owned(), 32)].into(),
            throttled_events: vec![3, 4, 7],
            retry_after_secs: 30,
            ..Throttle::default()
        };
        insta::assert_json_snapshot!(throttled_body(429, &t));
    }
}
