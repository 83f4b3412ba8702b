//! Reading a VXU^V04 per the CDC HL7 2.5.1 Implementation Guide for Immunization Messaging
//! (release 1.5) into domain types, with every problem found.
//!
//! Reading is pure: it needs only the message, the code tables and today's date. What can be
//! stored is decided by the problems' scopes (see [`crate::problem::Scope`]).

mod dose;
mod fields;
mod header;
pub mod hl7date;
mod pid;

use chrono::NaiveDate;
use imms_core::{CodeTables, Person};
use imms_hl7::Message;

pub use dose::{Action, DoseKind, DoseReport};
pub use header::Header;

use crate::problem::{Condition, Location, Problem, Scope};

/// What a VXU says, as far as it could be read.
#[derive(Debug, Clone)]
pub struct Vxu {
    pub header: Header,
    /// `None` when the person could not be identified (a problem of person scope says why).
    pub person: Option<Person>,
    pub doses: Vec<DoseReport>,
    pub problems: Vec<Problem>,
}

impl Vxu {
    /// The worst scope among the problems.
    pub fn worst_scope(&self) -> Scope {
        self.problems
            .iter()
            .map(|p| p.scope)
            .max()
            .unwrap_or(Scope::Nothing)
    }
}

pub fn read_vxu(message: &Message<'_>, codes: &CodeTables, today: NaiveDate) -> Vxu {
    let (header, mut problems) = Header::read(message);
    if !problems.is_empty() {
        return Vxu {
            header,
            person: None,
            doses: Vec::new(),
            problems,
        };
    }
    let pids: Vec<_> = message.all("PID").collect();
    let person = match pids.as_slice() {
        [] => {
            problems.push(Problem::new(
                Location::new("PID", 1, 0),
                Condition::SegmentSequence,
                Scope::Person,
                "A VXU needs a PID segment saying who the doses are for.",
            ));
            None
        }
        [pid, rest @ ..] => {
            if !rest.is_empty() {
                problems.push(Problem::new(
                    Location::new("PID", 2, 0),
                    Condition::SegmentSequence,
                    Scope::Person,
                    "A VXU is about one person: it may hold only one PID segment.",
                ));
            }
            if message
                .segment(1)
                .is_some_and(|s| s.id() != "PID" && s.id() != "SFT")
            {
                problems.push(Problem::new(
                    Location::new("PID", 1, 0),
                    Condition::SegmentSequence,
                    Scope::Nothing,
                    "PID should follow MSH (and any SFT) directly.",
                ));
            }
            let nk1: Vec<_> = message.all("NK1").map(fields::Indexed::new).collect();
            pid::read_person(
                fields::Indexed::new(*pid),
                message.first("PD1").map(fields::Indexed::new),
                &nk1,
                &header.facility_id,
                codes,
                today,
                &mut problems,
            )
        }
    };
    if problems.iter().any(|p| p.scope >= Scope::Person) {
        return Vxu {
            header,
            person: None,
            doses: Vec::new(),
            problems,
        };
    }
    let birth_date = person.as_ref().map(|p| p.birth_date);
    let doses = dose::read_doses(message, codes, birth_date, today, &mut problems);
    Vxu {
        header,
        person,
        doses,
        problems,
    }
}
