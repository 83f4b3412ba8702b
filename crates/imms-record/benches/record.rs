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
use imms_record::{Issuer, Lang};

#[path = "../sample/input.rs"]
mod input;
use input::sample;

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
