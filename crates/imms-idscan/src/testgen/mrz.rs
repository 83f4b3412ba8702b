//! TD3 passport MRZ lines for a generated person, with correct check digits.

use rand::Rng;

use super::people::Person;
use crate::{check_digit, DocumentKind, IdDocument};

/// A passport: the person, a document number and an issuing state.
#[derive(Debug, Clone)]
pub struct Passport {
    pub person: Person,
    pub number: String,
    pub issuer: &'static str,
}

impl Passport {
    pub fn random(rng: &mut impl Rng) -> Self {
        let mut person = Person::random(rng);
        person.suffix = None;
        let number: String = (0..9)
            .map(|i| {
                if i == 0 && rng.gen_bool(0.3) {
                    char::from(b'A' + rng.gen_range(0..26u8))
                } else {
                    char::from(b'0' + rng.gen_range(0..10u8))
                }
            })
            .collect();
        Passport {
            person,
            number,
            issuer: "USA",
        }
    }

    /// The two 44-character lines.
    pub fn lines(&self) -> (String, String) {
        let p = &self.person;
        let mut name = format!(
            "{}<<{}",
            transliterate(&p.family),
            transliterate(&p.given_names())
        );
        name.truncate(39);
        let l1 = format!("P<{}{:<<39}", self.issuer, name);
        let digit = |f: &str| char::from(b'0' + check_digit(f.as_bytes()).unwrap());
        let dob = p.birth.format("%y%m%d").to_string();
        let exp = p.expiry.format("%y%m%d").to_string();
        let sex = match p.sex {
            crate::Sex::Male => 'M',
            crate::Sex::Female => 'F',
            crate::Sex::Unspecified => '<',
        };
        let personal = "<".repeat(14);
        let mut l2 = format!(
            "{}{}{}{dob}{}{sex}{exp}{}{personal}<",
            self.number,
            digit(&self.number),
            self.issuer,
            digit(&dob),
            digit(&exp)
        );
        let b = l2.as_bytes();
        let comp = [&b[0..10], &b[13..20], &b[21..43]].concat();
        l2.push(char::from(b'0' + check_digit(&comp).unwrap()));
        (l1, l2)
    }

    /// What [`crate::parse_td3`] must return.
    pub fn expected(&self) -> IdDocument {
        let p = &self.person;
        let (l1, _) = self.lines();
        let body = l1[5..].trim_end_matches('<');
        let (family, given) = body.split_once("<<").unwrap_or((body, ""));
        IdDocument {
            kind: DocumentKind::Passport,
            family_name: family.replace('<', " "),
            given_names: given.replace('<', " "),
            suffix: None,
            birth_date: p.birth,
            expiry_date: Some(p.expiry),
            sex: Some(p.sex),
            address: None,
            issuer: self.issuer.into(),
            name_truncated: l1.ends_with(|c| c != '<'),
            iin: None,
            aamva_version: None,
        }
    }
}

/// ICAO 9303 transliteration of the characters the generator uses.
pub fn transliterate(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            'A'..='Z' | '0'..='9' => out.push(c),
            ' ' | '-' => out.push('<'),
            '\'' | '.' => {}
            'Á' | 'À' | 'Â' => out.push('A'),
            'É' | 'È' | 'Ê' | 'Ë' => out.push('E'),
            'Í' | 'Ï' => out.push('I'),
            'Ó' | 'Ô' => out.push('O'),
            'Ñ' => out.push('N'),
            'Ç' => out.push('C'),
            'Ü' => out.push_str("UE"),
            'Ö' | 'Ø' => out.push_str("OE"),
            'Ä' => out.push_str("AE"),
            'Å' => out.push_str("AA"),
            _ => out.push('<'),
        }
    }
    out
}
