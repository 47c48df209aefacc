//! Tests for `/2/httpapi` and `/batch` parsing: the bad-input table with exact bodies, conversions, and
//! properties that hold for any input.

use super::*;
use herd_model::{GroupIdentify, Identify, OpKind, Track};
use proptest::prelude::*;
use serde_json::json;

fn parse(v: Value) -> Result<Upload, UploadError> {
    parse_upload(v.to_string().as_bytes(), UploadLimits::default())
}

fn body_of(input: &[u8]) -> (u16, Value) {
    let err = parse_upload(input, UploadLimits { max_events: 3 }).expect_err("must be rejected");
    let code = err.kind().status();
    (code, err.body(code))
}

fn one_event(event: Value) -> Vec<u8> {
    json!({"api_key": "k", "events": [event]}).to_string().into_bytes()
}

fn tracks(u: &Upload) -> Vec<&Track> {
    u.commands
        .iter()
        .filter_map(|c| match c {
            Command::Track(t) => Some(&**t),
            _ => None,
        })
        .collect()
}

const OK_EVENT: &str = r#"{"event_type": "e", "device_id": "device-1"}"#;

#[test]
fn bad_input_table() {
    let ev = |extra: Value| {
        let mut e: Value = serde_json::from_str(OK_EVENT).expect("fixture");
        e.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        one_event(e)
    };
    let cases: Vec<(&str, Vec<u8>, u16, Value)> = vec![
        (
            "empty body",
            b"".to_vec(),
            400,
            json!({"code": 400, "error": "Missing request body",
            "message": "the request body is empty; send a JSON object {\"api_key\": …, \"events\": […]}"}),
        ),
        (
            "malformed JSON",
            b"{\"api_key\": ".to_vec(),
            400,
            json!({"code": 400,
            "error": "Invalid JSON request body",
            "message": "the body is not valid JSON (EOF while parsing a value at line 1 column 12); send a JSON object {\"api_key\": …, \"events\": […]} (gzip needs `Content-Encoding: gzip`)"}),
        ),
        (
            "array body",
            b"[]".to_vec(),
            400,
            json!({"code": 400, "error": "Invalid JSON request body",
            "message": "the body must be a JSON object, got an array; send a JSON object {\"api_key\": …, \"events\": […]} (gzip needs `Content-Encoding: gzip`)"}),
        ),
        (
            "missing api_key",
            br#"{"events": []}"#.to_vec(),
            400,
            json!({"code": 400,
            "error": "Request missing required field", "missing_field": "api_key",
            "message": "`api_key` is required: your project's API key as a string"}),
        ),
        (
            "numeric api_key",
            br#"{"api_key": 5, "events": []}"#.to_vec(),
            400,
            json!({"code": 400,
            "error": "Request missing required field", "missing_field": "api_key",
            "message": "`api_key` must be your project's API key as a string, got the number 5"}),
        ),
        (
            "events not an array",
            br#"{"api_key": "k", "events": {}}"#.to_vec(),
            400,
            json!({"code": 400,
            "error": "Request missing required field", "missing_field": "events",
            "message": "`events` must be an array of event objects, got an object"}),
        ),
        (
            "bad options",
            br#"{"api_key": "k", "events": [], "options": {"min_id_length": "3"}}"#.to_vec(),
            400,
            json!({"code": 400, "error": "Invalid request options",
            "message": "`options.min_id_length` must be a non-negative integer, got the string \"3\""}),
        ),
        (
            "too many events",
            json!({"api_key": "k", "events": [{}, {}, {}, {}]}).to_string().into_bytes(),
            413,
            json!({"code": 413, "error": "Payload too large",
            "message": "the request has 4 events; send at most 3 events per request"}),
        ),
        (
            "event not an object",
            one_event(json!("click")),
            400,
            json!({"code": 400,
            "error": "Invalid field values on some events", "events_with_invalid_fields": {"event": [0]},
            "message": "event 0 must be a JSON object, got the string \"click\""}),
        ),
        (
            "missing event_type",
            one_event(json!({"device_id": "device-1"})),
            400,
            json!({"code": 400,
            "error": "Request missing required field", "events_with_missing_fields": {"event_type": [0]},
            "message": "event 0: `event_type` is required"}),
        ),
        (
            "blank event_type",
            ev(json!({"event_type": "  "})),
            400,
            json!({"code": 400,
            "error": "Request missing required field", "events_with_missing_fields": {"event_type": [0]},
            "message": "event 0: `event_type` must not be blank"}),
        ),
        (
            "ISO time",
            ev(json!({"time": "2024-01-01T00:00:00Z"})),
            400,
            json!({"code": 400,
            "error": "Invalid field values on some events", "events_with_invalid_fields": {"time": [0]},
            "message": "event 0: `time` must be milliseconds since the epoch as an integer, got the string \"2024-01-01T00:00:00Z\""}),
        ),
        (
            "fractional time",
            ev(json!({"time": 1.5})),
            400,
            json!({"code": 400,
            "error": "Invalid field values on some events", "events_with_invalid_fields": {"time": [0]},
            "message": "event 0: `time` must be milliseconds since the epoch as an integer, got the number 1.5"}),
        ),
        (
            "numeric user_id",
            ev(json!({"user_id": 12345})),
            400,
            json!({"code": 400,
            "error": "Invalid field values on some events", "events_with_invalid_fields": {"user_id": [0]},
            "message": "event 0: `user_id` must be a string, got the number 12345"}),
        ),
        (
            "placeholder id",
            ev(json!({"user_id": "undefined"})),
            400,
            json!({"code": 400,
            "error": "Invalid field values on some events", "events_with_invalid_fields": {"user_id": [0]},
            "message": "event 0: `user_id` \"undefined\" is a placeholder that identifies no one (\"null\", \"none\", \"undefined\", \"0\", \"-1\", all zeros, …); send a real id or leave it out"}),
        ),
        (
            "no ids",
            one_event(json!({"event_type": "e"})),
            400,
            json!({"code": 400,
            "error": "Request missing required field",
            "events_with_missing_fields": {"device_id": [0], "user_id": [0]},
            "message": "event 0: needs a `user_id` or a `device_id`; neither was sent"}),
        ),
        (
            "only short ids",
            one_event(json!({"event_type": "e", "user_id": "ab", "device_id": "cd"})),
            400,
            json!({"code": 400, "error": "Invalid field values on some events",
            "events_with_invalid_id_lengths": {"device_id": [0], "user_id": [0]},
            "message": "event 0: `user_id` \"ab\" and `device_id` \"cd\" shorter than min_id_length 5 and no other id is left; send longer ids or set `options.min_id_length`"}),
        ),
        (
            "non-object properties",
            ev(json!({"event_properties": [1], "user_properties": "x",
            "groups": 3, "group_properties": true})),
            400,
            json!({"code": 400,
            "error": "Invalid field values on some events",
            "events_with_invalid_fields": {"event_properties": [0], "group_properties": [0], "groups": [0],
                                           "user_properties": [0]},
            "message": "event 0: `event_properties` must be a JSON object, got an array; event 0: `user_properties` must be a JSON object, got the string \"x\"; event 0: `groups` must be a JSON object, got the number 3; event 0: `group_properties` must be a JSON object, got the boolean true"}),
        ),
        (
            "bad op",
            ev(json!({"user_properties": {"$set": 1}})),
            400,
            json!({"code": 400,
            "error": "Invalid field values on some events", "events_with_invalid_fields": {"user_properties": [0]},
            "message": "event 0: `user_properties`: property operation $set must hold an object of property names to values"}),
        ),
        (
            "wrong number types",
            ev(json!({"price": "1.99", "quantity": 1.5, "session_id": "s",
            "location_lat": null, "$skip_user_properties_sync": "yes"})),
            400,
            json!({"code": 400,
            "error": "Invalid field values on some events",
            "events_with_invalid_fields": {"$skip_user_properties_sync": [0], "price": [0], "quantity": [0],
                                           "session_id": [0]},
            "message": "event 0: `$skip_user_properties_sync` must be true or false, got the string \"yes\"; event 0: `price` must be a number, got the string \"1.99\"; event 0: `quantity` must be an integer, got the number 1.5; event 0: `session_id` must be an integer (the session's start time in ms), got the string \"s\""}),
        ),
        (
            "groupidentify without groups",
            ev(json!({"event_type": "$groupidentify"})),
            400,
            json!({"code": 400,
            "error": "Invalid field values on some events", "events_with_invalid_fields": {"groups": [0]},
            "message": "event 0: a `$groupidentify` event needs `groups` naming at least one group type and value"}),
        ),
    ];
    for (name, input, code, expected) in cases {
        let (got_code, got) = body_of(&input);
        assert_eq!((got_code, &got), (code, &expected), "case {name}: {got:#}");
    }
}

