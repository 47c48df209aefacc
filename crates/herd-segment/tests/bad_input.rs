//! The bad-input table: every refused request with its status (Segment's) and its exact body, snapshotted.

use herd_segment::{CallKind, MAX_CALL_BYTES, SegmentError, SegmentErrorKind, SegmentSettings, parse};
use serde_json::{Map, Value, json};

use crate::render::RECEIVED;

fn refused(kind: CallKind, body: &[u8]) -> Value {
    match parse(kind, body, &SegmentSettings::default(), RECEIVED) {
        Ok(r) => json!({"accepted (must be refused)": format!("{r:?}")}),
        Err(e) => json!({"status": e.kind().status(), "body": e.body()}),
    }
}

#[test]
fn bad_input_table() {
    let oversize = json!({"batch": [{"type": "track", "userId": "u-1", "event": "e",
                                      "properties": {"blob": "x".repeat(MAX_CALL_BYTES)}}]});
    let cases: Vec<(&str, CallKind, Vec<u8>)> = vec![
        ("empty body", CallKind::Track, b"  ".to_vec()),
        ("bad JSON", CallKind::Track, b"{\"event\": ".to_vec()),
        ("array body", CallKind::Batch, b"[{\"type\": \"track\"}]".to_vec()),
        ("batch without batch", CallKind::Batch, br#"{"writeKey": "k"}"#.to_vec()),
        ("batch not an array", CallKind::Batch, br#"{"batch": {"type": "track"}}"#.to_vec()),
        ("empty batch", CallKind::Batch, br#"{"batch": []}"#.to_vec()),
        ("missing ids", CallKind::Track, br#"{"event": "Signed Up"}"#.to_vec()),
        ("placeholder ids only", CallKind::Identify, br#"{"userId": "undefined", "anonymousId": "null"}"#.to_vec()),
        ("track without event", CallKind::Track, br#"{"userId": "u-1", "properties": {}}"#.to_vec()),
        ("track with a numeric event", CallKind::Track, br#"{"userId": "u-1", "event": 5}"#.to_vec()),
        (
            "track with string properties",
            CallKind::Track,
            br#"{"userId": "u-1", "event": "e", "properties": "x"}"#.to_vec(),
        ),
        ("identify with array traits", CallKind::Identify, br#"{"userId": "u-1", "traits": [1]}"#.to_vec()),
        ("page with a numeric name", CallKind::Page, br#"{"userId": "u-1", "name": {"a": 1}}"#.to_vec()),
        ("group without groupId", CallKind::Group, br#"{"userId": "u-1", "traits": {"name": "Initech"}}"#.to_vec()),
        ("group with an object groupId", CallKind::Group, br#"{"userId": "u-1", "groupId": {}}"#.to_vec()),
        ("alias without previousId", CallKind::Alias, br#"{"userId": "u-1"}"#.to_vec()),
        ("alias without userId", CallKind::Alias, br#"{"previousId": "anon-1", "anonymousId": "anon-1"}"#.to_vec()),
        (
            "track with several problems",
            CallKind::Track,
            br#"{"anonymousId": "null", "event": "", "properties": 3}"#.to_vec(),
        ),
        (
            "batch of only bad calls",
            CallKind::Batch,
            br#"{"batch": [{"type": "track", "event": "e"}, {"type": "alias", "userId": "u-1"}, 7]}"#.to_vec(),
        ),
        ("oversize call in a batch", CallKind::Batch, oversize.to_string().into_bytes()),
        (
            "two write keys",
            CallKind::Batch,
            br#"{"writeKey": "a", "batch": [{"type": "track", "userId": "u-1", "event": "e", "writeKey": "b"}]}"#
                .to_vec(),
        ),
    ];
    let mut table = Map::new();
    for (name, kind, body) in cases {
        table.insert(name.to_owned(), refused(kind, &body));
    }
    for (name, outcome) in &table {
        assert!(outcome.get("status").is_some(), "{name} must be refused: {outcome}");
    }
    insta::assert_json_snapshot!(Value::Object(table));
}

/// Errors the server constructs itself render like the others.
#[test]
fn server_side_errors() {
    let too_large = SegmentError::CallTooLarge { index: None, size: Some(40_000) };
    assert_eq!(too_large.kind(), SegmentErrorKind::PayloadTooLarge);
    insta::assert_json_snapshot!(json!([
        too_large.body(),
        SegmentError::BatchTooLarge { size: Some(600_000) }.body(),
        SegmentError::BatchTooLarge { size: None }.body(),
        SegmentError::MissingWriteKey.body(),
        SegmentError::unknown_write_key("wk_abcdefgh").body(),
    ]));
}
