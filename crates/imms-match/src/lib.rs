//! # imms-match — find the one right person, or say honestly that we cannot
//!
//! A wrong match shows one person's immunization record to another, so this engine answers
//! "no unique match" whenever it is not sure. It is pure (no I/O): the registry keeps the
//! blocking keys in its store, fetches the candidates they point to, and asks this crate to
//! score them and decide.
//!
//! - [`text`] and [`address`]: normalization (case, accents, punctuation, suffixes split
//!   out, compound surnames, nicknames from a shipped Apache-2.0 list, Double Metaphone
//!   keys, USPS-style street abbreviations and units, ZIP+4 → ZIP 5).
//! - [`keys`]: the blocking keys stored for each person and looked up for each query.
//! - [`score`]: Fellegi–Sunter comparison levels per field, weights `log2(m/u)`, term
//!   frequency adjustment for exact name agreement; [`em`] estimates m and u.
//! - [`decide`]: a person is returned only when the best score passes the threshold AND
//!   beats the second best by a margin AND either something besides name, birth date and
//!   sex agrees (middle name, street, or ZIP with the surname) or the full name is rare
//!   enough to carry the match alone; otherwise [`Decision::NoUniqueMatch`].
//!
//! ## The API the registry, the portal and the console use
//!
//! ```text
//! imms_registry::matching::Matcher::new(store)            // cheap to clone
//!     .find(&Query) -> Result<Decision, StoreError>
//!     .candidates(&Query, limit) -> Result<Vec<Candidate>, StoreError>   // staff only
//! Query { given, middle, family, suffix, birth_date, sex: Option<char>, addresses:
//!         Vec<QueryAddress { street, city, state, postal_code }>, former_family_names }
//! Decision::Unique { person_id, score } | Decision::NoUniqueMatch { reason }
//! ```
//!
//! [`NoMatchReason`] is for logs and metrics only: a public caller must never reveal whether
//! someone else exists. [`Query::check`] says what is wrong with a query a person typed.

pub mod address;
pub mod decide;
pub mod em;
pub mod keys;
pub mod score;
pub mod synth;
pub mod text;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

pub use decide::{decide, Thresholds};
pub use score::{Comparison, Params, Scored, TermFrequencies};

use address::NormAddress;
use text::NormName;

/// Longest name or address field accepted, in characters.
pub const MAX_FIELD_CHARS: usize = 100;

/// One address given with a query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryAddress {
    pub street: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
}

/// What a caller knows about the person it looks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    pub given: String,
    pub middle: String,
    pub family: String,
    pub suffix: String,
    pub birth_date: NaiveDate,
    /// 'F', 'M' or 'U'; `None` or 'U' when unknown.
    pub sex: Option<char>,
    pub addresses: Vec<QueryAddress>,
    /// Earlier surnames (maiden name, a name before a divorce).
    pub former_family_names: Vec<String>,
}

/// Why there is no unique match. For logs and metrics only: never shown to the public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoMatchReason {
    /// The query lacks a given name, a surname or a usable date of birth, or is malformed.
    InsufficientQuery,
    /// No one shares a blocking key with the query.
    NoCandidate,
    /// The best candidate's score is below the match threshold.
    BelowThreshold,
    /// Two or more candidates score within the margin of each other.
    Ambiguous,
    /// Only name, date of birth and sex agree, and the name is not rare enough for that.
    NotCorroborated,
}

/// The engine's answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Decision {
    Unique { person_id: i64, score: f64 },
    NoUniqueMatch { reason: NoMatchReason },
}

/// A scored candidate, for staff look-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub person_id: i64,
    /// Total match weight in bits (log2 of the likelihood ratio).
    pub score: f64,
    /// The fields that agree: "given", "family", "middle", "birth_date", "sex", "address",
    /// "zip", "suffix".
    pub agreeing_fields: Vec<&'static str>,
}

