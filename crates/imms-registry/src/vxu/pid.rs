//! PID (and the facility's identifiers in it): who the message is about. Without an
//! identifier, a name and a valid date of birth the person cannot be identified, and nothing
//! in the message is stored.

use chrono::NaiveDate;
use imms_core::{
    Address, CodeTables, Identifier, NameType, NextOfKin, Pd1, Person, PersonName, Phone, Sex,
};
use imms_hl7::{Field, IndexedSegment as Indexed};

use super::hl7date::{parse_date, DateError};
use crate::problem::{AppError, Condition, Location, Problem, Scope};

/// Longest text kept from any one name or address component.
const MAX_TEXT: usize = 100;

/// Trimmed, without control characters, at most [`MAX_TEXT`] characters. The HL7 explicit
/// null `""` ("no value") reads as empty.
fn clean(value: &str) -> String {
    let v = value.trim();
    if v == "\"\"" {
        return String::new();
    }
    if v.len() <= MAX_TEXT && !super::may_hold_control(v) {
        return v.to_string();
    }
    v.chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect()
}

fn xpn(field: Field<'_>, rep: usize, default_type: NameType) -> Option<PersonName> {
    let r = field.rep(rep);
    let family = clean(&r.component(1).subcomponent_value(1));
    let given = clean(&r.component(2).value());
    if family.is_empty() && given.is_empty() {
        return None;
    }
    let type_code = r.component(7).value();
    Some(PersonName {
        name_type: if type_code.trim().is_empty() {
            default_type
        } else {
            NameType::from_hl7(type_code.trim())
        },
        family,
        given,
        middle: clean(&r.component(3).value()),
        suffix: clean(&r.component(4).value()),
    })
}

