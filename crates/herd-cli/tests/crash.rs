//! Crash safety: a client sends numbered batches while the server is killed with SIGKILL and restarted; every
//! acknowledged insert_id is present exactly once afterwards.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::support::{API_KEY, TestServer, client};

#[test]
fn acknowledged_events_survive_sigkill() {
    // A short flush interval so that kills also land during flushes.
    let mut server =
        TestServer::start_with(&[("HERD_STORAGE__FLUSH_INTERVAL_MS", "50"), ("HERD_THROTTLE__ENABLED", "false")]);
    let acknowledged: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut next_batch = 0u32;
    for round in 0..4 {
        let base = Arc::new(Mutex::new(server.base.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let (acknowledged, stop, base) = (acknowledged.clone(), stop.clone(), base.clone());
            let start = next_batch;
            std::thread::spawn(move || {
                let http = client();
                let mut batch = start;
                while !stop.load(Ordering::Relaxed) {
                    let ids: Vec<String> = (0..50).map(|i| format!("b{batch}-e{i}")).collect();
                    let events: Vec<_> = ids
                        .iter()
                        .map(|id| json!({"user_id": format!("user-{}", batch % 7), "event_type": "tick", "insert_id": id, "groups": {"org": format!("org-{}", batch % 3)}}))
                        .collect();
                    let url = format!("{}/batch", base.lock().unwrap());
                    if let Ok(r) = http.post(url).json(&json!({"api_key": API_KEY, "events": events})).send()
                        && r.status() == 200
                    {
                        acknowledged.lock().unwrap().extend(ids);
                    }
                    batch += 1;
                }
                batch
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(300 + 150 * round));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        next_batch = sender.join().unwrap();
        server.spawn();
    }
    let rows = server.export_all();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        if let Some(id) = r["$insert_id"].as_str() {
            *counts.entry(id.to_owned()).or_default() += 1;
        }
    }
    let acknowledged = acknowledged.lock().unwrap();
    assert!(acknowledged.len() >= 200, "the test sent enough: {}", acknowledged.len());
    for id in acknowledged.iter() {
        assert_eq!(counts.get(id), Some(&1), "acknowledged {id} must be stored exactly once");
    }
    assert!(counts.values().all(|c| *c == 1), "no insert_id is stored twice");
}
