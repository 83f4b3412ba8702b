//! Reading a QBP^Q11 (CDC IG release 1.5, profiles Z34 and Z44): the header, the query's
//! name and tag, and the Z34 parameters as a [`Person`] to look up.
//!
//! Every problem found makes the query malformed (QAK-2 AE) or unsupported (AR); nothing of
//! the parameters is ever quoted back in the problems' text.

use chrono::NaiveDate;
use imms_core::{Address, Identifier, NameType, Person, PersonName, Phone, Sex};
use imms_hl7::{Delimiters, Field, Message};

use crate::problem::{AppError, Condition, Location, Problem, Scope};
use crate::vxu::hl7date::{parse_date, DateError};

/// QPD-1 of the immunization history query.
pub const Z34: &str = "Z34";
/// QPD-1 of the evaluated history and forecast query.
pub const Z44: &str = "Z44";
/// The most repetitions read from any one query field; a query with more is refused.
pub const MAX_REPETITIONS: usize = 10;
/// Longest text kept from one name or address component.
const MAX_TEXT: usize = 100;
/// QPD-2 is an ST of at most 32 characters (CDC IG).
const MAX_TAG: usize = 32;

/// The header of a query, as far as it could be read.
#[derive(Debug, Clone, Default)]
pub struct QueryHeader {
    pub delimiters: Delimiters,
    pub sending_application: String,
    pub facility_id: String,
    pub control_id: String,
    pub processing_id: String,
}

/// What the query asks, once read.
#[derive(Debug, Clone)]
pub enum Asked {
    /// Z34: the immunization history of this person.
    History(Box<Person>),
    /// Z44: evaluated history and forecast (not supported yet).
    Forecast,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub header: QueryHeader,
    /// QPD-1.1 as sent when it is a known query name (Z34, Z44), else empty.
    pub query_name: &'static str,
    /// QPD-2, echoed in QAK-1 and QPD-2 (empty when missing or unusable).
    pub tag: String,
    /// `Err` holds the problems that make the query malformed (AE) or refused (AR).
    pub asked: Result<Asked, Vec<Problem>>,
}

fn clean(value: &str) -> String {
    if value.trim() == "\"\"" {
        return String::new();
    }
    value
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect()
}

fn at(field: usize) -> Location {
    Location::new("QPD", 1, field)
}

fn malformed(location: Location, condition: Condition, text: &str) -> Problem {
    Problem::new(location, condition, Scope::Person, text)
}

fn refused(location: Location, condition: Condition, text: &str) -> Problem {
    Problem::new(location, condition, Scope::Message, text)
}

/// Reads the header; problems here refuse the query (AR).
fn read_header(message: &Message<'_>, problems: &mut Vec<Problem>) -> QueryHeader {
    let msh = message
        .first("MSH")
        .expect("a parsed message starts with MSH");
    let hd = |n: usize| {
        let f = msh.field(n);
        let ns = clean(&f.component(1).value());
        if ns.is_empty() {
            clean(&f.component(2).value())
        } else {
            ns
        }
    };
    let header = QueryHeader {
        delimiters: *message.delimiters(),
        sending_application: hd(3),
        facility_id: hd(4),
        control_id: clean(&msh.field(10).value()),
        processing_id: clean(&msh.field(11).component(1).value()),
    };
    let m = |n| Location::new("MSH", 1, n);
    if header.facility_id.is_empty() {
        problems.push(refused(
            m(4),
            Condition::RequiredFieldMissing,
            "MSH-4 (sending facility) is required: it says which registered facility asks.",
        ));
    }
    if header.control_id.is_empty() {
        problems.push(refused(
            m(10),
            Condition::RequiredFieldMissing,
            "MSH-10 (message control ID) is required.",
        ));
    } else if header.control_id.chars().count() > 199 {
        problems.push(refused(
            m(10),
            Condition::DataType,
            "MSH-10 (message control ID) is longer than 199 characters.",
        ));
    }
    if msh.field(9).component(2).value().trim() != "Q11" {
        problems.push(refused(
            m(9).component(2),
            Condition::UnsupportedEventCode,
            "A QBP query must have trigger event Q11 (MSH-9.2).",
        ));
    }
    match header.processing_id.as_str() {
        "P" | "T" | "D" => {}
        _ => problems.push(refused(
            m(11),
            Condition::UnsupportedProcessingId,
            "MSH-11 (processing ID) must be P, T or D.",
        )),
    }
    if msh.field(12).component(1).value().trim() != "2.5.1" {
        problems.push(refused(
            m(12),
            Condition::UnsupportedVersionId,
            "Only HL7 version 2.5.1 is supported (MSH-12), as the CDC implementation guide requires.",
        ));
    }
    header
}

