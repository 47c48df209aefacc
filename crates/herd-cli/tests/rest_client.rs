//! `amplitude-data-wrapper` (PyPI), a client of Amplitude's Dashboard REST and Export APIs, pointed at a running
//! herd by changing only its API domain: event segmentation, user search, the event taxonomy and the export.

use serde_json::{Value, json};

use crate::support::{API_KEY, SECRET_KEY, TestServer, client, export_hour, run_python};

const SCRIPT: &str = r#"
import gzip, json, os, sys, tempfile, zipfile
from amplitude_data_wrapper import analytics_api as amp

base, key, secret, day, start_hour, end_hour = sys.argv[1:7]
amp.API_DOMAINS["us"] = base
out = {}
r = amp.get_event_segmentation(key, secret, day, day, {"event_type": "play"}, "uniques", region="us")
out["segmentation"] = [r.status_code, r.json()]
r = amp.get_event_segmentation(key, secret, day, day, {"event_type": "play"}, "totals", region="us")
out["totals"] = [r.status_code, r.json()]
r = amp.find_user("alice-0001", key, secret, region="us")
out["usersearch"] = [r.status_code, r.json()]
r = amp.get_all_event_types(key, secret, region="us")
out["taxonomy"] = [r.status_code, r.json()]
r = amp.get_event_segmentation(key, "wrong-secret", day, day, {"event_type": "play"}, "uniques", region="us")
out["unauthorized"] = r.status_code
path = os.path.join(tempfile.mkdtemp(), "export.zip")
amp.export_project_data(start_hour, end_hour, key, secret, path, region="us")
rows = []
with zipfile.ZipFile(path) as z:
    for name in z.namelist():
        rows += [json.loads(line) for line in gzip.decompress(z.read(name)).splitlines() if line]
out["export"] = sorted(r["event_type"] for r in rows)
print(json.dumps(out))
"#;

#[test]
fn amplitude_data_wrapper_reads_herd() {
    let server = TestServer::start();
    let events = json!([
        {"user_id": "alice-0001", "event_type": "play", "groups": {"org": "acme"}},
        {"user_id": "alice-0001", "event_type": "play", "groups": {"org": "acme"}},
        {"user_id": "bobby-0001", "event_type": "play", "groups": {"org": "acme"}},
        {"user_id": "bobby-0001", "event_type": "stop", "event_properties": {"reason": "done"}},
    ]);
    let r =
        client().post(server.url("/2/httpapi")).json(&json!({"api_key": API_KEY, "events": events})).send().unwrap();
    assert_eq!(r.status(), 200);
    let day = &export_hour(0)[..8];
    let out = run_python(SCRIPT, &[&server.base, API_KEY, SECRET_KEY, day, &export_hour(-1), &export_hour(1)]);
    let out: Value = serde_json::from_str(out.trim().lines().last().unwrap()).expect("the script prints JSON");

    assert_eq!(out["segmentation"][0], 200, "{out}");
    assert_eq!(out["segmentation"][1]["data"]["series"], json!([[2]]), "alice and bob played: {out}");
    assert_eq!(out["totals"][1]["data"]["series"], json!([[3]]), "{out}");
    assert_eq!(out["usersearch"][1]["type"], "match_user_or_device_id", "{out}");
    assert_eq!(out["usersearch"][1]["matches"][0]["user_id"], "alice-0001");
    let types: Vec<&str> =
        out["taxonomy"][1]["data"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["play", "stop"], "{out}");
    assert_eq!(out["unauthorized"], 401);
    assert_eq!(out["export"], json!(["play", "play", "play", "stop"]), "{out}");
}
