//! `imms idscan FILE` on generated license photos and on files it must refuse.

mod common;

use common::Site;
use imms_db::Engine;
use imms_idscan::testgen::aamva::AamvaCard;
use imms_idscan::testgen::photo::{pdf417_symbol, photo_of_symbol, Degradation};
use rand::SeedableRng;

#[tokio::test]
async fn reads_a_license_photo_and_refuses_what_is_not_one() {
    let site = Site::new(Engine::Sqlite).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let card = AamvaCard::random(&mut rng);
    let photo = photo_of_symbol(
        &pdf417_symbol(&card.payload()),
        &Degradation::clean(1400),
        &mut rng,
    );
    let file = site.path("license.jpg");
    std::fs::write(&file, photo).unwrap();
    let (code, out, err) = site.run(&["idscan", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let expected = serde_json::to_value(card.expected()).unwrap();
    for key in [
        "document",
        "family_name",
        "given_names",
        "birth_date",
        "expiry_date",
        "address",
    ] {
        assert_eq!(json[key], expected[key], "{key}");
    }

    let junk = site.path("junk.png");
    std::fs::write(&junk, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let (code, out, err) = site.run(&["idscan", junk.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!site.path("imms.db").exists(), "idscan stores nothing");
}

#[tokio::test]
async fn reads_a_passport_photo() {
    use imms_idscan::testgen::{passport, Passport};
    let site = Site::new(Engine::Sqlite).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let p = Passport::random(&mut rng);
    let d = Degradation {
        angle_deg: 4.0,
        noise: 4.0,
        jpeg_quality: 85,
        ..Degradation::clean(2400)
    };
    let file = site.path("passport.jpg");
    std::fs::write(&file, passport::photo_of_passport(&p, &d, &mut rng)).unwrap();
    let (code, out, err) = site.run(&["idscan", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json, serde_json::to_value(p.expected()).unwrap());
    assert_eq!(json["document"], "passport");
    assert!(json["address"].is_null());
}
