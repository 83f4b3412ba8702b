//! The official record through the real binary, as staff and a verifier get it: a person
//! loaded with `imms hl7 import`, `imms record pdf` and `imms record shc`, the keys fetched
//! from `imms serve` at `/.well-known/jwks.json`, the QR code read from the rasterised page
//! (pdftoppm, zbarimg) and the card verified by an independent implementation (jwcrypto).

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{client, write, Server, Site};
use imms_db::Engine;

/// A VXU with a UTF-8 accented name and `doses` (CVX, date YYYYMMDD, lot).
fn vxu_with_doses(
    facility: &str,
    control_id: &str,
    mrn: &str,
    doses: &[(&str, &str, &str)],
) -> String {
    let mut m = format!(
        "MSH|^~\\&|EHR|{facility}|IMMS|IMMS|20240115083000||VXU^V04^VXU_V04|{control_id}|P|2.5.1|||||||UNICODE UTF-8\r\
         PID|1||{mrn}^^^{facility}^MR||Núñez-Ibáñez^José^María^^^^L||19880714|M|||77 Juniper Way^^Holland^MI^49423^USA^H\r"
    );
    for (i, (cvx, date, lot)) in doses.iter().enumerate() {
        m.push_str(&format!(
            "ORC|RE||{control_id}-{i}^{facility}\r\
             RXA|0|1|{date}||{cvx}^Vaccine^CVX|0.5|mL^mL^UCUM||00^New^NIP001||||||{lot}|20291231|PMC^sanofi pasteur^MVX|||CP|A\r"
        ));
    }
    m
}

fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is needed ({e}): the Debian packages of .ci/apt-packages")
        });
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first page rasterised at 200 dpi, its QR codes read by zbarimg.
fn scan(pdf: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = dir.path().join("page");
    let pdf = pdf.display().to_string();
    let prefix = prefix.display().to_string();
    tool(
        "pdftoppm",
        &["-r", "200", "-png", "-f", "1", "-l", "1", &pdf, &prefix],
    );
    let png = std::fs::read_dir(dir.path())
        .expect("page")
        .filter_map(|e| e.ok())
        .map(|e| e.path().display().to_string())
        .find(|p| p.ends_with(".png"))
        .expect("a page image");
    tool(
        "zbarimg",
        &["--raw", "-q", "-Sdisable", "-Sqrcode.enable", &png],
    )
    .lines()
    .map(str::trim)
    .filter(|l| !l.is_empty())
    .map(str::to_string)
    .collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The independent verifier (crates/imms-record/tests/verify_shc.py) over `qr`, fetching the
/// keys itself from `jwks_url`.
fn verify(
    qr: &[String],
    jwks_url: &str,
    iss: &str,
    expect: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let python = workspace().join(".venv-tools/bin/python");
    assert!(
        python.exists(),
        "{} is missing: scripts/test-all makes it from requirements-test.txt",
        python.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let expect_path = dir.path().join("expect.json");
    std::fs::write(&expect_path, expect.to_string()).expect("expect");
    let mut child = Command::new(python)
        .arg(workspace().join("crates/imms-record/tests/verify_shc.py"))
        .args(["--jwks", jwks_url, "--iss", iss, "--expect"])
        .arg(&expect_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("verifier");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(qr.join("\n").as_bytes())
        .expect("feed");
    let out = child.wait_with_output().expect("verifier");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("summary"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A CLI command with the server's public URL (the card's `iss`).
fn run(site: &Site, public_url: &str, args: &[&str]) -> (i32, String, String) {
    let out = site
        .command()
        .env("IMMS_PUBLIC_URL", public_url)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run imms");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn record_pdf_and_card_verify_independently(engine: Engine) {
    let site = Site::new(engine).await;
    let doses = [
        ("08", "19880715", "HB-0001"),
        ("03", "19890720", "MMR-77A"),
        ("115", "20230305", "TD9921"),
        ("208", "20210402", "FK5127"),
        ("141", "20241001", "FLU-24X"),
    ];
    let file = site.path("person.hl7");
    write(&file, &vxu_with_doses("CLINIC-R", "R-1", "MRN-R1", &doses));
    let (code, out, err) = site.run(&["hl7", "import", file.to_str().expect("path")]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("1 accepted, 0 rejected"), "{out}");

    let server = Server::start_public(&site, &[]);
    let public = server.base.trim_end_matches('/').to_string();
    let jwks_url = server.url("/.well-known/jwks.json");

    // The published keys, as any verifier's browser fetches them.
    let r = client()
        .get(&jwks_url)
        .header("origin", "https://verifier.example")
        .send()
        .await
        .expect("jwks");
    assert_eq!(r.status(), 200);
    assert!(r
        .headers()
        .get("access-control-allow-origin")
        .is_some_and(|v| v == "*" || v == "https://verifier.example"));
    let jwks: serde_json::Value =
        serde_json::from_str(&r.text().await.expect("jwks body")).expect("jwks JSON");
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["use"], &key["alg"]),
        (
            &"EC".into(),
            &"P-256".into(),
            &"sig".into(),
            &"ES256".into()
        )
    );
    assert!(key.get("d").is_none());

    let expect = serde_json::json!({
        "family": "Núñez-Ibáñez",
        "given": ["José", "María"],
        "birthDate": "1988-07-14",
        "doses": doses.iter().map(|(cvx, date, lot)| serde_json::json!({
            "cvx": cvx,
            "date": format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..]),
            "lot": lot,
        })).collect::<Vec<_>>(),
        "chunks": 1,
    });

    // The PDF staff print: its QR code, read from the page, verifies.
    let pdf = site.path("record.pdf");
    let pdf_arg = pdf.display().to_string();
    let (code, out, err) = run(
        &site,
        &public,
        &[
            "record",
            "pdf",
            "--mrn",
            "CLINIC-R:MRN-R1",
            "--out",
            &pdf_arg,
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.starts_with("wrote "), "{out}");
    for (what, text) in [("stdout", &out), ("stderr", &err)] {
        assert!(
            !text.contains("Núñez") && !text.contains("19880714"),
            "the {what} of `record pdf` shows personal data: {text}"
        );
    }
    let text = tool("pdftotext", &["-layout", &pdf_arg, "-"]);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "Official Immunization Record",
        "José María Núñez-Ibáñez",
        "Jul 14, 1988",
        "HB-0001",
        "FLU-24X",
        "Page 1 of 1",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let qr = scan(&pdf);
    assert_eq!(qr.len(), 1, "{qr:?}");
    let summary = verify(&qr, &jwks_url, &public, &expect).expect("the printed card verifies");
    assert_eq!(summary["immunizations"], 5);
    let kid = summary["kid"].clone();
    assert_eq!(kid, key["kid"]);

    // `imms record shc`: the same card as text, signed with the same key the server publishes.
    let (code, out, err) = run(
        &site,
        &public,
        &["record", "shc", "--mrn", "CLINIC-R:MRN-R1"],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("shc:/"));
    let summary = verify(&lines, &jwks_url, &public, &expect).expect("the printed card verifies");
    assert_eq!(summary["kid"], kid);

    // The verifier is not a rubber stamp: another person's expectations fail.
    let mut other = expect.clone();
    other["doses"][0]["cvx"] = "09".into();
    assert!(verify(&lines, &jwks_url, &public, &other)
        .expect_err("a different dose")
        .contains("dose"));

    // In Spanish.
    let es = site.path("registro.pdf");
    let es_arg = es.display().to_string();
    let (code, _, err) = run(
        &site,
        &public,
        &[
            "record",
            "pdf",
            "--mrn",
            "CLINIC-R:MRN-R1",
            "--out",
            &es_arg,
            "--lang",
            "es",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let text = tool("pdftotext", &["-layout", &es_arg, "-"]);
    assert!(text.contains("Registro Oficial de Vacunación"), "{text}");

    // Nobody by that number: its own exit status, no file.
    let nobody = site.path("nobody.pdf");
    let (code, _, err) = run(
        &site,
        &public,
        &[
            "record",
            "pdf",
            "--mrn",
            "CLINIC-R:NOBODY",
            "--out",
            &nobody.display().to_string(),
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(!nobody.exists());
    let (code, _, _) = run(&site, &public, &["record", "shc", "--mrn", "no-colon"]);
    assert_ne!(code, 0);

    drop(server);
    site.remove().await;
}

#[tokio::test]
async fn record_pdf_and_card_verify_independently_sqlite() {
    record_pdf_and_card_verify_independently(Engine::Sqlite).await;
}

#[tokio::test]
async fn record_pdf_and_card_verify_independently_postgres() {
    record_pdf_and_card_verify_independently(Engine::Postgres).await;
}
