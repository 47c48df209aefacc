//! Tests for `/identify` parsing: Amplitude's documented requests, and the exact error bodies.

use super::*;
use herd_model::{Identify, OpKind};
use serde_json::json;

fn identifies(req: &IdentifyRequest) -> Vec<&Identify> {
    req.commands
        .iter()
        .filter_map(|c| match c {
            Command::Identify(i) => Some(&**i),
            _ => None,
        })
        .collect()
}

fn rejected(body: &str) -> Value {
    let err = parse_identify(body.as_bytes()).expect_err("must be rejected");
    assert_eq!(err.kind(), RejectionKind::BadRequest);
    err.body(err.kind().status())
}

#[test]
fn documented_url_encoded_request() {
    // curl --data-urlencode 'api_key=<API-KEY>' --data-urlencode 'identification=[{"user_id":"value", ...}]'
    let body = "api_key=%3CAPI-KEY%3E&identification=%5B%7B%22user_id%22%3A%22value%22%2C+%22user_properties\
                %22%3A%7B%22propertyNameToUpdate%22%3A%22newValue%22%7D%7D%5D";
    let req = parse_identify(body.as_bytes()).expect("accepted");
    assert_eq!(req.api_key, "<API-KEY>");
    let [i] = identifies(&req)[..] else { panic!("one identify") };
    assert_eq!(i.user_id.as_deref(), Some("value"));
    assert_eq!(Value::Object(i.user_ops.plain.clone()), json!({"propertyNameToUpdate": "newValue"}));
}

#[test]
fn every_identification_key() {
    let identification = json!({
        "user_id": "user-1", "device_id": "dv", "insert_id": "ins-1", "time": 1_700_000_000_000_i64,
        "library": "segment", "user_properties": {"$setOnce": {"first": "a"}, "$unset": {"old": "-"}},
        "groups": {"org id": ["1234", "5678"]}, "platform": "Web", "country": "Germany", "city": "Berlin",
        "paying": "true", "start_version": "1.0",
    });
    let body = format!("api_key=k&identification={identification}&options={{\"min_id_length\":3}}");
    let req = parse_identify(body.as_bytes()).expect("accepted");
    assert_eq!(req.dropped_ids, [DroppedId { index: 0, field: "device_id", value: "dv".into() }]);
    let [i] = identifies(&req)[..] else { panic!("one identify") };
    assert_eq!(i.device_id, None, "\"dv\" is shorter than 3");
    assert_eq!(i.insert_id.as_deref(), Some("ins-1"));
    assert_eq!(i.time, Some(1_700_000_000_000));
    assert_eq!(i.device.library.as_deref(), Some("segment"));
    assert_eq!(i.device.city.as_deref(), Some("Berlin"));
    assert_eq!(i.groups.to_json(), json!({"org id": ["1234", "5678"]}));
    let ops: Vec<OpKind> = i.user_ops.ops.iter().map(|(op, _)| *op).collect();
    assert_eq!(ops, [OpKind::Unset, OpKind::SetOnce]);
    assert_eq!(Value::Object(i.extra.clone()), json!({"paying": "true", "start_version": "1.0"}));
}

#[test]
fn get_query_string_with_array() {
    let query = "api_key=k&identification=[{%22user_id%22:%22user-1%22},{%22device_id%22:%22device-2%22}]";
    let req = parse_identify(query.as_bytes()).expect("accepted");
    let ids: Vec<(Option<&str>, Option<&str>)> =
        identifies(&req).iter().map(|i| (i.user_id.as_deref(), i.device_id.as_deref())).collect();
    assert_eq!(ids, [(Some("user-1"), None), (None, Some("device-2"))]);
}

#[test]
fn error_bodies() {
    let shape = "send `identification` as a JSON object or an array of JSON objects, form-encoded (or in \
                 the query string for GET)";
    let cases = [
        (
            "identification={}",
            json!({"code": 400, "error": "Request missing required field",
            "missing_field": "api_key", "message": "`api_key` is required: your project's API key as a form field"}),
        ),
        (
            "api_key=k",
            json!({"code": 400, "error": "missing_event: identification is missing",
            "message": format!("missing_event: identification is missing; {shape}")}),
        ),
        (
            "api_key=k&identification={\"user_id\":",
            json!({"code": 400,
            "error": "missing_event: identification is not valid JSON: EOF while parsing a value at line 1 column 11",
            "message": format!("missing_event: identification is not valid JSON: EOF while parsing a value at line 1 column 11; {shape}")}),
        ),
        (
            "api_key=k&identification=5",
            json!({"code": 400,
            "error": "missing_event: identification must be a JSON object or an array of objects, got the number 5",
            "message": format!("missing_event: identification must be a JSON object or an array of objects, got the number 5; {shape}")}),
        ),
        (
            "api_key=k&identification=[]",
            json!({"code": 400,
            "error": "missing_event: identification must be a JSON object or an array of objects, got an empty array",
            "message": format!("missing_event: identification must be a JSON object or an array of objects, got an empty array; {shape}")}),
        ),
        (
            "api_key=k&identification={\"user_id\":\"u\"}&options=x",
            json!({"code": 400,
            "error": "Invalid request options",
            "message": "`options` is not valid JSON (expected value at line 1 column 1)"}),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(rejected(input), expected, "{input}");
    }
}

#[test]
fn invalid_identifications_are_all_listed() {
    let body = r#"api_key=k&identification=[{"user_id":"user-1"},{"user_properties":{"a":1}},{"user_id":"null"},3]"#;
    insta::assert_json_snapshot!(rejected(body));
}

#[test]
fn too_many_identifications() {
    let items = vec![json!({"user_id": "user-1"}); MAX_IDENTIFICATIONS + 1];
    let body = format!("api_key=k&identification={}", Value::from(items));
    let out = rejected(&body);
    assert_eq!(out["error"], "Too many identifications: 2001, at most 2000 per request");
}
