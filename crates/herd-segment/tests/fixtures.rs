//! Payload fixtures for every call type, batches, RudderStack's shapes and the group settings, each snapshotted
//! as the commands it becomes. Payloads are Segment's and RudderStack's documented examples where one exists.

use std::collections::BTreeMap;

use herd_model::Command;
use herd_segment::{CallKind, SegmentSettings, parse};
use serde_json::{Value, json};

use crate::render::{RECEIVED, parse_with, render, render_with};

fn settings(pairs: &[(&str, &str)]) -> SegmentSettings {
    let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    SegmentSettings::from_project_settings(&map).unwrap_or_default()
}

/// SD-track's example, as analytics.js sent it (without the server-set `receivedAt`/`timestamp`).
fn sd_track() -> Value {
    json!({
        "anonymousId": "23adfd82-aa0f-45a7-a756-24f2a7a4c895",
        "context": {"library": {"name": "analytics.js", "version": "2.11.1"},
                    "page": {"path": "/academy/", "referrer": "", "search": "", "title": "Analytics Academy",
                             "url": "https://segment.com/academy/"},
                    "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_5) Chrome/46.0.2490.86 Safari/537.36",
                    "ip": "108.0.78.21"},
        "event": "Course Clicked", "integrations": {}, "messageId": "ajs-f8ca1e4de5024d9430b3928bd8ac6b96",
        "properties": {"title": "Intro to Analytics"},
        "sentAt": "2015-12-12T19:11:01.169Z", "type": "track", "userId": "AiUGstSDIg",
        "originalTimestamp": "2015-12-12T19:11:01.152Z", "writeKey": "wk_segment_123"
    })
}

#[test]
fn track_sd_example() {
    let out = render("/v1/track", &sd_track());
    // SD-track: 01.266 − (01.169 − 01.152) = 01.249.
    assert_eq!(out["commands"][0]["time"], 1_449_947_461_249_i64);
    assert_eq!(out["write_key_in_body"], "wk_segment_123");
    insta::assert_json_snapshot!(out);
}

#[test]
fn timestamp_correction() {
    let time_of = |call: Value| render("/v1/t", &call)["commands"][0]["time"].clone();
    let base = json!({"type": "track", "event": "e", "userId": "u1"});
    let with = |extra: Value| {
        let mut c = base.clone();
        if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        c
    };
    // A device clock one hour fast: sentAt − timestamp = 10 s, so the event happened 10 s before receipt.
    assert_eq!(
        time_of(with(json!({"timestamp": "2015-12-12T20:10:51.266Z", "sentAt": "2015-12-12T20:11:01.266Z"}))),
        json!(RECEIVED - 10_000)
    );
    // originalTimestamp wins over a replayed, already corrected timestamp.
    assert_eq!(
        time_of(with(json!({"timestamp": "2000-01-01T00:00:00Z", "originalTimestamp": "2015-12-12T19:11:00.266Z",
                            "sentAt": "2015-12-12T19:11:01.266Z"}))),
        json!(RECEIVED - 1_000)
    );
    // Without sentAt the timestamp is used as sent; without any time the store uses the receive time.
    assert_eq!(time_of(with(json!({"timestamp": "2015-12-01T00:00:00+01:00"}))), json!(1_448_924_400_000_i64));
    assert_eq!(time_of(with(json!({}))), Value::Null);
    // The batch-level sentAt applies to calls without their own.
    let batch = json!({"sentAt": "2015-12-12T19:11:02.266Z", "batch": [
        with(json!({"timestamp": "2015-12-12T19:11:00.266Z"})),
        with(json!({"timestamp": "2015-12-12T19:11:00.266Z", "sentAt": "2015-12-12T19:11:00.266Z"}))]});
    let out = render("/v1/batch", &batch);
    assert_eq!(out["commands"][0]["time"], json!(RECEIVED - 2_000));
    assert_eq!(out["commands"][1]["time"], json!(RECEIVED));
}

