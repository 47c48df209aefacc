//! Store semantics through the public API: commands in, stamped events out.

use std::path::Path;
use std::sync::Arc;

use herd_model::{Command, GroupIdentify, GroupSet, Identify, Properties, PropertyOps, Track};
use herd_store::{NewProject, ProjectStore, Rejection, Store, StoreOptions};
use serde_json::{Value, json};

fn props(v: Value) -> Properties {
    v.as_object().cloned().expect("object")
}

fn groups(v: Value) -> GroupSet {
    GroupSet::from_wire(&props(v))
}

fn track(user: &str, event: &str, g: Value) -> Command {
    Command::Track(Box::new(Track {
        user_id: Some(user.into()),
        event_type: event.into(),
        time: Some(1_700_000_000_000),
        groups: groups(g),
        ..Default::default()
    }))
}

fn open(dir: &Path) -> (Store, Arc<ProjectStore>) {
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    if store.projects().is_empty() {
        store.create_project(NewProject { name: "p".into(), api_key: Some("key".into()), secret_key: None }).unwrap();
    }
    let p = store.by_name("p").unwrap();
    (store, p)
}

async fn all(p: &ProjectStore) -> Vec<herd_model::StoredEvent> {
    p.events_uploaded_between(i64::MIN, i64::MAX).unwrap()
}

#[tokio::test]
async fn stamping_is_not_retroactive_and_groups_union() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, p) = open(dir.path());
    let set_group = Command::Identify(Box::new(Identify {
        user_id: Some("alice1".into()),
        user_ops: PropertyOps::parse(&props(json!({"$set": {"plan": "free"}}))).unwrap(),
        groups: groups(json!({"org": "acme"})),
        ..Default::default()
    }));
    let gi = |plan: &str| {
        Command::GroupIdentify(Box::new(GroupIdentify {
            group_type: "org".into(),
            group_value: "acme".into(),
            ops: PropertyOps::parse(&props(json!({"$set": {"tier": plan}}))).unwrap(),
            ..Default::default()
        }))
    };
    p.submit(vec![set_group, gi("gold")], 1000).await.unwrap().unwrap();
    p.submit(vec![track("alice1", "play", json!({"team": ["t1", "t2"]}))], 2000).await.unwrap().unwrap();
    p.submit(vec![gi("silver")], 3000).await.unwrap().unwrap();
    p.submit(vec![track("alice1", "play", json!({}))], 4000).await.unwrap().unwrap();
    let events: Vec<_> = all(&p).await.into_iter().filter(|e| e.event_type == "play").collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].groups.to_json(), json!({"org": ["acme"], "team": ["t1", "t2"]}));
    assert_eq!(events[0].group_properties["org"]["acme"], json!({"tier": "gold"}));
    assert_eq!(events[0].user_properties, props(json!({"plan": "free"})));
    assert_eq!(events[0].data.get("first_event"), Some(&json!(true)));
    // Event-level groups do not stick; user-level ones do; group properties are as of ingestion.
    assert_eq!(events[1].groups.to_json(), json!({"org": ["acme"]}));
    assert_eq!(events[1].group_properties["org"]["acme"], json!({"tier": "silver"}));
    let g = p.group("org", "acme").unwrap().unwrap();
    assert_eq!(g.creator_amplitude_id, events[0].amplitude_id);
    assert_eq!(g.first_seen_ms, 1000);
}

#[tokio::test]
async fn identity_merges_anonymous_device_and_dedups() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, p) = open(dir.path());
    let anon = Command::Track(Box::new(Track {
        device_id: Some("device-1".into()),
        event_type: "open".into(),
        insert_id: Some("i-1".into()),
        ..Default::default()
    }));
    let known = Command::Track(Box::new(Track {
        device_id: Some("device-1".into()),
        user_id: Some("bob-12".into()),
        event_type: "login".into(),
        ..Default::default()
    }));
    let outcome = p.submit(vec![anon.clone(), known, anon], 10).await.unwrap().unwrap();
    assert_eq!(outcome.duplicates, 1);
    assert_eq!(outcome.stored, 2);
    let events = all(&p).await;
    assert_eq!(events[0].amplitude_id, events[1].amplitude_id, "a device seen first anonymously is the same user");
    // A different user id on the same device is a new user.
    p.submit(vec![track("carol", "x", json!({}))], 20).await.unwrap().unwrap();
    let events = all(&p).await;
    assert_ne!(events[2].amplitude_id, events[0].amplitude_id);
}

