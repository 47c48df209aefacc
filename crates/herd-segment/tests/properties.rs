//! Properties that hold for any input: `parse` never panics, and what it returns is consistent.

use herd_segment::{CallKind, SegmentSettings, parse, write_key_from_body};
use proptest::prelude::*;
use serde_json::{Map, Value};

const KINDS: [CallKind; 7] = [
    CallKind::Track,
    CallKind::Identify,
    CallKind::Group,
    CallKind::Page,
    CallKind::Screen,
    CallKind::Alias,
    CallKind::Batch,
];

/// Keys that Segment calls use, so that generated objects reach deep into the conversion.
const KEYS: [&str; 24] = [
    "type",
    "userId",
    "anonymousId",
    "previousId",
    "groupId",
    "event",
    "name",
    "category",
    "properties",
    "traits",
    "context",
    "integrations",
    "Amplitude",
    "groups",
    "session_id",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "messageId",
    "writeKey",
    "batch",
    "revenue",
    "price",
    "quantity",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z0-9 :.TZ-]{0,24}".prop_map(Value::from),
        Just(Value::from("2015-12-12T19:11:01.152Z")),
        Just(Value::from("null")),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

fn settings() -> SegmentSettings {
    SegmentSettings {
        group_type_trait: Some("type".to_owned()),
        group_value_trait: Some("name".to_owned()),
        ..SegmentSettings::default()
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), kind in prop::sample::select(KINDS.to_vec())) {
        let _ = parse(kind, &bytes, &SegmentSettings::default(), 0);
        let _ = write_key_from_body(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value(), kind in prop::sample::select(KINDS.to_vec()), received in any::<i64>()) {
        let mut root = Map::new();
        if let Value::Object(map) = &value { root.extend(map.clone()); }
        for body in [value.to_string(), Value::Object(root).to_string()] {
            for s in [SegmentSettings::default(), settings()] {
                match parse(kind, body.as_bytes(), &s, received) {
                    Ok(r) => {
                        prop_assert!(!r.commands.is_empty());
                        prop_assert_eq!(r.commands.len(), r.command_origin.len());
                        prop_assert!(r.command_origin.iter().all(|i| *i < r.call_count));
                        prop_assert!(r.command_origin.windows(2).all(|w| w[0] <= w[1]));
                    }
                    Err(e) => {
                        let body = e.body();
                        prop_assert_eq!(&body["success"], &Value::Bool(false));
                        prop_assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
                    }
                }
                let _ = write_key_from_body(body.as_bytes());
            }
        }
    }
}
