//! A seeded synthetic registry and queries with known truth, for an evaluation anyone can
//! rerun (`imms gen persons`, docs/matching.md). Nothing here is a real person.
//!
//! **The registry** is made of households (1–6 people sharing a surname and an address):
//! names drawn from US frequency tables (the most common given names and surnames with
//! their census shares, then a long synthetic tail with Zipf weights, so that "Smith" and
//! "James" are as common as in life and most surnames are rare), 3% compound or hyphenated
//! surnames, middle names for 85%, birth dates over 90 years, twins (3% of children), a
//! Jr and a Sr in 4% of households with a son, street addresses with units, ZIP codes and
//! cities in a state.
//!
//! **The queries** are what a person types or an ID says, with errors at rates
//! [`Noise`] sets: typing errors in names, nicknames, married names and moves, missing or
//! initial middle names, swapped day and month, one-digit date errors, missing suffixes,
//! ZIP typos, spelled-out street suffixes. Some queries are for one twin, a Jr or a Sr, and
//! some for *look-alikes who are not in the registry* (same name and date of birth
//! elsewhere; a sibling or spouse at the same address; a near-miss date of birth): their
//! truth is "no one", and any answer to them is a wrong-person answer. A namesake is drawn
//! with a chance in proportion to how common the name is, as coincidences happen in life:
//! two "James Smith" born on one day are far likelier than two "Rosalind Quintero".
//!
//! The generator streams: persons come out one at a time (10 million fit in no memory
//! budget otherwise), and the query sources are kept by reservoir sampling.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::text::nicknames_of;

/// One row of persons.csv or queries.csv (INTERFACE.md, "Matching").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub given: String,
    pub middle: String,
    pub family: String,
    pub suffix: String,
    pub birth_date: String,
    pub sex: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
}

/// The right answer to one query: the person it is for (`None`: not in the registry), and
/// the errors and cases it carries ("clean", "typo+nickname", "twin", "look-alike", ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    pub query_id: String,
    pub person_id: Option<String>,
    pub kind: String,
}

/// Error rates of the queries. `Noise::default()` is the documented model
/// (docs/matching.md); [`Noise::scaled`] multiplies every rate, so that tests can check the
/// engine on data noisier or cleaner than the data its defaults were chosen on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Noise {
    /// A typing error (substitution, deletion, insertion, transposition) in the given name.
    pub given_typo: f64,
    /// ... in the surname.
    pub family_typo: f64,
    /// A nickname for the given name (where the name has one).
    pub nickname: f64,
    /// The middle name left out.
    pub middle_missing: f64,
    /// Only the middle initial.
    pub middle_initial: f64,
    /// Day and month swapped (where both are at most 12).
    pub swap_day_month: f64,
    /// One digit of the date of birth wrong.
    pub date_typo: f64,
    /// A woman of 20–65 under a new surname (married or divorced).
    pub married: f64,
    /// A new address (moved).
    pub moved: f64,
    /// No address given.
    pub address_missing: f64,
    /// One digit of the ZIP code wrong.
    pub zip_typo: f64,
    /// Sex not given.
    pub sex_missing: f64,
    /// The Jr/Sr/III suffix left out.
    pub suffix_missing: f64,
    /// The street suffix spelled out or the unit written differently (not an error).
    pub street_variant: f64,
}

impl Default for Noise {
    fn default() -> Noise {
        Noise {
            given_typo: 0.03,
            family_typo: 0.03,
            nickname: 0.08,
            middle_missing: 0.40,
            middle_initial: 0.20,
            swap_day_month: 0.01,
            date_typo: 0.015,
            married: 0.05,
            moved: 0.10,
            address_missing: 0.05,
            zip_typo: 0.01,
            sex_missing: 0.03,
            suffix_missing: 0.40,
            street_variant: 0.30,
        }
    }
}

impl Noise {
    /// Every error rate times `factor` (capped at 0.9); `street_variant` is not an error and
    /// stays as it is.
    pub fn scaled(factor: f64) -> Noise {
        let d = Noise::default();
        let s = |x: f64| (x * factor).clamp(0.0, 0.9);
        Noise {
            given_typo: s(d.given_typo),
            family_typo: s(d.family_typo),
            nickname: s(d.nickname),
            middle_missing: s(d.middle_missing),
            middle_initial: s(d.middle_initial),
            swap_day_month: s(d.swap_day_month),
            date_typo: s(d.date_typo),
            married: s(d.married),
            moved: s(d.moved),
            address_missing: s(d.address_missing),
            zip_typo: s(d.zip_typo),
            sex_missing: s(d.sex_missing),
            suffix_missing: s(d.suffix_missing),
            street_variant: d.street_variant,
        }
    }
}

/// Shares of the queries by case. The rest (75%) are ordinary registry persons.
const TWIN_SHARE: f64 = 0.05;
const JRSR_SHARE: f64 = 0.05;
const LOOKALIKE_SHARE: f64 = 0.15;
/// Of the look-alikes, namesakes (same name, same or near date of birth, elsewhere); the
/// rest are relatives at the registry person's address.
const NAMESAKE_SHARE: f64 = 0.7;
/// Of the namesakes, those with the very same date of birth (the rest: up to 40 days off).
const SAME_DATE_SHARE: f64 = 5.0 / 7.0;

/// The day ages are counted from, fixed so that a seed gives the same files on any day.
fn reference_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date")
}

