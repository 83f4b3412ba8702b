//! The sign-in in flight: between sending the browser to the provider and its return, the
//! state, nonce and PKCE verifier live in a sealed cookie scoped to the callback path, valid
//! for ten minutes (the expiry is inside the sealed value), cleared on return. Nothing is stored server-side for someone who has not
//! signed in yet, so abandoned sign-ins cost nothing.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use crate::oidc::PendingLogin;
use crate::seal::Sealer;
use crate::WebError;

const TTL_SECONDS: i64 = 600;

#[derive(Clone)]
pub struct LoginCookies {
    sealer: Sealer,
    cookie_name: &'static str,
    callback_path: &'static str,
    secure: bool,
}

impl LoginCookies {
    pub fn new(
        sealer: Sealer,
        cookie_name: &'static str,
        callback_path: &'static str,
        secure: bool,
    ) -> LoginCookies {
        LoginCookies {
            sealer,
            cookie_name,
            callback_path,
            secure,
        }
    }

    /// Adds the sealed pending sign-in to the jar.
    pub fn remember(&self, jar: CookieJar, pending: &PendingLogin) -> CookieJar {
        let value = self.sealer.seal(self.cookie_name, pending, TTL_SECONDS);
        jar.add(self.cookie(value))
    }

    /// The pending sign-in of this browser, and the jar with it cleared.
    pub fn take(&self, jar: CookieJar) -> (CookieJar, Result<PendingLogin, WebError>) {
        let pending = match jar.get(self.cookie_name) {
            Some(c) => self.sealer.open(self.cookie_name, c.value()),
            None => Err(WebError::SignIn(
                "this browser has no sign-in in progress (cookies off, or it took over ten minutes)".into(),
            )),
        };
        let mut removal = self.cookie(String::new());
        removal.make_removal();
        (jar.add(removal), pending)
    }

    fn cookie(&self, value: String) -> Cookie<'static> {
        Cookie::build((self.cookie_name, value))
            .path(self.callback_path)
            .http_only(true)
            .secure(self.secure)
            // Lax: the provider's redirect back is a top-level cross-site GET.
            .same_site(SameSite::Lax)
            .build()
    }
}
