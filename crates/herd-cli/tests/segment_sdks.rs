//! Segment's and RudderStack's own client libraries pointed at a running herd, changing only the host:
//! `segment-analytics-python` and `rudder-sdk-python` from PyPI, `@segment/analytics-node` from npm. The export then
//! shows users, events, groups and group properties as herd-segment's mapping says (crate docs of `herd-segment`).

use serde_json::{Value, json};

use crate::support::{API_KEY, TestServer, run_node, run_python};

/// segment-analytics-python: identify, group, track with `integrations.Amplitude.groups` and revenue, two pages,
/// a screen, and an alias that makes an anonymous visitor the identified user. The consumer thread batches the
/// calls and gzips them (`gzip = True`); any delivery failure reaches `on_error` and fails the test.
const SEGMENT_PYTHON: &str = r#"
import json, sys
import segment.analytics as analytics

errors = []
def on_error(error, items):
    errors.append([str(error), [i.get("type") for i in items]])

analytics.host = sys.argv[1]
analytics.write_key = sys.argv[2]
analytics.on_error = on_error
analytics.gzip = True
analytics.max_retries = 1

U, A = "seg-user-1", "seg-anon-1"
ctx = {"ip": "203.0.113.7", "locale": "en-US", "campaign": {"source": "newsletter", "name": "spring"}}
analytics.identify(U, {"email": "ada@example.com", "plan": "pro", "logins": 3}, anonymous_id=A,
                   context=ctx, message_id="seg-identify-1")
# Reserved traits in snake_case and another capitalisation; the group type/value traits themselves.
analytics.group(U, "org-42", {"group_type": "Organization", "name": "ExampleCorp", "employees": "20",
                              "created_at": "2024-01-01T00:00:00Z", "Industry": "Software",
                              "address": {"city": "Lyon", "postal_code": "69001"}, "tier": 2},
                anonymous_id=A, message_id="seg-group-1")
analytics.flush()
analytics.track(U, "Order Completed", {"revenue": 42.5, "currency": "EUR", "order_id": "o-1", "product_id": "sku-1"},
                anonymous_id=A, integrations={"Amplitude": {"groups": {"team": "checkout"}}},
                message_id="seg-track-1")
analytics.page(U, "Docs", "Install", {"url": "https://example.com/docs/install"}, anonymous_id=A,
               message_id="seg-page-1")
analytics.page(U, properties={"url": "https://example.com/"}, anonymous_id=A, message_id="seg-page-2")
analytics.screen(U, name="Home", properties={"variant": "b"}, anonymous_id=A, message_id="seg-screen-1")
analytics.track(anonymous_id="seg-anon-2", event="Visited", message_id="seg-visit-1")
analytics.flush()
analytics.alias("seg-anon-2", U, message_id="seg-alias-1")
analytics.flush()
analytics.track(anonymous_id="seg-anon-2", event="Visited", message_id="seg-visit-2")
analytics.flush()
analytics.shutdown()
print(json.dumps(errors))
"#;

fn no_errors(out: &str, sdk: &str) {
    let errors: Vec<Value> = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{sdk} output {out:?}: {e}"));
    assert!(errors.is_empty(), "{sdk} reported delivery failures: {errors:?}");
}

/// The one row with this `$insert_id`.
fn row<'a>(rows: &'a [Value], insert_id: &str) -> &'a Value {
    let found: Vec<&Value> = rows.iter().filter(|r| r["$insert_id"] == insert_id).collect();
    assert_eq!(found.len(), 1, "one row with $insert_id {insert_id}: {rows:#?}");
    found[0]
}

/// The group traits of seg-group-1 as stored: reserved traits in the spec's spelling, others as sent.
fn seg_group_properties() -> Value {
    json!({"group_type": "Organization", "name": "ExampleCorp", "employees": "20",
           "createdAt": "2024-01-01T00:00:00Z", "industry": "Software",
           "address": {"city": "Lyon", "postalCode": "69001"}, "tier": 2})
}

