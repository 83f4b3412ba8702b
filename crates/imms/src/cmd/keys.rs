//! `imms keys rotate`: a new ID-token signing key; the old one stays published until the
//! tokens it signed have expired.

use clap::Subcommand;

use crate::config::Config;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key and make it the active one.
    Rotate,
}

pub async fn run(config: Config, command: KeysCommand) -> anyhow::Result<std::process::ExitCode> {
    match command {
        KeysCommand::Rotate => {
            config.prepare_data_dir()?;
            let kid = imms_idp::keys::rotate(&config.data_dir, chrono::Utc::now().timestamp())?;
            println!("kid={kid}");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