#[test]
fn every_offending_index_is_reported_sorted_and_nothing_is_ingested() {
    let body = json!({"api_key": "k", "events": [
        {"event_type": "ok", "device_id": "device-1"},
        {"event_type": "bad", "device_id": "device-1", "time": "yesterday"},
        {"device_id": "device-1"},
        {"event_type": "bad", "device_id": "device-1", "time": "today", "user_id": "null"},
        {"event_type": "short", "user_id": "x"},
    ]});
    let err = parse(body).expect_err("rejected");
    let out = err.body(400);
    assert_eq!(out["error"], "Invalid field values on some events");
    assert_eq!(out["events_with_invalid_fields"], json!({"time": [1, 3], "user_id": [3]}));
    assert_eq!(out["events_with_missing_fields"], json!({"event_type": [2]}));
    assert_eq!(out["events_with_invalid_id_lengths"], json!({"user_id": [4]}));
    assert!(out.get("missing_field").is_none());
    let UploadError::Events(errors) = err else { panic!("event errors expected") };
    assert_eq!(errors.offending_indices(), vec![1, 2, 3, 4]);
}

#[test]
fn error_bodies_snapshot() {
    let err = parse(json!({"api_key": "k", "events": [
        {"event_type": "a", "user_id": "ab"}, {"event_type": "b"}, {"event_type": "", "device_id": 7}]}))
    .expect_err("rejected");
    insta::assert_json_snapshot!(err.body(400));
}

