//! OpenID Connect: discovery, JWKS, authorization (code flow, PKCE S256), token,
//! userinfo and RP-initiated logout; clients registered by `imms oidc client add`.

use std::sync::Arc;
use zeroize::Zeroizing;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::keys::TOKEN_SECONDS;
use crate::store::{Account, AuthRequest, CodeGrant};
use crate::web::{Ctx, Form};

use crate::accounts::{random_token, token_hash, IdpError};
use crate::store::Client;
use crate::Idp;

/// Minimum length of a client secret given to [`Idp::ensure_client`].
pub const MIN_CLIENT_SECRET: usize = 32;

fn check_client_id(client_id: &str) -> Result<&str, IdpError> {
    let client_id = client_id.trim();
    if client_id.is_empty()
        || client_id.len() > 200
        || client_id.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(IdpError::InvalidClient(
            "the client ID must be 1 to 200 characters without spaces",
        ));
    }
    Ok(client_id)
}

/// Redirect URIs (for codes or after logout): absolute, no fragment, https or loopback http.
fn check_redirect_uris(uris: &[String]) -> Result<(), IdpError> {
    for uri in uris {
        let u = url::Url::parse(uri)
            .map_err(|_| IdpError::InvalidClient("a redirect URI is not an absolute URL"))?;
        if u.fragment().is_some() {
            return Err(IdpError::InvalidClient(
                "a redirect URI must not have a fragment",
            ));
        }
        let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if u.scheme() != "https" && !(u.scheme() == "http" && loopback) {
            return Err(IdpError::InvalidClient(
                "redirect URIs must be https (or http on loopback)",
            ));
        }
    }
    Ok(())
}

impl Idp {
    /// Registers a client; returns its secret unless it is public. Fails with
    /// `IDP-CLIENT-EXISTS` when the client ID is taken.
    pub async fn add_client(
        &self,
        client_id: &str,
        redirect_uris: &[String],
        public: bool,
    ) -> Result<Option<Zeroizing<String>>, IdpError> {
        self.add_client_with_logout(client_id, redirect_uris, &[], public)
            .await
    }

    /// [`Idp::add_client`] with the URIs RP-initiated logout may return to.
    pub async fn add_client_with_logout(
        &self,
        client_id: &str,
        redirect_uris: &[String],
        post_logout_redirect_uris: &[String],
        public: bool,
    ) -> Result<Option<Zeroizing<String>>, IdpError> {
        let client_id = check_client_id(client_id)?;
        check_redirect_uris(redirect_uris)?;
        check_redirect_uris(post_logout_redirect_uris)?;
        let secret = (!public).then(|| Zeroizing::new(random_token()));
        self.store
            .add_client(
                &Client {
                    client_id: client_id.to_string(),
                    secret_hash: secret.as_ref().map(|s| token_hash(s)),
                    redirect_uris: redirect_uris.to_vec(),
                    post_logout_redirect_uris: post_logout_redirect_uris.to_vec(),
                    public,
                },
                self.now(),
            )
            .await?;
        tracing::info!(client_id, public, "OIDC client registered");
        Ok(secret)
    }

    /// Makes sure a client exists exactly as given, creating or updating it: safe to call
    /// at every start of every node. `secret: None` makes a public client (PKCE S256
    /// required); a secret must be at least [`MIN_CLIENT_SECRET`] characters.
    pub async fn ensure_client(
        &self,
        client_id: &str,
        redirect_uris: &[String],
        post_logout_redirect_uris: &[String],
        secret: Option<&str>,
    ) -> Result<(), IdpError> {
        let client_id = check_client_id(client_id)?;
        if redirect_uris.is_empty() {
            return Err(IdpError::InvalidClient("give at least one redirect URI"));
        }
        check_redirect_uris(redirect_uris)?;
        check_redirect_uris(post_logout_redirect_uris)?;
        if secret.is_some_and(|s| s.chars().count() < MIN_CLIENT_SECRET) {
            return Err(IdpError::InvalidClient(
                "a client secret must be at least 32 characters",
            ));
        }
        self.store
            .upsert_client(
                &Client {
                    client_id: client_id.to_string(),
                    secret_hash: secret.map(token_hash),
                    redirect_uris: redirect_uris.to_vec(),
                    post_logout_redirect_uris: post_logout_redirect_uris.to_vec(),
                    public: secret.is_none(),
                },
                self.now(),
            )
            .await?;
        tracing::info!(client_id, public = secret.is_none(), "OIDC client ensured");
        Ok(())
    }
}

