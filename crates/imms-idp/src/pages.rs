//! The pages: sign in, second factor, sign up (email code), forgot password, account
//! settings, and messages (locked, disabled, errors with stable codes). Server-rendered
//! with askama; every form carries a single-use CSRF token; no JavaScript.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::accounts::{check_email, random_code, random_token, token_hash, user_key, IdpError};
use crate::i18n::Text;
use crate::password::PasswordProblem;
use crate::ssn::Ssn;
use crate::store::{Account, AcctType, Otp, StoreError};
use crate::web::{set_cookie, Ctx, Form};
use crate::{Idp, SignInOutcome};

/// Sessions last eight hours.
pub const SESSION_SECONDS: i64 = 8 * 3600;
/// One-time codes: 15 minutes, 5 tries.
pub const OTP_SECONDS: i64 = 15 * 60;
pub const OTP_TRIES: i64 = 5;
/// At most this many emailed codes per account per hour.
pub const OTP_SENDS_PER_HOUR: i64 = 5;

pub struct Base {
    pub t: &'static Text,
    pub title: &'static str,
    pub csrf: String,
    pub req: String,
    pub switch_url: String,
    pub helpline: String,
}

pub struct Msg {
    pub code: &'static str,
    pub text: &'static str,
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    b: Base,
    error: Option<Msg>,
    user_id: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    b: Base,
    text: &'static str,
    code: &'static str,
    is_error: bool,
    show_helpline: bool,
    link: String,
    link_text: &'static str,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpPage {
    b: Base,
    errors: Vec<Msg>,
    ssn_in_use: bool,
    user_id: String,
    email: String,
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    b: Base,
    error: Option<Msg>,
    intro: &'static str,
    action: &'static str,
    flow: String,
    code_label: &'static str,
    button: &'static str,
    with_password: bool,
    with_email_button: bool,
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    b: Base,
    choose: bool,
    flow: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    b: Base,
    notice: &'static str,
    error: Option<Msg>,
    user_id: String,
    acct_type: &'static str,
    totp_on: bool,
    totp_secret: String,
    totp_uri: String,
    totp_flow: String,
    totp_qr: String,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    b: Base,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

fn clean_req(req: &str) -> String {
    req.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect()
}

fn base(idp: &Idp, ctx: &Ctx, path: &str, title: &'static str, req: &str) -> Base {
    let req = clean_req(req);
    let mut switch_url = format!("{path}?lang={}", ctx.t.other_lang);
    if !req.is_empty() {
        switch_url.push_str(&format!("&req={req}"));
    }
    Base {
        t: ctx.t,
        title,
        csrf: idp.csrf_token(&ctx.csrf_cookie),
        req,
        switch_url,
        helpline: idp.settings.helpline.clone(),
    }
}

fn html(status: StatusCode, t: impl Template) -> Response {
    match t.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "IDP-TEMPLATE").into_response()
        }
    }
}

/// A message page outside a request context (rate limits, errors).
pub fn message(
    idp: &Idp,
    t: &'static Text,
    req: &str,
    title: &'static str,
    text: &'static str,
    code: &'static str,
    is_error: bool,
) -> Response {
    let b = Base {
        t,
        title,
        csrf: String::new(),
        req: clean_req(req),
        switch_url: format!("/idp/signin?lang={}", t.other_lang),
        helpline: idp.settings.helpline.clone(),
    };
    html(
        if is_error {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        MessagePage {
            b,
            text,
            code,
            is_error,
            show_helpline: false,
            link: String::new(),
            link_text: "",
        },
    )
}

/// An error page. It has no form, so it leaves the browser's CSRF cookie alone.
pub fn error_page(
    idp: &Idp,
    ctx: &Ctx,
    status: StatusCode,
    text: &'static str,
    code: &'static str,
) -> Response {
    let mut r = message(idp, ctx.t, "", ctx.t.error_title, text, code, true);
    *r.status_mut() = status;
    r
}

fn internal(idp: &Idp, ctx: &Ctx, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "identity provider error");
    error_page(
        idp,
        ctx,
        StatusCode::SERVICE_UNAVAILABLE,
        ctx.t.server_error,
        "IDP-UNAVAILABLE",
    )
}

fn csrf_refused(idp: &Idp, ctx: &Ctx) -> Response {
    tracing::info!(outcome = "csrf", "form refused");
    error_page(idp, ctx, StatusCode::FORBIDDEN, ctx.t.csrf, "IDP-CSRF")
}

pub async fn not_found(State(idp): State<Arc<Idp>>, ctx: Ctx) -> Response {
    error_page(
        &idp,
        &ctx,
        StatusCode::NOT_FOUND,
        ctx.t.bad_request,
        "IDP-NOT-FOUND",
    )
}

