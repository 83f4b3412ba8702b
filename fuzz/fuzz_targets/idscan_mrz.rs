//! Parses arbitrary text as a passport machine readable zone. A zone that parses must have
//! every check digit right: recomputing them over what was read has to agree.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date");
    if let Ok(doc) = imms_idscan::parse_mrz(&text, today) {
        assert!(doc.birth_date <= today);
        assert!(!doc.family_name.is_empty());
    }
    // The two-line form directly, when the input splits into two 44-character halves.
    if data.len() == 88 && data.is_ascii() {
        let (a, b) = text.split_at(44);
        if let Ok(doc) = imms_idscan::parse_td3(a, b, today) {
            let l2 = b.as_bytes();
            let digit = |f: &[u8]| imms_idscan::check_digit(f).map(|d| b'0' + d);
            assert_eq!(digit(&l2[13..19]), Some(l2[19]));
            assert_eq!(digit(&l2[21..27]), Some(l2[27]));
            assert!(doc.expiry_date.is_some());
        }
    }
});
