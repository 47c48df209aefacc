//! Accounts, group profiles and dynamic group properties through HTTP: definitions set with the secret key, the
//! accounts list filtered and sorted by a dynamic property, a profile, the REST segmentation filtering on
//! `dyn:<name>`, and the errors (auth, unknown group type, bad `where`, bad definitions).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use herd_config::Config;
use serde_json::{Value, json};

use crate::routes::{App, app, basic, call, post};

fn get(path: &str, auth: &str) -> Request<Body> {
    Request::get(path).header("authorization", auth).body(Body::empty()).unwrap()
}

fn put(path: &str, auth: &str, body: Value) -> Request<Body> {
    Request::put(path).header("authorization", auth).body(Body::from(body.to_string())).unwrap()
}

fn form(path: &str, pairs: &[(&str, &str)]) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(pairs).unwrap()))
        .unwrap()
}

const AUTH_KEY: &str = "key-one-0001";

/// acme: alice, bob (and carol at user level, no events); globex: dave; initech: only created by erin's event.
async fn seeded() -> (App, String) {
    let app = app(Config::default());
    let id = json!([{"user_id": "carol-0001", "groups": {"org": "acme"}}]).to_string();
    let (status, _, _) = call(&app, form("/identify", &[("api_key", AUTH_KEY), ("identification", &id)])).await;
    assert_eq!(status, 200);
    for (org, plan) in [("acme", "free"), ("acme", "pro"), ("globex", "enterprise")] {
        let g = json!({"group_type": "org", "group_value": org, "group_properties": {"plan": plan}}).to_string();
        let (status, _, _) = call(&app, form("/groupidentify", &[("api_key", AUTH_KEY), ("identification", &g)])).await;
        assert_eq!(status, 200);
    }
    let events = json!([
        {"user_id": "alice-0001", "event_type": "play", "groups": {"org": "acme"}},
        {"user_id": "alice-0001", "event_type": "play", "groups": {"org": "acme"}},
        {"user_id": "bobby-0001", "event_type": "play", "groups": {"org": "acme"}},
        {"user_id": "dave-00001", "event_type": "play", "groups": {"org": "globex"}},
        {"user_id": "erin-00001", "event_type": "stop", "groups": {"org": "initech"}},
    ]);
    let (status, _, _) = call(&app, post("/2/httpapi", json!({"api_key": AUTH_KEY, "events": events}))).await;
    assert_eq!(status, 200);
    (app, basic(AUTH_KEY, "secret-one"))
}

fn wau() -> Value {
    json!({"group_type": "org", "event": {"event": {"named": "play"}}, "metric": {"type": "uniques"},
           "window": {"rolling": {"days": 7}}})
}

