//! `imms record pdf|shc`: the official record of the person a facility knows by an MRN, as
//! staff hand it over; and the record issuer (signing key in the data directory) for `serve`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use imms_record::{Issuer, Lang};

use crate::app::App;
use crate::config::Config;

#[derive(Clone, Copy, ValueEnum)]
pub enum LangArg {
    En,
    Es,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::En => Lang::En,
            LangArg::Es => Lang::Es,
        }
    }
}

#[derive(Subcommand)]
pub enum RecordCommand {
    /// Write the official immunization record (PDF with its SMART Health Card) to a file.
    Pdf {
        /// FACILITY:MRN, the facility id (MSH-4) and its identifier for the person (PID-3).
        #[arg(long)]
        mrn: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "en")]
        lang: LangArg,
    },
    /// Print the SMART Health Card as `shc:/…` strings, one a line (several when chunked).
    Shc {
        #[arg(long)]
        mrn: String,
    },
}

/// The record issuer: the authority's name from the configuration, the SMART Health Card
/// issuer IMMS_PUBLIC_URL, the signing key made in the data directory on first use.
pub fn open_issuer(config: &Config) -> anyhow::Result<Arc<Issuer>> {
    config.prepare_data_dir()?;
    let issuer =
        Issuer::load_or_create(&config.data_dir, &config.record_issuer, &config.public_url)
            .context("opening the record's signing key")?;
    Ok(Arc::new(issuer))
}

pub async fn run(config: Config, command: RecordCommand) -> anyhow::Result<std::process::ExitCode> {
    let app = App::open(config).await?;
    let issuer = open_issuer(&app.config)?;
    let mrn = match &command {
        RecordCommand::Pdf { mrn, .. } | RecordCommand::Shc { mrn } => mrn.clone(),
    };
    let Some(record) = crate::cmd::person::record_by_mrn(&app, &mrn).await? else {
        return Ok(std::process::ExitCode::from(3));
    };
    let names = app.store().facility_names().await?;
    let input = imms_registry::record_input::to_record_input_with_facilities(
        &record,
        app.ingestor.codes(),
        &names,
    );
    drop(record);
    match command {
        RecordCommand::Pdf { out, lang, .. } => {
            let today = chrono::Local::now().date_naive();
            let pdf = issuer.pdf(&input, lang.into(), today)?;
            std::fs::write(&out, &pdf).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {} ({} bytes)", out.display(), pdf.len());
        }
        RecordCommand::Shc { .. } => {
            for chunk in issuer.shc(&input)? {
                println!("{chunk}");
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
