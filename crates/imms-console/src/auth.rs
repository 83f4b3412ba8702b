//! "The signed-in member of staff" for handlers: a live console session (imms-web), an
//! account type that may use the console, and a row in the staff table. Anyone else is sent
//! to sign in (GET) or refused.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use imms_registry::store::changes::Actor;
use imms_web::Session;

use crate::{Console, ConsoleError, BASE_PATH};

/// Account types of the state's staff and contractors; citizens use the portal.
pub const STAFF_ACCOUNT_TYPES: [&str; 3] = ["employee", "third-party", "worker"];

pub fn staff_account_type(acct_type: &str) -> bool {
    STAFF_ACCOUNT_TYPES.contains(&acct_type)
}

/// A signed-in member of staff.
pub struct Staff {
    pub session: Session,
    pub actor: Actor,
}

impl Staff {
    pub fn check_csrf(&self, submitted: &str) -> Result<(), ConsoleError> {
        self.session
            .verify_csrf(submitted)
            .map_err(ConsoleError::from)
    }
}

fn signin_redirect(parts: &Parts) -> Response {
    let back = if parts.method == Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| BASE_PATH.to_string())
    } else {
        BASE_PATH.to_string()
    };
    let back: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
    Redirect::to(&format!("{BASE_PATH}/signin?return_to={back}")).into_response()
}

impl FromRequestParts<Arc<Console>> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Staff, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let session = console
            .sessions
            .current(&jar)
            .await
            .map_err(|e| ConsoleError::from(e).into_response())?;
        let Some(session) = session else {
            return Err(signin_redirect(parts));
        };
        if !staff_account_type(&session.acct_type) {
            return Err(ConsoleError::Citizen.into_response());
        }
        // Looked up on every request, so that taking access away takes effect at once.
        let member = console
            .store
            .staff_member(&session.user_id)
            .await
            .map_err(|e| ConsoleError::from(e).into_response())?;
        let Some(member) = member else {
            return Err(ConsoleError::NotStaff.into_response());
        };
        Ok(Staff {
            session,
            actor: Actor {
                user_id: member.user_id,
                facility_id: member.facility_id,
                role: member.role,
            },
        })
    }
}
