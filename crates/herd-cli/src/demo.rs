//! `herd demo` and `herd serve --demo`: a realistic B2B SaaS dataset (see [`model`]) sent to a running server
//! through its real Amplitude ingestion endpoints (see [`load`]).
//!
//! Decisions:
//! - **Where to send.** `--url` with `--api-key` sends to any server. Without `--url`, `herd demo` reads the
//!   `server.json` that `herd serve` writes into the data directory (`--data-dir`, else the config's
//!   `data_dir`) and talks to that server; a wildcard listen address (`0.0.0.0`, `[::]`) is reached on loopback.
//!   Without `--api-key`, it looks the project (`--project`, default `demo`) up through the admin API with the
//!   config's `server.admin_token`, creating it when missing. The CLI cannot open the store itself: the running
//!   server holds the data directory's lock. With no server, or no admin token, it says what to do instead.
//! - **`herd serve --demo`** creates the `demo` project in-process if it is missing and, when that project holds no
//!   records at all, loads the dataset into it from a background thread against the server's own address (so the
//!   data takes the same path as any other). A partly loaded project (server stopped midway) is not topped up;
//!   `herd demo` with the same seed and `--end` day completes it, since insert ids make reruns idempotent.
//! - **Size.** `--events` is a target; daily activity is scaled to come close to it. `--users` defaults to
//!   events / 100 and `--accounts` to users / 10, so one flag sizes a sensible dataset (200k → 2,000 → 200).
//! - **Time.** The window is `--days` whole UTC days ending with `--end` (default today); nothing later than now is
//!   sent. The same seed, sizes and end day give the same items with the same insert ids, so a rerun within the
//!   server's dedup window (7 days) adds nothing.

mod load;
mod model;
mod words;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use herd_store::{NewProject, Store};

use load::{Progress, Target};

/// The project `herd serve --demo` fills and `herd demo` uses by default.
pub(crate) const DEMO_PROJECT: &str = "demo";

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Base URL of the server, e.g. http://127.0.0.1:8080 (default: the server holding --data-dir, from its
    /// server.json).
    #[arg(long, requires = "api_key")]
    url: Option<String>,
    /// The project's ingestion key (default: look the project up through the admin API).
    #[arg(long)]
    api_key: Option<String>,
    /// Data directory of the running server whose server.json to read (default: config `data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Project to look up or create through the admin API when --api-key is not given.
    #[arg(long, default_value = DEMO_PROJECT)]
    project: String,
    /// Concurrent senders.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    #[command(flatten)]
    size: SizeArgs,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SizeArgs {
    /// Accounts (group type `org`) [default: users / 10, at least 5].
    #[arg(long)]
    accounts: Option<usize>,
    /// Users [default: events / 100, at least 20].
    #[arg(long)]
    users: Option<usize>,
    /// Days of history, ending with --end.
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// Approximate number of events.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Random seed: the same seed, sizes and end day give the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Last day of the window, YYYY-MM-DD (UTC) [default: today].
    #[arg(long)]
    end: Option<String>,
}

impl SizeArgs {
    /// The sizes `herd serve --demo --demo-events N` uses.
    pub(crate) fn for_events(events: usize) -> SizeArgs {
        SizeArgs { accounts: None, users: None, days: 90, events, seed: 1, end: None }
    }

    fn params(&self, now_ms: i64) -> Result<model::Params> {
        let users = self.users.unwrap_or((self.events / 100).max(20));
        let accounts = self.accounts.unwrap_or((users / 10).max(5)).min(users);
        if users == 0 || accounts == 0 {
            bail!("--users and --accounts must be at least 1");
        }
        if self.days == 0 {
            bail!("--days must be at least 1");
        }
        let end_day = match &self.end {
            None => now_ms.div_euclid(model::DAY_MS),
            Some(s) => {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                let date = time::Date::parse(s, format).with_context(|| format!("--end {s:?} is not YYYY-MM-DD"))?;
                i64::from(
                    date.to_julian_day()
                        - time::Date::from_calendar_date(1970, time::Month::January, 1)?.to_julian_day(),
                )
            }
        };
        Ok(model::Params { accounts, users, days: self.days, events: self.events, seed: self.seed, end_day, now_ms })
    }
}