// Most common surnames (US census 2010, per 100,000 people).
const SURNAMES: &[(&str, u32)] = &[
    ("Smith", 828),
    ("Johnson", 655),
    ("Williams", 550),
    ("Brown", 487),
    ("Jones", 483),
    ("Garcia", 395),
    ("Miller", 394),
    ("Davis", 381),
    ("Rodriguez", 372),
    ("Martinez", 363),
    ("Hernandez", 362),
    ("Lopez", 296),
    ("Gonzalez", 285),
    ("Wilson", 272),
    ("Anderson", 270),
    ("Thomas", 261),
    ("Taylor", 258),
    ("Moore", 241),
    ("Jackson", 238),
    ("Martin", 236),
    ("Lee", 232),
    ("Perez", 227),
    ("Thompson", 226),
    ("White", 220),
    ("Harris", 209),
    ("Sanchez", 204),
    ("Clark", 188),
    ("Ramirez", 184),
    ("Lewis", 180),
    ("Robinson", 178),
    ("Walker", 175),
    ("Young", 162),
    ("Allen", 161),
    ("King", 156),
    ("Wright", 155),
    ("Scott", 148),
    ("Torres", 147),
    ("Nguyen", 145),
    ("Hill", 145),
    ("Flores", 145),
    ("Green", 142),
    ("Adams", 140),
    ("Nelson", 139),
    ("Baker", 138),
    ("Hall", 133),
    ("Rivera", 131),
    ("Campbell", 126),
    ("Mitchell", 125),
    ("Carter", 125),
    ("Roberts", 124),
    ("O'Brien", 60),
    ("De la Cruz", 40),
    ("McDonald", 55),
    ("Van der Berg", 5),
];

// Most common given names (US census 1990, per 10,000 of each sex).
const FEMALE: &[(&str, u32)] = &[
    ("Mary", 263),
    ("Patricia", 107),
    ("Linda", 104),
    ("Barbara", 98),
    ("Elizabeth", 94),
    ("Jennifer", 93),
    ("Maria", 83),
    ("Susan", 79),
    ("Margaret", 77),
    ("Dorothy", 73),
    ("Lisa", 70),
    ("Nancy", 67),
    ("Karen", 67),
    ("Betty", 67),
    ("Helen", 66),
    ("Sandra", 63),
    ("Donna", 58),
    ("Carol", 58),
    ("Ruth", 54),
    ("Sharon", 52),
    ("Michelle", 52),
    ("Laura", 51),
    ("Sarah", 51),
    ("Kimberly", 50),
    ("Deborah", 49),
    ("Jessica", 49),
    ("Shirley", 48),
    ("Cynthia", 47),
    ("Angela", 47),
    ("Melissa", 46),
    ("Brenda", 46),
    ("Amy", 45),
    ("Anna", 44),
    ("Rebecca", 43),
    ("Virginia", 43),
    ("Kathleen", 42),
    ("Pamela", 42),
    ("Martha", 42),
    ("Debra", 41),
    ("Amanda", 40),
    ("Stephanie", 40),
    ("Carolyn", 38),
    ("Christine", 38),
    ("Catherine", 37),
    ("Frances", 36),
    ("Emily", 35),
    ("Olivia", 30),
    ("Emma", 30),
    ("Sophia", 28),
    ("Isabella", 25),
    ("Victoria", 22),
    ("Abigail", 20),
    ("Chloé", 10),
    ("María José", 5),
    ("Siobhán", 3),
];
const MALE: &[(&str, u32)] = &[
    ("James", 332),
    ("John", 327),
    ("Robert", 314),
    ("Michael", 263),
    ("William", 245),
    ("David", 236),
    ("Richard", 170),
    ("Charles", 152),
    ("Joseph", 140),
    ("Thomas", 138),
    ("Christopher", 104),
    ("Daniel", 97),
    ("Paul", 95),
    ("Mark", 94),
    ("Donald", 93),
    ("George", 93),
    ("Kenneth", 83),
    ("Steven", 78),
    ("Edward", 78),
    ("Brian", 74),
    ("Ronald", 73),
    ("Anthony", 72),
    ("Kevin", 67),
    ("Jason", 66),
    ("Matthew", 66),
    ("Gary", 65),
    ("Timothy", 64),
    ("Jose", 61),
    ("Larry", 60),
    ("Jeffrey", 59),
    ("Frank", 58),
    ("Scott", 55),
    ("Eric", 54),
    ("Stephen", 54),
    ("Andrew", 54),
    ("Raymond", 49),
    ("Gregory", 44),
    ("Joshua", 43),
    ("Jerry", 43),
    ("Dennis", 42),
    ("Walter", 42),
    ("Patrick", 42),
    ("Peter", 41),
    ("Harold", 40),
    ("Douglas", 40),
    ("Henry", 40),
    ("Samuel", 35),
    ("Benjamin", 35),
    ("Alexander", 30),
    ("Nicholas", 30),
    ("Juan Carlos", 5),
    ("François", 3),
    ("D'Andre", 3),
];
const STREETS: &[&str] = &[
    "Main",
    "Oak",
    "Maple",
    "Park",
    "Washington",
    "Elm",
    "Lake",
    "Hill",
    "Cedar",
    "Pine",
    "Walnut",
    "Church",
    "Spring",
    "Ridge",
    "Lincoln",
    "Jefferson",
    "Highland",
    "Sunset",
    "Forest",
    "River",
    "Meadow",
    "Willow",
    "Jackson",
    "Franklin",
    "Mill",
    "Center",
    "Chestnut",
    "Madison",
    "Adams",
    "Birch",
    "Dogwood",
    "Hickory",
    "Sycamore",
    "Larkspur",
    "Orchard",
    "Prospect",
    "Railroad",
    "School",
    "Valley",
    "Woodland",
];
const STREET_SUFFIXES: &[(&str, &str)] = &[
    ("St", "Street"),
    ("Ave", "Avenue"),
    ("Rd", "Road"),
    ("Dr", "Drive"),
    ("Ln", "Lane"),
    ("Ct", "Court"),
    ("Blvd", "Boulevard"),
    ("Way", "Way"),
    ("Pl", "Place"),
    ("Cir", "Circle"),
];
const ONSETS: &[&str] = &[
    "B", "C", "D", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "T", "V", "W", "Br",
    "Ch", "Cr", "Dr", "Fl", "Gr", "Kr", "Pr", "Sh", "St", "Th", "Tr", "Z",
];
const VOWELS: &[&str] = &[
    "a", "e", "i", "o", "u", "ar", "er", "or", "an", "en", "in", "on", "el", "al", "ay", "ie",
];
const CODAS: &[&str] = &[
    "", "", "", "n", "s", "t", "r", "l", "k", "m", "ck", "ski", "son", "ley", "berg", "ton", "ez",
    "ov", "ini", "ard", "well", "wick", "man", "ford",
];

