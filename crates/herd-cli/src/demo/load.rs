//! Sends a demo [`Dataset`] to a server through its Amplitude endpoints: `/groupidentify`, `/identify` and
//! `/batch`, exactly as a customer's backend would.
//!
//! Stamping happens at ingestion (an event gets the user and group properties that hold when it is applied), so
//! order matters. The sorted items are cut into windows: a window ends before a group identify that follows any
//! of its events, and after `concurrency × batch` events. A window's group identifies go first, then its
//! identifies, then its events, split by user over `concurrency` senders that each send their share in time
//! order; the next window starts when all of them are acknowledged. So every event is stamped with the plan its
//! account had at that moment, and each user's events are applied in time order.
//!
//! Every request is retried on connection errors, 429 and 5xx with exponential backoff; any other status is an
//! error (it means the data or the key is wrong). Insert ids (`demo-{seed}-{n}`) make a rerun idempotent within
//! the server's dedup window (7 days by default).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

use super::model::{Account, Dataset, EventKind, GROUP_TYPE, Item, Timed, User};
use super::words;

/// Where to send, and how.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// e.g. `http://127.0.0.1:8080`, no trailing slash.
    pub base: String,
    pub api_key: String,
    pub concurrency: usize,
    /// Events per `/batch` request.
    pub batch: usize,
}

/// How progress is shown: a bar on a terminal (`herd demo`), or a log line every 10% (`herd serve --demo`).
#[derive(Debug, Clone)]
pub(crate) enum Progress {
    Bar,
    Log,
}

/// What a load sent.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct Report {
    pub events: u64,
    pub identifies: u64,
    pub group_identifies: u64,
    pub requests: u64,
    pub seconds: f64,
}

struct Counter {
    total: u64,
    sent: AtomicU64,
    requests: AtomicU64,
    bar: Option<ProgressBar>,
}

impl Counter {
    fn add(&self, events: u64) {
        let before = self.sent.fetch_add(events, Ordering::Relaxed);
        match &self.bar {
            Some(bar) => bar.inc(events),
            None if self.total > 0 => {
                let (was, now) = (before * 10 / self.total, (before + events) * 10 / self.total);
                if now > was {
                    tracing::info!(sent = before + events, total = self.total, "demo data: {}% sent", now * 10);
                }
            }
            None => {}
        }
    }
}