/// An authorization request waits this long for the person to sign in.
const AUTH_REQUEST_SECONDS: i64 = 30 * 60;

pub async fn discovery(State(idp): State<Arc<Idp>>) -> Response {
    let iss = idp.issuer();
    let doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "end_session_endpoint": format!("{iss}/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acct_type", "preferred_username", "email", "email_verified"],
        "prompt_values_supported": ["none", "login"],
        "ui_locales_supported": ["en", "es"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    let mut r = Json(doc).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

pub async fn jwks(State(idp): State<Arc<Idp>>) -> Response {
    let mut r = Json(idp.keys.current(idp.now()).jwks()).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    r
}

#[derive(Deserialize, Default)]
pub struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
}

fn redirect_with(uri: &str, params: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(uri).expect("registered redirect URIs are URLs");
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

fn oauth_error(
    idp: &Idp,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let iss = idp.issuer();
    let mut p = vec![
        ("error", error),
        ("error_description", description),
        ("iss", iss.as_str()),
    ];
    if let Some(s) = state {
        p.push(("state", s));
    }
    tracing::info!(error, "authorization refused");
    Redirect::to(&redirect_with(redirect_uri, &p)).into_response()
}

pub async fn authorize(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    raw: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Response {
    let q = raw.map(|Query(q)| q).unwrap_or_default();
    let too_long = [
        &q.client_id,
        &q.redirect_uri,
        &q.scope,
        &q.state,
        &q.nonce,
        &q.code_challenge,
    ]
    .iter()
    .any(|v| v.as_ref().is_some_and(|v| v.len() > 2048));
    // Client and redirect URI first: until both are known good, nothing is redirected.
    let client = match &q.client_id {
        Some(id) if !too_long => match idp.store.client(id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "client look-up failed");
                None
            }
        },
        _ => None,
    };
    let Some(client) = client else {
        tracing::info!("authorization refused: unknown client");
        return crate::pages::error_page(
            &idp,
            &ctx,
            StatusCode::BAD_REQUEST,
            ctx.t.unknown_client,
            "IDP-OIDC-CLIENT",
        );
    };
    let Some(redirect_uri) = q
        .redirect_uri
        .clone()
        .filter(|r| client.redirect_uris.iter().any(|u| u == r))
    else {
        tracing::info!("authorization refused: redirect URI not registered");
        return crate::pages::error_page(
            &idp,
            &ctx,
            StatusCode::BAD_REQUEST,
            ctx.t.unknown_client,
            "IDP-OIDC-REDIRECT",
        );
    };
    let state = q.state.as_deref();
    if q.response_type.as_deref() != Some("code") {
        return oauth_error(
            &idp,
            &redirect_uri,
            state,
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    let scope = q.scope.clone().unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return oauth_error(
            &idp,
            &redirect_uri,
            state,
            "invalid_scope",
            "the openid scope is required",
        );
    }
    match (&q.code_challenge, q.code_challenge_method.as_deref()) {
        (Some(c), Some("S256"))
            if c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {}
        (Some(_), _) => {
            return oauth_error(
                &idp,
                &redirect_uri,
                state,
                "invalid_request",
                "code_challenge must be S256 (43 base64url characters)",
            )
        }
        (None, _) if client.public => {
            return oauth_error(
                &idp,
                &redirect_uri,
                state,
                "invalid_request",
                "PKCE with S256 is required for public clients",
            )
        }
        (None, _) => {}
    }
    let max_age = match q.max_age.as_deref() {
        None | Some("") => None,
        Some(m) => match m.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                return oauth_error(
                    &idp,
                    &redirect_uri,
                    state,
                    "invalid_request",
                    "max_age must be a non-negative number",
                )
            }
        },
    };
    let prompts: Vec<&str> = q
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    if prompts.iter().any(|p| !matches!(*p, "none" | "login")) {
        return oauth_error(
            &idp,
            &redirect_uri,
            state,
            "invalid_request",
            "prompt may be none or login",
        );
    }
    let prompt_login = prompts.contains(&"login");
    let now = idp.now();
    let areq = AuthRequest {
        id: crate::accounts::random_token(),
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        scope,
        state: q.state.clone(),
        nonce: q.nonce.clone(),
        code_challenge: q.code_challenge.clone(),
        max_age,
        prompt_login,
        created_at: now,
        expires_at: now + AUTH_REQUEST_SECONDS,
    };
    // An existing session answers at once unless the client asks for a fresh sign-in.
    if !prompt_login {
        if let Some((account, session, _)) = crate::pages::session_account(&idp, &ctx).await {
            let fresh = max_age.is_none_or(|m| now - session.auth_time <= m);
            if fresh {
                return match issue_code(&idp, &areq, &account, session.auth_time, &session.amr)
                    .await
                {
                    Ok(url) => Redirect::to(&url).into_response(),
                    Err(e) => {
                        tracing::error!(error = %e, "could not issue a code");
                        crate::pages::error_page(
                            &idp,
                            &ctx,
                            StatusCode::SERVICE_UNAVAILABLE,
                            ctx.t.server_error,
                            "IDP-UNAVAILABLE",
                        )
                    }
                };
            }
        }
    }
    if prompts.contains(&"none") {
        return oauth_error(
            &idp,
            &redirect_uri,
            state,
            "login_required",
            "the person must sign in",
        );
    }
    if let Err(e) = idp.store.save_auth_request(&areq).await {
        tracing::error!(error = %e, "could not save the authorization request");
        return crate::pages::error_page(
            &idp,
            &ctx,
            StatusCode::SERVICE_UNAVAILABLE,
            ctx.t.server_error,
            "IDP-UNAVAILABLE",
        );
    }
    let lang = match ctx.lang_from_query {
        Some(l) => format!("&lang={l}"),
        None => String::new(),
    };
    ctx.finish(
        &idp,
        Redirect::to(&format!("/idp/signin?req={}{lang}", areq.id)).into_response(),
    )
}

