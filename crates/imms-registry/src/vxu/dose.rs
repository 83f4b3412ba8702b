//! The order groups of a VXU (ORC, RXA, RXR, OBX…): doses given or recorded from history,
//! refusals, and the observations that come with them. A problem in one group rejects that
//! group only.

use chrono::NaiveDate;
use imms_core::{CodeTables, CvxStatus, Immunization, Observation, ObservationKind, Refusal};
use imms_hl7::{Component, Field, IndexedSegment, Segment};

use super::hl7date::{parse_date, DateError};
use crate::problem::{AppError, Condition, Location, Problem, Scope};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Update,
    Delete,
}

// One value per dose, moved once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum DoseKind {
    Given(Immunization),
    Refused(Refusal),
    /// RXA-20 "NA": nothing was given; only the group's observations are kept.
    NotAdministered,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DoseReport {
    /// Which RXA of the message this is (1-based), for ERR-2.
    pub rxa_occurrence: usize,
    pub action: Action,
    pub filler_order_number: Option<String>,
    pub kind: DoseKind,
    /// Observations about the person found in this group (evidence of immunity, …).
    pub person_observations: Vec<Observation>,
}

fn text(value: &str, max: usize) -> Option<String> {
    let v = value.trim();
    if v.is_empty() || v == "\"\"" {
        return None;
    }
    if v.len() <= max && !super::may_hold_control(v) {
        return Some(v.to_string());
    }
    let v: String = v.chars().filter(|c| !c.is_control()).take(max).collect();
    (!v.is_empty()).then_some(v)
}

/// A CE/CWE code in the given coding system: the identifier (component 1) when component 3
/// names the system, else the alternate identifier (component 4) when component 6 does.
/// A code sent without any system is taken as given.
fn coded<'a>(field: Field<'a>, system: &str) -> Option<String> {
    // One walk over the components, reading only those needed.
    let mut parts = field.rep(1).components();
    let value = |c: Option<Component<'a>>| c.map(|c| c.value()).unwrap_or_default();
    let identifier = parts.next();
    let named_system = value(parts.nth(1));
    let alternate = parts.next();
    let alternate_system = value(parts.nth(1));
    let (named_system, alternate_system) = (named_system.trim(), alternate_system.trim());
    if named_system.eq_ignore_ascii_case(system)
        || (named_system.is_empty() && alternate_system.is_empty())
    {
        text(&value(identifier), 20)
    } else if alternate_system.eq_ignore_ascii_case(system) {
        text(&value(alternate), 20)
    } else {
        None
    }
}

/// A segment with its fields split and its occurrence in the message (counted once, while
/// walking it).
#[derive(Clone)]
struct Seg<'a> {
    seg: IndexedSegment<'a>,
    occurrence: usize,
}

impl<'a> Seg<'a> {
    fn occurrence(&self) -> usize {
        self.occurrence
    }

    fn id(&self) -> &'a str {
        self.seg.segment().id()
    }

    fn field(&self, n: usize) -> Field<'a> {
        self.seg.field(n)
    }
}

struct Group<'a> {
    orc: Option<Seg<'a>>,
    rxa: Seg<'a>,
    rxr: Option<Seg<'a>>,
    obx: Vec<Seg<'a>>,
}

fn groups<'a>(segments: &[Segment<'a>], problems: &mut Vec<Problem>) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut pending_orc: Option<Seg<'a>> = None;
    let (mut n_orc, mut n_rxa, mut n_rxr, mut n_obx) = (0, 0, 0, 0);
    let counted = |seg: Segment<'a>, n: &mut usize| {
        *n += 1;
        Seg {
            seg: IndexedSegment::new(seg),
            occurrence: *n,
        }
    };
    for &seg in segments {
        let seg = match seg.id() {
            "ORC" => counted(seg, &mut n_orc),
            "RXA" => counted(seg, &mut n_rxa),
            "RXR" => counted(seg, &mut n_rxr),
            "OBX" => counted(seg, &mut n_obx),
            _ => continue,
        };
        match seg.id() {
            "ORC" => pending_orc = Some(seg),
            "RXA" => {
                if pending_orc.is_none() {
                    problems.push(Problem::new(Location::new("RXA", seg.occurrence(), 0), Condition::SegmentSequence, Scope::Nothing,
                        "Each RXA should follow its own ORC (the order, with the filler order number needed to update or delete the dose later)."));
                }
                groups.push(Group {
                    orc: pending_orc.take(),
                    rxa: seg,
                    rxr: None,
                    obx: Vec::new(),
                });
            }
            "RXR" => match groups.last_mut() {
                Some(g) if g.rxr.is_none() && g.obx.is_empty() => g.rxr = Some(seg),
                _ => problems.push(Problem::new(
                    Location::new("RXR", seg.occurrence(), 0),
                    Condition::SegmentSequence,
                    Scope::Nothing,
                    "RXR must follow its RXA directly; this one was ignored.",
                )),
            },
            "OBX" => match groups.last_mut() {
                Some(g) => g.obx.push(seg),
                None => problems.push(Problem::new(
                    Location::new("OBX", seg.occurrence(), 0),
                    Condition::SegmentSequence,
                    Scope::Nothing,
                    "OBX must follow an RXA; this one was ignored.",
                )),
            },
            _ => {}
        }
    }
    if let Some(orc) = pending_orc {
        problems.push(Problem::new(
            Location::new("ORC", orc.occurrence(), 0),
            Condition::SegmentSequence,
            Scope::Nothing,
            "An ORC at the end of the message has no RXA; it was ignored.",
        ));
    }
    groups
}

