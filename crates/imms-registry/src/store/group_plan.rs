//! What a message that creates a new person stores, decided in memory: the same rows, in the
//! same order, and the same problems as the one-message path (`apply`) would produce for a
//! person the store has never seen, so that a group can write them with a few multi-row
//! statements.

use imms_core::normalize::{digits, normalize_text, postal_code_key};
use imms_core::{Address, Immunization, NextOfKin, Observation, Person, Refusal};

use super::apply;
use super::link::legal_keys;
use crate::ack::AckCode;
use crate::problem::{Condition, Location, Problem, Scope};
use crate::vxu::{Action, DoseKind, Vxu};

/// A new person's message, ready to write.
pub(crate) struct NewPerson<'a> {
    pub vxu: &'a Vxu,
    pub person: &'a Person,
    /// Persons to queue as possible duplicates: stored ids, or `-(slot + 1)` for a person
    /// created earlier in the same group (see `group::InGroup`).
    pub look_alikes: Vec<i64>,
    pub refusals: Vec<&'a Refusal>,
    pub doses: Vec<Immunization>,
    pub person_observations: Vec<&'a Observation>,
    /// The person's name rows ([`name_rows`]) and address rows ([`address_rows`]): planned
    /// once, for the writer and for the profile kept after the commit.
    pub names: Vec<[String; 7]>,
    pub addresses: Vec<(&'a Address, String, String)>,
    /// The person's blocking and name keys (`keys::person_keys`), as routing found them.
    pub keys: Vec<String>,
    pub problems: Vec<Problem>,
    pub code: AckCode,
    pub ack: String,
    /// This person's place among the persons the group creates.
    pub slot: usize,
}

/// Applies the message's doses to a person with no doses yet, as `apply::apply_dose` does.
pub(crate) fn new_person<'a>(
    vxu: &'a Vxu,
    person: &'a Person,
    look_alikes: Vec<i64>,
    keys: Vec<String>,
    slot: usize,
    make_ack: &(dyn Fn(&[Problem]) -> (AckCode, String) + Sync),
) -> NewPerson<'a> {
    let mut problems = vxu.problems.clone();
    let mut refusals: Vec<&Refusal> = Vec::new();
    let mut doses: Vec<Immunization> = Vec::new();
    let mut person_observations: Vec<&Observation> = Vec::new();
    for dose in &vxu.doses {
        let at = Location::new("RXA", dose.rxa_occurrence, 21);
        match (&dose.kind, dose.action) {
            (_, Action::Delete) => problems.push(Problem::new(at, Condition::UnknownKeyIdentifier, Scope::Dose,
                "RXA-21 asks to delete a dose, but no dose with this filler order number (ORC-3) was reported by this facility; nothing was deleted.")),
            (DoseKind::Given(imm), action) => {
                if action == Action::Update {
                    problems.push(Problem::new(at, Condition::UnknownKeyIdentifier, Scope::Nothing,
                        "RXA-21 asks to update a dose the registry does not have; it was added.").informational());
                }
                if !repeats_earlier_dose(&mut doses, imm) {
                    doses.push(imm.clone());
                }
            }
            (DoseKind::Refused(r), _) => {
                if !refusals
                    .iter()
                    .any(|e| e.cvx == r.cvx && e.refusal_date == r.refusal_date)
                {
                    refusals.push(r);
                }
            }
            (DoseKind::NotAdministered, _) => {}
        }
        for obs in &dose.person_observations {
            if !person_observations
                .iter()
                .any(|e| e.loinc == obs.loinc && e.value_code == obs.value_code)
            {
                person_observations.push(obs);
            }
        }
    }
    let (code, ack) = make_ack(&problems);
    NewPerson {
        vxu,
        person,
        look_alikes,
        refusals,
        doses,
        person_observations,
        names: name_rows(person),
        addresses: address_rows(person),
        keys,
        problems,
        code,
        ack,
        slot,
    }
}

