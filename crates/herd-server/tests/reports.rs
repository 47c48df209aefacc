//! Reporting through HTTP: Amplitude's Dashboard REST segmentation (with `countGroup`), the native query API and
//! SQL; freshness (an acknowledged event is counted by the next query) and isolation between projects.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use herd_config::Config;
use serde_json::{Value, json};

use crate::routes::{app, basic, call, post};

fn today_ymd() -> String {
    let days = herd_store::now_ms().div_euclid(86_400_000);
    // Howard Hinnant's days-to-civil, as in the store.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}{m:02}{d:02}", yoe + era * 400 + i64::from(m <= 2))
}

fn get(path: &str, auth: &str) -> Request<Body> {
    Request::get(path).header("authorization", auth).body(Body::empty()).unwrap()
}

fn query_string(e: Value, extra: &str) -> String {
    let day = today_ymd();
    let e = serde_json::to_string(&e).unwrap();
    let e: String = url_encode(&e);
    format!("/api/2/events/segmentation?e={e}&start={day}&end={day}{extra}")
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn fresh_events_are_counted_by_users_and_by_groups() {
    let app = app(Config::default());
    let events = json!([
        {"user_id": "user-alice", "event_type": "play", "groups": {"org": "acme"}},
        {"user_id": "user-bobby", "event_type": "play", "groups": {"org": "acme"}},
        {"user_id": "user-carol", "event_type": "play", "groups": {"org": ["globex", "acme"]}},
        {"user_id": "user-dave1", "event_type": "play"},
        {"user_id": "user-dave1", "event_type": "stop"},
    ]);
    let (status, _, _) = call(&app, post("/2/httpapi", json!({"api_key": "key-one-0001", "events": events}))).await;
    assert_eq!(status, 200);
    let auth = basic("key-one-0001", "secret-one");

    // Acknowledged a moment ago, counted now: 4 users played.
    let (status, body, _) = call(&app, get(&query_string(json!({"event_type": "play"}), ""), &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["series"], json!([[4]]));
    assert_eq!(
        body["data"]["xValues"],
        json!([format!("{}-{}-{}", &today_ymd()[..4], &today_ymd()[4..6], &today_ymd()[6..])])
    );

    // By org: acme and globex (dave's event has no org and is not counted).
    let (status, body, _) =
        call(&app, get(&query_string(json!({"event_type": "play"}), "&countGroup=org"), &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["series"], json!([[2]]));

    // Users per org, grouped by the group value.
    let e =
        json!({"event_type": "play", "group_by": [{"type": "group", "group_type": "org", "value": "$group_value"}]});
    let (status, body, _) = call(&app, get(&query_string(e, ""), &auth)).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("segmentation_group_by_org", body["data"], {".xValues" => "[today]"});

    // An unknown group type is a clear 400, not a chart of zeros.
    let (status, body, _) =
        call(&app, get(&query_string(json!({"event_type": "play"}), "&countGroup=orgs"), &auth)).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("not a group type"), "{body}");

    // The native API and SQL see the same data.
    let native = json!({"type": "segmentation", "events": [{"event": {"named": "play"}}], "metric": {"type": "totals"},
        "interval": "day", "start_ms": herd_store::now_ms() - 86_400_000, "end_ms": herd_store::now_ms() + 60_000,
        "count_by": "user"});
    let req =
        Request::post("/api/v1/query").header("authorization", &auth).body(Body::from(native.to_string())).unwrap();
    let (status, body, _) = call(&app, req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["series"][0]["total"], json!(4.0));
    let sql = "SELECT event_type, count(*) AS n FROM events GROUP BY event_type ORDER BY event_type";
    let req = Request::post("/api/v1/sql").header("authorization", &auth).body(Body::from(sql)).unwrap();
    let (status, body, _) = call(&app, req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([{"event_type": "play", "n": 4}, {"event_type": "stop", "n": 1}]));
}

#[tokio::test]
async fn query_apis_are_confined_to_their_project() {
    let app = app(Config::default());
    let events = json!([{"user_id": "user-alice", "event_type": "play"}]);
    let (status, _, _) = call(&app, post("/2/httpapi", json!({"api_key": "key-one-0001", "events": events}))).await;
    assert_eq!(status, 200);
    let q = query_string(json!({"event_type": "play"}), "");
    // Project two's keys see project two's (empty) data; an ingest key alone or a wrong secret cannot query.
    let (status, body, _) = call(&app, get(&q, &basic("key-two-0001", "secret-two"))).await;
    assert_eq!((status, body["data"]["series"].clone()), (StatusCode::OK, json!([[0]])));
    for auth in [basic("key-one-0001", ""), basic("key-one-0001", "secret-two"), basic("key-two-0001", "secret-one")] {
        let (status, _, _) = call(&app, get(&q, &auth)).await;
        assert_eq!(status, 401);
        let req = Request::post("/api/v1/sql").header("authorization", &auth).body(Body::from("SELECT 1")).unwrap();
        assert_eq!(call(&app, req).await.0, 401);
    }
    // SQL cannot write or reach outside the project's tables.
    let auth = basic("key-one-0001", "secret-one");
    for sql in
        ["CREATE TABLE x AS SELECT 1", "INSERT INTO events_tail SELECT * FROM events", "COPY events TO '/tmp/x.csv'"]
    {
        let req = Request::post("/api/v1/sql").header("authorization", &auth).body(Body::from(sql)).unwrap();
        let (status, body, _) = call(&app, req).await;
        assert_eq!(status, 400, "{sql}: {body}");
    }
    let req = Request::post("/api/v1/sql")
        .header("authorization", &auth)
        .body(Body::from("SELECT count(*) AS n FROM events"))
        .unwrap();
    assert_eq!(call(&app, req).await.1["data"], json!([{"n": 1}]));
}
