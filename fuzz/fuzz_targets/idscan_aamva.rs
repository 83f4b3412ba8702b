//! Parses arbitrary bytes as an AAMVA DL/ID barcode payload. Besides never panicking, a
//! document returned must hold only trustworthy values: a plausible birth date and a
//! non-empty family name.
#![no_main]

use chrono::Datelike;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = imms_idscan::parse_aamva(data) {
        assert!(!doc.family_name.trim().is_empty());
        assert!((1880..=2200).contains(&doc.birth_date.year()));
        if let Some(a) = &doc.address {
            assert_eq!(a.state.len(), 2);
        }
    }
});
