//! One sample person for the record's bench, its comparison program and its example: `n`
//! doses of five common vaccines, an accented double surname (glyphs beyond ASCII).
//! Included by path (`#[path]`), so each keeps its own dependencies.

use chrono::NaiveDate;
use imms_record::{Dose, DoseSource, PersonName, RecordInput};

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
