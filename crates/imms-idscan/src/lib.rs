//! # imms-idscan — read a photo of an ID into an [`IdDocument`]
//!
//! The portal asks adults for a photo of their driver's license, state ID card or passport and
//! reads name, date of birth, address and expiry from it. This crate does that reading and
//! nothing else: it takes bytes, returns a typed [`IdDocument`] or a [`ScanError`] whose text
//! tells the person what to do, and does no I/O (image bytes are never written anywhere).
//!
//! ## Pieces
//! - [`parse_aamva`]: the AAMVA DL/ID Card Design Standard payload (PDF417 text on the back of a
//!   US or Canadian card), versions 01–10, into an [`IdDocument`].
//! - [`parse_mrz`] / [`parse_td3`]: an ICAO 9303 TD3 passport MRZ, every check digit verified.
//!
//! ## Never a wrong value
//! A date of birth read wrong would match the wrong person, so every reader here refuses
//! rather than guesses: impossible dates, a failed check digit, a name whose family part cannot
//! be told from the given part are errors (or, for optional fields, left out). Whether the
//! document has expired is the caller's decision: the expiry date is returned, not judged.

mod aamva;
mod document;
mod error;
mod mrz;
#[cfg(feature = "testgen")]
pub mod testgen;

pub use aamva::parse_aamva;
pub use document::{Address, DocumentKind, IdDocument, Sex};
pub use error::ScanError;
pub use mrz::{check_digit, parse_mrz, parse_td3};