async fn issue_code(
    idp: &Idp,
    areq: &AuthRequest,
    account: &Account,
    auth_time: i64,
    amr: &str,
) -> Result<String, IdpError> {
    let code = crate::accounts::random_token();
    idp.store
        .save_code(
            &token_hash(&code),
            &CodeGrant {
                client_id: areq.client_id.clone(),
                redirect_uri: areq.redirect_uri.clone(),
                account_id: account.id,
                scope: areq.scope.clone(),
                nonce: areq.nonce.clone(),
                code_challenge: areq.code_challenge.clone(),
                auth_time,
                amr: amr.to_string(),
                expires_at: idp.now() + idp.settings.code_seconds,
            },
        )
        .await?;
    let iss = idp.issuer();
    let mut p = vec![("code", code.as_str()), ("iss", iss.as_str())];
    if let Some(s) = &areq.state {
        p.push(("state", s));
    }
    tracing::info!(account = account.id, client_id = %areq.client_id, "authorization code issued");
    Ok(redirect_with(&areq.redirect_uri, &p))
}

/// After a sign-in: the waiting authorization request's redirect (with a code), if any.
pub(crate) async fn continue_request(
    idp: &Idp,
    req: &str,
    account: &Account,
    now: i64,
    amr: &str,
) -> Result<Option<String>, IdpError> {
    if req.is_empty() {
        return Ok(None);
    }
    let Some(areq) = idp.store.auth_request(req, now).await? else {
        return Ok(None);
    };
    idp.store.delete_auth_request(req).await?;
    Ok(Some(issue_code(idp, &areq, account, now, amr).await?))
}