/// Weighted choice over a fixed table: a cumulative array and a binary search.
struct Table {
    names: Vec<String>,
    cumulative: Vec<f64>,
    /// Each name's share of the people, for the namesake draw.
    shares: HashMap<String, f64>,
    rarest: f64,
}

impl Table {
    /// The head with its real shares (per `per` people), then `tail` synthetic names with
    /// Zipf weights sharing what the head leaves.
    fn new(head: &[(&str, u32)], per: f64, tail: usize, rng: &mut StdRng) -> Table {
        let mut names: Vec<String> = head.iter().map(|(n, _)| n.to_string()).collect();
        let mut weights: Vec<f64> = head.iter().map(|(_, w)| *w as f64 / per).collect();
        let head_share: f64 = weights.iter().sum();
        let zipf: Vec<f64> = (0..tail).map(|i| 1.0 / (i as f64 + 30.0)).collect();
        let zipf_sum: f64 = zipf.iter().sum();
        let mut seen: std::collections::HashSet<String> = names.iter().cloned().collect();
        let mut i = 0;
        while i < tail {
            let name = synthetic_name(rng);
            if seen.insert(name.clone()) {
                names.push(name);
                weights.push(zipf[i] / zipf_sum * (1.0 - head_share).max(0.0));
                i += 1;
            }
        }
        let mut acc = 0.0;
        let cumulative: Vec<f64> = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        let total = acc.max(f64::MIN_POSITIVE);
        let shares: HashMap<String, f64> = names
            .iter()
            .zip(&weights)
            .map(|(n, w)| (n.clone(), w / total))
            .collect();
        let rarest = shares.values().copied().fold(1.0, f64::min);
        Table {
            names,
            cumulative,
            shares,
            rarest,
        }
    }

    /// The share of people with this name: a compound ("Garcia Lopez", "Garcia-Lopez")
    /// is the product of its parts'; a name the table does not know counts as its rarest.
    fn share(&self, name: &str) -> f64 {
        if let Some(s) = self.shares.get(name) {
            return *s;
        }
        name.split([' ', '-'])
            .filter(|p| !p.is_empty())
            .map(|p| self.shares.get(p).copied().unwrap_or(self.rarest))
            .product()
    }

    fn pick(&self, rng: &mut StdRng) -> &str {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let x = rng.gen::<f64>() * total;
        let i = self.cumulative.partition_point(|c| *c < x);
        &self.names[i.min(self.names.len() - 1)]
    }
}

fn synthetic_name(rng: &mut StdRng) -> String {
    let syllables = if rng.gen_bool(0.6) { 2 } else { 3 };
    let mut s = String::new();
    for k in 0..syllables {
        s.push_str(ONSETS.choose(rng).expect("onsets"));
        s.push_str(VOWELS.choose(rng).expect("vowels"));
        if k + 1 == syllables {
            s.push_str(CODAS.choose(rng).expect("codas"));
        }
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => s,
    }
}

struct Place {
    city: String,
    state: &'static str,
    zip: String,
    streets: Vec<String>,
}

/// Who a kept query source is.
#[derive(Clone)]
enum Case {
    Ordinary,
    Twin,
    JrSr,
    /// Someone else with the same name (look-alikes).
    Namesake,
    /// A relative at the same address (look-alikes).
    Relative,
}

/// Reservoir sampling of `k` items.
struct Reservoir {
    k: usize,
    seen: u64,
    items: Vec<Record>,
}

impl Reservoir {
    fn new(k: usize) -> Reservoir {
        Reservoir {
            k,
            seen: 0,
            items: Vec::new(),
        }
    }

