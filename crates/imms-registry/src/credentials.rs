//! Facility credentials: generated user names and passwords, stored as argon2id hashes.
//!
//! Verifying argon2id on every HL7 message would cap a node at a few dozen messages per
//! second, so a successful verification is remembered for a few minutes as a keyed SHA-256
//! of the password (the key is random per process and never stored).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random password of 24 letters and digits (about 143 bits).
pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut OsRng, 24)
}

/// A user name derived from the facility id plus a random suffix, so one facility can have
/// several credentials (one per sending system).
pub fn generate_username(facility_id: &str) -> String {
    let base: String = facility_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    format!(
        "{}-{}",
        base.trim_matches('-'),
        Alphanumeric.sample_string(&mut OsRng, 6).to_lowercase()
    )
}

const CACHE_TTL: Duration = Duration::from_secs(300);

pub struct VerifiedCache {
    key: [u8; 32],
    entries: Mutex<HashMap<String, ([u8; 32], Instant)>>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        VerifiedCache {
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl VerifiedCache {
    fn digest(&self, username: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(username.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    pub fn is_verified(&self, username: &str, password: &str) -> bool {
        let d = self.digest(username, password);
        let entries = self.entries.lock().expect("cache lock");
        entries
            .get(username)
            .is_some_and(|(stored, at)| *stored == d && at.elapsed() < CACHE_TTL)
    }

    pub fn remember(&self, username: &str, password: &str) {
        let d = self.digest(username, password);
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() > 10_000 {
            entries.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        entries.insert(username.to_string(), (d, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_wrong_passwords_do_not() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horse ", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn cache_remembers_only_the_exact_password() {
        let c = VerifiedCache::default();
        c.remember("u", "p");
        assert!(c.is_verified("u", "p"));
        assert!(!c.is_verified("u", "q"));
        assert!(!c.is_verified("v", "p"));
    }

    #[test]
    fn generated_names_are_safe() {
        let u = generate_username("Grand Rapids Clinic #4");
        assert!(u.starts_with("grand-rapids-clinic--4-"));
        assert_eq!(generate_password().len(), 24);
    }
}
