//! Passwords per NIST SP 800-63B: 12 to 128 characters of anything (NFKC-normalised first),
//! no composition rules, refused when on the list of common passwords shipped with the
//! project (`data/common-passwords.txt`, Django's list of 20,000, BSD-3-Clause), hashed
//! with argon2id at or above OWASP's parameters and re-hashed on sign-in when the
//! configured cost is raised.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

static COMMON_TEXT: &str = include_str!("../data/common-passwords.txt");

fn common() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_TEXT
            .lines()
            .map(|l| l.trim().to_lowercase())
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Why a new password is refused (the page says which, in the user's language).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("the password must be at least 12 characters")]
    TooShort,
    #[error("the password must be at most 128 characters")]
    TooLong,
    #[error("the password is too common; choose another")]
    Common,
    #[error("the password must not contain your user ID")]
    ContainsUserId,
}

impl PasswordProblem {
    pub fn code(self) -> &'static str {
        match self {
            PasswordProblem::TooShort => "IDP-PW-SHORT",
            PasswordProblem::TooLong => "IDP-PW-LONG",
            PasswordProblem::Common => "IDP-PW-COMMON",
            PasswordProblem::ContainsUserId => "IDP-PW-USERID",
        }
    }
}

/// NFKC normalisation, as 800-63B asks for Unicode passwords.
pub fn normalize(password: &str) -> Zeroizing<String> {
    Zeroizing::new(password.nfkc().collect())
}

/// Checks a new password; returns it normalised.
pub fn check_new(password: &str, user_id: &str) -> Result<Zeroizing<String>, PasswordProblem> {
    let p = normalize(password);
    let n = p.chars().count();
    if n < MIN_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if n > MAX_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    let lower = p.to_lowercase();
    if is_common(&lower) {
        return Err(PasswordProblem::Common);
    }
    let uid = user_id.trim().to_lowercase();
    if uid.chars().count() >= 4 && lower.contains(&uid) {
        return Err(PasswordProblem::ContainsUserId);
    }
    Ok(p)
}

/// On the list, or a list entry (or one character) repeated, like "passwordpassword".
fn is_common(lower: &str) -> bool {
    let set = common();
    if set.contains(lower) {
        return true;
    }
    let chars: Vec<char> = lower.chars().collect();
    for period in 1..=chars.len() / 2 {
        if chars.len().is_multiple_of(period) && chars.chunks(period).all(|c| c == &chars[..period])
        {
            let unit: String = chars[..period].iter().collect();
            if period <= 3 || set.contains(&unit) {
                return true;
            }
        }
    }
    false
}

/// argon2id cost. The default is OWASP's recommendation (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost::OWASP
    }
}

impl HashCost {
    pub const OWASP: HashCost = HashCost {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// Parses `m=19456,t=2,p=1`; refuses anything below OWASP's floor.
    pub fn parse(s: &str) -> Result<HashCost, String> {
        let mut c = HashCost::OWASP;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {part:?}"))?;
            let v: u32 = v.parse().map_err(|_| format!("{k} must be a number"))?;
            match k {
                "m" => c.memory_kib = v,
                "t" => c.iterations = v,
                "p" => c.parallelism = v,
                _ => return Err(format!("unknown argon2 parameter {k:?} (m, t, p)")),
            }
        }
        if !c.at_least(&HashCost::OWASP) {
            return Err(
                "argon2id parameters below OWASP's recommendation (m=19456,t=2,p=1)".into(),
            );
        }
        Ok(c)
    }

    /// True when this cost is at least `other` in memory, passes and lanes.
    pub fn at_least(&self, other: &HashCost) -> bool {
        self.memory_kib >= other.memory_kib
            && self.iterations >= other.iterations
            && self.parallelism >= other.parallelism
    }

    fn argon2(&self) -> Argon2<'static> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .expect("valid argon2 parameters");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

#[derive(Clone)]
pub struct Hasher {
    cost: HashCost,
    /// A hash of a random password at the current cost, verified against when the user ID
    /// is unknown so that the answer takes as long as for a real account.
    dummy: String,
}

/// What a verification found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Wrong,
    Right,
    /// Right, and here is a new hash at the configured cost to store.
    RightRehashed(String),
}

impl Hasher {
    pub fn new(cost: HashCost) -> Hasher {
        let dummy = Self::hash_with(&cost, "not a real password, only for equal timing");
        Hasher { cost, dummy }
    }

    pub fn cost(&self) -> HashCost {
        self.cost
    }

    fn hash_with(cost: &HashCost, normalized: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        cost.argon2()
            .hash_password(normalized.as_bytes(), &salt)
            .expect("argon2id hashing")
            .to_string()
    }

