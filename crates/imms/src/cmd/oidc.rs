//! `imms oidc client add`: register a relying party of the identity provider.

use clap::Subcommand;

use crate::app::App;
use crate::config::Config;

#[derive(Subcommand)]
pub enum OidcCommand {
    /// Relying parties (OIDC clients).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints `client_secret=<s>` unless it is public.
    Add {
        #[arg(long)]
        client_id: String,
        /// An exact redirect URI (repeat for several).
        #[arg(long, required = true)]
        redirect_uri: Vec<String>,
        /// Where RP-initiated logout may return to, exactly (repeat for several).
        #[arg(long)]
        post_logout_redirect_uri: Vec<String>,
        /// A public client (no secret; PKCE S256 required).
        #[arg(long)]
        public: bool,
    },
}

pub async fn run(config: Config, command: OidcCommand) -> anyhow::Result<std::process::ExitCode> {
    let app = App::open(config).await?;
    let idp = super::account::open_idp(&app)?;
    match command {
        OidcCommand::Client {
            command:
                ClientCommand::Add {
                    client_id,
                    redirect_uri,
                    post_logout_redirect_uri,
                    public,
                },
        } => {
            let secret = idp
                .add_client_with_logout(
                    &client_id,
                    &redirect_uri,
                    &post_logout_redirect_uri,
                    public,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            println!("client_id={client_id}");
            if let Some(s) = secret {
                println!("client_secret={}", s.as_str());
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
