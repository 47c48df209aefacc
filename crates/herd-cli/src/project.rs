//! `herd project …`: create, list and configure projects in a data directory that no server holds.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use herd_store::{Catalog, NewProject, StoreError};

#[derive(Debug, Subcommand)]
pub(crate) enum ProjectCommand {
    /// Create a project and print {"id", "name", "api_key", "secret_key"} as JSON.
    Create {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        name: String,
        #[arg(long)]
        api_key: Option<String>,
        #[arg(long)]
        secret_key: Option<String>,
    },
    /// List projects as JSON lines.
    List {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Set project settings: `herd project set NAME KEY=VALUE…` (an empty VALUE removes the setting).
    Set {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        name: String,
        #[arg(required = true)]
        settings: Vec<String>,
    },
}

pub(crate) fn run(config: herd_config::Config, cmd: ProjectCommand) -> Result<()> {
    let data_dir = |d: Option<PathBuf>| d.unwrap_or_else(|| config.data_dir.clone());
    match cmd {
        ProjectCommand::Create { data_dir: d, name, api_key, secret_key } => {
            let catalog = open(&data_dir(d))?;
            let p = catalog.create(NewProject { name, api_key, secret_key })?;
            println!(
                "{}",
                serde_json::json!({"id": p.id, "name": p.name, "api_key": p.api_key, "secret_key": p.secret_key})
            );
        }
        ProjectCommand::List { data_dir: d } => {
            for p in open(&data_dir(d))?.list()? {
                println!(
                    "{}",
                    serde_json::json!({"id": p.id, "name": p.name, "api_key": p.api_key, "secret_key": p.secret_key, "settings": p.settings})
                );
            }
        }
        ProjectCommand::Set { data_dir: d, name, settings } => {
            let catalog = open(&data_dir(d))?;
            let mut last = None;
            for s in settings {
                let Some((key, value)) = s.split_once('=') else {
                    bail!("settings are KEY=VALUE, got {s:?}");
                };
                let value = (!value.is_empty()).then_some(value);
                let current = catalog
                    .list()?
                    .into_iter()
                    .find(|p| p.name == name)
                    .ok_or_else(|| anyhow::anyhow!("no project named {name:?}"))?;
                herd_server::settings::check(&current.settings, key.trim(), value).map_err(anyhow::Error::msg)?;
                last = Some(catalog.set_setting(&name, key.trim(), value)?);
            }
            if let Some(p) = last {
                println!("{}", serde_json::json!({"id": p.id, "name": p.name, "settings": p.settings}));
            }
        }
    }
    Ok(())
}

fn open(dir: &std::path::Path) -> Result<Catalog> {
    match Catalog::open(dir) {
        Ok(c) => Ok(c),
        Err(StoreError::Locked { dir }) => {
            let hint = crate::serve::running_server(&dir)
                .map(|(pid, listen)| format!("a herd server (pid {pid}) listening on {listen} holds it"))
                .unwrap_or_else(|| "another herd process holds it".into());
            bail!(
                "data directory {} is in use: {hint}.\n\
                 Stop that server, or use its admin API instead, e.g.\n  \
                 curl -H 'Authorization: Bearer <server.admin_token>' -d '{{\"name\":\"NAME\"}}' http://<listen>/admin/projects",
                dir.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("opening data directory {}", dir.display())),
    }
}
