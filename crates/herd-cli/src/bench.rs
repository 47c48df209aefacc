//! `herd bench ingest`: drives `/batch` over loopback with concurrent clients and reports events/s and
//! acknowledgement latency with durable (fsync'd) acks, next to the same load against a parse-and-discard endpoint
//! of the same HTTP stack (the ceiling), and a paced run at half the durable rate. `herd bench query` (in
//! [`query`]) times reports against DuckDB.

mod dataset;
mod journeys;
mod query;
mod rss;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::routing::post;
use clap::{Args, Subcommand};
use herd_store::{NewProject, Store};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Ingestion throughput and latency through `/batch`.
    Ingest(IngestArgs),
    /// Report latency through the query engine, next to DuckDB on the same data.
    Query(query::QueryArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// Events per phase.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Events per request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Leave `insert_id` out of the events (measures the cost of deduplication).
    #[arg(long)]
    no_insert_id: bool,
    /// Data directory for the run (default: a temporary directory, removed afterwards).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

pub(crate) fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Ingest(args) => ingest(args),
        BenchCommand::Query(args) => query::run(args),
    }
}

const API_KEY: &str = "bench-api-key-0001";

/// Request bodies, built before timing starts: realistic events with user and event-level groups.
fn bodies(events: usize, batch: usize, phase: &str, insert_ids: bool) -> Vec<bytes::Bytes> {
    let mut out = Vec::new();
    let mut n = 0;
    while n < events {
        let size = batch.min(events - n);
        let evs: Vec<serde_json::Value> = (n..n + size)
            .map(|i| {
                let event_type = ["Song Played", "Page Viewed", "Playlist Created", "Search"][i % 4];
                let genre = ["rock", "jazz", "pop"][i % 3];
                let plan = ["free", "pro"][i % 2];
                let mut event = serde_json::json!({
                    "user_id": format!("user-{:06}", i % 50_000),
                    "device_id": format!("device-{:06}", i % 60_000),
                    "event_type": event_type,
                    "time": 1_763_000_000_000i64 + i as i64 * 10,
                    "insert_id": format!("{phase}-{i}"),
                    "event_properties": {"genre": genre, "length": i % 300},
                    "user_properties": {"$set": {"plan": plan}},
                    "groups": {"org id": format!("org-{:04}", i % 2_000)},
                    "platform": "Web", "os_name": "Chrome", "country": "Germany",
                });
                if !insert_ids {
                    event.as_object_mut().expect("object").remove("insert_id");
                }
                event
            })
            .collect();
        out.push(bytes::Bytes::from(serde_json::json!({"api_key": API_KEY, "events": evs}).to_string()));
        n += size;
    }
    out
}

struct PhaseResult {
    events: usize,
    seconds: f64,
    latencies_ms: Vec<f64>,
    failures: usize,
}

impl PhaseResult {
    fn rate(&self) -> f64 {
        self.events as f64 / self.seconds
    }
    fn percentile(&self, p: f64) -> f64 {
        let mut v = self.latencies_ms.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(((v.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
    }
}

/// Sends every body with `clients` concurrent clients; with `pace`, each client waits so that the total rate
/// stays at `pace` events/s.
async fn phase(url: String, bodies: Vec<bytes::Bytes>, clients: usize, pace: Option<f64>, label: &str) -> PhaseResult {
    let events_per_body = bodies.first().map(|b| count_events(b)).unwrap_or(0);
    let total_events: usize = bodies.iter().map(|b| count_events(b)).sum();
    let bar = ProgressBar::new(bodies.len() as u64).with_style(
        ProgressStyle::with_template("{msg:>22} {bar:40} {pos}/{len} requests {elapsed}").expect("template"),
    );
    bar.set_message(label.to_owned());
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build().expect("http client");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (queue, http, url, bar) = (queue.clone(), http.clone(), url.clone(), bar.clone());
        let interval = pace.map(|rate| Duration::from_secs_f64(events_per_body as f64 * clients as f64 / rate));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            let mut next = Instant::now();
            loop {
                let Some(body) = queue.lock().expect("queue").pop() else { break };
                if let Some(interval) = interval {
                    tokio::time::sleep_until(next.into()).await;
                    next += interval;
                }
                let t = Instant::now();
                match http.post(&url).header("content-type", "application/json").body(body).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => failures += 1,
                }
                bar.inc(1);
            }
            (latencies, failures)
        }));
    }
    let mut result = PhaseResult { events: total_events, seconds: 0.0, latencies_ms: Vec::new(), failures: 0 };
    for t in tasks {
        let (lat, fail) = t.await.expect("client task");
        result.latencies_ms.extend(lat);
        result.failures += fail;
    }
    result.seconds = started.elapsed().as_secs_f64();
    bar.finish();
    result
}

