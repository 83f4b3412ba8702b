//! Reading a VXU^V04 per the CDC HL7 2.5.1 Implementation Guide for Immunization Messaging
//! (release 1.5) into domain types, with every problem found.
//!
//! Reading is pure: it needs only the message, the code tables and today's date. What can be
//! stored is decided by the problems' scopes (see [`crate::problem::Scope`]).

mod dose;
mod header;
pub mod hl7date;
mod pid;

use chrono::NaiveDate;
use imms_core::{CodeTables, Person};
use imms_hl7::{IndexedSegment, Message, Segment};

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

/// Whether `text` may hold a control character (`char::is_control`: U+0000–U+001F and
/// U+007F–U+009F). A byte test, so plain text, by far the most common, is not decoded
/// character by character; `true` only sends the caller to its exact (slower) path.
fn may_hold_control(text: &str) -> bool {
    // U+0080–U+009F are encoded as 0xC2 0x80–0x9F.
    text.bytes().any(|b| b < 0x20 || b == 0x7F || b == 0xC2)
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
    // One walk over the segments; the PID, NK1, PD1 and order-group readers pick theirs.
    let segments: Vec<Segment<'_>> = message.segments().collect();
    let with_id = |id: &'static str| segments.iter().filter(move |s| s.id() == id);
    let mut pids = with_id("PID");
    let person = match (pids.next(), pids.next().is_some()) {
        (None, _) => {
            problems.push(Problem::new(
                Location::new("PID", 1, 0),
                Condition::SegmentSequence,
                Scope::Person,
                "A VXU needs a PID segment saying who the doses are for.",
            ));
            None
        }
        (Some(pid), more) => {
            if more {
                problems.push(Problem::new(
                    Location::new("PID", 2, 0),
                    Condition::SegmentSequence,
                    Scope::Person,
                    "A VXU is about one person: it may hold only one PID segment.",
                ));
            }
            if segments
                .get(1)
                .is_some_and(|s| s.id() != "PID" && s.id() != "SFT")
            {
                problems.push(Problem::new(
                    Location::new("PID", 1, 0),
                    Condition::SegmentSequence,
                    Scope::Nothing,
                    "PID should follow MSH (and any SFT) directly.",
                ));
            }
            let nk1: Vec<_> = with_id("NK1").copied().map(IndexedSegment::new).collect();
            pid::read_person(
                IndexedSegment::new(*pid),
                with_id("PD1").next().copied().map(IndexedSegment::new),
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
    let doses = dose::read_doses(&segments, codes, birth_date, today, &mut problems);
    Vxu {
        header,
        person,
        doses,
        problems,
    }
}
