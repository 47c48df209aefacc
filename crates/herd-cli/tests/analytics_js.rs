//! Segment's browser library, analytics.js 2.0 (`@segment/analytics-next` from npm, its own browser builds as
//! shipped), in a real headless Chromium, on pages served from another origin than Herd's, configured only with
//! Segment's own knobs for a self-hosted endpoint: where the settings document comes from (the snippet's
//! `analytics._cdn`, the npm loader's `cdnURL`) and, for the npm page, where events go (`Segment.io.apiHost`).
//! The browser does what it does for any site: loads `/v1/projects/{writeKey}/settings` from Herd, preflights
//! the cross-origin POSTs (analytics.js sends `Authorization`, and `X-Retry-Count` on retries), sends
//! `text/plain` JSON; the export then shows the users, events and groups as herd-segment's mapping says.
//!
//! The browser is driven by `playwright-core` (npm) with the system's Chromium (`/usr/bin/chromium`, Debian's
//! `chromium`; `HERD_TEST_CHROMIUM` chooses another). Playwright only watches: it opens the page and records
//! every request, response, console message and page error; it changes nothing the page sends.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::prelude::{BASE64_STANDARD, Engine as _};
use serde_json::{Value, json};

use crate::support::{API_KEY, NODE_PACKAGES, TestServer, node_dir, run_node};

/// The analytics-next release under test, and the `context.library.version` its builds send.
const ANALYTICS_NEXT: &str = "1.84.3";

/// Serves a directory on a free loopback port (another origin than Herd's), opens each page given as `NAME:N`
/// in a fresh browser context of one headless Chromium, and waits until Herd has answered 200 to requests
/// carrying N events (or 20 seconds). Prints one JSON report: per page, every request with its response
/// status, request headers and parsed body, the failed requests, console messages and page errors.
const DRIVER: &str = r#"
const { chromium } = require('playwright-core')
const http = require('http'), fs = require('fs'), path = require('path')
const [root, herd, ...pages] = process.argv.slice(2)
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' }
const site = http.createServer((req, res) => {
  const pathname = decodeURIComponent(new URL(req.url, 'http://site').pathname)
  if (pathname === '/favicon.ico') { res.writeHead(204); res.end(); return }
  const file = path.join(root, pathname)
  fs.readFile(file, (err, data) => {
    if (err || !file.startsWith(root + path.sep)) { res.writeHead(404); res.end(); return }
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' })
    res.end(data)
  })
})
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
;(async () => {
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${site.address().port}`
  const browser = await chromium.launch({
    executablePath: process.env.HERD_TEST_CHROMIUM || '/usr/bin/chromium',
    // As root Chromium needs --no-sandbox; the rest keep it from reaching for Google's services.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  })
  const report = { site: origin, pages: [] }
  try {
    for (const spec of pages) {
      const [name, want] = spec.split(':')
      const context = await browser.newContext()
      const page = await context.newPage()
      const out = { page: name, requests: [], failed: [], console: [], errors: [], delivered: 0, ms: 0 }
      page.on('console', (m) => out.console.push({ type: m.type(), text: m.text(), url: m.location().url }))
      page.on('pageerror', (e) => out.errors.push(String(e)))
      page.on('requestfailed', (r) =>
        out.failed.push(`${r.method()} ${r.url()}: ${r.failure() && r.failure().errorText}`))
      const entries = new Map()
      page.on('request', (r) => {
        let body = null
        if (r.method() === 'POST') {
          try { body = JSON.parse(r.postData()) } catch (e) { body = r.postData() }
        }
        const entry = { method: r.method(), url: r.url(), headers: r.headers(), body, status: null }
        entries.set(r, entry)
        out.requests.push(entry)
      })
      page.on('response', (r) => {
        const entry = entries.get(r.request())
        if (!entry) return
        entry.status = r.status()
        if (entry.method === 'POST' && r.status() === 200 && r.url().startsWith(herd)) {
          out.delivered += entry.body && Array.isArray(entry.body.batch) ? entry.body.batch.length : 1
        }
      })
      const started = Date.now()
      await page.goto(`${origin}/${name}`)
      while (out.delivered < Number(want) && Date.now() - started < 20000) await sleep(50)
      out.ms = Date.now() - started
      await context.close()
      report.pages.push(out)
    }
  } finally {
    await browser.close()
    site.close()
  }
  console.log(JSON.stringify(report))
})().catch((e) => { console.error(e); process.exit(1) })
"#;

/// Segment's snippet exactly as `@segment/snippet` 5.2.1 renders it (`snippet.min`), with the changes Segment
/// documents for serving analytics.js from elsewhere: the script comes from this site (`/analytics.js/v1/…`, the
/// CDN's path layout, where the snippet says `https://cdn.segment.com/analytics.js/v1/…`), and
/// `analytics._cdn` names where the settings document is, i.e. Herd. Nothing says where events go: that is the
/// settings document's `apiHost`. The calls are made at once, into the snippet's queue, as pages do; analytics.js
/// replays them when it has loaded and sends them concurrently, one request each.
const SNIPPET_PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Docs: Install</title>
<script>
!function(){var i="analytics",analytics=window[i]=window[i]||[];if(!analytics.initialize)if(analytics.invoked)window.console&&console.error&&console.error("Segment snippet included twice.");else{analytics.invoked=!0;analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group","track","ready","alias","debug","page","screen","once","off","on","addSourceMiddleware","addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];analytics.factory=function(e){return function(){if(window[i].initialized)return window[i][e].apply(window[i],arguments);var n=Array.prototype.slice.call(arguments);if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){var c=document.querySelector("link[rel='canonical']");n.push({__t:"bpc",c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,r:document.referrer})}n.unshift(e);analytics.push(n);return analytics}};for(var n=0;n<analytics.methods.length;n++){var key=analytics.methods[n];analytics[key]=analytics.factory(key)}analytics.load=function(key,n){var t=document.createElement("script");t.type="text/javascript";t.async=!0;t.setAttribute("data-global-segment-analytics-key",i);t.src="/analytics.js/v1/" + key + "/analytics.min.js";var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);analytics._loadOptions=n};analytics._writeKey="{{WRITE_KEY}}";analytics._cdn="{{HERD}}";analytics.SNIPPET_VERSION="5.2.0";
analytics.load("{{WRITE_KEY}}");
analytics.identify("ajs-user-1", { email: "ada@example.com", plan: "pro" });
analytics.group("org-ajs", { name: "ExampleCorp", employees: 20 });
analytics.track("Report Exported", { format: "csv" }, { integrations: { Amplitude: { groups: { team: "web" } } } });
analytics.page("Docs", "Install");
}}();
</script>
</head><body><h1>Install</h1></body></html>
"#;

