//! imms-web: the web plumbing the portal and the provider console share, so that each of
//! them is only its pages and flows.
//!
//! - [`oidc::RelyingParty`]: sign in through any OpenID Connect provider (code flow, PKCE
//!   S256, state, nonce, ID token verified against the provider's JWKS), `acct_type` and
//!   `preferred_username` read from the verified ID token, RP-initiated sign-out URL.
//! - [`login::LoginCookies`]: the pending sign-in carried in a sealed, short-lived cookie
//!   (nothing stored on the server before the person is signed in).
//! - [`session::Sessions`]: sessions in the database (any node serves any request), an
//!   HttpOnly SameSite=Lax cookie (Secure on HTTPS) holding a random token whose SHA-256 is
//!   the key, idle and absolute timeouts, a per-session CSRF token
//!   ([`session::Session::verify_csrf`]).
//! - [`headers`]: security headers middleware (strict CSP, frame-ancestors 'none', nosniff,
//!   no referrer, HSTS on HTTPS).
//! - [`client_ip::TrustedProxies`]: the client address, believing X-Forwarded-For only from
//!   IMMS_TRUSTED_PROXIES.
//! - [`seal::Sealer`]: AEAD-sealed values for hidden form fields and cookies, so data can
//!   round-trip through the browser without being stored (key generated into the data dir).
//!
//! Typical use (portal or console):
//! ```text
//! GET  /signin   -> let (url, pending) = rp.begin("/after").await?;
//!                   jar = login.remember(jar, &pending); redirect to url
//! GET  /callback -> let pending = login.take(&jar)?;  // also clear it
//!                   let who = rp.complete(&pending, &code, &state).await?;
//!                   check who.acct_type; let (session, cookie) = sessions.start(&who).await?;
//! any page       -> sessions.current(&jar).await? ; forms carry session.csrf_token
//! POST /signout  -> session.verify_csrf(..)?; sessions.end(&session);
//!                   redirect to rp.logout_url(&session.id_token, post_logout).await
//! ```
//! Storage: table `web_sessions` (migrations 0700–0799 in imms-db).

pub mod client_ip;
pub mod headers;
pub mod login;
pub mod oidc;
pub mod seal;
pub mod session;

pub use client_ip::TrustedProxies;
pub use headers::SecurityHeaders;
pub use login::LoginCookies;
pub use oidc::{PendingLogin, RelyingParty, RelyingPartyConfig, SignedIn};
pub use seal::Sealer;
pub use session::{Session, SessionConfig, Sessions};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("key file: {0}")]
    Key(String),
    #[error("the sealed value is not valid any more (altered, from elsewhere or expired)")]
    Sealed,
    #[error(
        "the form is out of date or did not come from this site; reload the page and try again"
    )]
    Csrf,
    #[error("sign-in failed: {0}")]
    SignIn(String),
    #[error("the sign-in service could not be reached or answered wrongly: {0}")]
    Provider(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}
