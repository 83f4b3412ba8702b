//! The portal's routes: home, sign-in and its callback, upload, search, the record, sign-out
//! and the information pages; a gate in front of all of them for geo-blocking and language.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequestParts, Multipart, Path, Query, Request, State,
};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use imms_web::Session;
use serde::Deserialize;
use zeroize::Zeroize;

use crate::geo::Verdict;
use crate::identity::{self, Identity, PostalAddress, Refusal};
use crate::pages::{self, Chrome, Problem};
use crate::records::{Found, Search};
use crate::store::Binding;
use crate::{Portal, CALLBACK_PATH, SIGNED_OUT_PATH};

const LANG_COOKIE: &str = "portal_lang";
const IDENTITY_PURPOSE: &str = "portal-identity";
const IDENTITY_SECONDS: i64 = 30 * 60;
const RECORD_SECONDS: i64 = 10 * 60;
const CSS: &str = include_str!("../static/portal.css");

pub fn router(portal: Arc<Portal>) -> Router {
    let body_limit = portal.settings.max_upload + 64 * 1024;
    Router::new()
        .route("/", get(home))
        .route("/signin", get(signin))
        .route(CALLBACK_PATH, get(callback))
        .route(
            "/upload",
            get(upload_page)
                .post(upload)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/search", post(search))
        .route("/search/again", post(search_again))
        .route("/record/{token}", get(record))
        .route("/signout", post(signout))
        .route(SIGNED_OUT_PATH, get(signed_out))
        .route("/faq", get(|s, c| info(s, c, "faq")))
        .route("/privacy", get(|s, c| info(s, c, "privacy")))
        .route("/accessibility", get(|s, c| info(s, c, "accessibility")))
        .route("/help", get(|s, c| info(s, c, "help")))
        .route("/guide", get(guide))
        .route("/static/portal.css", get(css))
        .layer(from_fn_with_state(portal.clone(), gate))
        .layer(from_fn_with_state(
            portal.headers.clone(),
            imms_web::headers::apply,
        ))
        .with_state(portal)
}

/// The language chosen explicitly (query or cookie) and the client's address, set by the gate.
#[derive(Clone)]
struct Chosen(Option<String>);
#[derive(Clone, Copy)]
struct ClientIp(IpAddr);

/// Every request: the client's address (X-Forwarded-For only from trusted proxies), its
/// country, refused with 403 when blocked (503 when the country cannot be told); the language.
async fn gate(State(p): State<Arc<Portal>>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let ip = p.proxies.client_ip(peer, req.headers());
    let jar = CookieJar::from_headers(req.headers());
    let from_query = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned())
            .filter(|code| p.catalog.get(code).is_some())
    });
    let chosen = from_query
        .clone()
        .or_else(|| jar.get(LANG_COOKIE).map(|c| c.value().to_string()))
        .filter(|code| p.catalog.get(code).is_some());
    req.extensions_mut().insert(Chosen(chosen.clone()));
    req.extensions_mut().insert(ClientIp(ip));
    let is_static = req.uri().path().starts_with("/static/");
    let mut response = match (is_static, p.geo.verdict(ip)) {
        (true, _) | (false, Verdict::Allowed) => next.run(req).await,
        (false, verdict) => {
            let lang = p.catalog.pick(chosen.as_deref(), req.headers());
            let (status, title, text, code) = match verdict {
                Verdict::Blocked(country) => {
                    tracing::info!(country = %country, "portal request from a blocked country");
                    (
                        StatusCode::FORBIDDEN,
                        "msg.blocked.title",
                        "msg.blocked.text",
                        "PORTAL-BLOCKED-COUNTRY",
                    )
                }
                _ => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "msg.geo.title",
                    "msg.geo.text",
                    "PORTAL-GEO-UNAVAILABLE",
                ),
            };
            let page = pages::Message {
                c: Chrome {
                    t: lang,
                    langs: langs(&p),
                    here: "/".into(),
                    csrf: None,
                    title: lang.s(title).to_string(),
                },
                paragraphs: vec![lang.s(text).to_string()],
                code: Some(code),
                action: None,
                geo_credit: p.geo.needs_dbip_credit(),
            };
            pages::render(status, &page, false)
        }
    };
    if let Some(code) = from_query {
        let cookie = Cookie::build((LANG_COOKIE, code))
            .path("/")
            .http_only(true)
            .secure(p.settings.public_url.starts_with("https://"))
            .same_site(SameSite::Lax)
            .permanent()
            .build();
        if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// What every handler knows about the request.
struct Ctx {
    lang: String,
    jar: CookieJar,
    ip: IpAddr,
    session: Option<Session>,
}

impl FromRequestParts<Arc<Portal>> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        p: &Arc<Portal>,
    ) -> Result<Ctx, Self::Rejection> {
        let chosen = parts.extensions.get::<Chosen>().and_then(|c| c.0.clone());
        let lang = p
            .catalog
            .pick(chosen.as_deref(), &parts.headers)
            .code
            .clone();
        let ip = parts
            .extensions
            .get::<ClientIp>()
            .map(|c| c.0)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let jar = CookieJar::from_headers(&parts.headers);
        let session = match p.sessions.current(&jar).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "portal session look-up failed");
                None
            }
        };
        Ok(Ctx {
            lang,
            jar,
            ip,
            session,
        })
    }
}

