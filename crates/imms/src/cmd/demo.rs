//! `imms demo load` and `imms gen vxu`: synthetic people and doses, through the real
//! ingest path (demo) or into a file (load tests).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;
use imms_registry::generate::VxuGenerator;
use imms_registry::ingest::Authority;
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::App;
use crate::config::Config;

pub const DEFAULT_SEED: u64 = 2026;
pub const DEMO_FACILITY: &str = "DEMO-CLINIC";

#[derive(Subcommand)]
pub enum DemoCommand {
    /// Load synthetic persons with their doses, as VXU messages from a demo clinic.
    Load {
        #[arg(long, default_value_t = 100)]
        persons: usize,
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
    },
}

#[derive(Subcommand)]
pub enum GenCommand {
    /// Write synthetic VXU messages to a file, one person each.
    Vxu {
        #[arg(long)]
        count: usize,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// The MSH-4 of the messages.
        #[arg(long, default_value = DEMO_FACILITY)]
        facility: String,
    },
    /// Write a synthetic registry (persons.csv) and queries with their truth (queries.csv,
    /// truth.csv) for `imms match run|eval`; errors as docs/matching.md describes.
    Persons {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// The directory to write the three files into.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Multiplies every error rate of the queries (1 = the documented model).
        #[arg(long, default_value_t = 1.0)]
        noise: f64,
    },
}

pub async fn run_demo(
    config: Config,
    command: DemoCommand,
) -> anyhow::Result<std::process::ExitCode> {
    let app = App::open(config).await?;
    match command {
        DemoCommand::Load { persons, seed } => load(&app, persons, seed, true).await?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Loads `persons` demo persons from the demo clinic (registered if needed).
pub async fn load(app: &App, persons: usize, seed: u64, progress: bool) -> anyhow::Result<()> {
    app.store()
        .upsert_facility(DEMO_FACILITY, "Demo Clinic", Utc::now())
        .await?;
    let mut generator = VxuGenerator::new(seed, DEMO_FACILITY, Utc::now().date_naive());
    let bar = if progress {
        ProgressBar::new(persons as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("demo data {bar:40} {pos}/{len} persons")
            .expect("valid template"),
    );
    let mut stored = 0;
    let mut remaining = persons;
    while remaining > 0 {
        let n = remaining.min(500);
        let messages: Vec<String> = (0..n).map(|_| generator.next_message()).collect();
        let raws: Vec<&str> = messages.iter().map(String::as_str).collect();
        for outcome in app.ingestor.process_batch(&raws, Authority::Operator).await {
            if outcome?.stored {
                stored += 1;
            }
        }
        remaining -= n;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    println!("demo data: {stored} of {persons} persons stored from facility {DEMO_FACILITY}");
    Ok(())
}

pub async fn run_gen(command: GenCommand) -> anyhow::Result<std::process::ExitCode> {
    match command {
        GenCommand::Vxu {
            count,
            out,
            seed,
            facility,
        } => {
            let file = std::fs::File::create(&out)
                .with_context(|| format!("creating {}", out.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let mut generator = VxuGenerator::new(seed, &facility, Utc::now().date_naive());
            let bar = ProgressBar::new(count as u64);
            for _ in 0..count {
                w.write_all(generator.next_message().as_bytes())?;
                w.write_all(b"\n")?;
                bar.inc(1);
            }
            w.flush()?;
            bar.finish_and_clear();
            println!("wrote {count} VXU messages to {}", out.display());
        }
        GenCommand::Persons {
            count,
            queries,
            out,
            seed,
            noise,
        } => super::matching::gen_persons(count, queries, &out, seed, noise)?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}
