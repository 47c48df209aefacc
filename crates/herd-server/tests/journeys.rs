//! Funnels (and later retention) through HTTP: Amplitude's `GET /api/2/funnels` with `countGroup`, the native
//! query API, and bad queries answered with 400 and a message.

use axum::body::Body;
use axum::http::Request;
use herd_config::Config;
use serde_json::{Value, json};

use crate::routes::{App, app, basic, call, post};

/// 2026-01-05 00:00 UTC.
const D1: i64 = 1_767_571_200_000;
const H: i64 = 3_600_000;

fn get(path: &str, auth: &str) -> Request<Body> {
    Request::get(path).header("authorization", auth).body(Body::empty()).unwrap()
}

fn enc(v: &Value) -> String {
    serde_json::to_string(v)
        .unwrap()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn funnel_path(steps: &[&str], extra: &str) -> String {
    let e: String = steps.iter().map(|s| format!("e={}&", enc(&json!({"event_type": s})))).collect();
    format!("/api/2/funnels?{e}start=20260105&end=20260107{extra}")
}

/// acme converts through three members; alice also converts alone; bob's pay comes 2 days after his invite.
async fn setup() -> (App, String) {
    let app = app(Config::default());
    let ev = |user: &str, event: &str, time: i64, org: Value| json!({"user_id": user, "event_type": event, "time": time, "groups": {"org": org}});
    let events = json!([
        ev("user-alice", "signup", D1 + H, json!("acme")),
        ev("user-bobby", "invite", D1 + 2 * H, json!("acme")),
        ev("user-carol", "pay", D1 + 3 * H, json!("acme")),
        ev("user-alice", "invite", D1 + 4 * H, json!("acme")),
        ev("user-alice", "pay", D1 + 6 * H, json!("acme")),
        ev("user-dave1", "signup", D1 + 30 * H, json!("globex")),
        ev("user-dave1", "invite", D1 + 31 * H, json!("globex")),
        ev("user-dave1", "pay", D1 + 80 * H, json!("globex")),
    ]);
    let (status, body, _) = call(&app, post("/2/httpapi", json!({"api_key": "key-one-0001", "events": events}))).await;
    assert_eq!(status, 200, "{body}");
    (app, basic("key-one-0001", "secret-one"))
}

#[tokio::test]
async fn rest_funnels_by_user_and_by_group() {
    let (app, auth) = setup().await;
    let (status, body, _) = call(&app, get(&funnel_path(&["signup", "invite", "pay"], ""), &auth)).await;
    assert_eq!(status, 200, "{body}");
    // alice converts (3h → 5h); dave's pay is 49 h after his invite but within 30 days.
    assert_eq!(body["data"][0]["cumulativeRaw"], json!([2, 2, 2]));
    insta::assert_json_snapshot!("funnel_by_user", body, {".data[].dayFunnels.formattedXValues" => "[days]", ".data[].dayMedianTransTimes.formattedXValues" => "[days]", ".data[].dayAvgTransTimes.formattedXValues" => "[days]"});

    // By org with a one-day window: acme (members together, within 2 h), globex only to invite.
    let (status, body, _) =
        call(&app, get(&funnel_path(&["signup", "invite", "pay"], "&countGroup=org&cs=86400"), &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["cumulativeRaw"], json!([2, 2, 1]));
    assert_eq!(body["data"][0]["medianTransTimes"], json!([2 * H, H, H]));

    // Grouped by org value: one element per value.
    let g = enc(&json!({"type": "group", "group_type": "org", "value": "$group_value"}));
    let (status, body, _) = call(&app, get(&funnel_path(&["signup", "pay"], &format!("&g={g}")), &auth)).await;
    assert_eq!(status, 200, "{body}");
    let groups: Vec<(Value, Value)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["groupValue"].clone(), d["cumulativeRaw"].clone()))
        .collect();
    assert_eq!(groups, [(json!("acme"), json!([1, 1])), (json!("globex"), json!([1, 1]))]);
}

