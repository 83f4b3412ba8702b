//! `imms codes load DIR`: replace the stored code tables with a directory's.

use std::path::PathBuf;

use clap::Subcommand;

use crate::app::App;
use crate::config::Config;

#[derive(Subcommand)]
pub enum CodesCommand {
    /// Load CVX, MVX, vaccine groups and the HL7 tables from a directory laid out like data/codes.
    Load { dir: PathBuf },
}

pub async fn run(config: Config, command: CodesCommand) -> anyhow::Result<std::process::ExitCode> {
    let app = App::open(config).await?;
    match command {
        CodesCommand::Load { dir } => {
            let files = imms_registry::codes::read_dir(&dir)?;
            anyhow::ensure!(!files.is_empty(), "{} holds no .tsv files", dir.display());
            let tables = imms_registry::codes::load_into_store(app.store(), &files).await?;
            let summary = tables.summary();
            println!(
                "loaded {} files: {} CVX codes, {} MVX codes, {} value sets",
                files.len(),
                summary["cvx"],
                summary["mvx"],
                summary["value_sets"]
            );
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
