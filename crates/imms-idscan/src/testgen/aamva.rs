//! AAMVA payloads of every version layout, with correct header offsets.

use rand::seq::SliceRandom;
use rand::Rng;

use super::people::Person;
use crate::{Address, DocumentKind, IdDocument, Sex};

/// Jurisdictions the generator issues for: (code, IIN, Canadian).
const ISSUERS: &[(&str, &str, bool)] = &[
    ("VA", "636000", false),
    ("NY", "636001", false),
    ("TX", "636015", false),
    ("CA", "636014", false),
    ("FL", "636010", false),
    ("WA", "636045", false),
    ("ON", "636012", true),
    ("QC", "604428", true),
    ("BC", "636028", true),
];

/// One card: who, which jurisdiction, which AAMVA version, DL or ID.
#[derive(Debug, Clone)]
pub struct AamvaCard {
    pub person: Person,
    pub version: u8,
    pub state: &'static str,
    pub iin: &'static str,
    pub canadian: bool,
    pub kind: DocumentKind,
    /// v01 only: write the name as one `DAA` element instead of `DAB`/`DAC`/`DAD`.
    pub v01_full_name: bool,
}

impl AamvaCard {
    pub fn random(rng: &mut impl Rng) -> Self {
        let &(state, iin, canadian) = ISSUERS.choose(rng).unwrap();
        let mut person = Person::random(rng);
        if canadian {
            let l = |rng: &mut dyn rand::RngCore| char::from(b'A' + rng.gen_range(0..26u8));
            let d = |rng: &mut dyn rand::RngCore| char::from(b'0' + rng.gen_range(0..10u8));
            person.zip = format!(
                "{}{}{} {}{}{}",
                l(rng),
                d(rng),
                l(rng),
                d(rng),
                l(rng),
                d(rng)
            );
        }
        AamvaCard {
            person,
            version: rng.gen_range(1..=10),
            state,
            iin,
            canadian,
            kind: if rng.gen_bool(0.7) {
                DocumentKind::DriverLicense
            } else {
                DocumentKind::IdCard
            },
            v01_full_name: rng.gen_bool(0.5),
        }
    }

    fn date(&self, d: chrono::NaiveDate) -> String {
        if self.canadian {
            d.format("%Y%m%d").to_string()
        } else {
            d.format("%m%d%Y").to_string()
        }
    }

    /// The barcode text.
    pub fn payload(&self) -> String {
        let p = &self.person;
        let mut el: Vec<(&str, String)> = vec![("DAQ", "D1234567".into())];
        match self.version {
            1 if self.v01_full_name => {
                let mut n = format!("{},{}", p.family, p.first);
                if p.middle.is_some() || p.suffix.is_some() {
                    n += &format!(",{}", p.middle.clone().unwrap_or_default());
                }
                if let Some(s) = &p.suffix {
                    n += &format!(",{s}");
                }
                el.push(("DAA", n));
            }
            1 => {
                el.push(("DAB", p.family.clone()));
                el.push(("DAC", p.first.clone()));
                if let Some(m) = &p.middle {
                    el.push(("DAD", m.clone()));
                }
                if let Some(s) = &p.suffix {
                    el.push(("DAE", s.clone()));
                }
            }
            2 | 3 => {
                el.push(("DCS", p.family.clone()));
                let given = match &p.middle {
                    Some(m) => format!("{},{m}", p.first),
                    None => p.first.clone(),
                };
                el.push(("DCT", given));
                if let Some(s) = &p.suffix {
                    el.push(("DCU", s.clone()));
                }
            }
            _ => {
                el.push(("DCS", p.family.clone()));
                el.push(("DDE", "N".into()));
                el.push(("DAC", p.first.clone()));
                el.push(("DDF", "N".into()));
                el.push(("DAD", p.middle.clone().unwrap_or_else(|| "NONE".into())));
                el.push(("DDG", "N".into()));
                if let Some(s) = &p.suffix {
                    el.push(("DCU", s.clone()));
                }
            }
        }
        el.push(("DBD", self.date(p.expiry - chrono::Days::new(8 * 365))));
        el.push(("DBB", self.date(p.birth)));
        el.push(("DBA", self.date(p.expiry)));
        let sex = match p.sex {
            Sex::Male => "1",
            Sex::Female => "2",
            Sex::Unspecified => "9",
        };
        el.push(("DBC", sex.into()));
        el.push(("DAU", "069 IN".into()));
        el.push(("DAG", p.street.clone()));
        el.push(("DAI", p.city.clone()));
        el.push(("DAJ", self.state.into()));
        let zip = if self.canadian {
            p.zip.clone()
        } else {
            format!("{}0000  ", p.zip)
        };
        el.push(("DAK", zip));
        if self.version >= 4 {
            el.push(("DCF", "0123456789ABCDEF".into()));
            el.push(("DCG", if self.canadian { "CAN" } else { "USA" }.into()));
        }
        let tag = match self.kind {
            DocumentKind::IdCard => "ID",
            _ => "DL",
        };
        let body: Vec<String> = el.iter().map(|(c, v)| format!("{c}{v}")).collect();
        let main = format!("{tag}{}\r", body.join("\n"));
        let z = format!("Z{0}Z{0}A01\r", &self.state[..1]);
        let zt = format!("Z{}", &self.state[..1]);

        let jv = if self.version >= 2 { "01" } else { "" };
        let header_len = 4 + 5 + 6 + 2 + jv.len() + 2 + 2 * 10;
        let mut s = format!("@\n\x1e\rANSI {}{:02}{jv}02", self.iin, self.version);
        s += &format!("{tag}{:04}{:04}", header_len, main.len());
        s += &format!("{zt}{:04}{:04}", header_len + main.len(), z.len());
        s += &main;
        s += &z;
        s
    }

    /// What [`crate::parse_aamva`] must return for this card.
    pub fn expected(&self) -> IdDocument {
        let p = &self.person;
        IdDocument {
            kind: self.kind,
            family_name: p.family.clone(),
            given_names: p.given_names(),
            suffix: p.suffix.clone(),
            birth_date: p.birth,
            expiry_date: Some(p.expiry),
            sex: Some(p.sex),
            address: Some(Address {
                street: p.street.clone(),
                city: p.city.clone(),
                state: self.state.into(),
                postal_code: p.zip.clone(),
            }),
            issuer: self.state.into(),
            name_truncated: false,
            iin: Some(self.iin.into()),
            aamva_version: Some(self.version),
        }
    }
}