#[tokio::test]
async fn native_funnels_and_bad_queries() {
    let (app, auth) = setup().await;
    let native = json!({"type": "funnel", "steps": [{"event": {"named": "signup"}}, {"event": {"named": "pay"}}],
        "start_ms": D1, "end_ms": D1 + 2 * 86_400_000, "count_by": {"group": "org"}, "mode": "unordered"});
    let req =
        Request::post("/api/v1/query").header("authorization", &auth).body(Body::from(native.to_string())).unwrap();
    let (status, body, _) = call(&app, req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["series"][0]["counts"], json!([2, 2]));

    // Stickiness and lifecycle through the same API: acme played on 1 day (Jan 5) of its week, globex on 2.
    let native = json!({"type": "stickiness", "event": {"event": "any"}, "start_ms": D1, "end_ms": D1 + 7 * 86_400_000,
        "count_by": {"group": "org"}});
    let req =
        Request::post("/api/v1/query").header("authorization", &auth).body(Body::from(native.to_string())).unwrap();
    let (status, body, _) = call(&app, req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["series"][0]["exactly"], json!([1, 1, 0, 0, 0, 0, 0]));
    let native = json!({"type": "lifecycle", "event": {"event": "any"}, "start_ms": D1, "end_ms": D1 + 4 * 86_400_000,
        "count_by": "user"});
    let req =
        Request::post("/api/v1/query").header("authorization", &auth).body(Body::from(native.to_string())).unwrap();
    let (status, body, _) = call(&app, req).await;
    assert_eq!(status, 200, "{body}");
    // Jan 5: alice, bob, carol new; Jan 6: dave new, the others dormant; Jan 7: dave dormant; Jan 8: dave back.
    let s = &body["data"]["series"][0];
    assert_eq!((s["new"].clone(), s["dormant"].clone()), (json!([3, 1, 0, 0]), json!([0, 3, 1, 0])));
    assert_eq!(s["resurrected"], json!([0, 0, 0, 1]));

    let (status, body, _) = call(&app, get(&funnel_path(&["signup"], ""), &auth)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("at least two"), "{body}");
    let (status, body, _) = call(&app, get(&funnel_path(&["signup", "pay"], "&countGroup=team"), &auth)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("not a group type"), "{body}");
    let (status, _, _) = call(&app, get(&funnel_path(&["signup", "pay"], ""), &basic("key-one-0001", "wrong"))).await;
    assert_eq!(status, 401);
}

fn retention_path(extra: &str) -> String {
    let play = enc(&json!({"event_type": "signup"}));
    let any = enc(&json!({"event_type": "_active"}));
    format!("/api/2/retention?se={play}&re={any}&start=20260105&end=20260107&periods=3{extra}")
}

#[tokio::test]
async fn rest_retention_by_user_and_by_group() {
    let (app, auth) = setup().await;
    // alice signs up on day 0 (01:00) and is back 3 h later only: period 0. dave signs up on day 1 (06:00) and
    // is back on day 3 (08:00, 50 h later): period 2.
    let (status, body, _) = call(&app, get(&retention_path(""), &auth)).await;
    assert_eq!(status, 200, "{body}");
    // Date labels carry the year outside the current one: the snapshot keeps them out, the values are checked here.
    let series = &body["data"]["series"][0];
    let first = series["dates"][0].as_str().unwrap();
    assert!(first.starts_with("Jan 06"), "{first}");
    let counts: Vec<u64> =
        series["values"][first].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [1, 0, 1, 0]);
    insta::assert_json_snapshot!("retention_by_user", body, {".data.series[].dates" => "[dates]", ".data.series[].values" => "[values]"});

    // By org: acme starts with alice and returns through bob and carol within 24 h; globex returns in both.
    let (status, body, _) =
        call(&app, get(&retention_path("&countGroup=org&rm=bracket&rb=[[0,1],[1,3]]"), &auth)).await;
    assert_eq!(status, 200, "{body}");
    let combined: Vec<u64> = body["data"]["series"][0]["combined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .collect();
    assert_eq!(combined, [2, 1]);

    let native = json!({"type": "retention", "start": {"event": {"named": "signup"}}, "returning": {"event": "any"},
        "start_ms": D1, "end_ms": D1 + 3 * 86_400_000, "count_by": "user", "periods": 3, "mode": {"type": "rolling"}});
    let req =
        Request::post("/api/v1/query").header("authorization", &auth).body(Body::from(native.to_string())).unwrap();
    let (status, body, _) = call(&app, req).await;
    assert_eq!(status, 200, "{body}");
    let combined: Vec<u64> = body["data"]["series"][0]["combined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .collect();
    assert_eq!(combined, [2, 1, 1, 0]);

    let (status, body, _) = call(&app, get(&retention_path("&rm=bracket"), &auth)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("rb"), "{body}");
}