/// Sends the dataset; returns what was sent.
pub(crate) async fn load(data: &Dataset, target: &Target, progress: Progress) -> Result<Report> {
    let started = Instant::now();
    let total = data.event_count() as u64;
    let bar = match progress {
        Progress::Bar => {
            let bar = ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{bar:40} {human_pos}/{human_len} events {elapsed_precise} (eta {eta})")
                    .context("progress template")?,
            );
            Some(bar)
        }
        Progress::Log => None,
    };
    let counter = Arc::new(Counter { total, sent: AtomicU64::new(0), requests: AtomicU64::new(0), bar });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(target.concurrency)
        .build()
        .context("building the HTTP client")?;
    let mut report = Report::default();
    let window_events = target.concurrency.max(1) * target.batch.max(1);
    let mut rest = data.items.as_slice();
    while !rest.is_empty() {
        let mut end = 0;
        let mut events = 0;
        while end < rest.len() {
            match rest[end].item {
                Item::AccountCreated { .. } | Item::PlanChanged { .. } if events > 0 => break,
                Item::Event { .. } if events == window_events => break,
                Item::Event { .. } => events += 1,
                _ => {}
            }
            end += 1;
        }
        let (window, tail) = rest.split_at(end);
        rest = tail;
        send_window(data, window, target, &http, &counter, &mut report).await?;
    }
    if let Some(bar) = &counter.bar {
        bar.finish();
    }
    report.events = counter.sent.load(Ordering::Relaxed);
    report.requests = counter.requests.load(Ordering::Relaxed);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn send_window(
    data: &Dataset,
    window: &[Timed],
    target: &Target,
    http: &reqwest::Client,
    counter: &Arc<Counter>,
    report: &mut Report,
) -> Result<()> {
    let groups: Vec<Value> = window.iter().filter_map(|t| group_identification(data, t)).collect();
    // Amplitude allows 1,024 group properties per request; an account's first identification sets seven.
    for chunk in groups.chunks(100) {
        let body = form(&target.api_key, chunk);
        post(http, &format!("{}/groupidentify", target.base), FORM, body.into(), counter).await?;
        report.group_identifies += chunk.len() as u64;
    }
    let identifies: Vec<Value> = window.iter().filter_map(|t| identification(data, t)).collect();
    for chunk in identifies.chunks(500) {
        let body = form(&target.api_key, chunk);
        post(http, &format!("{}/identify", target.base), FORM, body.into(), counter).await?;
        report.identifies += chunk.len() as u64;
    }
    // One share per sender, by user, so that each user's events stay in time order.
    let senders = target.concurrency.max(1);
    let mut shares: Vec<Vec<Value>> = vec![Vec::new(); senders];
    for t in window {
        if let Item::Event { user, .. } = t.item {
            shares[user as usize % senders].push(event(data, t));
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for share in shares.into_iter().filter(|s| !s.is_empty()) {
        let bodies: Vec<(u64, bytes::Bytes)> = share
            .chunks(target.batch.max(1))
            .map(|c| {
                let body = json!({"api_key": target.api_key, "events": c}).to_string();
                (c.len() as u64, bytes::Bytes::from(body))
            })
            .collect();
        let (http, url, counter) = (http.clone(), format!("{}/batch", target.base), counter.clone());
        tasks.spawn(async move {
            for (n, body) in bodies {
                post(&http, &url, JSON, body, &counter).await?;
                counter.add(n);
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("sender task")??;
    }
    Ok(())
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

fn form(api_key: &str, items: &[Value]) -> String {
    let identification = Value::Array(items.to_vec()).to_string();
    serde_urlencoded::to_string([("api_key", api_key), ("identification", identification.as_str())])
        .expect("strings encode")
}

/// POSTs with retries on connection errors, 429 and 5xx.
async fn post(
    http: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: bytes::Bytes,
    counter: &Counter,
) -> Result<()> {
    let mut delay = Duration::from_millis(100);
    let mut last = String::new();
    for _attempt in 0..12 {
        counter.requests.fetch_add(1, Ordering::Relaxed);
        match http.post(url).header("content-type", content_type).body(body.clone()).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if r.status() == 429 || r.status().is_server_error() => {
                last = format!("{} {}", r.status(), r.text().await.unwrap_or_default());
            }
            Ok(r) => {
                let status = r.status();
                bail!("{url} refused the demo data: {status} {}", r.text().await.unwrap_or_default());
            }
            Err(e) => last = format!("{e}"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    bail!("{url} kept failing: {last}")
}

fn date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| "1970-01-01".into())
}

/// The event's `org`: the user's account, and their second account once that exists.
fn org_value(data: &Dataset, user: &User, time_ms: i64) -> Value {
    let primary = &data.accounts[user.account].name;
    match user.second_account.map(|s| &data.accounts[s]) {
        Some(second) if second.created_ms.max(data.start_ms) <= time_ms => json!([primary, second.name]),
        _ => json!(primary),
    }
}

fn group_identification(data: &Dataset, t: &Timed) -> Option<Value> {
    let (account, set): (&Account, Value) = match t.item {
        Item::AccountCreated { account } => {
            let a = &data.accounts[account as usize];
            let set = json!({
                "name": a.name,
                "domain": a.domain,
                "plan": a.plan.name(),
                "industry": a.industry,
                "employees": a.employees,
                "country": words::COUNTRIES[a.country].name,
                "created_at": date(a.created_ms),
            });
            (a, set)
        }
        Item::PlanChanged { account, to } => {
            (&data.accounts[account as usize], json!({"plan": to.name(), "plan_changed_at": date(t.time_ms)}))
        }
        _ => return None,
    };
    Some(json!({
        "group_type": GROUP_TYPE,
        "group_value": account.name,
        "group_properties": {"$set": set},
        "time": t.time_ms,
        "insert_id": format!("demo-{}-{}", data.seed, t.id),
    }))
}

fn identification(data: &Dataset, t: &Timed) -> Option<Value> {
    let Item::Identify { user } = t.item else { return None };
    let u = &data.users[user as usize];
    let (platform, os, _) = words::PLATFORMS[u.platform];
    Some(json!({
        "user_id": u.user_id,
        "device_id": u.device_id,
        "time": t.time_ms,
        "insert_id": format!("demo-{}-{}", data.seed, t.id),
        "platform": platform,
        "os_name": os,
        "country": words::COUNTRIES[u.country].name,
        "user_properties": {
            "$set": {"role": u.role, "country": words::COUNTRIES[u.country].name, "platform": platform},
            "$setOnce": {"joined_at": date(u.joined_ms)},
        },
    }))
}

/// One `/batch` event. Properties come from an RNG seeded by the item's id, so they are the same on every run.
fn event(data: &Dataset, t: &Timed) -> Value {
    let Item::Event { user, kind, session_ms } = t.item else { unreachable!("only events are rendered here") };
    let u = &data.users[user as usize];
    let account = &data.accounts[u.account];
    let mut rng = StdRng::seed_from_u64(data.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(t.id));
    let project = || {
        format!("{}-p{}", account.domain.trim_end_matches(".com"), 1 + t.id % (2 + account.members.len() as u32 / 3))
    };
    let props = match kind {
        EventKind::SignUp { invited } => {
            json!({"method": words::SIGNUP_METHODS.choose(&mut rng), "invited": invited})
        }
        EventKind::Login => json!({"method": if rng.random_bool(0.7) { "session" } else { "password" }}),
        EventKind::CreateProject => json!({"template": words::TEMPLATES.choose(&mut rng)}),
        EventKind::CreateTask => json!({
            "project_id": project(),
            "priority": words::PRIORITIES.choose(&mut rng),
            "has_due_date": rng.random_bool(0.55),
            "assignees": rng.random_range(0..4),
        }),
        EventKind::CompleteTask => json!({
            "project_id": project(),
            "hours_open": (rng.random::<f64>().powi(3) * 240.0 * 10.0).round() / 10.0,
        }),
        EventKind::Comment => json!({"length": rng.random_range(5..400), "mentions": rng.random_range(0..3)}),
        EventKind::UploadFile => {
            json!({"file_type": words::FILE_TYPES.choose(&mut rng), "size_kb": rng.random_range(4..25_000)})
        }
        EventKind::InviteTeammate { invitee } => json!({"invitee_role": data.users[invitee as usize].role}),
        EventKind::UpgradePlan { from, to } => json!({
            "from_plan": from.name(),
            "to_plan": to.name(),
            "seats": account.members.len(),
        }),
    };
    let (platform, os, _) = words::PLATFORMS[u.platform];
    let mut e = json!({
        "user_id": u.user_id,
        "device_id": u.device_id,
        "event_type": kind.name(),
        "time": t.time_ms,
        "insert_id": format!("demo-{}-{}", data.seed, t.id),
        "session_id": session_ms,
        "platform": platform,
        "os_name": os,
        "country": words::COUNTRIES[u.country].name,
        "groups": {GROUP_TYPE: org_value(data, u, t.time_ms)},
        "event_properties": props,
    });
    let fields = e.as_object_mut().expect("object");
    match kind {
        EventKind::CompleteTask => {
            fields.insert("user_properties".into(), json!({"$add": {"tasks_completed": 1}}));
        }
        EventKind::UpgradePlan { from, to } => {
            fields.insert("revenue".into(), json!(f64::from(to.price() - from.price())));
            fields.insert("productId".into(), json!(to.name()));
            fields.insert("revenueType".into(), json!("upgrade"));
        }
        _ => {}
    }
    e
}