#[test]
fn track_revenue_groups_session_utm() {
    let call = json!({
        "type": "track", "userId": "user-1234", "anonymousId": "anon-5678", "messageId": "node-next-1-abc",
        "event": "Order Completed",
        "properties": {"total": 27.5, "currency": "EUR", "revenue_type": "Subscription", "product_id": "p-1",
                       "coupon": "X"},
        "integrations": {"Amplitude": {"groups": {"org id": "1234", "team": ["a", "b"]}, "session_id": 1_449_947_400_000_i64}},
        "context": {"campaign": {"source": "Newsletter", "medium": "email", "name": "TPS", "term": "", "content": "img"},
                    "page": {"referrer": "https://news.example"},
                    "device": {"type": "android", "manufacturer": "Google", "model": "Pixel 8"},
                    "os": {"name": "Android", "version": "14"}, "app": {"version": "3.2.1"},
                    "network": {"carrier": "T-Mobile"}, "locale": "de-DE",
                    "location": {"country": "DE", "region": "BE", "city": "Berlin", "latitude": 52.52, "longitude": 13.4}},
        "timestamp": "2015-12-12T19:11:00Z"
    });
    insta::assert_json_snapshot!(render("/v1/track", &call));
    let priced = json!({"type": "track", "userId": "user-1234", "event": "Bought",
                        "properties": {"price": 10, "quantity": 2.2, "productId": "sku"}});
    assert_eq!(
        render("/v1/t", &priced)["commands"][0]["revenue"],
        json!({"price": 10.0, "quantity": 2, "product_id": "sku"})
    );
    let none = json!({"type": "track", "userId": "user-1234", "event": "Viewed", "properties": {"price": 10}});
    assert_eq!(render("/v1/t", &none)["commands"][0].get("revenue"), None);
}

#[test]
fn identify_with_traits_and_groups() {
    let call = json!({
        "type": "identify", "userId": "97980cfea0067", "anonymousId": "507f191e810c19729de860ea",
        "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
        "traits": {"name": "Peter Gibbons", "email": "peter@example.com", "plan": "premium", "logins": 5,
                   "$add": {"visits": 1}},
        "integrations": {"Amplitude": {"groups": {"sports": ["basketball", "tennis"]}}},
        "context": {"ip": "8.8.8.8", "library": {"name": "analytics-python", "version": "2.3.2"}},
        "timestamp": "2015-02-23T22:28:55.111Z", "sentAt": "2015-02-23T22:28:55.111Z", "version": 2,
        "custom_top_level": "kept in extra"
    });
    insta::assert_json_snapshot!(render("/v1/identify", &call));
}

/// SD-group's example: without the trait settings the user joins `[Segment] Group` = groupId.
fn sd_group() -> Value {
    json!({
        "anonymousId": "507f191e810c19729de860ea", "channel": "browser",
        "context": {"ip": "8.8.8.8", "userAgent": "Mozilla/5.0 (Macintosh) Chrome/40.0.2214.115 Safari/537.36"},
        "integrations": {"All": true, "Mixpanel": false, "Salesforce": false},
        "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
        "sentAt": "2015-02-23T22:28:55.111Z", "timestamp": "2015-02-23T22:28:55.111Z",
        "traits": {"name": "Initech", "industry": "Technology", "employees": 329, "plan": "enterprise",
                   "total billed": 830},
        "type": "group", "userId": "97980cfea0067", "groupId": "0e8c78ea9d97a7b8185e8632", "version": "1.1"
    })
}

#[test]
fn group_without_trait_settings() {
    insta::assert_json_snapshot!(render("/v1/group", &sd_group()));
}

#[test]
fn group_with_trait_settings() {
    // SD-amp's example: settings `group_type` / `name`.
    let s = settings(&[("segment.group_type_trait", "group_type"), ("segment.group_value_trait", "name")]);
    let call = json!({"type": "group", "userId": "user-1", "groupId": "082108c8-f51e-485f-9d2d-b6ba57ee2c40",
                      "messageId": "m-1",
                      "traits": {"group_type": "Organization", "name": "ExampleCorp, LLC", "employees": "20",
                                 "email": "hello@example.com"}});
    insta::assert_json_snapshot!("group_with_trait_settings", render_with("/v1/g", &call, &s));
    // Seed 000's example: traits `groupType` / `groupValue`.
    let s = settings(&[("segment.group_type_trait", "groupType"), ("segment.group_value_trait", "groupValue")]);
    let call = json!({"type": "group", "userId": "user-1", "groupId": "placeholder",
                      "traits": {"groupType": "org name", "groupValue": "Amplitude", "employees": "120"}});
    let out = render_with("/v1/group", &call, &s);
    assert_eq!(out["commands"][0]["groups"], json!({"org name": ["Amplitude"]}));
    assert_eq!(out["commands"][0]["user_ops"], json!({"$set": {"org name": "Amplitude"}}));
    assert_eq!(out["commands"][1]["ops"]["$set"]["employees"], "120");
    assert_eq!(out["commands"][1]["extra"], json!({"groupId": "placeholder"}));
    // Configured, but the call lacks the value trait: `[Segment] Group`, with a warning.
    let call = json!({"type": "group", "userId": "user-1", "groupId": "g-42", "traits": {"groupType": "org name"}});
    insta::assert_json_snapshot!("group_with_trait_settings_missing_trait", render_with("/v1/group", &call, &s));
}