fn problem_text(t: &'static Text, p: PasswordProblem) -> &'static str {
    match p {
        PasswordProblem::TooShort => t.pw_short,
        PasswordProblem::TooLong => t.pw_long,
        PasswordProblem::Common => t.pw_common,
        PasswordProblem::ContainsUserId => t.pw_user_id,
    }
}

fn error_msg(t: &'static Text, e: &IdpError) -> Msg {
    let text = match e {
        IdpError::Store(StoreError::UserIdTaken) => t.user_id_taken,
        IdpError::Store(StoreError::SsnInUse) => t.ssn_in_use,
        IdpError::InvalidUserId => t.invalid_user_id,
        IdpError::InvalidEmail => t.invalid_email,
        IdpError::Ssn(_) => t.invalid_ssn,
        IdpError::Password(p) => problem_text(t, *p),
        _ => t.server_error,
    };
    Msg {
        code: e.code(),
        text,
    }
}

// ---- sign in ----

#[derive(Deserialize)]
pub struct ReqQuery {
    #[serde(default)]
    req: String,
}

pub async fn signin_page(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Query(q): Query<ReqQuery>,
) -> Response {
    let page = SignInPage {
        b: base(&idp, &ctx, "/idp/signin", ctx.t.sign_in_title, &q.req),
        error: None,
        user_id: String::new(),
    };
    ctx.finish(&idp, html(StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    #[serde(default)]
    req: String,
    user_id: String,
    password: String,
}

fn signin_again(
    idp: &Idp,
    ctx: &Ctx,
    req: &str,
    user_id: &str,
    error: Msg,
    status: StatusCode,
) -> Response {
    let page = SignInPage {
        b: base(idp, ctx, "/idp/signin", ctx.t.sign_in_title, req),
        error: Some(error),
        user_id: user_id.chars().take(64).collect(),
    };
    ctx.finish(idp, html(status, page))
}

pub async fn signin_post(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Form(f): Form<SignInForm>,
) -> Response {
    if !idp.check_csrf(&ctx.headers, &f.csrf).await {
        return csrf_refused(&idp, &ctx);
    }
    if f.user_id.chars().count() > 256 || f.password.len() > 1024 {
        return error_page(
            &idp,
            &ctx,
            StatusCode::BAD_REQUEST,
            ctx.t.bad_request,
            "IDP-TOO-LONG",
        );
    }
    let outcome = match idp.sign_in(&f.user_id, &f.password).await {
        Ok(o) => o,
        Err(e) => return internal(&idp, &ctx, e),
    };
    match outcome {
        SignInOutcome::Wrong => signin_again(
            &idp,
            &ctx,
            &f.req,
            &f.user_id,
            Msg {
                code: "IDP-SIGNIN-FAILED",
                text: ctx.t.wrong,
            },
            StatusCode::UNAUTHORIZED,
        ),
        SignInOutcome::Locked(_) => signin_again(
            &idp,
            &ctx,
            &f.req,
            &f.user_id,
            Msg {
                code: "IDP-LOCKED",
                text: ctx.t.locked,
            },
            StatusCode::FORBIDDEN,
        ),
        SignInOutcome::Disabled => {
            let page = MessagePage {
                b: base(&idp, &ctx, "/idp/signin", ctx.t.disabled_title, &f.req),
                text: ctx.t.disabled,
                code: "IDP-DISABLED",
                is_error: true,
                show_helpline: true,
                link: String::new(),
                link_text: "",
            };
            ctx.finish(&idp, html(StatusCode::FORBIDDEN, page))
        }
        SignInOutcome::Success(account) => {
            if account.totp_secret.is_some() {
                let flow = random_token();
                let otp = Otp {
                    id: flow.clone(),
                    purpose: "mfa".into(),
                    account_id: Some(account.id),
                    payload: clean_req(&f.req),
                    code_hash: String::new(),
                    attempts: 0,
                    expires_at: idp.now() + OTP_SECONDS,
                    used_at: None,
                };
                if let Err(e) = idp.store.save_otp(&otp, idp.now()).await {
                    return internal(&idp, &ctx, e);
                }
                return code_page(&idp, &ctx, &f.req, CodeKind::Mfa, flow, None, "");
            }
            complete_login(&idp, &ctx, &account, &f.req, "pwd").await
        }
    }
}

/// Starts a session and goes on to the relying party (or account settings).
async fn complete_login(idp: &Idp, ctx: &Ctx, account: &Account, req: &str, amr: &str) -> Response {
    let now = idp.now();
    let token = random_token();
    if let Err(e) = idp
        .store
        .create_session(
            &token_hash(&token),
            account.id,
            amr,
            now,
            now + SESSION_SECONDS,
        )
        .await
    {
        return internal(idp, ctx, e);
    }
    let target = match crate::oidc::continue_request(idp, &clean_req(req), account, now, amr).await
    {
        Ok(Some(url)) => url,
        Ok(None) => "/idp/account".to_string(),
        Err(e) => return internal(idp, ctx, e),
    };
    let mut resp = Redirect::to(&target).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(idp, "idp_session", &token, Some(SESSION_SECONDS)),
    );
    ctx.finish(idp, resp)
}

#[derive(Clone, Copy)]
enum CodeKind {
    Mfa,
    Signup,
    Reset,
}

fn code_page(
    idp: &Idp,
    ctx: &Ctx,
    req: &str,
    kind: CodeKind,
    flow: String,
    error: Option<Msg>,
    intro: &'static str,
) -> Response {
    let t = ctx.t;
    let (title, action, label, button, with_password, with_email_button, path) = match kind {
        CodeKind::Mfa => (
            t.mfa_title,
            "/idp/mfa",
            t.totp_code,
            t.continue_,
            false,
            true,
            "/idp/signin",
        ),
        CodeKind::Signup => (
            t.code_title,
            "/idp/signup/verify",
            t.code,
            t.continue_,
            false,
            false,
            "/idp/signup",
        ),
        CodeKind::Reset => (
            t.code_title,
            "/idp/forgot/verify",
            t.code,
            t.set_password,
            true,
            false,
            "/idp/forgot",
        ),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = CodePage {
        b: base(idp, ctx, path, title, req),
        error,
        intro,
        action,
        flow,
        code_label: label,
        button,
        with_password,
        with_email_button,
    };
    ctx.finish(idp, html(status, page))
}

fn totp_for(secret_b32: &str, user: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string()).to_bytes().ok()?;
    let name: String = user.chars().filter(|c| *c != ':').collect();
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some("MiLogin".into()),
        name,
    )
    .ok()
}

/// The time step a code belongs to (the current one, or one either side for clock skew).
fn totp_step(secret_b32: &str, user: &str, code: &str, now: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 {
        return None;
    }
    let t = totp_for(secret_b32, user)?;
    [0i64, -30, 30].into_iter().find_map(|d| {
        let at = (now + d).max(0);
        bool::from(t.generate(at as u64).as_bytes().ct_eq(code.as_bytes())).then_some(at / 30)
    })
}

impl Idp {
    /// A right TOTP code whose time step is newer than the last one accepted (no replay).
    async fn totp_accept(&self, account: &Account, code: &str, now: i64) -> bool {
        let Some(secret) = account.totp_secret.as_deref() else {
            return false;
        };
        let Some(step) = totp_step(secret, &account.user_id, code, now) else {
            return false;
        };
        self.store
            .use_totp_step(account.id, step)
            .await
            .unwrap_or(false)
    }
}

fn totp_ok(secret_b32: &str, user: &str, code: &str, now: i64) -> bool {
    let code = code.trim();
    code.len() == 6 && totp_for(secret_b32, user).is_some_and(|t| t.check(code, now.max(0) as u64))
}

impl Idp {
    /// Emails a one-time code under a new flow id (nothing is sent for `to == None`, but
    /// the answer is the same). Returns false when the per-account limit is reached.
    #[allow(clippy::too_many_arguments)]
    async fn send_code(
        &self,
        t: &'static Text,
        id: &str,
        purpose: &str,
        account_id: Option<i64>,
        payload: String,
        to: Option<&str>,
        subject: &str,
    ) -> Result<bool, IdpError> {
        let now = self.now();
        if let Some(a) = account_id {
            if self.store.recent_otps(a, now - 3600).await? >= OTP_SENDS_PER_HOUR {
                tracing::info!(account = a, "one-time code limit reached");
                return Ok(false);
            }
        }
        let code = random_code();
        let otp = Otp {
            id: id.to_string(),
            purpose: purpose.into(),
            account_id,
            payload,
            code_hash: self.keyed("otp", &format!("{id}:{code}")),
            attempts: 0,
            expires_at: now + OTP_SECONDS,
            used_at: None,
        };
        self.store.save_otp(&otp, now).await?;
        if let Some(to) = to {
            let body = format!("{}\n\n    {code}\n\n{}\n", t.mail_body, t.code_sent);
            self.mailer
                .send(&self.settings.mail_from, to, subject, body)
                .await?;
            let purpose = match purpose {
                "reset-email" => "reset",
                "mfa-email" => "mfa",
                p => p,
            };
            self.metrics.codes_sent.with_label_values(&[purpose]).inc();
        }
        Ok(true)
    }

    /// Checks an emailed code (counting the try); spends it when right.
    async fn check_code(
        &self,
        id: &str,
        purpose: &str,
        code: &str,
    ) -> Result<Option<Otp>, IdpError> {
        let now = self.now();
        let Some(otp) = self.store.otp(id).await? else {
            return Ok(None);
        };
        if otp.purpose != purpose || !self.store.otp_try(id, OTP_TRIES, now).await? {
            return Ok(None);
        }
        let want = self.keyed("otp", &format!("{id}:{}", code.trim()));
        if !bool::from(want.as_bytes().ct_eq(otp.code_hash.as_bytes())) {
            return Ok(None);
        }
        if !self.store.otp_use(id, now).await? {
            return Ok(None);
        }
        Ok(Some(otp))
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    #[serde(default)]
    req: String,
    flow: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    password: String,
}

pub async fn mfa_post(State(idp): State<Arc<Idp>>, ctx: Ctx, Form(f): Form<CodeForm>) -> Response {
    if !idp.check_csrf(&ctx.headers, &f.csrf).await {
        return csrf_refused(&idp, &ctx);
    }
    let now = idp.now();
    let pending = match idp.store.otp(&f.flow).await {
        Ok(Some(p)) if p.purpose == "mfa" && p.used_at.is_none() && p.expires_at > now => p,
        Ok(_) => {
            return error_page(
                &idp,
                &ctx,
                StatusCode::BAD_REQUEST,
                ctx.t.expired,
                "IDP-FLOW-EXPIRED",
            )
        }
        Err(e) => return internal(&idp, &ctx, e),
    };
    let Some(account) = (match idp
        .store
        .account_by_id(pending.account_id.unwrap_or(-1))
        .await
    {
        Ok(a) => a,
        Err(e) => return internal(&idp, &ctx, e),
    }) else {
        return error_page(
            &idp,
            &ctx,
            StatusCode::BAD_REQUEST,
            ctx.t.expired,
            "IDP-FLOW-EXPIRED",
        );
    };
    let email_id = format!("{}e", f.flow);
    if f.action == "email" {
        let r = idp
            .send_code(
                ctx.t,
                &email_id,
                "mfa-email",
                Some(account.id),
                String::new(),
                Some(&account.email),
                ctx.t.mail_code_subject,
            )
            .await;
        if let Err(e) = r {
            if !matches!(e, IdpError::Store(StoreError::Db(_))) {
                return internal(&idp, &ctx, e);
            }
        }
        return code_page(
            &idp,
            &ctx,
            &pending.payload,
            CodeKind::Mfa,
            f.flow,
            None,
            ctx.t.code_sent,
        );
    }
    let ok_tries = match idp.store.otp_try(&f.flow, OTP_TRIES, now).await {
        Ok(ok) => ok,
        Err(e) => return internal(&idp, &ctx, e),
    };
    let totp = ok_tries && idp.totp_accept(&account, &f.code, now).await;
    let email = ok_tries
        && !totp
        && matches!(
            idp.check_code(&email_id, "mfa-email", &f.code).await,
            Ok(Some(_))
        );
    if !(totp || email) {
        tracing::info!(
            account = account.id,
            outcome = "wrong",
            "second factor refused"
        );
        return code_page(
            &idp,
            &ctx,
            &pending.payload,
            CodeKind::Mfa,
            f.flow,
            Some(Msg {
                code: "IDP-CODE-WRONG",
                text: ctx.t.code_wrong,
            }),
            "",
        );
    }
    let _ = idp.store.otp_use(&f.flow, now).await;
    let amr = if totp { "pwd otp" } else { "pwd mfa" };
    complete_login(&idp, &ctx, &account, &pending.payload, amr).await
}

// ---- sign up ----

pub async fn signup_page(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Query(q): Query<ReqQuery>,
) -> Response {
    let page = SignUpPage {
        b: base(&idp, &ctx, "/idp/signup", ctx.t.sign_up_title, &q.req),
        errors: vec![],
        ssn_in_use: false,
        user_id: String::new(),
        email: String::new(),
    };
    ctx.finish(&idp, html(StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct SignUpForm {
    csrf: String,
    #[serde(default)]
    req: String,
    user_id: String,
    email: String,
    password: String,
    ssn: String,
}

#[derive(serde::Serialize, Deserialize)]
struct PendingSignup {
    user_id: String,
    key: String,
    email: String,
    hash: String,
    ssn_hmac: String,
}

fn signup_again(
    idp: &Idp,
    ctx: &Ctx,
    req: &str,
    f_user: &str,
    f_email: &str,
    errors: Vec<Msg>,
) -> Response {
    let ssn_in_use = errors.iter().any(|e| e.code == "IDP-SSN-IN-USE");
    let page = SignUpPage {
        b: base(idp, ctx, "/idp/signup", ctx.t.sign_up_title, req),
        errors,
        ssn_in_use,
        user_id: f_user.chars().take(64).collect(),
        email: f_email.chars().take(254).collect(),
    };
    ctx.finish(idp, html(StatusCode::BAD_REQUEST, page))
}

pub async fn signup_post(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Form(f): Form<SignUpForm>,
) -> Response {
    if !idp.check_csrf(&ctx.headers, &f.csrf).await {
        return csrf_refused(&idp, &ctx);
    }
    let t = ctx.t;
    let mut errors = vec![];
    let key = user_key(&f.user_id);
    match &key {
        None => errors.push(error_msg(t, &IdpError::InvalidUserId)),
        Some(k) => match idp.store.user_key_taken(k).await {
            Ok(true) => errors.push(error_msg(t, &IdpError::Store(StoreError::UserIdTaken))),
            Ok(false) => {}
            Err(e) => return internal(&idp, &ctx, e),
        },
    }
    let email = check_email(&f.email);
    if let Err(e) = &email {
        errors.push(error_msg(t, e));
    }
    let pw = crate::password::check_new(&f.password, key.as_deref().unwrap_or(""));
    if let Err(p) = &pw {
        errors.push(error_msg(t, &IdpError::Password(*p)));
    }
    let ssn_hmac = match Ssn::parse(&f.ssn) {
        Err(e) => {
            errors.push(error_msg(t, &IdpError::Ssn(e)));
            None
        }
        Ok(ssn) => {
            let h = idp.ssn_hash(&ssn);
            match idp.store.citizen_ssn_taken(&h).await {
                Ok(true) => errors.push(error_msg(t, &IdpError::Store(StoreError::SsnInUse))),
                Ok(false) => {}
                Err(e) => return internal(&idp, &ctx, e),
            }
            Some(h)
        }
    };
    let (Some(key), Ok(email), Ok(pw), Some(ssn_hmac), true) =
        (key, email, pw, ssn_hmac, errors.is_empty())
    else {
        tracing::info!(outcome = "refused", "sign-up refused");
        return signup_again(&idp, &ctx, &f.req, &f.user_id, &f.email, errors);
    };
    let hash = idp.hashing(move |h| h.hash(&pw)).await;
    let pending = PendingSignup {
        user_id: f.user_id.trim().to_string(),
        key,
        email: email.clone(),
        hash,
        ssn_hmac,
    };
    let flow = random_token();
    let payload = serde_json::to_string(&pending).expect("pending sign-up as JSON");
    if let Err(e) = idp
        .send_code(
            t,
            &flow,
            "signup",
            None,
            payload,
            Some(&email),
            t.mail_signup_subject,
        )
        .await
    {
        return internal(&idp, &ctx, e);
    }
    tracing::info!("sign-up code sent");
    code_page(
        &idp,
        &ctx,
        &f.req,
        CodeKind::Signup,
        flow,
        None,
        t.code_sent,
    )
}

pub async fn signup_verify(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Form(f): Form<CodeForm>,
) -> Response {
    if !idp.check_csrf(&ctx.headers, &f.csrf).await {
        return csrf_refused(&idp, &ctx);
    }
    let otp = match idp.check_code(&f.flow, "signup", &f.code).await {
        Ok(Some(o)) => o,
        Ok(None) => {
            return code_page(
                &idp,
                &ctx,
                &f.req,
                CodeKind::Signup,
                f.flow,
                Some(Msg {
                    code: "IDP-CODE-WRONG",
                    text: ctx.t.code_wrong,
                }),
                "",
            )
        }
        Err(e) => return internal(&idp, &ctx, e),
    };
    let Ok(p) = serde_json::from_str::<PendingSignup>(&otp.payload) else {
        return error_page(
            &idp,
            &ctx,
            StatusCode::BAD_REQUEST,
            ctx.t.expired,
            "IDP-FLOW-EXPIRED",
        );
    };
    let created = idp
        .create_prepared(
            &p.user_id,
            &p.key,
            &p.email,
            AcctType::Citizen,
            &p.hash,
            Some(&p.ssn_hmac),
        )
        .await;
    let id = match created {
        Ok(id) => {
            idp.metrics.sign_ups.inc();
            id
        }
        Err(e @ IdpError::Store(StoreError::SsnInUse | StoreError::UserIdTaken)) => {
            return signup_again(
                &idp,
                &ctx,
                &f.req,
                &p.user_id,
                "",
                vec![error_msg(ctx.t, &e)],
            )
        }
        Err(e) => return internal(&idp, &ctx, e),
    };
    match idp.store.account_by_id(id).await {
        Ok(Some(a)) => complete_login(&idp, &ctx, &a, &f.req, "pwd").await,
        Ok(None) => internal(&idp, &ctx, "account vanished"),
        Err(e) => internal(&idp, &ctx, e),
    }
}

// ---- forgot password ----

pub async fn forgot_page(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Query(q): Query<ReqQuery>,
) -> Response {
    let page = ForgotPage {
        b: base(&idp, &ctx, "/idp/forgot", ctx.t.forgot_title, &q.req),
        choose: false,
        flow: String::new(),
    };
    ctx.finish(&idp, html(StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct ForgotForm {
    csrf: String,
    #[serde(default)]
    req: String,
    user_id: String,
}

/// Same answer for known and unknown user IDs: a flow and the choice of options.
pub async fn forgot_post(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Form(f): Form<ForgotForm>,
) -> Response {
    if !idp.check_csrf(&ctx.headers, &f.csrf).await {
        return csrf_refused(&idp, &ctx);
    }
    if f.user_id.chars().count() > 256 {
        return error_page(
            &idp,
            &ctx,
            StatusCode::BAD_REQUEST,
            ctx.t.bad_request,
            "IDP-TOO-LONG",
        );
    }
    let account = match user_key(&f.user_id) {
        Some(k) => match idp.store.account_by_key(&k).await {
            Ok(a) => a,
            Err(e) => return internal(&idp, &ctx, e),
        },
        None => None,
    };
    let flow = random_token();
    let otp = Otp {
        id: flow.clone(),
        purpose: "reset".into(),
        account_id: account.map(|a| a.id),
        payload: String::new(),
        code_hash: String::new(),
        attempts: 0,
        expires_at: idp.now() + OTP_SECONDS,
        used_at: None,
    };
    if let Err(e) = idp.store.save_otp(&otp, idp.now()).await {
        return internal(&idp, &ctx, e);
    }
    let page = ForgotPage {
        b: base(&idp, &ctx, "/idp/forgot", ctx.t.choose_title, &f.req),
        choose: true,
        flow,
    };
    ctx.finish(&idp, html(StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct ChooseForm {
    csrf: String,
    #[serde(default)]
    req: String,
    flow: String,
    option: String,
}

pub async fn forgot_choose(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Form(f): Form<ChooseForm>,
) -> Response {
    if !idp.check_csrf(&ctx.headers, &f.csrf).await {
        return csrf_refused(&idp, &ctx);
    }
    let now = idp.now();
    let flow = match idp.store.otp(&f.flow).await {
        Ok(Some(o)) if o.purpose == "reset" && o.used_at.is_none() && o.expires_at > now => o,
        Ok(_) => {
            return error_page(
                &idp,
                &ctx,
                StatusCode::BAD_REQUEST,
                ctx.t.expired,
                "IDP-FLOW-EXPIRED",
            )
        }
        Err(e) => return internal(&idp, &ctx, e),
    };
    if f.option == "email" {
        let account = match flow.account_id {
            Some(id) => idp.store.account_by_id(id).await.ok().flatten(),
            None => None,
        };
        let r = idp
            .send_code(
                ctx.t,
                &format!("{}e", f.flow),
                "reset-email",
                account.as_ref().map(|a| a.id),
                String::new(),
                account.as_ref().map(|a| a.email.as_str()),
                ctx.t.mail_reset_subject,
            )
            .await;
        if let Err(e) = r {
            if !matches!(e, IdpError::Store(StoreError::Db(_))) {
                return internal(&idp, &ctx, e);
            }
        }
        return code_page(
            &idp,
            &ctx,
            &f.req,
            CodeKind::Reset,
            f.flow,
            None,
            ctx.t.code_sent,
        );
    }
    code_page(&idp, &ctx, &f.req, CodeKind::Reset, f.flow, None, "")
}

pub async fn forgot_verify(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Form(f): Form<CodeForm>,
) -> Response {
    if !idp.check_csrf(&ctx.headers, &f.csrf).await {
        return csrf_refused(&idp, &ctx);
    }
    let now = idp.now();
    let wrong = |idp: &Idp, ctx: &Ctx, flow: String, msg: Msg| {
        code_page(idp, ctx, &f.req, CodeKind::Reset, flow, Some(msg), "")
    };
    let flow = match idp.store.otp(&f.flow).await {
        Ok(Some(o)) if o.purpose == "reset" && o.used_at.is_none() && o.expires_at > now => o,
        Ok(_) => {
            return error_page(
                &idp,
                &ctx,
                StatusCode::BAD_REQUEST,
                ctx.t.expired,
                "IDP-FLOW-EXPIRED",
            )
        }
        Err(e) => return internal(&idp, &ctx, e),
    };
    let account = match flow.account_id {
        Some(id) => idp.store.account_by_id(id).await.ok().flatten(),
        None => None,
    };
    // The new password is checked first, so a refused password does not spend the code.
    let key = account
        .as_ref()
        .and_then(|a| user_key(&a.user_id))
        .unwrap_or_default();
    if let Err(p) = crate::password::check_new(&f.password, &key) {
        return wrong(
            &idp,
            &ctx,
            f.flow.clone(),
            Msg {
                code: p.code(),
                text: problem_text(ctx.t, p),
            },
        );
    }
    let tries_left = idp
        .store
        .otp_try(&f.flow, OTP_TRIES, now)
        .await
        .unwrap_or(false);
    let ok = tries_left
        && match &account {
            Some(a) => {
                idp.totp_accept(a, &f.code, now).await
                    || matches!(
                        idp.check_code(&format!("{}e", f.flow), "reset-email", &f.code)
                            .await,
                        Ok(Some(_))
                    )
            }
            None => false,
        };
    let (true, Some(account)) = (ok, account) else {
        tracing::info!(outcome = "wrong", "password reset refused");
        return wrong(
            &idp,
            &ctx,
            f.flow.clone(),
            Msg {
                code: "IDP-CODE-WRONG",
                text: ctx.t.code_wrong,
            },
        );
    };
    if let Err(e) = idp.change_password(&account, &f.password).await {
        return internal(&idp, &ctx, e);
    }
    idp.metrics.password_resets.inc();
    let _ = idp.store.otp_use(&f.flow, now).await;
    let page = MessagePage {
        b: base(&idp, &ctx, "/idp/signin", ctx.t.forgot_title, &f.req),
        text: ctx.t.reset_done,
        code: "",
        is_error: false,
        show_helpline: false,
        link: format!("/idp/signin?req={}", clean_req(&f.req)),
        link_text: ctx.t.sign_in,
    };
    ctx.finish(&idp, html(StatusCode::OK, page))
}

// ---- account settings ----

/// The signed-in account of this browser, if any.
pub async fn session_account(
    idp: &Idp,
    ctx: &Ctx,
) -> Option<(Account, crate::store::Session, String)> {
    let token = crate::web::cookie(&ctx.headers, "idp_session")?;
    let hash = token_hash(&token);
    let s = idp.store.session(&hash, idp.now()).await.ok()??;
    let a = idp.store.account_by_id(s.account_id).await.ok()??;
    (!a.disabled).then_some((a, s, hash))
}

async fn settings(
    idp: &Idp,
    ctx: &Ctx,
    account: &Account,
    notice: &'static str,
    error: Option<Msg>,
) -> Response {
    let (mut secret, mut uri, mut flow, mut qr) =
        (String::new(), String::new(), String::new(), String::new());
    if account.totp_secret.is_none() {
        let s = Secret::generate_secret().to_encoded().to_string();
        if let Some(t) = totp_for(&s, &account.user_id) {
            uri = t.get_url();
            qr = t.get_qr_base64().unwrap_or_default();
        }
        flow = random_token();
        let otp = Otp {
            id: flow.clone(),
            purpose: "totp-enrol".into(),
            account_id: Some(account.id),
            payload: s.clone(),
            code_hash: String::new(),
            attempts: 0,
            expires_at: idp.now() + OTP_SECONDS,
            used_at: None,
        };
        if let Err(e) = idp.store.save_otp(&otp, idp.now()).await {
            return internal(idp, ctx, e);
        }
        secret = s;
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = SettingsPage {
        b: base(idp, ctx, "/idp/account", ctx.t.settings_title, ""),
        notice,
        error,
        user_id: account.user_id.clone(),
        acct_type: account.acct_type.as_str(),
        totp_on: account.totp_secret.is_some(),
        totp_secret: secret,
        totp_uri: uri,
        totp_flow: flow,
        totp_qr: qr,
    };
    ctx.finish(idp, html(status, page))
}

pub async fn settings_page(State(idp): State<Arc<Idp>>, ctx: Ctx) -> Response {
    match session_account(&idp, &ctx).await {
        Some((a, _, _)) => settings(&idp, &ctx, &a, "", None).await,
        None => ctx.finish(&idp, Redirect::to("/idp/signin").into_response()),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    password: String,
}

pub async fn settings_password(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Form(f): Form<PasswordForm>,
) -> Response {
    if !idp.check_csrf(&ctx.headers, &f.csrf).await {
        return csrf_refused(&idp, &ctx);
    }
    let Some((account, _, _)) = session_account(&idp, &ctx).await else {
        return ctx.finish(&idp, Redirect::to("/idp/signin").into_response());
    };
    match idp.sign_in(&account.user_id, &f.current).await {
        Ok(SignInOutcome::Success(_)) => {}
        Ok(SignInOutcome::Locked(_)) => {
            return settings(
                &idp,
                &ctx,
                &account,
                "",
                Some(Msg {
                    code: "IDP-LOCKED",
                    text: ctx.t.locked,
                }),
            )
            .await
        }
        Ok(_) => {
            return settings(
                &idp,
                &ctx,
                &account,
                "",
                Some(Msg {
                    code: "IDP-SIGNIN-FAILED",
                    text: ctx.t.wrong,
                }),
            )
            .await
        }
        Err(e) => return internal(&idp, &ctx, e),
    }
    match idp.change_password(&account, &f.password).await {
        Ok(()) => {}
        Err(e @ IdpError::Password(_)) => {
            return settings(&idp, &ctx, &account, "", Some(error_msg(ctx.t, &e))).await
        }
        Err(e) => return internal(&idp, &ctx, e),
    }
    // Every session ended; this browser gets a new one.
    let now = idp.now();
    let token = random_token();
    if let Err(e) = idp
        .store
        .create_session(
            &token_hash(&token),
            account.id,
            "pwd",
            now,
            now + SESSION_SECONDS,
        )
        .await
    {
        return internal(&idp, &ctx, e);
    }
    let mut resp = settings(&idp, &ctx, &account, ctx.t.password_changed, None).await;
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&idp, "idp_session", &token, Some(SESSION_SECONDS)),
    );
    resp
}

#[derive(Deserialize)]
pub struct TotpForm {
    csrf: String,
    flow: String,
    code: String,
}

pub async fn settings_totp(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Form(f): Form<TotpForm>,
) -> Response {
    if !idp.check_csrf(&ctx.headers, &f.csrf).await {
        return csrf_refused(&idp, &ctx);
    }
    let Some((account, _, _)) = session_account(&idp, &ctx).await else {
        return ctx.finish(&idp, Redirect::to("/idp/signin").into_response());
    };
    let now = idp.now();
    let otp = match idp.store.otp(&f.flow).await {
        Ok(Some(o))
            if o.purpose == "totp-enrol"
                && o.account_id == Some(account.id)
                && o.used_at.is_none()
                && o.expires_at > now =>
        {
            o
        }
        Ok(_) => {
            return error_page(
                &idp,
                &ctx,
                StatusCode::BAD_REQUEST,
                ctx.t.expired,
                "IDP-FLOW-EXPIRED",
            )
        }
        Err(e) => return internal(&idp, &ctx, e),
    };
    let tries = idp
        .store
        .otp_try(&f.flow, OTP_TRIES, now)
        .await
        .unwrap_or(false);
    if !(tries && totp_ok(&otp.payload, &account.user_id, &f.code, now)) {
        return settings(
            &idp,
            &ctx,
            &account,
            "",
            Some(Msg {
                code: "IDP-CODE-WRONG",
                text: ctx.t.code_wrong,
            }),
        )
        .await;
    }
    let _ = idp.store.otp_use(&f.flow, now).await;
    if let Err(e) = idp.store.set_totp(account.id, Some(&otp.payload)).await {
        return internal(&idp, &ctx, e);
    }
    // The code just used cannot sign in again.
    if let Some(step) = totp_step(&otp.payload, &account.user_id, &f.code, now) {
        let _ = idp.store.use_totp_step(account.id, step).await;
    }
    tracing::info!(account = account.id, "authenticator app enrolled");
    let mut updated = account.clone();
    updated.totp_secret = Some(otp.payload);
    settings(&idp, &ctx, &updated, ctx.t.totp_enrolled, None).await
}

/// Ends this browser's session (cookie cleared).
pub fn clear_session_cookie(idp: &Idp, resp: &mut Response) {
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(idp, "idp_session", "", Some(0)),
    );
}

pub fn signed_out_page(idp: &Idp, ctx: &Ctx) -> Response {
    let page = MessagePage {
        b: base(idp, ctx, "/idp/signin", ctx.t.sign_out, ""),
        text: ctx.t.signed_out,
        code: "",
        is_error: false,
        show_helpline: false,
        link: "/idp/signin".into(),
        link_text: ctx.t.sign_in,
    };
    let mut r = ctx.finish(idp, html(StatusCode::OK, page));
    clear_session_cookie(idp, &mut r);
    r
}

/// "Do you want to sign out?" for a relying party's logout request, carrying its (already
/// checked) return address and state to the POST.
pub fn logout_confirm_page(
    idp: &Idp,
    ctx: &Ctx,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
) -> Response {
    let mut b = base(idp, ctx, "/idp/logout", ctx.t.sign_out, "");
    // The language switch keeps the request's parameters.
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("lang", ctx.t.other_lang);
    for (k, v) in [
        ("client_id", &client_id),
        ("post_logout_redirect_uri", &post_logout_redirect_uri),
        ("state", &state),
    ] {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    b.switch_url = format!("/idp/logout?{}", q.finish());
    let page = LogoutPage {
        b,
        client_id,
        post_logout_redirect_uri,
        state,
    };
    ctx.finish(idp, html(StatusCode::OK, page))
}