/// The same vaccine on the same day, not told apart by order numbers, is one dose: the later
/// report replaces the earlier (see `apply::Ctx::repeats_pending_dose`).
fn repeats_earlier_dose(doses: &mut [Immunization], imm: &Immunization) -> bool {
    match doses.iter_mut().find(|d| apply::repeats(d, imm)) {
        Some(d) => {
            apply::replace_repeated(d, imm);
            true
        }
        None => false,
    }
}

/// The matching profile of a new person as the store holds it once its planned rows are
/// written, as `match_keys` reads it back. Answers the profile and its counts of names and
/// addresses.
pub(crate) fn written_profile(person_id: i64, plan: &NewPerson<'_>) -> imms_match::Profile {
    let names: Vec<imms_match::ProfileName> = plan
        .names
        .iter()
        .map(
            |[_, family, given, middle, suffix, _, _]| imms_match::ProfileName {
                given: given.clone(),
                middle: middle.clone(),
                family: family.clone(),
                suffix: suffix.clone(),
            },
        )
        .collect();
    let addresses: Vec<imms_match::QueryAddress> = plan
        .addresses
        .iter()
        .map(|(a, _, _)| imms_match::QueryAddress {
            street: a.street.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            postal_code: a.postal_code.clone(),
        })
        .collect();
    imms_match::Profile {
        person_id,
        birth_date: Some(plan.person.birth_date),
        sex: plan.person.sex.code().chars().next(),
        names,
        addresses,
    }
}

/// Name rows: (type, family, given, middle, suffix, family key, given key), one per unique
/// key as the table's UNIQUE constraint keeps them.
fn name_rows(person: &Person) -> Vec<[String; 7]> {
    let (legal_family, legal_given) = legal_keys(person);
    let mut out: Vec<[String; 7]> = Vec::new();
    for n in &person.names {
        let (fk, gk) = if n.name_type == imms_core::NameType::Legal
            && normalize_text(&n.family) == legal_family
        {
            (legal_family.clone(), legal_given.clone())
        } else {
            (normalize_text(&n.family), normalize_text(&n.given))
        };
        let row = [
            n.name_type.code().to_string(),
            n.family.clone(),
            n.given.clone(),
            n.middle.clone(),
            n.suffix.clone(),
            fk,
            gk,
        ];
        if !out.iter().any(|e| {
            e[0] == row[0] && e[5] == row[5] && e[6] == row[6] && e[3] == row[3] && e[4] == row[4]
        }) {
            out.push(row);
        }
    }
    out
}

/// Addresses with their keys, the first of each (street key, ZIP key).
fn address_rows(person: &Person) -> Vec<(&Address, String, String)> {
    let mut out: Vec<(&Address, String, String)> = Vec::new();
    for a in &person.addresses {
        let (sk, zk) = (normalize_text(&a.street), postal_code_key(&a.postal_code));
        if !out.iter().any(|(_, s, z)| *s == sk && *z == zk) {
            out.push((a, sk, zk));
        }
    }
    out
}

/// Phones: (digits, use), the first of each number.
pub(crate) fn phone_rows(person: &Person) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for ph in &person.phones {
        let number = digits(&ph.number);
        if !out.iter().any(|(n, _)| *n == number) {
            out.push((number, ph.use_code.clone()));
        }
    }
    out
}

/// Next of kin, one per (family, given, relationship): a later one with the same key brings
/// its address and phone to the first, as the one-message path's upsert does.
pub(crate) fn kin_rows(person: &Person) -> Vec<(&NextOfKin, Address, String)> {
    let mut out: Vec<(&NextOfKin, Address, String)> = Vec::new();
    for k in &person.next_of_kin {
        let address = k.address.clone().unwrap_or_default();
        let phone = k.phone.clone().unwrap_or_default();
        match out.iter_mut().find(|(e, _, _)| {
            e.name.family == k.name.family
                && e.name.given == k.name.given
                && e.relationship == k.relationship
        }) {
            Some(earlier) => {
                earlier.1 = address;
                earlier.2 = phone;
            }
            None => out.push((k, address, phone)),
        }
    }
    out
}