/// Runs [`SEGMENT_PYTHON`] against a fresh server and checks everything that does not depend on the group
/// settings; returns the rows and `(group type, group value)` the group call is expected to produce.
fn segment_python_round_trip(group_settings: bool) -> (Vec<Value>, String, String) {
    let server = TestServer::start();
    let (group_type, group_value) = if group_settings {
        server.set_setting("segment.group_type_trait", Some("group_type"));
        server.set_setting("segment.group_value_trait", Some("name"));
        ("Organization", "ExampleCorp")
    } else {
        ("[Segment] Group", "org-42")
    };
    no_errors(&run_python(SEGMENT_PYTHON, &[&server.base, API_KEY]), "segment-analytics-python");
    let rows = server.export_all();
    let types: Vec<&str> = rows.iter().map(|r| r["event_type"].as_str().unwrap_or("?")).collect();
    assert_eq!(
        types,
        [
            "$identify",
            "$identify",
            "$groupidentify",
            "Order Completed",
            "Viewed Docs Install Page",
            "Loaded a Page",
            "Viewed Home Screen",
            "Visited",
            "Visited"
        ],
        "one record per call (two for group), in order; page/screen named by the default templates \
         (herd_segment::PAGE_TEMPLATE, PAGE_FALLBACK, SCREEN_TEMPLATE)"
    );
    let (gt, gv) = (group_type.to_owned(), group_value.to_owned());

    // identify: userId → user_id, anonymousId → device_id, traits → user properties, messageId → $insert_id,
    // context → ip/language/library and UTM user properties.
    let identify = row(&rows, "seg-identify-1");
    let user = identify["amplitude_id"].as_u64().expect("amplitude_id");
    assert_eq!(identify["user_id"], "seg-user-1");
    assert_eq!(identify["device_id"], "seg-anon-1");
    assert_eq!(identify["ip_address"], "203.0.113.7");
    assert_eq!(identify["language"], "en-US");
    assert_eq!(identify["library"], "analytics-python/2.4.0");
    assert_eq!(
        identify["user_properties"],
        json!({"utm_source": "newsletter", "utm_campaign": "spring", "initial_utm_source": "newsletter",
               "initial_utm_campaign": "spring", "email": "ada@example.com", "plan": "pro", "logins": 3})
    );

    // group: the user joins type = value (user-level group and user property), groupId kept; the traits become
    // the group's properties, reserved ones in one spelling.
    let joined = rows.iter().find(|r| r["$insert_id"] == "seg-group-1").expect("group's $identify");
    assert_eq!(joined["event_type"], "$identify");
    assert_eq!(joined["amplitude_id"].as_u64(), Some(user));
    assert_eq!(joined["groups"], json!({ &gt: [&gv] }));
    assert_eq!(joined["user_properties"][&gt], json!(gv));
    assert_eq!(joined["groupId"], "org-42");
    let group_identify = row(&rows, &format!("seg-group-1:{gt}:{gv}"));
    assert_eq!(group_identify["event_type"], "$groupidentify");
    assert_eq!(group_identify["groupId"], "org-42");
    assert_eq!(group_identify["group_properties"], json!({ &gt: { &gv: seg_group_properties() } }));

    // track: event-level group next to the user-level one, group properties stamped, revenue lifted.
    let order = row(&rows, "seg-track-1");
    assert_eq!(order["amplitude_id"].as_u64(), Some(user));
    assert_eq!((&order["user_id"], &order["device_id"]), (&json!("seg-user-1"), &json!("seg-anon-1")));
    assert_eq!(order["groups"], json!({ &gt: [&gv], "team": ["checkout"] }));
    assert_eq!(order["group_properties"], json!({ &gt: { &gv: seg_group_properties() }, "team": {"checkout": {}} }));
    assert_eq!(
        order["event_properties"],
        json!({"revenue": 42.5, "currency": "EUR", "order_id": "o-1", "product_id": "sku-1"})
    );
    assert_eq!((&order["revenue"], &order["productId"]), (&json!(42.5), &json!("sku-1")));
    assert_eq!(order["revenueType"], "Purchase", "Order Completed is a purchase");
    assert_eq!(order["user_properties"]["email"], "ada@example.com");
    assert_eq!(order["user_properties"][&gt], json!(gv));

    // page and screen: named by the templates, name and category added to the properties; the event-level team
    // did not stick, the user-level group did.
    let page = row(&rows, "seg-page-1");
    assert_eq!(page["event_type"], "Viewed Docs Install Page");
    assert_eq!(
        page["event_properties"],
        json!({"url": "https://example.com/docs/install", "category": "Docs", "name": "Install"})
    );
    assert_eq!(page["groups"], json!({ &gt: [&gv] }));
    assert_eq!(page["group_properties"], json!({ &gt: { &gv: seg_group_properties() } }));
    assert_eq!(row(&rows, "seg-page-2")["event_type"], "Loaded a Page", "a page without name or category");
    assert_eq!(row(&rows, "seg-page-2")["event_properties"], json!({"url": "https://example.com/"}));
    let screen = row(&rows, "seg-screen-1");
    assert_eq!(screen["event_type"], "Viewed Home Screen");
    assert_eq!(screen["event_properties"], json!({"variant": "b", "name": "Home"}));

    // alias: before it the anonymous visitor is someone else; after it, the same user as seg-user-1.
    let before = row(&rows, "seg-visit-1");
    assert_ne!(before["amplitude_id"].as_u64(), Some(user));
    assert_eq!(before["device_id"], "seg-anon-2");
    assert_eq!(before["groups"], json!({}));
    let after = row(&rows, "seg-visit-2");
    assert_eq!(after["amplitude_id"].as_u64(), Some(user), "alias joined previousId to userId's user");
    assert_eq!(after["device_id"], "seg-anon-2");
    assert_eq!(after["groups"], json!({ &gt: [&gv] }), "and the user's groups come along");
    assert_eq!(after["user_properties"]["email"], "ada@example.com");
    (rows, gt, gv)
}

