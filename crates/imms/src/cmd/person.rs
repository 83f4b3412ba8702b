//! `imms person show --mrn FACILITY:MRN`: a person's record as the registry holds it.

use clap::Subcommand;

use crate::app::App;
use crate::config::Config;

#[derive(Subcommand)]
pub enum PersonCommand {
    /// Show the person a facility knows by a medical record number.
    Show {
        /// FACILITY:MRN, the facility id (MSH-4) and its identifier for the person (PID-3).
        #[arg(long)]
        mrn: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The stored record of the person a facility knows by `FACILITY:MRN`; None (and a line on
/// stderr) when there is no such person.
pub async fn record_by_mrn(
    app: &App,
    mrn: &str,
) -> anyhow::Result<Option<imms_registry::store::PersonRecord>> {
    let (facility, value) = mrn
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("--mrn takes FACILITY:MRN"))?;
    let Some(id) = app.store().person_by_identifier(facility, value).await? else {
        eprintln!("imms: no person with identifier {value} from facility {facility}");
        return Ok(None);
    };
    let record = app
        .store()
        .person_record(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("person {id} vanished"))?;
    Ok(Some(record))
}

pub async fn run(config: Config, command: PersonCommand) -> anyhow::Result<std::process::ExitCode> {
    let app = App::open(config).await?;
    match command {
        PersonCommand::Show { mrn, json } => {
            let Some(record) = record_by_mrn(&app, &mrn).await? else {
                return Ok(std::process::ExitCode::from(3));
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&record)?);
            } else {
                let name = record
                    .names
                    .first()
                    .map(|n| format!("{}, {} {}", n.family, n.given, n.middle))
                    .unwrap_or_default();
                println!(
                    "person {}: {} born {} sex {}",
                    record.person_id,
                    name.trim(),
                    record.birth_date,
                    record.sex
                );
                for i in &record.immunizations {
                    let codes = app.ingestor.codes();
                    let desc = codes
                        .cvx(&i.cvx)
                        .map(|c| c.short_description.as_str())
                        .unwrap_or("?");
                    println!(
                        "  {}  CVX {:>3} {}  ({})",
                        i.administered_date,
                        i.cvx,
                        desc,
                        if i.information_source == "00" {
                            "administered"
                        } else {
                            "historical"
                        }
                    );
                }
                for r in &record.refusals {
                    println!("  {}  refused CVX {}", r.refusal_date, r.cvx);
                }
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
