//! Tests for the legacy `POST /` upload: checksums, plain-text bodies and event conversion.

use super::*;
use herd_model::Command;
use serde_json::json;

/// Encodes like JavaScript's `encodeURIComponent`.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

const CLIENT: &str = "040062a5d38552315b98302ba4f2f";
const UPLOAD_TIME: &str = "1396381380000";

fn events() -> String {
    json!([
        {"device_id": "oyQFh3FvRnyrbTl5Tau3hR", "user_id": null, "timestamp": 1_396_381_378_123_i64,
         "event_id": 7, "session_id": -1, "event_type": "Clicked Button", "version_name": "1.0",
         "platform": "Web", "os_name": "Chrome", "os_version": "120", "device_model": "Mac",
         "language": "en-US", "api_properties": {}, "event_properties": {"button": "buy"},
         "user_properties": {}, "uuid": "0f7b1c2e-1111-4b0e-9c59-2c3b1a9f2d3e",
         "library": {"name": "amplitude-js", "version": "8.21.9"}, "sequence_number": 12,
         "groups": {"org": "acme"}, "group_properties": {}, "user_agent": "Mozilla/5.0"},
        {"device_id": "oyQFh3FvRnyrbTl5Tau3hR", "user_id": "user-1", "timestamp": 1_396_381_379_000_i64,
         "event_type": "$identify", "user_properties": {"$set": {"plan": "pro"}}, "session_id": 1_396_381_300_000_i64}
    ])
    .to_string()
}

fn form(e: &str, checksum: Option<&str>) -> String {
    let mut body = format!("client={CLIENT}&e={}&v=2&upload_time={UPLOAD_TIME}", encode(e));
    if let Some(c) = checksum {
        body.push_str(&format!("&checksum={c}"));
    }
    body
}

#[test]
fn checksum_matches_amplitude_js() {
    // md5("2" + "key" + "[]" + "1") computed independently (`printf '2key[]1' | md5sum`).
    assert_eq!(legacy_checksum("2", "key", "[]", "1"), "f5edbb235d7d0c743971f7ee8983870f");
}

#[test]
fn good_checksum_and_conversion() {
    let e = events();
    let checksum = legacy_checksum("2", CLIENT, &e, UPLOAD_TIME);
    let upload = parse_legacy(form(&e, Some(&checksum)).as_bytes(), UploadLimits::default()).expect("accepted");
    assert_eq!((upload.api_key.as_str(), upload.event_count), (CLIENT, 2));
    let [Command::Track(t), Command::Identify(i)] = upload.commands.as_slice() else {
        panic!("track then identify: {:?}", upload.commands)
    };
    assert_eq!(t.time, Some(1_396_381_378_123));
    assert_eq!(t.client_upload_time, Some(1_396_381_380_000));
    assert_eq!((t.session_id, t.event_id), (None, Some(7)));
    assert_eq!(t.device.library.as_deref(), Some("amplitude-js/8.21.9"));
    assert_eq!(t.groups.to_json(), json!({"org": ["acme"]}));
    assert_eq!(
        Value::Object(t.extra.clone()),
        json!({"api_properties": {}, "uuid": "0f7b1c2e-1111-4b0e-9c59-2c3b1a9f2d3e", "sequence_number": 12})
    );
    assert_eq!(i.user_id.as_deref(), Some("user-1"));
    assert_eq!(i.extra["session_id"], 1_396_381_300_000_i64);
    // Without a checksum the upload is accepted too (the Android SDK sends none); uppercase hex is accepted.
    assert!(parse_legacy(form(&e, None).as_bytes(), UploadLimits::default()).is_ok());
    let upper = checksum.to_uppercase();
    assert!(parse_legacy(form(&e, Some(&upper)).as_bytes(), UploadLimits::default()).is_ok());
}

#[test]
fn bad_checksum() {
    let e = events();
    let err = parse_legacy(form(&e, Some("0123456789abcdef0123456789abcdef")).as_bytes(), UploadLimits::default())
        .expect_err("rejected");
    assert_eq!((err.kind(), err.body().as_str()), (RejectionKind::BadRequest, LEGACY_BAD_CHECKSUM));
}

#[test]
fn plain_text_errors() {
    let limits = UploadLimits { max_events: 1 };
    let cases = [
        ("e=%5B%5D&v=2", RejectionKind::BadRequest, "invalid_api_key".to_owned()),
        ("client=k&v=2", RejectionKind::BadRequest,
         "Request missing required field: `e` is required: the events as a JSON array string".to_owned()),
        ("client=k&e=%7B%7D", RejectionKind::BadRequest,
         "Request missing required field: `e` must be a JSON array of events, got an object".to_owned()),
        ("client=k&e=%5B", RejectionKind::BadRequest,
         "Invalid JSON request body: `e` is not valid JSON (EOF while parsing a list at line 1 column 1); send a JSON object {\"api_key\": …, \"events\": […]} (gzip needs `Content-Encoding: gzip`)".to_owned()),
        ("client=k&e=%5B%7B%7D%2C%7B%7D%5D", RejectionKind::PayloadTooLarge,
         "Payload too large: the request has 2 events; send at most 1 events per request".to_owned()),
        ("client=k&e=%5B%7B%22event_type%22%3A%22x%22%2C%22device_id%22%3A%22d-12345%22%2C%22timestamp%22%3A%22now%22%7D%5D",
         RejectionKind::BadRequest,
         "Invalid field values on some events: event 0: `timestamp` must be milliseconds since the epoch as an integer, got the string \"now\"".to_owned()),
    ];
    for (input, kind, body) in cases {
        let err = parse_legacy(input.as_bytes(), limits).expect_err(input);
        assert_eq!((err.kind(), err.body()), (kind, body), "{input}");
    }
}
