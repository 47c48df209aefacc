//! The `herd` binary: serve, project administration, configuration, demo data, benchmarks.

mod bench;
mod demo;
mod project;
mod serve;

use std::path::PathBuf;

use anyhow::Result;

/// glibc's allocator spent over a third of ingestion CPU in malloc/free on request-sized buffers (measured with
/// perf, see benchmarks/RESULTS.md); mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same position in its v2 and v3 headers); the Rust
/// bindings do not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc hands freed memory back to the OS after 1 s; the flusher and the writer allocate and free tens of
/// megabytes every few seconds, so the kernel zeroed fresh pages for them over and over (16 % of ingestion CPU,
/// benchmarks/RESULTS.md). Purging after 10 s keeps those pages while ingestion runs and still returns memory when
/// the server goes quiet. `MIMALLOC_PURGE_DELAY` in the environment still wins.
#[allow(unsafe_code)]
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option; mimalloc reads options atomically, so setting one at any time is sound.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10_000) };
    }
}
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "herd", version, about = "Self-hosted product analytics with account-level reporting")]
struct Cli {
    /// TOML config file (settings can also come from HERD_* environment variables).
    #[arg(long, global = true, env = "HERD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Create, list and configure projects.
    #[command(subcommand)]
    Project(project::ProjectCommand),
    /// Print the effective configuration as TOML.
    Config,
    /// Send a realistic B2B SaaS demo dataset to a running server.
    Demo(demo::DemoArgs),
    /// Benchmarks (results go to benchmarks/RESULTS.md by hand).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> Result<()> {
    tune_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("HERD_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = herd_config::Config::load(cli.config.as_deref(), std::env::vars())?;
    match cli.command {
        Command::Serve(args) => serve::run(config, args),
        Command::Project(cmd) => project::run(config, cmd),
        Command::Config => {
            print!("{}", toml_of(&config));
            Ok(())
        }
        Command::Demo(args) => demo::run(config, args),
        Command::Bench(cmd) => bench::run(cmd),
    }
}

fn toml_of(config: &herd_config::Config) -> String {
    herd_config::Config::to_toml(config)
}

#[cfg(test)]
mod allocator_tests {
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_where_we_think() {
        // purge_delay's default is 1000 ms in mimalloc v3 (10 ms in v2); no other option at a nearby index has
        // either default.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reads one integer option.
            let default = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
            assert!(matches!(default, 10 | 1000), "option 15 reads {default}");
        }
    }
}
