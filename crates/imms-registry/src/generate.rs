//! Realistic synthetic VXU messages for demos and load tests (`imms demo load`,
//! `imms gen vxu`). Seeded, so the same seed gives the same messages. The people are
//! invented; the vaccine, manufacturer and value-set codes are the CDC's.

use chrono::{Datelike, Duration, NaiveDate};
use imms_hl7::{encode, Delimiters, SegmentBuilder};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const TRADENAMES: &str = include_str!("../../../data/codes/tradename.tsv");

const GIVEN_F: &[&str] = &[
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Barbara",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Lisa",
    "Nancy",
    "Betty",
    "Sandra",
    "Margaret",
    "Ashley",
    "Kimberly",
    "Emily",
    "Donna",
    "Michelle",
    "Carol",
    "Amanda",
    "Melissa",
    "Deborah",
    "Stephanie",
    "Rebecca",
    "Sharon",
    "Laura",
    "Cynthia",
    "Amy",
    "Kathleen",
    "Angela",
    "Shirley",
    "Brenda",
    "Emma",
    "Olivia",
    "Ava",
    "Sophia",
    "Isabella",
    "Mia",
    "Chloé",
    "Zoë",
    "María José",
    "Ana Lucía",
    "Siobhán",
    "Nguyễn Thị",
];
const GIVEN_M: &[&str] = &[
    "James",
    "Robert",
    "John",
    "Michael",
    "David",
    "William",
    "Richard",
    "Joseph",
    "Thomas",
    "Christopher",
    "Charles",
    "Daniel",
    "Matthew",
    "Anthony",
    "Mark",
    "Donald",
    "Steven",
    "Andrew",
    "Paul",
    "Joshua",
    "Kenneth",
    "Kevin",
    "Brian",
    "Timothy",
    "Ronald",
    "George",
    "Jason",
    "Edward",
    "Jeffrey",
    "Ryan",
    "Jacob",
    "Liam",
    "Noah",
    "Ethan",
    "José",
    "Juan Carlos",
    "François",
    "Seán",
    "Mohammed",
    "Wei",
    "Hiroshi",
    "Oluwaseun",
    "D'Andre",
];
const FAMILY: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "O'Brien",
    "García-López",
    "de la Cruz",
    "Van Buren",
    "Kowalski",
    "Nowak",
    "Müller",
    "Ståhl",
    "Al-Hassan",
    "Okafor",
];
const STREETS: &[&str] = &[
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Pine",
    "Michigan",
    "Grand River",
    "Saginaw",
    "Woodward",
    "Division",
    "Fulton",
    "Kalamazoo",
    "Jefferson",
    "Lincoln",
    "Park",
    "Sunset",
];
const STREET_TYPES: &[&str] = &["St", "Ave", "Rd", "Dr", "Blvd", "Ln", "Ct"];
const CITIES: &[(&str, &str)] = &[
    ("Lansing", "489"),
    ("Detroit", "482"),
    ("Grand Rapids", "495"),
    ("Ann Arbor", "481"),
    ("Flint", "485"),
    ("Kalamazoo", "490"),
    ("Traverse City", "496"),
    ("Marquette", "498"),
    ("Saginaw", "486"),
    ("Muskegon", "494"),
];
const SITES: &[&str] = &["LD", "RD", "LT", "RT", "LA", "RA"];
const PROVIDERS: &[&str] = &["1234567890", "2345678901", "3456789012"];

/// A generator of VXU messages from one facility.
pub struct VxuGenerator {
    rng: StdRng,
    facility_id: String,
    products: Vec<(String, String, String)>,
    today: NaiveDate,
    next_person: u64,
    next_message: u64,
    next_order: u64,
}

#[derive(Debug, Clone)]
pub struct GeneratedPerson {
    pub mrn: String,
    pub family: String,
    pub given: String,
    pub middle: String,
    pub birth_date: NaiveDate,
    pub sex: &'static str,
    pub street: String,
    pub city: String,
    pub zip: String,
}

