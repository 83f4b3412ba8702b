//! # imms-idscan — read a photo of an ID into an [`IdDocument`]
//!
//! The portal asks adults for a photo of their driver's license, state ID card or passport and
//! reads name, date of birth, address and expiry from it. This crate does that reading and
//! nothing else: it takes bytes, returns a typed [`IdDocument`] or a [`ScanError`] whose text
//! tells the person what to do, and does no I/O (image bytes are never written anywhere).
//!
//! ## Use
//! [`scan`]`(bytes, &Limits::default())` is the whole job for a photo of a card's back or of a
//! passport's data page; `imms idscan FILE` prints its result as JSON
//! (`serde_json::to_string(&doc)`). A passport has no address (`"address": null`): the portal
//! asks for it.
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
//! - `passport`: the MRZ off a photo of the data page. The two 44-character lines are found
//!   as the longest matching pair of text bands (on a small copy turned level by the angle
//!   that piles the ink into the sharpest rows), cut out of the full photo, levelled, their
//!   lean undone and their 44 cells fitted to the gaps between characters; each line is read
//!   by OCR-B glyph templates drawn from the embedded font (Debian `fonts-ocr-b`) and by
//!   Tesseract (Debian `tesseract-ocr`, model `eng`, through the `tesseract` crate, the
//!   image handed over in memory, restricted to the MRZ alphabet). The data line is kept
//!   only when every check digit holds (each field from whichever reading satisfies it,
//!   then the whole-zone digit over the result), and its nationality and sex, which no
//!   digit covers, only when sure. The name line has no check digit, so a name is returned
//!   only when every one of its 44 characters is sure (the templates sure of it, or
//!   Tesseract reading one of their two best guesses; two readers reading two different
//!   letters refuse it). Failing that, the lines are tried binarised and upside down; a
//!   read that still fails is a [`ScanError`], never a value.
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
mod passport;
pub mod pdf417;
mod shrink;
#[cfg(feature = "testgen")]
pub mod testgen;

pub use aamva::parse_aamva;
pub use document::{Address, DocumentKind, IdDocument, Sex};
pub use error::ScanError;
pub use intake::Limits;
pub use mrz::{check_digit, parse_mrz, parse_td3};

use zeroize::Zeroize;

/// Reads a photo of a passport's data page or of the back of a US or Canadian driver's
/// license or ID card: image intake ([`intake`]), then the PDF417 search ([`pdf417`]) and the
/// AAMVA parse ([`parse_aamva`]), or the passport reader (`passport`: MRZ band, OCR, check
/// digits) where the photo shows a machine readable zone (which is tried first depends on
/// how barcode-like the photo's densest patch of edges is). The decoded pixels and the
/// barcode text are zeroed before they are freed.
pub fn scan(bytes: &[u8], limits: &Limits) -> Result<IdDocument, ScanError> {
    let gray = intake::decode_gray(bytes, limits)?;
    let doc = read_gray(&gray, limits, chrono::Utc::now().date_naive());
    gray.into_raw().zeroize();
    doc
}

/// The first rungs of the barcode ladder first where the densest patch of edges looks like a
/// barcode (most cards are read there and never pay the passport search), then the passport
/// reader (it gives up fast on a photo with no MRZ band), then the rest of the ladder. A zone
/// whose characters fit the OCR-B glyphs is a passport's: if it cannot be read, its reason is
/// the answer at once (a passport page has no barcode to search for).
fn read_gray(
    gray: &image::GrayImage,
    limits: &Limits,
    today: chrono::NaiveDate,
) -> Result<IdDocument, ScanError> {
    let mut search = pdf417::Search::new(gray);
    if search.looks_like_barcode() {
        if let Some(text) = pdf417::read_quick(&mut search) {
            return parse_barcode(text);
        }
    }
    if let Some(passport) = passport::read(gray, today) {
        return passport;
    }
    parse_barcode(pdf417::read(&mut search, limits.time_budget)?)
}

fn parse_barcode(mut text: String) -> Result<IdDocument, ScanError> {
    let doc = parse_aamva(text.as_bytes());
    text.zeroize();
    doc
}
