//! The official record's costs: a 20-dose record with its SMART Health Card QR code (card,
//! QR code, layout, tagged PDF), and the card alone (FHIR bundle, DEFLATE, ES256, `shc:/`).
//!
//!     taskset -c 0 cargo bench -p imms-record --bench record
//!
//! The same record beside printpdf, with CPU times, in one run: the program in `compare/`
//! (docs/benchmarks.md, "Record").

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use imms_record::{Dose, DoseSource, Issuer, Lang, PersonName, RecordInput};

fn sample(n: usize) -> RecordInput {
    let kinds = [
        (
            "141",
            "Influenza, seasonal, injectable",
            "FLU",
            "SKB",
            "GlaxoSmithKline",
        ),
        (
            "08",
            "Hep B, adolescent or pediatric",
            "HepB",
            "MSD",
            "Merck and Co., Inc.",
        ),
        ("03", "MMR", "MMR", "MSD", "Merck and Co., Inc."),
        (
            "208",
            "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose",
            "COVID-19",
            "PFR",
            "Pfizer, Inc",
        ),
        ("115", "Tdap", "DTAP", "PMC", "sanofi pasteur"),
    ];
    let start = NaiveDate::from_ymd_opt(1990, 1, 15).expect("date");
    RecordInput {
        record_id: "1042".into(),
        name: PersonName {
            family: "Núñez-Whitaker".into(),
            given: vec!["José".into(), "Lee".into()],
            suffix: None,
        },
        birth_date: NaiveDate::from_ymd_opt(1988, 7, 14).expect("date"),
        doses: (0..n)
            .map(|i| {
                let (cvx, vaccine, group, mvx, maker) = kinds[i % kinds.len()];
                Dose {
                    cvx: cvx.into(),
                    vaccine: vaccine.into(),
                    groups: vec![group.into()],
                    date: start + chrono::Days::new(97 * i as u64),
                    dose_number: Some((i / kinds.len()) as u32 + 1),
                    mvx: Some(mvx.into()),
                    manufacturer: Some(maker.into()),
                    lot: Some(format!("L{:05}", 31 * i + 7)),
                    facility: "Riverside Family Clinic".into(),
                    source: if i % 4 == 3 {
                        DoseSource::Historical
                    } else {
                        DoseSource::Administered
                    },
                }
            })
            .collect(),
        refusals: vec![],
        immunities: vec![],
    }
}

fn record(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = Issuer::load_or_create(
        dir.path(),
        "State Department of Health",
        "https://imms.example.gov",
    )
    .expect("issuer");
    let input = sample(20);
    let today = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
    let pdf = issuer.pdf(&input, Lang::En, today).expect("pdf");
    let card = issuer.shc(&input).expect("card");
    println!(
        "20 doses: PDF {:.1} KB, card {} QR code(s), {} characters",
        pdf.len() as f64 / 1024.0,
        card.len(),
        card.iter().map(String::len).sum::<usize>()
    );
    c.bench_function("record pdf, 20 doses with QR", |b| {
        b.iter(|| issuer.pdf(black_box(&input), Lang::En, today).expect("pdf"))
    });
    c.bench_function("smart health card build + sign, 20 doses", |b| {
        b.iter(|| issuer.shc(black_box(&input)).expect("card"))
    });
}

criterion_group!(benches, record);
criterion_main!(benches);
