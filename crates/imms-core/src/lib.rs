//! # imms-core — the registry's vocabulary
//!
//! Domain types shared by every other crate: a [`Person`] with typed names, addresses and
//! identifiers; an [`Immunization`] with the facts an HL7 VXU can carry (CVX, MVX, lot, route,
//! site, funding, administered or historical); refusals and observations such as evidence of
//! immunity; and the CDC / HL7 code tables ([`CodeTables`]) that give those codes meaning.
//!
//! The crate does no I/O. Code tables are parsed from the tab-separated text published in
//! `data/codes/` (a verbatim copy of the CDC and NIST tables, see its README); a copy of that
//! text is embedded in the binary ([`CodeTables::embedded`]) so a new system needs no files.
//! [`normalize`] holds the text normalisation used for linking persons.

pub mod codes;
pub mod immunization;
pub mod normalize;
pub mod person;

pub use codes::{CodeTables, CodesError, Cvx, CvxStatus, Mvx};
pub use immunization::{Immunization, Observation, ObservationKind, Refusal};
pub use person::{Address, Identifier, NameType, NextOfKin, Pd1, Person, PersonName, Phone, Sex};
