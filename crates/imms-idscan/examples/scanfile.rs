//! Scans one image file and prints the JSON that `imms idscan` prints (a stand-in until the
//! binary has the subcommand; also used to measure peak memory with `/usr/bin/time -v`).
//!
//! `cargo run --release -p imms-idscan --example scanfile -- FILE`

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: scanfile FILE");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    match imms_idscan::scan(&bytes, &imms_idscan::Limits::default()) {
        Ok(doc) => {
            println!("{}", serde_json::to_string(&doc).expect("serialisable"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
