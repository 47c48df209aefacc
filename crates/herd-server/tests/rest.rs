//! Amplitude's smaller Dashboard REST endpoints through the router: active and new users (by user and by group),
//! real-time, events list, taxonomy, user search and user activity, with hand-counted numbers; auth errors.
//!
//! Data (UTC): yesterday alice (org acme, `play`) and dave (org globex, `play`); today alice (acme, `play`), bob
//! (acme, `play`) and carol (globex, device `carol-device-1`, `stop`).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use herd_config::Config;
use serde_json::{Value, json};

use crate::routes::{App, app, basic, call, post};

fn get(path: &str, auth: &str) -> Request<Body> {
    Request::get(path).header("authorization", auth).body(Body::empty()).unwrap()
}

const DAY: i64 = 86_400_000;

fn ymd(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms / 1000).unwrap();
    format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day())
}

async fn seeded() -> (App, String, i64) {
    let app = app(Config::default());
    let now = herd_store::now_ms();
    let today = now - now.rem_euclid(DAY);
    let yesterday = today - DAY + 3_600_000;
    // Today's events at "now" at the latest, so that they are in the past.
    let t = today.max(now - 60_000);
    let events = json!([
        {"user_id": "alice-0001", "event_type": "play", "time": yesterday, "groups": {"org": "acme"}, "event_properties": {"genre": "jazz"}},
        {"user_id": "dave-00001", "event_type": "play", "time": yesterday + 1000, "groups": {"org": "globex"}},
        {"user_id": "alice-0001", "event_type": "play", "time": t, "groups": {"org": "acme"}},
        {"user_id": "bobby-0001", "event_type": "play", "time": t, "groups": {"org": "acme"}, "platform": "iOS"},
        {"user_id": "carol-0001", "device_id": "carol-device-1", "event_type": "stop", "time": t,
         "groups": {"org": "globex"}, "event_properties": {"reason": "done"}},
    ]);
    let (status, body, _) = call(&app, post("/2/httpapi", json!({"api_key": "key-one-0001", "events": events}))).await;
    assert_eq!(status, 200, "{body}");
    (app, basic("key-one-0001", "secret-one"), today)
}

#[tokio::test]
async fn active_and_new_users_and_groups() {
    let (app, auth, today) = seeded().await;
    let range = format!("start={}&end={}", ymd(today - DAY), ymd(today));
    for (extra, expected) in [
        ("", json!([[2, 3]])),
        ("&m=active", json!([[2, 3]])),
        ("&m=new", json!([[2, 2]])),
        ("&countGroup=org", json!([[2, 2]])),
        ("&m=new&countGroup=org", json!([[2, 0]])),
    ] {
        let (status, body, _) = call(&app, get(&format!("/api/2/users?{range}{extra}"), &auth)).await;
        assert_eq!(status, 200, "{extra}: {body}");
        assert_eq!(body["data"]["series"], expected, "{extra}: {body}");
        assert_eq!(body["data"]["xValues"].as_array().unwrap().len(), 2);
    }
    let (_, body, _) = call(&app, get(&format!("/api/2/users?{range}&m=new"), &auth)).await;
    insta::assert_json_snapshot!("users_new", body, {".data.xValues" => "[days]"});

    let (status, body, _) = call(&app, get(&format!("/api/2/users?{range}&m=fresh"), &auth)).await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("active or new"), "{body}");

    // Real-time: 288 five-minute slots of yesterday; today so far has the three users active in one slot.
    let (status, body, _) = call(&app, get("/api/2/realtime", &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["seriesLabels"], json!(["Today", "Yesterday"]));
    assert_eq!(body["data"]["xValues"].as_array().unwrap().len(), 288);
    assert_eq!(body["data"]["xValues"][0], "00:00");
    let sum = |i: usize| body["data"]["series"][i].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).sum::<f64>();
    assert_eq!((sum(0), sum(1)), (3.0, 2.0), "{body}");
}

#[tokio::test]
async fn events_list_and_taxonomy() {
    let (app, auth, today) = seeded().await;
    let (status, body, _) = call(&app, get("/api/2/taxonomy/event", &auth)).await;
    assert_eq!(status, 200, "{body}");
    let redacted: Vec<Value> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e["first_seen"] = json!("[time]");
            e["last_seen"] = json!("[time]");
            e
        })
        .collect();
    insta::assert_json_snapshot!("taxonomy", redacted);
    let types: Vec<&str> = body["data"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["play", "stop"], "state changes are not event types");

    // This week's counts: yesterday's events count unless today is Sunday (a new week).
    let sunday = time::OffsetDateTime::from_unix_timestamp(today / 1000).unwrap().weekday() == time::Weekday::Sunday;
    let (status, body, _) = call(&app, get("/api/2/events/list", &auth)).await;
    assert_eq!(status, 200, "{body}");
    let play = body["data"].as_array().unwrap().iter().find(|e| e["name"] == "play").unwrap().clone();
    let (totals, users) = if sunday { (2, 2) } else { (4, 3) };
    assert_eq!((play["totals"].as_u64().unwrap(), play["value"].as_u64().unwrap()), (totals, users), "{play}");
}