    fn offer(&mut self, r: &Record, rng: &mut StdRng) {
        self.seen += 1;
        if self.items.len() < self.k {
            self.items.push(r.clone());
        } else if self.k > 0 {
            let j = rng.gen_range(0..self.seen);
            if (j as usize) < self.k {
                self.items[j as usize] = r.clone();
            }
        }
    }
}

/// Weighted reservoir sampling of `k` items (Efraimidis and Spirakis, A-Res): each item is
/// kept with a chance in proportion to its weight.
struct WeightedReservoir {
    k: usize,
    seen: u64,
    heap: BinaryHeap<Reverse<Keyed>>,
}

/// An item with its sampling key `ln(r) / weight`; the `k` largest keys are kept.
struct Keyed {
    key: f64,
    seq: u64,
    record: Record,
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Keyed) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Keyed {}

impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Keyed) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Keyed {
    fn cmp(&self, other: &Keyed) -> Ordering {
        self.key
            .total_cmp(&other.key)
            .then(self.seq.cmp(&other.seq))
    }
}

impl WeightedReservoir {
    fn new(k: usize) -> WeightedReservoir {
        WeightedReservoir {
            k,
            seen: 0,
            heap: BinaryHeap::new(),
        }
    }

    fn offer(&mut self, r: &Record, weight: f64, rng: &mut StdRng) {
        self.seen += 1;
        if self.k == 0 || weight <= 0.0 {
            return;
        }
        // ln(r)/w rather than r^(1/w): the same order, without underflow for tiny weights.
        let key = rng.gen::<f64>().max(f64::MIN_POSITIVE).ln() / weight;
        if self.heap.len() < self.k {
            self.heap.push(Reverse(Keyed {
                key,
                seq: self.seen,
                record: r.clone(),
            }));
        } else if self.heap.peek().is_some_and(|Reverse(min)| key > min.key) {
            self.heap.pop();
            self.heap.push(Reverse(Keyed {
                key,
                seq: self.seen,
                record: r.clone(),
            }));
        }
    }

    fn into_records(self) -> Vec<Record> {
        let mut kept: Vec<Keyed> = self.heap.into_iter().map(|Reverse(k)| k).collect();
        kept.sort_by_key(|k| k.seq);
        kept.into_iter().map(|k| k.record).collect()
    }
}

/// The generator; see the module documentation.
pub struct Generator {
    rng: StdRng,
    count: usize,
    made: usize,
    surnames: Table,
    female: Table,
    male: Table,
    nicknames: HashMap<String, Vec<String>>,
    places: Vec<Place>,
    pending: Vec<Record>,
    ordinary: Reservoir,
    twins: Reservoir,
    jrsr: Reservoir,
    namesakes: WeightedReservoir,
    relatives: Reservoir,
    noise: Noise,
    queries: usize,
    made_ids: u64,
}

