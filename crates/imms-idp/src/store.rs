//! The identity provider's storage on imms-db, one implementation for SQLite and
//! PostgreSQL (sqlx `Any`). Everything a node needs between two requests is here, so
//! identity nodes are stateless. Times are Unix seconds; secrets are stored as hashes.

use imms_db::Database;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::clock::Timestamp;
use crate::lockout::{Admission, LockoutPolicy};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("this user ID is already taken")]
    UserIdTaken,
    #[error("this Social Security number is already in use by a citizen account")]
    SsnInUse,
    #[error("this client ID is already registered")]
    ClientExists,
    #[error("the database failed: {0}")]
    Db(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AcctType {
    Citizen,
    Employee,
    ThirdParty,
    Worker,
}

impl AcctType {
    pub fn as_str(self) -> &'static str {
        match self {
            AcctType::Citizen => "citizen",
            AcctType::Employee => "employee",
            AcctType::ThirdParty => "third-party",
            AcctType::Worker => "worker",
        }
    }
    pub fn parse(s: &str) -> Option<AcctType> {
        Some(match s {
            "citizen" => AcctType::Citizen,
            "employee" => AcctType::Employee,
            "third-party" => AcctType::ThirdParty,
            "worker" => AcctType::Worker,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub subject: String,
    pub user_id: String,
    pub email: String,
    pub acct_type: AcctType,
    pub password_hash: String,
    pub has_ssn: bool,
    pub totp_secret: Option<String>,
    pub disabled: bool,
    pub created_at: Timestamp,
}

impl Account {
    pub fn lock_key(&self) -> String {
        format!("a:{}", self.id)
    }
}

/// Lockout state as stored (see [`crate::lockout::AttemptState`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockRow {
    pub failed_count: i64,
    pub locked_until: Option<Timestamp>,
    pub lock_events: i64,
}

pub struct NewAccount<'a> {
    pub subject: &'a str,
    pub user_id: &'a str,
    pub user_key: &'a str,
    pub email: &'a str,
    pub acct_type: AcctType,
    pub password_hash: &'a str,
    pub ssn_hmac: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back to (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AuthRequest {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub max_age: Option<i64>,
    pub prompt_login: bool,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub account_id: i64,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: Timestamp,
    pub amr: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub account_id: i64,
    pub auth_time: Timestamp,
    pub amr: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Otp {
    pub id: String,
    pub purpose: String,
    pub account_id: Option<i64>,
    pub payload: String,
    pub code_hash: String,
    pub attempts: i64,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[derive(Clone)]
pub struct IdpStore {
    db: Database,
}

const ACCOUNT_COLUMNS: &str = "id, subject, user_id, email, acct_type, password_hash, ssn_hmac, totp_secret, disabled, created_at";

fn account(row: &AnyRow) -> Result<Account, sqlx::Error> {
    let t: String = row.try_get("acct_type")?;
    Ok(Account {
        id: row.try_get("id")?,
        subject: row.try_get("subject")?,
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        acct_type: AcctType::parse(&t).unwrap_or(AcctType::Citizen),
        password_hash: row.try_get("password_hash")?,
        has_ssn: row.try_get::<Option<String>, _>("ssn_hmac")?.is_some(),
        totp_secret: row.try_get("totp_secret")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn unique_violation(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d)
            if d.is_unique_violation()
                || d.message().contains("UNIQUE")
                || d.code().as_deref() == Some("23505") =>
        {
            Some(format!("{} {}", d.message(), d.constraint().unwrap_or("")))
        }
        _ => None,
    }
}

impl IdpStore {
    pub fn new(db: Database) -> IdpStore {
        IdpStore { db }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    // ---- accounts ----

    pub async fn create_account(
        &self,
        a: &NewAccount<'_>,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        if a.acct_type == AcctType::Citizen {
            if let Some(h) = a.ssn_hmac {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM idp_accounts WHERE ssn_hmac = $1 AND acct_type = 'citizen'",
                )
                .bind(h)
                .fetch_one(self.db.pool())
                .await?;
                if n > 0 {
                    return Err(StoreError::SsnInUse);
                }
            }
        }
        let r = sqlx::query_scalar::<_, i64>(
            "INSERT INTO idp_accounts (subject, user_id, user_key, email, acct_type, password_hash, ssn_hmac, created_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(a.subject)
        .bind(a.user_id)
        .bind(a.user_key)
        .bind(a.email)
        .bind(a.acct_type.as_str())
        .bind(a.password_hash)
        .bind(a.ssn_hmac)
        .bind(now)
        .fetch_one(self.db.pool())
        .await;
        match r {
            Ok(id) => Ok(id),
            Err(e) => match unique_violation(&e) {
                Some(m) if m.contains("ssn") => Err(StoreError::SsnInUse),
                Some(_) => Err(StoreError::UserIdTaken),
                None => Err(e.into()),
            },
        }
    }

    pub async fn user_key_taken(&self, user_key: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idp_accounts WHERE user_key = $1")
            .bind(user_key)
            .fetch_one(self.db.pool())
            .await?;
        Ok(n > 0)
    }

    pub async fn citizen_ssn_taken(&self, ssn_hmac: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM idp_accounts WHERE ssn_hmac = $1 AND acct_type = 'citizen'",
        )
        .bind(ssn_hmac)
        .fetch_one(self.db.pool())
        .await?;
        Ok(n > 0)
    }

    pub async fn account_by_key(&self, user_key: &str) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM idp_accounts WHERE user_key = $1"
        ))
        .bind(user_key)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.as_ref().map(account).transpose()?)
    }

    pub async fn account_by_subject(&self, subject: &str) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM idp_accounts WHERE subject = $1"
        ))
        .bind(subject)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.as_ref().map(account).transpose()?)
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM idp_accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.as_ref().map(account).transpose()?)
    }

    /// [`crate::lockout::admit`], atomically: reserves a guess or says the key is locked.
    pub async fn admit_attempt(
        &self,
        lock_key: &str,
        now: Timestamp,
        p: &LockoutPolicy,
    ) -> Result<Admission, StoreError> {
        // Usually the counter exists and one UPDATE decides; the first attempt for a key
        // creates it and tries again.
        for _ in 0..2 {
            let guess: Option<i64> = sqlx::query_scalar(
                "UPDATE idp_lockouts SET \
                   failed_count = CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_count + 1 END, \
                   locked_until = NULL, updated_at = $3 \
                 WHERE lock_key = $1 AND ((locked_until IS NULL AND failed_count < $2) OR (locked_until IS NOT NULL AND locked_until <= $3)) \
                 RETURNING failed_count",
            )
            .bind(lock_key)
            .bind(p.max_failures as i64)
            .bind(now)
            .fetch_optional(self.db.pool())
            .await?;
            if let Some(g) = guess {
                return Ok(Admission::Allowed { guess: g as u32 });
            }
            let row: Option<Option<i64>> =
                sqlx::query_scalar("SELECT locked_until FROM idp_lockouts WHERE lock_key = $1")
                    .bind(lock_key)
                    .fetch_optional(self.db.pool())
                    .await?;
            match row {
                Some(until) => return Ok(Admission::Locked { until }),
                None => {
                    sqlx::query(
                        "INSERT INTO idp_lockouts (lock_key, failed_count, updated_at) VALUES ($1, 0, $2) ON CONFLICT (lock_key) DO NOTHING",
                    )
                    .bind(lock_key)
                    .bind(now)
                    .execute(self.db.pool())
                    .await?;
                }
            }
        }
        Ok(Admission::Locked { until: None })
    }

    /// [`crate::lockout::after_failure`], atomically; true when this failure locked it.
    pub async fn record_failure(
        &self,
        lock_key: &str,
        guess: u32,
        now: Timestamp,
        p: &LockoutPolicy,
    ) -> Result<bool, StoreError> {
        if guess < p.max_failures {
            return Ok(false);
        }
        let r = sqlx::query(
            "UPDATE idp_lockouts SET locked_until = $2, lock_events = lock_events + 1, updated_at = $4 \
             WHERE lock_key = $1 AND locked_until IS NULL AND failed_count >= $3",
        )
        .bind(lock_key)
        .bind(now + p.lock_seconds)
        .bind(p.max_failures as i64)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// [`crate::lockout::after_success`] (also the helpline's unlock).
    pub async fn clear_failures(&self, lock_key: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idp_lockouts SET failed_count = 0, locked_until = NULL WHERE lock_key = $1",
        )
        .bind(lock_key)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn lock_state(&self, lock_key: &str) -> Result<LockRow, StoreError> {
        let row = sqlx::query(
            "SELECT failed_count, locked_until, lock_events FROM idp_lockouts WHERE lock_key = $1",
        )
        .bind(lock_key)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            Some(r) => LockRow {
                failed_count: r.try_get("failed_count")?,
                locked_until: r.try_get("locked_until")?,
                lock_events: r.try_get("lock_events")?,
            },
            None => LockRow::default(),
        })
    }

    /// Test support: moves a lock's end (as if time had passed).
    pub async fn set_locked_until(
        &self,
        lock_key: &str,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE idp_lockouts SET locked_until = $2 WHERE lock_key = $1 AND locked_until IS NOT NULL")
            .bind(lock_key)
            .bind(until)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn set_password_hash(&self, id: i64, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE idp_accounts SET password_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn set_disabled(&self, id: i64, disabled: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE idp_accounts SET disabled = $2 WHERE id = $1")
            .bind(id)
            .bind(disabled as i64)
            .execute(self.db.pool())
            .await?;
        if disabled {
            self.end_sessions(id).await?;
        }
        Ok(())
    }

    /// A new password ends every session of the account.
    pub async fn set_password(
        &self,
        id: i64,
        hash: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "UPDATE idp_accounts SET password_hash = $2, password_changed_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM idp_sessions WHERE account_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE idp_lockouts SET failed_count = 0, locked_until = NULL WHERE lock_key = $1",
        )
        .bind(format!("a:{id}"))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a TOTP time step as used; false when it (or a later one) was used before.
    pub async fn use_totp_step(&self, id: i64, step: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE idp_accounts SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(id)
        .bind(step)
        .execute(self.db.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn set_totp(&self, id: i64, secret: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idp_accounts SET totp_secret = $2, totp_last_step = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(secret)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    // ---- sessions ----

    pub async fn create_session(
        &self,
        token_hash: &str,
        account_id: i64,
        amr: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO idp_sessions (token_hash, account_id, auth_time, amr, created_at, expires_at) VALUES ($1, $2, $3, $4, $3, $5)",
        )
        .bind(token_hash)
        .bind(account_id)
        .bind(now)
        .bind(amr)
        .bind(expires_at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT account_id, auth_time, amr, expires_at FROM idp_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(Session {
                account_id: r.try_get("account_id")?,
                auth_time: r.try_get("auth_time")?,
                amr: r.try_get("amr")?,
                expires_at: r.try_get("expires_at")?,
            }),
            None => None,
        })
    }

    pub async fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idp_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn end_sessions(&self, account_id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idp_sessions WHERE account_id = $1")
            .bind(account_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn count_sessions(&self, account_id: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM idp_sessions WHERE account_id = $1")
                .bind(account_id)
                .fetch_one(self.db.pool())
                .await?,
        )
    }

    // ---- clients ----

    pub async fn add_client(&self, c: &Client, now: Timestamp) -> Result<(), StoreError> {
        let r = sqlx::query(
            "INSERT INTO idp_clients (client_id, secret_hash, redirect_uris, post_logout_redirect_uris, public_client, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.client_id)
        .bind(c.secret_hash.as_deref())
        .bind(c.redirect_uris.join("\n"))
        .bind(c.post_logout_redirect_uris.join("\n"))
        .bind(c.public as i64)
        .bind(now)
        .execute(self.db.pool())
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if unique_violation(&e).is_some() => Err(StoreError::ClientExists),
            Err(e) => Err(e.into()),
        }
    }

    /// Inserts the client, or replaces its secret and URIs when it exists (one statement,
    /// so nodes starting together agree).
    pub async fn upsert_client(&self, c: &Client, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO idp_clients (client_id, secret_hash, redirect_uris, post_logout_redirect_uris, public_client, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash, redirect_uris = excluded.redirect_uris, \
             post_logout_redirect_uris = excluded.post_logout_redirect_uris, public_client = excluded.public_client",
        )
        .bind(&c.client_id)
        .bind(c.secret_hash.as_deref())
        .bind(c.redirect_uris.join("\n"))
        .bind(c.post_logout_redirect_uris.join("\n"))
        .bind(c.public as i64)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(
            "SELECT client_id, secret_hash, redirect_uris, post_logout_redirect_uris, public_client FROM idp_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(Client {
                client_id: r.try_get("client_id")?,
                secret_hash: r.try_get("secret_hash")?,
                redirect_uris: r
                    .try_get::<String, _>("redirect_uris")?
                    .lines()
                    .map(str::to_string)
                    .collect(),
                post_logout_redirect_uris: r
                    .try_get::<Option<String>, _>("post_logout_redirect_uris")?
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect(),
                public: r.try_get::<i64, _>("public_client")? != 0,
            }),
            None => None,
        })
    }

    // ---- authorization requests and codes ----

    pub async fn save_auth_request(&self, a: &AuthRequest) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO idp_auth_requests (id, client_id, redirect_uri, scope, state, nonce, code_challenge, max_age, prompt_login, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&a.id)
        .bind(&a.client_id)
        .bind(&a.redirect_uri)
        .bind(&a.scope)
        .bind(a.state.as_deref())
        .bind(a.nonce.as_deref())
        .bind(a.code_challenge.as_deref())
        .bind(a.max_age)
        .bind(a.prompt_login as i64)
        .bind(a.created_at)
        .bind(a.expires_at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn auth_request(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<AuthRequest>, StoreError> {
        let row = sqlx::query(
            "SELECT id, client_id, redirect_uri, scope, state, nonce, code_challenge, max_age, prompt_login, created_at, expires_at \
             FROM idp_auth_requests WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(AuthRequest {
                id: r.try_get("id")?,
                client_id: r.try_get("client_id")?,
                redirect_uri: r.try_get("redirect_uri")?,
                scope: r.try_get("scope")?,
                state: r.try_get("state")?,
                nonce: r.try_get("nonce")?,
                code_challenge: r.try_get("code_challenge")?,
                max_age: r.try_get("max_age")?,
                prompt_login: r.try_get::<i64, _>("prompt_login")? != 0,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            }),
            None => None,
        })
    }

    pub async fn delete_auth_request(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idp_auth_requests WHERE id = $1")
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn save_code(&self, code_hash: &str, g: &CodeGrant) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO idp_codes (code_hash, client_id, redirect_uri, account_id, scope, nonce, code_challenge, auth_time, amr, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(code_hash)
        .bind(&g.client_id)
        .bind(&g.redirect_uri)
        .bind(g.account_id)
        .bind(&g.scope)
        .bind(g.nonce.as_deref())
        .bind(g.code_challenge.as_deref())
        .bind(g.auth_time)
        .bind(&g.amr)
        .bind(g.expires_at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Marks a code used and returns it; None when unknown or already used (single use,
    /// also under concurrent redemption). Expiry and binding are checked by the caller.
    pub async fn take_code(
        &self,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<Option<CodeGrant>, StoreError> {
        let row = sqlx::query(
            "UPDATE idp_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL \
             RETURNING client_id, redirect_uri, account_id, scope, nonce, code_challenge, auth_time, amr, expires_at",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(CodeGrant {
                client_id: r.try_get("client_id")?,
                redirect_uri: r.try_get("redirect_uri")?,
                account_id: r.try_get("account_id")?,
                scope: r.try_get("scope")?,
                nonce: r.try_get("nonce")?,
                code_challenge: r.try_get("code_challenge")?,
                auth_time: r.try_get("auth_time")?,
                amr: r.try_get("amr")?,
                expires_at: r.try_get("expires_at")?,
            }),
            None => None,
        })
    }

    /// A code presented again after it was used: marks its grant revoked, so the tokens
    /// issued from it stop working (RFC 6749, section 4.1.2). True when this call revoked it.
    pub async fn revoke_used_code(
        &self,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE idp_codes SET revoked_at = $2 WHERE code_hash = $1 AND used_at IS NOT NULL AND revoked_at IS NULL",
        )
        .bind(code_hash)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Whether the grant (the code an access token was issued from) is still good: used
    /// once and not revoked. Codes are kept a day past expiry, longer than any token.
    pub async fn grant_active(&self, code_hash: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS ok FROM idp_codes WHERE code_hash = $1 AND used_at IS NOT NULL AND revoked_at IS NULL",
        )
        .bind(code_hash)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.is_some())
    }

    // ---- one-time codes ----

    pub async fn save_otp(&self, o: &Otp, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO idp_otps (id, purpose, account_id, payload, code_hash, attempts, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
        )
        .bind(&o.id)
        .bind(&o.purpose)
        .bind(o.account_id)
        .bind(&o.payload)
        .bind(&o.code_hash)
        .bind(now)
        .bind(o.expires_at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn otp(&self, id: &str) -> Result<Option<Otp>, StoreError> {
        let row = sqlx::query(
            "SELECT id, purpose, account_id, payload, code_hash, attempts, expires_at, used_at FROM idp_otps WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(Otp {
                id: r.try_get("id")?,
                purpose: r.try_get("purpose")?,
                account_id: r.try_get("account_id")?,
                payload: r.try_get("payload")?,
                code_hash: r.try_get("code_hash")?,
                attempts: r.try_get("attempts")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
            }),
            None => None,
        })
    }

    /// Counts one try at a one-time code; false when no tries are left (or it is spent).
    pub async fn otp_try(
        &self,
        id: &str,
        max_tries: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE idp_otps SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(id)
        .bind(max_tries)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Spends a one-time code; false when it was already spent.
    pub async fn otp_use(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE idp_otps SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Codes emailed for this account since `since` (a per-account rate limit).
    pub async fn recent_otps(&self, account_id: i64, since: Timestamp) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM idp_otps WHERE account_id = $1 AND created_at > $2 AND purpose IN ('mfa-email', 'reset-email')",
        )
        .bind(account_id)
        .bind(since)
        .fetch_one(self.db.pool())
        .await?)
    }

    // ---- CSRF ----

    /// Spends a CSRF token; false when it was used before (a replay).
    pub async fn spend_csrf(
        &self,
        token_hash: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("INSERT INTO idp_used_csrf (token_hash, expires_at) VALUES ($1, $2) ON CONFLICT (token_hash) DO NOTHING")
            .bind(token_hash)
            .bind(expires_at)
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes expired rows (sessions, requests, codes, one-time codes, CSRF marks).
    pub async fn sweep(&self, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idp_lockouts WHERE lock_key LIKE 'u:%' AND updated_at <= $1 AND (locked_until IS NULL OR locked_until <= $2)")
            .bind(now - 86_400)
            .bind(now)
            .execute(self.db.pool())
            .await?;
        for table in ["idp_sessions", "idp_auth_requests", "idp_used_csrf"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE expires_at <= $1"))
                .bind(now)
                .execute(self.db.pool())
                .await?;
        }
        for table in ["idp_codes", "idp_otps"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE expires_at <= $1"))
                .bind(now - 86_400)
                .execute(self.db.pool())
                .await?;
        }
        Ok(())
    }
}