#[test]
fn group_reserved_trait_spellings() {
    let s = settings(&[("segment.group_type_trait", "kind"), ("segment.group_value_trait", "created_at")]);
    let call = json!({"type": "group", "anonymousId": "anon-1", "groupId": "g-1",
                      "traits": {"kind": "cohort", "created_at": "2020-01-01", "createdAt": "2020-02-02",
                                 "Name": "Initech", "EMPLOYEES": 5, "address": {"postal_code": "94107"}}});
    insta::assert_json_snapshot!(render_with("/v1/group", &call, &s));
}

#[test]
fn page_and_screen() {
    let page = json!({"type": "page", "anonymousId": "anon-page-1", "name": "Analytics iOS", "category": "Docs",
                      "properties": {"title": "Docs", "url": "https://example.com/docs", "category": "Docs"},
                      "context": {"library": {"name": "analytics.js", "version": "next-1.70.0"}}});
    let unnamed = json!({"type": "page", "anonymousId": "anon-page-1", "properties": {"path": "/"}});
    let screen = json!({"type": "screen", "userId": "user-1", "name": "Home",
                        "context": {"device": {"type": "ios"}, "os": {"name": "iOS", "version": "17.1"}}});
    insta::assert_json_snapshot!(json!({
        "page": render("/v1/p", &page),
        "page_without_name": render("/v1/page", &unnamed),
        "screen": render("/v1/s", &screen),
    }));
    let actions =
        settings(&[("segment.page_event_name", "Viewed {name}"), ("segment.screen_event_name", "Loaded a Screen")]);
    assert_eq!(render_with("/v1/page", &page, &actions)["commands"][0]["event_type"], "Viewed Analytics iOS");
    assert_eq!(render_with("/v1/screen", &screen, &actions)["commands"][0]["event_type"], "Loaded a Screen");
}

#[test]
fn alias() {
    let call = json!({"type": "alias", "previousId": "anon-507f191e", "userId": "user-97980", "messageId": "m",
                      "anonymousId": "anon-507f191e", "timestamp": "2015-12-12T19:11:00Z",
                      "context": {"library": {"name": "analytics.js"}}});
    insta::assert_json_snapshot!(render("/v1/a", &call));
}

/// Batch-level `context`, `integrations`, `sentAt` and `writeKey`, merged into calls of every type.
#[test]
fn batch_merging() {
    let body = json!({
        "writeKey": "wk_batch", "sentAt": "2015-12-12T19:11:01.266Z",
        "context": {"library": {"name": "analytics-node", "version": "2.1.0"}, "ip": "10.0.0.1",
                    "device": {"manufacturer": "Apple", "model": "MacBookPro18,1"}},
        "integrations": {"Amplitude": {"groups": {"org id": "batch-org"}}},
        "batch": [
            {"type": "identify", "userId": "user-1", "traits": {"plan": "pro"}, "timestamp": "2015-12-12T19:11:00.266Z"},
            {"type": "track", "userId": "user-1", "event": "Signed Up", "messageId": "m-2",
             "context": {"ip": "10.0.0.2", "device": {"model": "MacBookAir10,1"}},
             "integrations": {"Amplitude": {"groups": {"org id": "own-org"}}}, "writeKey": "wk_batch"},
            {"type": "page", "anonymousId": "anon-1", "name": "Pricing"},
            {"type": "screen", "anonymousId": "anon-1", "name": "Settings"},
            {"type": "group", "userId": "user-1", "groupId": "g-1", "traits": {"name": "Initech"}},
            {"type": "alias", "userId": "user-1", "previousId": "anon-1"}
        ]
    });
    insta::assert_json_snapshot!(render("/v1/batch", &body));
}

/// Segment answers 200 and drops only the bad calls (`multi_user_error`): the good ones are kept.
#[test]
fn batch_keeps_good_calls() {
    let body = json!({"batch": [
        {"type": "track", "userId": "user-1", "event": "Kept"},
        {"type": "track", "event": "No ids"},
        {"type": "track", "userId": "user-1"},
        "not a call",
        {"type": "launch", "userId": "user-1"},
        {"userId": "user-1", "event": "No type"},
        {"type": "identify", "anonymousId": "anon-2", "userId": "null"},
        {"type": "group", "userId": "user-1"}
    ]});
    insta::assert_json_snapshot!(render("/v1/import", &body));
}