    /// Hashes an already normalised password.
    pub fn hash(&self, normalized: &str) -> String {
        Self::hash_with(&self.cost, normalized)
    }

    /// Verifies a password as typed (normalised here) against a stored PHC string.
    pub fn verify(&self, password: &str, stored: &str) -> Verified {
        let p = normalize(password);
        let Ok(parsed) = PasswordHash::new(stored) else {
            return Verified::Wrong;
        };
        // The parameters recorded in the hash are the ones used to check it.
        if Argon2::default()
            .verify_password(p.as_bytes(), &parsed)
            .is_err()
        {
            return Verified::Wrong;
        }
        let stored_cost = Params::try_from(&parsed).ok().map(|pp| HashCost {
            memory_kib: pp.m_cost(),
            iterations: pp.t_cost(),
            parallelism: pp.p_cost(),
        });
        let weaker = parsed.algorithm.as_str() != "argon2id"
            || stored_cost.is_none_or(|c| !c.at_least(&self.cost));
        if weaker {
            Verified::RightRehashed(self.hash(&p))
        } else {
            Verified::Right
        }
    }

    /// Spends the same time as [`Hasher::verify`] on an account that does not exist.
    pub fn verify_dummy(&self, password: &str) {
        let _ = self.verify(password, &self.dummy.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashCost = HashCost {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    #[test]
    fn length_rules_count_characters_after_normalisation() {
        assert_eq!(check_new("short", "u"), Err(PasswordProblem::TooShort));
        assert!(check_new("ünïcødé pässwörd", "u").is_ok());
        assert!(check_new("日本語のパスワードです長い", "u").is_ok());
        assert_eq!(
            check_new(&"x y".repeat(60), "u"),
            Err(PasswordProblem::TooLong)
        );
        // Twelve emoji are twelve characters.
        assert!(check_new("🦀🐍🦀🐍🦀🐍🦀🐍🦀🐍🦀🐘", "u").is_ok());
        // Full-width letters normalise to ASCII (NFKC).
        assert_eq!(&*normalize("ｐａｓｓ"), "pass");
    }

    #[test]
    fn common_and_repeated_passwords_are_refused_but_no_composition_rules() {
        assert_eq!(
            check_new("passwordpassword", "u"),
            Err(PasswordProblem::Common)
        );
        assert_eq!(
            check_new("aaaaaaaaaaaaaa", "u"),
            Err(PasswordProblem::Common)
        );
        assert_eq!(check_new("123412341234", "u"), Err(PasswordProblem::Common));
        assert_eq!(check_new("1q2w3e4r5t6y", "u"), Err(PasswordProblem::Common));
        assert_eq!(
            check_new("1Q2W3E4R5T6Y", "u"),
            Err(PasswordProblem::Common),
            "case does not help"
        );
        assert!(
            check_new("correct horse battery", "u").is_ok(),
            "no digits or symbols needed"
        );
        assert_eq!(
            check_new("my name is astrid.l 2024", "astrid.l"),
            Err(PasswordProblem::ContainsUserId)
        );
    }

    #[test]
    fn the_list_is_shipped() {
        assert!(common().len() > 19_000);
    }

    #[test]
    fn cost_below_owasp_is_refused() {
        assert!(HashCost::parse("m=8192,t=1,p=1").is_err());
        assert_eq!(HashCost::parse("").unwrap(), HashCost::OWASP);
        assert_eq!(HashCost::parse("m=47104,t=2").unwrap().memory_kib, 47_104);
    }

    #[test]
    fn hashes_verify_and_record_their_cost() {
        let h = Hasher::new(CHEAP);
        let stored = h.hash(&normalize("correct horse battery"));
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(h.verify("correct horse battery", &stored), Verified::Right);
        assert_eq!(h.verify("correct horse batterY", &stored), Verified::Wrong);
        assert_eq!(h.verify("x", "garbage"), Verified::Wrong);
        // Typed in full-width letters, still the same password.
        let s2 = h.hash(&normalize("pass word long enough"));
        assert_eq!(h.verify("ｐａｓｓ word long enough", &s2), Verified::Right);
    }

    #[test]
    fn raising_the_cost_rehashes_on_sign_in() {
        let old = Hasher::new(CHEAP);
        let stored = old.hash("correct horse battery");
        let new = Hasher::new(HashCost {
            memory_kib: 19_456,
            iterations: 3,
            parallelism: 1,
        });
        match new.verify("correct horse battery", &stored) {
            Verified::RightRehashed(h) => {
                assert!(h.contains("m=19456,t=3,p=1"));
                assert_eq!(new.verify("correct horse battery", &h), Verified::Right);
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(new.verify("wrong password!!", &stored), Verified::Wrong);
    }
}