#[test]
fn segment_python_with_group_trait_settings() {
    let (rows, group_type, group_value) = segment_python_round_trip(true);
    assert_eq!((group_type.as_str(), group_value.as_str()), ("Organization", "ExampleCorp"));
    assert!(rows.iter().all(|r| r["groups"].get("[Segment] Group").is_none()), "no legacy group with settings");
}

#[test]
fn segment_python_without_group_trait_settings() {
    let (rows, group_type, group_value) = segment_python_round_trip(false);
    assert_eq!((group_type.as_str(), group_value.as_str()), ("[Segment] Group", "org-42"));
    assert!(rows.iter().all(|r| r["groups"].get("Organization").is_none()), "traits do not name a group");
}

/// segment-analytics-python in sync mode, uncompressed: every call is its own `/v1/batch` request, and a failure
/// raises in the script.
#[test]
fn segment_python_sync_mode() {
    let server = TestServer::start();
    let script = r#"
import sys
import segment.analytics as analytics
analytics.host = sys.argv[1]
analytics.write_key = sys.argv[2]
analytics.sync_mode = True
analytics.identify("sync-user", {"name": "Sync"}, message_id="sync-1")
analytics.track("sync-user", "Synced", {"n": 1}, message_id="sync-2")
print("ok")
"#;
    assert_eq!(run_python(script, &[&server.base, API_KEY]).trim(), "ok");
    let rows = server.export_all();
    assert_eq!(rows.len(), 2);
    assert_eq!(row(&rows, "sync-2")["user_properties"], json!({"name": "Sync"}));
    assert_eq!(row(&rows, "sync-2")["event_properties"], json!({"n": 1}));
}

/// rudder-sdk-python: HTTP Basic auth only, gzip on by default, identify traits in `context.traits`.
const RUDDER_PYTHON: &str = r#"
import json, sys
import rudderstack.analytics as rudder_analytics

errors = []
def on_error(error, items):
    errors.append([str(error), [i.get("type") for i in items]])

rudder_analytics.dataPlaneUrl = sys.argv[1]
rudder_analytics.write_key = sys.argv[2]
rudder_analytics.on_error = on_error
rudder_analytics.max_retries = 1

