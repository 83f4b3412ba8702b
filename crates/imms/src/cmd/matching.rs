//! `imms gen persons`, `imms match run|eval|train`: the person-matching engine on files, so
//! that anyone can rerun its evaluation (docs/matching.md; CSV formats in INTERFACE.md).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};
use imms_core::{Address, NameType, Person, PersonName, Sex};
use imms_db::Database;
use imms_match::synth::{Generator, Noise, Record};
use imms_match::{Decision, Query, QueryAddress, Thresholds};
use imms_registry::matching::{self, Matcher};
use imms_registry::store::bulk_load::BulkLoad;
use imms_registry::store::match_keys::{self, Settings};
use imms_registry::store::Store;
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::App;
use crate::config::Config;

/// The facility the loaded persons' addresses are credited to.
const LOAD_FACILITY: &str = "MATCH-EVAL";
/// Persons per transaction while loading.
const TX_PERSONS: usize = 50_000;

const COLUMNS: [&str; 11] = [
    "given_name",
    "middle_name",
    "family_name",
    "suffix",
    "birth_date",
    "sex",
    "street",
    "city",
    "state",
    "postal_code",
    "",
];

#[derive(Subcommand)]
pub enum MatchCommand {
    /// Load persons into a fresh store of its own, answer every query, write the answers.
    Run {
        #[command(flatten)]
        files: Files,
        /// R.csv: query_id,person_id,score (person_id empty: no unique confident match).
        #[arg(long)]
        out: PathBuf,
    },
    /// Run, then compare the answers with the truth: precision, recall, wrong-person
    /// answers, by error kind.
    Eval {
        #[command(flatten)]
        files: Files,
        /// T.csv: query_id,person_id[,kind].
        #[arg(long)]
        truth: PathBuf,
        /// Score these answers (R.csv of another run or engine) instead of running.
        #[arg(long)]
        results: Option<PathBuf>,
    },
    /// Estimate m and u from the registry's persons (EM) and store them, with thresholds.
    Train {
        /// Persons sampled.
        #[arg(long, default_value_t = 20_000)]
        sample: usize,
        #[command(flatten)]
        thresholds: ThresholdArgs,
    },
}

#[derive(Args)]
pub struct Files {
    /// P.csv: person_id,given_name,middle_name,family_name,suffix,birth_date,sex,street,city,state,postal_code
    #[arg(long)]
    persons: PathBuf,
    /// Q.csv: query_id and the same columns.
    #[arg(long)]
    queries: PathBuf,
    /// Load into this database (sqlite://… or postgres://…, empty) instead of a temporary
    /// SQLite file.
    #[arg(long)]
    database: Option<String>,
    /// The --database already holds these persons, loaded by an earlier run into it when it
    /// was empty: answer the queries only (a 40-minute load saved at 10,000,000 persons).
    #[arg(long, requires = "database")]
    loaded: bool,
    #[command(flatten)]
    thresholds: ThresholdArgs,
}

/// Decision thresholds in bits; unset ones keep their defaults (docs/matching.md).
#[derive(Args, Clone, Copy)]
pub struct ThresholdArgs {
    #[arg(long)]
    match_weight: Option<f64>,
    #[arg(long)]
    margin: Option<f64>,
    #[arg(long)]
    review_weight: Option<f64>,
    /// Never answer on name, birth date and sex alone: require a middle name, street or
    /// ZIP to agree too, however rare the name.
    #[arg(long)]
    require_corroboration: Option<bool>,
    /// The score a match on name, birth date and sex alone must reach.
    #[arg(long)]
    uncorroborated_weight: Option<f64>,
}

impl ThresholdArgs {
    fn apply(&self, mut t: Thresholds) -> Thresholds {
        if let Some(v) = self.match_weight {
            t.match_weight = v;
        }
        if let Some(v) = self.margin {
            t.margin = v;
        }
        if let Some(v) = self.review_weight {
            t.review_weight = v;
        }
        if let Some(v) = self.require_corroboration {
            t.require_corroboration = v;
        }
        if let Some(v) = self.uncorroborated_weight {
            t.uncorroborated_weight = v;
        }
        t
    }
}

