//! `herd bench`: load generators for ingestion (and, later, queries).

use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {}

pub(crate) fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {}
}