pub(crate) fn run(config: herd_config::Config, args: DemoArgs) -> Result<()> {
    let params = args.size.params(herd_store::now_ms())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let (base, project) = resolve(&config, &args).await?;
        let started = std::time::Instant::now();
        let data = model::generate(&params);
        eprintln!(
            "herd demo: {} accounts, {} users, {} events over {} days (generated in {:.1} s); sending to {base}",
            data.accounts.len(),
            data.users.len(),
            data.event_count(),
            params.days,
            started.elapsed().as_secs_f64()
        );
        let target =
            Target { base: base.clone(), api_key: project.api_key.clone(), concurrency: args.concurrency, batch: 1000 };
        let report = load::load(&data, &target, Progress::Bar).await?;
        let rate = report.events as f64 / report.seconds.max(1e-9);
        eprintln!("sent {} events in {:.1} s ({rate:.0} events/s)", report.events, report.seconds);
        if let Some(secret) = &project.secret_key {
            eprintln!("query it:\n  {}", query_hint(&base, &project.api_key, secret, &data));
        }
        let summary = serde_json::json!({
            "url": base,
            "project": project.name,
            "accounts": data.accounts.len(),
            "users": data.users.len(),
            "days": params.days,
            "events": report.events,
            "identifies": report.identifies,
            "group_identifies": report.group_identifies,
            "requests": report.requests,
            "seconds": report.seconds,
            "events_per_second": rate.round(),
        });
        println!("{summary}");
        Ok(())
    })
}

/// The project data is sent to.
struct ProjectKeys {
    name: Option<String>,
    api_key: String,
    secret_key: Option<String>,
}

/// The server's base URL and the project's keys, from the flags or from the running server.
async fn resolve(config: &herd_config::Config, args: &DemoArgs) -> Result<(String, ProjectKeys)> {
    let base = match &args.url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let dir = args.data_dir.clone().unwrap_or_else(|| config.data_dir.clone());
            let Some((_, listen)) = crate::serve::running_server(&dir) else {
                bail!(
                    "no running herd server holds {} (no server.json there).\n\
                     Start one with `herd serve --demo` (it loads this dataset itself), or pass --url and --api-key.",
                    dir.display()
                );
            };
            base_url(&listen)
        }
    };
    if let Some(key) = &args.api_key {
        return Ok((base, ProjectKeys { name: None, api_key: key.clone(), secret_key: None }));
    }
    let token = &config.server.admin_token;
    if token.is_empty() {
        bail!(
            "without --api-key, herd demo finds the {:?} project through the admin API, and no admin token is set.\n\
             Set server.admin_token (HERD_SERVER__ADMIN_TOKEN) for both the server and this command, or pass --api-key \
             (herd serve prints the keys of the projects it creates).",
            args.project
        );
    }
    let http = reqwest::Client::new();
    let url = format!("{base}/admin/projects");
    let r = http.get(&url).bearer_auth(token).send().await.with_context(|| format!("GET {url}"))?;
    if !r.status().is_success() {
        bail!("GET {url}: {} {}", r.status(), r.text().await.unwrap_or_default());
    }
    let projects: Vec<serde_json::Value> = r.json().await.context("admin API project list")?;
    let found = projects.into_iter().find(|p| p["name"] == args.project.as_str());
    let project = match found {
        Some(p) => p,
        None => {
            let body = serde_json::json!({"name": args.project}).to_string();
            let r =
                http.post(&url).bearer_auth(token).body(body).send().await.with_context(|| format!("POST {url}"))?;
            if !r.status().is_success() {
                bail!("creating project {:?}: {} {}", args.project, r.status(), r.text().await.unwrap_or_default());
            }
            let p: serde_json::Value = r.json().await.context("admin API create response")?;
            eprintln!("created project {:?} (id {})", args.project, p["id"]);
            p
        }
    };
    let key = |k: &str| project[k].as_str().map(str::to_owned);
    let api_key = key("api_key").context("admin API project without api_key")?;
    Ok((base, ProjectKeys { name: Some(args.project.clone()), api_key, secret_key: key("secret_key") }))
}

/// `http://ADDR` for a listen address, with wildcard addresses reached on loopback.
fn base_url(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(addr) => format!("http://{}", loopback(addr)),
        Err(_) => format!("http://{listen}"),
    }
}