impl VxuGenerator {
    pub fn new(seed: u64, facility_id: &str, today: NaiveDate) -> VxuGenerator {
        // Products a clinic gives today: product, manufacturer and CVX code all active.
        let codes = imms_core::CodeTables::embedded();
        let mut products: Vec<(String, String, String)> = TRADENAMES
            .lines()
            .skip(1)
            .filter_map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                let active = c.len() >= 7
                    && c[6] == "Active"
                    && c[5] == "Active"
                    && codes.cvx(c[2]).is_some_and(|x| {
                        x.status == imms_core::CvxStatus::Active && !x.groups.is_empty()
                    });
                active.then(|| (c[2].to_string(), c[1].to_string(), c[4].to_string()))
            })
            .collect();
        products.sort();
        products.dedup_by(|a, b| a.0 == b.0 && a.2 == b.2);
        VxuGenerator {
            rng: StdRng::seed_from_u64(seed),
            facility_id: facility_id.to_string(),
            products,
            today,
            next_person: 1,
            next_message: 1,
            next_order: 1,
        }
    }

    pub fn person(&mut self) -> GeneratedPerson {
        let female = self.rng.gen_bool(0.5);
        let given = if female { GIVEN_F } else { GIVEN_M }
            .choose(&mut self.rng)
            .expect("non-empty")
            .to_string();
        let middle = if self.rng.gen_bool(0.6) {
            if female { GIVEN_F } else { GIVEN_M }
                .choose(&mut self.rng)
                .expect("non-empty")
                .to_string()
        } else {
            String::new()
        };
        let family = FAMILY.choose(&mut self.rng).expect("non-empty").to_string();
        let age_days = self.rng.gen_range(0..(85 * 365));
        let birth_date = self.today - Duration::days(age_days);
        let (city, zip3) = *CITIES.choose(&mut self.rng).expect("non-empty");
        let street = format!(
            "{} {} {}",
            self.rng.gen_range(1..9999),
            STREETS.choose(&mut self.rng).expect("non-empty"),
            STREET_TYPES.choose(&mut self.rng).expect("non-empty")
        );
        let zip = format!("{zip3}{:02}", self.rng.gen_range(1..99));
        let mrn = format!("MRN{:09}", self.next_person);
        self.next_person += 1;
        GeneratedPerson {
            mrn,
            family,
            given,
            middle,
            birth_date,
            sex: if female { "F" } else { "M" },
            street,
            city: city.to_string(),
            zip,
        }
    }

    /// A VXU for a new person with 1 to 8 doses.
    pub fn next_message(&mut self) -> String {
        let p = self.person();
        self.message_for(&p)
    }

    pub fn message_for(&mut self, p: &GeneratedPerson) -> String {
        let d = Delimiters::default();
        let control_id = format!("{}-{:010}", self.facility_id, self.next_message);
        self.next_message += 1;
        let mut segs = Vec::new();
        let mut msh = SegmentBuilder::new("MSH");
        msh.set(3, "DEMO-EHR")
            .set(4, &self.facility_id)
            .set(5, "IMMS")
            .set(6, "IMMS")
            .set(7, &format!("{}120000-0500", self.today.format("%Y%m%d")))
            .set_components(9, &["VXU", "V04", "VXU_V04"])
            .set(10, &control_id)
            .set(11, "P")
            .set(12, "2.5.1")
            .set(15, "ER")
            .set(16, "AL")
            .set_components(21, &["Z22", "CDCPHINVS"]);
        segs.push(msh);
        let mut pid = SegmentBuilder::new("PID");
        pid.set(1, "1")
            .set_components(3, &[&p.mrn, "", "", &self.facility_id, "MR"])
            .set_components(5, &[&p.family, &p.given, &p.middle, "", "", "", "L"])
            .set_components(
                6,
                &[
                    FAMILY[(p.birth_date.ordinal() as usize) % FAMILY.len()],
                    "",
                    "",
                    "",
                    "",
                    "",
                    "M",
                ],
            )
            .set(7, &p.birth_date.format("%Y%m%d").to_string())
            .set(8, p.sex)
            .set_components(11, &[&p.street, "", &p.city, "MI", &p.zip, "USA", "H"])
            .set_components(
                13,
                &[
                    "",
                    "PRN",
                    "PH",
                    "",
                    "",
                    "517",
                    &format!("555{:04}", self.rng.gen_range(0..10000)),
                ],
            );
        segs.push(pid);
        let doses = self.rng.gen_range(1..=8);
        let age_days = (self.today - p.birth_date).num_days().max(0);
        for _ in 0..doses {
            let (cvx, desc, mvx) = self
                .products
                .choose(&mut self.rng)
                .expect("products")
                .clone();
            let historical = self.rng.gen_bool(0.2);
            // Doses given here are recent (today's products); history reaches back to birth.
            let window = if historical {
                age_days
            } else {
                age_days.min(3 * 365)
            };
            let date = self.today - Duration::days(self.rng.gen_range(0..=window));
            let filler = format!("{}-{:010}", self.facility_id, self.next_order);
            self.next_order += 1;
            let mut orc = SegmentBuilder::new("ORC");
            orc.set(1, "RE")
                .set_components(3, &[&filler, &self.facility_id]);
            segs.push(orc);
            let mut rxa = SegmentBuilder::new("RXA");
            rxa.set(1, "0")
                .set(2, "1")
                .set(3, &date.format("%Y%m%d").to_string())
                .set_components(5, &[&cvx, &desc, "CVX"]);
            if historical {
                rxa.set(6, "999").set_components(
                    9,
                    &[
                        "01",
                        "Historical information - source unspecified",
                        "NIP001",
                    ],
                );
            } else {
                rxa.set(6, "0.5")
                    .set_components(7, &["mL", "milliliters", "UCUM"])
                    .set_components(9, &["00", "New immunization record", "NIP001"])
                    .set_components(
                        10,
                        &[
                            PROVIDERS.choose(&mut self.rng).expect("non-empty"),
                            "Provider",
                            "Pat",
                        ],
                    )
                    .set_components(11, &["", "", "", &self.facility_id])
                    .set(15, &format!("LOT{:06}", self.rng.gen_range(0..1_000_000)))
                    .set(
                        16,
                        &(date + Duration::days(365)).format("%Y%m%d").to_string(),
                    )
                    .set_components(17, &[&mvx, "", "MVX"]);
            }
            rxa.set(20, "CP").set(21, "A");
            segs.push(rxa);
            if !historical {
                let mut rxr = SegmentBuilder::new("RXR");
                rxr.set_components(1, &["C28161", "Intramuscular", "NCIT"])
                    .set_components(
                        2,
                        &[
                            SITES.choose(&mut self.rng).expect("non-empty"),
                            "",
                            "HL70163",
                        ],
                    );
                segs.push(rxr);
                let mut obx = SegmentBuilder::new("OBX");
                obx.set(1, "1")
                    .set(2, "CE")
                    .set_components(
                        3,
                        &[
                            "64994-7",
                            "Vaccine funding program eligibility category",
                            "LN",
                        ],
                    )
                    .set(4, "1")
                    .set_components(5, &["V01", "Not VFC eligible", "HL70064"])
                    .set(11, "F")
                    .set(14, &date.format("%Y%m%d").to_string())
                    .set_components(
                        17,
                        &[
                            "VXC40",
                            "Eligibility captured at the immunization level",
                            "CDCPHINVS",
                        ],
                    );
                segs.push(obx);
            }
        }
        encode(&d, &segs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_messages() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        let a: Vec<String> = {
            let mut g = VxuGenerator::new(7, "CLINIC", today);
            (0..5).map(|_| g.next_message()).collect()
        };
        let b: Vec<String> = {
            let mut g = VxuGenerator::new(7, "CLINIC", today);
            (0..5).map(|_| g.next_message()).collect()
        };
        assert_eq!(a, b);
        assert!(a[0].starts_with("MSH|^~\\&|DEMO-EHR|CLINIC|"));
    }
}
