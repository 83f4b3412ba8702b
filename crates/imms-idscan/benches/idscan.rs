//! Criterion benchmarks: the two parsers, image intake and a whole scan of a 12-megapixel
//! photo. `cargo bench -p imms-idscan --features testgen`.

use std::time::Duration;

use chrono::NaiveDate;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use imms_idscan::testgen::{photo, AamvaCard, Degradation, Passport};
use imms_idscan::{intake, parse_aamva, parse_td3, scan, Limits};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn parsers(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let payload = AamvaCard::random(&mut rng).payload();
    c.bench_function("parse_aamva", |b| {
        b.iter(|| parse_aamva(black_box(payload.as_bytes())))
    });
    let (l1, l2) = Passport::random(&mut rng).lines();
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    c.bench_function("parse_td3", |b| {
        b.iter(|| parse_td3(black_box(&l1), black_box(&l2), today))
    });
}

fn photos(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(12);
    let card = AamvaCard::random(&mut rng);
    // A 12-megapixel phone photo, mildly tilted, JPEG quality 85.
    let d = Degradation {
        angle_deg: 4.0,
        perspective: 0.02,
        noise: 5.0,
        light: 0.8,
        jpeg_quality: 85,
        colour: true,
        ..Degradation::clean(4000)
    };
    let bytes = photo::photo_of_symbol(&photo::pdf417_symbol(&card.payload()), &d, &mut rng);
    let limits = Limits::default();
    assert_eq!(scan(&bytes, &limits), Ok(card.expected()));
    let mut g = c.benchmark_group("12mp");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("header_dimensions", |b| {
        b.iter(|| intake::dimensions(black_box(&bytes), &limits))
    });
    g.bench_function("decode_gray", |b| {
        b.iter(|| intake::decode_gray(black_box(&bytes), &limits))
    });
    g.bench_function("scan", |b| b.iter(|| scan(black_box(&bytes), &limits)));
    g.finish();
}

criterion_group!(benches, parsers, photos);
criterion_main!(benches);
