//! A person as the registry knows them: names by type, date of birth, sex, address history,
//! phones and the identifiers each facility uses for them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Administrative sex, HL7 table 0001 as constrained by the CDC IG (F, M, U).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    Female,
    Male,
    Unknown,
}

impl Sex {
    pub fn from_hl7(code: &str) -> Option<Sex> {
        match code {
            "F" => Some(Sex::Female),
            "M" => Some(Sex::Male),
            "U" => Some(Sex::Unknown),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Sex::Female => "F",
            Sex::Male => "M",
            Sex::Unknown => "U",
        }
    }
}

/// XPN-7 name type: which of a person's names this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NameType {
    /// "L": the legal name, the one an ID shows.
    Legal,
    /// "A": an alias or nickname.
    Alias,
    /// "M": maiden name.
    Maiden,
    /// Any other HL7 0200 code (B, C, D, U…), kept as sent.
    Other,
}

impl NameType {
    pub fn from_hl7(code: &str) -> NameType {
        match code {
            "" | "L" => NameType::Legal,
            "A" => NameType::Alias,
            "M" => NameType::Maiden,
            _ => NameType::Other,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            NameType::Legal => "L",
            NameType::Alias => "A",
            NameType::Maiden => "M",
            NameType::Other => "U",
        }
    }

    pub fn from_code(code: &str) -> NameType {
        Self::from_hl7(code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    pub name_type: NameType,
    pub family: String,
    pub given: String,
    pub middle: String,
    pub suffix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    pub street: String,
    pub other: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    /// XAD-7 (H home, M mailing, BA bad address, …).
    pub address_type: String,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        self.street.is_empty() && self.city.is_empty() && self.postal_code.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// Digits only: area code and local number.
    pub number: String,
    /// XTN-2 use code (PRN, ORN, …).
    pub use_code: String,
}

/// An identifier a facility uses for the person (PID-3), scoped by the reporting facility
/// (MSH-4) because medical record numbers are only unique within one facility.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifier {
    pub facility_id: String,
    pub value: String,
    /// CX-4 assigning authority, as sent.
    pub authority: String,
    /// CX-5 identifier type (MR, SR, PI, MA …).
    pub id_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub names: Vec<PersonName>,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub addresses: Vec<Address>,
    pub phones: Vec<Phone>,
    pub identifiers: Vec<Identifier>,
    pub mother_maiden_name: Option<PersonName>,
    pub multiple_birth: Option<bool>,
    pub birth_order: Option<u8>,
    pub death_date: Option<NaiveDate>,
    /// PD1: reminder/recall and sharing choices, as the facility reported them.
    pub pd1: Option<Pd1>,
    /// NK1: parents, guardians and other contacts.
    pub next_of_kin: Vec<NextOfKin>,
}

/// PD1 (patient additional demographics) as the CDC IG uses it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pd1 {
    /// PD1-11, HL7 table 0215 (reminder/recall choice).
    pub publicity_code: Option<String>,
    /// PD1-12: "Y" when the person asked that their record not be shared.
    pub protection_indicator: Option<String>,
    /// PD1-13.
    pub protection_date: Option<NaiveDate>,
    /// PD1-16, HL7 table 0441 (A active, I inactive, P permanently inactive/deceased …).
    pub registry_status: Option<String>,
    /// PD1-17.
    pub registry_status_date: Option<NaiveDate>,
}

impl Pd1 {
    pub fn is_empty(&self) -> bool {
        self == &Pd1::default()
    }
}

/// NK1: a next of kin or responsible party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextOfKin {
    pub name: PersonName,
    /// NK1-3, HL7 table 0063 (MTH mother, FTH father, GRD guardian …).
    pub relationship: String,
    pub address: Option<Address>,
    /// Digits only.
    pub phone: Option<String>,
}

impl Person {
    /// The legal name, or the first name given when none is marked legal.
    pub fn legal_name(&self) -> Option<&PersonName> {
        self.names
            .iter()
            .find(|n| n.name_type == NameType::Legal)
            .or_else(|| self.names.first())
    }
}