impl Generator {
    /// `count` registry persons and `queries` queries, from `seed`.
    pub fn new(seed: u64, count: usize, queries: usize, noise: Noise) -> Generator {
        // The name tables are the same for every seed: a seed draws people, not a language.
        let mut tables = StdRng::seed_from_u64(0x1D5_7AB1E);
        let surnames = Table::new(SURNAMES, 100_000.0, 60_000, &mut tables);
        let female = Table::new(FEMALE, 10_000.0, 6_000, &mut tables);
        let male = Table::new(MALE, 10_000.0, 4_000, &mut tables);
        let mut nicknames = HashMap::new();
        for (name, _) in FEMALE.iter().chain(MALE) {
            let key = crate::text::tokens(name).join(" ");
            let nicks: Vec<String> = nicknames_of(&key)
                .into_iter()
                .filter(|n| n.len() > 2)
                .map(title_case)
                .collect();
            if !nicks.is_empty() {
                nicknames.insert(name.to_string(), nicks);
            }
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let zips = (count / 10_000).clamp(40, 1000);
        let cities = (zips / 3).max(10);
        let city_names: Vec<String> = (0..cities)
            .map(|i| {
                let base = synthetic_name(&mut tables);
                match i % 5 {
                    0 => format!("Port {base}"),
                    1 => format!("{base}ville"),
                    2 => format!("East {base}"),
                    _ => base,
                }
            })
            .collect();
        let places = (0..zips)
            .map(|i| {
                let streets = (0..60)
                    .map(|_| {
                        let name = if rng.gen_bool(0.5) {
                            STREETS.choose(&mut rng).expect("streets").to_string()
                        } else {
                            surnames.pick(&mut rng).to_string()
                        };
                        let (suffix, _) = STREET_SUFFIXES.choose(&mut rng).expect("suffixes");
                        format!("{name} {suffix}")
                    })
                    .collect();
                Place {
                    city: city_names[i % cities].clone(),
                    state: if i % 40 == 39 { "OH" } else { "MI" },
                    zip: format!("{:05}", 48001 + i * 7),
                    streets,
                }
            })
            .collect();
        let twins = ((queries as f64) * TWIN_SHARE).round() as usize;
        let jrsr = ((queries as f64) * JRSR_SHARE).round() as usize;
        let lookalike = ((queries as f64) * LOOKALIKE_SHARE).round() as usize;
        let namesakes = ((lookalike as f64) * NAMESAKE_SHARE).round() as usize;
        let ordinary = queries.saturating_sub(twins + jrsr + lookalike);
        Generator {
            rng,
            count,
            made: 0,
            surnames,
            female,
            male,
            nicknames,
            places,
            pending: Vec::new(),
            ordinary: Reservoir::new(ordinary),
            twins: Reservoir::new(twins),
            jrsr: Reservoir::new(jrsr),
            namesakes: WeightedReservoir::new(namesakes),
            relatives: Reservoir::new(lookalike - namesakes),
            noise,
            queries,
            made_ids: 0,
        }
    }

    /// The next registry person, or `None` after `count`.
    pub fn next_person(&mut self) -> Option<Record> {
        if self.made >= self.count {
            return None;
        }
        if self.pending.is_empty() {
            self.household();
        }
        let p = self.pending.pop()?;
        self.made += 1;
        Some(p)
    }

    fn given_name(&mut self, sex: &str) -> String {
        let t = if sex == "F" { &self.female } else { &self.male };
        t.pick(&mut self.rng).to_string()
    }

    fn person(&mut self, sex: &str, family: &str, birth: NaiveDate, address: &Address) -> Record {
        let given = self.given_name(sex);
        let middle = if !self.rng.gen_bool(0.85) {
            String::new()
        } else if self.rng.gen_bool(0.8) {
            self.given_name(sex)
        } else {
            self.surnames.pick(&mut self.rng).to_string()
        };
        Record {
            id: String::new(),
            given,
            middle,
            family: family.to_string(),
            suffix: String::new(),
            birth_date: birth.format("%Y-%m-%d").to_string(),
            sex: sex.to_string(),
            street: address.street.clone(),
            city: address.city.clone(),
            state: address.state.clone(),
            postal_code: address.zip.clone(),
        }
    }

    fn family_name(&mut self) -> String {
        let a = self.surnames.pick(&mut self.rng).to_string();
        let r: f64 = self.rng.gen();
        if r < 0.02 {
            format!("{a} {}", self.surnames.pick(&mut self.rng))
        } else if r < 0.03 {
            format!("{a}-{}", self.surnames.pick(&mut self.rng))
        } else {
            a
        }
    }

    fn address(&mut self) -> Address {
        let place = &self.places[self.rng.gen_range(0..self.places.len())];
        let street = place.streets[self.rng.gen_range(0..place.streets.len())].clone();
        let number = self.rng.gen_range(1..9999);
        let unit = if self.rng.gen_bool(0.15) {
            format!(
                " Apt {}{}",
                self.rng.gen_range(1..30),
                ["", "A", "B"][self.rng.gen_range(0..3)]
            )
        } else {
            String::new()
        };
        Address {
            street: format!("{number} {street}{unit}"),
            city: place.city.clone(),
            state: place.state.to_string(),
            zip: place.zip.clone(),
        }
    }

    /// An address in another ZIP code than `zip`.
    fn address_outside(&mut self, zip: &str) -> Address {
        loop {
            let a = self.address();
            if a.zip != zip || self.places.len() < 2 {
                return a;
            }
        }
    }

    fn birth(&mut self, min_age: i64, max_age: i64) -> NaiveDate {
        let days = self.rng.gen_range(min_age * 365..=max_age * 365 + 364);
        reference_day() - Duration::days(days)
    }

    /// One household into `pending`, and its people offered to the query reservoirs.
    fn household(&mut self) {
        let address = self.address();
        let family = self.family_name();
        let size = match self.rng.gen::<f64>() {
            x if x < 0.28 => 1,
            x if x < 0.62 => 2,
            x if x < 0.77 => 3,
            x if x < 0.90 => 4,
            x if x < 0.96 => 5,
            _ => 6,
        };
        let head_sex = if self.rng.gen_bool(0.5) { "F" } else { "M" };
        let head_birth = self.birth(22, 90);
        let mut people = vec![self.person(head_sex, &family, head_birth, &address)];
        let mut cases = vec![Case::Ordinary];
        if size >= 2 {
            let sex = if head_sex == "F" { "M" } else { "F" };
            let spouse_family = if self.rng.gen_bool(0.7) {
                family.clone()
            } else {
                self.family_name()
            };
            let birth = head_birth + Duration::days(self.rng.gen_range(-3000..3000));
            let birth = birth.min(reference_day() - Duration::days(18 * 365));
            people.push(self.person(sex, &spouse_family, birth, &address));
            cases.push(Case::Ordinary);
        }
        let head_age = (reference_day() - head_birth).num_days() / 365;
        let mut k = 2;
        while k < size {
            let max_age = (head_age - 18).clamp(0, 40);
            let birth = self.birth(0, max_age);
            let sex = if self.rng.gen_bool(0.5) { "F" } else { "M" };
            let mut child = self.person(sex, &family, birth, &address);
            // A son named after his father: a Jr and a Sr at one address.
            let father = people
                .iter()
                .position(|p| p.sex == "M" && p.family == family);
            if let Some(f) = father.filter(|_| sex == "M" && self.rng.gen_bool(0.04)) {
                child.given = people[f].given.clone();
                child.middle = people[f].middle.clone();
                child.suffix = "Jr".into();
                people[f].suffix = if self.rng.gen_bool(0.5) { "Sr" } else { "" }.into();
                cases[f] = Case::JrSr;
                people.push(child);
                cases.push(Case::JrSr);
                k += 1;
                continue;
            }
            if self.rng.gen_bool(0.03) {
                // Twins: same surname, birth date and address; another given name.
                let sex2 = if self.rng.gen_bool(0.5) { "F" } else { "M" };
                let mut twin = self.person(sex2, &family, birth, &address);
                while twin.given == child.given {
                    twin.given = self.given_name(sex2);
                }
                people.push(child);
                cases.push(Case::Twin);
                people.push(twin);
                cases.push(Case::Twin);
                k += 2;
                continue;
            }
            people.push(child);
            cases.push(Case::Ordinary);
            k += 1;
        }
        for p in people.iter_mut() {
            self.made_ids += 1;
            p.id = format!("P{:08}", self.made_ids);
        }
        for (p, case) in people.iter().zip(cases) {
            match case {
                Case::Twin => self.twins.offer(p, &mut self.rng),
                Case::JrSr => self.jrsr.offer(p, &mut self.rng),
                _ => self.ordinary.offer(p, &mut self.rng),
            }
            let weight = self.name_share(p);
            self.namesakes.offer(p, weight, &mut self.rng);
            self.relatives.offer(p, &mut self.rng);
        }
        people.reverse();
        self.pending = people;
    }

    /// The share of people with `p`'s given name and surname: how likely a namesake is.
    fn name_share(&self, p: &Record) -> f64 {
        let given = if p.sex == "F" {
            &self.female
        } else {
            &self.male
        };
        given.share(&p.given) * self.surnames.share(&p.family)
    }

    /// The queries and their truth, shuffled; call after the last person.
    pub fn queries(mut self) -> Vec<(Record, Truth)> {
        let mut sources: Vec<(Record, Case)> = Vec::new();
        for (res, case) in [
            (
                std::mem::replace(&mut self.ordinary, Reservoir::new(0)),
                Case::Ordinary,
            ),
            (
                std::mem::replace(&mut self.twins, Reservoir::new(0)),
                Case::Twin,
            ),
            (
                std::mem::replace(&mut self.jrsr, Reservoir::new(0)),
                Case::JrSr,
            ),
            (
                std::mem::replace(&mut self.relatives, Reservoir::new(0)),
                Case::Relative,
            ),
        ] {
            sources.extend(res.items.into_iter().map(|r| (r, case.clone())));
        }
        let namesakes = std::mem::replace(&mut self.namesakes, WeightedReservoir::new(0));
        sources.extend(
            namesakes
                .into_records()
                .into_iter()
                .map(|r| (r, Case::Namesake)),
        );
        // Fewer twins or Jr/Sr than asked for (a small registry): ordinary queries instead
        // are not added, so the counts stay honest; the total may be below `queries`.
        let _ = self.queries;
        sources.shuffle(&mut self.rng);
        sources
            .into_iter()
            .enumerate()
            .map(|(i, (source, case))| {
                let query_id = format!("Q{:08}", i + 1);
                let (mut q, person_id, kinds) = match case {
                    Case::Namesake => {
                        let (q, kind) = self.namesake(&source);
                        (q, None, vec![kind])
                    }
                    Case::Relative => (self.relative(&source), None, vec!["look-alike-household"]),
                    case => {
                        let (q, mut kinds) = self.with_errors(&source);
                        match case {
                            Case::Twin => kinds.insert(0, "twin"),
                            Case::JrSr => kinds.insert(0, "jr-sr"),
                            _ => {}
                        }
                        (q, Some(source.id.clone()), kinds)
                    }
                };
                q.id = query_id.clone();
                let kind = if kinds.is_empty() {
                    "clean".to_string()
                } else {
                    kinds.join("+")
                };
                (
                    q,
                    Truth {
                        query_id,
                        person_id,
                        kind,
                    },
                )
            })
            .collect()
    }

    /// A query for `p` with errors drawn from the noise model, and the errors' names.
    fn with_errors(&mut self, p: &Record) -> (Record, Vec<&'static str>) {
        let n = self.noise;
        let mut q = p.clone();
        let mut kinds = Vec::new();
        let age = NaiveDate::parse_from_str(&p.birth_date, "%Y-%m-%d")
            .map(|b| (reference_day() - b).num_days() / 365)
            .unwrap_or(0);
        if p.sex == "F" && (20..=65).contains(&age) && self.rng.gen_bool(n.married) {
            let mut new = self.family_name();
            while new == q.family {
                new = self.family_name();
            }
            q.family = new;
            kinds.push("married");
            if self.rng.gen_bool(0.5) {
                self.move_address(&mut q);
                kinds.push("moved");
            }
        } else if self.rng.gen_bool(n.moved) {
            self.move_address(&mut q);
            kinds.push("moved");
        }
        if let Some(nicks) = self
            .nicknames
            .get(&q.given)
            .filter(|_| self.rng.gen_bool(n.nickname))
        {
            q.given = nicks.choose(&mut self.rng).cloned().unwrap_or(q.given);
            kinds.push("nickname");
        } else if self.rng.gen_bool(n.given_typo) {
            q.given = typo(&q.given, &mut self.rng);
            kinds.push("typo");
        }
        if self.rng.gen_bool(n.family_typo) {
            q.family = typo(&q.family, &mut self.rng);
            if !kinds.contains(&"typo") {
                kinds.push("typo");
            }
        }
        if !q.middle.is_empty() {
            let r: f64 = self.rng.gen();
            if r < n.middle_missing {
                q.middle.clear();
                kinds.push("no-middle");
            } else if r < n.middle_missing + n.middle_initial {
                q.middle = q.middle.chars().take(1).collect();
            }
        }
        if !q.suffix.is_empty() && self.rng.gen_bool(n.suffix_missing) {
            q.suffix.clear();
            kinds.push("no-suffix");
        }
        if let Ok(b) = NaiveDate::parse_from_str(&q.birth_date, "%Y-%m-%d") {
            if b.day() <= 12 && b.day() != b.month() && self.rng.gen_bool(n.swap_day_month) {
                if let Some(s) = NaiveDate::from_ymd_opt(b.year(), b.day(), b.month()) {
                    q.birth_date = s.format("%Y-%m-%d").to_string();
                    kinds.push("day-month-swap");
                }
            } else if self.rng.gen_bool(n.date_typo) {
                if let Some(d) = date_typo(b, &mut self.rng) {
                    q.birth_date = d.format("%Y-%m-%d").to_string();
                    kinds.push("date-typo");
                }
            }
        }
        if self.rng.gen_bool(n.address_missing) {
            q.street.clear();
            q.city.clear();
            q.state.clear();
            q.postal_code.clear();
            kinds.push("no-address");
        } else {
            if self.rng.gen_bool(n.zip_typo) {
                q.postal_code = digit_typo(&q.postal_code, &mut self.rng);
                kinds.push("zip-typo");
            }
            if self.rng.gen_bool(n.street_variant) {
                q.street = street_variant(&q.street);
            }
        }
        if self.rng.gen_bool(n.sex_missing) {
            q.sex.clear();
        }
        if self.rng.gen_bool(0.3) {
            q.given = q.given.to_uppercase();
            q.family = q.family.to_uppercase();
        }
        (q, kinds)
    }

    fn move_address(&mut self, q: &mut Record) {
        let old_zip = q.postal_code.clone();
        let mut a = self.address();
        if self.rng.gen_bool(0.3) {
            // Across town: same ZIP, another street.
            if let Some(place) = self.places.iter().find(|p| p.zip == old_zip) {
                let street = place.streets[self.rng.gen_range(0..place.streets.len())].clone();
                a.street = format!("{} {street}", self.rng.gen_range(1..9999));
                a.city = place.city.clone();
                a.state = place.state.to_string();
                a.zip = place.zip.clone();
            }
        }
        q.street = a.street;
        q.city = a.city;
        q.state = a.state;
        q.postal_code = a.zip;
    }

    /// Someone else with `p`'s name, not in the registry, living elsewhere: born the same
    /// day, or up to 40 days apart.
    fn namesake(&mut self, p: &Record) -> (Record, &'static str) {
        let mut q = p.clone();
        let kind = if self.rng.gen_bool(SAME_DATE_SHARE) {
            "look-alike"
        } else {
            if let Ok(b) = NaiveDate::parse_from_str(&p.birth_date, "%Y-%m-%d") {
                let d = b + Duration::days(
                    self.rng.gen_range(1..40) * [-1, 1][self.rng.gen_range(0..2)],
                );
                q.birth_date = d.format("%Y-%m-%d").to_string();
            }
            "look-alike-date"
        };
        let a = self.address_outside(&p.postal_code);
        q.street = a.street;
        q.city = a.city;
        q.state = a.state;
        q.postal_code = a.zip;
        q.middle = self.other_middle(&p.sex, &p.middle);
        q.suffix.clear();
        (q, kind)
    }

    /// A sibling or spouse of `p` not in the registry: same surname and address.
    fn relative(&mut self, p: &Record) -> Record {
        let mut q = p.clone();
        let sex = if self.rng.gen_bool(0.5) { "F" } else { "M" };
        q.sex = sex.into();
        let mut given = self.given_name(sex);
        while given == p.given {
            given = self.given_name(sex);
        }
        q.given = given;
        q.middle = self.other_middle(sex, &p.middle);
        q.suffix.clear();
        q.birth_date = self.birth(0, 80).format("%Y-%m-%d").to_string();
        q
    }

    fn other_middle(&mut self, sex: &str, not: &str) -> String {
        if self.rng.gen_bool(0.5) {
            return String::new();
        }
        loop {
            let m = self.given_name(sex);
            if m.chars().next() != not.chars().next() {
                return m;
            }
        }
    }
}

struct Address {
    street: String,
    city: String,
    state: String,
    zip: String,
}

fn title_case(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// One keyboard error: a letter replaced, dropped, doubled or swapped with the next.
pub fn typo(s: &str, rng: &mut StdRng) -> String {
    let chars: Vec<char> = s.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if letters.len() < 3 {
        return s.to_string();
    }
    // Rarely the first letter: people get that one right.
    let i = letters[rng.gen_range(1..letters.len())];
    let mut out = chars.clone();
    match rng.gen_range(0..4) {
        0 => {
            let mut c = chars[i].to_ascii_lowercase();
            while c == chars[i].to_ascii_lowercase() {
                c = (b'a' + rng.gen_range(0..26)) as char;
            }
            out[i] = if chars[i].is_uppercase() {
                c.to_ascii_uppercase()
            } else {
                c
            };
        }
        1 => {
            out.remove(i);
        }
        2 => out.insert(i, chars[i]),
        _ => {
            if i + 1 < out.len() {
                out.swap(i, i + 1);
            } else {
                out.swap(i - 1, i);
            }
        }
    }
    out.into_iter().collect()
}

fn digit_typo(s: &str, rng: &mut StdRng) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let digits: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_ascii_digit())
        .collect();
    if let Some(&i) = digits.choose(rng) {
        let old = chars[i];
        while chars[i] == old {
            chars[i] = (b'0' + rng.gen_range(0..10)) as char;
        }
    }
    chars.into_iter().collect()
}

