//! The person-matching evaluation through the real binary: `imms gen persons`, then
//! `imms match run` and `imms match eval`, on small synthetic registries with the documented
//! error rates and with noisier and cleaner ones; hostile query rows; both engines.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{Site, BIN};
use imms_db::Engine;

fn imms(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .output()
        .expect("run imms");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn gen(dir: &Path, count: usize, queries: usize, seed: u64, noise: f64) {
    let (code, out, err) = imms(&[
        "gen",
        "persons",
        "--count",
        &count.to_string(),
        "--queries",
        &queries.to_string(),
        "--seed",
        &seed.to_string(),
        "--noise",
        &noise.to_string(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out} {err}");
    for f in ["persons.csv", "queries.csv", "truth.csv"] {
        assert!(dir.join(f).exists(), "{f}");
    }
}

/// `key=value` pairs of one output line.
fn fields(line: &str) -> HashMap<String, String> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn eval(dir: &Path) -> (HashMap<String, String>, String) {
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let (code, out, err) = imms(&[
        "match",
        "eval",
        "--persons",
        &p("persons.csv"),
        "--queries",
        &p("queries.csv"),
        "--truth",
        &p("truth.csv"),
    ]);
    assert_eq!(code, 0, "{out} {err}");
    let summary = out
        .lines()
        .find(|l| l.starts_with("precision="))
        .unwrap_or_else(|| panic!("no summary: {out}"));
    let mut f = fields(summary);
    let hard = out
        .lines()
        .find(|l| l.starts_with("wrong_person_twin_jrsr_lookalike="))
        .unwrap_or_else(|| panic!("no hard-case line: {out}"));
    f.extend(fields(hard));
    (f, out)
}

fn number(f: &HashMap<String, String>, k: &str) -> f64 {
    f.get(k)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{k} missing: {f:?}"))
}

/// The person's row of the per-kind table: (queries, answered, correct, wrong).
fn kind_row(table: &str, kind: &str) -> Option<(usize, usize, usize, usize)> {
    table.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        (cols.first() == Some(&kind) && cols.len() >= 5).then(|| {
            (
                cols[1].parse().unwrap(),
                cols[2].parse().unwrap(),
                cols[3].parse().unwrap(),
                cols[4].parse().unwrap(),
            )
        })
    })
}

#[test]
fn the_engine_finds_people_and_never_the_wrong_twin_junior_or_look_alike() {
    // The documented error rates, then twice as many errors, then half: the defaults must
    // hold on data they were not chosen on.
    for (seed, noise, recall_floor) in [(11, 1.0, 0.90), (12, 2.0, 0.74), (13, 0.5, 0.93)] {
        let dir = tempfile::tempdir().unwrap();
        gen(dir.path(), 4000, 600, seed, noise);
        let (f, table) = eval(dir.path());
        assert_eq!(
            number(&f, "wrong_person_twin_jrsr_lookalike"),
            0.0,
            "noise {noise}: {table}"
        );
        assert!(number(&f, "precision") >= 0.995, "noise {noise}: {table}");
        assert!(
            number(&f, "recall") >= recall_floor,
            "noise {noise}: {table}"
        );
        // The hard cases were really asked, and the twins and juniors were found too.
        for kind in ["twin", "jr-sr", "look-alike", "clean"] {
            let (queries, ..) =
                kind_row(&table, kind).unwrap_or_else(|| panic!("no {kind} queries: {table}"));
            assert!(queries > 0, "{kind}: {table}");
        }
        let (twins, _, found, _) = kind_row(&table, "twin").unwrap();
        assert!(found * 10 >= twins * 7, "twins found: {table}");
        let (look_alikes, answered, ..) = kind_row(&table, "look-alike").unwrap();
        assert!(look_alikes > 0 && answered == 0, "{table}");
    }
}

#[test]
fn run_writes_one_answer_per_query_and_the_timing_line() {
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), 1500, 100, 5, 1.0);
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let (code, out, err) = imms(&[
        "match",
        "run",
        "--persons",
        &p("persons.csv"),
        "--queries",
        &p("queries.csv"),
        "--out",
        &p("results.csv"),
    ]);
    assert_eq!(code, 0, "{out} {err}");
    let last = fields(out.lines().last().unwrap());
    assert_eq!(last["queries"], "100", "{out}");
    assert!(number(&last, "matched") > 50.0, "{out}");
    assert!(
        number(&last, "median_ms") > 0.0 && number(&last, "p99_ms") >= number(&last, "median_ms")
    );
    let results = std::fs::read_to_string(p("results.csv")).unwrap();
    let mut lines = results.lines();
    assert_eq!(lines.next(), Some("query_id,person_id,score"));
    assert_eq!(lines.count(), 100);
    // The same answers scored from the file by eval --results.
    let (code, out, _) = imms(&[
        "match",
        "eval",
        "--persons",
        &p("persons.csv"),
        "--queries",
        &p("queries.csv"),
        "--truth",
        &p("truth.csv"),
        "--results",
        &p("results.csv"),
    ]);
    assert_eq!(code, 0);
    let f = fields(out.lines().find(|l| l.starts_with("precision=")).unwrap());
    assert_eq!(f["answered"], last["matched"], "{out}");
}