fn too_many(field: Field<'_>) -> bool {
    field.repetition_count() > MAX_REPETITIONS
}

fn xpn(field: Field<'_>, name_type: NameType) -> Option<PersonName> {
    let r = field.rep(1);
    let family = clean(&r.component(1).subcomponent_value(1));
    let given = clean(&r.component(2).value());
    if family.is_empty() && given.is_empty() {
        return None;
    }
    Some(PersonName {
        name_type,
        family,
        given,
        middle: clean(&r.component(3).value()),
        suffix: clean(&r.component(4).value()),
    })
}

/// Reads a QBP^Q11. `today` bounds the date of birth.
pub fn read_query(message: &Message<'_>, today: NaiveDate) -> Query {
    let mut problems = Vec::new();
    let header = read_header(message, &mut problems);
    let qpds: Vec<_> = message.all("QPD").take(2).collect();
    let Some(qpd) = qpds.first().copied() else {
        problems.push(malformed(
            at(0),
            Condition::SegmentSequence,
            "A QBP query needs a QPD segment with the query's parameters.",
        ));
        return Query {
            header,
            query_name: "",
            tag: String::new(),
            asked: Err(problems),
        };
    };
    let tag_raw = clean(&qpd.field(2).value());
    let tag = if tag_raw.chars().count() <= MAX_TAG {
        tag_raw
    } else {
        String::new()
    };
    let name = qpd.field(1).component(1).value().trim().to_string();
    let query_name = match name.as_str() {
        Z34 => Z34,
        Z44 => Z44,
        _ => "",
    };
    if !problems.is_empty() {
        return Query {
            header,
            query_name,
            tag,
            asked: Err(problems),
        };
    }
    if qpds.len() > 1 {
        problems.push(malformed(
            Location::new("QPD", 2, 0),
            Condition::SegmentSequence,
            "A query holds exactly one QPD segment.",
        ));
    }
    match query_name {
        Z34 => {}
        Z44 => {
            problems.push(refused(at(1), Condition::UnsupportedMessageType,
                "Z44 (evaluated immunization history and forecast) is not supported by this registry yet; send a Z34 query (request immunization history) instead."));
            return Query {
                header,
                query_name,
                tag,
                asked: if problems.len() == 1 {
                    Ok(Asked::Forecast)
                } else {
                    Err(problems)
                },
            };
        }
        _ => {
            problems.push(refused(at(1), Condition::UnsupportedMessageType,
                "QPD-1 (message query name) must be Z34 (request immunization history); no other query is supported."));
            return Query {
                header,
                query_name,
                tag,
                asked: Err(problems),
            };
        }
    }
    if qpd.field(2).value().trim().is_empty() {
        problems.push(malformed(
            at(2),
            Condition::RequiredFieldMissing,
            "QPD-2 (query tag) is required: it ties the answer to the query.",
        ));
    } else if tag.is_empty() {
        problems.push(malformed(
            at(2),
            Condition::DataType,
            "QPD-2 (query tag) is longer than 32 characters.",
        ));
    }
    for (n, label) in [
        (3, "patient identifier list"),
        (4, "patient name"),
        (5, "mother's maiden name"),
        (8, "address"),
        (9, "phone"),
    ] {
        if too_many(qpd.field(n)) {
            problems.push(malformed(
                at(n),
                Condition::DataType,
                &format!("QPD-{n} ({label}) repeats more than {MAX_REPETITIONS} times; send the few that matter."),
            ));
        }
    }
    if !problems.is_empty() {
        return Query {
            header,
            query_name,
            tag,
            asked: Err(problems),
        };
    }

    // QPD-3: the facility's identifiers for the person, scoped by MSH-4 as in a VXU.
    let identifiers: Vec<Identifier> = qpd
        .field(3)
        .repetitions()
        .filter_map(|r| {
            let value = clean(&r.component(1).value());
            (!value.is_empty()).then(|| Identifier {
                facility_id: header.facility_id.clone(),
                value,
                authority: clean(&r.component(4).subcomponent_value(1)),
                id_type: clean(&r.component(5).value()),
            })
        })
        .collect();

    let name = xpn(qpd.field(4), NameType::Legal);
    match &name {
        None => problems.push(malformed(
            at(4),
            Condition::RequiredFieldMissing,
            "QPD-4 (patient name) is required: family name and given name.",
        )),
        Some(n) if n.family.is_empty() => problems.push(malformed(
            at(4).component(1),
            Condition::RequiredFieldMissing,
            "QPD-4.1 (family name) is required.",
        )),
        Some(n) if n.given.is_empty() => problems.push(malformed(
            at(4).component(2),
            Condition::RequiredFieldMissing,
            "QPD-4.2 (given name) is required: a family name alone could mean many people.",
        )),
        Some(_) => {}
    }
    let dob_raw = qpd.field(6).value();
    let birth_date = match parse_date(&dob_raw) {
        Ok(d) if d > today => {
            problems.push(
                malformed(
                    at(6),
                    Condition::DataType,
                    "QPD-6 (date of birth) is in the future.",
                )
                .app(AppError::IllogicalDate),
            );
            None
        }
        Ok(d) => Some(d),
        Err(_) if dob_raw.trim().is_empty() => {
            problems.push(malformed(
                at(6),
                Condition::RequiredFieldMissing,
                "QPD-6 (date of birth) is required.",
            ));
            None
        }
        Err(DateError::Incomplete) | Err(DateError::Invalid) => {
            problems.push(
                malformed(
                    at(6),
                    Condition::DataType,
                    "QPD-6 (date of birth) must be a full date (YYYYMMDD).",
                )
                .app(AppError::InvalidDate),
            );
            None
        }
    };
    let sex_raw = qpd.field(7).value();
    let sex = match Sex::from_hl7(sex_raw.trim()) {
        Some(s) => s,
        None if sex_raw.trim().is_empty() => Sex::Unknown,
        None => {
            problems.push(
                malformed(
                    at(7),
                    Condition::TableValueNotFound,
                    "QPD-7 (sex) must be F, M or U (HL7 table 0001).",
                )
                .app(AppError::TableValueNotFound),
            );
            Sex::Unknown
        }
    };
    let addresses: Vec<Address> = qpd
        .field(8)
        .repetitions()
        .map(|r| Address {
            street: clean(&r.component(1).subcomponent_value(1)),
            other: clean(&r.component(2).value()),
            city: clean(&r.component(3).value()),
            state: clean(&r.component(4).value()),
            postal_code: clean(&r.component(5).value()),
            country: clean(&r.component(6).value()),
            address_type: clean(&r.component(7).value()),
        })
        .filter(|a| !a.is_empty())
        .collect();
    let phones: Vec<Phone> = qpd
        .field(9)
        .repetitions()
        .filter_map(|r| {
            let joined = format!("{}{}", r.component(6).value(), r.component(7).value());
            let mut digits = imms_core::normalize::digits(&joined);
            if digits.is_empty() {
                digits = imms_core::normalize::digits(&r.component(1).value());
            }
            (digits.len() >= 7).then(|| Phone {
                number: digits.chars().take(20).collect(),
                use_code: clean(&r.component(2).value()),
            })
        })
        .collect();
    let mother_maiden_name = xpn(qpd.field(5), NameType::Maiden);
    let multiple_birth = match qpd.field(10).value().trim() {
        "Y" => Some(true),
        "N" => Some(false),
        _ => None,
    };
    let birth_order = qpd.field(11).value().trim().parse::<u8>().ok();

    let asked = match (problems.is_empty(), name, birth_date) {
        (true, Some(name), Some(birth_date)) => Ok(Asked::History(Box::new(Person {
            names: vec![name],
            birth_date,
            sex,
            addresses,
            phones,
            identifiers,
            mother_maiden_name,
            multiple_birth,
            birth_order,
            death_date: None,
            pd1: None,
            next_of_kin: Vec::new(),
        }))),
        _ => Err(problems),
    };
    Query {
        header,
        query_name,
        tag,
        asked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 6, 1).unwrap()
    }

    const QBP: &str = "MSH|^~\\&|EHR|CLINIC-1|IMMS|IMMS|20240601||QBP^Q11^QBP_Q11|Q-1|P|2.5.1|||ER|AL|||||Z34^CDCPHINVS\r\
QPD|Z34^Request Immunization History^CDCPHINVS|TAG-1|MRN-1^^^CLINIC-1^MR|Quintero^Rosalind^Maeve^^^^L|Ferrante^Giulia^^^^^M|19800412|F|417 Larkspur Ln^^Lansing^MI^48933^USA^H|^PRN^PH^^^517^5550199\r\
RCP|I|1^RD&Records&HL70126|R^real-time^HL70394\r";

    fn read(raw: &str) -> Query {
        read_query(&imms_hl7::parse(raw).unwrap(), today())
    }

    #[test]
    fn reads_a_z34() {
        let q = read(QBP);
        assert_eq!(q.query_name, Z34);
        assert_eq!(q.tag, "TAG-1");
        assert_eq!(q.header.control_id, "Q-1");
        let Ok(Asked::History(p)) = q.asked else {
            panic!("history asked: {:?}", q.asked)
        };
        assert_eq!(p.names[0].family, "Quintero");
        assert_eq!(p.birth_date, NaiveDate::from_ymd_opt(1980, 4, 12).unwrap());
        assert_eq!(p.sex, Sex::Female);
        assert_eq!(p.identifiers[0].facility_id, "CLINIC-1");
        assert_eq!(p.identifiers[0].id_type, "MR");
        assert_eq!(p.addresses[0].postal_code, "48933");
        assert_eq!(p.phones[0].number, "5175550199");
        assert_eq!(p.mother_maiden_name.unwrap().family, "Ferrante");
    }

    #[test]
    fn a_surname_alone_is_malformed() {
        let q = read(&QBP.replace("Quintero^Rosalind^Maeve^^^^L", "Quintero"));
        let problems = q.asked.unwrap_err();
        assert!(problems
            .iter()
            .any(|p| p.location.display() == "QPD-4.2" && p.scope == Scope::Person));
        let q = read(&QBP.replace("|19800412|", "||"));
        assert!(q.asked.is_err());
    }

    #[test]
    fn z44_and_unknown_queries_are_refused() {
        let q = read(&QBP.replace("QPD|Z34^", "QPD|Z44^"));
        assert_eq!(q.query_name, Z44);
        assert!(matches!(q.asked, Ok(Asked::Forecast)));
        let q = read(&QBP.replace("QPD|Z34^", "QPD|Z99^"));
        let problems = q.asked.unwrap_err();
        assert_eq!(problems[0].scope, Scope::Message);
    }

    #[test]
    fn ten_thousand_repetitions_are_refused_without_reading_them() {
        let ids = vec!["X^^^CLINIC-1^MR"; 10_000].join("~");
        let q = read(&QBP.replace("MRN-1^^^CLINIC-1^MR", &ids));
        let problems = q.asked.unwrap_err();
        assert_eq!(problems[0].location.display(), "QPD-3");
    }

    #[test]
    fn header_problems_refuse() {
        let q = read(&QBP.replace("|2.5.1|", "|2.3|"));
        assert!(q.asked.unwrap_err()[0].scope == Scope::Message);
    }
}