#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    tracing::info!(error, "token request refused");
    let mut r = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"imms-idp\""),
        );
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let enc = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let text = String::from_utf8(STANDARD.decode(enc.trim()).ok()?).ok()?;
    let (u, p) = text.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(u)?, dec(p)?))
}

#[derive(Serialize, Deserialize)]
struct IdClaims {
    iss: String,
    sub: String,
    aud: String,
    azp: String,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    amr: Vec<String>,
    acct_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
}

#[derive(Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    sub: String,
    aud: String,
    client_id: String,
    exp: i64,
    iat: i64,
    scope: String,
    token_use: String,
    /// The grant: the hash of the (spent) code the token was issued from, so that a
    /// reused code revokes it.
    gid: String,
}

pub async fn token(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    // Client authentication: client_secret_basic, client_secret_post, or none (public).
    let basic = basic_auth(&headers);
    let (client_id, secret) = match (&basic, &f.client_id, &f.client_secret) {
        (Some((id, s)), cid, _) => {
            if cid.as_ref().is_some_and(|c| c != id) {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_id does not match the credentials",
                );
            }
            (id.clone(), Some(s.clone()))
        }
        (None, Some(id), s) => (id.clone(), s.clone()),
        (None, None, _) => {
            return token_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required",
            )
        }
    };
    let client = match idp.store.client(&client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return token_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or bad credentials",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "client look-up failed");
            return token_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later",
            );
        }
    };
    match (&client.secret_hash, &secret) {
        (Some(want), Some(got))
            if bool::from(want.as_bytes().ct_eq(token_hash(got).as_bytes())) => {}
        (None, None) => {}
        _ => {
            return token_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or bad credentials",
            )
        }
    }
    if f.grant_type.as_deref() != Some("authorization_code") {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code is supported",
        );
    }
    let (Some(code), Some(redirect_uri)) = (&f.code, &f.redirect_uri) else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code and redirect_uri are required",
        );
    };
    let now = idp.now();
    let code_hash = token_hash(code);
    let grant = match idp.store.take_code(&code_hash, now).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            // A used code presented again may be stolen: the tokens issued from it stop
            // working (RFC 6749, section 4.1.2).
            match idp.store.revoke_used_code(&code_hash, now).await {
                Ok(true) => {
                    idp.metrics.tokens_revoked.inc();
                    tracing::warn!(client_id = %client.client_id, "authorization code reused: its tokens are revoked");
                }
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "could not revoke a reused code's tokens"),
            }
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the code is unknown or was already used",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "code look-up failed");
            return token_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later",
            );
        }
    };
    if grant.client_id != client.client_id || &grant.redirect_uri != redirect_uri {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code was issued to another client or redirect URI",
        );
    }
    if grant.expires_at <= now {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code has expired",
        );
    }
    match (&grant.code_challenge, &f.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            let ok_shape = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !ok_shape || !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the PKCE code_verifier does not match",
                );
            }
        }
        (Some(_), None) => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the PKCE code_verifier is missing",
            )
        }
        (None, Some(_)) => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "no PKCE challenge was sent for this code",
            )
        }
        (None, None) => {}
    }
    let account = match idp.store.account_by_id(grant.account_id).await {
        Ok(Some(a)) if !a.disabled => a,
        Ok(_) => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the account is not available",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "account look-up failed");
            return token_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later",
            );
        }
    };
    let scopes: Vec<&str> = grant.scope.split(' ').collect();
    let iss = idp.issuer();
    let id = IdClaims {
        iss: iss.clone(),
        sub: account.subject.clone(),
        aud: client.client_id.clone(),
        azp: client.client_id.clone(),
        exp: now + TOKEN_SECONDS,
        iat: now,
        auth_time: grant.auth_time,
        nonce: grant.nonce.clone(),
        amr: grant.amr.split(' ').map(str::to_string).collect(),
        acct_type: account.acct_type.as_str().into(),
        preferred_username: scopes.contains(&"profile").then(|| account.user_id.clone()),
        email: scopes.contains(&"email").then(|| account.email.clone()),
        email_verified: scopes.contains(&"email").then_some(true),
    };
    let access = AccessClaims {
        iss: iss.clone(),
        sub: account.subject.clone(),
        aud: format!("{iss}/userinfo"),
        client_id: client.client_id.clone(),
        exp: now + TOKEN_SECONDS,
        iat: now,
        scope: grant.scope.clone(),
        token_use: "access".into(),
        gid: code_hash,
    };
    let keys = idp.keys.current(now);
    let (Ok(id_token), Ok(access_token)) = (keys.sign(&id, "JWT"), keys.sign(&access, "at+jwt"))
    else {
        return token_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "no signing key",
        );
    };
    tracing::info!(account = account.id, client_id = %client.client_id, "tokens issued");
    idp.metrics
        .tokens_issued
        .with_label_values(&[&client.client_id])
        .inc();
    let mut r = Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_SECONDS,
        "id_token": id_token,
        "scope": grant.scope,
    }))
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