#[tokio::test]
async fn user_search_and_activity() {
    let (app, auth, _) = seeded().await;
    let search = |q: &str| format!("/api/2/usersearch?user={q}");
    let (_, alice, _) = call(&app, get(&search("alice-0001"), &auth)).await;
    assert_eq!(alice["type"], "match_user_or_device_id");
    let aid = alice["matches"][0]["amplitude_id"].as_u64().unwrap();
    for q in [aid.to_string(), "ali".into()] {
        let (_, body, _) = call(&app, get(&search(&q), &auth)).await;
        assert_eq!(body, alice, "{q}");
    }
    let (_, body, _) = call(&app, get(&search("carol-device-1"), &auth)).await;
    assert_eq!(body["matches"][0]["user_id"], "carol-0001");
    let (_, body, _) = call(&app, get(&search("zed"), &auth)).await;
    assert_eq!(body, json!({"type": "nomatch", "matches": []}));
    let (status, _, _) = call(&app, get("/api/2/usersearch", &auth)).await;
    assert_eq!(status, 400);

    let (status, body, _) = call(&app, get(&format!("/api/2/useractivity?user={aid}"), &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userData"]["num_events"], 2);
    assert_eq!(body["userData"]["num_sessions"], 0, "events without a session are not a session");
    assert_eq!(body["userData"]["user_id"], "alice-0001");
    assert_eq!(body["events"].as_array().unwrap().len(), 2);
    let (_, body, _) =
        call(&app, get(&format!("/api/2/useractivity?user={aid}&limit=1&direction=earliest"), &auth)).await;
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_properties"]["genre"], "jazz", "the earliest event first: {body}");
    // Device fields come from the latest event whatever the page.
    let (_, bob, _) = call(&app, get(&search("bobby-0001"), &auth)).await;
    let bob = bob["matches"][0]["amplitude_id"].as_u64().unwrap();
    let (_, body, _) =
        call(&app, get(&format!("/api/2/useractivity?user={bob}&offset=1&direction=earliest"), &auth)).await;
    assert_eq!(body["userData"]["platform"], "iOS", "{body}");
    assert!(body["events"].as_array().unwrap().is_empty());

    // Sessions, usage time, purchases, revenue, start version and last location.
    let events = json!([
        {"user_id": "dora-0001", "event_type": "open", "session_id": 1_000, "time": 1_000, "app_version": "1.0"},
        {"user_id": "dora-0001", "event_type": "buy", "session_id": 1_000, "time": 61_000, "price": 5, "quantity": 2,
         "app_version": "1.1", "location_lat": 52.5, "location_lng": 13.4},
        {"user_id": "dora-0001", "event_type": "buy", "session_id": 100_000, "time": 130_000, "revenue": 3.5},
    ]);
    let (status, body, _) = call(&app, post("/2/httpapi", json!({"api_key": "key-one-0001", "events": events}))).await;
    assert_eq!(status, 200, "{body}");
    let (_, dora, _) = call(&app, get(&search("dora-0001"), &auth)).await;
    let dora = dora["matches"][0]["amplitude_id"].as_u64().unwrap();
    let (_, body, _) = call(&app, get(&format!("/api/2/useractivity?user={dora}"), &auth)).await;
    let d = &body["userData"];
    assert_eq!((d["num_sessions"].clone(), d["usage_time"].clone()), (json!(2), json!(60_000 + 30_000)), "{d}");
    assert_eq!((d["purchases"].clone(), d["revenue"].clone()), (json!(2), json!(13.5)), "{d}");
    assert_eq!(
        (d["start_version"].clone(), d["last_location"].clone()),
        (json!("1.0"), json!({"lat": 52.5, "lng": 13.4}))
    );
    assert_eq!((d["first_used"].clone(), d["last_used"].clone()), (json!(1_000), json!(130_000)));
    for (q, status) in [
        ("user=abc", StatusCode::BAD_REQUEST),
        ("user=999999", StatusCode::NOT_FOUND),
        (&format!("user={aid}&limit=5000"), StatusCode::BAD_REQUEST),
        (&format!("user={aid}&direction=up"), StatusCode::BAD_REQUEST),
    ] {
        let (got, body, _) = call(&app, get(&format!("/api/2/useractivity?{q}"), &auth)).await;
        assert_eq!(got, status, "{q}: {body}");
    }
}

#[tokio::test]
async fn reads_need_the_secret_key_of_the_project() {
    let (app, _, _) = seeded().await;
    for path in [
        "/api/2/users?start=20260101&end=20260102",
        "/api/2/realtime",
        "/api/2/events/list",
        "/api/2/taxonomy/event",
        "/api/2/usersearch?user=alice-0001",
        "/api/2/useractivity?user=1",
    ] {
        for auth in [basic("key-one-0001", "wrong"), basic("key-two-0001", "secret-one"), basic("key-one-0001", "")] {
            let (status, _, _) = call(&app, get(path, &auth)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        }
    }
}
