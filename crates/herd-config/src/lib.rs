//! Herd's configuration: a versioned TOML file whose every setting can be overridden by a `HERD_*` environment
//! variable, with defaults declared once in this file.
//!
//! Environment names: `HERD_<KEY>` for top-level keys (`HERD_DATA_DIR`) and `HERD_<SECTION>__<KEY>` inside a
//! section (`HERD_SERVER__LISTEN`, `HERD_LIMITS__MAX_GROUP_TYPES`). Values are read as TOML scalars when they
//! parse as one (numbers, booleans) and as strings otherwise.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The configuration format version this build reads.
pub const CONFIG_VERSION: u32 = 1;

/// Everything that can be configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub version: u32,
    /// Where the catalog, project stores and segments live.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub limits: LimitsConfig,
    pub throttle: ThrottleConfig,
    pub storage: StorageConfig,
    pub query: QueryConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Bearer token for `/admin/*`; empty disables the admin API.
    pub admin_token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Group types per project (Amplitude, PostHog: 5).
    pub max_group_types: usize,
    /// Group values per event (Amplitude: 10).
    pub max_group_values_per_event: usize,
    /// `/2/httpapi` body size after decompression (Amplitude: 1 MB).
    pub httpapi_max_body_bytes: usize,
    /// Events per `/2/httpapi` or `/batch` request (Amplitude: 2,000).
    pub max_events_per_request: usize,
    /// `/batch` body size after decompression (Amplitude: 20 MB).
    pub batch_max_body_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Throttle devices and users that send too fast (off switch).
    pub enabled: bool,
    /// Events per second per device or user on `/2/httpapi` (Amplitude: 30).
    pub httpapi_eps: u32,
    /// Events per second per device or user on `/batch` (Amplitude: 1,000).
    pub batch_eps: u32,
    /// The window the rate is averaged over, seconds (Amplitude: 30).
    pub window_secs: u32,
    /// Events per device or user in a rolling 24 hours (Amplitude: 500,000); 0 turns the quota off.
    pub daily_quota: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// How often the flusher moves the log into Parquet segments, ms.
    pub flush_interval_ms: u64,
    /// Most events moved in one flush transaction (the flusher runs several in a row when more are waiting).
    pub flush_max_rows: usize,
    /// How long an `insert_id` suppresses duplicates, days (Amplitude: 7).
    pub dedup_window_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// Threads of the query runtime (kept apart from the HTTP and ingest threads).
    pub threads: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig { threads: 1 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: CONFIG_VERSION,
            data_dir: PathBuf::from("./herd-data"),
            server: ServerConfig::default(),
            limits: LimitsConfig::default(),
            throttle: ThrottleConfig::default(),
            storage: StorageConfig::default(),
            query: QueryConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { listen: "127.0.0.1:8080".into(), admin_token: String::new() }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_group_types: 5,
            max_group_values_per_event: 10,
            httpapi_max_body_bytes: 1024 * 1024,
            max_events_per_request: 2000,
            batch_max_body_bytes: 20 * 1024 * 1024,
        }
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig { enabled: true, httpapi_eps: 30, batch_eps: 1000, window_secs: 30, daily_quota: 500_000 }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { flush_interval_ms: 5000, flush_max_rows: 50_000, dedup_window_days: 7 }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config ({origin}): {message}")]
    Invalid { origin: String, message: String },
    #[error("config version {found} is not supported; this herd reads version {CONFIG_VERSION}")]
    Version { found: u32 },
}

impl Config {
    /// Loads the file (if given), then applies `HERD_*` overrides from `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid { origin: path.display().to_string(), message: e.to_string() })?
            }
            None => toml::Table::new(),
        };
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("HERD_") else { continue };
            if rest.is_empty() || rest == "CONFIG" || rest == "LOG" {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            set_path(&mut table, &path, scalar(&value))
                .map_err(|message| ConfigError::Invalid { origin: format!("environment variable {name}"), message })?;
        }
        let config: Config = table.try_into().map_err(|e: toml::de::Error| ConfigError::Invalid {
            origin: file.map(|p| p.display().to_string()).unwrap_or_else(|| "environment".into()),
            message: e.message().to_owned(),
        })?;
        if config.version != CONFIG_VERSION {
            return Err(ConfigError::Version { found: config.version });
        }
        Ok(config)
    }

    /// The default configuration as TOML.
    pub fn default_toml() -> String {
        Config::default().to_toml()
    }

    /// This configuration as TOML (used by `herd config`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("the config serialises")
    }
}

fn scalar(value: &str) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !matches!(v, toml::Value::Table(_) | toml::Value::Array(_)))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty setting name".into()),
        [key] => {
            // A string setting given a numeric-looking value ("listen" = 8080) stays a string where it was one.
            table.insert(key.clone(), value);
            Ok(())
        }
        [section, rest @ ..] => {
            let entry = table.entry(section.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(format!("{section} is not a section")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_file_and_env() {
        let dir = std::env::temp_dir().join(format!("herd-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("herd.toml");
        std::fs::write(&file, "version = 1\n[limits]\nmax_group_types = 7\n[server]\nlisten = \"0.0.0.0:9\"\n")
            .unwrap();
        let c = Config::load(
            Some(&file),
            env(&[("HERD_SERVER__LISTEN", "127.0.0.1:1"), ("HERD_THROTTLE__ENABLED", "false"), ("PATH", "/x")]),
        )
        .unwrap();
        assert_eq!(c.limits.max_group_types, 7);
        assert_eq!(c.server.listen, "127.0.0.1:1");
        assert!(!c.throttle.enabled);
        assert_eq!(c.limits.max_group_values_per_event, 10);
        let c = Config::load(None, env(&[("HERD_DATA_DIR", "/tmp/x")])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn unknown_keys_and_versions_are_errors() {
        let err = Config::load(None, env(&[("HERD_LIMITS__MAX_GROUPS", "3")])).unwrap_err();
        assert!(err.to_string().contains("max_groups"), "{err}");
        let err = Config::load(None, env(&[("HERD_VERSION", "2")])).unwrap_err();
        assert!(matches!(err, ConfigError::Version { found: 2 }));
        let err = Config::load(None, env(&[("HERD_LIMITS__MAX_GROUP_TYPES", "many")])).unwrap_err();
        assert!(err.to_string().contains("HERD_") || err.to_string().contains("invalid"), "{err}");
    }

    #[test]
    fn default_toml_round_trips() {
        let text = Config::default_toml();
        let parsed: Config = toml::from_str(&text).unwrap();
        assert_eq!(parsed, Config::default());
    }
}
