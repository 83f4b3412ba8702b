//! The CDC IIS SOAP web service: `POST /hl7/soap` (SOAP 1.2, document/literal) with
//! `connectivityTest` and `submitSingleMessage`, and its WSDL at `GET /hl7/soap?wsdl`.
//!
//! `submitSingleMessage` carries the facility's credential (`imms org add`) as username and
//! password; facilityID, when given, must be the facility the credential belongs to, and so
//! must MSH-4. The message then takes the one path every transport takes
//! ([`crate::exchange::answer`]) and its ACK or RSP is the `return` value.
//!
//! Faults are SOAP 1.2 faults with the WSDL's detail elements: SecurityFault (credentials),
//! MessageTooLargeFault (a body or message over the limit, refused before it is read),
//! UnsupportedOperationFault (any other operation), UnknownFault (XML that is malformed,
//! declares a DTD or entities, is not SOAP 1.2, or a failure of ours).

pub mod envelope;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;

use crate::http::{authenticate, Hl7Http, MAX_MESSAGE_BYTES};
use crate::ingest::Authority;
use envelope::{fault, read_request, response, Fault, FaultKind, Request};

/// The WSDL, with `{LOCATION}` for the service address.
pub const WSDL_TEMPLATE: &str = include_str!("cdc_iis.wsdl");
/// Largest request envelope read: the largest message, escaped, plus the envelope.
pub const MAX_ENVELOPE_BYTES: usize = 2 * MAX_MESSAGE_BYTES + 64 * 1024;
pub const SOAP12_CONTENT_TYPE: &str = "application/soap+xml; charset=utf-8";

pub struct Soap {
    pub hl7: Arc<Hl7Http>,
    /// The service address written into the WSDL (IMMS_PUBLIC_URL + /hl7/soap).
    pub endpoint: String,
}

/// The WSDL for a service at `endpoint` (escaped by quick-xml).
pub fn wsdl(endpoint: &str) -> String {
    WSDL_TEMPLATE.replace("{LOCATION}", &quick_xml::escape::escape(endpoint))
}

pub fn router(state: Arc<Soap>) -> Router {
    Router::new()
        .route("/hl7/soap", get(get_wsdl).post(receive))
        // The body is read below with its own limit, so that too large gets a SOAP fault.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn get_wsdl(State(state): State<Arc<Soap>>, RawQuery(query): RawQuery) -> Response {
    if query.is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            wsdl(&state.endpoint),
        )
            .into_response()
    } else {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The CDC IIS SOAP web service: POST SOAP 1.2 requests here; the WSDL is at /hl7/soap?wsdl.\n",
        )
            .into_response()
    }
}

fn fault_response(f: &Fault) -> Response {
    let status = match f.kind {
        FaultKind::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    (
        status,
        [(header::CONTENT_TYPE, SOAP12_CONTENT_TYPE)],
        fault(f),
    )
        .into_response()
}

fn too_large(size: usize, max: usize, what: &str) -> Fault {
    let mut f = Fault::new(
        FaultKind::MessageTooLarge,
        &format!(
            "The {what} is larger than this service accepts ({max} bytes); nothing was stored."
        ),
        "Send one HL7 message per request, at most 1 MiB.",
    );
    f.sizes = Some((size, max));
    f
}

fn unknown(reason: &str) -> Fault {
    Fault::new(
        FaultKind::Unknown,
        reason,
        "Send a SOAP 1.2 request as the WSDL at /hl7/soap?wsdl describes.",
    )
}

async fn receive(State(state): State<Arc<Soap>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    // Refuse by the declared length before reading anything.
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > MAX_ENVELOPE_BYTES {
            return fault_response(&too_large(len, MAX_ENVELOPE_BYTES, "request"));
        }
    }
    let bytes = match axum::body::to_bytes(body, MAX_ENVELOPE_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return fault_response(&too_large(
                MAX_ENVELOPE_BYTES + 1,
                MAX_ENVELOPE_BYTES,
                "request",
            ))
        }
    };
    let Ok(xml) = std::str::from_utf8(&bytes) else {
        return fault_response(&unknown("The request is not UTF-8 text."));
    };
    let request = match read_request(xml) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(transport = "soap", error = %e, "refused a SOAP request");
            return fault_response(&unknown(&format!("The request could not be read: {e}.")));
        }
    };
    match request {
        Request::ConnectivityTest { echo_back } => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, SOAP12_CONTENT_TYPE)],
            response("connectivityTest", &echo_back),
        )
            .into_response(),
        Request::Unsupported { name } => {
            let name: String = name.chars().take(64).collect();
            fault_response(&Fault::new(
                FaultKind::UnsupportedOperation,
                &format!("The operation {name} is not supported; this service offers connectivityTest and submitSingleMessage."),
                "See the WSDL at /hl7/soap?wsdl.",
            ))
        }
        Request::SubmitSingleMessage {
            username,
            password,
            facility_id,
            hl7_message,
        } => {
            submit(
                &state,
                &username,
                &password,
                &facility_id,
                &hl7_message,
                started,
            )
            .await
        }
    }
}

async fn submit(
    state: &Soap,
    username: &str,
    password: &str,
    facility_id: &str,
    hl7_message: &str,
    started: Instant,
) -> Response {
    let hl7 = &state.hl7;
    let security = |reason: &str| {
        Fault::new(
            FaultKind::Security,
            reason,
            "Use the username and password that imms org add printed for this facility.",
        )
    };
    let facility = if username.is_empty() {
        None
    } else {
        authenticate(hl7, username, password).await
    };
    let Some(facility) = facility else {
        hl7.metrics.auth_failure("soap");
        let _ = hl7
            .ingestor
            .store()
            .audit(
                Utc::now(),
                &format!("user:{}", username.chars().take(64).collect::<String>()),
                None,
                None,
                "refused credentials",
            )
            .await;
        tracing::warn!(
            transport = "soap",
            "refused SOAP request: unknown user or wrong password"
        );
        return fault_response(&security(
            "The username or password is wrong, or the credential is disabled.",
        ));
    };
    if !facility_id.trim().is_empty() && facility_id.trim() != facility {
        hl7.metrics.auth_failure("soap");
        tracing::warn!(transport = "soap", facility = %facility, "refused SOAP request: facilityID is not the credential's facility");
        return fault_response(&security(
            "facilityID is not the facility these credentials belong to.",
        ));
    }
    if hl7_message.len() > MAX_MESSAGE_BYTES {
        return fault_response(&too_large(
            hl7_message.len(),
            MAX_MESSAGE_BYTES,
            "HL7 message",
        ));
    }
    if hl7_message.trim().is_empty() {
        return fault_response(&unknown(
            "hl7Message is empty: send one HL7 v2 message per request.",
        ));
    }
    let (text, outcome, control_id, kind) = match crate::exchange::answer(
        &hl7.ingestor,
        hl7_message,
        Authority::Facility(&facility),
    )
    .await
    {
        Ok(a) => (a.text, a.code, a.control_id, a.kind),
        Err(e) => {
            tracing::error!(transport = "soap", facility = %facility, error = %e, "could not store an HL7 message");
            (
                hl7.ingestor.internal_error_ack(hl7_message),
                "AR",
                String::new(),
                "VXU",
            )
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    hl7.metrics.observe("soap", &facility, outcome, seconds);
    tracing::info!(transport = "soap", facility = %facility, control_id = %control_id, kind, outcome, ms = seconds * 1000.0, "HL7 message answered");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, SOAP12_CONTENT_TYPE)],
        response("submitSingleMessage", &text),
    )
        .into_response()
}
