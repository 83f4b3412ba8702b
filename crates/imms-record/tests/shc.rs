//! The SMART Health Card as a verifier gets it: the FHIR bundle (snapshots), the JWS as the
//! spec shapes it, and the QR code read back from the printed page (pdftoppm, zbarimg) and
//! verified by an independent implementation (jwcrypto) against the published JWKS.

mod common;

use std::io::Read as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use imms_record::shc::{credential, fhir_bundle, jws, qr_strings, CHUNK_MAX, SINGLE_QR_MAX};
use imms_record::{Issuer, Lang, RecordInput};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};

const ISS: &str = "https://imms.example.gov";

fn issuer(dir: &std::path::Path) -> Issuer {
    // The trailing slash is dropped: `iss` never ends with one.
    Issuer::load_or_create(
        dir,
        "State Department of Health",
        "https://imms.example.gov/",
    )
    .expect("issuer")
}

fn accented() -> RecordInput {
    let mut p = person(&["José", "María"], "Núñez-Ibáñez");
    p.name.suffix = Some("Jr.".into());
    p.doses
        .push(dose("208", "COVID-19", "COVID-19", "2021-04-02"));
    // Out of date order, a dose without lot and one without facility.
    let mut early = dose("08", "Hep B", "HepB", "1988-07-15");
    early.lot = None;
    p.doses.push(early);
    let mut blank = dose("141", "Influenza", "FLU", "2020-10-01");
    blank.facility = "  ".into();
    p.doses.push(blank);
    p
}

#[test]
fn fhir_bundle_snapshots() {
    insta::assert_json_snapshot!("no_doses", fhir_bundle(&person(&["Ana"], "Torres")));
    insta::assert_json_snapshot!("one_dose", fhir_bundle(&one_dose()));
    // Refusals and evidence of immunity are not doses: the card carries the doses only.
    insta::assert_json_snapshot!(
        "refusal_and_immunity",
        fhir_bundle(&with_refusal_and_immunity())
    );
    insta::assert_json_snapshot!("accented_unordered", fhir_bundle(&accented()));
}

#[test]
fn credential_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = issuer(dir.path());
    insta::assert_json_snapshot!(
        "credential_one_dose",
        credential(&issuer, &one_dose(), 1_764_000_000)
    );
}

fn decode(part: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(part).expect("base64url")
}

#[test]
fn jws_has_the_spec_header_raw_signature_and_deflated_payload() {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = issuer(dir.path());
    let input = many_doses(5);
    let token = jws(&issuer, &input, 1_764_000_000).expect("jws");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value = serde_json::from_slice(&decode(parts[0])).expect("header");
    assert_eq!(
        header,
        serde_json::json!({"alg": "ES256", "zip": "DEF", "kid": issuer.kid()})
    );
    let jwks = issuer.jwks();
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], issuer.kid());
    for (k, v) in [
        ("kty", "EC"),
        ("crv", "P-256"),
        ("use", "sig"),
        ("alg", "ES256"),
    ] {
        assert_eq!(key[k], v, "{k}");
    }
    assert!(
        key.get("d").is_none(),
        "the JWKS must not hold the private key"
    );

    // Raw DEFLATE (no zlib header), inflating to exactly the credential, compact JSON.
    let compressed = decode(parts[1]);
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(&compressed[..])
        .read_to_end(&mut inflated)
        .expect("raw DEFLATE");
    assert!(!inflated.contains(&b'\n') && !inflated.starts_with(b"{ "));
    let payload: serde_json::Value = serde_json::from_slice(&inflated).expect("payload JSON");
    assert_eq!(payload, credential(&issuer, &input, 1_764_000_000));
    assert_eq!(payload["iss"], ISS);
    assert_eq!(payload["nbf"], 1_764_000_000);

    // r || s, 64 bytes, verifying against the published point.
    let signature = decode(parts[2]);
    assert_eq!(signature.len(), 64);
    let jwk: p256::elliptic_curve::JwkEcKey = serde_json::from_value(serde_json::json!({
        "kty": key["kty"], "crv": key["crv"], "x": key["x"], "y": key["y"],
    }))
    .expect("JWK");
    let verifying = VerifyingKey::from(jwk.to_public_key::<p256::NistP256>().expect("point"));
    let signature = Signature::from_slice(&signature).expect("signature");
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    verifying
        .verify(signing_input.as_bytes(), &signature)
        .expect("verifies");
    assert!(verifying
        .verify(format!("{signing_input}x").as_bytes(), &signature)
        .is_err());
}

#[test]
fn the_same_key_is_used_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kid = issuer(dir.path()).kid().to_string();
    assert_eq!(issuer(dir.path()).kid(), kid);
    let other = tempfile::tempdir().expect("temp dir");
    assert_ne!(
        issuer(other.path()).kid(),
        kid,
        "a new data directory, a new key"
    );
}

struct Printed {
    _dir: tempfile::TempDir,
    qr: Vec<String>,
    jwks_file: String,
}

fn print_and_scan(issuer_dir: &tempfile::TempDir, input: &RecordInput, lang: Lang) -> Printed {
    let issuer = issuer(issuer_dir.path());
    let dir = tempfile::tempdir().expect("temp dir");
    let pdf = dir.path().join("record.pdf");
    std::fs::write(
        &pdf,
        issuer.pdf(input, lang, date("2026-11-25")).expect("pdf"),
    )
    .expect("write");
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, issuer.jwks().to_string()).expect("jwks");
    Printed {
        qr: qr_contents_of_pdf(&pdf),
        jwks_file: jwks_file.display().to_string(),
        _dir: dir,
    }
}

