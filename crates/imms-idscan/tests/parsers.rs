//! Properties of the AAMVA and MRZ parsers: generated documents read back exactly, damaged
//! ones never panic, and a damaged checked field is never returned as valid.

use chrono::NaiveDate;
use imms_idscan::testgen::{AamvaCard, Passport};
use imms_idscan::{parse_aamva, parse_mrz, parse_td3, ScanError};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

#[test]
fn generated_cards_of_every_version_read_back_exactly() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut versions = [0usize; 11];
    for _ in 0..500 {
        let card = AamvaCard::random(&mut rng);
        versions[card.version as usize] += 1;
        let got = parse_aamva(card.payload().as_bytes());
        assert_eq!(got, Ok(card.expected()), "{:?}", card.payload());
    }
    assert!(versions[1..].iter().all(|n| *n > 10), "{versions:?}");
}

#[test]
fn generated_passports_read_back_exactly() {
    let mut rng = StdRng::seed_from_u64(9303);
    for _ in 0..300 {
        let p = Passport::random(&mut rng);
        let (l1, l2) = p.lines();
        assert_eq!(parse_td3(&l1, &l2, today()), Ok(p.expected()), "{l1}\n{l2}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn aamva_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_aamva(&bytes);
    }

    #[test]
    fn aamva_never_panics_on_damaged_payloads(
        seed in any::<u64>(),
        cut in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let card = AamvaCard::random(&mut StdRng::seed_from_u64(seed));
        let mut bytes = card.payload().into_bytes();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = parse_aamva(&bytes);
    }

    #[test]
    fn aamva_dates_are_right_or_absent(seed in any::<u64>(), at in any::<prop::sample::Index>(), b in b'0'..=b'9') {
        // Change one digit of the birth date: the result is the changed date read correctly,
        // or a refusal; never some third date.
        let card = AamvaCard::random(&mut StdRng::seed_from_u64(seed));
        let payload = card.payload();
        let dbb = payload.find("DBB").unwrap() + 3;
        let i = dbb + at.index(8);
        let mut bytes = payload.into_bytes();
        bytes[i] = b;
        let raw = std::str::from_utf8(&bytes[dbb..dbb + 8]).unwrap().to_owned();
        let (y, m, d) = if card.canadian {
            (&raw[0..4], &raw[4..6], &raw[6..8])
        } else {
            (&raw[4..8], &raw[0..2], &raw[2..4])
        };
        let intended = NaiveDate::from_ymd_opt(y.parse().unwrap(), m.parse().unwrap(), d.parse().unwrap());
        match parse_aamva(&bytes) {
            Ok(doc) => prop_assert_eq!(Some(doc.birth_date), intended),
            Err(e) => prop_assert_eq!(e, ScanError::MissingField("date of birth")),
        }
    }

    #[test]
    fn mrz_never_panics(text in "[A-Z0-9< \n]{0,120}") {
        let _ = parse_mrz(&text, today());
    }

    #[test]
    fn mrz_never_panics_on_any_text(text in any::<String>()) {
        let _ = parse_mrz(&text, today());
    }

    #[test]
    fn a_wrong_digit_in_a_checked_field_is_refused(seed in any::<u64>(), pos in 0usize..44, bump in 1u8..10) {
        let p = Passport::random(&mut StdRng::seed_from_u64(seed));
        let (l1, l2) = p.lines();
        let mut b = l2.clone().into_bytes();
        // Digit positions in checked fields: number, dates, and the check digits themselves.
        prop_assume!(b[pos].is_ascii_digit() && !(28..42).contains(&pos));
        b[pos] = b'0' + (b[pos] - b'0' + bump) % 10;
        let l2 = String::from_utf8(b).unwrap();
        prop_assert!(matches!(parse_td3(&l1, &l2, today()), Err(ScanError::CheckDigit(_))));
    }
}

/// A small JPEG, colour or grey, to damage.
fn small_jpeg(colour: bool) -> Vec<u8> {
    let rgb = image::RgbImage::from_fn(96, 64, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x + y) % 256) as u8])
    });
    let img = if colour {
        image::DynamicImage::ImageRgb8(rgb)
    } else {
        image::DynamicImage::ImageLuma8(image::DynamicImage::ImageRgb8(rgb).to_luma8())
    };
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The JPEG intake (luma straight from the decoder, or the general path) never panics on
    /// a damaged file: it decodes to the declared size or refuses.
    #[test]
    fn jpeg_intake_never_panics_on_damaged_files(
        colour in any::<bool>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut bytes = small_jpeg(colour);
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        let limits = imms_idscan::Limits::default();
        if let Ok(gray) = imms_idscan::intake::decode_gray(&bytes, &limits) {
            // Whatever a damaged header now declares, the picture is exactly that size.
            let declared = imms_idscan::intake::dimensions(&bytes, &limits);
            prop_assert_eq!(declared, Ok(gray.dimensions()));
        }
    }
}

#[test]
fn jpeg_intake_reads_colour_and_grey_to_the_same_grey() {
    let limits = imms_idscan::Limits::default();
    let colour = imms_idscan::intake::decode_gray(&small_jpeg(true), &limits).unwrap();
    let grey = imms_idscan::intake::decode_gray(&small_jpeg(false), &limits).unwrap();
    assert_eq!(colour.dimensions(), (96, 64));
    assert_eq!(grey.dimensions(), (96, 64));
    // The luma of the colour file and the grey file of the same picture agree closely (not
    // exactly: the JPEG's own luma weighs red, green and blue as Rec. 601 does, the grey
    // file was made with Rec. 709's weights; a wrong or shifted decode differs by far more).
    let diff: f64 = colour
        .as_raw()
        .iter()
        .zip(grey.as_raw())
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
        .sum::<f64>()
        / colour.as_raw().len() as f64;
    assert!(diff < 12.0, "mean difference {diff}");
}
