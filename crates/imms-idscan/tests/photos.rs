//! Whole scans of generated photos: good photos read exactly, bad files are refused with the
//! right reason, quickly, and never with a wrong value.

use std::time::{Duration, Instant};

use imms_idscan::testgen::{photo, AamvaCard, Degradation};
use imms_idscan::{intake, scan, Limits, ScanError};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Default limits, but a budget large enough for every rung to run: the result then does not
/// depend on how fast the machine (or a debug build) is.
fn patient() -> Limits {
    Limits {
        time_budget: Duration::from_secs(600),
        ..Limits::default()
    }
}

fn card(seed: u64) -> (AamvaCard, StdRng) {
    let mut rng = StdRng::seed_from_u64(seed);
    (AamvaCard::random(&mut rng), rng)
}

fn photo_of(card: &AamvaCard, d: &Degradation, rng: &mut StdRng) -> Vec<u8> {
    photo::photo_of_symbol(&photo::pdf417_symbol(&card.payload()), d, rng)
}

#[test]
fn clean_photo_reads_exactly() {
    let (c, mut rng) = card(1);
    let bytes = photo_of(&c, &Degradation::clean(1200), &mut rng);
    assert_eq!(scan(&bytes, &patient()), Ok(c.expected()));
}

#[test]
fn upside_down_tilted_and_exif_turned_photos_read() {
    let cases = [
        (180.0, 1, 0.0),
        (7.0, 1, 0.0),
        (-9.0, 6, 0.03),
        (185.0, 8, 0.02),
        (93.0, 3, 0.0),
    ];
    for (i, (angle, exif, persp)) in cases.into_iter().enumerate() {
        let (c, mut rng) = card(100 + i as u64);
        let d = Degradation {
            angle_deg: angle,
            exif_orientation: exif,
            perspective: persp,
            noise: 6.0,
            light: 0.7,
            jpeg_quality: 75,
            colour: true,
            ..Degradation::clean(1400)
        };
        let bytes = photo_of(&c, &d, &mut rng);
        assert_eq!(scan(&bytes, &patient()), Ok(c.expected()), "{d:?}");
    }
}

#[test]
fn exif_orientation_is_honoured() {
    // A scene brighter on its left half; stored turned, tagged to be turned back.
    let scene =
        image::GrayImage::from_fn(64, 32, |x, _| image::Luma([if x < 32 { 250 } else { 5 }]));
    for o in [1u8, 3, 6, 8] {
        for png in [false, true] {
            let d = Degradation {
                exif_orientation: o,
                jpeg_quality: if png { 0 } else { 95 },
                ..Degradation::clean(64)
            };
            let bytes = photo::encode(scene.clone(), &d);
            let g = intake::decode_gray(&bytes, &Limits::default()).unwrap();
            assert_eq!(g.dimensions(), (64, 32), "orientation {o}");
            assert!(
                g.get_pixel(8, 16).0[0] > 200 && g.get_pixel(56, 16).0[0] < 50,
                "orientation {o} png {png}"
            );
        }
    }
}

#[test]
fn qr_code_instead_of_pdf417() {
    let mut rng = StdRng::seed_from_u64(7);
    let qr = photo::qr_symbol("https://example.org/not-a-license");
    let bytes = photo::photo_of_symbol(&qr, &Degradation::clean(1200), &mut rng);
    assert_eq!(scan(&bytes, &Limits::default()), Err(ScanError::NotAamva));
}

#[test]
fn pdf417_that_is_not_aamva() {
    let mut rng = StdRng::seed_from_u64(8);
    let sym = photo::pdf417_symbol("BOARDING PASS M1DOE/JOHN EABC123 JFKLAX");
    let bytes = photo::photo_of_symbol(&sym, &Degradation::clean(1200), &mut rng);
    assert_eq!(scan(&bytes, &Limits::default()), Err(ScanError::NotAamva));
}

#[test]
fn photo_without_barcode() {
    let mut rng = StdRng::seed_from_u64(9);
    let blank = image::GrayImage::from_pixel(400, 250, image::Luma([230]));
    let scene = photo::photograph(&blank, &Degradation::clean(1000), &mut rng);
    let bytes = photo::encode(scene, &Degradation::clean(1000));
    let t = Instant::now();
    assert_eq!(scan(&bytes, &Limits::default()), Err(ScanError::NoBarcode));
    assert!(t.elapsed() < Duration::from_secs(20));
}

#[test]
fn bad_files_are_refused_quickly() {
    let (c, mut rng) = card(3);
    let good = photo_of(&c, &Degradation::clean(800), &mut rng);
    let l = Limits::default();
    let started = Instant::now();
    // Truncated JPEG.
    assert_eq!(
        scan(&good[..good.len() / 3], &l),
        Err(ScanError::CorruptImage)
    );
    assert_eq!(
        scan(&good[..good.len() - 2], &l),
        Err(ScanError::CorruptImage)
    );
    assert_eq!(scan(&[], &l), Err(ScanError::Empty));
    // Lies about its type: a text file, a PNG header on JPEG data, an HEIC box.
    assert!(matches!(
        scan(b"GIF89a....", &l),
        Err(ScanError::UnsupportedFormat(_))
    ));
    let mut liar = b"\x89PNG\r\n\x1a\n".to_vec();
    liar.extend_from_slice(&good);
    assert_eq!(scan(&liar, &l), Err(ScanError::CorruptImage));
    assert_eq!(
        scan(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", &l),
        Err(ScanError::UnsupportedFormat("HEIC".into()))
    );
    // Too many bytes, and too many pixels.
    let tight = Limits {
        max_bytes: good.len() - 1,
        ..Limits::default()
    };
    assert!(matches!(
        scan(&good, &tight),
        Err(ScanError::TooLarge { .. })
    ));
    let few = Limits {
        max_pixels: 1000,
        ..Limits::default()
    };
    assert!(matches!(scan(&good, &few), Err(ScanError::TooLarge { .. })));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn huge_dimensions_refused_in_milliseconds() {
    // A JPEG whose frame header claims 65000 x 65000: only the header is read.
    let (c, mut rng) = card(4);
    let mut bytes = photo_of(&c, &Degradation::clean(400), &mut rng);
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline JPEG");
    bytes[sof + 5..sof + 7].copy_from_slice(&65000u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&65000u16.to_be_bytes());
    let t = Instant::now();
    assert!(matches!(
        scan(&bytes, &Limits::default()),
        Err(ScanError::TooLarge { .. })
    ));
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    assert!(matches!(
        intake::dimensions(&bytes, &Limits::default()),
        Err(ScanError::TooLarge { .. })
    ));
}

#[test]
fn degraded_photos_are_read_exactly_or_refused() {
    // Small kitchen-table photos (debug builds are slow); whatever happens, never a wrong value.
    let mut right = 0;
    for seed in 0..6u64 {
        let (c, mut rng) = card(900 + seed);
        let d = Degradation {
            photo_width: 1400,
            ..Degradation::random(&mut rng)
        };
        let bytes = photo_of(&c, &d, &mut rng);
        match scan(&bytes, &patient()) {
            Ok(doc) => {
                assert_eq!(doc, c.expected(), "{d:?}");
                right += 1;
            }
            Err(e) => assert!(
                matches!(e, ScanError::NoBarcode | ScanError::NotAamva),
                "{e:?}"
            ),
        }
    }
    assert!(right >= 4, "only {right} of 6 read");
}