#[test]
fn printed_qr_codes_scan_and_verify_independently() {
    let key_dir = tempfile::tempdir().expect("temp dir");
    let cases: Vec<(&str, RecordInput, Lang)> = vec![
        ("no doses", person(&["Ana"], "Torres"), Lang::En),
        ("one dose", one_dose(), Lang::En),
        ("accented, Spanish", accented(), Lang::Es),
        ("20 doses", many_doses(20), Lang::En),
        ("60 doses", many_doses(60), Lang::En),
    ];
    let mut chunked = false;
    for (what, input, lang) in cases {
        let printed = print_and_scan(&key_dir, &input, lang);
        let expected = issuer(key_dir.path()).shc(&input).expect("shc");
        assert_eq!(
            printed.qr.len(),
            expected.len(),
            "{what}: {} QR code(s) read from the page, the card has {}",
            printed.qr.len(),
            expected.len()
        );
        if expected.len() > 1 {
            chunked = true;
            // zbarimg reports the codes of a page in its own order; each chunk once.
            let mut labels: Vec<String> = printed
                .qr
                .iter()
                .map(|q| q.splitn(4, '/').take(3).collect::<Vec<_>>().join("/"))
                .collect();
            labels.sort();
            let want: Vec<String> = (1..=expected.len())
                .map(|i| format!("shc:/{i}/{}", expected.len()))
                .collect();
            assert_eq!(labels, want, "{what}");
        }
        let mut expect = expectation(&input);
        expect["chunks"] = expected.len().into();
        let summary = verify_independently(&printed.qr, &printed.jwks_file, ISS, &expect)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(summary["verified"], true);
        assert_eq!(summary["immunizations"], input.doses.len());
    }
    assert!(chunked, "the 60-dose card should need several QR codes");
}

#[test]
fn the_independent_verifier_refuses_what_it_must() {
    let key_dir = tempfile::tempdir().expect("temp dir");
    let input = one_dose();
    let printed = print_and_scan(&key_dir, &input, Lang::En);
    let expect = expectation(&input);
    assert!(verify_independently(&printed.qr, &printed.jwks_file, ISS, &expect).is_ok());

    // Another issuer's keys.
    let other = tempfile::tempdir().expect("temp dir");
    let other_jwks = other.path().join("jwks.json");
    std::fs::write(&other_jwks, issuer(other.path()).jwks().to_string()).expect("jwks");
    let err = verify_independently(&printed.qr, &other_jwks.display().to_string(), ISS, &expect)
        .expect_err("another issuer's key");
    assert!(err.contains("kid not in"), "{err}");

    // One character of the signed payload changed, the card re-encoded as the spec says.
    let digits = printed.qr[0].strip_prefix("shc:/").expect("shc:/");
    let mut token: Vec<u8> = digits
        .as_bytes()
        .chunks(2)
        .map(|p| (p[0] - b'0') * 10 + (p[1] - b'0') + 45)
        .collect();
    let payload_at = token.iter().position(|c| *c == b'.').expect("a dot") + 20;
    token[payload_at] = if token[payload_at] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = format!(
        "shc:/{}",
        imms_record::shc::numeric(std::str::from_utf8(&token).expect("ascii"))
    );
    let err = verify_independently(&[tampered], &printed.jwks_file, ISS, &expect)
        .expect_err("tampered card");
    assert!(err.contains("signature does not verify"), "{err}");

    // Another person, another issuer URL.
    let mut someone_else = expect.clone();
    someone_else["birthDate"] = "1988-07-15".into();
    assert!(
        verify_independently(&printed.qr, &printed.jwks_file, ISS, &someone_else)
            .expect_err("other birth date")
            .contains("birthDate")
    );
    assert!(verify_independently(
        &printed.qr,
        &printed.jwks_file,
        "https://x.example",
        &expect
    )
    .expect_err("other iss")
    .contains("iss"));

    // A chunked card with a chunk missing.
    let big = print_and_scan(&key_dir, &many_doses(60), Lang::En);
    assert!(big.qr.len() > 1);
    let err = verify_independently(
        &big.qr[1..],
        &big.jwks_file,
        ISS,
        &expectation(&many_doses(60)),
    )
    .expect_err("a chunk missing");
    assert!(err.contains("chunks"), "{err}");
}

#[test]
fn chunks_fit_version_22_and_reassemble() {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = issuer(dir.path());
    for n in [0, 1, 20, 60, 120] {
        let token = jws(&issuer, &many_doses(n), 1_764_000_000).expect("jws");
        let strings = qr_strings(&token);
        if token.len() <= SINGLE_QR_MAX {
            assert_eq!(strings.len(), 1, "{n} doses");
            assert!(strings[0].starts_with("shc:/") && !strings[0][5..].contains('/'));
        } else {
            assert_eq!(strings.len(), token.len().div_ceil(CHUNK_MAX), "{n} doses");
        }
        let mut back = String::new();
        for (i, s) in strings.iter().enumerate() {
            let digits = s.rsplit('/').next().expect("digits");
            if strings.len() > 1 {
                assert!(s.starts_with(&format!("shc:/{}/{}/", i + 1, strings.len())));
            }
            assert!(digits.len() / 2 <= SINGLE_QR_MAX);
            for pair in digits.as_bytes().chunks(2) {
                let v = (pair[0] - b'0') * 10 + (pair[1] - b'0');
                back.push(char::from(v + 45));
            }
            // Every chunk makes a QR code of version 22 at most.
            let qr = imms_record::qr::encode(s).expect("fits version 22");
            assert!(qr.size <= 17 + 4 * 22, "{n} doses: {} modules", qr.size);
        }
        assert_eq!(back, token, "{n} doses");
    }
}
