//! What the record is made from: one person's name, date of birth, doses, refusals and
//! evidence of immunity, already resolved to display names (the registry converts its
//! stored rows with `imms_registry::record_input::to_record_input`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One person's record, ready to print or to sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordInput {
    /// The registry's id for the person, printed on the record so staff can find it again.
    pub record_id: String,
    pub name: PersonName,
    pub birth_date: NaiveDate,
    /// Doses in any order; the record sorts them by vaccine group, then date.
    pub doses: Vec<Dose>,
    pub refusals: Vec<Refusal>,
    pub immunities: Vec<Immunity>,
}

/// The person's legal name as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    pub family: String,
    /// Given name first, then middle names.
    pub given: Vec<String>,
    pub suffix: Option<String>,
}

impl PersonName {
    /// "Given Middle Family Suffix", single spaces.
    pub fn display(&self) -> String {
        let mut parts: Vec<&str> = self.given.iter().map(|g| g.trim()).collect();
        parts.push(self.family.trim());
        if let Some(s) = &self.suffix {
            parts.push(s.trim());
        }
        parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Whether the reporting facility gave the dose or copied it from another record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DoseSource {
    /// Reported by the facility that gave it (RXA-9 "00").
    Administered,
    /// A historical record: the facility reported a dose given elsewhere (RXA-9 "01".."08").
    Historical,
}

/// One dose given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dose {
    /// CDC CVX code.
    pub cvx: String,
    /// CVX short description ("Tdap", "MMR", "influenza, injectable, quadrivalent, …").
    pub vaccine: String,
    /// CDC vaccine group names ("DTAP", "FLU", "MMR", "HepB", "COVID-19", …); a combination
    /// vaccine has several and is listed under each. The record shows the names people
    /// recognise (see [`crate::text::group_label`]); none puts it under "Other vaccines".
    pub groups: Vec<String>,
    pub date: NaiveDate,
    /// Dose number in the series, when the facility reported it.
    pub dose_number: Option<u32>,
    /// CDC MVX code.
    pub mvx: Option<String>,
    /// Manufacturer name from the MVX table.
    pub manufacturer: Option<String>,
    pub lot: Option<String>,
    /// The facility that reported the dose (its name when known, else its id).
    pub facility: String,
    pub source: DoseSource,
}

/// A vaccine the person (or their parent) declined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub cvx: String,
    pub vaccine: String,
    pub group: String,
    pub date: NaiveDate,
    pub facility: String,
}

/// Evidence of immunity (history of disease or serology), never shown as a dose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Immunity {
    /// What the person is immune to, as reported ("History of varicella infection").
    pub description: String,
    pub date: Option<NaiveDate>,
    pub facility: String,
}