fn langs(p: &Portal) -> Vec<(&str, &str)> {
    p.catalog
        .all()
        .iter()
        .map(|l| (l.code.as_str(), l.name.as_str()))
        .collect()
}

impl Portal {
    fn lang(&self, ctx: &Ctx) -> &crate::i18n::Lang {
        self.catalog
            .get(&ctx.lang)
            .unwrap_or_else(|| self.catalog.default_lang())
    }

    fn chrome(&self, ctx: &Ctx, title_key: &str, here: &str) -> Chrome<'_> {
        let t = self.lang(ctx);
        Chrome {
            t,
            langs: langs(self),
            here: here.to_string(),
            csrf: ctx.session.as_ref().map(|s| s.csrf_token.clone()),
            title: t.s(title_key).to_string(),
        }
    }

    fn message(
        &self,
        ctx: &Ctx,
        status: StatusCode,
        key: &str,
        code: Option<&'static str>,
        action: Option<(&str, &str)>,
    ) -> Response {
        let t = self.lang(ctx);
        let page = pages::Message {
            c: self.chrome(ctx, &format!("msg.{key}.title"), "/"),
            paragraphs: vec![t.s(&format!("msg.{key}.text")).to_string()],
            code,
            action: action.map(|(href, label)| (href.to_string(), t.s(label).to_string())),
            geo_credit: false,
        };
        pages::render(status, &page, true)
    }

    fn sign_in_first(&self, ctx: &Ctx) -> Response {
        self.message(
            ctx,
            StatusCode::UNAUTHORIZED,
            "session",
            Some("PORTAL-SIGNED-OUT"),
            Some(("/signin", "action.signin")),
        )
    }

    fn failed(&self, ctx: &Ctx, what: &str, e: &dyn std::fmt::Display) -> Response {
        tracing::error!(error = %e, what, "portal request failed");
        self.message(
            ctx,
            StatusCode::INTERNAL_SERVER_ERROR,
            "error",
            Some("PORTAL-ERROR"),
            Some(("/", "action.home")),
        )
    }
}

