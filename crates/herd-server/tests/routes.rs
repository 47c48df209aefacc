//! The HTTP contract of the routes: statuses, Amplitude's bodies, authentication and isolation.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use herd_config::Config;
use herd_server::{AppState, router};
use herd_store::{NewProject, Store, StoreOptions};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub(crate) struct App {
    _dir: tempfile::TempDir,
    state: AppState,
}

impl App {
    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }
}

pub(crate) fn app(config: Config) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    for (name, key) in [("one", "key-one-0001"), ("two", "key-two-0001")] {
        store
            .create_project(NewProject {
                name: name.into(),
                api_key: Some(key.into()),
                secret_key: Some(format!("secret-{name}")),
            })
            .unwrap();
    }
    App { _dir: dir, state: AppState::new(Arc::new(store), Arc::new(config)) }
}

pub(crate) async fn call(app: &App, req: Request<Body>) -> (StatusCode, Value, Option<String>) {
    let r = router(app.state.clone()).oneshot(req).await.unwrap();
    let status = r.status();
    let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body, retry)
}

pub(crate) fn post(path: &str, body: Value) -> Request<Body> {
    Request::post(path).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap()
}

pub(crate) fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

fn export(auth: Option<String>) -> Request<Body> {
    let mut b = Request::get("/api/2/export?start=20000101T00&end=20000102T00");
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn upload_answers_and_invalid_key() {
    let app = app(Config::default());
    let (status, body, _) = call(
        &app,
        post("/2/httpapi", json!({"api_key": "key-one-0001", "events": [{"user_id": "user-1", "event_type": "e"}]})),
    )
    .await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("upload_ok", body, {".server_upload_time" => "[ms]"});
    let (status, body, _) = call(
        &app,
        post("/2/httpapi", json!({"api_key": "nope-0001", "events": [{"user_id": "user-1", "event_type": "e"}]})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().starts_with("Invalid API key"));
    insta::assert_json_snapshot!("invalid_api_key", body);
}

#[tokio::test]
async fn throttling_answers_429_with_amplitudes_body() {
    let mut config = Config::default();
    config.throttle.httpapi_eps = 1;
    config.throttle.window_secs = 5;
    let app = app(config);
    let events: Vec<Value> = (0..6).map(|_| json!({"device_id": "device-1", "event_type": "e"})).collect();
    let (status, body, retry) =
        call(&app, post("/2/httpapi", json!({"api_key": "key-one-0001", "events": events}))).await;
    assert_eq!(status, 429);
    assert_eq!(retry.as_deref(), Some("30"));
    insta::assert_json_snapshot!("throttled", body);
    // The off switch.
    let mut config = Config::default();
    config.throttle.enabled = false;
    config.throttle.httpapi_eps = 1;
    let app = self::app(config);
    let events: Vec<Value> = (0..6).map(|_| json!({"device_id": "device-1", "event_type": "e"})).collect();
    let (status, _, _) = call(&app, post("/2/httpapi", json!({"api_key": "key-one-0001", "events": events}))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn export_needs_the_secret_and_is_confined_to_its_project() {
    let app = app(Config::default());
    let (status, body, _) = call(&app, export(None)).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::UNAUTHORIZED, json!(401)));
    // An ingest key alone, or with another project's secret, cannot read.
    let (status, _, _) = call(&app, export(Some(basic("key-one-0001", "")))).await;
    assert_eq!(status, 401);
    let (status, _, _) = call(&app, export(Some(basic("key-one-0001", "secret-two")))).await;
    assert_eq!(status, 401);
    let (status, body, _) = call(&app, export(Some(basic("key-one-0001", "secret-one")))).await;
    assert_eq!(status, 404, "{body}");
    let (status, body, _) = call(
        &app,
        Request::get("/api/2/export?start=2000&end=x")
            .header("authorization", basic("key-one-0001", "secret-one"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("YYYYMMDDTHH"), "{body}");
}

#[tokio::test]
async fn identify_get_and_post_answer_success() {
    let app = app(Config::default());
    let q = "/identify?api_key=key-one-0001&identification=%7B%22user_id%22%3A%22user-1%22%2C%22user_properties%22%3A%7B%22plan%22%3A%22pro%22%7D%7D";
    let (status, body, _) = call(&app, Request::get(q).body(Body::empty()).unwrap()).await;
    assert_eq!((status, body), (StatusCode::OK, json!("success")));
    let form = r#"api_key=key-one-0001&identification=[{"user_id":"user-2","groups":{"org":"acme"}}]"#;
    let req = Request::post("/identify")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let (status, body, _) = call(&app, req).await;
    assert_eq!((status, body), (StatusCode::OK, json!("success")));
    let req = Request::post("/identify")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("api_key=key-one-0001"))
        .unwrap();
    let (status, body, _) = call(&app, req).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().starts_with("missing_event"), "{body}");
    let p = app.state.store.by_name("one").unwrap();
    let events = p.events_uploaded_between(i64::MIN, i64::MAX).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].user_properties["plan"], "pro");
    assert_eq!(events[1].groups.to_json(), json!({"org": ["acme"]}));
}

#[tokio::test]
async fn legacy_upload_checks_key_and_checksum() {
    let app = app(Config::default());
    let e = r#"[{"device_id":"device-1","event_type":"legacy","timestamp":1700000000000}]"#;
    let checksum = herd_amplitude::legacy_checksum("2", "key-one-0001", e, "1700000000000");
    let form = |client: &str, sum: &str| {
        serde_urlencoded::to_string([
            ("client", client),
            ("e", e),
            ("v", "2"),
            ("upload_time", "1700000000000"),
            ("checksum", sum),
        ])
        .unwrap()
    };
    let send = |body: String| {
        Request::post("/").header("content-type", "application/x-www-form-urlencoded").body(Body::from(body)).unwrap()
    };
    let (status, body, _) = call(&app, send(form("key-one-0001", &checksum))).await;
    assert_eq!((status, body), (StatusCode::OK, json!("success")));
    let (status, body, _) = call(&app, send(form("key-one-0001", "0000"))).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!("bad_checksum")));
    let other = herd_amplitude::legacy_checksum("2", "nope-0001", e, "1700000000000");
    let (status, body, _) = call(&app, send(form("nope-0001", &other))).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!("invalid_api_key")));
}
