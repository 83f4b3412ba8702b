//! HTTP plumbing shared by the pages and the OIDC endpoints: the router, cookies, CSRF
//! tokens, security headers, form parsing that turns bad input into a clear page, and
//! rate limits per client address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::i18n::Text;
use crate::Idp;

/// Largest form or token request accepted.
pub const MAX_BODY: usize = 16 * 1024;
/// How long a CSRF token (and its page) stays usable.
pub const CSRF_SECONDS: i64 = 3600;

/// How often expired sessions, requests, codes and CSRF marks are removed.
const SWEEP_SECONDS: u64 = 600;

fn spawn_sweeper(idp: &Arc<Idp>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(idp);
    handle.spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(SWEEP_SECONDS));
        loop {
            tick.tick().await;
            let Some(idp) = weak.upgrade() else { break };
            if let Err(e) = idp.store.sweep(idp.now()).await {
                tracing::warn!(error = %e, "could not remove expired identity-provider rows");
            }
        }
    });
}

pub fn router(idp: Arc<Idp>) -> Router {
    spawn_sweeper(&idp);
    Router::new()
        .route(
            "/idp/.well-known/openid-configuration",
            get(crate::oidc::discovery),
        )
        .route("/idp/jwks", get(crate::oidc::jwks))
        .route("/idp/authorize", get(crate::oidc::authorize))
        .route("/idp/token", post(crate::oidc::token))
        .route(
            "/idp/userinfo",
            get(crate::oidc::userinfo).post(crate::oidc::userinfo),
        )
        .route(
            "/idp/logout",
            get(crate::oidc::logout_get).post(crate::oidc::logout_post),
        )
        .route(
            "/idp/signin",
            get(crate::pages::signin_page).post(crate::pages::signin_post),
        )
        .route("/idp/mfa", post(crate::pages::mfa_post))
        .route(
            "/idp/signup",
            get(crate::pages::signup_page).post(crate::pages::signup_post),
        )
        .route("/idp/signup/verify", post(crate::pages::signup_verify))
        .route(
            "/idp/forgot",
            get(crate::pages::forgot_page).post(crate::pages::forgot_post),
        )
        .route("/idp/forgot/choose", post(crate::pages::forgot_choose))
        .route("/idp/forgot/verify", post(crate::pages::forgot_verify))
        .route("/idp/account", get(crate::pages::settings_page))
        .route(
            "/idp/account/password",
            post(crate::pages::settings_password),
        )
        .route("/idp/account/totp", post(crate::pages::settings_totp))
        .route("/idp/static/idp.css", get(css))
        // Unknown paths under /idp only: the router is merged into the whole site's, whose
        // other paths (and fallback) are not ours.
        .route("/idp/{*rest}", axum::routing::any(crate::pages::not_found))
        .layer(middleware::from_fn_with_state(idp.clone(), guard))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(idp)
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/idp.css"),
    )
        .into_response()
}

/// Security headers on every answer; rate limit on every POST.
async fn guard(
    axum::extract::State(idp): axum::extract::State<Arc<Idp>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let ip = client_ip(peer, req.headers(), &idp.trusted_proxies);
    let mut resp = if req.method() == axum::http::Method::POST && !idp.rate.allow(ip) {
        let t = crate::i18n::choose(None, req.headers());
        let mut r = crate::pages::message(&idp, t, "", t.error_title, t.too_many, "IDP-RATE", true);
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        r
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cache-control", "no-store");
    if idp.settings.public_url.starts_with("https://") {
        set(
            h,
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        );
    }
    resp
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 200)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/idp, Secure on https.
pub fn set_cookie(idp: &Idp, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let secure = if idp.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let age = match max_age {
        Some(a) => format!("; Max-Age={a}"),
        None => String::new(),
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/idp; HttpOnly; SameSite=Lax{secure}{age}"
    ))
    .expect("cookie value")
}

/// The browser's CSRF cookie, and whether it must be set on this answer.
pub fn csrf_cookie(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, "idp_csrf") {
        Some(c) if c.len() == 43 => (c, false),
        _ => (crate::accounts::random_token(), true),
    }
}

impl Idp {
    /// A single-use form token bound to the browser's CSRF cookie.
    pub fn csrf_token(&self, cookie: &str) -> String {
        let nonce = crate::accounts::random_token();
        let exp = self.now() + CSRF_SECONDS;
        let mac = self.keyed("csrf", &format!("{cookie}.{nonce}.{exp}"));
        format!("{nonce}.{exp}.{mac}")
    }