/// analytics.js as an npm user loads it (`AnalyticsBrowser.load`, here from the package's UMD build, which
/// bundlers would inline): `cdnURL` and `integrations["Segment.io"].apiHost` point at Herd, with Segment's
/// batching delivery (`/v1/b`). Each call is awaited, so the batch holds them in order.
const NPM_PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>App: Settings</title>
<script src="/analytics-next/index.js"></script>
<script>
const analytics = AnalyticsNext.AnalyticsBrowser.load(
  { writeKey: "{{WRITE_KEY}}", cdnURL: "{{HERD}}" },
  { integrations: { "Segment.io": {
      apiHost: "{{HERD_HOST}}/v1", protocol: "http",
      deliveryStrategy: { strategy: "batching", config: { size: 4, timeout: 2000 } } } } })
;(async () => {
  await analytics.identify("npm-user-1", { email: "lin@example.com", plan: "free" })
  await analytics.group("org-npm", { group_type: "Workspace", name: "Acme", created_at: "2023-05-01T00:00:00Z" })
  await analytics.track("Dashboard Shared", { channel: "email" },
                        { integrations: { Amplitude: { groups: { team: "growth" } } } })
  await analytics.page("App", "Settings", { tab: "members" })
})()
</script>
</head><body><h1>Settings</h1></body></html>
"#;

/// Five events from one user at once against a throttled Herd: some are answered 429, and analytics.js retries
/// them with `X-Retry-Count`, which needs a preflight of its own. `maxRetryInterval` (Segment's `httpConfig`)
/// caps Herd's `Retry-After: 30` at half a second so the test is quick.
const RETRY_PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Busy</title>
<script src="/analytics-next/index.js"></script>
<script>
const analytics = AnalyticsNext.AnalyticsBrowser.load(
  { writeKey: "{{WRITE_KEY}}", cdnURL: "{{HERD}}" },
  { integrations: { "Segment.io": { httpConfig: { rateLimitConfig: { maxRetryInterval: 0.5 } } } } })
analytics.identify("busy-user")
for (const n of [1, 2, 3, 4]) analytics.track("Clicked", { n })
</script>
</head><body>busy</body></html>
"#;

/// Where the npm package's browser builds are.
fn analytics_next_builds() -> PathBuf {
    node_dir().join("node_modules/@segment/analytics-next/dist/umd")
}

