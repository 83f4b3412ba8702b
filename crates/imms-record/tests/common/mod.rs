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
