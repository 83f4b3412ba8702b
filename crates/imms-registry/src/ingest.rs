//! The ingest path every transport and the bulk importer share: read, check, store, answer.
//!
//! An AA (or an AE for a message stored in part) is produced only after the transaction
//! holding the data and the answer has committed. A message that cannot be read or is
//! refused stores nothing and gets an AR or AE saying exactly what is wrong.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::Utc;
use imms_core::CodeTables;
use imms_hl7::{parse, Delimiters, ParseError};
use tokio::sync::Semaphore;

use crate::ack::{build_ack, AckCode, AckContext};
use crate::problem::{Condition, Location, Problem, Scope};
use crate::store::{Store, StoreError, Stored};
use crate::vxu::{read_vxu, Header, Vxu};

/// Who vouches for the message's MSH-4.
#[derive(Debug, Clone, Copy)]
pub enum Authority<'a> {
    /// Credentials of this facility were presented: MSH-4 must equal it.
    Facility(&'a str),
    /// An operator's bulk import or validation: MSH-4 is taken as sent.
    Operator,
}

#[derive(Debug, Clone)]
pub struct IngestOutcome {
    pub ack: String,
    pub code: AckCode,
    pub facility_id: String,
    pub control_id: String,
    /// The same message was stored before; this is its earlier answer.
    pub duplicate: bool,
    /// Something of the message is in the store (now or from before).
    pub stored: bool,
}

/// What a message would get, without storing anything.
#[derive(Debug, Clone)]
pub struct Validation {
    pub control_id: String,
    pub code: AckCode,
    pub problems: Vec<Problem>,
}

/// Reads and checks a message, with the authority check, without storing it.
pub fn check(
    codes: &CodeTables,
    raw: &str,
    authority: Authority<'_>,
) -> Result<Vxu, (Option<Header>, Vec<Problem>)> {
    let message = parse(raw).map_err(|e| (None, vec![parse_problem(&e)]))?;
    let mut vxu = read_vxu(&message, codes, Utc::now().date_naive());
    if let Authority::Facility(f) = authority {
        if vxu.header.facility_id != f && !vxu.header.facility_id.is_empty() {
            vxu.problems.push(Problem::new(Location::new("MSH", 1, 4), Condition::UnknownKeyIdentifier, Scope::Message,
                "MSH-4 (sending facility) is not the facility these credentials belong to; nothing was stored."));
        }
    }
    Ok(vxu)
}

/// What a message would get (`imms hl7 validate`): nothing is stored.
pub fn validate(codes: &CodeTables, raw: &str) -> Validation {
    match check(codes, raw, Authority::Operator) {
        Ok(vxu) => Validation {
            control_id: vxu.header.control_id.clone(),
            code: AckCode::for_problems(&vxu.problems),
            problems: vxu.problems,
        },
        Err((_, problems)) => Validation {
            control_id: String::new(),
            code: AckCode::Reject,
            problems,
        },
    }
}

pub struct Ingestor {
    store: Store,
    codes: Arc<CodeTables>,
    registry_id: String,
    /// Writers allowed at once: one for SQLite (a single-writer engine), more for PostgreSQL.
    writers: Semaphore,
    ack_counter: AtomicU64,
}

fn parse_problem(e: &ParseError) -> Problem {
    let (segment, condition) = match e.segment_position() {
        Some(1) | None => ("MSH", Condition::SegmentSequence),
        Some(_) => ("", Condition::DataType),
    };
    let mut location = Location::new(segment, 1, 0);
    if let Some(pos) = e.segment_position() {
        location.occurrence = pos;
    }
    Problem::new(
        location,
        condition,
        Scope::Message,
        format!("The message could not be read as HL7 v2: {e}."),
    )
}

