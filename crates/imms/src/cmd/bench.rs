//! `imms bench …`: whole-system figures, printed with the peers they are compared against,
//! measured in the same run (see docs/benchmarks.md).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;
use imms_core::CodeTables;
use imms_db::{Database, Engine};
use imms_registry::generate::VxuGenerator;
use imms_registry::ingest::{Authority, Ingestor};
use imms_registry::store::Store;

use crate::cmd::demo::{DEFAULT_SEED, DEMO_FACILITY};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Parse and validate generated VXUs on one core, beside python-hl7 and hl7apy.
    Hl7 {
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// The Python interpreter that has `hl7` and `hl7apy` (bench/requirements.txt).
        #[arg(long, default_value = ".venv-bench/bin/python")]
        python: PathBuf,
        /// hl7apy is slow: it parses only this many of the messages.
        #[arg(long, default_value_t = 1_000)]
        hl7apy_count: usize,
        /// Rounds of imms then the Python peers, alternated; the ratio is the median round's.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Bulk import into a fresh database, beside raw INSERTs of the same rows.
    Import {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, value_enum, default_value = "sqlite")]
        engine: EngineArg,
        /// Rounds of import then floor; with more than one, the medians are printed too
        /// (runs on a shared machine spread by ±10 %).
        #[arg(long, default_value_t = 1)]
        rounds: usize,
    },
    /// The portal's whole flow over HTTP (upload a license photo, search, get the PDF) with
    /// several people at once, each signed in through the built-in identity provider.
    Portal {
        /// People using the portal at once.
        #[arg(long, default_value_t = 8)]
        users: usize,
        /// Flows in all.
        #[arg(long, default_value_t = 80)]
        flows: usize,
        /// Photo width in pixels (4000: 4000x3000, 12 megapixels).
        #[arg(long, default_value_t = 4000)]
        width: u32,
        #[arg(long, value_enum, default_value = "sqlite")]
        engine: EngineArg,
    },
    /// HL7 over HTTP to an in-process server: messages/s and ACK latency under concurrency.
    Http {
        #[arg(long, default_value_t = 5_000)]
        count: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, value_enum, default_value = "sqlite")]
        engine: EngineArg,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum EngineArg {
    Sqlite,
    Postgres,
}

impl From<EngineArg> for Engine {
    fn from(e: EngineArg) -> Engine {
        match e {
            EngineArg::Sqlite => Engine::Sqlite,
            EngineArg::Postgres => Engine::Postgres,
        }
    }
}

fn messages(count: usize) -> Vec<String> {
    let mut g = VxuGenerator::new(DEFAULT_SEED, DEMO_FACILITY, Utc::now().date_naive());
    (0..count).map(|_| g.next_message()).collect()
}

