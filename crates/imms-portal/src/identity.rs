//! From a scanned ID to the identity the search uses: which documents are accepted (a US
//! driver's license or state ID, a US passport), adults only, not expired; and the keyed hash
//! that binds one person to one account without storing who they are.

use std::path::Path;

use chrono::{Months, NaiveDate};
use hmac::{Hmac, Mac};
use imms_idscan::{DocumentKind, IdDocument, Sex};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;

/// US states, DC and the territories that issue AAMVA cards.
const US_JURISDICTIONS: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI",
];

/// The identity read from an ID, as it round-trips (sealed) through the search form.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Identity {
    pub family: String,
    pub given: String,
    pub middle: String,
    pub suffix: String,
    pub birth_date: NaiveDate,
    /// `M`, `F`, or empty.
    pub sex: String,
    pub passport: bool,
    /// The address printed on a card (passports have none).
    pub address: Option<PostalAddress>,
    /// The session this identity was read in: a sealed value from another session is refused.
    pub session: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PostalAddress {
    pub street: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
}

/// Why an ID is refused; each maps to a stable code and a page that says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Expired,
    Minor,
    Unsupported,
    NoExpiry,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Expired => "PORTAL-ID-EXPIRED",
            Refusal::Minor => "PORTAL-UNDER-18",
            Refusal::Unsupported => "PORTAL-ID-UNSUPPORTED",
            Refusal::NoExpiry => "PORTAL-ID-UNREADABLE",
        }
    }
}

/// Is `birth` at least 18 years before `today`? (Born 29 February: adult on 28 February.)
pub fn is_adult(birth: NaiveDate, today: NaiveDate) -> bool {
    birth
        .checked_add_months(Months::new(18 * 12))
        .is_some_and(|eighteen| eighteen <= today)
}

/// Accepts or refuses a scanned document as of `today`.
pub fn accept(doc: &IdDocument, today: NaiveDate, session: &str) -> Result<Identity, Refusal> {
    let us = match doc.kind {
        DocumentKind::Passport => doc.issuer == "USA",
        DocumentKind::DriverLicense | DocumentKind::IdCard => {
            US_JURISDICTIONS.contains(&doc.issuer.as_str())
        }
    };
    if !us {
        return Err(Refusal::Unsupported);
    }
    match doc.expiry_date {
        None => return Err(Refusal::NoExpiry),
        // Valid through its expiry date.
        Some(expiry) if expiry < today => return Err(Refusal::Expired),
        Some(_) => {}
    }
    if !is_adult(doc.birth_date, today) {
        return Err(Refusal::Minor);
    }
    let mut names = doc.given_names.split_whitespace();
    let given = names.next().unwrap_or("").to_string();
    let middle = names.collect::<Vec<_>>().join(" ");
    Ok(Identity {
        family: doc.family_name.clone(),
        given,
        middle,
        suffix: doc.suffix.clone().unwrap_or_default(),
        birth_date: doc.birth_date,
        sex: match doc.sex {
            Some(Sex::Male) => "M".into(),
            Some(Sex::Female) => "F".into(),
            _ => String::new(),
        },
        passport: doc.kind == DocumentKind::Passport,
        address: doc.address.as_ref().map(|a| PostalAddress {
            street: a.street.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            postal_code: a.postal_code.clone(),
        }),
        session: session.to_string(),
    })
}

/// The full name as printed, for showing on the search screen.
pub fn display_name(id: &Identity) -> String {
    [&id.given, &id.middle, &id.family, &id.suffix]
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// HMAC-SHA256 over the normalised name and date of birth, under a key kept in the data
/// directory: equal for the same person on any ID, useless to anyone without the key.
#[derive(Clone)]
pub struct IdentityKey {
    key: [u8; 32],
}

const KEY_FILE: &str = "portal-identity.key";

impl IdentityKey {
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<IdentityKey> {
        let path = data_dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut key = [0u8; 32];
                key.copy_from_slice(&bytes);
                Ok(IdentityKey { key })
            }
            Ok(_) => Err(std::io::Error::other(format!(
                "{KEY_FILE} is not a 32-byte key"
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir)?;
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                write_private(&path, &key)?;
                Ok(IdentityKey { key })
            }
            Err(e) => Err(e),
        }
    }

    pub fn from_bytes(key: [u8; 32]) -> IdentityKey {
        IdentityKey { key }
    }

    pub fn hash(&self, id: &Identity) -> String {
        let norm = |s: &str| -> String {
            s.nfkd()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_uppercase)
                .collect()
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        for part in [norm(&id.family), norm(&id.given), id.birth_date.to_string()] {
            mac.update(part.as_bytes());
            mac.update(&[0x1f]);
        }
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn doc() -> IdDocument {
        IdDocument {
            kind: DocumentKind::DriverLicense,
            family_name: "PEÑA".into(),
            given_names: "MARY ANN".into(),
            suffix: None,
            birth_date: d(1990, 5, 1),
            expiry_date: Some(d(2030, 5, 1)),
            sex: Some(Sex::Female),
            address: None,
            issuer: "MI".into(),
            name_truncated: false,
            iin: None,
            aamva_version: Some(10),
        }
    }

    #[test]
    fn adults_on_their_eighteenth_birthday() {
        assert!(is_adult(d(2008, 11, 25), d(2026, 11, 25)));
        assert!(!is_adult(d(2008, 11, 26), d(2026, 11, 25)));
        assert!(is_adult(d(2008, 2, 29), d(2026, 2, 28)));
    }

    #[test]
    fn refusals() {
        let today = d(2026, 11, 25);
        let ok = accept(&doc(), today, "s").unwrap();
        assert_eq!((ok.given.as_str(), ok.middle.as_str()), ("MARY", "ANN"));
        let mut expired = doc();
        expired.expiry_date = Some(d(2026, 11, 24));
        assert_eq!(accept(&expired, today, "s"), Err(Refusal::Expired));
        let mut today_expiry = doc();
        today_expiry.expiry_date = Some(today);
        assert!(accept(&today_expiry, today, "s").is_ok());
        let mut minor = doc();
        minor.birth_date = d(2010, 1, 1);
        assert_eq!(accept(&minor, today, "s"), Err(Refusal::Minor));
        let mut canadian = doc();
        canadian.issuer = "ON".into();
        assert_eq!(accept(&canadian, today, "s"), Err(Refusal::Unsupported));
        let mut foreign = doc();
        foreign.kind = DocumentKind::Passport;
        foreign.issuer = "CAN".into();
        assert_eq!(accept(&foreign, today, "s"), Err(Refusal::Unsupported));
    }

    #[test]
    fn keyed_hash_ignores_accents_and_middle_names_but_not_people() {
        let key = IdentityKey::from_bytes([1; 32]);
        let a = accept(&doc(), d(2026, 1, 1), "s").unwrap();
        let mut b = a.clone();
        b.family = "Pena".into();
        b.middle = String::new();
        assert_eq!(key.hash(&a), key.hash(&b));
        let mut c = a.clone();
        c.birth_date = d(1990, 5, 2);
        assert_ne!(key.hash(&a), key.hash(&c));
        assert_ne!(IdentityKey::from_bytes([2; 32]).hash(&a), key.hash(&a));
    }
}