pub async fn userinfo(State(idp): State<Arc<Idp>>, headers: HeaderMap) -> Response {
    let refuse = || {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token"})),
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        r
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
    else {
        return refuse();
    };
    let iss = idp.issuer();
    let aud = format!("{iss}/userinfo");
    let Some(claims) = idp
        .keys
        .current(idp.now())
        .verify::<AccessClaims>(token.trim(), &iss, Some(&aud))
        .filter(|c| c.token_use == "access")
    else {
        return refuse();
    };
    match idp.store.grant_active(&claims.gid).await {
        Ok(true) => {}
        Ok(false) => return refuse(),
        Err(e) => {
            tracing::error!(error = %e, "grant look-up failed");
            return refuse();
        }
    }
    let account = match idp.store.account_by_subject(&claims.sub).await {
        Ok(Some(a)) if !a.disabled => a,
        _ => return refuse(),
    };
    let scopes: Vec<&str> = claims.scope.split(' ').collect();
    let mut body = json!({"sub": account.subject, "acct_type": account.acct_type.as_str()});
    if scopes.contains(&"profile") {
        body["preferred_username"] = account.user_id.clone().into();
    }
    if scopes.contains(&"email") {
        body["email"] = account.email.clone().into();
        body["email_verified"] = true.into();
    }
    Json(body).into_response()
}

#[derive(Deserialize, Default)]
pub struct LogoutQuery {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

#[derive(Deserialize)]
struct HintClaims {
    aud: String,
}

/// The longest logout parameter carried through the confirmation page.
const MAX_LOGOUT_PARAM: usize = 2048;

/// RP-initiated logout, first step: a GET never ends a session by itself (a cross-site
/// link or image could), it asks the person to confirm with a button (POST with a CSRF
/// token). The client is named by the ID token hint (signature and issuer checked; it may
/// have expired) or client_id, and both must agree.
pub async fn logout_get(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    q: Result<Query<LogoutQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let too_long = [
        &q.id_token_hint,
        &q.post_logout_redirect_uri,
        &q.state,
        &q.client_id,
    ]
    .iter()
    .any(|v| v.as_ref().is_some_and(|v| v.len() > MAX_LOGOUT_PARAM));
    let hint_client = match q.id_token_hint.as_deref() {
        Some(t) if !too_long => {
            let keys = idp.keys.current(idp.now());
            match keys.verify_ignoring_expiry::<HintClaims>(t, &idp.issuer()) {
                Some(c) => Some(c.aud),
                None => {
                    tracing::info!("logout refused: the ID token hint is not ours");
                    return crate::pages::error_page(
                        &idp,
                        &ctx,
                        StatusCode::BAD_REQUEST,
                        ctx.t.bad_request,
                        "IDP-LOGOUT-HINT",
                    );
                }
            }
        }
        _ => None,
    };
    if let (Some(h), Some(c)) = (&hint_client, &q.client_id) {
        if h != c {
            tracing::info!("logout refused: client_id and ID token hint disagree");
            return crate::pages::error_page(
                &idp,
                &ctx,
                StatusCode::BAD_REQUEST,
                ctx.t.bad_request,
                "IDP-LOGOUT-CLIENT",
            );
        }
    }
    let client_id = hint_client.or(q.client_id.clone());
    // An unregistered return address is refused now rather than silently dropped later.
    let back = match (&q.post_logout_redirect_uri, &client_id) {
        (None, _) => None,
        (Some(uri), Some(cid)) if !too_long && logout_target_ok(&idp, cid, uri).await => {
            Some(uri.clone())
        }
        (Some(_), _) => {
            tracing::info!("logout refused: post_logout_redirect_uri not registered");
            return crate::pages::error_page(
                &idp,
                &ctx,
                StatusCode::BAD_REQUEST,
                ctx.t.unknown_client,
                "IDP-LOGOUT-REDIRECT",
            );
        }
    };
    let state = q.state.filter(|s| s.len() <= MAX_LOGOUT_PARAM);
    if crate::pages::session_account(&idp, &ctx).await.is_none() {
        // Nothing to end: go straight back (or say so).
        return match back {
            Some(uri) => Redirect::to(&logout_redirect(&uri, state.as_deref())).into_response(),
            None => crate::pages::signed_out_page(&idp, &ctx),
        };
    }
    crate::pages::logout_confirm_page(&idp, &ctx, client_id, back, state)
}

async fn logout_target_ok(idp: &Idp, client_id: &str, uri: &str) -> bool {
    match idp.store.client(client_id).await {
        Ok(Some(c)) => c.post_logout_redirect_uris.iter().any(|u| u == uri),
        Ok(None) => false,
        Err(e) => {
            tracing::error!(error = %e, "client look-up failed");
            false
        }
    }
}

fn logout_redirect(uri: &str, state: Option<&str>) -> String {
    match state {
        Some(s) => redirect_with(uri, &[("state", s)]),
        None => uri.to_string(),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    post_logout_redirect_uri: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// RP-initiated logout, second step (and the settings page's "Sign out"): ends the
/// session, then returns to the relying party only at a URI registered for it.
pub async fn logout_post(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    Form(f): Form<LogoutForm>,
) -> Response {
    if !idp.check_csrf(&ctx.headers, &f.csrf).await {
        return crate::pages::error_page(&idp, &ctx, StatusCode::FORBIDDEN, ctx.t.csrf, "IDP-CSRF");
    }
    if let Some((account, _, hash)) = crate::pages::session_account(&idp, &ctx).await {
        if let Err(e) = idp.store.end_session(&hash).await {
            tracing::error!(error = %e, "could not end a session");
            return crate::pages::error_page(
                &idp,
                &ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                ctx.t.server_error,
                "IDP-UNAVAILABLE",
            );
        }
        tracing::info!(account = account.id, "signed out");
    }
    if let (Some(cid), Some(uri)) = (&f.client_id, &f.post_logout_redirect_uri) {
        if uri.len() <= MAX_LOGOUT_PARAM && logout_target_ok(&idp, cid, uri).await {
            let state = f.state.as_deref().filter(|s| s.len() <= MAX_LOGOUT_PARAM);
            let mut r = Redirect::to(&logout_redirect(uri, state)).into_response();
            crate::pages::clear_session_cookie(&idp, &mut r);
            return r;
        }
    }
    crate::pages::signed_out_page(&idp, &ctx)
}