/// The browser tests' own requirements: Node.js 20 (playwright-core) and Chromium. They fail, never skip.
fn check_browser_tools() {
    let pinned = format!("@segment/analytics-next@{ANALYTICS_NEXT}");
    assert!(NODE_PACKAGES.contains(&pinned.as_str()), "ANALYTICS_NEXT is the version NODE_PACKAGES installs");
    let node = run_node("console.log(process.versions.node)", &[]);
    let major: u32 = node.trim().split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    assert!(major >= 20, "Node.js {} is too old for playwright-core; install Node.js 20 or newer", node.trim());
    let chromium = std::env::var_os("HERD_TEST_CHROMIUM").map(PathBuf::from).unwrap_or("/usr/bin/chromium".into());
    assert!(
        chromium.exists(),
        "{} not found: the analytics.js tests drive a real Chromium (Debian: apt-get install chromium; .ci/run does \
         this; HERD_TEST_CHROMIUM names another binary)",
        chromium.display()
    );
}

/// Writes the site (the pages and analytics-next's two browser builds, unchanged) into `root`.
fn write_site(root: &Path, server: &TestServer, pages: &[(&str, &str)]) {
    let builds = analytics_next_builds();
    let standalone = root.join(format!("analytics.js/v1/{API_KEY}"));
    std::fs::create_dir_all(&standalone).expect("site directory");
    std::fs::copy(builds.join("standalone.js"), standalone.join("analytics.min.js")).expect("copy standalone.js");
    std::fs::create_dir_all(root.join("analytics-next")).expect("site directory");
    std::fs::copy(builds.join("index.js"), root.join("analytics-next/index.js")).expect("copy index.js");
    let host = server.base.strip_prefix("http://").expect("http base");
    for (name, template) in pages {
        let html =
            template.replace("{{WRITE_KEY}}", API_KEY).replace("{{HERD}}", &server.base).replace("{{HERD_HOST}}", host);
        std::fs::write(root.join(name), html).expect("write page");
    }
}

/// Runs [`DRIVER`] on `pages` (name, template, events to wait for); returns the report's pages and the site's origin.
fn browse(server: &TestServer, pages: &[(&str, &str, usize)]) -> (Vec<Value>, String) {
    check_browser_tools();
    let root = tempfile::tempdir().expect("site tempdir");
    let templates: Vec<(&str, &str)> = pages.iter().map(|(n, t, _)| (*n, *t)).collect();
    write_site(root.path(), server, &templates);
    let root_arg = root.path().canonicalize().expect("canonical site root");
    let specs: Vec<String> = pages.iter().map(|(n, _, want)| format!("{n}:{want}")).collect();
    let mut args = vec![root_arg.to_str().expect("utf-8 path"), server.base.as_str()];
    args.extend(specs.iter().map(String::as_str));
    let out = run_node(DRIVER, &args);
    let report: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("driver output {out:?}: {e}"));
    let site = report["site"].as_str().expect("site origin").to_owned();
    (report["pages"].as_array().expect("pages").clone(), site)
}

/// Export rows, polled until there are `n` (analytics.js has been answered, but the test does not rely on the
/// order of the last response and the commit).
fn rows_when(server: &TestServer, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = server.export_all();
        if rows.len() >= n || Instant::now() > deadline {
            assert_eq!(rows.len(), n, "export rows: {rows:#?}");
            return rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The one row with this `$insert_id`.
fn row<'a>(rows: &'a [Value], insert_id: &str) -> &'a Value {
    let found: Vec<&Value> = rows.iter().filter(|r| r["$insert_id"] == insert_id).collect();
    assert_eq!(found.len(), 1, "one row with $insert_id {insert_id}: {rows:#?}");
    found[0]
}

/// The events analytics.js sent in the POSTs that Herd answered 200, with the path each came by.
fn sent_events(page: &Value) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for r in page["requests"].as_array().expect("requests") {
        if r["method"] != "POST" || r["status"] != 200 {
            continue;
        }
        let path = r["url"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
        match r["body"]["batch"].as_array() {
            Some(batch) => events.extend(batch.iter().map(|e| (path.clone(), e.clone()))),
            None => events.push((path, r["body"].clone())),
        }
    }
    events
}

