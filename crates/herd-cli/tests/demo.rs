//! `herd demo` and `herd serve --demo`: the demo dataset reaches a real server through its ingestion endpoints,
//! looks like a B2B product (several accounts, busier weekdays), and loading it twice adds nothing.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{API_KEY, SECRET_KEY, TestServer, client, export_hour, herd, unzip_rows};

/// `YYYY-MM-DD` of yesterday (UTC), so that the whole window lies in the past and reruns are exact.
fn yesterday() -> String {
    let h = export_hour(-1);
    format!("{}-{}-{}", &h[0..4], &h[4..6], &h[6..8])
}

fn run_demo(server: &TestServer, extra: &[&str]) -> Value {
    let out = herd()
        .args(["demo", "--url", &server.base, "--api-key", API_KEY, "--accounts", "20", "--users", "100"])
        .args(["--days", "14", "--events", "5000", "--seed", "3", "--end", &yesterday()])
        .args(extra)
        .output()
        .expect("run herd demo");
    assert!(out.status.success(), "herd demo failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("herd demo prints a JSON summary")
}

/// Every exported row of a project; none when the export answers 404 "No data".
fn export(server: &TestServer, api_key: &str, secret_key: &str) -> Vec<Value> {
    let url = format!("/api/2/export?start={}&end={}", export_hour(-100), export_hour(100));
    let r = client().get(server.url(&url)).basic_auth(api_key, Some(secret_key)).send().unwrap();
    match r.status().as_u16() {
        404 => Vec::new(),
        200 => unzip_rows(&r.bytes().unwrap()),
        other => panic!("export failed: {other} {}", r.text().unwrap_or_default()),
    }
}

/// Events (not `$identify` / `$groupidentify` records) of an export.
fn events(rows: &[Value]) -> Vec<&Value> {
    rows.iter().filter(|r| !r["event_type"].as_str().unwrap_or("$").starts_with('$')).collect()
}

fn orgs(events: &[&Value]) -> HashSet<String> {
    let mut out = HashSet::new();
    for e in events {
        match &e["groups"]["org"] {
            Value::String(s) => {
                out.insert(s.clone());
            }
            Value::Array(values) => out.extend(values.iter().filter_map(|v| v.as_str().map(str::to_owned))),
            other => panic!("event without an org: {other} in {e}"),
        }
    }
    out
}

/// Sunday = 0, from the `YYYY-MM-DD` at the start of an export row's `event_time`.
fn weekday(date: &str) -> usize {
    let (y, m, d): (i64, i64, i64) =
        (date[0..4].parse().unwrap(), date[5..7].parse().unwrap(), date[8..10].parse().unwrap());
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days + 4).rem_euclid(7) as usize
}

#[test]
fn demo_sends_a_realistic_dataset_and_a_rerun_adds_nothing() {
    let server = TestServer::start();
    let summary = run_demo(&server, &[]);
    let sent = summary["events"].as_u64().unwrap();
    assert!((4_000..6_000).contains(&sent), "about 5,000 events: {summary}");
    assert_eq!(summary["accounts"], 20);
    assert_eq!(summary["users"], 100);

    let rows = server.export_all();
    let evs = events(&rows);
    assert_eq!(evs.len() as u64, sent, "every event sent is stored");
    assert!(rows.iter().any(|r| r["event_type"] == "$groupidentify"));
    assert!(rows.iter().any(|r| r["event_type"] == "$identify"));
    let types: HashSet<&str> = evs.iter().filter_map(|e| e["event_type"].as_str()).collect();
    for t in ["Sign Up", "Login", "Create Task", "Complete Task", "Comment", "Invite Teammate"] {
        assert!(types.contains(t), "{t} missing from {types:?}");
    }
    assert!(orgs(&evs).len() > 1, "more than one account");
    // Group properties are stamped on events: the plan the account had then.
    assert!(evs.iter().any(|e| {
        e["group_properties"]["org"]
            .as_object()
            .is_some_and(|o| o.values().any(|p| p["plan"].is_string() && p["industry"].is_string()))
    }));
    assert!(evs.iter().any(|e| e["user_properties"]["role"].is_string()));

    // Weekly rhythm: the average weekday is busier than the average weekend day (14 days: 10 + 4).
    let mut per_day = std::collections::HashMap::<String, usize>::new();
    for e in &evs {
        *per_day.entry(e["event_time"].as_str().unwrap()[..10].to_owned()).or_default() += 1;
    }
    let (mut weekday_sum, mut weekday_n, mut weekend_sum, mut weekend_n) = (0, 0, 0, 0);
    for (day, n) in &per_day {
        if matches!(weekday(day), 0 | 6) {
            (weekend_sum, weekend_n) = (weekend_sum + n, weekend_n + 1);
        } else {
            (weekday_sum, weekday_n) = (weekday_sum + n, weekday_n + 1);
        }
    }
    let (weekday_avg, weekend_avg) =
        (weekday_sum as f64 / weekday_n.max(1) as f64, weekend_sum as f64 / weekend_n.max(1) as f64);
    assert!(weekday_avg > 1.5 * weekend_avg, "weekdays {weekday_avg:.0}/day, weekends {weekend_avg:.0}/day");

    // The Dashboard REST API counts accounts.
    let start = export_hour(-15);
    let end = export_hour(-1);
    let url = format!(
        "/api/2/events/segmentation?e=%7B%22event_type%22%3A%22Login%22%7D&start={}&end={}&countGroup=org&i=30",
        &start[..8],
        &end[..8]
    );
    let r = client().get(server.url(&url)).basic_auth(API_KEY, Some(SECRET_KEY)).send().unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().unwrap();
    let accounts = body["data"]["seriesCollapsed"][0][0]["value"].as_f64().unwrap();
    assert!(accounts > 1.0, "accounts that logged in: {body}");

    // The same seed again: every insert id is known, nothing is added.
    run_demo(&server, &[]);
    assert_eq!(events(&server.export_all()).len() as u64, sent);
}