U, A = "rs-user-1", "rs-anon-1"
rudder_analytics.identify(U, {"email": "grace@example.com", "plan": "team"}, anonymous_id=A,
                          message_id="rs-identify-1")
rudder_analytics.group(U, "org-7", {"name": "Initech", "industry": "Technology", "employees": 329},
                       anonymous_id=A, message_id="rs-group-1")
rudder_analytics.track(U, "Report Exported", {"format": "csv"}, anonymous_id=A,
                       integrations={"Amplitude": {"groups": {"team": "analytics"}}}, message_id="rs-track-1")
rudder_analytics.flush()
rudder_analytics.shutdown()
print(json.dumps(errors))
"#;

#[test]
fn rudderstack_python() {
    let server = TestServer::start();
    no_errors(&run_python(RUDDER_PYTHON, &[&server.base, API_KEY]), "rudder-sdk-python");
    let rows = server.export_all();
    let types: Vec<&str> = rows.iter().map(|r| r["event_type"].as_str().unwrap_or("?")).collect();
    assert_eq!(types, ["$identify", "$identify", "$groupidentify", "Report Exported"]);

    let identify = row(&rows, "rs-identify-1");
    assert_eq!((&identify["user_id"], &identify["device_id"]), (&json!("rs-user-1"), &json!("rs-anon-1")));
    assert_eq!(
        identify["user_properties"],
        json!({"email": "grace@example.com", "plan": "team"}),
        "RudderStack's context.traits became user properties"
    );
    let user = identify["amplitude_id"].as_u64();

    assert_eq!(row(&rows, "rs-group-1")["groups"], json!({"[Segment] Group": ["org-7"]}));
    let properties = json!({"name": "Initech", "industry": "Technology", "employees": 329});
    assert_eq!(
        row(&rows, "rs-group-1:[Segment] Group:org-7")["group_properties"],
        json!({"[Segment] Group": {"org-7": properties}})
    );

    let track = row(&rows, "rs-track-1");
    assert_eq!(track["amplitude_id"].as_u64(), user);
    assert_eq!(track["event_properties"], json!({"format": "csv"}));
    assert_eq!(track["groups"], json!({"[Segment] Group": ["org-7"], "team": ["analytics"]}));
    assert_eq!(track["group_properties"]["[Segment] Group"]["org-7"], properties);
    assert_eq!(track["user_properties"]["email"], "grace@example.com");
    assert_eq!(track["user_properties"]["[Segment] Group"], "org-7");
    assert_eq!(track["library"], "analytics-python/2.1.9");
}

/// @segment/analytics-node with `flushAt: 1`: each call is awaited through its callback so the server sees them
/// in order; `error` events and every HTTP status are reported back.
const SEGMENT_NODE: &str = r#"
const { Analytics } = require('@segment/analytics-node')
const [host, writeKey] = process.argv.slice(2)
const analytics = new Analytics({ writeKey, host, flushAt: 1, maxRetries: 1 })
const errors = [], statuses = []
analytics.on('error', (e) => errors.push(String((e && (e.reason || e.message || e.code)) || e)))
analytics.on('http_response', (r) => statuses.push(r.status))
const send = (method, params) =>
  new Promise((resolve, reject) => analytics[method](params, (err) => (err ? reject(err) : resolve())))
const U = 'node-user-1', A = 'node-anon-1'
;(async () => {
  try {
    await send('identify', { userId: U, anonymousId: A, traits: { email: 'lin@example.com', plan: 'free' },
                             messageId: 'node-identify-1' })
    await send('group', { userId: U, anonymousId: A, groupId: 'org-9', messageId: 'node-group-1',
                          traits: { group_type: 'Workspace', name: 'Acme', created_at: '2023-05-01T00:00:00Z' } })
    await send('track', { userId: U, anonymousId: A, event: 'Dashboard Shared', properties: { channel: 'email' },
                          integrations: { Amplitude: { groups: { team: 'growth' } } }, messageId: 'node-track-1' })
    await send('page', { userId: U, anonymousId: A, category: 'App', name: 'Settings', messageId: 'node-page-1' })
    await send('screen', { userId: U, anonymousId: A, name: 'Inbox', messageId: 'node-screen-1' })
    await send('alias', { previousId: 'node-old-id', userId: U, messageId: 'node-alias-1' })
    await send('track', { userId: 'node-old-id', event: 'Old Id Used', messageId: 'node-track-2' })
  } catch (e) {
    errors.push(String((e && (e.reason || e.message || e.code)) || e))
  }
  await analytics.closeAndFlush()
  console.log(JSON.stringify({ errors, statuses }))
})()
"#;

