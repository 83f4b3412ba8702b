//! imms-record: the official immunization record a person walks away with.
//!
//! From one person's registry data ([`RecordInput`]) it makes
//! - the record as a tagged, accessible PDF (PDF/UA-1) in English or Spanish, with the
//!   SMART Health Card's QR code printed at 40 mm ([`Issuer::pdf`]);
//! - the SMART Health Card itself, as `shc:/` strings ([`Issuer::shc`]);
//! - the guide "How to read your immunization record" ([`guide::html`]).
//!
//! Pure: no network, no database. The only file it touches is its signing key in the data
//! directory. How the other components call it:
//!
//! ```no_run
//! # fn demo(input: &imms_record::RecordInput) -> Result<(), imms_record::RecordError> {
//! use std::path::Path;
//! // Once at startup (the key is made on first use, readable by its owner only):
//! let issuer = imms_record::Issuer::load_or_create(
//!     Path::new("./imms-data"),
//!     "State Department of Health",
//!     "https://imms.example.gov",
//! )?;
//! let jwks: serde_json::Value = issuer.jwks(); // serve at /.well-known/jwks.json
//! let today = chrono::Utc::now().date_naive();
//! let pdf: Vec<u8> = issuer.pdf(input, imms_record::Lang::En, today)?;
//! let qr_strings: Vec<String> = issuer.shc(input)?; // "shc:/…" (or "shc:/1/2/…" chunks)
//! let guide: &str = imms_record::guide::html(imms_record::Lang::Es);
//! # let _ = (jwks, pdf, qr_strings, guide); Ok(()) }
//! ```
//!
//! The registry converts its stored person with
//! `imms_registry::record_input::to_record_input(&PersonRecord, &CodeTables)`.

pub mod fonts;
pub mod guide;
pub mod input;
pub mod issuer;
pub mod layout;
pub mod pdf;
pub mod qr;
pub mod shc;
pub mod text;

use std::path::PathBuf;
use std::sync::Arc;

pub use input::{Dose, DoseSource, Immunity, PersonName, RecordInput, Refusal};
pub use issuer::Issuer;

/// The record's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    En,
    Es,
}

impl Lang {
    /// `en` or `es` (anything else is `None`).
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "en-us" => Some(Lang::En),
            "es" | "es-us" => Some(Lang::Es),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the record signing key {0} cannot be used: {1}")]
    Key(PathBuf, String),
    #[error("the SMART Health Card could not be made: {0}")]
    Card(String),
    #[error("the record PDF could not be made: {0}; please report this with the record id")]
    Pdf(String),
}

impl Issuer {
    /// The record as a PDF in `lang`, dated `issued_on`, with the SMART Health Card's QR
    /// code(s).
    pub fn pdf(
        &self,
        input: &RecordInput,
        lang: Lang,
        issued_on: chrono::NaiveDate,
    ) -> Result<Vec<u8>, RecordError> {
        let qrs = self
            .shc(input)?
            .iter()
            .map(|s| qr::encode(s).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let guide_url = self.guide_url();
        let header = layout::Header {
            authority: &self.name,
            issued_on,
            guide_url: &guide_url,
        };
        pdf::render(&layout::lay_out(input, lang, &header, qrs))
    }

    /// The SMART Health Card as `shc:/` strings: one, or `shc:/C/N/…` chunks when the card
    /// does not fit one version-22 QR code. Not valid before now.
    pub fn shc(&self, input: &RecordInput) -> Result<Vec<String>, RecordError> {
        let jws = shc::jws(self, input, chrono::Utc::now().timestamp())?;
        Ok(shc::qr_strings(&jws))
    }
}
