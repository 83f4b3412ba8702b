//! # imms-idp — the identity provider
//!
//! Citizens (and the state's employees, third parties and workers) sign in here; the
//! portal and any other state service rely on it over standard OpenID Connect only.
//!
//! - [`password`]: NIST SP 800-63B rules, the shipped common-password list, argon2id at or
//!   above OWASP's cost, re-hashed on sign-in when the cost is raised.
//! - [`ssn`]: shape check and a keyed hash (HMAC-SHA-256, pepper in the data directory):
//!   one citizen account per SSN, the number never stored.
//! - [`lockout`]: five failures lock for thirty minutes, pure logic with the clock as input,
//!   applied atomically by the [`store`] (SQLite and PostgreSQL) so nodes stay stateless.
//! - [`keys`]: ES256 signing keys generated into the data directory, rotated by
//!   `imms keys rotate`, published at the JWKS endpoint.
//! - [`oidc`] (discovery, authorize with PKCE, token, userinfo, logout) and [`pages`]
//!   (sign in, sign up, second factor, forgot password, settings), in English and Spanish,
//!   served under `/idp` by [`router`].
//!
//! Logs carry outcomes and ids, never a password, SSN, code or email address.
//!
//! ## Registering a relying party from code (the portal, the console)
//!
//! At `imms serve` start, get the served provider with
//! `crate::cmd::account::init_served(&app)` (in the binary) and call
//! [`Idp::ensure_client`] — idempotent, safe on every start of every node:
//!
//! ```text
//! idp.ensure_client(
//!     "portal",                                        // client_id
//!     &["https://portal.example/auth/callback".into()], // exact redirect URIs
//!     &["https://portal.example/".into()],             // post-logout redirect URIs
//!     Some(&secret),                                   // None: public client, PKCE S256
//! ).await?;
//! ```
//!
//! It creates the client or replaces its secret and URIs. A secret must be at least
//! [`oidc::MIN_CLIENT_SECRET`] characters; URIs must be https (http only on loopback).
//! The token endpoint takes `client_secret_basic` or `client_secret_post`. Counters for
//! `/metrics` are in [`metrics`].

pub mod accounts;
pub mod clock;
pub mod i18n;
pub mod keys;
pub mod lockout;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod pages;
pub mod password;
pub mod secrets;
pub mod ssn;
pub mod store;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;

use imms_db::Database;
use zeroize::Zeroizing;

pub use accounts::{AddAccount, IdpError, SignInOutcome};
pub use clock::{Clock, FakeClock, SystemClock};
pub use store::{AcctType, IdpStore};

/// Settings, from the binary's configuration.
#[derive(Debug, Clone)]
pub struct IdpSettings {
    pub data_dir: PathBuf,
    /// The external base URL; the issuer is `<public_url>/idp`.
    pub public_url: String,
    pub helpline: String,
    pub lockout: lockout::LockoutPolicy,
    pub hash_cost: password::HashCost,
    /// Lifetime of authorization codes, seconds.
    pub code_seconds: i64,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Form posts per client address per minute (0: no limit).
    pub rate_limit_per_minute: u32,
    /// Proxies (CIDRs) whose X-Forwarded-For is believed for the client's address.
    pub trusted_proxies: Vec<String>,
}

impl IdpSettings {
    pub fn new(data_dir: PathBuf, public_url: &str) -> IdpSettings {
        IdpSettings {
            data_dir,
            public_url: public_url.trim_end_matches('/').to_string(),
            helpline: "1-833-999-2484".into(),
            lockout: lockout::LockoutPolicy::default(),
            hash_cost: password::HashCost::OWASP,
            code_seconds: 60,
            smtp_url: None,
            mail_from: "MiLogin <no-reply@imms.invalid>".into(),
            rate_limit_per_minute: 60,
            trusted_proxies: vec![],
        }
    }

    pub fn issuer(&self) -> String {
        format!("{}/idp", self.public_url)
    }
}

pub struct Idp {
    pub settings: IdpSettings,
    pub store: IdpStore,
    pub hasher: password::Hasher,
    pub clock: Arc<dyn Clock>,
    pub keys: keys::Keys,
    pub mailer: mail::Mailer,
    /// Counters for `/metrics`; add them to the site's registry with [`metrics::IdpMetrics::register`].
    pub metrics: metrics::IdpMetrics,
    pepper: Zeroizing<Vec<u8>>,
    secret: Zeroizing<Vec<u8>>,
    /// At most one argon2id computation per core at a time; the rest wait their turn.
    hash_permits: tokio::sync::Semaphore,
    pub(crate) rate: web::RateLimiter,
    pub(crate) trusted_proxies: Vec<web::Cidr>,
}

impl Idp {
    /// Opens the identity provider over a connected database, generating its secrets into
    /// the data directory on first start.
    pub fn open(
        settings: IdpSettings,
        db: Database,
        clock: Arc<dyn Clock>,
    ) -> Result<Idp, IdpError> {
        let pepper = secrets::load_or_generate_key(&settings.data_dir, secrets::PEPPER_FILE)?;
        let secret = secrets::load_or_generate_key(&settings.data_dir, secrets::CSRF_FILE)?;
        let keys = keys::Keys::open(&settings.data_dir, clock.now())?;
        let mailer = mail::Mailer::new(
            settings.smtp_url.as_deref(),
            settings.data_dir.join("outbox"),
        )?;
        let trusted_proxies = settings
            .trusted_proxies
            .iter()
            .map(|c| web::Cidr::parse(c).ok_or(IdpError::InvalidSetting("IMMS_TRUSTED_PROXIES")))
            .collect::<Result<Vec<_>, _>>()?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Idp {
            hasher: password::Hasher::new(settings.hash_cost),
            rate: web::RateLimiter::new(settings.rate_limit_per_minute),
            trusted_proxies,
            settings,
            store: IdpStore::new(db),
            clock,
            keys,
            mailer,
            metrics: metrics::IdpMetrics::default(),
            pepper,
            secret,
            hash_permits: tokio::sync::Semaphore::new(cores),
        })
    }

    pub fn now(&self) -> clock::Timestamp {
        self.clock.now()
    }

    pub fn issuer(&self) -> String {
        self.settings.issuer()
    }
}

/// The identity provider's routes, all under `/idp`.
pub fn router(idp: Arc<Idp>) -> axum::Router {
    web::router(idp)
}