/// One digit of the date wrong (and still a date), or two neighbours swapped.
fn date_typo(b: NaiveDate, rng: &mut StdRng) -> Option<NaiveDate> {
    for _ in 0..10 {
        let s = b.format("%Y%m%d").to_string();
        let mut d: Vec<char> = s.chars().collect();
        if rng.gen_bool(0.3) {
            let i = rng.gen_range(2..7);
            d.swap(i, i + 1);
        } else {
            let i = rng.gen_range(2..8);
            let old = d[i];
            while d[i] == old {
                d[i] = (b'0' + rng.gen_range(0..10)) as char;
            }
        }
        let t: String = d.into_iter().collect();
        if let Ok(n) = NaiveDate::parse_from_str(&t, "%Y%m%d") {
            if n != b && n <= reference_day() && n.year() >= 1900 {
                return Some(n);
            }
        }
    }
    None
}

/// "417 Larkspur Ln Apt 5B" → "417 Larkspur Lane #5B": the same address written otherwise.
fn street_variant(street: &str) -> String {
    let mut out = street.to_string();
    for (short, long) in STREET_SUFFIXES {
        let pat = format!(" {short}");
        if let Some(pos) = out.find(&pat) {
            let end = pos + pat.len();
            if out[end..].is_empty() || out[end..].starts_with(' ') {
                out.replace_range(pos..end, &format!(" {long}"));
                break;
            }
        }
    }
    out.replace(" Apt ", " #")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64) -> (Vec<Record>, Vec<(Record, Truth)>) {
        let mut g = Generator::new(seed, 3000, 300, Noise::default());
        let mut persons = Vec::new();
        while let Some(p) = g.next_person() {
            persons.push(p);
        }
        (persons, g.queries())
    }

    #[test]
    fn seeded_and_complete() {
        let (a, qa) = run(7);
        let (b, qb) = run(7);
        assert_eq!(a, b);
        assert_eq!(qa, qb);
        assert_eq!(a.len(), 3000);
        let (c, _) = run(8);
        assert_ne!(a, c);
        let ids: std::collections::HashSet<&str> = a.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.len(), 3000, "person ids are unique");
        for (q, t) in &qa {
            assert_eq!(q.id, t.query_id);
            if let Some(id) = &t.person_id {
                assert!(ids.contains(id.as_str()));
            }
        }
        let kinds = |k: &str| qa.iter().filter(|(_, t)| t.kind.contains(k)).count();
        assert!(kinds("twin") > 0 && kinds("jr-sr") > 0 && kinds("look-alike") > 0);
        assert!(kinds("clean") > 50, "most queries are clean");
        assert!(a.iter().any(|p| p.suffix == "Jr"));
    }

    #[test]
    fn names_are_distributed_like_real_ones() {
        let mut g = Generator::new(1, 50_000, 0, Noise::default());
        let mut smith = 0;
        let mut families = std::collections::HashSet::new();
        while let Some(p) = g.next_person() {
            if p.family == "Smith" {
                smith += 1;
            }
            families.insert(p.family);
        }
        // Smith is 0.8% of people, but households share a surname: between 0.4 and 1.5%.
        assert!((200..750).contains(&smith), "{smith}");
        assert!(families.len() > 5000, "{}", families.len());
    }

    #[test]
    fn namesakes_have_common_names_as_coincidences_do() {
        let mut g = Generator::new(4, 20_000, 2_000, Noise::default());
        let common = |family: &str| SURNAMES.iter().any(|(n, _)| *n == family);
        let (mut persons, mut common_persons) = (0, 0);
        while let Some(p) = g.next_person() {
            persons += 1;
            common_persons += usize::from(common(&p.family));
        }
        let namesakes: Vec<Record> = g
            .queries()
            .into_iter()
            .filter(|(_, t)| t.kind == "look-alike" || t.kind == "look-alike-date")
            .map(|(q, _)| q)
            .collect();
        let common_namesakes = namesakes.iter().filter(|q| common(&q.family)).count();
        // About one person in eight has a census-table surname; a namesake drawn by how
        // common the name is has one far more often (a uniform draw: as often).
        assert!(
            common_persons * 5 < persons,
            "{common_persons} of {persons}"
        );
        assert!(
            common_namesakes * persons > 2 * common_persons * namesakes.len(),
            "{common_namesakes} of {} namesakes, {common_persons} of {persons} persons",
            namesakes.len()
        );
    }

    #[test]
    fn errors_change_what_they_say() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..100 {
            let t = typo("Quintero", &mut rng);
            assert_ne!(t, "Quintero");
            assert!(strsim::levenshtein(&t, "Quintero") <= 2);
        }
        assert_eq!(
            street_variant("417 Larkspur Ln Apt 5B"),
            "417 Larkspur Lane #5B"
        );
        let b = NaiveDate::from_ymd_opt(1980, 4, 12).unwrap();
        let d = date_typo(b, &mut rng).unwrap();
        assert_ne!(d, b);
    }
}