/// Every documented field, several undocumented ones SDKs send, and tolerated request-level keys.
const FULL_REQUEST: &str = r#"{
    "api_key": "040062a5d38552315b98302ba4f2f",
    "client_upload_time": "2014-04-01T19:43:00.000Z",
    "request_metadata": {"sdk": {"metrics": {"histogram": {}}}},
    "options": {"min_id_length": 3},
    "events": [{
        "user_id": "datamonster@amplitude.com", "device_id": "C8F9E604-F01A-4BD9-95C6-8E5357DF265D",
        "event_type": "watch_tutorial", "time": 1396381378123,
        "event_properties": {"load_time": 0.8, "source": "notification", "dates": [1, 2]},
        "user_properties": {"$set": {"Cohort": "Test A"}, "$add": {"plays": 1}, "plain": true},
        "groups": {"company_id": "1", "company_name": ["Amplitude", "DataMonster"]},
        "group_properties": {"ignored": 1},
        "$skip_user_properties_sync": false,
        "app_version": "2.1.3", "platform": "iOS", "os_name": "Android", "os_version": "4.2.2",
        "device_brand": "Verizon", "device_manufacturer": "Apple", "device_model": "iPhone 9,1",
        "carrier": "Verizon", "country": "United States", "region": "California", "city": "San Francisco",
        "dma": "San Francisco-Oakland-San Jose, CA", "language": "English", "ip": "127.0.0.1",
        "location_lat": 37.77, "location_lng": -122.39, "user_agent": "Mozilla/5.0",
        "library": {"name": "amplitude-ts", "version": "2.0.0"}, "version_name": "2.1.3",
        "price": 4.99, "quantity": 3, "revenue": -1.99, "productId": "Google Pay Store Product Id",
        "revenueType": "Refund", "currency": "USD",
        "insert_id": "5f0adeff-6668-4427-8d02-57d803a2b841", "session_id": -1, "event_id": 23,
        "idfa": "AEBE52E7-03EE-455A-B3C4-E57283966239", "plan": {"branch": "main", "version": "1"},
        "partner_id": "partner", "ingestion_metadata": {"source_name": "x"}, "uuid": "u-1"
    }]
}"#;

