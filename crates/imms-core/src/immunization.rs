//! What a VXU reports about doses: immunizations given or recorded from history, refusals,
//! and observations (funding, evidence of immunity, contraindications, reactions).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Immunization {
    /// ORC-3, the reporting system's id for the dose; needed to update or delete it later.
    pub filler_order_number: Option<String>,
    pub administered_date: NaiveDate,
    pub cvx: String,
    pub mvx: Option<String>,
    pub lot_number: Option<String>,
    pub expiration_date: Option<NaiveDate>,
    /// RXA-6; `None` for the IG's "999" (amount unknown).
    pub amount: Option<String>,
    pub amount_unit: Option<String>,
    /// RXA-9: "00" new record, "01".."08" historical with its source.
    pub information_source: String,
    pub route: Option<String>,
    pub site: Option<String>,
    /// RXA-11-4 or the LA2 facility id where the dose was given.
    pub administering_facility: Option<String>,
    /// RXA-10 provider id.
    pub administering_provider: Option<String>,
    /// RXA-20: CP complete, PA partial, NA not administered.
    pub completion_status: String,
    /// OBX 64994-7 (HL7 0064 code).
    pub vfc_eligibility: Option<String>,
    /// OBX 30963-3 (CDC PHVS funding source).
    pub funding_source: Option<String>,
    pub observations: Vec<Observation>,
}

impl Immunization {
    /// True when reported from a record or the person's memory rather than given by the
    /// reporting facility (RXA-9 other than "00").
    pub fn is_historical(&self) -> bool {
        self.information_source != "00"
    }
}

/// A refusal of a vaccine (RXA-20 "RE"), with RXA-18's reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub filler_order_number: Option<String>,
    pub refusal_date: NaiveDate,
    pub cvx: String,
    pub reason_code: Option<String>,
    pub reason_text: Option<String>,
}

/// What an OBX says about the person or the dose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObservationKind {
    /// 59784-9 history of disease, 75505-8 serology.
    EvidenceOfImmunity,
    /// 30945-0.
    Contraindication,
    /// 31044-1.
    Reaction,
    /// 59785-6.
    SpecialIndication,
    /// VIS and anything else carried for completeness.
    Other,
}

impl ObservationKind {
    pub fn from_loinc(code: &str) -> ObservationKind {
        match code {
            "59784-9" | "75505-8" => ObservationKind::EvidenceOfImmunity,
            "30945-0" => ObservationKind::Contraindication,
            "31044-1" => ObservationKind::Reaction,
            "59785-6" => ObservationKind::SpecialIndication,
            _ => ObservationKind::Other,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ObservationKind::EvidenceOfImmunity => "immunity",
            ObservationKind::Contraindication => "contraindication",
            ObservationKind::Reaction => "reaction",
            ObservationKind::SpecialIndication => "special_indication",
            ObservationKind::Other => "other",
        }
    }

    /// Observations about the person rather than one dose.
    pub fn is_about_person(self) -> bool {
        !matches!(self, ObservationKind::Other | ObservationKind::Reaction)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub kind: ObservationKind,
    /// OBX-3 (LOINC).
    pub loinc: String,
    /// OBX-5 code (CE) or text.
    pub value_code: String,
    pub value_text: String,
    pub value_system: String,
    /// OBX-14.
    pub observed_date: Option<NaiveDate>,
}
