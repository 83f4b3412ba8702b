//! Writes a sample record (20 doses, English) to the path given, for looking at by eye:
//! `cargo run -p imms-record --example sample -- record.pdf [es]`.

use chrono::NaiveDate;
use imms_record::{Dose, DoseSource, Issuer, Lang, PersonName, RecordInput};

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

/// A person with `n` doses of five common vaccines.
pub fn sample(n: usize) -> RecordInput {
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
    let start = NaiveDate::from_ymd_opt(1990, 1, 15).unwrap_or_default();
    RecordInput {
        record_id: "1042".into(),
        name: PersonName {
            family: "Whitaker".into(),
            given: vec!["Jordan".into(), "Lee".into()],
            suffix: None,
        },
        birth_date: NaiveDate::from_ymd_opt(1988, 7, 14).unwrap_or_default(),
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