/// Times change from run to run.
fn redact_times(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k.ends_with("_ms") || k == "event_time" {
                        *x = json!("[time]");
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[tokio::test]
async fn accounts_list_profile_and_dynamic_properties() {
    let (app, auth) = seeded().await;
    let (status, body, _) = call(&app, put("/api/v1/dynamic-properties/wau", &auth, wau())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "wau");
    assert_eq!(body["data"]["version"], 1);
    let (_, body, _) = call(&app, get("/api/v1/dynamic-properties", &auth)).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);

    // Sorted by the dynamic property, descending: acme 2 (alice, bob), globex 1, initech 0.
    let (status, body, _) = call(&app, get("/api/v1/groups/org?sort=-dyn:wau", &auth)).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("accounts_sorted_by_wau", redact_times(body["data"].clone()));
    let values: Vec<&str> =
        body["data"]["accounts"].as_array().unwrap().iter().map(|a| a["group_value"].as_str().unwrap()).collect();
    assert_eq!(values, ["acme", "globex", "initech"]);

    // Filters: dynamic, current and past property values.
    for (query, expected) in [
        ("where=dyn:wau%3E%3D1", vec!["acme", "globex"]),
        ("where=plan=free", vec![]),
        ("where=plan=free&history=true", vec!["acme"]),
        ("where=plan=pro|enterprise&sort=$value", vec!["acme", "globex"]),
        ("where=$members%3C2", vec!["globex", "initech"]),
    ] {
        let (status, body, _) = call(&app, get(&format!("/api/v1/groups/org?{query}"), &auth)).await;
        assert_eq!(status, 200, "{query}: {body}");
        let values: Vec<&str> =
            body["data"]["accounts"].as_array().unwrap().iter().map(|a| a["group_value"].as_str().unwrap()).collect();
        assert_eq!(values, expected, "{query}");
    }

    // acme's profile: carol is a member at user level without events.
    let (status, body, _) = call(&app, get("/api/v1/groups/org/acme?recent=2", &auth)).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("group_profile_acme", redact_times(body["data"].clone()));
    assert_eq!(body["data"]["account"]["members"], 3);

    // The same definition filters Amplitude's REST segmentation: orgs with wau ≥ 2 that played.
    let e = json!({"event_type": "play", "filters": [{"subprop_type": "group", "group_type": "org",
        "subprop_key": "dyn:wau", "subprop_op": "greater or equal", "subprop_value": ["2"]}]});
    let day = time::OffsetDateTime::now_utc().date();
    let day = format!("{:04}{:02}{:02}", day.year(), u8::from(day.month()), day.day());
    let path = format!(
        "/api/2/events/segmentation?e={}&start={day}&end={day}&countGroup=org",
        serde_urlencoded::to_string([("", e.to_string())]).unwrap().trim_start_matches('=')
    );
    let (status, body, _) = call(&app, get(&path, &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["seriesCollapsed"][0][0]["value"], 1, "only acme: {body}");

    let (status, _, _) = call(
        &app,
        Request::delete("/api/v1/dynamic-properties/wau").header("authorization", &auth).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body, _) = call(&app, get("/api/v1/groups/org?sort=dyn:wau", &auth)).await;
    assert_eq!(status, 400, "a deleted property is unknown: {body}");
}

#[tokio::test]
async fn accounts_errors() {
    let (app, auth) = seeded().await;
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (get("/api/v1/groups/org", &basic(AUTH_KEY, "wrong")), StatusCode::UNAUTHORIZED, "secret key"),
        (get("/api/v1/groups/org", &basic("key-two-0001", "secret-one")), StatusCode::UNAUTHORIZED, "secret key"),
        (get("/api/v1/groups/team", &auth), StatusCode::NOT_FOUND, "known: [org]"),
        (get("/api/v1/groups/org?where=plan", &auth), StatusCode::BAD_REQUEST, "no operator"),
        (get("/api/v1/groups/org?sort=$size", &auth), StatusCode::BAD_REQUEST, "built-ins"),
        (get("/api/v1/groups/org?limit=0", &auth), StatusCode::BAD_REQUEST, "limit"),
        (get("/api/v1/groups/org?color=red", &auth), StatusCode::BAD_REQUEST, "unknown parameter"),
        (get("/api/v1/groups/org/nope", &auth), StatusCode::NOT_FOUND, "no group"),
        (put("/api/v1/dynamic-properties/w%20a", &auth, wau()), StatusCode::BAD_REQUEST, "letters"),
        (put("/api/v1/dynamic-properties/wau", &auth, json!({"name": "other"})), StatusCode::BAD_REQUEST, "differs"),
        (
            put("/api/v1/dynamic-properties/wau", &auth, json!({"group_type": "org"})),
            StatusCode::BAD_REQUEST,
            "missing field",
        ),
        (put("/api/v1/dynamic-properties/wau", &basic(AUTH_KEY, "nope"), wau()), StatusCode::UNAUTHORIZED, "secret"),
    ];
    for (req, status, needle) in cases {
        let what = req.uri().to_string();
        let (got, body, _) = call(&app, req).await;
        assert_eq!(got, status, "{what}: {body}");
        assert!(body.to_string().contains(needle), "{what}: {body} should mention {needle:?}");
    }
}
