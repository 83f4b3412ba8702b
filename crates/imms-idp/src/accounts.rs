//! Accounts: creation (sign-up and `imms account add`), sign-in with lockout, the
//! helpline's actions, password changes, and the keyed hashes behind one-time codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::clock::Timestamp;
use crate::keys::KeyError;
use crate::lockout::Admission;
use crate::mail::MailError;
use crate::password::{PasswordProblem, Verified};
use crate::secrets::SecretError;
use crate::ssn::{hex, InvalidSsn, Ssn};
use crate::store::{Account, AcctType, LockRow, NewAccount, StoreError};
use crate::Idp;

#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("the user ID must be 3 to 64 letters, digits, dots, dashes, underscores or @")]
    InvalidUserId,
    #[error(transparent)]
    Password(#[from] PasswordProblem),
    #[error(transparent)]
    Ssn(#[from] InvalidSsn),
    #[error("this is not a valid email address")]
    InvalidEmail,
    #[error("there is no account with this user ID")]
    NoSuchAccount,
    #[error("{0}")]
    InvalidClient(&'static str),
    #[error("the setting {0} is not valid")]
    InvalidSetting(&'static str),
}

impl IdpError {
    /// Stable error codes, shown on error pages and looked up by the helpline.
    pub fn code(&self) -> &'static str {
        match self {
            IdpError::Store(StoreError::UserIdTaken) => "IDP-USERID-TAKEN",
            IdpError::Store(StoreError::SsnInUse) => "IDP-SSN-IN-USE",
            IdpError::Store(StoreError::ClientExists) => "IDP-CLIENT-EXISTS",
            IdpError::Store(StoreError::Db(_)) => "IDP-STORE",
            IdpError::Secret(_) | IdpError::Key(_) => "IDP-CONFIG",
            IdpError::Mail(_) => "IDP-MAIL",
            IdpError::InvalidUserId => "IDP-USERID-INVALID",
            IdpError::Password(p) => p.code(),
            IdpError::Ssn(_) => "IDP-SSN-INVALID",
            IdpError::InvalidEmail => "IDP-EMAIL-INVALID",
            IdpError::NoSuchAccount => "IDP-NO-ACCOUNT",
            IdpError::InvalidClient(_) => "IDP-CLIENT-INVALID",
            IdpError::InvalidSetting(_) => "IDP-CONFIG",
        }
    }
}

/// The comparison form of a user ID (NFKC, trimmed, lower case), or None when its shape
/// is not allowed.
pub fn user_key(user_id: &str) -> Option<String> {
    let n: String = user_id.nfkc().collect::<String>().trim().to_lowercase();
    let len = n.chars().count();
    let ok = (3..=64).contains(&len)
        && n.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    ok.then_some(n)
}

pub fn check_email(email: &str) -> Result<String, IdpError> {
    let e = email.trim();
    if e.len() > 254 || e.parse::<lettre::Address>().is_err() {
        return Err(IdpError::InvalidEmail);
    }
    Ok(e.to_string())
}

/// `a…@example.org`: enough for the helpline to recognise, not enough to harvest.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            format!("{}…@{}", local.chars().next().unwrap_or('?'), domain)
        }
        None => "…".into(),
    }
}

/// A random URL-safe token with 256 bits.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// An eight-digit one-time code.
pub fn random_code() -> String {
    format!("{:08}", OsRng.gen_range(0..100_000_000u32))
}

/// SHA-256 of a high-entropy token (session cookies, authorization codes).
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub struct AddAccount<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
    pub acct_type: AcctType,
    pub password: &'a str,
    pub ssn: Option<&'a str>,
}

#[derive(Debug)]
pub enum SignInOutcome {
    Success(Box<Account>),
    Wrong,
    /// Locked until then (None: a lock is being decided; it lasts the usual time).
    Locked(Option<Timestamp>),
    Disabled,
}

/// What `imms account show` prints.
#[derive(Debug, serde::Serialize)]
pub struct AccountSummary {
    pub user_id: String,
    pub acct_type: &'static str,
    pub email: String,
    pub disabled: bool,
    pub locked: bool,
    pub locked_until: Option<String>,
    pub failed_attempts: i64,
    pub totp: bool,
    pub ssn_on_file: bool,
    pub created: String,
}

