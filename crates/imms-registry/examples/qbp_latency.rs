//! QBP Z34 latency with many persons in the store, on SQLite or PostgreSQL.
//!
//! ```text
//! cargo run --release -p imms-registry --example qbp_latency -- sqlite 1000000 1000
//! cargo run --release -p imms-registry --example qbp_latency -- postgres 1000000 1000
//! ```
//! Arguments: engine, persons, queries per kind. PostgreSQL is reached through
//! IMMS_TEST_POSTGRES_URL (a fresh database is created and dropped). The persons come from
//! the VXU generator (the same names, dates and addresses `imms gen vxu` writes), each with
//! two doses, written with multi-row INSERTs in the registry's schema (the rows ingest
//! writes, without going through ingest, so that a million persons load in minutes).
//! Queries go through `exchange::answer`, as every transport's do: parse, look-up,
//! record, RSP. One query at a time; the figure is the answer's latency.

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use imms_core::normalize::normalize_text;
use imms_core::CodeTables;
use imms_db::testing::fresh;
use imms_db::Engine;
use imms_registry::exchange::answer;
use imms_registry::generate::{GeneratedPerson, VxuGenerator};
use imms_registry::ingest::{Authority, Ingestor};
use imms_registry::store::Store;

const FACILITY: &str = "BENCH-CLINIC";
const ROWS_PER_INSERT: usize = 500;

