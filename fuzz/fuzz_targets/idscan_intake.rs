//! Feeds arbitrary bytes to image intake and to the whole scan, with small limits so each run
//! stays fast: nothing may panic, and whatever decodes must respect the limits.
#![no_main]

use std::time::Duration;

use imms_idscan::{intake, scan, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_pixels: 1 << 20,
        time_budget: Duration::from_millis(50),
    };
    if let Ok((w, h)) = intake::dimensions(data, &limits) {
        assert!(u64::from(w) * u64::from(h) <= limits.max_pixels);
    }
    if let Ok(img) = intake::decode_gray(data, &limits) {
        assert!(u64::from(img.width()) * u64::from(img.height()) <= limits.max_pixels);
    }
    let _ = scan(data, &limits);
});
