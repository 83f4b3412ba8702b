//! # imms-idscan — read a photo of an ID into an [`IdDocument`]
//!
//! The portal asks adults for a photo of their driver's license, state ID card or passport and
//! reads name, date of birth, address and expiry from it. This crate does that reading and
//! nothing else: it takes bytes, returns a typed [`IdDocument`] or a [`ScanError`] whose text
//! tells the person what to do, and does no I/O (image bytes are never written anywhere).
//!
//! ## Use
//! [`scan`]`(bytes, &Limits::default())` is the whole job for a card photo; `imms idscan FILE`
//! prints its result as JSON (`serde_json::to_string(&doc)`).
//!
//! ## Pieces
//! - [`intake`]: JPEG / PNG / WebP only, size and dimensions checked from the header before
//!   decoding (15 MiB, 50 megapixels by default, see [`Limits`]), EXIF orientation honoured.
//! - [`pdf417`]: the barcode search over rxing's PDF417 reader, within a time budget: crop the
//!   densest patch of edges (`locate`), straighten it by its measured slant, undo perspective
//!   (`deskew`, `geometry`), then a greedy-ordered ladder of scales, thresholds and second
//!   guesses. A QR code where the PDF417 should be is reported as "not a license barcode".
//! - [`parse_aamva`]: the AAMVA DL/ID Card Design Standard payload (PDF417 text on the back of a
//!   US or Canadian card), versions 01–10, into an [`IdDocument`].
//! - [`parse_mrz`] / [`parse_td3`]: an ICAO 9303 TD3 passport MRZ, every check digit verified.
//!   Reading the MRZ off a passport photo (OCR) is not built yet: [`scan`] reads cards only.
//! - `testgen` (feature): the seeded generator of payloads, passports and degraded photos
//!   that the tests, the benches and the `readrate` / `ladder` examples use.
//!
//! ## Never a wrong value
//! A date of birth read wrong would match the wrong person, so every reader here refuses
//! rather than guesses: impossible dates, a failed check digit, a name whose family part cannot
//! be told from the given part are errors (or, for optional fields, left out). Whether the
//! document has expired is the caller's decision: the expiry date is returned, not judged.

mod aamva;
mod deskew;
mod document;
mod error;
mod geometry;
pub mod intake;
mod locate;
mod mrz;
mod ocrb;
pub mod pdf417;
#[cfg(feature = "testgen")]
pub mod testgen;

pub use aamva::parse_aamva;
pub use document::{Address, DocumentKind, IdDocument, Sex};
pub use error::ScanError;
pub use intake::Limits;
pub use mrz::{check_digit, parse_mrz, parse_td3};

use zeroize::Zeroize;

/// Reads a photo of the back of a US or Canadian driver's license or ID card: image intake
/// ([`intake`]), PDF417 search ([`pdf417`]) and the AAMVA parse ([`parse_aamva`]). The decoded
/// pixels and the barcode text are zeroed before they are freed.
pub fn scan(bytes: &[u8], limits: &Limits) -> Result<IdDocument, ScanError> {
    let gray = intake::decode_gray(bytes, limits)?;
    let found = pdf417::read(&gray, limits.time_budget);
    gray.into_raw().zeroize();
    let mut text = found?;
    let doc = parse_aamva(text.as_bytes());
    text.zeroize();
    doc
}
