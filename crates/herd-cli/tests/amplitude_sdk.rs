//! The official Amplitude Python SDK (`amplitude-analytics` from PyPI) pointed at a running herd.

use serde_json::{Value, json};

use crate::support::{API_KEY, TestServer, run_python};

const SCRIPT: &str = r#"
import json, sys
from amplitude import Amplitude, BaseEvent, Config, EventOptions, Identify

url = sys.argv[1]
codes = []
def callback(event, code, message=None):
    codes.append([event.event_type, code, message])

client = Amplitude(sys.argv[2], Config(server_url=url + "/2/httpapi", callback=callback, flush_queue_size=10))

def flush():
    for f in client.flush() or []:
        if f is not None:
            f.result()

# User-level group through set_group (an $identify event), for two users.
client.set_group("org id", "1234", EventOptions(user_id="user-alice", device_id="device-alice"))
flush()
client.set_group("org id", ["1234", "5678"], EventOptions(user_id="user-bob"))
flush()

# Group properties through group_identify (a $groupidentify event).
gi = Identify()
gi.set("org plan", "Enterprise")
gi.add("seats", 10)
gi.append("regions", "eu")
client.group_identify("org id", "1234", gi, EventOptions(user_id="user-alice"))
flush()

# User properties through identify, with several operations.
ident = Identify()
ident.set("plan", "pro")
ident.set_once("signup", "2026-01-01")
ident.set_once("plan", "ignored")
ident.add("logins", 2)
ident.append("tags", "beta")
ident.prepend("history", "first")
client.identify(ident, EventOptions(user_id="user-alice"))
flush()

# Events: one with an event-level group, one without.
client.track(BaseEvent("Song Played", user_id="user-alice", device_id="device-alice",
                       groups={"team": "rock"}, event_properties={"genre": "rock", "length": 210},
                       insert_id="song-1"))
client.track(BaseEvent("Song Played", user_id="user-bob", event_properties={"genre": "jazz"}))
flush()

# Properties changed after the events: not retroactive.
gi2 = Identify()
gi2.set("org plan", "Growth")
client.group_identify("org id", "1234", gi2)
flush()
client.track(BaseEvent("Song Played", user_id="user-alice", device_id="device-alice", insert_id="song-2"))
# A retry of an already-sent event (same insert_id, same device) is dropped by deduplication.
client.track(BaseEvent("Song Played", user_id="user-alice", device_id="device-alice", insert_id="song-1"))
flush()
client.shutdown()
print(json.dumps(codes))
"#;

#[test]
fn official_python_sdk_round_trip_through_export() {
    let server = TestServer::start();
    let out = run_python(SCRIPT, &[&server.base, API_KEY]);
    let codes: Vec<(String, i64, Option<String>)> = serde_json::from_str(out.trim()).expect("callback codes");
    assert!(codes.len() >= 9, "callbacks: {codes:?}");
    assert!(codes.iter().all(|(_, code, _)| *code == 200), "every upload answered 200: {codes:?}");

    let rows = server.export_all();
    let songs: Vec<&Value> = rows.iter().filter(|r| r["event_type"] == "Song Played").collect();
    assert_eq!(songs.len(), 3, "three distinct Song Played events (the retry is deduplicated)");
    let alice_id = songs[0]["amplitude_id"].as_u64().expect("amplitude_id");
    assert_eq!(songs[2]["amplitude_id"].as_u64(), Some(alice_id), "same user across events");
    assert_ne!(songs[1]["amplitude_id"].as_u64(), Some(alice_id));

    // Alice: user-level org 1234 plus the event-level team; properties as of ingestion.
    assert_eq!(songs[0]["groups"], json!({"org id": ["1234"], "team": ["rock"]}));
    assert_eq!(
        songs[0]["group_properties"]["org id"]["1234"],
        json!({"org plan": "Enterprise", "seats": 10, "regions": ["eu"]})
    );
    assert_eq!(songs[0]["event_properties"], json!({"genre": "rock", "length": 210}));
    let up = &songs[0]["user_properties"];
    assert_eq!(up["plan"], "pro");
    assert_eq!(up["signup"], "2026-01-01");
    assert_eq!(up["logins"], 2);
    assert_eq!(up["tags"], json!(["beta"]));
    assert_eq!(up["history"], json!(["first"]));
    assert_eq!(up["org id"], "1234", "set_group also sets the user property type = value");
    assert_eq!(songs[0]["$insert_id"], "song-1");

    // Bob: in both orgs through set_group with a list.
    assert_eq!(songs[1]["groups"], json!({"org id": ["1234", "5678"]}));

    // The later event sees the later group properties; the earlier one kept the old ones.
    assert_eq!(songs[2]["groups"], json!({"org id": ["1234"]}), "event-level team did not stick");
    assert_eq!(songs[2]["group_properties"]["org id"]["1234"]["org plan"], "Growth");
    assert_eq!(songs[0]["group_properties"]["org id"]["1234"]["org plan"], "Enterprise");

    // State changes are in the export too, as Amplitude's $identify / $groupidentify records.
    let identifies = rows.iter().filter(|r| r["event_type"] == "$identify").count();
    let group_identifies = rows.iter().filter(|r| r["event_type"] == "$groupidentify").count();
    assert_eq!((identifies, group_identifies), (3, 2));
}