pub fn read_person(
    pid: Indexed<'_>,
    pd1: Option<Indexed<'_>>,
    nk1: &[Indexed<'_>],
    facility_id: &str,
    codes: &CodeTables,
    today: NaiveDate,
    problems: &mut Vec<Problem>,
) -> Option<Person> {
    let at = |field| Location::new("PID", 1, field);
    let mut fatal = false;
    let mut fail = |problems: &mut Vec<Problem>, p: Problem| {
        fatal = true;
        problems.push(p);
    };

    // PID-3: the facility's identifiers for the person.
    let mut identifiers = Vec::new();
    for r in pid.field(3).repetitions() {
        let value = clean(&r.component(1).value());
        if value.is_empty() {
            continue;
        }
        identifiers.push(Identifier {
            facility_id: facility_id.to_string(),
            value,
            authority: clean(&r.component(4).subcomponent_value(1)),
            id_type: clean(&r.component(5).value()),
        });
    }
    if identifiers.is_empty() {
        fail(problems, Problem::new(at(3), Condition::RequiredFieldMissing, Scope::Person,
            "PID-3 (patient identifier list) needs at least one identifier, such as the medical record number."));
    }

    // PID-5: names; the first repetition is the legal name unless typed otherwise.
    let mut names = Vec::new();
    for i in 1..=pid.field(5).repetition_count() {
        if let Some(n) = xpn(
            pid.field(5),
            i,
            if i == 1 {
                NameType::Legal
            } else {
                NameType::Alias
            },
        ) {
            names.push(n);
        }
    }
    match names
        .iter()
        .find(|n| n.name_type == NameType::Legal)
        .or(names.first())
    {
        None => fail(
            problems,
            Problem::new(
                at(5),
                Condition::RequiredFieldMissing,
                Scope::Person,
                "PID-5 (patient name) is required: family name and given name.",
            ),
        ),
        Some(n) if n.family.is_empty() => fail(
            problems,
            Problem::new(
                at(5).component(1),
                Condition::RequiredFieldMissing,
                Scope::Person,
                "PID-5.1 (family name) is required.",
            ),
        ),
        Some(n) if n.given.is_empty() => fail(
            problems,
            Problem::new(
                at(5).component(2),
                Condition::RequiredFieldMissing,
                Scope::Person,
                "PID-5.2 (given name) is required.",
            ),
        ),
        Some(_) => {}
    }

    // PID-7: date of birth.
    let dob_raw = pid.field(7).value();
    let birth_date = match parse_date(&dob_raw) {
        Ok(d) if d > today => {
            fail(
                problems,
                Problem::new(
                    at(7),
                    Condition::DataType,
                    Scope::Person,
                    "PID-7 (date of birth) is in the future.",
                )
                .app(AppError::IllogicalDate),
            );
            None
        }
        Ok(d) if d < NaiveDate::from_ymd_opt(1850, 1, 1).expect("valid") => {
            fail(
                problems,
                Problem::new(
                    at(7),
                    Condition::DataType,
                    Scope::Person,
                    "PID-7 (date of birth) is before 1850.",
                )
                .app(AppError::IllogicalDate),
            );
            None
        }
        Ok(d) => Some(d),
        Err(_) if dob_raw.trim().is_empty() => {
            fail(
                problems,
                Problem::new(
                    at(7),
                    Condition::RequiredFieldMissing,
                    Scope::Person,
                    "PID-7 (date of birth) is required.",
                ),
            );
            None
        }
        Err(DateError::Incomplete) => {
            fail(
                problems,
                Problem::new(
                    at(7),
                    Condition::DataType,
                    Scope::Person,
                    "PID-7 (date of birth) must give year, month and day (YYYYMMDD).",
                )
                .app(AppError::InvalidDate),
            );
            None
        }
        Err(DateError::Invalid) => {
            fail(
                problems,
                Problem::new(
                    at(7),
                    Condition::DataType,
                    Scope::Person,
                    "PID-7 (date of birth) is not a valid date (YYYYMMDD).",
                )
                .app(AppError::InvalidDate),
            );
            None
        }
    };

    // PID-8: sex; an unknown code is kept as U with a warning.
    let sex_code = pid.field(8).value();
    let sex = match Sex::from_hl7(sex_code.trim()) {
        Some(s) => s,
        None => {
            if !sex_code.trim().is_empty() {
                problems.push(Problem::new(at(8), Condition::TableValueNotFound, Scope::Nothing,
                    "PID-8 (administrative sex) must be F, M or U (HL7 table 0001); stored as U.")
                    .app(AppError::TableValueNotFound));
            }
            Sex::Unknown
        }
    };

    // PID-11: addresses.
    let mut addresses = Vec::new();
    for r in pid.field(11).repetitions() {
        let a = Address {
            street: clean(&r.component(1).subcomponent_value(1)),
            other: clean(&r.component(2).value()),
            city: clean(&r.component(3).value()),
            state: clean(&r.component(4).value()),
            postal_code: clean(&r.component(5).value()),
            country: clean(&r.component(6).value()),
            address_type: clean(&r.component(7).value()),
        };
        if !a.is_empty() {
            if !a.address_type.is_empty() && !codes.in_value_set("HL70190_IZ", &a.address_type) {
                problems.push(Problem::new(at(11).component(7), Condition::TableValueNotFound, Scope::Nothing,
                    "PID-11.7 (address type) is not in HL7 table 0190; the address is stored as sent.")
                    .app(AppError::TableValueNotFound));
            }
            addresses.push(a);
        }
    }

    // PID-13: phones (XTN-6 area code + XTN-7 local number, or XTN-1 as sent).
    let mut phones = Vec::new();
    for r in pid.field(13).repetitions() {
        let mut digits = phone_digits(&r.component(6).value(), &r.component(7).value());
        if digits.is_empty() {
            digits = imms_core::normalize::digits(&r.component(1).value());
        }
        if digits.len() >= 7 {
            digits.truncate(20);
            phones.push(Phone {
                number: digits,
                use_code: clean(&r.component(2).value()),
            });
        }
    }

    let mother_maiden_name = xpn(pid.field(6), 1, NameType::Maiden).map(|mut n| {
        n.name_type = NameType::Maiden;
        n
    });
    let multiple_birth = match pid.field(24).value().trim() {
        "Y" => Some(true),
        "N" => Some(false),
        _ => None,
    };
    let birth_order = pid.field(25).value().trim().parse::<u8>().ok();
    let death_date = parse_date(&pid.field(29).value()).ok();

    let pd1 = pd1.map(|s| read_pd1(&s)).filter(|p| !p.is_empty());
    let next_of_kin = nk1.iter().filter_map(read_nk1).collect();

    if fatal {
        return None;
    }
    Some(Person {
        pd1,
        next_of_kin,
        names,
        birth_date: birth_date?,
        sex,
        addresses,
        phones,
        identifiers,
        mother_maiden_name,
        multiple_birth,
        birth_order,
        death_date,
    })
}

fn opt(value: &str) -> Option<String> {
    Some(clean(value)).filter(|v| !v.is_empty())
}

/// PD1-11 publicity code, PD1-12/13 protection, PD1-16/17 registry status.
fn read_pd1(pd1: &Indexed<'_>) -> Pd1 {
    Pd1 {
        publicity_code: opt(&pd1.field(11).component(1).value()),
        protection_indicator: opt(&pd1.field(12).value()),
        protection_date: parse_date(&pd1.field(13).value()).ok(),
        registry_status: opt(&pd1.field(16).value()),
        registry_status_date: parse_date(&pd1.field(17).value()).ok(),
    }
}

/// NK1-2 name, NK1-3 relationship, NK1-4 address, NK1-5 phone.
fn read_nk1(nk1: &Indexed<'_>) -> Option<NextOfKin> {
    let name = xpn(nk1.field(2), 1, NameType::Legal)?;
    let a = nk1.field(4).rep(1);
    let address = Address {
        street: clean(&a.component(1).subcomponent_value(1)),
        other: clean(&a.component(2).value()),
        city: clean(&a.component(3).value()),
        state: clean(&a.component(4).value()),
        postal_code: clean(&a.component(5).value()),
        country: clean(&a.component(6).value()),
        address_type: clean(&a.component(7).value()),
    };
    let phone = nk1.field(5).rep(1);
    let mut digits = phone_digits(&phone.component(6).value(), &phone.component(7).value());
    digits.truncate(20);
    Some(NextOfKin {
        name,
        relationship: clean(&nk1.field(3).component(1).value()),
        address: (!address.is_empty()).then_some(address),
        phone: (digits.len() >= 7).then_some(digits),
    })
}

/// The digits of an XTN area code and local number: `normalize::digits` of the two joined,
/// without building the joined text first.
fn phone_digits(area: &str, local: &str) -> String {
    area.chars()
        .chain(local.chars())
        .filter(char::is_ascii_digit)
        .collect()
}
