//! `imms`: every component of the state immunization record system behind one command.
//! `imms serve` runs them all in one process; the other subcommands are the operators'
//! and integrators' tools, acting on the same store (see docs/ and INTERFACE.md).

mod app;
mod cmd;
mod config;
mod logging;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

// The ingest path allocates many small strings per message; mimalloc serves them faster
// than the system allocator (measured with `imms bench hl7`, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "imms",
    version,
    about = "State immunization record system: registry, identity, portal, record, console"
)]
struct Cli {
    /// A TOML file with any of the IMMS_* settings (lower-case keys); the environment wins.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start every component in one process.
    Serve {
        /// Load this many demo persons (through the real ingest path) when the store is empty.
        #[arg(long, value_name = "PERSONS")]
        demo: Option<usize>,
    },
    /// Facilities that report to the registry.
    Org {
        #[command(subcommand)]
        command: cmd::org::OrgCommand,
    },
    /// Send, import and validate HL7 v2 files.
    Hl7 {
        #[command(subcommand)]
        command: cmd::hl7::Hl7Command,
    },
    /// Look at a person's record in the registry.
    Person {
        #[command(subcommand)]
        command: cmd::person::PersonCommand,
    },
    /// CDC and HL7 code tables.
    Codes {
        #[command(subcommand)]
        command: cmd::codes::CodesCommand,
    },
    /// Demo data, loaded through the real ingest path.
    Demo {
        #[command(subcommand)]
        command: cmd::demo::DemoCommand,
    },
    /// Read a photo of a driver's license, state ID or US passport; print it as JSON.
    Idscan { file: PathBuf },
    /// Measure throughput and latency beside the peers named in docs/benchmarks.md.
    Bench {
        #[command(subcommand)]
        command: cmd::bench::BenchCommand,
    },
    /// Identity-provider accounts (the helpline's tools).
    Account {
        #[command(subcommand)]
        command: cmd::account::AccountCommand,
    },
    /// OpenID Connect relying parties of the identity provider.
    Oidc {
        #[command(subcommand)]
        command: cmd::oidc::OidcCommand,
    },
    /// The identity provider's ID-token signing keys.
    Keys {
        #[command(subcommand)]
        command: cmd::keys::KeysCommand,
    },
    /// The official immunization record (PDF, SMART Health Card) of a person.
    Record {
        #[command(subcommand)]
        command: cmd::record::RecordCommand,
    },
    /// Who may use the provider console, in which organization and role.
    Staff {
        #[command(subcommand)]
        command: cmd::staff::StaffCommand,
    },
    /// Person matching on files: run, evaluate, train (docs/matching.md).
    Match {
        #[command(subcommand)]
        command: cmd::matching::MatchCommand,
    },
    /// Generate synthetic data files for load tests.
    Gen {
        #[command(subcommand)]
        command: cmd::demo::GenCommand,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init();
    let result = async {
        let config = config::Config::load(cli.config.as_deref())?;
        match cli.command {
            Command::Serve { demo } => serve::run(config, demo).await,
            Command::Org { command } => cmd::org::run(config, command).await,
            Command::Hl7 { command } => cmd::hl7::run(config, command).await,
            Command::Person { command } => cmd::person::run(config, command).await,
            Command::Codes { command } => cmd::codes::run(config, command).await,
            Command::Demo { command } => cmd::demo::run_demo(config, command).await,
            Command::Gen { command } => cmd::demo::run_gen(command).await,
            Command::Match { command } => cmd::matching::run(config, command).await,
            Command::Account { command } => cmd::account::run(config, command).await,
            Command::Oidc { command } => cmd::oidc::run(config, command).await,
            Command::Keys { command } => cmd::keys::run(config, command).await,
            Command::Record { command } => cmd::record::run(config, command).await,
            Command::Staff { command } => cmd::staff::run(config, command).await,
            Command::Bench { command } => cmd::bench::run(command).await,
            Command::Idscan { file } => cmd::idscan::run(file),
        }
    }
    .await;
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("imms: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
