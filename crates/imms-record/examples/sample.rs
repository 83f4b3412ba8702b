//! Writes a sample record (20 doses, English) to the path given, for looking at by eye:
//! `cargo run -p imms-record --example sample -- record.pdf [es]`.

use chrono::NaiveDate;
use imms_record::{Issuer, Lang};

#[path = "../sample/input.rs"]
mod input;
use input::sample;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: sample OUT.pdf [en|es] [DOSES]")?;
    let lang = args
        .next()
        .and_then(|l| Lang::parse(&l))
        .unwrap_or(Lang::En);
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20);
    let dir = tempfile::tempdir()?;
    let issuer = Issuer::load_or_create(
        dir.path(),
        "State Department of Health",
        "http://127.0.0.1:8080",
    )?;
    let input = sample(n);
    std::fs::write(
        &out,
        issuer.pdf(
            &input,
            lang,
            NaiveDate::from_ymd_opt(2026, 11, 25).ok_or("date")?,
        )?,
    )?;
    Ok(())
}