fn segment_node_round_trip(group_settings: bool) -> (Vec<Value>, String, String) {
    let server = TestServer::start();
    if group_settings {
        server.set_setting("segment.group_type_trait", Some("group_type"));
        server.set_setting("segment.group_value_trait", Some("name"));
    }
    let out = run_node(SEGMENT_NODE, &[&server.base, API_KEY]);
    let report: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("node output {out:?}: {e}"));
    assert_eq!(report["errors"], json!([]), "@segment/analytics-node reported failures");
    assert_eq!(report["statuses"], json!([200, 200, 200, 200, 200, 200, 200]), "one request per call, all 200");
    let (gt, gv) = if group_settings { ("Workspace", "Acme") } else { ("[Segment] Group", "org-9") };
    let rows = server.export_all();
    let types: Vec<&str> = rows.iter().map(|r| r["event_type"].as_str().unwrap_or("?")).collect();
    assert_eq!(
        types,
        [
            "$identify",
            "$identify",
            "$groupidentify",
            "Dashboard Shared",
            "Viewed App Settings Page",
            "Viewed Inbox Screen",
            "Old Id Used"
        ]
    );
    let identify = row(&rows, "node-identify-1");
    let user = identify["amplitude_id"].as_u64();
    assert_eq!((&identify["user_id"], &identify["device_id"]), (&json!("node-user-1"), &json!("node-anon-1")));
    assert_eq!(identify["user_properties"], json!({"email": "lin@example.com", "plan": "free"}));
    assert_eq!(identify["library"], "@segment/analytics-node/3.1.0");
    let group_props = json!({"group_type": "Workspace", "name": "Acme", "createdAt": "2023-05-01T00:00:00Z"});
    assert_eq!(row(&rows, "node-group-1")["groups"], json!({ gt: [gv] }));
    assert_eq!(row(&rows, &format!("node-group-1:{gt}:{gv}"))["group_properties"], json!({ gt: { gv: group_props } }));
    let track = row(&rows, "node-track-1");
    assert_eq!(track["amplitude_id"].as_u64(), user);
    assert_eq!(track["event_properties"], json!({"channel": "email"}));
    assert_eq!(track["groups"], json!({ gt: [gv], "team": ["growth"] }));
    assert_eq!(track["group_properties"], json!({ gt: { gv: group_props }, "team": {"growth": {}} }));
    assert_eq!(track["user_properties"], json!({"email": "lin@example.com", "plan": "free", gt: gv}));
    assert_eq!(row(&rows, "node-page-1")["event_properties"], json!({"category": "App", "name": "Settings"}));
    assert_eq!(row(&rows, "node-screen-1")["event_properties"], json!({"name": "Inbox"}));
    let old = row(&rows, "node-track-2");
    assert_eq!(old["amplitude_id"].as_u64(), user, "alias: the previous user id is the same user");
    assert_eq!(old["user_id"], "node-old-id");
    assert_eq!(old["groups"], json!({ gt: [gv] }));
    (rows, gt.to_owned(), gv.to_owned())
}

#[test]
fn segment_node_with_group_trait_settings() {
    let (_, gt, gv) = segment_node_round_trip(true);
    assert_eq!((gt.as_str(), gv.as_str()), ("Workspace", "Acme"));
}

#[test]
fn segment_node_without_group_trait_settings() {
    let (_, gt, gv) = segment_node_round_trip(false);
    assert_eq!((gt.as_str(), gv.as_str()), ("[Segment] Group", "org-9"));
}
