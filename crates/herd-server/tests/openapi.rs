//! The OpenAPI document is served and matches the router: every documented operation reaches a handler (a route
//! that does not exist answers axum's empty 404 or a 405), and the document is valid JSON with the fields tools need.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use herd_config::Config;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::routes::app;

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = app(Config::default());
    let doc: serde_json::Value = serde_json::from_str(herd_server::OPENAPI).expect("openapi.json is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 25, "{} paths", paths.len());
    let mut checked = 0;
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().unwrap() {
            assert!(operation["summary"].is_string() && operation["responses"].is_object(), "{method} {path}");
            // Path parameters become a placeholder value.
            let uri: String =
                path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/");
            let uri = if uri.is_empty() { "/".to_owned() } else { uri };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let req = Request::builder().method(method.clone()).uri(&uri).body(Body::empty()).unwrap();
            let r = herd_server::router(app.state().clone()).oneshot(req).await.unwrap();
            let status = r.status();
            let body = r.into_body().collect().await.unwrap().to_bytes();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri} is documented but not routed");
            assert!(
                !(status == StatusCode::NOT_FOUND && body.is_empty()),
                "{method} {uri} is documented but not routed"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} operations");

    let r = herd_server::router(app.state().clone())
        .oneshot(Request::get("/api/v1/openapi.json").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
}
