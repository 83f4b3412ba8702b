//! # imms-portal — the public portal at `/`
//!
//! An adult signs in through OpenID Connect (the built-in identity provider or a state's own),
//! uploads a photo of a driver's license, state ID or US passport, confirms the address, and
//! gets the official immunization record as a PDF. What it promises:
//!
//! - **Nothing uploaded is stored**: the photo is read in memory with a size limit and
//!   zeroed after the scan; the identity read from it round-trips through the search form only
//!   as an AEAD-sealed hidden value (bound to the session, 30 minutes); logs carry ids only.
//! - **One person per account**: the first identity matched is bound to the account as a
//!   keyed hash of name and date of birth ([`identity::IdentityKey`]); another person's ID is
//!   refused and audited ([`store`]).
//! - **Adults, valid US IDs, allowed countries**: 18+ from the ID's date of birth, expired IDs
//!   refused, geo-blocking from a MaxMind-format country database ([`geo`]), rate limits
//!   per account and per address with a growing wait after misses ([`limits`]).
//! - **The record link** is random, lives 10 minutes, works only in the session that searched,
//!   carries no personal data and is served with `Cache-Control: no-store`.
//! - **Pages**: askama templates, no JavaScript, WCAG 2.1 AA, one message file per language
//!   in `messages/` ([`i18n`]): English, Spanish, Arabic (right to left).
//!
//! The registry side (matching, the PDF) comes in through the [`records::Records`] trait,
//! which `imms serve` implements with the registry's matcher and the record issuer.
//! Web plumbing (OIDC relying party, sessions, CSRF, headers, client IP, sealing) is imms-web.

pub mod geo;
pub mod i18n;
pub mod identity;
pub mod limits;
mod pages;
pub mod records;
pub mod registry;
pub mod store;
mod web;

use std::path::PathBuf;
use std::sync::Arc;

use imms_db::Database;
use imms_web::{
    LoginCookies, RelyingParty, RelyingPartyConfig, Sealer, SessionConfig, Sessions, TrustedProxies,
};

pub use records::{Found, Records, RecordsError, Search};
pub use web::router;

/// The client ID of the portal at the built-in identity provider.
pub const BUILTIN_CLIENT_ID: &str = "imms-portal";
/// The portal's callback path (registered at the provider as PUBLIC_URL + this).
pub const CALLBACK_PATH: &str = "/callback";
/// Where the provider sends the browser back after signing out.
pub const SIGNED_OUT_PATH: &str = "/signed-out";

/// Everything the portal needs to know, built by `imms serve` from its configuration.
pub struct PortalSettings {
    pub public_url: String,
    pub data_dir: PathBuf,
    pub helpline: String,
    pub blocked_countries: Vec<String>,
    /// The country database; `Err` (with its reason) makes the portal fail closed.
    pub geoip_db: Result<PathBuf, geo::GeoError>,
    /// IMMS_TRUSTED_PROXIES, comma-separated CIDRs.
    pub trusted_proxies: String,
    pub oidc: RelyingPartyConfig,
    pub limits: limits::LimitConfig,
    /// Largest photo accepted, bytes.
    pub max_upload: usize,
    /// Minutes of inactivity before a session ends.
    pub idle_minutes: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("portal setup: {0}")]
    Setup(String),
    #[error(transparent)]
    Web(#[from] imms_web::WebError),
    #[error(transparent)]
    Catalog(#[from] i18n::CatalogError),
}

/// The portal, ready to serve.
pub struct Portal {
    pub(crate) settings: PortalSettings,
    pub(crate) catalog: i18n::Catalog,
    pub(crate) geo: geo::GeoBlock,
    pub(crate) proxies: TrustedProxies,
    pub(crate) rp: RelyingParty,
    pub(crate) login: LoginCookies,
    pub(crate) sessions: Sessions,
    pub(crate) sealer: Sealer,
    pub(crate) key: identity::IdentityKey,
    pub(crate) store: store::PortalStore,
    pub(crate) limiter: limits::Limiter,
    pub(crate) records: Arc<dyn Records>,
    pub(crate) headers: imms_web::SecurityHeaders,
    /// At most this many photos are decoded at once (memory: a 12 MP photo is ~12 MB grey).
    pub(crate) scans: tokio::sync::Semaphore,
}

impl Portal {
    pub fn new(
        settings: PortalSettings,
        db: Database,
        records: Arc<dyn Records>,
    ) -> Result<Portal, PortalError> {
        let catalog = i18n::Catalog::load(&settings.helpline)?;
        let db_file = match &settings.geoip_db {
            Ok(path) => match geo::CountryDb::open(path) {
                Ok(db) => Some(db),
                Err(e) => {
                    tracing::error!(error = %e, "portal closed: the country database cannot be read");
                    None
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "portal closed: no country database");
                None
            }
        };
        let geo = geo::GeoBlock::new(db_file, &settings.blocked_countries);
        let proxies = TrustedProxies::parse(&settings.trusted_proxies)?;
        let secure = settings.public_url.starts_with("https://");
        let sealer = Sealer::load_or_create(&settings.data_dir)?;
        let key = identity::IdentityKey::load_or_create(&settings.data_dir)
            .map_err(|e| PortalError::Setup(format!("identity key: {e}")))?;
        let rp = RelyingParty::new(settings.oidc.clone())?;
        let login = LoginCookies::new(sealer.clone(), "portal_login", CALLBACK_PATH, secure);
        let sessions = Sessions::new(
            db.clone(),
            SessionConfig {
                realm: "portal",
                cookie_name: "portal_session",
                cookie_path: "/",
                idle_seconds: settings.idle_minutes.max(1) * 60,
                absolute_seconds: 12 * 3600,
                secure,
            },
        );
        // Sign-in forms live at the provider: let forms post there if it is elsewhere.
        let issuer_origin = url::Url::parse(&settings.oidc.issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let headers = imms_web::SecurityHeaders::new(&settings.public_url, &[&issuer_origin]);
        let scans = tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        );
        Ok(Portal {
            limiter: limits::Limiter::new(settings.limits.clone()),
            settings,
            catalog,
            geo,
            proxies,
            rp,
            login,
            sessions,
            sealer,
            key,
            store: store::PortalStore::new(db),
            records,
            headers,
            scans,
        })
    }

    /// The relying party settings for the built-in provider at `public_url`/idp.
    pub fn builtin_oidc(public_url: &str, client_secret: String) -> RelyingPartyConfig {
        let base = public_url.trim_end_matches('/');
        RelyingPartyConfig {
            issuer: format!("{base}/idp"),
            client_id: BUILTIN_CLIENT_ID.to_string(),
            client_secret: Some(client_secret),
            redirect_uri: format!("{base}{CALLBACK_PATH}"),
            scopes: vec!["profile".into()],
        }
    }
}

/// The built-in client's secret, kept in the data directory (made on first use, owner-only),
/// so every node sharing the directory registers the same one.
pub fn builtin_client_secret(data_dir: &std::path::Path) -> std::io::Result<String> {
    use rand::RngCore;
    let path = data_dir.join("portal-oidc-client.secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => Ok(s.trim().to_string()),
        Ok(_) => Err(std::io::Error::other(
            "portal-oidc-client.secret is shorter than 32 characters",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)?;
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            use std::io::Write;
            let mut f = options.open(&path)?;
            f.write_all(secret.as_bytes())?;
            f.sync_all()?;
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}