#[test]
fn a_loaded_database_answers_again_without_loading() {
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), 800, 60, 8, 1.0);
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let url = format!("sqlite://{}", p("kept.db"));
    let run = |out: &str, extra: &[&str]| {
        let (persons, queries, out) = (p("persons.csv"), p("queries.csv"), p(out));
        let mut args = vec![
            "match",
            "run",
            "--persons",
            &persons,
            "--queries",
            &queries,
            "--database",
            &url,
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        imms(&args)
    };
    let (code, out, err) = run("first.csv", &[]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(err.contains("load_s="), "{err}");
    let (code, out, err) = run("again.csv", &["--loaded"]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        !err.contains("load_s="),
        "nothing loaded the second time: {err}"
    );
    let first = std::fs::read_to_string(p("first.csv")).unwrap();
    assert!(
        first.lines().filter(|l| !l.ends_with(",,")).count() > 30,
        "{first}"
    );
    assert_eq!(first, std::fs::read_to_string(p("again.csv")).unwrap());

    // Another persons file is not what the database holds.
    let other = tempfile::tempdir().unwrap();
    gen(other.path(), 500, 10, 9, 1.0);
    let (code, out, err) = imms(&[
        "match",
        "run",
        "--persons",
        other.path().join("persons.csv").to_str().unwrap(),
        "--queries",
        &p("queries.csv"),
        "--database",
        &url,
        "--loaded",
        "--out",
        &p("wrong.csv"),
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("not the 500"), "{err}");
}

#[test]
fn hostile_queries_get_no_match_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let persons = dir.path().join("persons.csv");
    std::fs::write(
        &persons,
        "person_id,given_name,middle_name,family_name,suffix,birth_date,sex,street,city,state,postal_code\n\
         P1,Rosalind,Mae,Quintero,,1980-04-12,F,417 Larkspur Ln,Lansing,MI,48933\n\
         P2,Rosalind,,Quintero,,1980-04-12,F,12 Oak St,Detroit,MI,48201\n\
         P3,Tobias,Lee,Okafor,,1975-11-30,M,9 Elm St,Flint,MI,48502\n\
         P4,bad,,date,,0000-00-00,F,,,,\n",
    )
    .unwrap();
    let long = "x".repeat(10_000);
    let mut queries = String::from(
        "query_id,given_name,middle_name,family_name,suffix,birth_date,sex,street,city,state,postal_code\n",
    );
    queries.push_str(&format!(
        "H1,{long},,Okafor,,1975-11-30,M,9 Elm St,Flint,MI,48502\n"
    ));
    queries.push_str("H2,Tob\u{7}ias,Lee,Okafor,,1975-11-30,M,9 Elm St,Flint,MI,48502\n");
    queries.push_str("H3,Tobias,Lee,Okafor,,0000-00-00,M,9 Elm St,Flint,MI,48502\n");
    queries.push_str("H4,,,Okafor,,,,,,,\n");
    queries.push_str("H5,,,,,,,,,,\n");
    queries.push_str("H6,Tobias\n");
    queries.push_str("H7,Tobias,Lee,Okafor,,1975-02-30,M,9 Elm St,Flint,MI,48502\n");
    queries.push_str("H8,Tobias,Lee,Okafor,,9999-12-31,M,9 Elm St,Flint,MI,48502\n");
    // Two Rosalind Quinteros born the same day, and nothing that tells them apart.
    queries.push_str("H9,Rosalind,,Quintero,,1980-04-12,F,,,,\n");
    // A fair query: the one answer that must be found.
    queries.push_str("OK,Tobias,L,Okafor,,1975-11-30,M,9 Elm Street,Flint,MI,48502\n");
    let mut bytes = queries.into_bytes();
    bytes.extend_from_slice(b"H10,\xff\xfe,,Okafor,,1975-11-30,M,,,,\n");
    let qpath = dir.path().join("queries.csv");
    std::fs::write(&qpath, bytes).unwrap();
    let out_path = dir.path().join("results.csv");
    let (code, out, err) = imms(&[
        "match",
        "run",
        "--persons",
        persons.to_str().unwrap(),
        "--queries",
        qpath.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("1 person rows without a readable date of birth"),
        "{err}"
    );
    let last = fields(out.lines().last().unwrap());
    assert_eq!(last["queries"], "11", "{out}");
    assert_eq!(last["matched"], "1", "{out}");
    let results = std::fs::read_to_string(&out_path).unwrap();
    for line in results.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        if cols[0] == "OK" {
            assert_eq!(cols[1], "P3", "{results}");
        } else {
            assert_eq!(cols[1], "", "{line}");
        }
    }
}

#[tokio::test]
async fn postgres_gives_the_same_answers_as_sqlite() {
    let site = Site::new(Engine::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), 1500, 150, 21, 1.0);
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let run = |extra: &[&str], out: &str| {
        let mut args = vec![
            "match".to_string(),
            "run".into(),
            "--persons".into(),
            p("persons.csv"),
            "--queries".into(),
            p("queries.csv"),
            "--out".into(),
            p(out),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = imms(&args);
        assert_eq!(code, 0, "{out} {err}");
    };
    run(&[], "sqlite.csv");
    run(&["--database", &site.database_url], "postgres.csv");
    let a = std::fs::read_to_string(p("sqlite.csv")).unwrap();
    let b = std::fs::read_to_string(p("postgres.csv")).unwrap();
    assert_eq!(a, b);
    assert!(a.lines().filter(|l| !l.ends_with(",,")).count() > 100);
    // Training on the loaded registry stores parameters that later matchers read.
    let (code, out, err) = site.run(&["match", "train", "--sample", "1000", "--margin", "9"]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("trained on 1000 persons"), "{out}");
    assert!(out.contains("margin=9"), "{out}");
    site.remove().await;
}
