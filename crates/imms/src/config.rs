//! One typed configuration: defaults that work on a laptop, a TOML file (`--config`) for
//! any key, and `IMMS_*` environment variables over both.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The portal FAQ's list of countries from which access is blocked.
pub const DEFAULT_BLOCKED_COUNTRIES: &str = "UA,RU,AR,PL,SG,FI,CR";
pub const DEFAULT_HELPLINE: &str = "1-833-999-2484";

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    http_addr: Option<String>,
    mllp_addr: Option<String>,
    public_url: Option<String>,
    blocked_countries: Option<String>,
    geoip_db: Option<PathBuf>,
    trusted_proxies: Option<String>,
    helpline: Option<String>,
    registry_id: Option<String>,
}

// MLLP, geo-blocking, proxies and the helpline are read by the components that use them
// (MLLP listener, portal) as they land.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub http_addr: String,
    pub mllp_addr: String,
    pub public_url: String,
    pub blocked_countries: Vec<String>,
    pub geoip_db: Option<PathBuf>,
    pub trusted_proxies: Vec<String>,
    pub helpline: String,
    /// The registry's own id in ACK MSH-3/MSH-4.
    pub registry_id: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

impl Config {
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let f: FileConfig = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = env("IMMS_DATA_DIR")
            .map(PathBuf::from)
            .or(f.data_dir)
            .unwrap_or_else(|| PathBuf::from("./imms-data"));
        let database_url = env("IMMS_DATABASE_URL")
            .or(f.database_url)
            .unwrap_or_else(|| format!("sqlite://{}/imms.db", data_dir.display()));
        Ok(Config {
            database_url,
            http_addr: env("IMMS_HTTP_ADDR")
                .or(f.http_addr)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            mllp_addr: env("IMMS_MLLP_ADDR")
                .or(f.mllp_addr)
                .unwrap_or_else(|| "127.0.0.1:2575".into()),
            public_url: env("IMMS_PUBLIC_URL")
                .or(f.public_url)
                .unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            blocked_countries: list(
                &env("IMMS_BLOCKED_COUNTRIES")
                    .or(f.blocked_countries)
                    .unwrap_or_else(|| DEFAULT_BLOCKED_COUNTRIES.into()),
            )
            .into_iter()
            .map(|c| c.to_ascii_uppercase())
            .collect(),
            geoip_db: env("IMMS_GEOIP_DB").map(PathBuf::from).or(f.geoip_db),
            trusted_proxies: list(
                &env("IMMS_TRUSTED_PROXIES")
                    .or(f.trusted_proxies)
                    .unwrap_or_default(),
            ),
            helpline: env("IMMS_HELPLINE")
                .or(f.helpline)
                .unwrap_or_else(|| DEFAULT_HELPLINE.into()),
            registry_id: env("IMMS_REGISTRY_ID")
                .or(f.registry_id)
                .unwrap_or_else(|| "IMMS".into()),
            data_dir,
        })
    }

    /// Makes sure the data directory exists (the SQLite file and generated secrets live there).
    pub fn prepare_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating the data directory {}", self.data_dir.display()))
    }
}