pub async fn run(config: Config, command: MatchCommand) -> anyhow::Result<std::process::ExitCode> {
    match command {
        MatchCommand::Run { files, out } => {
            let stats = run_files(&files, &out).await?;
            println!("{}", stats.line());
        }
        MatchCommand::Eval {
            files,
            truth,
            results,
        } => {
            let tmp = tempfile::tempdir()?;
            let results = match results {
                Some(r) => r,
                None => {
                    let out = tmp.path().join("results.csv");
                    let stats = run_files(&files, &out).await?;
                    println!("{}", stats.line());
                    out
                }
            };
            let report = evaluate(&truth, &results)?;
            print!("{}", report.table());
        }
        MatchCommand::Train { sample, thresholds } => {
            let app = App::open(config).await?;
            let store = app.store();
            let mut conn = store.database().pool().acquire().await?;
            let current = match_keys::load_settings(&mut conn).await?;
            drop(conn);
            let trained = matching::train(store, sample, Utc::now()).await?;
            let t = thresholds.apply(current.thresholds);
            if t != trained.settings.thresholds {
                let mut conn = store.database().pool().acquire().await?;
                let settings = Settings {
                    thresholds: t,
                    ..trained.settings.clone()
                };
                match_keys::save_settings(&mut conn, &settings, Utc::now()).await?;
            }
            println!(
                "trained on {} persons: {} random pairs (u), {} blocked pairs (m by EM: {})",
                trained.persons,
                trained.random_pairs,
                trained.blocked_pairs,
                if trained.m_from_em {
                    "kept"
                } else {
                    "refused, defaults kept"
                }
            );
            println!(
                "thresholds: match_weight={} margin={} review_weight={} uncorroborated_weight={} require_corroboration={}",
                t.match_weight, t.margin, t.review_weight, t.uncorroborated_weight, t.require_corroboration
            );
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `imms gen persons`: persons.csv, queries.csv and truth.csv in `out`.
pub fn gen_persons(
    count: usize,
    queries: usize,
    out: &Path,
    seed: u64,
    noise: f64,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut generator = Generator::new(seed, count, queries, Noise::scaled(noise));
    let mut persons = writer(&out.join("persons.csv"), "person_id")?;
    let bar = ProgressBar::new(count as u64);
    while let Some(p) = generator.next_person() {
        write_record(&mut persons, &p)?;
        bar.inc(1);
    }
    persons.flush()?;
    bar.finish_and_clear();
    let mut q = writer(&out.join("queries.csv"), "query_id")?;
    let mut t = csv::Writer::from_path(out.join("truth.csv"))?;
    t.write_record(["query_id", "person_id", "kind"])?;
    let made = generator.queries();
    for (query, truth) in &made {
        write_record(&mut q, query)?;
        t.write_record([
            truth.query_id.as_str(),
            truth.person_id.as_deref().unwrap_or(""),
            truth.kind.as_str(),
        ])?;
    }
    q.flush()?;
    t.flush()?;
    println!(
        "wrote {count} persons, {} queries and their truth to {}",
        made.len(),
        out.display()
    );
    Ok(())
}

fn writer(path: &Path, id: &str) -> anyhow::Result<csv::Writer<std::fs::File>> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    let mut header = vec![id];
    header.extend(&COLUMNS[..10]);
    w.write_record(&header)?;
    Ok(w)
}

fn write_record(w: &mut csv::Writer<std::fs::File>, r: &Record) -> anyhow::Result<()> {
    w.write_record([
        &r.id,
        &r.given,
        &r.middle,
        &r.family,
        &r.suffix,
        &r.birth_date,
        &r.sex,
        &r.street,
        &r.city,
        &r.state,
        &r.postal_code,
    ])?;
    Ok(())
}

/// Reads a persons or queries file: rows of 11 fields (missing ones empty, invalid UTF-8
/// replaced), the header skipped. Never fails on content, only on an unreadable file.
fn read_rows(path: &Path) -> anyhow::Result<impl Iterator<Item = Result<Record, csv::Error>>> {
    let reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(reader.into_byte_records().map(|row| {
        row.map(|r| {
            let f = |i: usize| {
                r.get(i)
                    .map(|b| String::from_utf8_lossy(b).trim().to_string())
                    .unwrap_or_default()
            };
            Record {
                id: f(0),
                given: f(1),
                middle: f(2),
                family: f(3),
                suffix: f(4),
                birth_date: f(5),
                sex: f(6),
                street: f(7),
                city: f(8),
                state: f(9),
                postal_code: f(10),
            }
        })
    }))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
        .ok()
}

fn to_person(r: &Record) -> Option<Person> {
    let birth_date = parse_date(&r.birth_date)?;
    let addresses = if r.street.is_empty() && r.city.is_empty() && r.postal_code.is_empty() {
        Vec::new()
    } else {
        vec![Address {
            street: r.street.clone(),
            city: r.city.clone(),
            state: r.state.clone(),
            postal_code: r.postal_code.clone(),
            country: "USA".into(),
            address_type: "H".into(),
            ..Default::default()
        }]
    };
    Some(Person {
        names: vec![PersonName {
            name_type: NameType::Legal,
            family: r.family.clone(),
            given: r.given.clone(),
            middle: r.middle.clone(),
            suffix: r.suffix.clone(),
        }],
        birth_date,
        sex: Sex::from_hl7(&r.sex.to_ascii_uppercase()).unwrap_or(Sex::Unknown),
        addresses,
        phones: Vec::new(),
        identifiers: Vec::new(),
        mother_maiden_name: None,
        multiple_birth: None,
        birth_order: None,
        death_date: None,
        pd1: None,
        next_of_kin: Vec::new(),
    })
}

fn to_query(r: &Record) -> Option<Query> {
    let addresses = if r.street.is_empty() && r.city.is_empty() && r.postal_code.is_empty() {
        Vec::new()
    } else {
        vec![QueryAddress {
            street: r.street.clone(),
            city: r.city.clone(),
            state: r.state.clone(),
            postal_code: r.postal_code.clone(),
        }]
    };
    Some(Query {
        given: r.given.clone(),
        middle: r.middle.clone(),
        family: r.family.clone(),
        suffix: r.suffix.clone(),
        birth_date: parse_date(&r.birth_date)?,
        sex: r.sex.chars().next(),
        addresses,
        former_family_names: Vec::new(),
    })
}

/// What a run measured.
pub struct RunStats {
    queries: usize,
    matched: usize,
    median_ms: f64,
    p99_ms: f64,
}

impl RunStats {
    fn line(&self) -> String {
        format!(
            "queries={} matched={} median_ms={:.3} p99_ms={:.3}",
            self.queries, self.matched, self.median_ms, self.p99_ms
        )
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run_files(files: &Files, out: &Path) -> anyhow::Result<RunStats> {
    let tmp = tempfile::tempdir()?;
    let url = match &files.database {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", tmp.path().join("match.db").display()),
    };
    let db = Database::connect(&url)
        .await
        .context("opening the database")?;
    let store = Store::new(db);
    let ids = if files.loaded {
        loaded_ids(&store, &files.persons).await?
    } else {
        load(&store, &files.persons).await?
    };

    let mut conn = store.database().pool().acquire().await?;
    let mut settings = match_keys::load_settings(&mut conn).await?;
    drop(conn);
    settings.thresholds = files.thresholds.apply(settings.thresholds);
    let matcher = Matcher::with_settings(store.clone(), settings);

    let mut w =
        csv::Writer::from_path(out).with_context(|| format!("creating {}", out.display()))?;
    w.write_record(["query_id", "person_id", "score"])?;
    let mut times = Vec::new();
    let (mut queries, mut matched, mut unreadable) = (0, 0, 0);
    let started = Instant::now();
    for row in read_rows(&files.queries)? {
        let Ok(r) = row else {
            unreadable += 1;
            continue;
        };
        queries += 1;
        let t = Instant::now();
        let decision = match to_query(&r) {
            Some(q) => matcher.find(&q).await?,
            None => Decision::NoUniqueMatch {
                reason: imms_match::NoMatchReason::InsufficientQuery,
            },
        };
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        match decision {
            Decision::Unique { person_id, score } => {
                let external = ids.get(&person_id).map(String::as_str).unwrap_or("");
                matched += 1;
                w.write_record([r.id.as_str(), external, &format!("{score:.2}")])?;
            }
            Decision::NoUniqueMatch { .. } => w.write_record([r.id.as_str(), "", ""])?,
        }
    }
    w.flush()?;
    if unreadable > 0 {
        eprintln!("{unreadable} unreadable query rows skipped");
    }
    eprintln!(
        "answered {queries} queries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    times.sort_by(f64::total_cmp);
    Ok(RunStats {
        queries,
        matched,
        median_ms: percentile(&times, 0.5),
        p99_ms: percentile(&times, 0.99),
    })
}

/// Store id → the file's person_id of persons an earlier run loaded into an empty store:
/// it gave them ids 1, 2, … in the order of the file's readable rows.
async fn loaded_ids(store: &Store, path: &Path) -> anyhow::Result<HashMap<i64, String>> {
    let mut ids = HashMap::new();
    for row in read_rows(path)? {
        if let Some(r) = row.ok().filter(|r| to_person(r).is_some()) {
            ids.insert(ids.len() as i64 + 1, r.id);
        }
    }
    let (count, first, last): (i64, Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(id), MAX(id) FROM persons")
            .fetch_one(store.database().pool())
            .await?;
    let n = ids.len() as i64;
    anyhow::ensure!(
        count == n && first.unwrap_or(1) == 1 && last.unwrap_or(0) == n,
        "the database holds {count} persons (ids {first:?} to {last:?}), not the {n} of this \
         file loaded in order: load it into an empty database without --loaded"
    );
    Ok(ids)
}

/// Loads the persons file; returns store id → the file's person_id.
async fn load(store: &Store, path: &Path) -> anyhow::Result<HashMap<i64, String>> {
    let started = Instant::now();
    let engine = store.database().engine();
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("loading persons {pos} ({per_sec})").expect("template"),
    );
    // Into an empty store the indexes are built once, after the rows (bulk_load.rs says why).
    let bulk = {
        let mut conn = store.database().pool().acquire().await?;
        BulkLoad::begin(&mut conn, engine).await?
    };
    let keys_table = bulk.as_ref().map_or("match_keys", BulkLoad::keys_table);
    let mut ids = HashMap::new();
    let mut batch: Vec<(String, Person)> = Vec::new();
    let mut skipped = 0usize;
    let mut rows = read_rows(path)?;
    loop {
        let next = rows.next();
        let done = next.is_none();
        if let Some(row) = next {
            match row.ok().and_then(|r| to_person(&r).map(|p| (r.id, p))) {
                Some(p) => batch.push(p),
                None => skipped += 1,
            }
        }
        if batch.len() >= TX_PERSONS || (done && !batch.is_empty()) {
            let mut tx = store.database().pool().begin().await?;
            for chunk in batch.chunks(2_000) {
                let persons: Vec<Person> = chunk.iter().map(|(_, p)| p.clone()).collect();
                let new = match_keys::load_persons(
                    &mut tx,
                    engine,
                    &persons,
                    keys_table,
                    LOAD_FACILITY,
                    Utc::now(),
                )
                .await?;
                for ((external, _), id) in chunk.iter().zip(new) {
                    ids.insert(id, external.clone());
                }
            }
            tx.commit().await?;
            bar.inc(batch.len() as u64);
            batch.clear();
        }
        if done {
            break;
        }
    }
    bar.finish_and_clear();
    let indexes_built = Instant::now();
    if let Some(bulk) = bulk {
        eprintln!("building indexes");
        let mut conn = store.database().pool().acquire().await?;
        bulk.finish(&mut conn).await?;
        eprintln!(
            "indexes built in {:.1} s",
            indexes_built.elapsed().as_secs_f64()
        );
    }
    // Fresh statistics, or PostgreSQL's planner guesses at a million new rows (seconds per
    // query instead of milliseconds until autovacuum gets to them). On PostgreSQL also a
    // VACUUM, which marks the new pages all-visible: counting a common name's keys is then
    // an index-only scan (measured at 10,000,000 persons: 235 ms with a heap visit per key,
    // 1.2 ms without).
    let statistics = if engine == imms_db::Engine::Postgres {
        "VACUUM (ANALYZE)"
    } else {
        "ANALYZE"
    };
    sqlx::query(statistics)
        .execute(store.database().pool())
        .await?;
    if skipped > 0 {
        eprintln!("{skipped} person rows without a readable date of birth skipped");
    }
    eprintln!(
        "persons={} load_s={:.1}",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(ids)
}

/// Counts for one group of queries.
#[derive(Default, Clone, Copy)]
struct Tally {
    queries: usize,
    /// Queries whose person is in the registry.
    findable: usize,
    answered: usize,
    correct: usize,
    wrong: usize,
}

impl Tally {
    fn add(&mut self, truth: Option<&str>, answer: Option<&str>) {
        self.queries += 1;
        if truth.is_some() {
            self.findable += 1;
        }
        if let Some(a) = answer {
            self.answered += 1;
            if Some(a) == truth {
                self.correct += 1;
            } else {
                self.wrong += 1;
            }
        }
    }

    fn precision(&self) -> f64 {
        if self.answered == 0 {
            1.0
        } else {
            self.correct as f64 / self.answered as f64
        }
    }

    fn recall(&self) -> Option<f64> {
        (self.findable > 0).then(|| self.correct as f64 / self.findable as f64)
    }
}

pub struct Report {
    all: Tally,
    by_kind: Vec<(String, Tally)>,
    missing_answers: usize,
}

impl Report {
    fn table(&self) -> String {
        let mut s = String::new();
        let a = &self.all;
        s.push_str(&format!(
            "precision={:.5} recall={:.5} wrong_person={} answered={} queries={}\n",
            a.precision(),
            a.recall().unwrap_or(0.0),
            a.wrong,
            a.answered,
            a.queries
        ));
        if self.missing_answers > 0 {
            s.push_str(&format!(
                "{} queries of the truth have no answer (counted as no match)\n",
                self.missing_answers
            ));
        }
        s.push_str(&format!(
            "{:<22} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9}\n",
            "kind", "queries", "answered", "correct", "wrong", "precision", "recall"
        ));
        for (kind, t) in &self.by_kind {
            s.push_str(&format!(
                "{:<22} {:>8} {:>8} {:>8} {:>6} {:>9.4} {:>9}\n",
                kind,
                t.queries,
                t.answered,
                t.correct,
                t.wrong,
                t.precision(),
                t.recall().map(|r| format!("{r:.4}")).unwrap_or("-".into())
            ));
        }
        let hard: usize = self
            .by_kind
            .iter()
            .filter(|(k, _)| k == "twin" || k == "jr-sr" || k.starts_with("look-alike"))
            .map(|(_, t)| t.wrong)
            .sum();
        s.push_str(&format!("wrong_person_twin_jrsr_lookalike={hard}\n"));
        s
    }
}

fn evaluate(truth: &Path, results: &Path) -> anyhow::Result<Report> {
    let mut answers: HashMap<String, String> = HashMap::new();
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(results)
        .with_context(|| format!("reading {}", results.display()))?;
    for row in r.records() {
        let row = row?;
        let id = row.get(0).unwrap_or("").trim().to_string();
        let person = row.get(1).unwrap_or("").trim().to_string();
        if !person.is_empty() {
            answers.insert(id, person);
        } else {
            answers.entry(id).or_default();
        }
    }
    let mut t = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(truth)
        .with_context(|| format!("reading {}", truth.display()))?;
    let mut all = Tally::default();
    let mut by_kind: std::collections::BTreeMap<String, Tally> = Default::default();
    let mut missing_answers = 0;
    for row in t.records() {
        let row = row?;
        let id = row.get(0).unwrap_or("").trim();
        let person = row.get(1).map(str::trim).filter(|p| !p.is_empty());
        let kind = row.get(2).unwrap_or("").trim();
        let answer = match answers.get(id) {
            Some(a) if !a.is_empty() => Some(a.as_str()),
            Some(_) => None,
            None => {
                missing_answers += 1;
                None
            }
        };
        all.add(person, answer);
        for k in kind.split('+').filter(|k| !k.is_empty()) {
            by_kind
                .entry(k.to_string())
                .or_default()
                .add(person, answer);
        }
    }
    Ok(Report {
        all,
        by_kind: by_kind.into_iter().collect(),
        missing_answers,
    })
}
