//! The seed documents' Group Identify requests, replayed with curl exactly as written (only the host changes).

use std::process::Command;

use serde_json::json;

use crate::support::{TestServer, client};

/// Seed 000, "Example Request (single)" and "Example Request (batch)", verbatim but for the host.
const SINGLE: &str = r#"curl --data 'api_key=040062a5d38552315b98302ba4f2f' --data 'identification={"group_properties":{"org csm":"Lucas","org plan":"Enterprise","org owner":"Luis"},"group_value":"1234","group_type":"org id"}' https://api.amplitude.com/groupidentify"#;
const BATCH: &str = r#"curl --data 'api_key=040062a5d38552315b98302ba4f2f' --data 'identification=[{"group_properties":{"org csm":"Lucas","org plan":"Enterprise","org owner":"Luis"},"group_value":"success","group_type":"org id"},{"group_properties":{"org csm":"Sarah","org plan":"Growth","org owner":"Sandy"},"group_value":"1234","group_type":"org id"}]' https://api.amplitude.com/groupidentify"#;

const SEED_KEY: &str = "040062a5d38552315b98302ba4f2f";
const SEED_SECRET: &str = "seed-secret-0001";

fn replay(server: &TestServer, curl: &str) -> (String, String) {
    let command = curl.replace("https://api.amplitude.com", &server.base);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{} --silent --show-error --write-out '\\n%{{http_code}}'", command))
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (status.to_owned(), body.to_owned())
}

fn group_props(server: &TestServer, value: &str) -> serde_json::Value {
    // A tracked event in the group shows the group's properties as stamped now.
    let body = json!({"api_key": "040062a5d38552315b98302ba4f2f", "events": [{"user_id": format!("probe-{value}"), "event_type": "probe", "groups": {"org id": value}}]});
    let r = client().post(server.url("/2/httpapi")).json(&body).send().unwrap();
    assert_eq!(r.status(), 200);
    let rows = server.export_all_with(SEED_KEY, SEED_SECRET);
    let row = rows.iter().rev().find(|r| r["event_type"] == "probe").expect("probe row");
    row["group_properties"]["org id"][value].clone()
}

#[test]
fn seed_group_identify_requests_as_written() {
    let server = TestServer::start_with(&[]);
    let r = client()
        .post(server.url("/admin/projects"))
        .bearer_auth("admin-token")
        .body(format!(r#"{{"name":"seed","api_key":"{SEED_KEY}","secret_key":"{SEED_SECRET}"}}"#))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());

    assert_eq!(replay(&server, SINGLE), ("200".to_owned(), "success".to_owned()));
    assert_eq!(
        group_props(&server, "1234"),
        json!({"org csm": "Lucas", "org plan": "Enterprise", "org owner": "Luis"})
    );

    assert_eq!(replay(&server, BATCH), ("200".to_owned(), "success".to_owned()));
    assert_eq!(group_props(&server, "1234"), json!({"org csm": "Sarah", "org plan": "Growth", "org owner": "Sandy"}));
    assert_eq!(
        group_props(&server, "success"),
        json!({"org csm": "Lucas", "org plan": "Enterprise", "org owner": "Luis"})
    );

    // The GET form from the Group Identify docs.
    let get = format!(
        "curl --get --data-urlencode 'api_key=040062a5d38552315b98302ba4f2f' --data-urlencode 'identification={}' https://api.amplitude.com/groupidentify",
        r#"{"group_properties":{"org csm":"Kim"},"group_type":"org id","group_value":"777"}"#
    );
    assert_eq!(replay(&server, &get), ("200".to_owned(), "success".to_owned()));
    assert_eq!(group_props(&server, "777"), json!({"org csm": "Kim"}));
}
