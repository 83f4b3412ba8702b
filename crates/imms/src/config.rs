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
    smtp_url: Option<String>,
    mail_from: Option<String>,
    idp_lockout_failures: Option<u32>,
    idp_argon2: Option<String>,
    idp_code_seconds: Option<i64>,
    idp_rate_limit: Option<u32>,
    record_issuer: Option<String>,
    oidc_issuer: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
}

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
    /// Identity provider: SMTP server URL (`smtp://`, `smtps://`); unset, mail goes to
    /// `<data dir>/outbox`.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Failed sign-ins before the 30-minute lock.
    pub idp_lockout_failures: u32,
    /// argon2id cost, `m=KiB,t=passes,p=lanes` (never below OWASP's m=19456,t=2,p=1).
    pub idp_argon2: String,
    /// Authorization code lifetime, seconds.
    pub idp_code_seconds: i64,
    /// Form posts per client address per minute (0: unlimited).
    pub idp_rate_limit: u32,
    /// The issuing authority printed on the official record.
    pub record_issuer: String,
    /// The portal's OpenID provider when it is not the built-in one (a state's own login):
    /// its issuer URL, and the portal's client ID and secret registered there.
    pub oidc_issuer: Option<String>,
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret: Option<String>,
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

fn parsed<T: std::str::FromStr>(name: &str, file: Option<T>, default: T) -> anyhow::Result<T> {
    match env(name) {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} must be a number")),
        None => Ok(file.unwrap_or(default)),
    }
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
            smtp_url: env("IMMS_SMTP_URL").or(f.smtp_url),
            mail_from: env("IMMS_MAIL_FROM")
                .or(f.mail_from)
                .unwrap_or_else(|| "MiLogin <no-reply@imms.invalid>".into()),
            idp_lockout_failures: parsed("IMMS_IDP_LOCKOUT_FAILURES", f.idp_lockout_failures, 5)?,
            idp_argon2: env("IMMS_IDP_ARGON2")
                .or(f.idp_argon2)
                .unwrap_or_else(|| "m=19456,t=2,p=1".into()),
            idp_code_seconds: parsed("IMMS_IDP_CODE_SECONDS", f.idp_code_seconds, 60)?,
            idp_rate_limit: parsed("IMMS_IDP_RATE_LIMIT", f.idp_rate_limit, 60)?,
            record_issuer: env("IMMS_RECORD_ISSUER")
                .or(f.record_issuer)
                .unwrap_or_else(|| "State Department of Health".into()),
            oidc_issuer: env("IMMS_OIDC_ISSUER").or(f.oidc_issuer),
            oidc_client_id: env("IMMS_OIDC_CLIENT_ID").or(f.oidc_client_id),
            oidc_client_secret: env("IMMS_OIDC_CLIENT_SECRET").or(f.oidc_client_secret),
            data_dir,
        })
    }

    /// Makes sure the data directory exists (the SQLite file and generated secrets live there).
    pub fn prepare_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating the data directory {}", self.data_dir.display()))
    }
}