fn rfc3339(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

impl Idp {
    /// HMAC-SHA-256 under the provider's secret, for low-entropy values (one-time codes,
    /// unknown user IDs) that must not be guessable from the database alone.
    pub fn keyed(&self, purpose: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC key");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    pub fn ssn_hash(&self, ssn: &Ssn) -> String {
        ssn.keyed_hash(&self.pepper)
    }

    /// Runs argon2id off the async threads, one per core at a time.
    pub async fn hashing<R: Send + 'static>(
        &self,
        f: impl FnOnce(&crate::password::Hasher) -> R + Send + 'static,
    ) -> R {
        let _permit = self.hash_permits.acquire().await.expect("semaphore open");
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || f(&hasher))
            .await
            .expect("hashing task")
    }

    /// Validates and hashes a new account's fields (no store access).
    pub async fn prepare_account(
        &self,
        a: &AddAccount<'_>,
    ) -> Result<(String, String, String, Option<String>), IdpError> {
        let key = user_key(a.user_id).ok_or(IdpError::InvalidUserId)?;
        let email = check_email(a.email)?;
        let pw = crate::password::check_new(a.password, &key)?;
        let ssn_hmac = match a.ssn {
            Some(s) => Some(self.ssn_hash(&Ssn::parse(s)?)),
            None => None,
        };
        let hash = self.hashing(move |h| h.hash(&pw)).await;
        Ok((key, email, hash, ssn_hmac))
    }

    /// Creates an account (operators' `imms account add`, and sign-up once the email code
    /// is confirmed). One citizen account per SSN; other types do not count.
    pub async fn add_account(&self, a: &AddAccount<'_>) -> Result<i64, IdpError> {
        let (key, email, hash, ssn_hmac) = self.prepare_account(a).await?;
        self.create_prepared(
            a.user_id.trim(),
            &key,
            &email,
            a.acct_type,
            &hash,
            ssn_hmac.as_deref(),
        )
        .await
    }

    pub async fn create_prepared(
        &self,
        user_id: &str,
        key: &str,
        email: &str,
        acct_type: AcctType,
        hash: &str,
        ssn_hmac: Option<&str>,
    ) -> Result<i64, IdpError> {
        let subject = random_token();
        let id = self
            .store
            .create_account(
                &NewAccount {
                    subject: &subject,
                    user_id: &user_id.nfkc().collect::<String>(),
                    user_key: key,
                    email,
                    acct_type,
                    password_hash: hash,
                    ssn_hmac,
                },
                self.now(),
            )
            .await?;
        tracing::info!(
            account = id,
            acct_type = acct_type.as_str(),
            "account created"
        );
        Ok(id)
    }

    pub async fn account(&self, user_id: &str) -> Result<Account, IdpError> {
        let key = user_key(user_id).ok_or(IdpError::NoSuchAccount)?;
        self.store
            .account_by_key(&key)
            .await?
            .ok_or(IdpError::NoSuchAccount)
    }

    /// Sign-in with lockout. Unknown user IDs take the same path (a lock counter of their
    /// own, a dummy argon2id check) so neither text nor timing tells whether one exists.
    pub async fn sign_in(&self, user_id: &str, password: &str) -> Result<SignInOutcome, IdpError> {
        let now = self.now();
        let key = user_key(user_id);
        let account = match &key {
            Some(k) => self.store.account_by_key(k).await?,
            None => None,
        };
        let lock_key = match &account {
            Some(a) => a.lock_key(),
            None => {
                let raw: String = user_id.nfkc().collect::<String>().trim().to_lowercase();
                let raw: String = raw.chars().take(256).collect();
                format!("u:{}", self.keyed("unknown-user", &raw))
            }
        };
        let policy = self.settings.lockout;
        let guess = match self.store.admit_attempt(&lock_key, now, &policy).await? {
            Admission::Locked { until } => {
                self.metrics.sign_ins.with_label_values(&["locked"]).inc();
                tracing::info!(outcome = "locked", "sign-in refused");
                return Ok(SignInOutcome::Locked(until));
            }
            Admission::Allowed { guess } => guess,
        };
        let password = zeroize::Zeroizing::new(password.to_string());
        let stored = account.as_ref().map(|a| a.password_hash.clone());
        let verified = self
            .hashing(move |h| match stored {
                Some(s) => h.verify(&password, &s),
                None => {
                    h.verify_dummy(&password);
                    Verified::Wrong
                }
            })
            .await;
        let account = match (verified, account) {
            (Verified::Wrong, _) | (_, None) => {
                let locked = self
                    .store
                    .record_failure(&lock_key, guess, now, &policy)
                    .await?;
                tracing::info!(outcome = "wrong", locked, "sign-in refused");
                let outcome = if locked {
                    self.metrics.lockouts.inc();
                    "locked"
                } else {
                    "wrong"
                };
                self.metrics.sign_ins.with_label_values(&[outcome]).inc();
                return Ok(if locked {
                    SignInOutcome::Locked(Some(now + policy.lock_seconds))
                } else {
                    SignInOutcome::Wrong
                });
            }
            (Verified::Right, Some(a)) => {
                self.store.clear_failures(&lock_key).await?;
                a
            }
            (Verified::RightRehashed(h), Some(a)) => {
                self.store.clear_failures(&lock_key).await?;
                self.store.set_password_hash(a.id, &h).await?;
                tracing::info!(account = a.id, "password re-hashed at the configured cost");
                a
            }
        };
        if account.disabled {
            self.metrics.sign_ins.with_label_values(&["disabled"]).inc();
            tracing::info!(
                account = account.id,
                outcome = "disabled",
                "sign-in refused"
            );
            return Ok(SignInOutcome::Disabled);
        }
        self.metrics.sign_ins.with_label_values(&["ok"]).inc();
        tracing::info!(account = account.id, outcome = "ok", "signed in");
        Ok(SignInOutcome::Success(Box::new(account)))
    }

    pub async fn summary(&self, user_id: &str) -> Result<AccountSummary, IdpError> {
        let a = self.account(user_id).await?;
        let LockRow {
            failed_count,
            locked_until,
            ..
        } = self.store.lock_state(&a.lock_key()).await?;
        let now = self.now();
        let locked = match locked_until {
            Some(u) => u > now,
            None => failed_count >= self.settings.lockout.max_failures as i64,
        };
        Ok(AccountSummary {
            user_id: a.user_id,
            acct_type: a.acct_type.as_str(),
            email: mask_email(&a.email),
            disabled: a.disabled,
            locked,
            locked_until: locked_until.filter(|u| *u > now).map(rfc3339),
            failed_attempts: if locked_until.is_some_and(|u| u <= now) {
                0
            } else {
                failed_count
            },
            totp: a.totp_secret.is_some(),
            ssn_on_file: a.has_ssn,
            created: rfc3339(a.created_at),
        })
    }

    pub async fn unlock(&self, user_id: &str) -> Result<(), IdpError> {
        let a = self.account(user_id).await?;
        self.store.clear_failures(&a.lock_key()).await?;
        tracing::info!(account = a.id, "account unlocked by an operator");
        Ok(())
    }

    pub async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<(), IdpError> {
        let a = self.account(user_id).await?;
        self.store.set_disabled(a.id, disabled).await?;
        tracing::info!(
            account = a.id,
            disabled,
            "account disabled flag set by an operator"
        );
        Ok(())
    }

    /// Sets a new password (checked against the rules) and ends every session.
    pub async fn change_password(
        &self,
        account: &Account,
        new_password: &str,
    ) -> Result<(), IdpError> {
        let key = user_key(&account.user_id).unwrap_or_default();
        let pw = crate::password::check_new(new_password, &key)?;
        let hash = self.hashing(move |h| h.hash(&pw)).await;
        self.store
            .set_password(account.id, &hash, self.now())
            .await?;
        tracing::info!(account = account.id, "password changed; sessions ended");
        Ok(())
    }
}
