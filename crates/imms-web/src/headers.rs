//! Security headers for every page of the portal and the console: a strict content security
//! policy (no inline script or style, nothing framed, forms post only to us and the identity
//! provider), no sniffing, no referrer, and HSTS when the public URL is HTTPS.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

#[derive(Clone)]
pub struct SecurityHeaders {
    csp: HeaderValue,
    hsts: bool,
}

impl SecurityHeaders {
    /// `form_targets`: extra origins forms may post to (the identity provider when external).
    pub fn new(public_url: &str, form_targets: &[&str]) -> SecurityHeaders {
        let mut form_action = String::from("'self'");
        for target in form_targets {
            form_action.push(' ');
            form_action.push_str(target);
        }
        let csp = format!(
            "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             font-src 'self'; connect-src 'self'; frame-src 'self'; object-src 'self'; form-action {form_action}; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        SecurityHeaders {
            csp: HeaderValue::from_str(&csp).expect("ASCII policy"),
            hsts: public_url.starts_with("https://"),
        }
    }
}

/// Middleware: `axum::middleware::from_fn_with_state(headers, imms_web::headers::apply)`.
pub async fn apply(State(policy): State<SecurityHeaders>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, policy.csp.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("geolocation=(), microphone=(), camera=(self)"),
    );
    if policy.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}
