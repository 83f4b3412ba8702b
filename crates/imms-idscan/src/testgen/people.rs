//! Random people with the names that break naive parsers: hyphens, apostrophes, accents,
//! double surnames, suffixes.

use chrono::{Days, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::Sex;

const FAMILY: &[&str] = &[
    "SMITH",
    "O'BRIEN",
    "GARCIA LOPEZ",
    "NGUYEN",
    "DE LA CRUZ",
    "MÜLLER",
    "SMITH-JONES",
    "D'ANGELO",
    "PEÑA",
    "LEFÈVRE",
    "MCDONALD",
    "VAN DER BERG",
    "ØSTERGÅRD",
    "JOHNSON",
    "WASHINGTON",
    "BROWN",
];
const GIVEN: &[&str] = &[
    "JOSÉ",
    "MARY-KATE",
    "ZOË",
    "ANNE",
    "JEAN-LUC",
    "MICHAEL",
    "CHLOÉ",
    "D'ANDRE",
    "WEI",
    "FATIMA",
    "JOHN",
    "MARÍA",
    "KAREN",
    "DESHAWN",
    "RENÉE",
    "ELIZABETH",
];
const MIDDLE: &[&str] = &["LEE", "ANN", "MARIE", "JOSÉ", "T", "O'NEIL", "ROSE"];
const SUFFIX: &[&str] = &["JR", "SR", "II", "III", "IV"];
const STREETS: &[&str] = &[
    "2300 WEST BROAD STREET",
    "1 MAIN ST",
    "45 O'CONNELL AVE APT 3B",
    "1560 SHERBROOKE ST E",
    "12-34 QUEEN'S RD",
    "700 RUE SAINT-DENIS",
];
const CITIES: &[&str] = &[
    "RICHMOND",
    "ALBANY",
    "SAN ANTONIO",
    "TORONTO",
    "MONTRÉAL",
    "ST. LOUIS",
];

/// A person as the generator means them to be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub family: String,
    pub first: String,
    pub middle: Option<String>,
    pub suffix: Option<String>,
    pub birth: NaiveDate,
    pub expiry: NaiveDate,
    pub sex: Sex,
    pub street: String,
    pub city: String,
    pub zip: String,
}

impl Person {
    pub fn random(rng: &mut impl Rng) -> Self {
        let pick = |rng: &mut dyn rand::RngCore, xs: &[&str]| xs.choose(rng).unwrap().to_string();
        let birth = date_between(rng, (1930, 1, 1), (2007, 12, 31));
        let expiry = date_between(rng, (2024, 1, 1), (2035, 12, 31));
        Person {
            family: pick(rng, FAMILY),
            first: pick(rng, GIVEN),
            middle: rng.gen_bool(0.6).then(|| pick(rng, MIDDLE)),
            suffix: rng.gen_bool(0.2).then(|| pick(rng, SUFFIX)),
            birth,
            expiry,
            sex: *[Sex::Male, Sex::Female, Sex::Unspecified]
                .choose(rng)
                .unwrap(),
            street: pick(rng, STREETS),
            city: pick(rng, CITIES),
            zip: format!("{:05}", rng.gen_range(501..99950)),
        }
    }

    /// Given names as [`crate::IdDocument::given_names`] holds them.
    pub fn given_names(&self) -> String {
        match &self.middle {
            Some(m) => format!("{} {m}", self.first),
            None => self.first.clone(),
        }
    }
}

fn date_between(rng: &mut impl Rng, from: (i32, u32, u32), to: (i32, u32, u32)) -> NaiveDate {
    let a = NaiveDate::from_ymd_opt(from.0, from.1, from.2).unwrap();
    let b = NaiveDate::from_ymd_opt(to.0, to.1, to.2).unwrap();
    let span = (b - a).num_days() as u64;
    a.checked_add_days(Days::new(rng.gen_range(0..=span)))
        .unwrap()
}
