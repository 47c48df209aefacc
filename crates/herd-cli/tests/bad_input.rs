//! Bad input through the real server: each case gets its exact status and body, and changes nothing.

use std::io::Write;

use serde_json::{Value, json};

use crate::support::{API_KEY, TestServer, client};

struct Case {
    name: &'static str,
    path: &'static str,
    body: Vec<u8>,
    gzip_header: bool,
    status: u16,
    /// Keys of the body that must equal these values (the `message` is checked to be present and non-empty).
    expect: Value,
}

fn json_case(name: &'static str, path: &'static str, body: Value, status: u16, expect: Value) -> Case {
    Case { name, path, body: body.to_string().into_bytes(), gzip_header: false, status, expect }
}

fn ev(extra: Value) -> Value {
    let mut e = json!({"user_id": "user-00001", "event_type": "ok"});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn cases() -> Vec<Case> {
    let mut many = Vec::new();
    for i in 0..2001 {
        many.push(json!({"user_id": format!("user-{i:05}"), "event_type": "e"}));
    }
    let big = "x".repeat(1024 * 1024 + 10);
    vec![
        Case {
            name: "malformed json",
            path: "/2/httpapi",
            body: b"{\"api_key\": ".to_vec(),
            gzip_header: false,
            status: 400,
            expect: json!({"code": 400, "error": "Invalid JSON request body"}),
        },
        json_case(
            "missing api_key",
            "/2/httpapi",
            json!({"events": [ev(json!({}))]}),
            400,
            json!({"code": 400, "error": "Request missing required field", "missing_field": "api_key"}),
        ),
        json_case(
            "unknown api_key",
            "/2/httpapi",
            json!({"api_key": "nope-nope", "events": [ev(json!({}))]}),
            400,
            json!({"code": 400}),
        ),
        json_case(
            "events not an array",
            "/2/httpapi",
            json!({"api_key": API_KEY, "events": {"a": 1}}),
            400,
            json!({"code": 400, "missing_field": "events"}),
        ),
        json_case(
            "wrong field types",
            "/2/httpapi",
            json!({"api_key": API_KEY, "events": [ev(json!({})), ev(json!({"event_properties": "x"})), ev(json!({"user_id": 12345}))]}),
            400,
            json!({"code": 400, "error": "Invalid field values on some events", "events_with_invalid_fields": {"event_properties": [1], "user_id": [2]}}),
        ),
        json_case(
            "ISO time",
            "/batch",
            json!({"api_key": API_KEY, "events": [ev(json!({"time": "2024-01-01T00:00:00Z"}))]}),
            400,
            json!({"code": 400, "events_with_invalid_fields": {"time": [0]}}),
        ),
        json_case(
            "invalid id",
            "/2/httpapi",
            json!({"api_key": API_KEY, "events": [ev(json!({})), ev(json!({"user_id": "null"}))]}),
            400,
            json!({"code": 400, "events_with_invalid_fields": {"user_id": [1]}}),
        ),
        json_case(
            "short ids only",
            "/2/httpapi",
            json!({"api_key": API_KEY, "events": [ev(json!({"user_id": "abc"}))]}),
            400,
            json!({"code": 400, "events_with_invalid_id_lengths": {"user_id": [0]}}),
        ),
        json_case(
            "blank event_type",
            "/2/httpapi",
            json!({"api_key": API_KEY, "events": [ev(json!({"event_type": " "}))]}),
            400,
            json!({"code": 400, "events_with_missing_fields": {"event_type": [0]}}),
        ),
        json_case(
            "too many events",
            "/batch",
            json!({"api_key": API_KEY, "events": many}),
            413,
            json!({"code": 413, "error": "Payload too large"}),
        ),
        Case {
            name: "oversize body",
            path: "/2/httpapi",
            body: format!("{{\"api_key\":\"{API_KEY}\",\"pad\":\"{big}\"}}").into_bytes(),
            gzip_header: false,
            status: 413,
            expect: json!({"code": 413, "error": "Payload too large"}),
        },
        Case {
            name: "bad gzip",
            path: "/2/httpapi",
            body: b"definitely not gzip".to_vec(),
            gzip_header: true,
            status: 400,
            expect: json!({"code": 400}),
        },
    ]
}

#[test]
fn bad_input_table() {
    let server = TestServer::start_with(&[("HERD_THROTTLE__ENABLED", "false")]);
    let http = client();
    // One good event first, so "nothing changed" has something to compare with.
    let r = http
        .post(server.url("/2/httpapi"))
        .json(&json!({"api_key": API_KEY, "events": [ev(json!({"insert_id": "baseline"}))]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let before = server.export_all();
    for case in cases() {
        let mut req =
            http.post(server.url(case.path)).header("content-type", "application/json").body(case.body.clone());
        if case.gzip_header {
            req = req.header("content-encoding", "gzip");
        }
        let r = req.send().unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().unwrap_or_else(|e| panic!("{}: body is not JSON: {e}", case.name));
        assert_eq!(status, case.status, "{}: status; body {body}", case.name);
        for (k, v) in case.expect.as_object().unwrap() {
            assert_eq!(&body[k], v, "{}: {k} in {body}", case.name);
        }
        if status != 200 {
            let message = body["message"].as_str().unwrap_or("");
            assert!(!message.is_empty(), "{}: a message says what to fix: {body}", case.name);
        }
    }
    assert_eq!(server.export_all(), before, "rejected requests changed nothing");
}

#[test]
fn group_limits_keep_the_rest_of_the_request() {
    let server = TestServer::start_with(&[("HERD_THROTTLE__ENABLED", "false")]);
    let http = client();
    let five = json!({"a": "1", "b": "1", "c": "1", "d": "1", "e": "1"});
    let eleven: Vec<String> = (0..11).map(|i| format!("v{i}")).collect();
    let body = json!({"api_key": API_KEY, "events": [
        ev(json!({"groups": five})),
        ev(json!({"groups": {"sixth": "x", "a": "2"}})),
        ev(json!({"groups": {"a": eleven}})),
    ]});
    let r = http.post(server.url("/2/httpapi")).json(&body).send().unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().unwrap();
    assert_eq!(answer["events_ingested"], 3);
    let dropped = answer["dropped_groups"].as_object().expect("dropped_groups reported");
    assert!(
        dropped["1"][0].as_str().unwrap().starts_with("sixth=x: the project already uses 5 group types"),
        "{answer}"
    );
    assert_eq!(dropped["2"].as_array().unwrap().len(), 1, "the 11th value is dropped: {answer}");
    let rows = server.export_all();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["groups"], json!({"a": ["2"]}));
    assert_eq!(rows[2]["groups"]["a"].as_array().unwrap().len(), 10);

    // A group identification of a sixth type is refused as a whole with a message naming the limit.
    let form = format!(
        "api_key={API_KEY}&identification={}",
        r#"{"group_type":"sixth","group_value":"x","group_properties":{"p":1}}"#
    );
    let r = http
        .post(server.url("/groupidentify"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().unwrap();
    assert!(body["message"].as_str().unwrap().contains("5 group types"), "{body}");
    assert_eq!(server.export_all().len(), 3);

    // gzip bodies are accepted.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json!({"api_key": API_KEY, "events": [ev(json!({}))]}).to_string().as_bytes()).unwrap();
    let r = http
        .post(server.url("/batch"))
        .header("content-encoding", "gzip")
        .header("content-type", "text/plain")
        .body(gz.finish().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.export_all().len(), 4);
}
