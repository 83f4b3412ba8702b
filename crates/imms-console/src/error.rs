//! The console's one error type; each becomes a page that says what happened and what to do.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use imms_registry::store::changes::ChangeError;
use imms_web::WebError;

use crate::pages::{self, Chrome};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("the console is not set up: {0}")]
    Setup(String),
    #[error("sign-in did not finish: {0}. Try signing in again.")]
    SignIn(String),
    #[error("citizen accounts cannot use the provider console. Sign in with your employee, third-party or worker account; to get your own record, use the portal.")]
    Citizen,
    #[error("your account has no access to the provider console. Ask a registry administrator to add you to your organization's staff.")]
    NotStaff,
    #[error("the form is out of date or did not come from this site; nothing was changed. Go back, reload the page and try again.")]
    Csrf,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("someone else changed this dose after you opened it; nothing was saved. Open the record again to see their change, then make yours if it is still needed.")]
    Stale,
    #[error("{0}")]
    Invalid(String),
    #[error("the identity provider could not be reached: {0}. Try again in a minute.")]
    Unavailable(String),
    #[error(
        "something went wrong on our side; nothing was changed. Try again, or call the helpline."
    )]
    Internal(String),
}

impl ConsoleError {
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::Setup(_) | ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ConsoleError::SignIn(_) | ConsoleError::Invalid(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Citizen
            | ConsoleError::NotStaff
            | ConsoleError::Csrf
            | ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::Stale => StatusCode::CONFLICT,
            ConsoleError::Unavailable(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

impl From<ChangeError> for ConsoleError {
    fn from(e: ChangeError) -> ConsoleError {
        match e {
            ChangeError::NotFound(s) => ConsoleError::NotFound(s),
            ChangeError::Forbidden(s) => ConsoleError::Forbidden(s),
            ChangeError::Stale => ConsoleError::Stale,
            ChangeError::Invalid(s) => ConsoleError::Invalid(s),
            ChangeError::Store(s) => ConsoleError::Internal(s.to_string()),
        }
    }
}

impl From<imms_registry::store::StoreError> for ConsoleError {
    fn from(e: imms_registry::store::StoreError) -> ConsoleError {
        ConsoleError::Internal(e.to_string())
    }
}

impl From<WebError> for ConsoleError {
    fn from(e: WebError) -> ConsoleError {
        match e {
            WebError::Csrf => ConsoleError::Csrf,
            WebError::Sealed => ConsoleError::SignIn(e.to_string()),
            WebError::SignIn(s) => ConsoleError::SignIn(s),
            WebError::Provider(s) => ConsoleError::Unavailable(s),
            other => ConsoleError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if let ConsoleError::Internal(detail) | ConsoleError::Setup(detail) = &self {
            // Store and provider errors carry no personal data (ids and SQL states only).
            tracing::error!(error = %detail, "console request failed");
        }
        let title = match self.status() {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Changed by someone else",
            StatusCode::BAD_REQUEST => "Please check and try again",
            _ => "Something went wrong",
        };
        pages::message(
            self.status(),
            Chrome::anonymous(title),
            &sentence(&self.to_string()),
            true,
        )
    }
}

/// A message as a sentence: a capital first letter and a full stop.
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(sentence("not found: dose 7"), "Not found: dose 7.");
        assert_eq!(sentence("Try again."), "Try again.");
        assert_eq!(
            sentence(&ConsoleError::Citizen.to_string())[..17],
            *"Citizen accounts "
        );
    }
}