#[test]
fn full_event_converts_every_field() {
    let body: Value = serde_json::from_str(FULL_REQUEST).expect("fixture is JSON");
    let upload = parse(body).expect("accepted");
    assert_eq!(upload.api_key, "040062a5d38552315b98302ba4f2f");
    assert_eq!((upload.event_count, upload.command_origin.clone()), (1, vec![0]));
    assert_eq!(upload.warnings, ["event 0: `group_properties` is only used on `$groupidentify` events; ignored"]);
    let t = tracks(&upload)[0];
    assert_eq!(t.client_upload_time, Some(1_396_381_380_000));
    assert_eq!(t.session_id, None);
    assert_eq!(t.device.library.as_deref(), Some("amplitude-ts/2.0.0"));
    assert_eq!(t.revenue.product_id.as_deref(), Some("Google Pay Store Product Id"));
    assert_eq!(t.user_ops.ops.iter().map(|(op, _)| *op).collect::<Vec<_>>(), [OpKind::Set, OpKind::Add]);
    insta::assert_debug_snapshot!(t);
}

#[test]
fn short_ids_are_dropped_when_another_id_remains() {
    let upload = parse(json!({"api_key": "k", "events": [
        {"event_type": "e", "user_id": "42", "device_id": "device-1", "time": 1_700_000},
    ]}))
    .expect("accepted");
    let t = tracks(&upload)[0];
    assert_eq!((t.user_id.as_deref(), t.device_id.as_deref()), (None, Some("device-1")));
    assert_eq!(upload.dropped_ids, [DroppedId { index: 0, field: "user_id", value: "42".into() }]);
    assert_eq!(upload.warnings, ["event 0: `time` 1700000 is before 1973; if it is in seconds, multiply by 1000"]);
    let loose = parse(json!({"api_key": "k", "options": {"min_id_length": 1},
        "events": [{"event_type": "e", "user_id": "42"}]}))
    .expect("accepted");
    assert_eq!(tracks(&loose)[0].user_id.as_deref(), Some("42"));
}

#[test]
fn identify_event_with_groups_and_set() {
    let upload = parse(json!({"api_key": "k", "events": [{
        "event_type": "$identify", "user_id": "user-1", "device_id": "device-1", "time": 1_700_000_000_000_i64,
        "groups": {"org id": "1234"}, "user_properties": {"$set": {"org id": "1234"}},
        "insert_id": "i-1", "session_id": 5, "paying": true,
    }]}))
    .expect("accepted");
    let [Command::Identify(i)] = upload.commands.as_slice() else { panic!("one identify: {upload:?}") };
    let Identify { user_id, groups, user_ops, extra, insert_id, time, .. } = &**i;
    assert_eq!(user_id.as_deref(), Some("user-1"));
    assert_eq!(groups.to_json(), json!({"org id": ["1234"]}));
    assert_eq!(user_ops.ops, vec![(OpKind::Set, json!({"org id": "1234"}).as_object().cloned().unwrap_or_default())]);
    assert_eq!((insert_id.as_deref(), *time), (Some("i-1"), Some(1_700_000_000_000)));
    assert_eq!(Value::Object(extra.clone()), json!({"paying": true, "session_id": 5}));
}