#[test]
fn demo_finds_the_running_server_and_creates_the_demo_project() {
    let server = TestServer::start();
    let out = herd()
        .args(["demo", "--accounts", "5", "--users", "20", "--days", "7", "--events", "500", "--data-dir"])
        .arg(server.dir.path())
        .env("HERD_SERVER__ADMIN_TOKEN", "admin-token")
        .output()
        .expect("run herd demo");
    assert!(out.status.success(), "herd demo failed: {}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["project"], "demo");
    let (api_key, secret_key) = demo_keys(&server);
    assert!(!events(&export(&server, &api_key, &secret_key)).is_empty());
    assert!(export(&server, API_KEY, SECRET_KEY).is_empty(), "the test project is left alone");

    // Without an admin token it says what to do.
    let out = herd().args(["demo", "--data-dir"]).arg(server.dir.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--api-key"));
}

/// The `demo` project's keys, through the admin API.
fn demo_keys(server: &TestServer) -> (String, String) {
    let r = client().get(server.url("/admin/projects")).bearer_auth("admin-token").send().unwrap();
    let projects: Vec<Value> = r.json().unwrap();
    let demo = projects.iter().find(|p| p["name"] == "demo").expect("a demo project");
    (demo["api_key"].as_str().unwrap().to_owned(), demo["secret_key"].as_str().unwrap().to_owned())
}

#[test]
fn serve_demo_fills_the_demo_project_in_the_background() {
    let server = TestServer::start_with_args(&[], &["--demo", "--demo-events", "3000"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (api_key, secret_key) = loop {
        let r = client().get(server.url("/admin/projects")).bearer_auth("admin-token").send().unwrap();
        let projects: Vec<Value> = r.json().unwrap();
        if projects.iter().any(|p| p["name"] == "demo") {
            break demo_keys(&server);
        }
        assert!(Instant::now() < deadline, "no demo project appeared");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut count = 0;
    while Instant::now() < deadline {
        let rows = export(&server, &api_key, &secret_key);
        let evs = events(&rows);
        count = evs.len();
        if count >= 1_000 && orgs(&evs).len() > 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(count >= 1_000, "only {count} demo events after 20 s");
    assert!(export(&server, API_KEY, SECRET_KEY).is_empty(), "the test project is left alone");

    // The demo defines dynamic group properties: accounts sorted by weekly active users.
    let r = client()
        .get(server.url("/api/v1/groups/org?sort=-dyn:wau&limit=5"))
        .basic_auth(&api_key, Some(&secret_key))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().unwrap();
    let wau: Vec<f64> =
        body["data"]["accounts"].as_array().unwrap().iter().map(|a| a["dynamic"]["wau"].as_f64().unwrap()).collect();
    assert!(!wau.is_empty() && wau[0] > 0.0, "accounts with weekly active users: {body}");
    assert!(wau.windows(2).all(|w| w[0] >= w[1]), "sorted by wau, descending: {wau:?}");
    assert!(body["data"]["accounts"][0]["dynamic"]["tasks_30d"].is_number());
}