fn loopback(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// A `curl` command for a segmentation chart of the demo data: accounts that created tasks, by day.
fn query_hint(base: &str, api_key: &str, secret_key: &str, data: &model::Dataset) -> String {
    let day = |ms: i64| {
        time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
            .map(|t| format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day()))
            .unwrap_or_default()
    };
    let last = data.items.last().map(|t| t.time_ms).unwrap_or(data.start_ms);
    format!(
        "curl -G -u {api_key}:{secret_key} {base}/api/2/events/segmentation \\\n    \
         --data-urlencode 'e={{\"event_type\":\"Create Task\"}}' -d start={} -d end={} -d countGroup=org",
        day(data.start_ms),
        day(last)
    )
}

/// The demo project's dynamic group properties: weekly active users and tasks created in the last 30 days per org.
const DEMO_DYNAMIC_PROPERTIES: [&str; 2] = [
    r#"{"name":"wau","group_type":"org","event":{"event":"active"},"metric":{"type":"uniques"},"window":{"rolling":{"days":7}}}"#,
    r#"{"name":"tasks_30d","group_type":"org","event":{"event":{"named":"Create Task"}},"metric":{"type":"totals"},"window":{"rolling":{"days":30}}}"#,
];

/// Defines the demo's dynamic properties where the project does not have them yet (a user's edits are kept).
fn define_dynamic_properties(store: &Store, settings: &std::collections::BTreeMap<String, String>) -> Result<()> {
    for json in DEMO_DYNAMIC_PROPERTIES {
        let def = herd_model::accounts::DynamicProperty::parse(json).map_err(anyhow::Error::msg)?;
        if !settings.contains_key(&def.setting_key()) {
            store.set_setting(DEMO_PROJECT, &def.setting_key(), Some(&serde_json::to_string(&def)?))?;
        }
    }
    Ok(())
}

/// `herd serve --demo`: ensures the `demo` project exists, prints its keys and, when it holds nothing yet, loads
/// the dataset into it from a background thread against `addr` (the server's own listener).
pub(crate) fn start_in_server(store: &Store, addr: SocketAddr, events: usize) -> Result<()> {
    let project = match store.by_name(DEMO_PROJECT) {
        Ok(p) => p,
        Err(_) => {
            store.create_project(NewProject { name: DEMO_PROJECT.into(), ..Default::default() })?;
            store.by_name(DEMO_PROJECT)?
        }
    };
    let record = project.record();
    eprintln!(
        "demo project {DEMO_PROJECT:?} (id {}): api_key {} secret_key {}",
        record.id, record.api_key, record.secret_key
    );
    define_dynamic_properties(store, &record.settings)?;
    let stats = project.stats()?;
    if stats.log_rows + stats.segment_rows > 0 {
        eprintln!("the demo project already holds data; not loading it again");
        return Ok(());
    }
    let base = format!("http://{}", loopback(addr));
    let params = SizeArgs::for_events(events).params(herd_store::now_ms())?;
    let target = Target { base: base.clone(), api_key: record.api_key.clone(), concurrency: 4, batch: 1000 };
    let secret = record.secret_key.clone();
    std::thread::Builder::new().name("herd-demo".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(r) => r,
            Err(e) => return tracing::error!(error = %e, "demo data: no runtime"),
        };
        let data = model::generate(&params);
        eprintln!(
            "loading demo data in the background: {} accounts, {} users, {} events over {} days; query it with\n  {}\n\
             and list the accounts by weekly active users with\n  curl -G -u {}:{secret} {base}/api/v1/groups/org -d sort=-dyn:wau",
            data.accounts.len(),
            data.users.len(),
            data.event_count(),
            params.days,
            query_hint(&base, &target.api_key, &secret, &data),
            target.api_key,
        );
        match runtime.block_on(load::load(&data, &target, Progress::Log)) {
            Ok(r) => tracing::info!(
                events = r.events,
                seconds = format!("{:.1}", r.seconds),
                "demo data loaded into project {DEMO_PROJECT:?}"
            ),
            Err(e) => tracing::error!(error = format!("{e:#}"), "loading demo data failed"),
        }
    })?;
    Ok(())
}
