//! Signed-in sessions kept in the database, so that any node behind a load balancer serves
//! any request. The browser holds a random token; the database holds only its SHA-256, the
//! account's subject, user ID and type, the ID token (for signing out at the provider), a
//! CSRF token and a small JSON bag of ids for the application. Never personal data.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use imms_db::Database;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::oidc::SignedIn;
use crate::WebError;

/// How one application's sessions behave.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Which application owns the session ("portal", "console"): a console cookie never
    /// opens a portal session and the reverse.
    pub realm: &'static str,
    pub cookie_name: &'static str,
    pub cookie_path: &'static str,
    /// Seconds without a request after which the session ends.
    pub idle_seconds: i64,
    /// Seconds after sign-in after which the session ends however busy it is.
    pub absolute_seconds: i64,
    /// Mark cookies Secure (the public URL is HTTPS).
    pub secure: bool,
}

#[derive(Clone)]
pub struct Sessions {
    db: Database,
    config: SessionConfig,
}

#[derive(Clone, Debug)]
pub struct Session {
    id_hash: String,
    pub subject: String,
    pub user_id: String,
    pub acct_type: String,
    pub id_token: String,
    pub csrf_token: String,
    /// The application's own small state (ids only).
    pub data: serde_json::Value,
    pub created_at: i64,
    pub last_seen: i64,
}

impl Session {
    /// Checks a submitted form's CSRF token in constant time.
    pub fn verify_csrf(&self, submitted: &str) -> Result<(), WebError> {
        if !submitted.is_empty()
            && bool::from(submitted.as_bytes().ct_eq(self.csrf_token.as_bytes()))
        {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }

    /// A stable, non-reversible id of this session for audit lines.
    pub fn audit_id(&self) -> &str {
        &self.id_hash[..16]
    }
}

/// Writes of `last_seen` are skipped when the last one is this recent, so that a busy page
/// does not write to the database on every request.
const TOUCH_EVERY_SECONDS: i64 = 30;

impl Sessions {
    pub fn new(db: Database, config: SessionConfig) -> Sessions {
        Sessions { db, config }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Starts a session for a signed-in account; returns it and the cookie to set.
    pub async fn start(&self, who: &SignedIn) -> Result<(Session, Cookie<'static>), WebError> {
        let token = random_token();
        let csrf = random_token();
        let now = chrono::Utc::now().timestamp();
        let id_hash = hash(&token);
        sqlx::query(
            "INSERT INTO web_sessions (id_hash, realm, subject, user_id, acct_type, id_token, csrf_token, data, created_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, '{}', $8, $9)",
        )
        .bind(&id_hash)
        .bind(self.config.realm)
        .bind(&who.subject)
        .bind(&who.user_id)
        .bind(&who.acct_type)
        .bind(&who.id_token)
        .bind(&csrf)
        .bind(now)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        let session = Session {
            id_hash,
            subject: who.subject.clone(),
            user_id: who.user_id.clone(),
            acct_type: who.acct_type.clone(),
            id_token: who.id_token.clone(),
            csrf_token: csrf,
            data: serde_json::json!({}),
            created_at: now,
            last_seen: now,
        };
        Ok((session, self.cookie(token)))
    }

    /// The live session named by the request's cookie, or None (no cookie, unknown, another
    /// application's, idle too long or too old). Expired sessions are deleted on sight.
    pub async fn current(&self, jar: &CookieJar) -> Result<Option<Session>, WebError> {
        let Some(cookie) = jar.get(self.config.cookie_name) else {
            return Ok(None);
        };
        let id_hash = hash(cookie.value());
        let row = sqlx::query(
            "SELECT subject, user_id, acct_type, id_token, csrf_token, data, created_at, last_seen \
             FROM web_sessions WHERE id_hash = $1 AND realm = $2",
        )
        .bind(&id_hash)
        .bind(self.config.realm)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let now = chrono::Utc::now().timestamp();
        let created_at: i64 = row.try_get("created_at")?;
        let last_seen: i64 = row.try_get("last_seen")?;
        if now - last_seen > self.config.idle_seconds
            || now - created_at > self.config.absolute_seconds
        {
            self.delete(&id_hash).await?;
            return Ok(None);
        }
        if now - last_seen >= TOUCH_EVERY_SECONDS {
            sqlx::query("UPDATE web_sessions SET last_seen = $1 WHERE id_hash = $2")
                .bind(now)
                .bind(&id_hash)
                .execute(self.db.pool())
                .await?;
        }
        let data: String = row.try_get("data")?;
        Ok(Some(Session {
            id_hash,
            subject: row.try_get("subject")?,
            user_id: row.try_get("user_id")?,
            acct_type: row.try_get("acct_type")?,
            id_token: row.try_get("id_token")?,
            csrf_token: row.try_get("csrf_token")?,
            data: serde_json::from_str(&data).unwrap_or_else(|_| serde_json::json!({})),
            created_at,
            last_seen: now.max(last_seen),
        }))
    }

    /// Replaces the session's application data (keep it to ids: it is stored).
    pub async fn set_data(
        &self,
        session: &mut Session,
        data: serde_json::Value,
    ) -> Result<(), WebError> {
        sqlx::query("UPDATE web_sessions SET data = $1 WHERE id_hash = $2")
            .bind(data.to_string())
            .bind(&session.id_hash)
            .execute(self.db.pool())
            .await?;
        session.data = data;
        Ok(())
    }

    /// Ends the session; returns the cookie that clears it in the browser.
    pub async fn end(&self, session: &Session) -> Result<Cookie<'static>, WebError> {
        self.delete(&session.id_hash).await?;
        Ok(self.removal())
    }

    /// Ends every session of one account in this application (after a password change, say).
    pub async fn end_all(&self, subject: &str) -> Result<u64, WebError> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE realm = $1 AND subject = $2")
            .bind(self.config.realm)
            .bind(subject)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes sessions past their idle or absolute limit; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, WebError> {
        let now = chrono::Utc::now().timestamp();
        let done = sqlx::query(
            "DELETE FROM web_sessions WHERE realm = $1 AND (last_seen < $2 OR created_at < $3)",
        )
        .bind(self.config.realm)
        .bind(now - self.config.idle_seconds)
        .bind(now - self.config.absolute_seconds)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// A cookie that clears this application's session cookie.
    pub fn removal(&self) -> Cookie<'static> {
        let mut cookie = self.cookie(String::new());
        cookie.make_removal();
        cookie
    }

    fn cookie(&self, value: String) -> Cookie<'static> {
        Cookie::build((self.config.cookie_name, value))
            .path(self.config.cookie_path)
            .http_only(true)
            .secure(self.config.secure)
            // Lax: the provider's redirect back to us is a top-level GET that must carry it.
            .same_site(SameSite::Lax)
            .build()
    }

    async fn delete(&self, id_hash: &str) -> Result<(), WebError> {
        sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