/// What every page must show: the settings document came from Herd, every request went to this site or to Herd
/// and got a 2xx answer, nothing failed (a CORS refusal is a failed request and a console error), no console
/// error or page error.
fn assert_clean(page: &Value, site: &str, herd: &str) {
    let name = &page["page"];
    let requests = page["requests"].as_array().expect("requests");
    let settings = format!("{herd}/v1/projects/{API_KEY}/settings");
    assert!(
        requests.iter().any(|r| r["method"] == "GET" && r["url"] == settings.as_str() && r["status"] == 200),
        "{name}: analytics.js loaded its settings from Herd: {requests:#?}"
    );
    for r in requests {
        let url = r["url"].as_str().unwrap_or_default();
        assert!(
            url.starts_with(&format!("{site}/")) || url.starts_with(&format!("{herd}/")),
            "{name}: request off-site: {r:#?}"
        );
        let status = r["status"].as_u64().unwrap_or(0);
        assert!((200..300).contains(&status), "{name}: {} {url} answered {status}", r["method"]);
    }
    assert_eq!(page["failed"], json!([]), "{name}: failed requests");
    assert_eq!(page["errors"], json!([]), "{name}: page errors");
    let console: Vec<&Value> = page["console"]
        .as_array()
        .expect("console")
        .iter()
        .filter(|m| m["type"] == "error" || m["type"] == "warning")
        .collect();
    assert!(console.is_empty(), "{name}: console errors and warnings: {console:#?}");
}

/// The snippet page and the npm page, one after the other in one browser, against one Herd whose project maps
/// `group` by the traits `group_type` / `name` when a call has them.
#[test]
fn analytics_js_pages_deliver_to_herd() {
    let server = TestServer::start();
    server.set_setting("segment.group_type_trait", Some("group_type"));
    server.set_setting("segment.group_value_trait", Some("name"));
    let (pages, site) = browse(&server, &[("snippet.html", SNIPPET_PAGE, 4), ("npm.html", NPM_PAGE, 4)]);
    let herd = server.base.as_str();
    for page in &pages {
        assert_clean(page, &site, herd);
    }
    let rows = rows_when(&server, 10);
    let library = format!("analytics.js/next-{ANALYTICS_NEXT}");

    // The snippet page: one request per call, to the apiHost of Herd's settings document, with the write key in
    // the body and as Basic auth; concurrently, so in no particular order.
    let snippet = sent_events(&pages[0]);
    let mut paths: Vec<&str> = snippet.iter().map(|(p, _)| p.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["g", "i", "p", "t"], "{:#?}", pages[0]["requests"]);
    for r in pages[0]["requests"].as_array().unwrap().iter().filter(|r| r["method"] == "POST") {
        let path = r["url"].as_str().and_then(|u| u.strip_prefix(herd)).unwrap_or_default();
        assert!(["/v1/i", "/v1/g", "/v1/t", "/v1/p"].contains(&path), "posted to Herd's apiHost: {r:#?}");
        assert_eq!(r["headers"]["content-type"], "text/plain");
        assert_eq!(r["headers"]["authorization"], format!("Basic {}", BASE64_STANDARD.encode(format!("{API_KEY}:"))));
        assert_eq!(r["body"]["writeKey"], API_KEY);
    }
    let event = |kind: &str| snippet.iter().find(|(_, e)| e["type"] == kind).map(|(_, e)| e.clone()).expect(kind);
    let anonymous = event("identify")["anonymousId"].as_str().expect("anonymousId").to_owned();
    let identify = row(&rows, event("identify")["messageId"].as_str().unwrap());
    assert_eq!(identify["event_type"], "$identify");
    assert_eq!((&identify["user_id"], &identify["device_id"]), (&json!("ajs-user-1"), &json!(anonymous)));
    assert_eq!(identify["user_properties"]["email"], "ada@example.com");
    assert_eq!(identify["user_properties"]["plan"], "pro");
    assert_eq!(identify["library"], library.as_str());
    assert_eq!(identify["platform"], "Web");
    assert_eq!(identify["language"], "en-US");
    let user = identify["amplitude_id"].as_u64().expect("amplitude_id");
    // No group_type trait: Segment's legacy group `[Segment] Group = groupId`.
    let group_id = event("group")["messageId"].as_str().unwrap().to_owned();
    let joined = row(&rows, &group_id);
    assert_eq!(joined["groups"], json!({"[Segment] Group": ["org-ajs"]}));
    assert_eq!(joined["groupId"], "org-ajs");
    assert_eq!(
        row(&rows, &format!("{group_id}:[Segment] Group:org-ajs"))["group_properties"],
        json!({"[Segment] Group": {"org-ajs": {"name": "ExampleCorp", "employees": 20}}})
    );
    let track = row(&rows, event("track")["messageId"].as_str().unwrap());
    assert_eq!(track["event_type"], "Report Exported");
    assert_eq!(track["event_properties"], json!({"format": "csv"}));
    assert_eq!(track["groups"]["team"], json!(["web"]), "integrations.Amplitude.groups");
    let page = row(&rows, event("page")["messageId"].as_str().unwrap());
    assert_eq!(page["event_type"], "Viewed Docs Install Page");
    let url = format!("{site}/snippet.html");
    assert_eq!(
        page["event_properties"],
        json!({"category": "Docs", "name": "Install", "path": "/snippet.html", "url": url, "title": "Docs: Install",
               "referrer": "", "search": ""}),
        "the page properties analytics.js collects, with name and category"
    );
    for r in [identify, joined, track, page] {
        assert_eq!((r["amplitude_id"].as_u64(), &r["device_id"]), (Some(user), &json!(anonymous)), "one visitor");
    }

    // The npm page: one /v1/b batch, in call order, so the track carries the user's traits and group.
    let npm = sent_events(&pages[1]);
    let kinds: Vec<(&str, &str)> = npm.iter().map(|(p, e)| (p.as_str(), e["type"].as_str().unwrap_or("?"))).collect();
    assert_eq!(kinds, [("b", "identify"), ("b", "group"), ("b", "track"), ("b", "page")]);
    let id = |n: usize| npm[n].1["messageId"].as_str().expect("messageId").to_owned();
    let identify = row(&rows, &id(0));
    let npm_user = identify["amplitude_id"].as_u64();
    assert_ne!(npm_user, Some(user), "another browser context, another visitor");
    assert_eq!(identify["user_id"], "npm-user-1");
    assert_eq!(identify["device_id"], npm[0].1["anonymousId"]);
    assert_eq!(identify["library"], library.as_str());
    // group_type and name present: the user joins Workspace = Acme, the traits are its properties.
    let props = json!({"group_type": "Workspace", "name": "Acme", "createdAt": "2023-05-01T00:00:00Z"});
    assert_eq!(row(&rows, &id(1))["groups"], json!({"Workspace": ["Acme"]}));
    assert_eq!(
        row(&rows, &format!("{}:Workspace:Acme", id(1)))["group_properties"],
        json!({"Workspace": {"Acme": props}})
    );
    let track = row(&rows, &id(2));
    assert_eq!(track["event_type"], "Dashboard Shared");
    assert_eq!(track["amplitude_id"].as_u64(), npm_user);
    assert_eq!(track["event_properties"], json!({"channel": "email"}));
    assert_eq!(track["groups"], json!({"Workspace": ["Acme"], "team": ["growth"]}));
    assert_eq!(track["group_properties"], json!({"Workspace": {"Acme": props}, "team": {"growth": {}}}));
    assert_eq!(track["user_properties"], json!({"email": "lin@example.com", "plan": "free", "Workspace": "Acme"}));
    let page = row(&rows, &id(3));
    assert_eq!(page["event_type"], "Viewed App Settings Page");
    assert_eq!(page["event_properties"]["tab"], "members");
    assert_eq!(page["event_properties"]["url"], format!("{site}/npm.html"));
    assert_eq!(page["groups"], json!({"Workspace": ["Acme"]}));
}

