//! `imms staff add|list|remove`: who may use the provider console, in which organization and
//! role; and the console's wiring for `serve` (its OIDC client at the built-in identity
//! provider, registered at every start with a secret kept in the data directory).

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use imms_registry::store::staff::Role;

use crate::app::App;
use crate::config::Config;

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Viewer,
    Editor,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Editor => Role::Editor,
            RoleArg::Admin => Role::Admin,
        }
    }
}

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Give an identity-provider account a role in an organization (a registered facility);
    /// replaces any role they had.
    Add {
        /// The account's user ID at the identity provider.
        #[arg(long)]
        user_id: String,
        /// The organization's facility id (see `imms org add`).
        #[arg(long)]
        org: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List the console's staff: user_id, organization, role.
    List,
    /// Take away a member of staff's access.
    Remove { user_id: String },
}

fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "operator".into())
    )
}

pub async fn run(config: Config, command: StaffCommand) -> anyhow::Result<std::process::ExitCode> {
    let app = App::open(config).await?;
    let store = app.store();
    let now = chrono::Utc::now();
    match command {
        StaffCommand::Add { user_id, org, role } => {
            let m = store
                .add_staff(&user_id, &org, role.into(), &cli_actor(), now)
                .await?;
            println!("user_id={}", m.user_id);
            println!("org={}", m.facility_id);
            println!("role={}", m.role.as_str());
        }
        StaffCommand::List => {
            for m in store.staff_list().await? {
                println!("{}\t{}\t{}", m.user_id, m.facility_id, m.role.as_str());
            }
        }
        StaffCommand::Remove { user_id } => {
            if store.remove_staff(&user_id, &cli_actor(), now).await? {
                println!("removed {user_id}");
            } else {
                eprintln!("no member of staff {user_id}");
                return Ok(std::process::ExitCode::from(1));
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// The console's client ID at the built-in identity provider.
pub const CONSOLE_CLIENT_ID: &str = "imms-console";

static CONSOLE: OnceLock<Arc<imms_console::Console>> = OnceLock::new();

/// Registers the console at the built-in identity provider (idempotent) and builds it.
pub async fn init_console(
    app: &App,
    printer: Arc<dyn imms_console::RecordPrinter>,
) -> anyhow::Result<()> {
    if CONSOLE.get().is_some() {
        return Ok(());
    }
    let idp = crate::cmd::account::init_served(app)?;
    let public = app.config.public_url.trim_end_matches('/').to_string();
    let secret_bytes =
        imms_idp::secrets::load_or_generate_key(&app.config.data_dir, "console-oidc-client.key")
            .context("the console's OIDC client secret")?;
    let secret = zeroize::Zeroizing::new(
        secret_bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    );
    let settings = imms_console::ConsoleSettings {
        public_url: public.clone(),
        issuer: format!("{public}/idp"),
        client_id: CONSOLE_CLIENT_ID.to_string(),
        client_secret: secret.to_string(),
        idle_minutes: 15,
        helpline: app.config.helpline.clone(),
    };
    idp.ensure_client(
        CONSOLE_CLIENT_ID,
        &[settings.redirect_uri()],
        &[format!("{public}/console/signed-out")],
        Some(secret.as_str()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("registering the console at the identity provider: {e}"))?;
    let sealer = imms_console::Sealer::load_or_create(&app.config.data_dir)
        .map_err(|e| anyhow::anyhow!("the console's sealing key: {e}"))?;
    let console = imms_console::Console::new(
        app.store().clone(),
        Arc::new(app.ingestor.codes().clone()),
        sealer,
        settings,
        Some(printer),
    )?;
    let _ = CONSOLE.set(Arc::new(console));
    Ok(())
}

/// The /console routes for `serve` (none before [`init_console`]).
pub fn console_router() -> axum::Router {
    match CONSOLE.get() {
        Some(c) => imms_console::router(c.clone()),
        None => axum::Router::new(),
    }
}
