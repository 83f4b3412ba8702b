//! Persons of several shapes, and the Debian tools the tests read PDFs with.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use imms_record::{Dose, DoseSource, Immunity, PersonName, RecordInput, Refusal};

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

pub fn person(given: &[&str], family: &str) -> RecordInput {
    RecordInput {
        record_id: "1042".into(),
        name: PersonName {
            family: family.into(),
            given: given.iter().map(|g| g.to_string()).collect(),
            suffix: None,
        },
        birth_date: date("1988-07-14"),
        doses: vec![],
        refusals: vec![],
        immunities: vec![],
    }
}

pub fn dose(cvx: &str, vaccine: &str, group: &str, on: &str) -> Dose {
    Dose {
        cvx: cvx.into(),
        vaccine: vaccine.into(),
        groups: vec![group.into()],
        date: date(on),
        dose_number: None,
        mvx: Some("PFR".into()),
        manufacturer: Some("Pfizer, Inc".into()),
        lot: Some("LOT-7731".into()),
        facility: "Riverside Family Clinic".into(),
        source: DoseSource::Administered,
    }
}

pub fn one_dose() -> RecordInput {
    let mut p = person(&["Ana"], "Torres");
    let mut d = dose("115", "Tdap", "DTAP", "2023-03-05");
    d.dose_number = Some(1);
    d.manufacturer = Some("Sanofi Pasteur".into());
    d.lot = Some("TD9921".into());
    p.doses.push(d);
    p
}

/// `n` doses over the years, of several vaccine groups.
pub fn many_doses(n: usize) -> RecordInput {
    let mut p = person(&["Jordan", "Lee"], "Whitaker");
    let kinds = [
        ("141", "Influenza, seasonal, injectable", "FLU"),
        ("08", "Hep B, adolescent or pediatric", "HepB"),
        ("03", "MMR", "MMR"),
        (
            "208",
            "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose",
            "COVID-19",
        ),
        ("115", "Tdap", "DTAP"),
    ];
    for i in 0..n {
        let (cvx, name, group) = kinds[i % kinds.len()];
        let day = date("1990-01-15") + chrono::Days::new(97 * i as u64);
        let mut d = dose(cvx, name, group, &day.format("%Y-%m-%d").to_string());
        d.dose_number = Some((i / kinds.len()) as u32 + 1);
        d.lot = Some(format!("L{:05}", 31 * i + 7));
        if i % 4 == 3 {
            d.source = DoseSource::Historical;
        }
        p.doses.push(d);
    }
    p
}

pub fn with_refusal_and_immunity() -> RecordInput {
    let mut p = one_dose();
    p.refusals.push(Refusal {
        cvx: "62".into(),
        vaccine: "HPV, quadrivalent".into(),
        group: "HPV".into(),
        date: date("2019-10-02"),
        facility: "Lakeside Pediatrics".into(),
    });
    p.immunities.push(Immunity {
        description: "History of varicella infection".into(),
        date: Some(date("1995-04-20")),
        facility: "Lakeside Pediatrics".into(),
    });
    p
}

/// Runs a Debian tool (poppler-utils, zbar-tools) and returns its stdout.
pub fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{program} is needed for this test ({e}); install the Debian packages listed in \
             .ci/apt-packages (scripts/test-all does)"
            )
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn pdftotext(pdf: &Path) -> String {
    tool("pdftotext", &["-layout", &pdf.display().to_string(), "-"])
}

/// pdftotext in reading order (no layout), lines joined: what a screen reader would follow.
pub fn pdftotext_raw(pdf: &Path) -> String {
    tool("pdftotext", &[&pdf.display().to_string(), "-"])
}

/// The QR codes of a PDF as a phone would see them on paper: the first page (where the record
/// prints the card, beside or under its header) rasterised at 200 dpi by pdftoppm, the codes
/// read by zbarimg; their contents, in the order zbarimg reports them.
pub fn qr_contents_of_pdf(pdf: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = dir.path().join("page");
    tool(
        "pdftoppm",
        &[
            "-r",
            "200",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            &pdf.display().to_string(),
            &prefix.display().to_string(),
        ],
    );
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .expect("pages")
        .filter_map(|e| e.ok())
        .map(|e| e.path().display().to_string())
        .filter(|p| p.ends_with(".png"))
        .collect();
    pages.sort();
    assert!(!pages.is_empty(), "pdftoppm made no page image");
    let mut args = vec!["--raw", "-q", "-Sdisable", "-Sqrcode.enable"];
    args.extend(pages.iter().map(String::as_str));
    // zbarimg exits 4 when a page has no code; the pages with one still print.
    let out = Command::new("zbarimg")
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("zbarimg (zbar-tools) is needed for this test ({e})"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The project's Python for test tools (scripts/test-all makes `.venv-tools` from
/// requirements-test.txt at the workspace root).
pub fn venv_python() -> std::path::PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-tools/bin/python");
    assert!(
        python.exists(),
        "{} is missing: scripts/test-all makes it from requirements-test.txt",
        python.display()
    );
    python
}

/// The independent verifier (tests/verify_shc.py, jwcrypto) over `qr` (the QR contents):
/// `Ok(summary JSON)` when it verifies, `Err(why)` when it does not.
pub fn verify_independently(
    qr: &[String],
    jwks: &str,
    iss: &str,
    expect: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let expect_path = dir.path().join("expect.json");
    std::fs::write(&expect_path, expect.to_string()).expect("write expect");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_shc.py");
    let mut child = Command::new(venv_python())
        .arg(&script)
        .args(["--jwks", jwks, "--iss", iss, "--expect"])
        .arg(&expect_path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the verifier");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(qr.join("\n").as_bytes())
        .expect("feed the verifier");
    let out = child.wait_with_output().expect("verifier");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("summary JSON"))
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// What the verifier must find in the card of `input`.
pub fn expectation(input: &RecordInput) -> serde_json::Value {
    serde_json::json!({
        "family": input.name.family,
        "given": input.name.given,
        "birthDate": input.birth_date.format("%Y-%m-%d").to_string(),
        "doses": input.doses.iter().map(|d| serde_json::json!({
            "cvx": d.cvx,
            "date": d.date.format("%Y-%m-%d").to_string(),
            "lot": d.lot,
            "performer": Some(d.facility.trim()).filter(|f| !f.is_empty()),
        })).collect::<Vec<_>>(),
    })
}
