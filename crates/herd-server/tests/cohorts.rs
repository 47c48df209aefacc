//! Cohorts through HTTP: Amplitude's upload, list and three-step download, Herd's native definitions and id
//! files, and cohorts as `s` segments of the REST reports.

use axum::body::Body;
use axum::http::Request;
use herd_config::Config;
use serde_json::{Value, json};

use crate::routes::{App, app, basic, call, post};

fn get(path: &str, auth: &str) -> Request<Body> {
    Request::get(path).header("authorization", auth).body(Body::empty()).unwrap()
}

fn send(method: &str, path: &str, auth: &str, body: String) -> Request<Body> {
    Request::builder().method(method).uri(path).header("authorization", auth).body(Body::from(body)).unwrap()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn today() -> String {
    let days = herd_store::now_ms().div_euclid(86_400_000);
    let date = time::Date::from_julian_day(2_440_588 + days as i32).unwrap();
    format!("{:04}{:02}{:02}", date.year(), u8::from(date.month()), date.day())
}

async fn setup() -> (App, String) {
    let app = app(Config::default());
    let events = json!([
        {"user_id": "user-alice", "event_type": "play", "groups": {"org": "acme"}},
        {"user_id": "user-alice", "event_type": "play", "groups": {"org": "acme"}},
        {"user_id": "user-bobby", "event_type": "play", "groups": {"org": "globex"}},
        {"user_id": "user-carol", "event_type": "play"},
    ]);
    let (status, body, _) = call(&app, post("/2/httpapi", json!({"api_key": "key-one-0001", "events": events}))).await;
    assert_eq!(status, 200, "{body}");
    (app, basic("key-one-0001", "secret-one"))
}

async fn uniques(app: &App, auth: &str, extra: &str) -> Value {
    let e = enc(r#"{"event_type":"play"}"#);
    let day = today();
    let (status, body, _) =
        call(app, get(&format!("/api/2/events/segmentation?e={e}&start={day}&end={day}{extra}"), auth)).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["series"].clone()
}

#[tokio::test]
async fn amplitude_upload_list_download_and_segments() {
    let (app, auth) = setup().await;
    let upload = json!({"name": "Key accounts", "app_id": 1, "id_type": "BY_USER_ID", "ids": ["acme", "initech"],
        "owner": "me@example.com", "published": true, "cg": "org"});
    let (status, body, _) = call(&app, send("POST", "/api/3/cohorts/upload", &auth, upload.to_string())).await;
    assert_eq!(status, 200, "{body}");
    let id = body["cohortId"].as_str().unwrap().to_owned();
    assert_eq!(
        (body["cohort_id"].as_str(), &body["metadata"]["matched"], &body["metadata"]["totals"]),
        (Some(id.as_str()), &json!(1), &json!(2))
    );

    let (status, body, _) = call(&app, get("/api/3/cohorts", &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cohorts"][0]["size"], 2);
    assert_eq!(body["cohorts"][0]["definition"]["countGroup"]["name"], "org");

    // As a segment: users whose events carry a key account; and not.
    let s = enc(&format!(r#"[{{"prop":"userdata_cohort","op":"is","values":["{id}"]}}]"#));
    assert_eq!(uniques(&app, &auth, &format!("&s={s}")).await, json!([[1]]));
    let s = enc(&format!(r#"[{{"prop":"userdata_cohort","op":"is not","values":["{id}"]}}]"#));
    assert_eq!(uniques(&app, &auth, &format!("&s={s}")).await, json!([[2]]));
    let s = enc(r#"[{"prop":"userdata_cohort","op":"is","values":["nope"]}]"#);
    let e = enc(r#"{"event_type":"play"}"#);
    let day = today();
    let (status, body, _) =
        call(&app, get(&format!("/api/2/events/segmentation?e={e}&start={day}&end={day}&s={s}"), &auth)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("unknown cohort"), "{body}");

    // The download: request (202), status, file.
    let (status, body, _) = call(&app, get(&format!("/api/5/cohorts/request/{id}"), &auth)).await;
    assert_eq!(status, 202, "{body}");
    let request_id = body["request_id"].as_str().unwrap().to_owned();
    let (status, body, _) = call(&app, get(&format!("/api/5/cohorts/request-status/{request_id}"), &auth)).await;
    assert_eq!((status.as_u16(), body["async_status"].as_str()), (200, Some("JOB COMPLETED")));
    let (status, body, _) = call(&app, get(&format!("/api/5/cohorts/request/{request_id}/file"), &auth)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!("group_value\nacme\ninitech\n"));
    let (status, _, _) = call(&app, get("/api/5/cohorts/request/nope", &auth)).await;
    assert_eq!(status, 404);
    let (status, _, _) = call(&app, get("/api/3/cohorts", &basic("key-one-0001", "wrong"))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn native_definitions_and_id_files() {
    let (app, auth) = setup().await;
    // Behavioural: users who played at least twice in the last day.
    let def = json!({"name": "Repeat players", "count_by": "user",
        "definition": {"type": "behavioral", "event": {"event": {"named": "play"}}, "min_count": 2, "days": 1}});
    let (status, body, _) = call(&app, send("PUT", "/api/v1/cohorts/repeat", &auth, def.to_string())).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = call(&app, get("/api/v1/cohorts/repeat/members", &auth)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["type"], "users");
    assert_eq!(body["data"]["members"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"]["members"][0][1], "user-alice");

    // A static cohort from a file, one user id per line; then replaced.
    let (status, body, _) =
        call(&app, send("PUT", "/api/v1/cohorts/picked/ids", &auth, "user-bobby\n\nuser-carol\n".into())).await;
    assert_eq!(status, 200, "{body}");
    let s = enc(r#"[{"prop":"userdata_cohort","op":"is","values":["picked"]}]"#);
    assert_eq!(uniques(&app, &auth, &format!("&s={s}")).await, json!([[2]]));
    let (status, _, _) = call(&app, send("PUT", "/api/v1/cohorts/picked/ids", &auth, "user-carol\n".into())).await;
    assert_eq!(status, 200);
    assert_eq!(uniques(&app, &auth, &format!("&s={s}")).await, json!([[1]]));
    let (status, body, _) = call(&app, send("PUT", "/api/v1/cohorts/repeat/ids", &auth, "x\n".into())).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("behavioural"), "{body}");

    let (status, body, _) = call(&app, get("/api/v1/cohorts", &auth)).await;
    assert_eq!(status, 200, "{body}");
    let sizes: Vec<(Value, Value)> =
        body["data"].as_array().unwrap().iter().map(|c| (c["cohort"]["id"].clone(), c["size"].clone())).collect();
    assert_eq!(sizes, [(json!("picked"), json!(1)), (json!("repeat"), json!(1))]);

    let bad = json!({"name": "x", "count_by": "user", "definition": {"type": "behavioral", "event": {"event": "any"}, "min_count": 0, "days": 1}});
    let (status, body, _) = call(&app, send("PUT", "/api/v1/cohorts/bad", &auth, bad.to_string())).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("min_count"), "{body}");
    let (status, _, _) = call(&app, send("DELETE", "/api/v1/cohorts/picked", &auth, String::new())).await;
    assert_eq!(status, 200);
    let (status, _, _) = call(&app, get("/api/v1/cohorts/picked/members", &auth)).await;
    assert_eq!(status, 404);
}