#[test]
fn groupidentify_event_with_array_groups() {
    let upload = parse(json!({"api_key": "k", "events": [
        {"event_type": "first", "device_id": "device-1"},
        {"event_type": "$groupidentify", "device_id": "device-1", "insert_id": "g",
         "groups": {"company": ["Amplitude", "DataMonster"], "team": "core"},
         "group_properties": {"$set": {"start_date": "01/01/2017"}}},
    ]}))
    .expect("accepted");
    assert_eq!(upload.command_origin, [0, 1, 1, 1]);
    let gids: Vec<&GroupIdentify> = upload
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::GroupIdentify(g) => Some(&**g),
            _ => None,
        })
        .collect();
    let pairs: Vec<(&str, &str, Option<&str>)> =
        gids.iter().map(|g| (g.group_type.as_str(), g.group_value.as_str(), g.insert_id.as_deref())).collect();
    assert_eq!(
        pairs,
        [
            ("company", "Amplitude", Some("g:company:Amplitude")),
            ("company", "DataMonster", Some("g:company:DataMonster")),
            ("team", "core", Some("g:team:core")),
        ]
    );
    for g in gids {
        assert_eq!(g.device_id.as_deref(), Some("device-1"));
        assert_eq!(g.ops.ops[0].0, OpKind::Set);
    }
}

/// Any JSON value (bounded depth), biased towards the types events contain.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z$ ]{0,8}".prop_map(Value::from),
        Just(Value::from("null")),
        Just(Value::from("$identify")),
        Just(Value::from("$groupidentify")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z$_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KEYS: [&str; 12] = [
    "event_type",
    "user_id",
    "device_id",
    "time",
    "user_properties",
    "groups",
    "group_properties",
    "event_properties",
    "session_id",
    "price",
    "library",
    "insert_id",
];

fn event() -> impl Strategy<Value = Value> {
    proptest::collection::vec((proptest::sample::select(KEYS.to_vec()), json_value()), 0..8)
        .prop_map(|kvs| Value::Object(kvs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

fn has_id(user_id: &Option<String>, device_id: &Option<String>) -> bool {
    user_id.as_deref().is_some_and(|s| !s.is_empty()) || device_id.as_deref().is_some_and(|s| !s.is_empty())
}

proptest! {
    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_upload(&bytes, UploadLimits::default());
    }

    #[test]
    fn accepted_events_keep_type_and_an_id(
        events in proptest::collection::vec(prop_oneof![event(), json_value()], 0..6),
        min_id_length in 0usize..7,
    ) {
        let body = json!({"api_key": "k", "events": events, "options": {"min_id_length": min_id_length}});
        match parse(body) {
            Ok(upload) => {
                prop_assert_eq!(upload.commands.len(), upload.command_origin.len());
                for c in &upload.commands {
                    match c {
                        Command::Track(t) => {
                            prop_assert!(!t.event_type.trim().is_empty());
                            prop_assert!(has_id(&t.user_id, &t.device_id));
                        }
                        Command::Identify(i) => prop_assert!(has_id(&i.user_id, &i.device_id)),
                        Command::GroupIdentify(g) => {
                            prop_assert!(!g.group_type.is_empty() && !g.group_value.is_empty());
                            prop_assert!(has_id(&g.user_id, &g.device_id));
                        }
                        Command::Alias(_) => prop_assert!(false, "no alias from Amplitude"),
                    }
                }
            }
            Err(UploadError::Events(errors)) => {
                prop_assert!(!errors.offending_indices().is_empty());
                prop_assert!(errors.offending_indices().iter().all(|i| *i < events.len()));
            }
            Err(other) => prop_assert!(false, "unexpected request-level error {other}"),
        }
    }
}
