//! Whole scans of generated passport photos: the MRZ read exactly (names with hyphens, cut to
//! fit, or with no given name; turned, upside down, blurred, noisy, JPEG), and a wrong check
//! digit or a photo without an MRZ refused, never read as a wrong value.

use std::time::Duration;

use chrono::NaiveDate;
use imms_idscan::testgen::{passport, photo, Degradation, Passport, Person};
use imms_idscan::{check_digit, scan, Limits, ScanError, Sex};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn limits() -> Limits {
    Limits {
        time_budget: Duration::from_secs(600),
        ..Limits::default()
    }
}

fn person(family: &str, first: &str, middle: Option<&str>) -> Person {
    Person {
        family: family.into(),
        first: first.into(),
        middle: middle.map(Into::into),
        suffix: None,
        birth: NaiveDate::from_ymd_opt(1984, 2, 29).unwrap(),
        expiry: NaiveDate::from_ymd_opt(2031, 7, 14).unwrap(),
        sex: Sex::Female,
        street: String::new(),
        city: String::new(),
        zip: String::new(),
    }
}

fn passport_of(person: Person, number: &str) -> Passport {
    Passport {
        person,
        number: number.into(),
        issuer: "USA",
    }
}

/// A moderately hard photo: 2400 px wide, some noise, JPEG 80, mild tilt.
fn ordinary(angle_deg: f32) -> Degradation {
    Degradation {
        angle_deg,
        card_frac: 0.8,
        perspective: 0.02,
        noise: 5.0,
        light: 0.8,
        jpeg_quality: 80,
        colour: true,
        ..Degradation::clean(2400)
    }
}

fn read_back(
    p: &Passport,
    d: &Degradation,
    seed: u64,
) -> Result<imms_idscan::IdDocument, ScanError> {
    let mut rng = StdRng::seed_from_u64(seed);
    scan(&passport::photo_of_passport(p, d, &mut rng), &limits())
}

#[test]
fn names_read_exactly() {
    let cases = [
        (person("SMITH-JONES", "MARY-KATE", None), "X12345678"),
        // No given name at all.
        (person("NGUYEN", "", None), "C03005988"),
    ];
    // The names are what is tested here; the photo is a fair one.
    let fair = Degradation {
        noise: 2.0,
        jpeg_quality: 90,
        ..ordinary(3.0)
    };
    for (i, (who, number)) in cases.into_iter().enumerate() {
        let p = passport_of(who, number);
        let got = read_back(&p, &fair, 10 + i as u64);
        assert_eq!(got, Ok(p.expected()), "{:?}", p.lines());
    }
    // 45 characters of name, cut to the 39 columns: the document says so, and the photo is
    // read exactly or refused, never read as another name.
    let long = passport_of(
        person("VAN DER BERG-WASHINGTON", "MARY-KATE", Some("ELIZABETH")),
        "561234987",
    );
    let (l1, l2) = long.lines();
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    assert_eq!(imms_idscan::parse_td3(&l1, &l2, today), Ok(long.expected()));
    assert!(long.expected().name_truncated);
    match read_back(&long, &fair, 12) {
        Ok(doc) => assert_eq!(doc, long.expected()),
        Err(e) => assert_eq!(e, ScanError::MrzUnreadable),
    }
}

#[test]
fn turned_blurred_and_noisy_photos_read() {
    let cases = [
        // (angle, EXIF orientation, blur in tenths of a pitch, noise, JPEG quality)
        (180.0, 1, 0.0, 4.0, 85),
        (-8.0, 6, 0.5, 8.0, 70),
        (186.0, 3, 1.0, 10.0, 60),
    ];
    for (i, (angle, exif, blur, noise, q)) in cases.into_iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(40 + i as u64);
        let p = Passport::random(&mut rng);
        let d = Degradation {
            exif_orientation: exif,
            blur,
            noise,
            jpeg_quality: q,
            ..ordinary(angle)
        };
        let bytes = passport::photo_of_passport(&p, &d, &mut rng);
        assert_eq!(scan(&bytes, &limits()), Ok(p.expected()), "{d:?}");
    }
}

#[test]
fn wrong_check_digit_is_refused() {
    let p = passport_of(person("SMITH", "ANNE", None), "A98765432");
    let (l1, l2) = p.lines();
    // The birth date's check digit, one off.
    let mut bad = l2.into_bytes();
    bad[19] = b'0' + (bad[19] - b'0' + 1) % 10;
    let bad = String::from_utf8(bad).unwrap();
    assert!(check_digit(&bad.as_bytes()[13..19]) != Some(bad.as_bytes()[19] - b'0'));
    let mut rng = StdRng::seed_from_u64(50);
    let bytes = passport::photo_of_page_with(&p, &(l1, bad), &ordinary(2.0), &mut rng);
    match scan(&bytes, &Limits::default()) {
        Err(ScanError::CheckDigit(_)) => {}
        other => panic!("a wrong check digit must be refused, got {other:?}"),
    }
}

#[test]
fn photo_without_a_machine_readable_zone_is_refused() {
    // A page of print with no MRZ: nothing to read, and no barcode either.
    let mut rng = StdRng::seed_from_u64(60);
    let mut page = image::GrayImage::from_pixel(1000, 700, image::Luma([230]));
    for (k, text) in ["PASSPORT", "SURNAME", "SMITH", "GIVEN NAMES", "ANNE"]
        .iter()
        .enumerate()
    {
        for (j, _) in text.chars().enumerate() {
            for y in 0..18 {
                for x in 0..12 {
                    page.put_pixel(
                        300 + j as u32 * 16 + x,
                        80 + k as u32 * 60 + y,
                        image::Luma([30]),
                    );
                }
            }
        }
    }
    let d = Degradation::clean(1600);
    let bytes = photo::encode(photo::photograph(&page, &d, &mut rng), &d);
    let got = scan(&bytes, &Limits::default());
    assert!(
        matches!(got, Err(ScanError::NoBarcode | ScanError::MrzUnreadable)),
        "{got:?}"
    );
}
