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