fn count_events(body: &[u8]) -> usize {
    // Counting `"event_type"` keys is enough for bodies this module built itself.
    body.windows(12).filter(|w| w == b"\"event_type\"").count()
}

fn ingest(args: IngestArgs) -> Result<()> {
    let temp = tempfile_dir()?;
    let dir = args.data_dir.clone().unwrap_or_else(|| temp.clone());
    let mut config = herd_config::Config { data_dir: dir.clone(), ..Default::default() };
    config.throttle.enabled = false;
    let store = Store::open(&dir, crate::serve::store_options(&config)).context("opening bench data directory")?;
    store.create_project(NewProject { name: "bench".into(), api_key: Some(API_KEY.into()), secret_key: None })?;
    let state = herd_server::AppState::new(Arc::new(store), Arc::new(config.clone()));
    let limits = herd_amplitude::UploadLimits { max_events: config.limits.max_events_per_request };
    // The ceiling: the same router and body handling, parsing into commands and then discarding them.
    let app = herd_server::router(state.clone()).route(
        "/bench/discard",
        post(move |body: bytes::Bytes| async move {
            match herd_amplitude::parse_upload(&body, limits) {
                Ok(u) => axum::Json(herd_amplitude::UploadSuccess::new(u.event_count, body.len(), 0).to_json()),
                Err(e) => axum::Json(e.body(400)),
            }
        }),
    );
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    server_rt.spawn(async move { axum::serve(listener, app).await });

    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    eprintln!("building {} events per phase in requests of {} …", args.events, args.batch);
    let discard = client_rt.block_on(phase(
        format!("http://{addr}/bench/discard"),
        bodies(args.events, args.batch, "d", !args.no_insert_id),
        args.clients,
        None,
        "parse and discard",
    ));
    let durable = client_rt.block_on(phase(
        format!("http://{addr}/batch"),
        bodies(args.events, args.batch, "a", !args.no_insert_id),
        args.clients,
        None,
        "durable /batch",
    ));
    let half = durable.rate() / 2.0;
    let paced = client_rt.block_on(phase(
        format!("http://{addr}/batch"),
        bodies(args.events / 2, args.batch, "b", !args.no_insert_id),
        args.clients,
        Some(half),
        "durable /batch @ 50%",
    ));
    let stats = state.store.by_api_key(API_KEY).expect("bench project").stats()?;
    println!("| phase | events | seconds | events/s | p50 ms | p99 ms | failed requests |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, r) in [
        ("parse and discard (ceiling)", &discard),
        ("durable /batch", &durable),
        ("durable /batch at half rate", &paced),
    ] {
        println!(
            "| {name} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {} |",
            r.events,
            r.seconds,
            r.rate(),
            r.percentile(0.5),
            r.percentile(0.99),
            r.failures
        );
    }
    println!(
        "\ndurable / ceiling = {:.0} %; clients {}, {} events per request; stored rows: {} in log + {} in {} segments",
        100.0 * durable.rate() / discard.rate(),
        args.clients,
        args.batch,
        stats.log_rows,
        stats.segment_rows,
        stats.segments
    );
    drop(server_rt);
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("herd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