pub async fn run(command: BenchCommand) -> anyhow::Result<std::process::ExitCode> {
    match command {
        BenchCommand::Hl7 {
            count,
            python,
            hl7apy_count,
            rounds,
        } => hl7(count, &python, hl7apy_count, rounds),
        BenchCommand::Import {
            count,
            engine,
            rounds,
        } => import(count, engine.into(), rounds).await,
        BenchCommand::Portal {
            users,
            flows,
            width,
            engine,
        } => return crate::cmd::bench_portal::run(users, flows, width, engine).await,
        BenchCommand::Http {
            count,
            concurrency,
            engine,
        } => http(count, concurrency, engine.into()).await,
    }?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Wall-clock and on-CPU seconds of one timed run on this thread.
struct Timing {
    wall: f64,
    cpu: Option<f64>,
}

fn timed(work: impl FnOnce()) -> Timing {
    let (cpu, start) = (thread_cpu_seconds(), Instant::now());
    work();
    let wall = start.elapsed().as_secs_f64();
    let cpu = thread_cpu_seconds()
        .zip(cpu)
        .map(|(end, start)| end - start);
    Timing { wall, cpu }
}

/// Time this thread has spent on a CPU (Linux schedstat, nanoseconds): on a loaded machine
/// it shows the work done apart from the time spent waiting for a core.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Runs bench/python_hl7.py on the same messages: rates per peer, wall and CPU.
fn python_peers(
    python: &PathBuf,
    file: &std::path::Path,
    hl7apy_count: usize,
) -> anyhow::Result<serde_json::Value> {
    let out = std::process::Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/python_hl7.py"))
        .arg(file)
        .arg(hl7apy_count.to_string())
        .output()
        .with_context(|| format!("running {} (create it: python3 -m venv .venv-bench && .venv-bench/bin/pip install -r bench/requirements.txt)", python.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "python benchmark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn hl7(count: usize, python: &PathBuf, hl7apy_count: usize, rounds: usize) -> anyhow::Result<()> {
    let msgs = messages(count);
    let bytes: usize = msgs.iter().map(String::len).sum();
    let codes = CodeTables::embedded();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bench.hl7");
    std::fs::write(&file, msgs.join("\n"))?;
    // Warm up, then alternate: imms (parse + full VXU validation, then parse alone) on this
    // one thread, then the Python peers on the same messages, so that both sides see the
    // same machine load in each round.
    for m in msgs.iter().take(1000) {
        std::hint::black_box(imms_registry::ingest::validate(&codes, m));
    }
    let rate = |t: &Timing| count as f64 / t.wall;
    let cpu_rate = |t: &Timing| t.cpu.map_or(f64::NAN, |c| count as f64 / c);
    let peer = |peers: &serde_json::Value, name: &str, key: &str| {
        peers[name][key].as_f64().unwrap_or(f64::NAN)
    };
    let mut accepted = 0;
    let (mut ours, mut ours_cpu, mut parse_only, mut py, mut py_cpu, mut apy) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut ratios, mut cpu_ratios) = (vec![], vec![]);
    println!(
        "{count} generated VXU, {:.1} MB; {rounds} rounds (messages/s, wall and on-CPU)",
        bytes as f64 / 1e6
    );
    for round in 1..=rounds.max(1) {
        let validated = timed(|| {
            accepted = msgs
                .iter()
                .filter(|m| {
                    imms_registry::ingest::validate(&codes, m).code
                        == imms_registry::ack::AckCode::Accept
                })
                .count();
        });
        let parsed = timed(|| {
            for m in &msgs {
                std::hint::black_box(imms_hl7::parse(m).map(|p| p.segments().count()).ok());
            }
        });
        let peers = python_peers(python, &file, hl7apy_count)?;
        let (p, p_cpu) = (
            peer(&peers, "python-hl7", "messages_per_second"),
            peer(&peers, "python-hl7", "cpu_messages_per_second"),
        );
        println!(
            "round {round}: imms {:>8.0} (cpu {:>8.0})  python-hl7 {p:>5.0} (cpu {p_cpu:>5.0})  {:>5.1}x wall {:>5.1}x cpu",
            rate(&validated),
            cpu_rate(&validated),
            rate(&validated) / p,
            cpu_rate(&validated) / p_cpu
        );
        ratios.push(rate(&validated) / p);
        cpu_ratios.push(cpu_rate(&validated) / p_cpu);
        ours.push(rate(&validated));
        ours_cpu.push(cpu_rate(&validated));
        parse_only.push(rate(&parsed));
        py.push(p);
        py_cpu.push(p_cpu);
        apy.push(peer(&peers, "hl7apy", "messages_per_second"));
    }
    let py = median(py);
    let mb = |rate: f64| rate * bytes as f64 / count as f64 / 1e6;
    println!("{accepted} of {count} valid. Medians over the rounds:");
    println!(
        "{:<34} {:>14} {:>10} {:>10}",
        "", "messages/s", "MB/s", "vs python-hl7"
    );
    for (name, rate) in [
        ("imms parse + VXU validation", median(ours)),
        ("imms parse only", median(parse_only)),
        ("python-hl7 parse + field reads", py),
        ("hl7apy parse + field reads", median(apy)),
    ] {
        println!(
            "{name:<34} {rate:>14.0} {:>10.2} {:>9.2}x",
            mb(rate),
            rate / py
        );
    }
    println!(
        "on-CPU: imms {:.0}, python-hl7 {:.0} messages/s",
        median(ours_cpu),
        median(py_cpu)
    );
    println!(
        "parse + validate vs python-hl7, median of the rounds' ratios: {:.1}x wall, {:.1}x on-CPU",
        median(ratios),
        median(cpu_ratios)
    );
    Ok(())
}

async fn fresh_database(
    engine: Engine,
) -> anyhow::Result<(Database, imms_db::testing::TestDatabaseCleanup)> {
    let (url, cleanup) = imms_db::testing::fresh_url(engine).await;
    Ok((Database::connect(&url).await?, cleanup))
}

async fn import(count: usize, engine: Engine, rounds: usize) -> anyhow::Result<()> {
    let msgs = messages(count);
    let codes = Arc::new(CodeTables::embedded());
    println!(
        "{count} generated VXU into a fresh {} database",
        engine.name()
    );
    let (mut imports, mut raws, mut shares) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds.max(1) {
        if rounds > 1 {
            println!("round {round} of {rounds}");
        }
        let (import_rate, raw_rate) = import_round(&msgs, &codes, engine).await?;
        imports.push(import_rate);
        raws.push(raw_rate);
        shares.push(100.0 * import_rate / raw_rate);
    }
    if rounds > 1 {
        println!(
            "medians of {rounds} rounds: import {:.0} VXU/s, raw {:.0} VXU/s, import / raw {:.0} % (rounds' shares {:.0}-{:.0} %)",
            median(imports),
            median(raws),
            median(shares.clone()),
            shares.iter().copied().fold(f64::INFINITY, f64::min),
            shares.iter().copied().fold(0.0, f64::max)
        );
    }
    Ok(())
}

/// One import into a fresh database, then its floor; answers both rates (VXU/s).
async fn import_round(
    msgs: &[String],
    codes: &Arc<CodeTables>,
    engine: Engine,
) -> anyhow::Result<(f64, f64)> {
    let count = msgs.len();
    let (db, cleanup) = fresh_database(engine).await?;
    let ingestor = Ingestor::new(Store::new(db.clone()), codes.clone(), "IMMS");
    let bar = indicatif::ProgressBar::new(count as u64);
    let start = Instant::now();
    // As `imms hl7 import`: the next batch is checked while the writers store this one.
    let mut in_flight: Option<(usize, imms_registry::ingest::Submitted)> = None;
    for chunk in msgs.chunks(imms_registry::ingest::IMPORT_CHUNK) {
        let raws: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let submitted = ingestor.submit_batch(&raws, Authority::Operator).await;
        if let Some((n, earlier)) = in_flight.replace((chunk.len(), submitted)) {
            for r in earlier.outcomes().await {
                anyhow::ensure!(r?.stored, "a generated message was not stored");
            }
            bar.inc(n as u64);
        }
    }
    if let Some((_, last)) = in_flight {
        for r in last.outcomes().await {
            anyhow::ensure!(r?.stored, "a generated message was not stored");
        }
    }
    let import_secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let counts = ingestor.store().counts().await?;
    // The floor: the same rows, read back (not timed) and inserted into a fresh database.
    let floor = super::bench_floor::Floor::read(&db).await?;
    db.close().await;
    cleanup.remove().await;
    let (db, cleanup) = fresh_database(engine).await?;
    let (inserted, raw_time) = floor.insert(&db).await?;
    let raw_secs = raw_time.as_secs_f64();
    db.close().await;
    cleanup.remove().await;
    // PostgreSQL's import writes over several connections; so can the raw INSERT.
    let parallel = if engine == Engine::Postgres {
        let (db, cleanup) = fresh_database(engine).await?;
        let connections = imms_registry::ingest::writers(engine);
        let (_, time) = floor.insert_over(&db, connections).await?;
        db.close().await;
        cleanup.remove().await;
        Some((
            connections,
            count as f64 / time.as_secs_f64(),
            time.as_secs_f64(),
        ))
    } else {
        None
    };

    let import_rate = count as f64 / import_secs;
    let raw_rate = count as f64 / raw_secs;
    println!(
        "stored {} persons and {} doses",
        counts.persons, counts.immunizations
    );
    println!("imms hl7 import path      {import_rate:>10.0} VXU/s  ({import_secs:.1} s)");
    println!(
        "raw INSERT of the rows    {raw_rate:>10.0} VXU/s  ({raw_secs:.1} s, {inserted} rows)"
    );
    println!(
        "import / raw              {:>10.0} %",
        100.0 * import_rate / raw_rate
    );
    if let Some((connections, rate, secs)) = parallel {
        println!(
            "raw INSERT, {connections} connections {rate:>10.0} VXU/s  ({secs:.1} s; import / this {:.0} %)",
            100.0 * import_rate / rate
        );
    }
    Ok((import_rate, raw_rate))
}

async fn http(count: usize, concurrency: usize, engine: Engine) -> anyhow::Result<()> {
    let msgs = Arc::new(messages(count));
    let (url, cleanup) = imms_db::testing::fresh_url(engine).await;
    let dir = tempfile::tempdir()?;
    let mut config = crate::config::Config::load(None)?;
    config.data_dir = dir.path().to_path_buf();
    config.database_url = url;
    config.http_addr = "127.0.0.1:0".into();
    let app = Arc::new(crate::app::App::open(config).await?);
    app.store()
        .upsert_facility(DEMO_FACILITY, "Bench", Utc::now())
        .await?;
    let password = "bench-password-for-this-run";
    let hash = imms_registry::credentials::hash_password(password);
    app.store()
        .add_credential("bench", DEMO_FACILITY, &hash, Utc::now())
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let parts = crate::serve::open_parts(&app).await?;
    let router = crate::serve::router(
        app.clone(),
        imms_registry::metrics::Metrics::default(),
        parts,
    );
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let target = format!("http://{addr}/hl7/v2");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, target, msgs, next) =
            (client.clone(), target.clone(), msgs.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(m) = msgs.get(i) else {
                    return Ok::<_, anyhow::Error>(latencies);
                };
                let t = Instant::now();
                let body = client
                    .post(&target)
                    .basic_auth("bench", Some(password))
                    .body(m.clone())
                    .send()
                    .await?
                    .text()
                    .await?;
                latencies.push(t.elapsed());
                anyhow::ensure!(body.contains("MSA|AA|"), "not accepted: {body}");
            }
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    println!(
        "{count} VXU over HTTP, {concurrency} concurrent senders, {} store",
        engine.name()
    );
    println!("sustained      {:>8.0} messages/s", count as f64 / secs);
    println!(
        "ACK latency    p50 {:.1} ms   p99 {:.1} ms   max {:.1} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    server.abort();
    app.store().database().close().await;
    cleanup.remove().await;
    Ok(())
}
