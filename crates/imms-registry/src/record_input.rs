//! The registry's stored person ([`PersonRecord`]) as the input of the official record
//! ([`imms_record::RecordInput`]): the legal name, codes resolved to the names people read
//! (CVX descriptions, vaccine groups, manufacturers), dose numbers from their observations,
//! refusals and evidence of immunity kept apart from doses.

use std::collections::HashMap;

use chrono::NaiveDate;
use imms_core::CodeTables;
use imms_record::{Dose, DoseSource, Immunity, PersonName, RecordInput, Refusal};

use crate::store::record::{NameRow, PersonRecord};

/// LOINC 30973-2: dose number in series.
const DOSE_NUMBER_LOINC: &str = "30973-2";

/// The record's input, facilities shown by their ids.
pub fn to_record_input(record: &PersonRecord, codes: &CodeTables) -> RecordInput {
    to_record_input_with_facilities(record, codes, &HashMap::new())
}

/// The record's input, facilities shown by their names (`facility id → name`) where known.
pub fn to_record_input_with_facilities(
    record: &PersonRecord,
    codes: &CodeTables,
    facility_names: &HashMap<String, String>,
) -> RecordInput {
    let facility = |id: &str| {
        facility_names
            .get(id)
            .filter(|n| !n.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };
    let dose_numbers: HashMap<i64, u32> = record
        .observations
        .iter()
        .filter(|o| o.loinc == DOSE_NUMBER_LOINC)
        .filter_map(|o| {
            let n = [&o.value_code, &o.value_text]
                .iter()
                .find_map(|v| v.trim().parse::<u32>().ok())?;
            Some((o.immunization_id?, n))
        })
        .collect();
    let doses = record
        .immunizations
        .iter()
        // Only doses given: "not administered" rows (RXA-20 NA/PA/RE) are not on the record
        // as doses; refusals come from their own table.
        .filter(|i| matches!(i.completion_status.as_str(), "" | "CP"))
        .filter_map(|i| {
            let date = parse_date(&i.administered_date)?;
            let cvx = codes.cvx(&i.cvx);
            Some(Dose {
                cvx: i.cvx.clone(),
                vaccine: cvx
                    .map(|c| c.short_description.clone())
                    .unwrap_or_else(|| format!("CVX {}", i.cvx)),
                groups: cvx
                    .map(|c| c.groups.iter().map(|g| g.0.clone()).collect())
                    .unwrap_or_default(),
                date,
                dose_number: dose_numbers.get(&i.id).copied(),
                mvx: i.mvx.clone(),
                manufacturer: i
                    .mvx
                    .as_deref()
                    .and_then(|m| codes.mvx(m))
                    .map(|m| m.name.clone()),
                lot: i.lot_number.clone(),
                facility: facility(&i.facility_id),
                source: if i.information_source == "00" || i.information_source.is_empty() {
                    DoseSource::Administered
                } else {
                    DoseSource::Historical
                },
            })
        })
        .collect();
    let refusals = record
        .refusals
        .iter()
        .filter_map(|r| {
            let cvx = codes.cvx(&r.cvx);
            Some(Refusal {
                cvx: r.cvx.clone(),
                vaccine: cvx
                    .map(|c| c.short_description.clone())
                    .unwrap_or_else(|| format!("CVX {}", r.cvx)),
                group: cvx
                    .and_then(|c| c.groups.first())
                    .map(|g| g.0.clone())
                    .unwrap_or_default(),
                date: parse_date(&r.refusal_date)?,
                facility: facility(&r.facility_id),
            })
        })
        .collect();
    let immunities = record
        .observations
        .iter()
        .filter(|o| o.kind == "immunity")
        .map(|o| Immunity {
            description: if o.value_text.trim().is_empty() {
                format!("SNOMED CT {}", o.value_code)
            } else {
                o.value_text.trim().to_string()
            },
            date: o.observed_date.as_deref().and_then(parse_date),
            facility: String::new(),
        })
        .collect();
    RecordInput {
        record_id: record.person_id.to_string(),
        name: legal_name(&record.names),
        // Stored by the registry as YYYY-MM-DD; a value that is not would be a damaged row,
        // shown as an impossible date rather than a plausible wrong one.
        birth_date: parse_date(&record.birth_date).unwrap_or(NaiveDate::MIN),
        doses,
        refusals,
        immunities,
    }
}

/// The legal name (HL7 name type L), else the first name reported.
fn legal_name(names: &[NameRow]) -> PersonName {
    let row = names
        .iter()
        .find(|n| n.name_type == "L")
        .or_else(|| names.first());
    match row {
        Some(n) => PersonName {
            family: n.family.trim().to_string(),
            given: [&n.given, &n.middle]
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            suffix: Some(n.suffix.trim().to_string()).filter(|s| !s.is_empty()),
        },
        None => PersonName {
            family: String::new(),
            given: Vec::new(),
            suffix: None,
        },
    }
}

/// `YYYY-MM-DD` (or HL7 `YYYYMMDD`, with any time after it).
fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s.get(..8).unwrap_or(s), "%Y%m%d"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{ImmunizationRow, ObservationRow, Pd1Row, RefusalRow};

    fn imm(id: i64, cvx: &str, date: &str, source: &str, status: &str) -> ImmunizationRow {
        ImmunizationRow {
            id,
            facility_id: "RIVERSIDE".into(),
            filler_order_number: None,
            administered_date: date.into(),
            cvx: cvx.into(),
            mvx: Some("PMC".into()),
            lot_number: Some("TD9921".into()),
            expiration_date: None,
            amount: None,
            amount_unit: None,
            information_source: source.into(),
            route: None,
            site: None,
            administering_facility: None,
            administering_provider: None,
            completion_status: status.into(),
            vfc_eligibility: None,
            funding_source: None,
        }
    }

    fn record() -> PersonRecord {
        PersonRecord {
            person_id: 7,
            birth_date: "1988-07-14".into(),
            sex: "F".into(),
            names: vec![
                NameRow {
                    name_type: "A".into(),
                    family: "Alias".into(),
                    given: "X".into(),
                    middle: "".into(),
                    suffix: "".into(),
                },
                NameRow {
                    name_type: "L".into(),
                    family: "Núñez".into(),
                    given: "José".into(),
                    middle: "María".into(),
                    suffix: "Jr".into(),
                },
            ],
            addresses: vec![],
            phones: vec![],
            identifiers: vec![],
            mother_maiden_family: None,
            pd1: Pd1Row::default(),
            next_of_kin: vec![],
            immunizations: vec![
                imm(1, "115", "2023-03-05", "00", "CP"),
                imm(2, "110", "2001-02-03", "01", "CP"),
                imm(3, "03", "2020-01-01", "00", "NA"),
            ],
            refusals: vec![RefusalRow {
                cvx: "62".into(),
                refusal_date: "2019-10-02".into(),
                reason_code: Some("00".into()),
                facility_id: "LAKESIDE".into(),
            }],
            observations: vec![
                ObservationRow {
                    immunization_id: Some(1),
                    kind: "other".into(),
                    loinc: "30973-2".into(),
                    value_code: "".into(),
                    value_text: "2".into(),
                    observed_date: None,
                },
                ObservationRow {
                    immunization_id: None,
                    kind: "immunity".into(),
                    loinc: "59784-9".into(),
                    value_code: "38907003".into(),
                    value_text: "History of varicella infection".into(),
                    observed_date: Some("1995-04-20".into()),
                },
            ],
        }
    }

    #[test]
    fn stored_rows_become_the_record_with_names_for_codes() {
        let codes = CodeTables::embedded();
        let names = HashMap::from([(
            "RIVERSIDE".to_string(),
            "Riverside Family Clinic".to_string(),
        )]);
        let input = to_record_input_with_facilities(&record(), &codes, &names);
        assert_eq!(input.record_id, "7");
        assert_eq!(input.name.display(), "José María Núñez Jr");
        assert_eq!(
            input.birth_date,
            NaiveDate::from_ymd_opt(1988, 7, 14).unwrap()
        );
        // The "not administered" row is not a dose.
        assert_eq!(input.doses.len(), 2);
        let tdap = &input.doses[0];
        assert_eq!(tdap.vaccine, "Tdap");
        assert_eq!(tdap.groups, vec!["TDAP".to_string()]);
        assert_eq!(tdap.dose_number, Some(2));
        assert_eq!(tdap.facility, "Riverside Family Clinic");
        assert_eq!(tdap.manufacturer.as_deref(), Some("Sanofi Pasteur"));
        assert_eq!(tdap.source, DoseSource::Administered);
        // DTaP-HepB-IPV counts for three vaccine groups.
        let combo = &input.doses[1];
        assert_eq!(combo.source, DoseSource::Historical);
        for g in ["DTAP", "HepB", "POLIO"] {
            assert!(
                combo.groups.iter().any(|x| x == g),
                "{g} in {:?}",
                combo.groups
            );
        }
        assert_eq!(input.refusals.len(), 1);
        assert_eq!(input.refusals[0].group, "HPV");
        assert_eq!(input.refusals[0].facility, "LAKESIDE");
        assert_eq!(input.immunities.len(), 1);
        assert_eq!(
            input.immunities[0].description,
            "History of varicella infection"
        );
    }
}
