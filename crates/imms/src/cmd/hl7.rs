//! `imms hl7 send|import|validate`: HL7 v2 files, one or many messages each.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use imms_registry::ack::AckCode;
use imms_registry::batch::split_messages;
use imms_registry::ingest::Authority;
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::App;
use crate::config::Config;

#[derive(Subcommand)]
pub enum Hl7Command {
    /// Send messages to a registry and print each answer's MSA line.
    Send {
        /// http(s)://…/hl7/v2, mllp://HOST:PORT (credential put in MSH-8), or
        /// soap+http(s)://…/hl7/soap (the CDC SOAP web service).
        #[arg(long)]
        to: String,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        password: Option<String>,
        /// The facility id, for transports that carry it apart from MSH-4.
        #[arg(long)]
        facility: Option<String>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Store messages from files or folders into this registry, with a progress bar.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Parse and check messages without storing anything.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Every file under the given paths (folders recursively, in name order).
fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|e| {
                    !e.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            entries.sort();
            files.extend(collect_files(&entries)?);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

fn read_messages(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        // Older systems write Latin-1; every byte maps to the same code point.
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    };
    Ok(split_messages(&text))
}

/// The MSA-1 code and the first ERR of an ACK, for one-line reports.
fn summarize_ack(ack: &str) -> (String, String) {
    let Ok(m) = imms_hl7::parse(ack) else {
        return ("??".into(), "unreadable answer".into());
    };
    let code = m
        .first("MSA")
        .map(|s| s.field(1).value().to_string())
        .unwrap_or_default();
    let detail = m
        .all("ERR")
        .find(|e| e.field(4).value() == "E")
        .or_else(|| m.first("ERR"))
        .map(|e| {
            let l = e.field(2);
            let mut loc = l.component(1).value().to_string();
            if !l.component(3).is_empty() {
                loc.push_str(&format!("-{}", l.component(3).value()));
                if !l.component(5).is_empty() {
                    loc.push_str(&format!(".{}", l.component(5).value()));
                }
            }
            format!(
                "{} {}",
                if loc.is_empty() { "MSH".into() } else { loc },
                e.field(8).value()
            )
        })
        .unwrap_or_default();
    (code, detail)
}

pub async fn run(config: Config, command: Hl7Command) -> anyhow::Result<std::process::ExitCode> {
    match command {
        Hl7Command::Send {
            to,
            user,
            password,
            facility,
            files,
        } => send(&to, user, password, facility, &files).await,
        Hl7Command::Import { paths } => import(config, &paths).await,
        Hl7Command::Validate { files } => validate(&files),
    }
}

/// Where `imms hl7 send --to` sends.
enum Target {
    /// http(s)://…/hl7/v2, HTTP Basic credentials.
    Http(String),
    /// mllp://HOST:PORT, the credential in MSH-8.
    Mllp(String),
    /// soap+http(s)://…/hl7/soap, the CDC web service.
    Soap(String),
}

fn parse_target(to: &str) -> anyhow::Result<Target> {
    if let Some(addr) = to.strip_prefix("mllp://") {
        let addr = addr.trim_end_matches('/');
        anyhow::ensure!(
            addr.rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()),
            "--to mllp://HOST:PORT needs a host and a port"
        );
        return Ok(Target::Mllp(addr.to_string()));
    }
    if let Some(url) = to.strip_prefix("soap+") {
        anyhow::ensure!(
            url.starts_with("http://") || url.starts_with("https://"),
            "--to soap+URL needs an http:// or https:// URL of the SOAP service (…/hl7/soap)"
        );
        return Ok(Target::Soap(url.to_string()));
    }
    anyhow::ensure!(
        to.starts_with("http://") || to.starts_with("https://"),
        "--to must be an http(s):// URL of /hl7/v2, mllp://HOST:PORT, or soap+http(s):// URL of /hl7/soap"
    );
    Ok(Target::Http(to.to_string()))
}

/// MSH-n of a message (empty when unreadable).
fn msh_field(message: &str, n: usize) -> String {
    imms_hl7::parse(message)
        .ok()
        .and_then(|m| m.first("MSH").map(|s| s.field(n).value().to_string()))
        .unwrap_or_default()
}

async fn send(
    to: &str,
    user: Option<String>,
    password: Option<String>,
    facility: Option<String>,
    files: &[PathBuf],
) -> anyhow::Result<std::process::ExitCode> {
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
    let target = parse_target(to)?;
    let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    let mut mllp: Option<imms_registry::mllp::MllpClient> = None;
    let (mut ok, mut not_ok) = (0usize, 0usize);
    for file in collect_files(files)? {
        for message in read_messages(&file)? {
            let control_id = msh_field(&message, 10);
            // Ok(answer) is an ACK or RSP; Err(line) is a refusal that is not HL7.
            let answer: Result<String, String> = match &target {
                Target::Http(url) => {
                    let mut req = client
                        .post(url)
                        .header("content-type", "x-application/hl7-v2+er7")
                        .body(message.clone());
                    if let Some(u) = &user {
                        req = req.basic_auth(u, password.as_deref());
                    }
                    let resp = req
                        .send()
                        .await
                        .with_context(|| format!("sending to {url}"))?;
                    let status = resp.status();
                    let body = resp.text().await?;
                    if status.is_success() {
                        Ok(body)
                    } else {
                        Err(format!("HTTP {} {}", status.as_u16(), body.trim()))
                    }
                }
                Target::Mllp(addr) => {
                    let message = match (&user, &password) {
                        (Some(u), Some(p)) => {
                            imms_registry::mllp::set_security(&message, &format!("{u}:{p}"))
                        }
                        _ => message.clone(),
                    };
                    let mut answer = None;
                    // One connection for all messages; reconnect once if it was closed.
                    for _ in 0..2 {
                        if mllp.is_none() {
                            mllp = Some(
                                imms_registry::mllp::MllpClient::connect(addr, TIMEOUT)
                                    .await
                                    .with_context(|| format!("connecting to mllp://{addr}"))?,
                            );
                        }
                        match mllp.as_mut().expect("connected").send(&message).await {
                            Ok(a) => {
                                answer = Some(a);
                                break;
                            }
                            Err(_) => mllp = None,
                        }
                    }
                    Ok(answer.with_context(|| format!("no answer from mllp://{addr}"))?)
                }
                Target::Soap(url) => {
                    let facility_id = facility.clone().unwrap_or_else(|| msh_field(&message, 4));
                    let envelope = imms_registry::soap::envelope::submit_single_message(
                        user.as_deref().unwrap_or(""),
                        password.as_deref().unwrap_or(""),
                        &facility_id,
                        &message,
                    );
                    let resp = client
                        .post(url)
                        .header(
                            "content-type",
                            "application/soap+xml; charset=utf-8; action=\"urn:cdc:iisb:2011:submitSingleMessage\"",
                        )
                        .body(envelope)
                        .send()
                        .await
                        .with_context(|| format!("sending to {url}"))?;
                    let status = resp.status();
                    let body = resp.text().await?;
                    use imms_registry::soap::envelope::{read_reply, Reply};
                    match read_reply(&body) {
                        Ok(Reply::Return(ack)) => Ok(ack),
                        Ok(Reply::Fault { name, reason }) => Err(format!("{name} {reason}")),
                        Err(_) => Err(format!("HTTP {} (not a SOAP answer)", status.as_u16())),
                    }
                }
            };
            let body = match answer {
                Ok(body) => body,
                Err(line) => {
                    not_ok += 1;
                    println!("{control_id} {line}");
                    continue;
                }
            };
            let (code, detail) = summarize_ack(&body);
            if code == "AA" {
                ok += 1
            } else {
                not_ok += 1
            }
            // A query's answer: say what it found (QAK-2), never whom.
            let query_status = imms_hl7::parse(&body)
                .ok()
                .and_then(|m| m.first("QAK").map(|q| q.field(2).value().to_string()))
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            println!(
                "{control_id} {code}{query_status}{}",
                if detail.is_empty() || code == "AA" {
                    String::new()
                } else {
                    format!(" {detail}")
                }
            );
        }
    }
    println!("{ok} accepted, {not_ok} not accepted");
    Ok(if not_ok == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

async fn import(config: Config, paths: &[PathBuf]) -> anyhow::Result<std::process::ExitCode> {
    let app = App::open(config).await?;
    let files = collect_files(paths)?;
    let mut messages = Vec::new();
    for f in &files {
        for (i, m) in read_messages(f)?.into_iter().enumerate() {
            messages.push((f.display().to_string(), i + 1, m));
        }
    }
    let bar = ProgressBar::new(messages.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages  {per_sec}  eta {eta}")
            .expect("valid template"),
    );
    let (mut accepted, mut rejected, mut already) = (0usize, 0usize, 0usize);
    let mut report = |chunk: &[(String, usize, String)],
                      outcomes: Vec<
        Result<imms_registry::ingest::IngestOutcome, imms_registry::store::StoreError>,
    >| {
        for ((file, n, _), outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                Ok(o) if o.stored => {
                    accepted += 1;
                    if o.duplicate {
                        already += 1;
                    }
                    if o.code != AckCode::Accept {
                        let (code, detail) = summarize_ack(&o.ack);
                        bar.suspend(|| {
                            eprintln!(
                                "{file} message {n} ({}): {code} stored in part: {detail}",
                                o.control_id
                            )
                        });
                    }
                }
                Ok(o) => {
                    rejected += 1;
                    let (code, detail) = summarize_ack(&o.ack);
                    bar.suspend(|| {
                        eprintln!("{file} message {n} ({}): {code} {detail}", o.control_id)
                    });
                }
                Err(e) => {
                    rejected += 1;
                    bar.suspend(|| eprintln!("{file} message {n}: not stored: {e}"));
                }
            }
        }
        bar.inc(chunk.len() as u64);
    };
    // The next batch is read and checked while the writers store this one.
    let mut in_flight = None;
    for chunk in messages.chunks(imms_registry::ingest::IMPORT_CHUNK) {
        let raws: Vec<&str> = chunk.iter().map(|(_, _, m)| m.as_str()).collect();
        let submitted = app.ingestor.submit_batch(&raws, Authority::Operator).await;
        if let Some((earlier_chunk, earlier)) = in_flight.replace((chunk, submitted)) {
            report(earlier_chunk, earlier.outcomes().await);
        }
    }
    if let Some((chunk, last)) = in_flight {
        report(chunk, last.outcomes().await);
    }
    bar.finish_and_clear();
    if already > 0 {
        println!("{already} of them were already stored by an earlier import");
    }
    println!("{accepted} accepted, {rejected} rejected");
    Ok(if rejected == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

/// Uses the code tables compiled into the binary and opens no store, so it stores nothing
/// and works anywhere.
fn validate(files: &[PathBuf]) -> anyhow::Result<std::process::ExitCode> {
    let codes = imms_core::CodeTables::embedded();
    let (mut aa, mut ae, mut ar) = (0usize, 0usize, 0usize);
    for file in collect_files(files)? {
        for message in read_messages(&file)? {
            let v = imms_registry::ingest::validate(&codes, &message);
            let id = if v.control_id.is_empty() {
                "-".to_string()
            } else {
                v.control_id.clone()
            };
            match v.code {
                AckCode::Accept => {
                    aa += 1;
                    println!("{id} AA");
                }
                code => {
                    if code == AckCode::Error {
                        ae += 1
                    } else {
                        ar += 1
                    }
                    let errors: Vec<_> = v
                        .problems
                        .iter()
                        .filter(|p| p.severity == imms_registry::problem::Severity::Error)
                        .collect();
                    let first = errors.first().copied().or(v.problems.first());
                    let detail = first
                        .map(|p| format!("{} {}", p.location.display(), p.text))
                        .unwrap_or_default();
                    let more = if errors.len() > 1 {
                        format!(" (+{} more)", errors.len() - 1)
                    } else {
                        String::new()
                    };
                    println!("{id} {} {detail}{more}", code.code());
                }
            }
        }
    }
    println!("{} messages: {aa} AA, {ae} AE, {ar} AR", aa + ae + ar);
    Ok(if ae + ar == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}
