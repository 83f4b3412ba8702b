//! `imms account add|show|unlock|disable|enable`: the operators' and the helpline's tools
//! for identity-provider accounts; and opening the identity provider for `serve`.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use imms_idp::{AcctType, AddAccount, Idp, IdpSettings, SystemClock};
use zeroize::Zeroizing;

use crate::app::App;
use crate::config::Config;

#[derive(Clone, Copy, ValueEnum)]
pub enum TypeArg {
    Citizen,
    Employee,
    #[value(name = "third-party")]
    ThirdParty,
    Worker,
}

impl From<TypeArg> for AcctType {
    fn from(t: TypeArg) -> AcctType {
        match t {
            TypeArg::Citizen => AcctType::Citizen,
            TypeArg::Employee => AcctType::Employee,
            TypeArg::ThirdParty => AcctType::ThirdParty,
            TypeArg::Worker => AcctType::Worker,
        }
    }
}

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create an account. The password (and the SSN) are read from standard input, one per
    /// line, so they never appear in the process list or shell history.
    Add {
        #[arg(long)]
        user_id: String,
        #[arg(long)]
        email: String,
        #[arg(long = "type", value_enum, default_value = "citizen")]
        acct_type: TypeArg,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Read the SSN from the next line of standard input.
        #[arg(long)]
        ssn_stdin: bool,
    },
    /// Show an account's state: type, locked, disabled, second factor (never secrets).
    Show {
        user_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Lift a lock now instead of after 30 minutes.
    Unlock { user_id: String },
    /// Refuse every sign-in of this account (and end its sessions).
    Disable { user_id: String },
    /// Allow sign-in again.
    Enable { user_id: String },
}

pub fn settings(config: &Config) -> anyhow::Result<IdpSettings> {
    let mut s = IdpSettings::new(config.data_dir.clone(), &config.public_url);
    s.helpline = config.helpline.clone();
    s.lockout.max_failures = config.idp_lockout_failures.max(1);
    s.hash_cost = imms_idp::password::HashCost::parse(&config.idp_argon2)
        .map_err(|e| anyhow::anyhow!("IMMS_IDP_ARGON2: {e}"))?;
    s.code_seconds = config.idp_code_seconds.max(1);
    s.smtp_url = config.smtp_url.clone();
    s.mail_from = config.mail_from.clone();
    s.rate_limit_per_minute = config.idp_rate_limit;
    s.trusted_proxies = config.trusted_proxies.clone();
    Ok(s)
}

pub fn open_idp(app: &App) -> anyhow::Result<Idp> {
    app.config.prepare_data_dir()?;
    let db = app.store().database().clone();
    Idp::open(settings(&app.config)?, db, Arc::new(SystemClock))
        .context("opening the identity provider")
}

static SERVED: OnceLock<Arc<Idp>> = OnceLock::new();

/// Opens the identity provider `serve` mounts at /idp (once per process).
pub fn init_served(app: &App) -> anyhow::Result<Arc<Idp>> {
    if let Some(idp) = SERVED.get() {
        return Ok(idp.clone());
    }
    let idp = Arc::new(open_idp(app)?);
    Ok(SERVED.get_or_init(|| idp).clone())
}

/// Adds the identity provider's counters to the registry `/metrics` renders.
pub fn register_idp_metrics(app: &App, registry: &imms_idp::metrics::Registry) {
    let idp = init_served(app).expect("the identity provider could not be opened");
    if let Err(e) = idp.metrics.register(registry) {
        tracing::error!(error = %e, "could not add the identity provider's metrics");
    }
}

/// The /idp routes for `serve`'s router.
pub fn idp_router(app: &App) -> axum::Router {
    let idp = init_served(app).expect("the identity provider could not be opened");
    imms_idp::router(idp)
}

fn read_stdin_lines() -> anyhow::Result<Zeroizing<String>> {
    let mut text = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading standard input")?;
    Ok(text)
}

pub async fn run(
    config: Config,
    command: AccountCommand,
) -> anyhow::Result<std::process::ExitCode> {
    let app = App::open(config).await?;
    let idp = open_idp(&app)?;
    match command {
        AccountCommand::Add {
            user_id,
            email,
            acct_type,
            password_stdin: _,
            ssn_stdin,
        } => {
            let input = read_stdin_lines()?;
            let mut lines = input.lines();
            let password = Zeroizing::new(lines.next().unwrap_or("").to_string());
            let ssn = if ssn_stdin {
                Some(Zeroizing::new(
                    lines
                        .next()
                        .context("--ssn-stdin: expected the SSN on the line after the password")?
                        .to_string(),
                ))
            } else {
                None
            };
            idp.add_account(&AddAccount {
                user_id: &user_id,
                email: &email,
                acct_type: acct_type.into(),
                password: &password,
                ssn: ssn.as_deref().map(|s| s.as_str()),
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            println!("user_id={}", user_id.trim());
            println!("type={}", AcctType::from(acct_type).as_str());
        }
        AccountCommand::Show { user_id, json } => {
            let s = idp
                .summary(&user_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("user_id={}", s.user_id);
                println!("type={}", s.acct_type);
                println!("email={}", s.email);
                println!("disabled={}", s.disabled);
                println!("locked={}", s.locked);
                if let Some(u) = &s.locked_until {
                    println!("locked_until={u}");
                }
                println!("failed_attempts={}", s.failed_attempts);
                println!("totp={}", s.totp);
                println!("ssn_on_file={}", s.ssn_on_file);
                println!("created={}", s.created);
            }
        }
        AccountCommand::Unlock { user_id } => {
            idp.unlock(&user_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            println!("unlocked {user_id}");
        }
        AccountCommand::Disable { user_id } => {
            idp.set_disabled(&user_id, true)
                .await
                .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            println!("disabled {user_id}");
        }
        AccountCommand::Enable { user_id } => {
            idp.set_disabled(&user_id, false)
                .await
                .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            println!("enabled {user_id}");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
