//! imms-console: the provider console at `/console`, where clinic and health-department staff
//! find a person, print their record, add and correct doses, and resolve possible duplicates.
//!
//! - Sign-in through the identity provider over OpenID Connect ([`imms_web::RelyingParty`]);
//!   employee, third-party and worker accounts only (citizens use the portal). Sessions are
//!   kept in the database, end after inactivity, and every form carries a CSRF token.
//! - Authorization by the staff table (`imms staff add`): a role (viewer, editor, admin) in
//!   one organization (a registered facility). Editors change only the doses their
//!   organization reported; administrators anything, and merge persons and manage staff.
//! - Every look at a person (search result, record page, print, comparison) is written to the
//!   audit trail: who, when, which person, ids only.
//! - Server-rendered askama pages, no JavaScript, one stylesheet (the content security policy
//!   forbids inline style and script), plain language, WCAG 2.1 AA.
//!
//! Storage is the registry's ([`imms_registry::store::Store`]: `staff`, `corrections`,
//! `merge`, `history`, `lookup`). Build with [`Console::new`], mount with [`router`].

mod auth;
mod choices;
mod error;
mod forms;
mod handlers;
mod pages;

use std::sync::Arc;

use imms_core::CodeTables;
use imms_registry::store::{PersonRecord, Store};
use imms_web::{LoginCookies, RelyingParty, SessionConfig, Sessions};

pub use error::ConsoleError;
pub use handlers::router;
pub use imms_web::Sealer;

/// Where the console lives under the public URL.
pub const BASE_PATH: &str = "/console";
/// The OIDC redirect URI's path, to register at the identity provider.
pub const CALLBACK_PATH: &str = "/console/callback";

/// Makes the official record's PDF (the record crate), so that staff can hand it over.
pub trait RecordPrinter: Send + Sync {
    /// The PDF of this record, issued today, naming each facility by its name.
    fn pdf(
        &self,
        record: &PersonRecord,
        facility_names: &std::collections::HashMap<String, String>,
    ) -> Result<Vec<u8>, String>;
}

/// What the console is configured with.
#[derive(Clone)]
pub struct ConsoleSettings {
    /// IMMS_PUBLIC_URL, without a trailing slash.
    pub public_url: String,
    /// The OIDC issuer (IMMS_PUBLIC_URL/idp for the built-in provider).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Minutes without a request after which staff must sign in again.
    pub idle_minutes: i64,
    pub helpline: String,
}

impl ConsoleSettings {
    pub fn redirect_uri(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.public_url.trim_end_matches('/'))
    }
}

/// The console's shared state.
pub struct Console {
    pub(crate) store: Store,
    pub(crate) codes: Arc<CodeTables>,
    pub(crate) sessions: Sessions,
    pub(crate) rp: RelyingParty,
    pub(crate) login: LoginCookies,
    pub(crate) settings: ConsoleSettings,
    pub(crate) printer: Option<Arc<dyn RecordPrinter>>,
    pub(crate) choices: choices::Choices,
}

impl Console {
    pub fn new(
        store: Store,
        codes: Arc<CodeTables>,
        sealer: Sealer,
        settings: ConsoleSettings,
        printer: Option<Arc<dyn RecordPrinter>>,
    ) -> Result<Console, ConsoleError> {
        let secure = settings.public_url.starts_with("https://");
        let rp = RelyingParty::new(imms_web::RelyingPartyConfig {
            issuer: settings.issuer.clone(),
            client_id: settings.client_id.clone(),
            client_secret: Some(settings.client_secret.clone()),
            redirect_uri: settings.redirect_uri(),
            scopes: vec!["profile".into()],
        })
        .map_err(|e| ConsoleError::Setup(e.to_string()))?;
        let sessions = Sessions::new(
            store.database().clone(),
            SessionConfig {
                realm: "console",
                cookie_name: "imms_console",
                cookie_path: BASE_PATH,
                idle_seconds: settings.idle_minutes.max(1) * 60,
                absolute_seconds: 10 * 3600,
                secure,
            },
        );
        let login = LoginCookies::new(sealer, "imms_console_login", CALLBACK_PATH, secure);
        Ok(Console {
            store,
            codes,
            sessions,
            rp,
            login,
            settings,
            printer,
            choices: choices::Choices::embedded(),
        })
    }
}