/// A throttled Herd: analytics.js's retries (with `X-Retry-Count`) pass the preflight and every event arrives.
#[test]
fn analytics_js_retries_reach_herd() {
    let server = TestServer::start_with(&[("HERD_THROTTLE__BATCH_EPS", "1"), ("HERD_THROTTLE__WINDOW_SECS", "2")]);
    let (pages, _) = browse(&server, &[("retry.html", RETRY_PAGE, 5)]);
    let page = &pages[0];
    let requests = page["requests"].as_array().expect("requests");
    let refused: Vec<&Value> = page["console"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["text"].as_str().unwrap_or("").contains("CORS"))
        .collect();
    assert!(refused.is_empty(), "the browser refused Herd's CORS answers: {refused:#?}");
    let throttled = requests.iter().filter(|r| r["status"] == 429).count();
    assert!(throttled > 0, "Herd throttled some of the tracks: {requests:#?}");
    let retries: Vec<&Value> = requests.iter().filter(|r| r["headers"]["x-retry-count"].is_string()).collect();
    assert!(retries.iter().any(|r| r["status"] == 200), "a retry with X-Retry-Count was delivered: {requests:#?}");
    assert_eq!(page["failed"], json!([]), "no request failed (a refused preflight fails the retry)");
    assert_eq!(page["delivered"], 5, "{requests:#?}");
    let rows = rows_when(&server, 5);
    let mut clicks: Vec<i64> = rows.iter().filter_map(|r| r["event_properties"]["n"].as_i64()).collect();
    clicks.sort_unstable();
    assert_eq!(clicks, [1, 2, 3, 4], "each throttled track stored once");
}
