//! `herd serve`: open the data directory, start the HTTP server, write `server.json` so the CLI can point at it;
//! with `--demo`, fill a `demo` project with the demo dataset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use herd_store::{ApplyOptions, FlushOptions, Store, StoreOptions};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Data directory (default ./herd-data; config `data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080; config `server.listen`). Port 0 picks a free port.
    #[arg(long)]
    listen: Option<String>,
    /// Load a demo dataset into a project called `demo` (created if missing) when that project is empty.
    #[arg(long)]
    demo: bool,
    /// Approximate number of demo events (with --demo).
    #[arg(long, default_value_t = 200_000, requires = "demo")]
    demo_events: usize,
}

/// The store options the config asks for.
pub(crate) fn store_options(config: &herd_config::Config) -> StoreOptions {
    StoreOptions {
        apply: ApplyOptions {
            group_limits: herd_model::GroupLimits {
                max_types_per_project: config.limits.max_group_types,
                max_values_per_event: config.limits.max_group_values_per_event,
            },
            dedup_window_ms: i64::from(config.storage.dedup_window_days) * 24 * 3600 * 1000,
        },
        flush: FlushOptions {
            interval: std::time::Duration::from_millis(config.storage.flush_interval_ms.max(1)),
            max_rows: config.storage.flush_max_rows.max(1),
        },
    }
}

pub(crate) fn run(mut config: herd_config::Config, args: ServeArgs) -> Result<()> {
    if let Some(d) = args.data_dir {
        config.data_dir = d;
    }
    if let Some(l) = args.listen {
        config.server.listen = l;
    }
    let demo = args.demo.then_some(args.demo_events);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("herd-http").build()?;
    runtime.block_on(async move {
        let dir = config.data_dir.clone();
        let options = store_options(&config);
        let store = Store::open(&dir, options).with_context(|| format!("opening data directory {}", dir.display()))?;
        if store.projects().is_empty() {
            // A newcomer's first start gives a server that can take data at once.
            let p = store.create_project(herd_store::NewProject { name: "default".into(), ..Default::default() })?;
            eprintln!(
                "created project \"default\" (id {}): api_key {} secret_key {}\n\
                 send events to /2/httpapi with that api_key; query with Basic auth api_key:secret_key",
                p.id, p.api_key, p.secret_key
            );
        }
        let listener = tokio::net::TcpListener::bind(&config.server.listen)
            .await
            .with_context(|| format!("binding {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        write_server_file(&dir, &addr.to_string())?;
        // The first line on stdout is machine-readable: tests and scripts read the address from it.
        println!("herd listening on http://{addr}");
        tracing::info!(%addr, data_dir = %dir.display(), "serving");
        let store = Arc::new(store);
        if let Some(events) = demo {
            // The listener is bound, so the loader's requests wait in its backlog until `serve` accepts them.
            // A failure here leaves a working server without demo data.
            if let Err(e) = crate::demo::start_in_server(&store, addr, events) {
                tracing::error!(error = format!("{e:#}"), "could not start loading demo data");
            }
        }
        let state = herd_server::AppState::new(store, Arc::new(config));
        let result = herd_server::serve(listener, state, shutdown_signal()).await;
        let _ = std::fs::remove_file(dir.join("server.json"));
        result.context("server failed")
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}

fn write_server_file(dir: &Path, listen: &str) -> Result<()> {
    let info = serde_json::json!({"pid": std::process::id(), "listen": listen});
    std::fs::write(dir.join("server.json"), info.to_string()).context("writing server.json")
}

/// The pid and address of the server that holds `dir`, from its `server.json`.
pub(crate) fn running_server(dir: &Path) -> Option<(u64, String)> {
    let text = std::fs::read_to_string(dir.join("server.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some((v["pid"].as_u64()?, v["listen"].as_str()?.to_owned()))
}
