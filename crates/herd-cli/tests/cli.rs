//! The CLI: project creation and listing, and the clear refusal while a server holds the data directory.

use crate::support::{TestServer, client, herd};

#[test]
fn project_create_prints_json_and_list_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = herd().args(["project", "create", "--name", "web", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["name"], "web");
    assert_eq!(created["id"], 1);
    assert_eq!(created["api_key"].as_str().unwrap().len(), 32);
    assert_eq!(created["secret_key"].as_str().unwrap().len(), 32);
    let out = herd().args(["project", "list", "--data-dir"]).arg(dir.path()).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["api_key"], created["api_key"]);
}

#[test]
fn cli_refuses_a_held_data_directory_and_admin_api_works() {
    let server = TestServer::start();
    let out = herd().args(["project", "create", "--name", "x", "--data-dir"]).arg(server.dir.path()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is in use") && err.contains("admin"), "{err}");
    assert!(err.contains(server.base.trim_start_matches("http://")), "names the server's address: {err}");

    let r = client().post(server.url("/admin/projects")).body(r#"{"name":"x"}"#).send().unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .post(server.url("/admin/projects"))
        .bearer_auth("admin-token")
        .body(r#"{"name":"x","api_key":"key-x-0001"}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let p: serde_json::Value = r.json().unwrap();
    assert_eq!(p["api_key"], "key-x-0001");
    // The new project ingests at once.
    let r = client()
        .post(server.url("/2/httpapi"))
        .body(r#"{"api_key":"key-x-0001","events":[{"user_id":"user-1","event_type":"e"}]}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}
