//! Social Security numbers: a shape check, and a keyed hash for uniqueness. The number
//! itself is never stored or logged; only HMAC-SHA-256 under a secret pepper that lives in
//! the data directory.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// A well-formed SSN (nine digits; area not 000, 666 or 9xx; group not 00; serial not 0000).
/// Its `Debug` never shows the digits.
pub struct Ssn(Zeroizing<String>);

impl std::fmt::Debug for Ssn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ssn(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this is not a valid Social Security number")]
pub struct InvalidSsn;

impl Ssn {
    /// Accepts `123-45-6789`, `123 45 6789` or `123456789`.
    pub fn parse(input: &str) -> Result<Ssn, InvalidSsn> {
        let digits: Zeroizing<String> =
            Zeroizing::new(input.chars().filter(|c| !matches!(c, '-' | ' ')).collect());
        if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidSsn);
        }
        let (area, group, serial) = (&digits[0..3], &digits[3..5], &digits[5..9]);
        if area == "000"
            || area == "666"
            || area.starts_with('9')
            || group == "00"
            || serial == "0000"
        {
            return Err(InvalidSsn);
        }
        Ok(Ssn(digits))
    }

    /// Hex HMAC-SHA-256 of the nine digits under the pepper.
    pub fn keyed_hash(&self, pepper: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(pepper).expect("HMAC takes any key length");
        mac.update(self.0.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        for ok in [
            "123-45-6789",
            "123456789",
            "123 45 6789",
            "665-01-0001",
            "899-99-9999",
        ] {
            assert!(Ssn::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "999-12-3456",
            "123-00-4567",
            "123-45-0000",
            "12345678",
            "1234567890",
            "12a456789",
            "١٢٣٤٥٦٧٨٩",
            "",
        ] {
            assert!(Ssn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keyed_hash_depends_on_the_pepper_and_not_the_punctuation() {
        let a = Ssn::parse("123-45-6789").unwrap();
        let b = Ssn::parse("123456789").unwrap();
        assert_eq!(a.keyed_hash(b"pepper"), b.keyed_hash(b"pepper"));
        assert_ne!(a.keyed_hash(b"pepper"), a.keyed_hash(b"other"));
        assert_eq!(a.keyed_hash(b"pepper").len(), 64);
        assert_eq!(format!("{a:?}"), "Ssn(***)");
    }
}