#[test]
fn batch_past_the_call_limit() {
    let calls: Vec<Value> =
        (0..2503).map(|i| json!({"type": "track", "userId": format!("u{i}"), "event": "e"})).collect();
    let out = parse_with("/v1/b", &json!({"batch": calls}), &SegmentSettings::default()).map_err(|e| e.to_string());
    let Ok(out) = out else { panic!("a batch past the limit keeps its first calls: {out:?}") };
    assert_eq!(out.commands.len(), 2500);
    assert_eq!(out.call_count, 2503);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(
        out.rejected[0].to_json(),
        json!({"index": 2500, "error": "batch_limit_exceeded",
        "message": "batch[2500..2503]: the 3 calls past the first 2500 were not stored; send at most 2500 calls per batch"})
    );
}

/// RudderStack: identify traits in `context.traits`; group traits in `context.traits` with its
/// `name_trait`/`value_trait` settings (RT-am processor test 17, trimmed).
#[test]
fn rudderstack_context_traits() {
    let identify = json!({"type": "identify", "userId": "sampleusrRudder3", "anonymousId": "my-anonymous-id-new",
                          "context": {"traits": {"email": "a@example.com", "plan": "free"},
                                      "library": {"name": "rudder-sdk-python", "version": "1.0.0"}},
                          "originalTimestamp": "2020-10-20T07:54:58.983Z", "sentAt": "2020-10-20T07:54:59.983Z"});
    let s = settings(&[("segment.group_type_trait", "name_trait"), ("segment.group_value_trait", "value_trait")]);
    let group = json!({"type": "group", "channel": "web", "userId": "sampleusrRudder3",
                       "anonymousId": "my-anonymous-id-new", "groupId": "Sample_groupId23",
                       "originalTimestamp": "2020-10-20T07:54:58.983Z",
                       "context": {"traits": {"KEY_2": {"CHILD_KEY_92": "value_95"}, "name_trait": "Company",
                                              "value_trait": "ABC"}}});
    let both = json!({"type": "identify", "userId": "u-both", "traits": {"plan": "top"},
                      "context": {"traits": {"plan": "context", "email": "x@example.com"}}});
    insta::assert_json_snapshot!(json!({
        "identify": render("/v1/identify", &identify),
        "group": render_with("/v1/group", &group, &s),
        "top_level_wins": render("/v1/identify", &both)["commands"][0]["user_ops"],
    }));
}

#[test]
fn routes_and_write_keys() {
    for (path, kind) in [
        ("/v1/t", CallKind::Track),
        ("/v1/track", CallKind::Track),
        ("i", CallKind::Identify),
        ("/v1/g/", CallKind::Group),
        ("p", CallKind::Page),
        ("screen", CallKind::Screen),
        ("/v1/a", CallKind::Alias),
        ("/v1/import", CallKind::Batch),
        ("b", CallKind::Batch),
    ] {
        assert_eq!(CallKind::from_path(path), Some(kind), "{path}");
    }
    assert_eq!(CallKind::from_path("/v1/m"), None);
    assert_eq!(CallKind::from_path(""), None);
    // The route names the call; the body's `type` does not matter for single-call routes.
    let out = render("/v1/identify", &json!({"type": "track", "userId": "u-1"}));
    assert_eq!(out["commands"][0]["command"], "identify");
    let key = |body: &str| herd_segment::write_key_from_body(body.as_bytes());
    assert_eq!(key(r#"{"writeKey": " wk1 ", "batch": []}"#).as_deref(), Some("wk1"));
    assert_eq!(key(r#"{"batch": [{"type": "track"}, {"writeKey": "wk2"}]}"#).as_deref(), Some("wk2"));
    assert_eq!(key(r#"{"batch": 5}"#), None);
    assert_eq!(key(r#"{"writeKey": 5}"#), None);
    assert_eq!(key("[1]"), None);
    assert_eq!(key("not json"), None);
}

/// Commands come out in wire order, and a group call's two commands share its origin.
#[test]
fn command_origins() {
    let body = json!({"batch": [
        {"type": "group", "userId": "user-1", "groupId": "g-1", "traits": {"plan": "a"}},
        {"type": "track", "userId": "user-1", "event": "e"}]});
    let Ok(out) = parse(CallKind::Batch, body.to_string().as_bytes(), &SegmentSettings::default(), RECEIVED) else {
        panic!("valid batch")
    };
    assert_eq!(out.command_origin, vec![0, 0, 1]);
    assert!(matches!(out.commands.as_slice(), [Command::Identify(_), Command::GroupIdentify(_), Command::Track(_)]));
}
