//! HL7 v2 over HTTP: `POST /hl7/v2`, one message per request, HTTP Basic credentials of the
//! sending facility; the response body is the ACK.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use chrono::Utc;

use crate::credentials::{verify_password, VerifiedCache};
use crate::ingest::{Authority, Ingestor};
use crate::metrics::Metrics;

/// Largest message accepted over HTTP. A VXU with a long history is tens of kilobytes.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
pub const HL7_CONTENT_TYPE: &str = "x-application/hl7-v2+er7";

pub struct Hl7Http {
    pub ingestor: Arc<Ingestor>,
    pub metrics: Metrics,
    pub cache: VerifiedCache,
}

pub fn router(state: Arc<Hl7Http>) -> Router {
    Router::new()
        .route("/hl7/v2", post(receive))
        .layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES))
        .with_state(state)
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn content_type_ok(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        mime.as_str(),
        "x-application/hl7-v2+er7"
            | "application/hl7-v2"
            | "application/hl7-v2+er7"
            | "text/plain"
            | ""
    )
}

/// Checks HTTP Basic credentials; returns the facility they belong to.
pub async fn authenticate(state: &Hl7Http, user: &str, password: &str) -> Option<String> {
    let cred = state.ingestor.store().credential(user).await.ok()??;
    if cred.disabled {
        return None;
    }
    if state.cache.is_verified(user, password) {
        return Some(cred.facility_id);
    }
    let (pw, hash) = (password.to_string(), cred.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .unwrap_or(false);
    if ok {
        state.cache.remember(user, password);
        Some(cred.facility_id)
    } else {
        None
    }
}

async fn receive(State(state): State<Arc<Hl7Http>>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let Some((user, password)) = basic_credentials(&headers) else {
        state.metrics.auth_failure("http");
        let mut r = plain(
            StatusCode::UNAUTHORIZED,
            "HTTP Basic credentials of a registered facility are required (imms org add).",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"imms HL7\", charset=\"UTF-8\""
                .parse()
                .expect("valid header"),
        );
        return r;
    };
    let Some(facility) = authenticate(&state, &user, &password).await else {
        state.metrics.auth_failure("http");
        let store = state.ingestor.store();
        let _ = store
            .audit(
                Utc::now(),
                &format!("user:{}", user.chars().take(64).collect::<String>()),
                None,
                None,
                "refused credentials",
            )
            .await;
        tracing::warn!(
            transport = "http",
            "refused HL7 request: unknown user or wrong password"
        );
        let mut r = plain(
            StatusCode::UNAUTHORIZED,
            "The user name or password is wrong, or the credential is disabled.",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"imms HL7\", charset=\"UTF-8\""
                .parse()
                .expect("valid header"),
        );
        return r;
    };
    if !content_type_ok(&headers) {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the message as x-application/hl7-v2+er7 (or text/plain).",
        );
    }
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return plain(
            StatusCode::BAD_REQUEST,
            "The request body is empty: send one HL7 v2 message per request.",
        );
    }
    let Ok(raw) = std::str::from_utf8(&body) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "The message is not valid UTF-8 text.",
        );
    };
    let (ack, outcome, control_id) = match crate::exchange::answer(
        &state.ingestor,
        raw,
        Authority::Facility(&facility),
    )
    .await
    {
        Ok(a) => (a.text, a.code, a.control_id),
        Err(e) => {
            tracing::error!(transport = "http", facility = %facility, error = %e, "could not store an HL7 message");
            (state.ingestor.internal_error_ack(raw), "AR", String::new())
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.observe("http", &facility, outcome, seconds);
    tracing::info!(transport = "http", facility = %facility, control_id = %control_id, outcome, ms = seconds * 1000.0, "HL7 message answered");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HL7_CONTENT_TYPE)],
        ack,
    )
        .into_response()
}