fn qbp(facility: &str, id: usize, qpd: &str) -> String {
    format!(
        "MSH|^~\\&|EHR|{facility}|IMMS|IMMS|20250101120000||QBP^Q11^QBP_Q11|Q{id}|P|2.5.1|||ER|AL|||||Z34^CDCPHINVS\r\
         QPD|Z34^Request Immunization History^CDCPHINVS|T{id}|{qpd}\r\
         RCP|I|1^RD&Records&HL70126|R^real-time^HL70394\r"
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// A value to bind: PostgreSQL wants integers for integer columns.
#[derive(Clone)]
enum V {
    I(i64),
    T(String),
}

impl From<&str> for V {
    fn from(s: &str) -> V {
        V::T(s.to_string())
    }
}

impl From<String> for V {
    fn from(s: String) -> V {
        V::T(s)
    }
}

async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table_and_columns: &str,
    columns: usize,
    rows: &[Vec<V>],
) {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = format!("INSERT INTO {table_and_columns} VALUES ");
        let mut n = 0;
        for (r, _) in chunk.iter().enumerate() {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..columns {
                if c > 0 {
                    sql.push(',');
                }
                n += 1;
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for row in chunk {
            for v in row {
                q = match v {
                    V::I(i) => q.bind(*i),
                    V::T(t) => q.bind(t.clone()),
                };
            }
        }
        q.execute(&mut **tx).await.expect("insert");
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = match args.get(1).map(String::as_str) {
        Some("postgres") => Engine::Postgres,
        _ => Engine::Sqlite,
    };
    let persons: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let per_kind: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let t = fresh(engine).await;
    let db = t.db.clone();
    let today = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let mut gen = VxuGenerator::new(20250101, FACILITY, today);
    let sample_every = (persons / (2 * per_kind)).max(1);
    let mut sample: Vec<(i64, GeneratedPerson)> = Vec::new();
    let now = "2025-01-01T12:00:00.000Z".to_string();
    let started = Instant::now();
    let batch = 20_000;
    let cvx = ["08", "03", "115", "20", "10", "141", "208"];
    let mut id: i64 = 0;
    let mut next_sample = sample_every;
    while (id as usize) < persons {
        let n = batch.min(persons - id as usize);
        let (mut p_rows, mut n_rows, mut i_rows, mut d_rows) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            id += 1;
            let p = gen.person();
            let pid = V::I(id);
            p_rows.push(vec![
                pid.clone(),
                p.birth_date.to_string().into(),
                p.sex.into(),
                now.clone().into(),
                now.clone().into(),
            ]);
            n_rows.push(vec![
                pid.clone(),
                "L".into(),
                p.family.clone().into(),
                p.given.clone().into(),
                p.middle.clone().into(),
                "".into(),
                normalize_text(&p.family).into(),
                normalize_text(&p.given).into(),
            ]);
            i_rows.push(vec![
                FACILITY.into(),
                "MR".into(),
                p.mrn.clone().into(),
                FACILITY.into(),
                pid.clone(),
                now.clone().into(),
            ]);
            for k in 0..2 {
                let date = p.birth_date + chrono::Duration::days(60 + 300 * k as i64);
                d_rows.push(vec![
                    pid.clone(),
                    FACILITY.into(),
                    date.to_string().into(),
                    cvx[(id as usize + k) % cvx.len()].into(),
                    "00".into(),
                    "CP".into(),
                    now.clone().into(),
                    now.clone().into(),
                ]);
            }
            next_sample -= 1;
            if next_sample == 0 {
                next_sample = sample_every;
                sample.push((id, p));
            }
        }
        let mut tx = db.pool().begin().await.unwrap();
        insert_rows(
            &mut tx,
            "persons (id, birth_date, sex, created_at, updated_at)",
            5,
            &p_rows,
        )
        .await;
        insert_rows(&mut tx, "person_names (person_id, name_type, family, given, middle, suffix, family_key, given_key)", 8, &n_rows).await;
        insert_rows(
            &mut tx,
            "person_identifiers (facility_id, id_type, value, authority, person_id, created_at)",
            6,
            &i_rows,
        )
        .await;
        insert_rows(&mut tx, "immunizations (person_id, facility_id, administered_date, cvx, information_source, completion_status, created_at, updated_at)", 8, &d_rows).await;
        tx.commit().await.unwrap();
    }
    if engine == Engine::Postgres {
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('persons', 'id'), (SELECT MAX(id) FROM persons))",
        )
        .execute(db.pool())
        .await
        .ok();
        sqlx::query("ANALYZE").execute(db.pool()).await.unwrap();
    } else {
        sqlx::query("ANALYZE").execute(db.pool()).await.unwrap();
    }
    let load_s = started.elapsed().as_secs_f64();
    let ing = Ingestor::new(
        Store::new(db.clone()),
        Arc::new(CodeTables::embedded()),
        "IMMS",
    );

    let mut kinds: Vec<(&str, Vec<String>, &str, &str)> = Vec::new();
    let d = |p: &GeneratedPerson| p.birth_date.format("%Y%m%d").to_string();
    kinds.push((
        "facility identifier (OK)",
        sample
            .iter()
            .take(per_kind)
            .enumerate()
            .map(|(i, (_, p))| {
                qbp(
                    FACILITY,
                    i,
                    &format!(
                        "{}^^^{FACILITY}^MR|{}^{}^^^^^L||{}|{}",
                        p.mrn,
                        p.family,
                        p.given,
                        d(p),
                        p.sex
                    ),
                )
            })
            .collect(),
        FACILITY,
        "OK",
    ));
    kinds.push((
        "demographics, other facility",
        sample
            .iter()
            .filter(|(_, p)| !p.middle.is_empty())
            .take(per_kind)
            .enumerate()
            .map(|(i, (_, p))| {
                qbp(
                    "OTHER",
                    i,
                    &format!(
                        "|{}^{}^{}^^^^L||{}|{}",
                        p.family,
                        p.given,
                        p.middle,
                        d(p),
                        p.sex
                    ),
                )
            })
            .collect(),
        "OTHER",
        "OK",
    ));
    kinds.push((
        "nobody (NF)",
        (0..per_kind)
            .map(|i| {
                qbp(
                    FACILITY,
                    i,
                    &format!("X{i}^^^{FACILITY}^MR|Nobody{i}^Absent^^^^^L||19990101|F"),
                )
            })
            .collect(),
        FACILITY,
        "NF",
    ));
    println!(
        "engine={} persons={persons} load_s={load_s:.0}",
        engine.name()
    );
    let mut all = Vec::new();
    for (name, queries, facility, _) in &kinds {
        let mut ms = Vec::with_capacity(queries.len());
        let mut statuses = std::collections::BTreeMap::<String, usize>::new();
        for q in queries {
            let t0 = Instant::now();
            let a = answer(&ing, q, Authority::Facility(facility))
                .await
                .unwrap();
            ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            let qak = a
                .text
                .split('\r')
                .find(|s| s.starts_with("QAK|"))
                .and_then(|s| s.split('|').nth(2))
                .unwrap_or("")
                .to_string();
            *statuses.entry(qak).or_default() += 1;
        }
        all.extend_from_slice(&ms);
        ms.sort_by(f64::total_cmp);
        println!(
            "| {} | {name} | {} | {:.2} | {:.2} | {statuses:?} |",
            engine.name(),
            ms.len(),
            percentile(&ms, 0.5),
            percentile(&ms, 0.99)
        );
    }
    all.sort_by(f64::total_cmp);
    println!(
        "| {} | all | {} | {:.2} | {:.2} | |",
        engine.name(),
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    drop(ing);
    t.drop_database().await;
}