    /// Checks a form token against the cookie, then spends it (a replay fails).
    pub async fn check_csrf(&self, headers: &HeaderMap, token: &str) -> bool {
        let Some(cookie) = cookie(headers, "idp_csrf") else {
            return false;
        };
        let mut parts = token.splitn(3, '.');
        let (Some(nonce), Some(exp), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let Ok(exp_n) = exp.parse::<i64>() else {
            return false;
        };
        let want = self.keyed("csrf", &format!("{cookie}.{nonce}.{exp}"));
        if !bool::from(want.as_bytes().ct_eq(mac.as_bytes())) || exp_n <= self.now() {
            return false;
        }
        self.store
            .spend_csrf(&crate::accounts::token_hash(token), exp_n)
            .await
            .unwrap_or(false)
    }
}

/// A per-request view: language, CSRF cookie.
pub struct Ctx {
    pub t: &'static Text,
    pub headers: HeaderMap,
    pub csrf_cookie: String,
    pub set_csrf: bool,
    pub lang_from_query: Option<&'static str>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Ctx, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let lang_from_query = url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| if v == "es" { "es" } else { "en" });
        let t = crate::i18n::choose(lang_from_query, &parts.headers);
        let (csrf_cookie, set_csrf) = csrf_cookie(&parts.headers);
        Ok(Ctx {
            t,
            headers: parts.headers.clone(),
            csrf_cookie,
            set_csrf,
            lang_from_query,
        })
    }
}

impl Ctx {
    /// Adds the cookies this answer must set (CSRF, language) to a page.
    pub fn finish(&self, idp: &Idp, mut resp: Response) -> Response {
        if self.set_csrf {
            resp.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(idp, "idp_csrf", &self.csrf_cookie, None),
            );
        }
        if let Some(l) = self.lang_from_query {
            resp.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(idp, "idp_lang", l, Some(365 * 86_400)),
            );
        }
        resp
    }
}

/// A form body; anything that does not parse (missing fields, not a form) becomes an
/// error page rather than a bare 4xx.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Form<T>, Response> {
        let t = crate::i18n::choose(None, req.headers());
        let bad = |code: &'static str| {
            let body = format!(
                "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title><link rel=\"stylesheet\" href=\"/idp/static/idp.css\"></head><body><main><h1>{}</h1><div class=\"error\" role=\"alert\"><p>{}</p><p class=\"code\">{}: {}</p></div></main></body></html>",
                t.lang, t.error_title, t.error_title, t.bad_request, t.error_code, code
            );
            (StatusCode::BAD_REQUEST, Html(body)).into_response()
        };
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| bad("IDP-BAD-FORM"))?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(bad("IDP-BAD-FORM"));
        }
        let value: T = serde_urlencoded::from_bytes(&bytes).map_err(|_| bad("IDP-BAD-FORM"))?;
        Ok(Form(value))
    }
}

/// An address range in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> Option<u128> {
            match (self.addr, ip) {
                (IpAddr::V4(_), IpAddr::V4(v)) => Some((u32::from(v) as u128) << 96),
                (IpAddr::V6(_), IpAddr::V6(v)) => Some(u128::from(v)),
                _ => None,
            }
        };
        let (Some(a), Some(b)) = (bits(self.addr), bits(ip)) else {
            return false;
        };
        let width = self.prefix as u32;
        if width == 0 {
            return true;
        }
        let mask = u128::MAX << (128 - width);
        a & mask == b & mask
    }
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the last
/// address in X-Forwarded-For that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    if !trusted.iter().any(|c| c.contains(peer)) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.iter().any(|c| c.contains(*ip)))
        .unwrap_or(peer)
}

/// A fixed-window counter per client address (per node; the lockout is the per-account
/// limit and lives in the database).
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// True when this address may make one more request now.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut w = self.windows.lock().expect("rate lock");
        let now = Instant::now();
        if w.len() > 100_000 {
            w.retain(|_, (start, _)| now.duration_since(*start).as_secs() < 60);
        }
        let e = w.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0).as_secs() >= 60 {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_per_address() {
        let r = RateLimiter::new(3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(r.allow(a) && r.allow(a) && r.allow(a));
        assert!(!r.allow(a));
        assert!(r.allow(b));
        assert!(RateLimiter::new(0).allow(a));
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted = vec![
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("fd00::/8").unwrap(),
        ];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 203.0.113.9, 10.1.1.1"),
        );
        let lb: IpAddr = "10.0.0.5".parse().unwrap();
        let outsider: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            client_ip(lb, &h, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(outsider, &h, &trusted),
            outsider,
            "spoofed header ignored"
        );
        assert_eq!(client_ip(lb, &HeaderMap::new(), &trusted), lb);
        assert!(Cidr::parse("fd00::/8")
            .unwrap()
            .contains("fd12::1".parse().unwrap()));
        assert!(!Cidr::parse("10.0.0.0/8")
            .unwrap()
            .contains("11.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("192.0.2.1")
            .unwrap()
            .contains("192.0.2.1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; idp_session=xyz; b=2"),
        );
        assert_eq!(cookie(&h, "idp_session").as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "nope"), None);
    }
}