impl Ingestor {
    pub fn new(store: Store, codes: Arc<CodeTables>, registry_id: impl Into<String>) -> Ingestor {
        let writers = match store.database().engine() {
            imms_db::Engine::Sqlite => 1,
            imms_db::Engine::Postgres => 8,
        };
        Ingestor {
            store,
            codes,
            registry_id: registry_id.into(),
            writers: Semaphore::new(writers),
            ack_counter: AtomicU64::new(0),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn codes(&self) -> &CodeTables {
        &self.codes
    }

    fn ack(&self, header: Option<&Header>, code: AckCode, problems: &[Problem]) -> String {
        let default = Delimiters::default();
        let now = Utc::now();
        let n = self.ack_counter.fetch_add(1, Ordering::Relaxed);
        let ack_id = format!("{}{:06}", now.format("%Y%m%d%H%M%S%3f"), n % 1_000_000);
        let ctx = AckContext {
            registry_id: &self.registry_id,
            delimiters: header.map(|h| &h.delimiters).unwrap_or(&default),
            sending_application: header.map(|h| h.sending_application.as_str()).unwrap_or(""),
            sending_facility: header.map(|h| h.facility_id.as_str()).unwrap_or(""),
            control_id: header.map(|h| h.control_id.as_str()).unwrap_or(""),
            processing_id: header.map(|h| h.processing_id.as_str()).unwrap_or("P"),
            now,
            ack_control_id: &ack_id,
        };
        build_ack(&ctx, code, problems)
    }

    fn check(
        &self,
        raw: &str,
        authority: Authority<'_>,
    ) -> Result<Vxu, (Option<Header>, Vec<Problem>)> {
        check(&self.codes, raw, authority)
    }

    /// Processes one message end to end. An `Err` means the store failed: nothing was
    /// stored and the caller should answer with a transient failure (the sender retries).
    pub async fn process(
        &self,
        raw: &str,
        authority: Authority<'_>,
    ) -> Result<IngestOutcome, StoreError> {
        let vxu = match self.check(raw, authority) {
            Ok(vxu) => vxu,
            Err((header, problems)) => {
                let ack = self.ack(header.as_ref(), AckCode::Reject, &problems);
                return Ok(IngestOutcome {
                    ack,
                    code: AckCode::Reject,
                    facility_id: String::new(),
                    control_id: String::new(),
                    duplicate: false,
                    stored: false,
                });
            }
        };
        let code = AckCode::for_problems(&vxu.problems);
        if vxu.worst_scope() >= Scope::Person {
            let ack = self.ack(Some(&vxu.header), code, &vxu.problems);
            return Ok(IngestOutcome {
                ack,
                code,
                facility_id: vxu.header.facility_id.clone(),
                control_id: vxu.header.control_id.clone(),
                duplicate: false,
                stored: false,
            });
        }
        let _permit = self
            .writers
            .acquire()
            .await
            .expect("semaphore never closed");
        let make_ack = |problems: &[Problem]| {
            let code = AckCode::for_problems(problems);
            (code, self.ack(Some(&vxu.header), code, problems))
        };
        let stored = self.store.ingest(&vxu, Utc::now(), &make_ack).await?;
        Ok(Self::outcome_of(&vxu, stored))
    }

    /// Processes many messages with one commit (bulk import). Answers are in input order.
    /// When the batch transaction fails as a whole, each message is retried on its own.
    pub async fn process_batch(
        &self,
        raws: &[&str],
        authority: Authority<'_>,
    ) -> Vec<Result<IngestOutcome, StoreError>> {
        let mut results: Vec<Option<Result<IngestOutcome, StoreError>>> =
            Vec::with_capacity(raws.len());
        let mut to_store: Vec<(usize, Vxu)> = Vec::new();
        for (i, raw) in raws.iter().enumerate() {
            match self.check(raw, authority) {
                Err((header, problems)) => {
                    let ack = self.ack(header.as_ref(), AckCode::Reject, &problems);
                    results.push(Some(Ok(IngestOutcome {
                        ack,
                        code: AckCode::Reject,
                        facility_id: String::new(),
                        control_id: String::new(),
                        duplicate: false,
                        stored: false,
                    })));
                }
                Ok(vxu) if vxu.worst_scope() >= Scope::Person => {
                    let code = AckCode::for_problems(&vxu.problems);
                    let ack = self.ack(Some(&vxu.header), code, &vxu.problems);
                    results.push(Some(Ok(IngestOutcome {
                        ack,
                        code,
                        facility_id: vxu.header.facility_id.clone(),
                        control_id: vxu.header.control_id.clone(),
                        duplicate: false,
                        stored: false,
                    })));
                }
                Ok(vxu) => {
                    results.push(None);
                    to_store.push((i, vxu));
                }
            }
        }
        if !to_store.is_empty() {
            let refs: Vec<&Vxu> = to_store.iter().map(|(_, v)| v).collect();
            let make_ack = |vxu: &Vxu, problems: &[Problem]| {
                let code = AckCode::for_problems(problems);
                (code, self.ack(Some(&vxu.header), code, problems))
            };
            let stored = {
                let _permit = self
                    .writers
                    .acquire()
                    .await
                    .expect("semaphore never closed");
                self.store.ingest_batch(&refs, Utc::now(), &make_ack).await
            };
            match stored {
                Ok(stored) => {
                    for ((i, vxu), s) in to_store.iter().zip(stored) {
                        results[*i] = Some(match s {
                            Ok(s) => Ok(Self::outcome_of(vxu, s)),
                            Err(_) => self.process(raws[*i], authority).await,
                        });
                    }
                }
                Err(_) => {
                    for (i, _) in &to_store {
                        results[*i] = Some(self.process(raws[*i], authority).await);
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every message answered"))
            .collect()
    }

    fn outcome_of(vxu: &Vxu, stored: Stored) -> IngestOutcome {
        let (ack, code, duplicate) = match stored {
            Stored::Duplicate { ack, code } => (ack, Self::code_of(&code), true),
            Stored::Applied { code, ack, .. } => (ack, code, false),
        };
        IngestOutcome {
            ack,
            code,
            facility_id: vxu.header.facility_id.clone(),
            control_id: vxu.header.control_id.clone(),
            duplicate,
            stored: true,
        }
    }

    fn code_of(code: &str) -> AckCode {
        match code {
            "AA" => AckCode::Accept,
            "AE" => AckCode::Error,
            _ => AckCode::Reject,
        }
    }

    /// The answer for a store failure: AR with 207, so the sender knows to resend.
    pub fn internal_error_ack(&self, raw: &str) -> String {
        let header = parse(raw).ok().map(|m| Header::read(&m).0);
        let problem = Problem::new(Location::new("MSH", 1, 0), Condition::ApplicationInternalError, Scope::Message,
            "The registry could not store the message just now; nothing was stored. Please send it again later.");
        self.ack(header.as_ref(), AckCode::Reject, &[problem])
    }
}