#[tokio::test]
async fn sixth_group_type_is_dropped_from_events_and_refused_for_group_identify() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, p) = open(dir.path());
    let five = json!({"a": "1", "b": "1", "c": "1", "d": "1", "e": "1"});
    p.submit(vec![track("alice1", "x", five)], 1).await.unwrap().unwrap();
    let receipt = p.submit(vec![track("alice1", "y", json!({"f": "1", "a": "2"}))], 2).await.unwrap().unwrap();
    assert_eq!(receipt.stored, 1);
    assert_eq!(receipt.dropped_groups.len(), 1);
    assert_eq!(receipt.dropped_groups[0].group_type, "f");
    let events = all(&p).await;
    assert_eq!(events[1].groups.to_json(), json!({"a": ["2"]}));
    let refused = p
        .submit(
            vec![
                track("alice1", "z", json!({})),
                Command::GroupIdentify(Box::new(GroupIdentify {
                    group_type: "f".into(),
                    group_value: "1".into(),
                    ..Default::default()
                })),
            ],
            3,
        )
        .await
        .unwrap();
    assert!(matches!(refused, Err(Rejection::GroupTypeLimit { .. })));
    assert_eq!(all(&p).await.len(), 2, "a refused request changes nothing");
}

#[tokio::test]
async fn flush_and_reopen_keep_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_s, p) = open(dir.path());
        for i in 0..10 {
            p.submit(vec![track("alice1", &format!("e{i}"), json!({"org": "acme"}))], 100 + i).await.unwrap().unwrap();
        }
        assert_eq!(p.flush().unwrap(), 10);
        p.submit(vec![track("alice1", "tail", json!({}))], 200).await.unwrap().unwrap();
        let stats = p.stats().unwrap();
        assert_eq!((stats.log_rows, stats.segment_rows, stats.segments), (1, 10, 1));
    }
    // Give the writer and flusher threads of the dropped store a moment to release the files.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (_s, p) = open(dir.path());
    let events = all(&p).await;
    assert_eq!(events.len(), 11);
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
    assert_eq!(events[10].groups.to_json(), json!({}));
    // Counters survive: the next event continues the sequence and keeps the user.
    p.submit(vec![track("alice1", "after", json!({}))], 300).await.unwrap().unwrap();
    let events = all(&p).await;
    assert_eq!(events[11].seq, 12);
    assert_eq!(events[11].amplitude_id, events[0].amplitude_id);
}

#[tokio::test]
async fn compaction_merges_a_days_segments_and_keeps_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, p) = open(dir.path());
    let mut expected = Vec::new();
    for round in 0..3 {
        for i in 0..4 {
            let name = format!("r{round}-e{i}");
            p.submit(vec![track("bob", &name, json!({"org": format!("o{i}")}))], 100).await.unwrap().unwrap();
            expected.push(name);
        }
        p.flush().unwrap();
    }
    let before = all(&p).await;
    assert_eq!(p.stats().unwrap().segments, 3, "one segment per flush, all on the same day");
    assert_eq!(p.compact().unwrap(), 3);
    let stats = p.stats().unwrap();
    assert_eq!((stats.segments, stats.segment_rows, stats.log_rows), (1, 12, 0));
    let after = all(&p).await;
    assert_eq!(after, before, "the same events, stamped the same, once each");
    let names: Vec<String> = after.iter().map(|e| e.event_type.clone()).collect();
    assert_eq!(names, expected);
    let snapshot = p.snapshot().unwrap();
    assert_eq!(snapshot.segment_files.len(), 1);
    let files: Vec<_> = walk(&dir.path().join("projects")).into_iter().filter(|f| f.ends_with(".parquet")).collect();
    assert_eq!(files.len(), 1, "replaced files are gone: {files:?}");
    assert_eq!(p.compact().unwrap(), 0, "nothing left to merge");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}
