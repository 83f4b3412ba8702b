//! `imms org add`: register a facility and issue its credentials.

use chrono::Utc;
use clap::Subcommand;
use imms_registry::credentials::{generate_password, generate_username, hash_password};

use crate::app::App;
use crate::config::Config;

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Register a facility (or rename it) and print a new user name and password for it.
    Add {
        /// The facility id the clinic's system sends in MSH-4.
        #[arg(long)]
        facility_id: String,
        #[arg(long)]
        name: String,
    },
}

pub async fn run(config: Config, command: OrgCommand) -> anyhow::Result<std::process::ExitCode> {
    let app = App::open(config).await?;
    match command {
        OrgCommand::Add { facility_id, name } => {
            let facility_id = facility_id.trim().to_string();
            anyhow::ensure!(
                !facility_id.is_empty() && facility_id.len() <= 180,
                "--facility-id must be 1 to 180 characters"
            );
            let now = Utc::now();
            app.store()
                .upsert_facility(&facility_id, name.trim(), now)
                .await?;
            let user = generate_username(&facility_id);
            let password = generate_password();
            let hash = tokio::task::spawn_blocking({
                let p = password.clone();
                move || hash_password(&p)
            })
            .await?;
            app.store()
                .add_credential(&user, &facility_id, &hash, now)
                .await?;
            println!("facility={facility_id}");
            println!("user={user}");
            println!("password={password}");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
