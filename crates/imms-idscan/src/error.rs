//! Why a scan failed, in words a person uploading a photo can act on.
//!
//! Whether a document has expired is the caller's business: a scan returns the expiry date and
//! never fails because of it.

use thiserror::Error;

/// Every way a scan can fail. The `Display` text is one plain sentence.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScanError {
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// The file is bigger than the configured limit (bytes or pixels).
    #[error("the photo is too large ({what}); please upload a smaller photo")]
    TooLarge {
        /// e.g. "20000000 bytes, limit 15728640".
        what: String,
    },
    /// Not an image type we read (or a type we recognise but cannot decode, such as HEIC).
    #[error("unsupported file type ({0}); please upload a JPEG or PNG")]
    UnsupportedFormat(String),
    /// The file claims to be an image but is truncated or corrupt.
    #[error("the image file is damaged or incomplete; please take the photo again")]
    CorruptImage,
    /// No PDF417 barcode could be found or decoded in the photo, nor a passport's MRZ.
    #[error(
        "no barcode or passport zone found; photograph the back of the card, or the passport's photo page, flat and in focus, filling the frame"
    )]
    NoBarcode,
    /// A barcode was read, but it is not an AAMVA driver's license / ID card barcode.
    #[error("the barcode is not a driver's license or ID card barcode")]
    NotAamva,
    /// The barcode is AAMVA but lacks an element we need, or holds a value we cannot trust.
    #[error("the card's barcode has no usable {0}")]
    MissingField(&'static str),
    /// No passport machine readable zone could be read.
    #[error("the passport's machine readable zone (the two lines at the bottom of the photo page) could not be read")]
    MrzUnreadable,
    /// A machine readable zone was read, but a check digit does not match.
    #[error("the passport's machine readable zone failed its check digit for {0}; please take the photo again")]
    CheckDigit(&'static str),
    /// A document we recognise but do not accept (e.g. a visa, or a TD1 card MRZ).
    #[error("unsupported document: {0}")]
    UnsupportedDocument(String),
}