/// What is wrong with a query, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the first (given) name is missing; enter it as it appears on your ID")]
    MissingGivenName,
    #[error("the last (family) name is missing; enter it as it appears on your ID")]
    MissingFamilyName,
    #[error("the {0} is longer than {MAX_FIELD_CHARS} characters; check what was entered")]
    TooLong(&'static str),
    #[error("the {0} contains control characters; type it again")]
    ControlCharacters(&'static str),
    #[error("the date of birth is not a plausible date; enter it as month, day and year")]
    ImplausibleBirthDate,
}

impl Query {
    /// Checks a query before matching: names present, fields of sane length without control
    /// characters, a plausible date of birth.
    pub fn check(&self) -> Result<(), QueryError> {
        let mut fields: Vec<(&'static str, &str)> = vec![
            ("first name", &self.given),
            ("middle name", &self.middle),
            ("last name", &self.family),
            ("suffix", &self.suffix),
        ];
        for a in &self.addresses {
            fields.extend([
                ("street address", a.street.as_str()),
                ("city", a.city.as_str()),
                ("state", a.state.as_str()),
                ("ZIP code", a.postal_code.as_str()),
            ]);
        }
        for f in &self.former_family_names {
            fields.push(("former last name", f.as_str()));
        }
        for (label, value) in fields {
            if value.chars().count() > MAX_FIELD_CHARS {
                return Err(QueryError::TooLong(label));
            }
            if value.chars().any(char::is_control) {
                return Err(QueryError::ControlCharacters(label));
            }
        }
        if text::tokens(&self.given).is_empty() {
            return Err(QueryError::MissingGivenName);
        }
        if text::tokens(&self.family).is_empty() {
            return Err(QueryError::MissingFamilyName);
        }
        if !(1880..=2200).contains(&self.birth_date.year()) {
            return Err(QueryError::ImplausibleBirthDate);
        }
        Ok(())
    }
}

/// A stored person as the engine compares them: every name and address the registry has.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    pub person_id: i64,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<char>,
    pub names: Vec<ProfileName>,
    pub addresses: Vec<QueryAddress>,
}

/// One stored name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileName {
    pub given: String,
    pub middle: String,
    pub family: String,
    pub suffix: String,
}

/// A query or a profile, normalized once.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub person_id: i64,
    pub names: Vec<NormName>,
    /// Earlier surnames (queries only), normalized like `NormName::family`.
    pub former_families: Vec<NormName>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<char>,
    pub addresses: Vec<NormAddress>,
}

/// At most this many names and addresses of one person are compared.
const MAX_PARTS: usize = 8;

fn norm_sex(s: Option<char>) -> Option<char> {
    match s.map(|c| c.to_ascii_uppercase()) {
        Some('F') => Some('F'),
        Some('M') => Some('M'),
        _ => None,
    }
}

fn norm_addresses(list: &[QueryAddress]) -> Vec<NormAddress> {
    list.iter()
        .take(MAX_PARTS)
        .map(|a| NormAddress::new(&a.street, &a.city, &a.state, &a.postal_code))
        .filter(|a| !a.is_empty())
        .collect()
}

impl Prepared {
    pub fn from_query(q: &Query) -> Prepared {
        Prepared {
            person_id: 0,
            names: vec![NormName::new(&q.given, &q.middle, &q.family, &q.suffix)],
            former_families: q
                .former_family_names
                .iter()
                .take(MAX_PARTS)
                .map(|f| NormName::new("", "", f, ""))
                .filter(|n| !n.family.is_empty())
                .collect(),
            birth_date: Some(q.birth_date),
            sex: norm_sex(q.sex),
            addresses: norm_addresses(&q.addresses),
        }
    }

    pub fn from_profile(p: &Profile) -> Prepared {
        Prepared {
            person_id: p.person_id,
            names: p
                .names
                .iter()
                .take(MAX_PARTS)
                .map(|n| NormName::new(&n.given, &n.middle, &n.family, &n.suffix))
                .filter(|n| !n.family.is_empty() || !n.given.is_empty())
                .collect(),
            former_families: Vec::new(),
            birth_date: p.birth_date,
            sex: norm_sex(p.sex),
            addresses: norm_addresses(&p.addresses),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> Query {
        Query {
            given: "Rosalind".into(),
            middle: String::new(),
            family: "Quintero".into(),
            suffix: String::new(),
            birth_date: NaiveDate::from_ymd_opt(1980, 4, 12).unwrap(),
            sex: Some('F'),
            addresses: vec![],
            former_family_names: vec![],
        }
    }

    #[test]
    fn check_names_what_is_wrong() {
        assert_eq!(query().check(), Ok(()));
        let q = Query {
            given: " ".into(),
            ..query()
        };
        assert_eq!(q.check(), Err(QueryError::MissingGivenName));
        let q = Query {
            family: "x".repeat(10_000),
            ..query()
        };
        assert_eq!(q.check(), Err(QueryError::TooLong("last name")));
        let q = Query {
            given: "Ro\u{0}s".into(),
            ..query()
        };
        assert_eq!(q.check(), Err(QueryError::ControlCharacters("first name")));
        let q = Query {
            birth_date: NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
            ..query()
        };
        assert_eq!(q.check(), Err(QueryError::ImplausibleBirthDate));
    }
}