pub fn read_doses(
    segments: &[Segment<'_>],
    codes: &CodeTables,
    birth_date: Option<NaiveDate>,
    today: NaiveDate,
    problems: &mut Vec<Problem>,
) -> Vec<DoseReport> {
    groups(segments, problems)
        .into_iter()
        .filter_map(|g| read_group(&g, codes, birth_date, today, problems))
        .collect()
}

fn read_group(
    g: &Group<'_>,
    codes: &CodeTables,
    birth_date: Option<NaiveDate>,
    today: NaiveDate,
    problems: &mut Vec<Problem>,
) -> Option<DoseReport> {
    let occ = g.rxa.occurrence();
    let at = |field| Location::new("RXA", occ, field);
    let before = problems.len();
    let reject = |problems: &mut Vec<Problem>, loc: Location, cond, text: &str| {
        problems.push(Problem::new(loc, cond, Scope::Dose, text));
    };
    let warn = |problems: &mut Vec<Problem>, loc: Location, cond, text: &str| {
        problems.push(Problem::new(loc, cond, Scope::Nothing, text));
    };

    let filler_order_number = g
        .orc
        .as_ref()
        .and_then(|orc| text(&orc.field(3).component(1).value(), 199));

    let action = match g.rxa.field(21).value().trim() {
        "" | "A" => Action::Add,
        "U" => Action::Update,
        "D" => Action::Delete,
        _ => {
            reject(
                problems,
                at(21),
                Condition::TableValueNotFound,
                "RXA-21 (action code) must be A, U or D; this dose was not stored.",
            );
            if let Some(p) = problems.last_mut() {
                p.app_error = Some(AppError::TableValueNotFound);
            }
            return None;
        }
    };
    if action != Action::Add && filler_order_number.is_none() {
        let orc_occ = g.orc.as_ref().map(|o| o.occurrence()).unwrap_or(1);
        reject(problems, Location::new("ORC", orc_occ, 3), Condition::RequiredFieldMissing,
            "ORC-3 (filler order number) is required to update or delete a dose; nothing was changed.");
        return None;
    }

    // RXA-3: when the dose was given.
    let date_raw = g.rxa.field(3).value();
    let date = match parse_date(&date_raw) {
        Ok(d) if d > today => {
            reject(
                problems,
                at(3),
                Condition::DataType,
                "RXA-3 (date administered) is in the future; this dose was not stored.",
            );
            if let Some(p) = problems.last_mut() {
                p.app_error = Some(AppError::IllogicalDate);
            }
            None
        }
        Ok(d) if birth_date.is_some_and(|b| d < b) => {
            reject(
                problems,
                at(3),
                Condition::DataType,
                "RXA-3 (date administered) is before the date of birth; this dose was not stored.",
            );
            if let Some(p) = problems.last_mut() {
                p.app_error = Some(AppError::IllogicalDate);
            }
            None
        }
        Ok(d) => Some(d),
        Err(_) if date_raw.trim().is_empty() => {
            reject(
                problems,
                at(3),
                Condition::RequiredFieldMissing,
                "RXA-3 (date administered) is required; this dose was not stored.",
            );
            None
        }
        Err(DateError::Incomplete | DateError::Invalid) => {
            reject(problems, at(3), Condition::DataType, "RXA-3 (date administered) is not a valid date (YYYYMMDD); this dose was not stored.");
            if let Some(p) = problems.last_mut() {
                p.app_error = Some(AppError::InvalidDate);
            }
            None
        }
    };

    // RXA-20: completion status.
    let status: &'static str = match g.rxa.field(20).value().trim() {
        "" | "CP" => "CP",
        "RE" => "RE",
        "NA" => "NA",
        "PA" => "PA",
        _ => {
            warn(
                problems,
                at(20),
                Condition::TableValueNotFound,
                "RXA-20 (completion status) must be CP, RE, NA or PA; taken as CP.",
            );
            "CP"
        }
    };

    // RXA-9: new record ("00") or historical, with its source.
    let information_source = match coded(g.rxa.field(9), "NIP001") {
        Some(code) if codes.in_value_set("NIP001", &code) => code,
        Some(_) => {
            warn(problems, at(9), Condition::TableValueNotFound, "RXA-9 (information source) is not in CDC table NIP001; the dose is recorded as historical with the source unspecified.");
            "01".to_string()
        }
        None => {
            if status == "CP" || status == "PA" {
                warn(problems, at(9), Condition::RequiredFieldMissing, "RXA-9 (information source) is required; the dose is recorded as historical with the source unspecified.");
            }
            "01".to_string()
        }
    };

    // RXA-5: the vaccine, as a CVX code.
    let cvx = match coded(g.rxa.field(5), "CVX") {
        None => {
            reject(problems, at(5), Condition::RequiredFieldMissing, "RXA-5 (administered code) must carry a CVX code (coding system CVX); this dose was not stored.");
            None
        }
        Some(code) => match codes.cvx(&code) {
            None => {
                reject(
                    problems,
                    at(5).component(1),
                    Condition::TableValueNotFound,
                    "RXA-5 is not a CVX code the CDC publishes; this dose was not stored.",
                );
                if let Some(p) = problems.last_mut() {
                    p.app_error = Some(AppError::TableValueNotFound);
                }
                None
            }
            Some(c) if matches!(c.status, CvxStatus::NeverActive | CvxStatus::Pending) => {
                reject(problems, at(5).component(1), Condition::TableValueNotFound, "RXA-5 is a CVX code for a vaccine that was never available; this dose was not stored.");
                if let Some(p) = problems.last_mut() {
                    p.app_error = Some(AppError::IllogicalValue);
                }
                None
            }
            Some(c)
                if matches!(c.status, CvxStatus::Inactive | CvxStatus::NonUs)
                    && information_source == "00"
                    && status != "RE"
                    && c.inactive_since
                        .zip(date)
                        .is_some_and(|(since, d)| d > since) =>
            {
                reject(problems, at(5).component(1), Condition::TableValueNotFound, "RXA-5 is a CVX code that was no longer in use on the date given, for a dose reported as newly administered; this dose was not stored. Report it as historical (RXA-9) if it came from a record.");
                if let Some(p) = problems.last_mut() {
                    p.app_error = Some(AppError::IllogicalValue);
                }
                None
            }
            Some(c) => Some(c.code.clone()),
        },
    };

    let (date, cvx) = match (date, cvx) {
        (Some(d), Some(c)) if problems[before..].iter().all(|p| p.scope != Scope::Dose) => (d, c),
        _ => return None,
    };

    // OBX: observations of this group.
    let mut dose_observations = Vec::new();
    let mut person_observations = Vec::new();
    let mut vfc_eligibility = None;
    let mut funding_source = None;
    for obx in &g.obx {
        let oat = |field| Location::new("OBX", obx.occurrence(), field);
        let loinc = obx.field(3).component(1).value();
        let loinc = loinc.trim();
        if loinc.is_empty() {
            warn(
                problems,
                oat(3),
                Condition::RequiredFieldMissing,
                "OBX-3 (observation identifier) is required; this observation was ignored.",
            );
            continue;
        }
        let value = obx.field(5);
        let value_code = text(&value.component(1).value(), 50).unwrap_or_default();
        if value_code.is_empty() {
            warn(
                problems,
                oat(5),
                Condition::RequiredFieldMissing,
                "OBX-5 (observation value) is required; this observation was ignored.",
            );
            continue;
        }
        let value_system = text(&value.component(3).value(), 20).unwrap_or_default();
        match loinc {
            "64994-7" => {
                if !codes.in_value_set("HL70064_IZ", &value_code) {
                    warn(
                        problems,
                        oat(5),
                        Condition::TableValueNotFound,
                        "OBX-5 (VFC eligibility) is not in HL7 table 0064; stored as sent.",
                    );
                }
                vfc_eligibility = Some(value_code.clone());
            }
            "30963-3" => {
                if !codes.in_value_set("PHVS_ImmunizationFundingSource_IIS", &value_code) {
                    warn(problems, oat(5), Condition::TableValueNotFound, "OBX-5 (funding source) is not in the CDC funding source value set; stored as sent.");
                }
                funding_source = Some(value_code.clone());
            }
            _ => {}
        }
        let observed_date = parse_date(&obx.field(14).value()).ok();
        let obs = Observation {
            kind: ObservationKind::from_loinc(loinc),
            loinc: text(loinc, 20).unwrap_or_default(),
            value_code,
            value_text: text(&value.component(2).value(), 200).unwrap_or_default(),
            value_system,
            observed_date,
        };
        if obs.kind.is_about_person() {
            person_observations.push(obs);
        } else {
            dose_observations.push(obs);
        }
    }

    let kind = match status {
        "RE" => {
            let reason = g.rxa.field(18);
            let reason_code = text(&reason.component(1).value(), 20);
            if reason_code.is_none() {
                warn(
                    problems,
                    at(18),
                    Condition::RequiredFieldMissing,
                    "RXA-18 (substance/treatment refusal reason) is expected when RXA-20 is RE.",
                );
            } else if reason_code
                .as_deref()
                .is_some_and(|c| !codes.in_value_set("NIP002", c))
            {
                warn(
                    problems,
                    at(18),
                    Condition::TableValueNotFound,
                    "RXA-18 (refusal reason) is not in CDC table NIP002; stored as sent.",
                );
            }
            DoseKind::Refused(Refusal {
                filler_order_number: filler_order_number.clone(),
                refusal_date: date,
                cvx,
                reason_code,
                reason_text: text(&reason.component(2).value(), 200),
            })
        }
        "NA" => DoseKind::NotAdministered,
        _ => {
            let amount = text(&g.rxa.field(6).value(), 20);
            if amount.is_none() {
                warn(
                    problems,
                    at(6),
                    Condition::RequiredFieldMissing,
                    "RXA-6 (administered amount) is required; use 999 when the amount is unknown.",
                );
            }
            let mvx = coded(g.rxa.field(17), "MVX");
            if let Some(m) = &mvx {
                if codes.mvx(m).is_none() {
                    warn(
                        problems,
                        at(17),
                        Condition::TableValueNotFound,
                        "RXA-17 is not an MVX code the CDC publishes; stored as sent.",
                    );
                }
            }
            let expiration_raw = g.rxa.field(16).value();
            let expiration_date = match parse_date(&expiration_raw) {
                Ok(d) => Some(d),
                Err(_) if expiration_raw.trim().is_empty() => None,
                Err(_) => {
                    warn(
                        problems,
                        at(16),
                        Condition::DataType,
                        "RXA-16 (lot expiration date) is not a valid date; it was not stored.",
                    );
                    None
                }
            };
            let route = g.rxr.as_ref().and_then(|r| {
                let f = r.field(1).rep(1);
                let code = text(&f.component(1).value(), 20)?;
                if f.component(3).value().trim().eq_ignore_ascii_case("NCIT") && !codes.in_value_set("NCIT", &code) {
                    warn(problems, Location::new("RXR", r.occurrence(), 1), Condition::TableValueNotFound, "RXR-1 (route) is not an NCIT route code in the CDC value set; stored as sent.");
                }
                Some(code)
            });
            let site = g.rxr.as_ref().and_then(|r| {
                let code = text(&r.field(2).component(1).value(), 20)?;
                if !codes.in_value_set("HL70163_IZ", &code) {
                    warn(
                        problems,
                        Location::new("RXR", r.occurrence(), 2),
                        Condition::TableValueNotFound,
                        "RXR-2 (administration site) is not in HL7 table 0163; stored as sent.",
                    );
                }
                Some(code)
            });
            let facility = g.rxa.field(11).component(4);
            DoseKind::Given(Immunization {
                filler_order_number: filler_order_number.clone(),
                administered_date: date,
                cvx,
                mvx,
                lot_number: text(&g.rxa.field(15).value(), 50),
                expiration_date,
                amount: amount.filter(|a| a != "999"),
                amount_unit: text(&g.rxa.field(7).component(1).value(), 20),
                information_source,
                route,
                site,
                administering_facility: text(&facility.subcomponent_value(1), 50),
                administering_provider: text(&g.rxa.field(10).component(1).value(), 50),
                completion_status: status.to_string(),
                vfc_eligibility,
                funding_source,
                observations: dose_observations,
            })
        }
    };

    Some(DoseReport {
        rxa_occurrence: occ,
        action,
        filler_order_number,
        kind,
        person_observations,
    })
}