async fn home(State(p): State<Arc<Portal>>, ctx: Ctx) -> Response {
    let page = pages::Home {
        c: p.chrome(&ctx, "home.title", "/"),
    };
    pages::render(StatusCode::OK, &page, false)
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn info(State(p): State<Arc<Portal>>, ctx: Ctx, page: &'static str) -> Response {
    let t = p.lang(&ctx);
    let view = pages::Info {
        c: p.chrome(&ctx, &format!("{page}.title"), &format!("/{page}")),
        sections: t.sections(page),
        trusted_html: None,
        trusted_lang: String::new(),
    };
    pages::render(StatusCode::OK, &view, false)
}

async fn guide(State(p): State<Arc<Portal>>, ctx: Ctx) -> Response {
    let (lang, html) = p.records.guide_html(&ctx.lang);
    let view = pages::Info {
        c: p.chrome(&ctx, "guide.title", "/guide"),
        sections: Vec::new(),
        trusted_html: Some(html),
        trusted_lang: lang,
    };
    pages::render(StatusCode::OK, &view, false)
}

// ---- signing in and out ----

async fn signin(State(p): State<Arc<Portal>>, ctx: Ctx) -> Response {
    if ctx.session.is_some() {
        return Redirect::to("/upload").into_response();
    }
    match p.rp.begin("/upload").await {
        Ok((url, pending)) => {
            let jar = p.login.remember(ctx.jar.clone(), &pending);
            (jar, Redirect::to(url.as_str())).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "portal sign-in could not start");
            p.message(
                &ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                "signin",
                Some("PORTAL-SIGNIN-FAILED"),
                Some(("/", "action.home")),
            )
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: Option<String>,
}

async fn callback(
    State(p): State<Arc<Portal>>,
    ctx: Ctx,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let (jar, pending) = p.login.take(ctx.jar.clone());
    let fail = |reason: &dyn std::fmt::Display| {
        tracing::info!(reason = %reason, "portal sign-in refused");
        let r = p.message(
            &ctx,
            StatusCode::BAD_REQUEST,
            "signin",
            Some("PORTAL-SIGNIN-FAILED"),
            Some(("/signin", "action.signin")),
        );
        (jar.clone(), r).into_response()
    };
    if let Some(error) = &q.error {
        return fail(&format!("provider answered {error}"));
    }
    let pending = match pending {
        Ok(pending) => pending,
        Err(e) => return fail(&e),
    };
    let who = match p.rp.complete(&pending, &q.code, &q.state).await {
        Ok(who) => who,
        Err(e) => return fail(&e),
    };
    if who.acct_type != "citizen" {
        tracing::info!(subject = %who.subject, acct_type = %who.acct_type, "portal refused a non-citizen account");
        let back = format!(
            "{}{SIGNED_OUT_PATH}",
            p.settings.public_url.trim_end_matches('/')
        );
        let logout =
            p.rp.logout_url(&who.id_token, &back)
                .await
                .map(|u| u.to_string())
                .unwrap_or_else(|| "/".into());
        let r = p.message(
            &ctx,
            StatusCode::FORBIDDEN,
            "notcitizen",
            Some("PORTAL-NOT-CITIZEN"),
            Some((&logout, "site.signout")),
        );
        return (jar, r).into_response();
    }
    match p.sessions.start(&who).await {
        Ok((_, cookie)) => {
            tracing::info!(subject = %who.subject, "portal sign-in");
            (jar.add(cookie), Redirect::to(&pending.return_to)).into_response()
        }
        Err(e) => (jar, p.failed(&ctx, "session start", &e)).into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn signout(State(p): State<Arc<Portal>>, ctx: Ctx, Form(f): Form<CsrfForm>) -> Response {
    let Some(session) = &ctx.session else {
        return Redirect::to("/").into_response();
    };
    if session.verify_csrf(&f.csrf).is_err() {
        return p.message(
            &ctx,
            StatusCode::FORBIDDEN,
            "csrf",
            Some("PORTAL-CSRF"),
            Some(("/", "action.home")),
        );
    }
    let removal = match p.sessions.end(session).await {
        Ok(c) => c,
        Err(e) => return p.failed(&ctx, "session end", &e),
    };
    let back = format!(
        "{}{SIGNED_OUT_PATH}",
        p.settings.public_url.trim_end_matches('/')
    );
    // End the provider's session too, when it offers RP-initiated logout.
    let to =
        p.rp.logout_url(&session.id_token, &back)
            .await
            .map(|u| u.to_string())
            .unwrap_or_else(|| SIGNED_OUT_PATH.to_string());
    (ctx.jar.clone().add(removal), Redirect::to(&to)).into_response()
}

async fn signed_out(State(p): State<Arc<Portal>>, ctx: Ctx) -> Response {
    p.message(
        &ctx,
        StatusCode::OK,
        "signedout",
        None,
        Some(("/", "action.home")),
    )
}

// ---- upload ----

async fn upload_page(State(p): State<Arc<Portal>>, ctx: Ctx) -> Response {
    let Some(session) = &ctx.session else {
        return p.sign_in_first(&ctx);
    };
    let page = pages::Upload {
        c: p.chrome(&ctx, "upload.title", "/upload"),
        csrf: session.csrf_token.clone(),
        error: None,
    };
    pages::render(StatusCode::OK, &page, true)
}

/// Why an upload was refused: the catalogue keys of the problem box and its code.
#[derive(Clone, Copy)]
enum UploadProblem {
    Unreadable,
    Format,
    Refused(Refusal),
    OtherPerson,
    Busy,
}

impl Portal {
    fn upload_refused(&self, ctx: &Ctx, session: &Session, problem: UploadProblem) -> Response {
        let t = self.lang(ctx);
        let (key, code, tips, status) = match problem {
            UploadProblem::Unreadable => (
                "unreadable",
                "PORTAL-ID-UNREADABLE",
                true,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            UploadProblem::Format => (
                "format",
                "PORTAL-ID-FILE",
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            UploadProblem::Refused(Refusal::Expired) => (
                "expired",
                "PORTAL-ID-EXPIRED",
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            UploadProblem::Refused(Refusal::Minor) => {
                ("minor", "PORTAL-UNDER-18", false, StatusCode::FORBIDDEN)
            }
            UploadProblem::Refused(Refusal::Unsupported) => (
                "unsupported",
                "PORTAL-ID-UNSUPPORTED",
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            UploadProblem::Refused(Refusal::NoExpiry) => (
                "unreadable",
                "PORTAL-ID-UNREADABLE",
                true,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            UploadProblem::OtherPerson => {
                ("other", "PORTAL-OTHER-PERSON", false, StatusCode::FORBIDDEN)
            }
            UploadProblem::Busy => (
                "busy",
                "PORTAL-TOO-MANY",
                false,
                StatusCode::TOO_MANY_REQUESTS,
            ),
        };
        let tips = if tips {
            [
                "upload.tip.flat",
                "upload.tip.light",
                "upload.tip.whole",
                "upload.tip.passport",
            ]
            .iter()
            .map(|k| t.s(k).to_string())
            .collect()
        } else {
            Vec::new()
        };
        let page = pages::Upload {
            c: self.chrome(ctx, "upload.title", "/upload"),
            csrf: session.csrf_token.clone(),
            error: Some(Problem {
                title: t.s(&format!("refuse.{key}.title")).to_string(),
                text: t.s(&format!("refuse.{key}.text")).to_string(),
                tips,
                code,
            }),
        };
        pages::render(status, &page, true)
    }
}

/// The photo, read into memory only, never past `limit` bytes; zeroed when dropped.
struct Photo(Vec<u8>);

impl Drop for Photo {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

enum Read {
    Ok { csrf: String, photo: Photo },
    TooLarge,
    Bad,
}

async fn read_upload(mut multipart: Multipart, limit: usize) -> Read {
    let mut csrf = String::new();
    let mut photo: Option<Photo> = None;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Read::TooLarge,
            Err(_) => return Read::Bad,
        };
        match field.name() {
            Some("csrf") => match field.text().await {
                Ok(t) if t.len() <= 200 => csrf = t,
                _ => return Read::Bad,
            },
            Some("photo") => {
                let mut bytes = Photo(Vec::new());
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            if bytes.0.len() + chunk.len() > limit {
                                return Read::TooLarge;
                            }
                            bytes.0.extend_from_slice(&chunk);
                        }
                        Ok(None) => break,
                        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                            return Read::TooLarge
                        }
                        Err(_) => return Read::Bad,
                    }
                }
                photo = Some(bytes);
            }
            _ => {}
        }
    }
    match photo {
        Some(photo) => Read::Ok { csrf, photo },
        None => Read::Bad,
    }
}

async fn upload(State(p): State<Arc<Portal>>, ctx: Ctx, multipart: Multipart) -> Response {
    let Some(session) = &ctx.session else {
        return p.sign_in_first(&ctx);
    };
    let (csrf, photo) = match read_upload(multipart, p.settings.max_upload).await {
        Read::Ok { csrf, photo } => (csrf, photo),
        Read::TooLarge | Read::Bad => {
            return p.upload_refused(&ctx, session, UploadProblem::Format);
        }
    };
    if session.verify_csrf(&csrf).is_err() {
        return p.message(
            &ctx,
            StatusCode::FORBIDDEN,
            "csrf",
            Some("PORTAL-CSRF"),
            Some(("/upload", "action.upload")),
        );
    }
    if p.limiter
        .admit(&session.subject, &ctx.ip.to_string(), Instant::now())
        .is_err()
    {
        return p.upload_refused(&ctx, session, UploadProblem::Busy);
    }
    let scanned = {
        let _permit = p.scans.acquire().await;
        let limits = imms_idscan::Limits::default();
        tokio::task::spawn_blocking(move || {
            let result = imms_idscan::scan(&photo.0, &limits);
            drop(photo);
            result
        })
        .await
    };
    let doc = match scanned {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => {
            use imms_idscan::ScanError as E;
            // The reason's kind only: the scanner's sentences carry no personal data, but
            // keep the log to what an operator needs.
            let problem = match e {
                E::Empty | E::TooLarge { .. } | E::UnsupportedFormat(_) | E::CorruptImage => {
                    UploadProblem::Format
                }
                E::NotAamva | E::UnsupportedDocument(_) => {
                    UploadProblem::Refused(Refusal::Unsupported)
                }
                _ => UploadProblem::Unreadable,
            };
            tracing::info!(session = session.audit_id(), reason = ?std::mem::discriminant(&e), "ID not read");
            return p.upload_refused(&ctx, session, problem);
        }
        Err(e) => return p.failed(&ctx, "scan task", &e),
    };
    let today = chrono::Local::now().date_naive();
    let identity = match identity::accept(&doc, today, session.audit_id()) {
        Ok(id) => id,
        Err(refusal) => {
            tracing::info!(
                session = session.audit_id(),
                code = refusal.code(),
                "ID refused"
            );
            return p.upload_refused(&ctx, session, UploadProblem::Refused(refusal));
        }
    };
    drop(doc);
    let hash = p.key.hash(&identity);
    match p.store.binding(&session.subject, &hash).await {
        Ok(Binding::Other) => {
            if let Err(e) = p
                .store
                .audit("identity_mismatch", &session.subject, session.audit_id())
                .await
            {
                tracing::error!(error = %e, "audit write failed");
            }
            return p.upload_refused(&ctx, session, UploadProblem::OtherPerson);
        }
        Ok(_) => {}
        Err(e) => return p.failed(&ctx, "binding look-up", &e),
    }
    let sealed = p.sealer.seal(IDENTITY_PURPOSE, &identity, IDENTITY_SECONDS);
    let current = identity.address.clone().unwrap_or_default();
    search_form(
        &p,
        &ctx,
        session,
        &identity,
        sealed,
        current,
        PostalAddress::default(),
        Vec::new(),
    )
}

#[allow(clippy::too_many_arguments)]
fn search_form(
    p: &Portal,
    ctx: &Ctx,
    session: &Session,
    identity: &Identity,
    sealed: String,
    current: PostalAddress,
    previous: PostalAddress,
    errors: Vec<(&'static str, String)>,
) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let previous_open = previous != PostalAddress::default();
    let page = pages::SearchForm {
        c: p.chrome(ctx, "search.title", "/upload"),
        csrf: session.csrf_token.clone(),
        sealed,
        name: identity::display_name(identity),
        passport: identity.passport,
        current,
        previous,
        previous_open,
        errors,
    };
    pages::render(status, &page, true)
}

// ---- search ----

#[derive(Deserialize)]
struct SearchFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identity: String,
    #[serde(default)]
    street: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    zip: String,
    #[serde(default)]
    prev_street: String,
    #[serde(default)]
    prev_city: String,
    #[serde(default)]
    prev_state: String,
    #[serde(default)]
    prev_zip: String,
}

impl Portal {
    /// The session and the sealed identity of a search form, or the page to show instead.
    fn open_form<'c>(
        &self,
        ctx: &'c Ctx,
        csrf: &str,
        sealed: &str,
    ) -> Result<(&'c Session, Identity), Box<Response>> {
        let Some(session) = &ctx.session else {
            return Err(Box::new(self.sign_in_first(ctx)));
        };
        if session.verify_csrf(csrf).is_err() {
            return Err(Box::new(self.message(
                ctx,
                StatusCode::FORBIDDEN,
                "csrf",
                Some("PORTAL-CSRF"),
                Some(("/upload", "action.upload")),
            )));
        }
        match self.sealer.open::<Identity>(IDENTITY_PURPOSE, sealed) {
            Ok(id) if id.session == session.audit_id() => Ok((session, id)),
            _ => {
                let t = self.lang(ctx);
                let page = pages::Message {
                    c: self.chrome(ctx, "upload.title", "/upload"),
                    paragraphs: vec![t.s("msg.search.expired").to_string()],
                    code: Some("PORTAL-ID-EXPIRED-READING"),
                    action: Some(("/upload".into(), t.s("action.upload").to_string())),
                    geo_credit: false,
                };
                Err(Box::new(pages::render(
                    StatusCode::BAD_REQUEST,
                    &page,
                    true,
                )))
            }
        }
    }
}

fn clean(s: &str, max: usize) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

fn address(street: &str, city: &str, state: &str, zip: &str) -> PostalAddress {
    PostalAddress {
        street: clean(street, 120),
        city: clean(city, 60),
        state: clean(state, 2).to_ascii_uppercase(),
        postal_code: clean(zip, 10),
    }
}

fn zip_ok(zip: &str) -> bool {
    let digits: String = zip.chars().filter(|c| *c != '-' && *c != ' ').collect();
    (digits.len() == 5 || digits.len() == 9) && digits.chars().all(|c| c.is_ascii_digit())
}

fn state_ok(state: &str) -> bool {
    state.len() == 2 && state.chars().all(|c| c.is_ascii_uppercase())
}

async fn search_again(
    State(p): State<Arc<Portal>>,
    ctx: Ctx,
    Form(f): Form<SearchFields>,
) -> Response {
    let (session, identity) = match p.open_form(&ctx, &f.csrf, &f.identity) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let current = identity.address.clone().unwrap_or_default();
    search_form(
        &p,
        &ctx,
        session,
        &identity,
        f.identity.clone(),
        current,
        PostalAddress::default(),
        Vec::new(),
    )
}

async fn search(State(p): State<Arc<Portal>>, ctx: Ctx, Form(f): Form<SearchFields>) -> Response {
    let (session, identity) = match p.open_form(&ctx, &f.csrf, &f.identity) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let t = p.lang(&ctx);
    let current = address(&f.street, &f.city, &f.state, &f.zip);
    let previous = address(&f.prev_street, &f.prev_city, &f.prev_state, &f.prev_zip);
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    if current.street.is_empty() {
        errors.push(("street", t.s("search.err.street").into()));
    }
    if current.city.is_empty() {
        errors.push(("city", t.s("search.err.city").into()));
    }
    if !state_ok(&current.state) {
        errors.push(("state", t.s("search.err.state").into()));
    }
    if !zip_ok(&current.postal_code) {
        errors.push(("zip", t.s("search.err.zip").into()));
    }
    let has_previous = previous != PostalAddress::default();
    if has_previous
        && (previous.street.is_empty()
            || previous.city.is_empty()
            || !state_ok(&previous.state)
            || !zip_ok(&previous.postal_code))
    {
        errors.push(("prev_street", t.s("search.err.previous").into()));
    }
    if !errors.is_empty() {
        return search_form(
            &p,
            &ctx,
            session,
            &identity,
            f.identity.clone(),
            current,
            previous,
            errors,
        );
    }
    let now = Instant::now();
    if p.limiter.search_wait(&session.subject, now).is_err()
        || p.limiter
            .admit(&session.subject, &ctx.ip.to_string(), now)
            .is_err()
    {
        return p.message(
            &ctx,
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            Some("PORTAL-TOO-MANY"),
            None,
        );
    }
    let mut addresses = vec![current];
    if has_previous {
        addresses.push(previous);
    }
    let query = Search {
        given: identity.given.clone(),
        middle: identity.middle.clone(),
        family: identity.family.clone(),
        suffix: identity.suffix.clone(),
        birth_date: identity.birth_date,
        sex: identity.sex.clone(),
        addresses,
    };
    let found = match p.records.find(&query).await {
        Ok(found) => found,
        Err(e) => return p.failed(&ctx, "match", &e),
    };
    drop(query);
    let person_id = match found {
        Found::Person(id) => id,
        Found::NoUniqueMatch => {
            p.limiter.missed(&session.subject, now);
            tracing::info!(
                session = session.audit_id(),
                "portal search: no unique match"
            );
            let page = pages::NotFoundPage {
                c: p.chrome(&ctx, "notfound.title", "/upload"),
                csrf: session.csrf_token.clone(),
                sealed: f.identity.clone(),
            };
            return pages::render(StatusCode::OK, &page, true);
        }
    };
    let hash = p.key.hash(&identity);
    match p.store.bind(&session.subject, &hash).await {
        Ok(Binding::Same) => {}
        Ok(_) => {
            if let Err(e) = p
                .store
                .audit("identity_mismatch", &session.subject, session.audit_id())
                .await
            {
                tracing::error!(error = %e, "audit write failed");
            }
            return p.upload_refused(&ctx, session, UploadProblem::OtherPerson);
        }
        Err(e) => return p.failed(&ctx, "binding", &e),
    }
    p.limiter.found(&session.subject);
    // The record link: a random token, kept in the session with the person id and expiry.
    let token = {
        use rand::RngCore;
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let mut session = session.clone();
    let mut data = session.data.clone();
    if !data.is_object() {
        data = serde_json::json!({});
    }
    data["record"] = serde_json::json!({
        "token": token,
        "person": person_id,
        "lang": ctx.lang,
        "exp": chrono::Utc::now().timestamp() + RECORD_SECONDS,
    });
    if let Err(e) = p.sessions.set_data(&mut session, data).await {
        return p.failed(&ctx, "record link", &e);
    }
    tracing::info!(
        session = session.audit_id(),
        person = person_id,
        "portal search: record found"
    );
    let page = pages::FoundPage {
        c: p.chrome(&ctx, "found.title", "/upload"),
        url: format!("/record/{token}"),
    };
    pages::render(StatusCode::OK, &page, true)
}

// ---- the record ----

#[derive(Deserialize)]
struct RecordQuery {
    #[serde(default)]
    download: Option<String>,
}

async fn record(
    State(p): State<Arc<Portal>>,
    ctx: Ctx,
    Path(token): Path<String>,
    Query(q): Query<RecordQuery>,
) -> Response {
    let Some(session) = &ctx.session else {
        return p.sign_in_first(&ctx);
    };
    let ticket = &session.data["record"];
    let stored = ticket["token"].as_str().unwrap_or("");
    let valid = !stored.is_empty()
        && bool::from(subtle::ConstantTimeEq::ct_eq(
            stored.as_bytes(),
            token.as_bytes(),
        ))
        && ticket["exp"].as_i64().unwrap_or(0) >= chrono::Utc::now().timestamp();
    let Some(person_id) = ticket["person"].as_i64().filter(|_| valid) else {
        return p.message(
            &ctx,
            StatusCode::NOT_FOUND,
            "record",
            Some("PORTAL-RECORD-LINK"),
            Some(("/upload", "action.upload")),
        );
    };
    let lang = ticket["lang"].as_str().unwrap_or("en").to_string();
    let today = chrono::Local::now().date_naive();
    let pdf = match p.records.pdf(person_id, &lang, today).await {
        Ok(pdf) => pdf,
        Err(e) => return p.failed(&ctx, "record", &e),
    };
    tracing::info!(
        session = session.audit_id(),
        person = person_id,
        "portal record served"
    );
    let disposition = if q.download.is_some() {
        "attachment; filename=\"immunization-record.pdf\""
    } else {
        "inline; filename=\"immunization-record.pdf\""
    };
    (
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        pdf,
    )
        .into_response()
}
