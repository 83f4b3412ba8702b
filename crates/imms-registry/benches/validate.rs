//! Parse + VXU validation of generated messages on one core (the per-message cost of the
//! ingest path before the database).

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use imms_core::CodeTables;
use imms_registry::generate::VxuGenerator;
use imms_registry::ingest::validate;

fn bench(c: &mut Criterion) {
    let mut g = VxuGenerator::new(7, "CLINIC", NaiveDate::from_ymd_opt(2026, 1, 15).unwrap());
    let msgs: Vec<String> = (0..200).map(|_| g.next_message()).collect();
    let bytes: usize = msgs.iter().map(String::len).sum();
    let codes = CodeTables::embedded();
    let mut group = c.benchmark_group("vxu");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse+validate 200 messages", |b| {
        b.iter(|| {
            for m in &msgs {
                std::hint::black_box(validate(&codes, m));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
