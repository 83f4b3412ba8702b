//! `imms idscan FILE`: read a photo of a driver's license, state ID or passport and print
//! what it says as JSON; an unreadable or refused file exits with status 2 and one line on
//! stderr. Nothing is written anywhere.

use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(file: PathBuf) -> anyhow::Result<ExitCode> {
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    match imms_idscan::scan(&bytes, &imms_idscan::Limits::default()) {
        Ok(doc) => {
            println!("{}", serde_json::to_string(&doc)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(2))
        }
    }
}
