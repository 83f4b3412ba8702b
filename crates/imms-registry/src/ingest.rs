//! The ingest path every transport and the bulk importer share: read, check, store, answer.
//!
//! An AA (or an AE for a message stored in part) is produced only after the transaction
//! holding the data and the answer has committed. A message that cannot be read or is
//! refused stores nothing and gets an AR or AE saying exactly what is wrong.
//!
//! Storing goes through writer tasks that practise group commit: a writer takes every
//! message waiting in its queue (up to [`MAX_GROUP`]), stores them in one transaction,
//! commits once, then answers them all; should anything fail, it stores them one by one.
//! Under load this turns one fsync per message into one per group, and SQLite's single
//! writer never waits on a lock. SQLite's writer also takes the group waiting behind and has
//! it read and routed on a second connection while it writes the first
//! (`store::GroupWriter`), so matching and writing share the two cores.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use imms_core::CodeTables;
use imms_hl7::{parse, Delimiters, ParseError};
use tokio::sync::{mpsc, oneshot};

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
// The error carries every problem found; it is built once per refused message.
#[allow(clippy::result_large_err)]
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

/// Most messages stored by one commit. Measured on a 100,000-message import into SQLite:
/// 256 spent 9.6 s committing (every commit writes the index pages it touched, spread
/// over the whole tree) and 14.7 s writing; 1,024 spent 4.3 s and 12.1 s, and read the
/// store in fewer, larger statements. 2,048 gained nothing more (an import checks 2,048
/// messages at a time, so the writer waited for them).
pub const MAX_GROUP: usize = 1024;

/// Messages a bulk import hands to [`Ingestor::process_batch`] at once: enough to fill
/// every writer's groups.
pub const IMPORT_CHUNK: usize = 2_048;

/// Builds ACKs: our MSH, the message's MSH-10, an ERR per problem.
struct AckMaker {
    registry_id: String,
    counter: AtomicU64,
}

impl AckMaker {
    fn ack(&self, header: Option<&Header>, code: AckCode, problems: &[Problem]) -> String {
        let default = Delimiters::default();
        let now = Utc::now();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
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

    fn for_stored(&self, vxu: &Vxu, problems: &[Problem]) -> (AckCode, String) {
        let code = AckCode::for_problems(problems);
        (code, self.ack(Some(&vxu.header), code, problems))
    }
}

struct Job {
    /// Shared with the routing of the group ahead (`store::GroupWriter`).
    vxu: Arc<Vxu>,
    reply: oneshot::Sender<Result<Stored, StoreError>>,
    /// The person's key in [`InFlight`], released once the answer is sent.
    person: Option<u64>,
}

/// Which writer each person (sending facility + first identifier) with a message waiting or
/// being stored went to. Messages go to writers by date of birth, so two writers never
/// wait on each other's date-of-birth locks (see `group_reads::lock_birth_dates`; with
/// eight writers and a writer per person, waiting on those locks was most of what
/// PostgreSQL did during an import). A person's next message follows the one still in
/// flight to its writer even if its date of birth differs (a correction), so one person's
/// messages are still stored in the order they came.
#[derive(Default)]
struct InFlight {
    /// Person key → (writer, messages in flight).
    persons: Mutex<HashMap<u64, (usize, usize)>>,
}

impl InFlight {
    /// The writer for a message of `person`: the one its earlier message in flight went to,
    /// else `by_birth_date`.
    fn assign(&self, person: Option<u64>, by_birth_date: usize) -> usize {
        let Some(key) = person else {
            return by_birth_date;
        };
        let mut persons = self.persons.lock().unwrap_or_else(|e| e.into_inner());
        let entry = persons.entry(key).or_insert((by_birth_date, 0));
        entry.1 += 1;
        entry.0
    }

    fn release(&self, person: Option<u64>) {
        let Some(key) = person else { return };
        let mut persons = self.persons.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = persons.get_mut(&key) {
            entry.1 = entry.1.saturating_sub(1);
            if entry.1 == 0 {
                persons.remove(&key);
            }
        }
    }
}

/// Moves what is waiting in the queue into `jobs`, up to `max_group` in all.
fn take_waiting(queue: &mut mpsc::Receiver<Job>, jobs: &mut Vec<Job>, max_group: usize) {
    while jobs.len() < max_group {
        match queue.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
}

/// One writer: groups what is waiting, stores it with one commit, answers. On SQLite the
/// writer also takes the group waiting behind, which the store reads and routes while it
/// writes this one (`store::GroupWriter`).
async fn writer(
    store: Store,
    acks: Arc<AckMaker>,
    in_flight: Arc<InFlight>,
    mut queue: mpsc::Receiver<Job>,
    max_group: usize,
) {
    let pipelined = store.database().engine() == imms_db::Engine::Sqlite;
    let mut groups = store.group_writer();
    let mut jobs: Vec<Job> = Vec::new();
    loop {
        if jobs.is_empty() {
            match queue.recv().await {
                Some(job) => jobs.push(job),
                None => return,
            }
            take_waiting(&mut queue, &mut jobs, max_group);
        }
        let mut next: Vec<Job> = Vec::new();
        if pipelined {
            take_waiting(&mut queue, &mut next, max_group);
        }
        let refs: Vec<&Vxu> = jobs.iter().map(|j| &*j.vxu).collect();
        let next_vxus: Vec<Arc<Vxu>> = next.iter().map(|j| j.vxu.clone()).collect();
        let make_ack = |vxu: &Vxu, problems: &[Problem]| acks.for_stored(vxu, problems);
        let results = match groups.store(&refs, &next_vxus, Utc::now(), &make_ack).await {
            Ok(results) => results,
            Err(e) => {
                tracing::warn!(error = %e, messages = refs.len(), "a group commit failed; storing its messages one by one");
                refs.iter()
                    .map(|_| Err(StoreError::Conflict(e.to_string())))
                    .collect()
            }
        };
        for (job, result) in jobs.drain(..).zip(results) {
            // A message that failed inside the group is tried again alone (with retries).
            let result = match result {
                Ok(stored) => Ok(stored),
                Err(_) => {
                    let make_ack = |problems: &[Problem]| acks.for_stored(&job.vxu, problems);
                    store.ingest(&job.vxu, Utc::now(), &make_ack).await
                }
            };
            let _ = job.reply.send(result);
            in_flight.release(job.person);
        }
        jobs = next;
    }
}

pub struct Ingestor {
    store: Store,
    codes: Arc<CodeTables>,
    acks: Arc<AckMaker>,
    /// One queue per writer. Messages go by date of birth; a person's message still in
    /// flight pins the next one to its writer ([`InFlight`]), so one person's messages are
    /// stored in the order they came (an update after its add, a delete after both).
    queues: Vec<mpsc::Sender<Job>>,
    in_flight: Arc<InFlight>,
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

/// Messages of a batch handed to the writers; see [`Ingestor::submit_batch`].
pub struct Submitted {
    #[allow(clippy::type_complexity)]
    items: Vec<
        Result<
            (
                (String, String),
                oneshot::Receiver<Result<Stored, StoreError>>,
            ),
            IngestOutcome,
        >,
    >,
}

impl Submitted {
    /// The answers, in input order, once every group holding them has committed.
    pub async fn outcomes(self) -> Vec<Result<IngestOutcome, StoreError>> {
        let mut results = Vec::with_capacity(self.items.len());
        for item in self.items {
            results.push(match item {
                Err(outcome) => Ok(outcome),
                Ok((ids, answer)) => Ingestor::stored_outcome(ids, answer).await,
            });
        }
        results
    }
}

/// What reading and checking decided before anything is stored.
#[allow(clippy::large_enum_variant)]
enum Checked {
    /// Answered without storing (rejected, or the person could not be identified).
    Answered(IngestOutcome),
    ToStore(Vxu),
}

/// How many writer tasks an [`Ingestor`] starts on `engine` (see [`Ingestor::new`]).
pub fn writers(engine: imms_db::Engine) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    match engine {
        imms_db::Engine::Sqlite => 1,
        imms_db::Engine::Postgres => (2 * cores).clamp(2, 8),
    }
}

impl Ingestor {
    /// Starts the writer tasks. SQLite has one writer at a time, so one task; PostgreSQL
    /// writes in parallel, so several tasks keep the server busy while one waits on a round
    /// trip: two per core of this node, from 2 to 8 (on 2 cores, 4 writers imported 12 %
    /// faster than 8 and 5 % faster than 2; docs/benchmarks.md). A group costs about the
    /// same few statements whatever its size, so groups are as large as what is waiting
    /// (live traffic makes small ones, an import large ones).
    /// Must be called inside a tokio runtime.
    pub fn new(store: Store, codes: Arc<CodeTables>, registry_id: impl Into<String>) -> Ingestor {
        let (writers, max_group) = (writers(store.database().engine()), MAX_GROUP);
        let acks = Arc::new(AckMaker {
            registry_id: registry_id.into(),
            counter: AtomicU64::new(0),
        });
        let mut queues = Vec::with_capacity(writers);
        let in_flight = Arc::new(InFlight::default());
        for _ in 0..writers {
            let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
            queues.push(tx);
            tokio::spawn(writer(
                store.clone(),
                acks.clone(),
                in_flight.clone(),
                rx,
                max_group,
            ));
        }
        Ingestor {
            store,
            codes,
            acks,
            queues,
            in_flight,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn codes(&self) -> &CodeTables {
        &self.codes
    }

    /// The registry's own id (MSH-3 and MSH-4 of its answers).
    pub fn registry_id(&self) -> &str {
        &self.acks.registry_id
    }

    fn answered(
        &self,
        header: Option<&Header>,
        code: AckCode,
        problems: &[Problem],
    ) -> IngestOutcome {
        IngestOutcome {
            ack: self.acks.ack(header, code, problems),
            code,
            facility_id: header.map(|h| h.facility_id.clone()).unwrap_or_default(),
            control_id: header.map(|h| h.control_id.clone()).unwrap_or_default(),
            duplicate: false,
            stored: false,
        }
    }

    fn check(&self, raw: &str, authority: Authority<'_>) -> Checked {
        match check(&self.codes, raw, authority) {
            Err((header, problems)) => {
                Checked::Answered(self.answered(header.as_ref(), AckCode::Reject, &problems))
            }
            Ok(vxu) if vxu.worst_scope() >= Scope::Person => {
                let code = AckCode::for_problems(&vxu.problems);
                Checked::Answered(self.answered(Some(&vxu.header), code, &vxu.problems))
            }
            Ok(vxu) => Checked::ToStore(vxu),
        }
    }

    /// Hands a readable message to a writer; the answer comes after its group committed.
    async fn submit(&self, vxu: Vxu) -> oneshot::Receiver<Result<Stored, StoreError>> {
        let (reply, answer) = oneshot::channel();
        let writers = self.queues.len();
        let (person, writer) = if writers > 1 {
            let person = person_key(&vxu);
            let writer = self
                .in_flight
                .assign(person, birth_date_writer(&vxu, writers));
            (person, writer)
        } else {
            (None, 0)
        };
        let job = Job {
            vxu: Arc::new(vxu),
            reply,
            person,
        };
        if let Err(mpsc::error::SendError(job)) = self.queues[writer].send(job).await {
            self.in_flight.release(job.person);
            let _ = job.reply.send(Err(StoreError::Conflict(
                "the registry is shutting down".into(),
            )));
        }
        answer
    }

    async fn stored_outcome(
        vxu_header: (String, String),
        answer: oneshot::Receiver<Result<Stored, StoreError>>,
    ) -> Result<IngestOutcome, StoreError> {
        let stored = answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Conflict("the writer stopped".into())))?;
        let (ack, code, duplicate) = match stored {
            Stored::Duplicate { ack, code } => (ack, code_of(&code), true),
            Stored::Applied { code, ack, .. } => (ack, code, false),
        };
        Ok(IngestOutcome {
            ack,
            code,
            facility_id: vxu_header.0,
            control_id: vxu_header.1,
            duplicate,
            stored: true,
        })
    }

    /// Processes one message end to end. An `Err` means the store failed: nothing was
    /// stored and the caller should answer with a transient failure (the sender retries).
    pub async fn process(
        &self,
        raw: &str,
        authority: Authority<'_>,
    ) -> Result<IngestOutcome, StoreError> {
        match self.check(raw, authority) {
            Checked::Answered(outcome) => Ok(outcome),
            Checked::ToStore(vxu) => {
                let ids = (
                    vxu.header.facility_id.clone(),
                    vxu.header.control_id.clone(),
                );
                let answer = self.submit(vxu).await;
                Self::stored_outcome(ids, answer).await
            }
        }
    }

    /// Processes many messages (bulk import); answers in input order. All are queued at
    /// once, so the writers commit them in large groups.
    pub async fn process_batch(
        &self,
        raws: &[&str],
        authority: Authority<'_>,
    ) -> Vec<Result<IngestOutcome, StoreError>> {
        self.submit_batch(raws, authority).await.outcomes().await
    }

    /// Reads and checks every message, then queues the readable ones all at once (so a
    /// writer finds a full group waiting); their answers come from [`Submitted::outcomes`].
    /// An importer checks the next batch while the writers store this one.
    pub async fn submit_batch(&self, raws: &[&str], authority: Authority<'_>) -> Submitted {
        let checked: Vec<Checked> = raws.iter().map(|raw| self.check(raw, authority)).collect();
        let mut items = Vec::with_capacity(checked.len());
        for c in checked {
            items.push(match c {
                Checked::Answered(outcome) => Err(outcome),
                Checked::ToStore(vxu) => {
                    let ids = (
                        vxu.header.facility_id.clone(),
                        vxu.header.control_id.clone(),
                    );
                    Ok((ids, self.submit(vxu).await))
                }
            });
        }
        Submitted { items }
    }

    /// The answer for a store failure: AR with 207, so the sender knows to resend.
    pub fn internal_error_ack(&self, raw: &str) -> String {
        let header = parse(raw).ok().map(|m| Header::read(&m).0);
        let problem = Problem::new(Location::new("MSH", 1, 0), Condition::ApplicationInternalError, Scope::Message,
            "The registry could not store the message just now; nothing was stored. Please send it again later.");
        self.acks.ack(header.as_ref(), AckCode::Reject, &[problem])
    }
}

/// A person's key for [`InFlight`]: the sending facility and the person's first identifier.
fn person_key(vxu: &Vxu) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let id = vxu.person.as_ref()?.identifiers.first()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    vxu.header.facility_id.hash(&mut h);
    id.value.hash(&mut h);
    Some(h.finish())
}

/// The writer for a message by its person's date of birth (by facility when it has no
/// person): persons born the same day are stored by one writer.
fn birth_date_writer(vxu: &Vxu, writers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match &vxu.person {
        Some(p) => p.birth_date.hash(&mut h),
        None => vxu.header.facility_id.hash(&mut h),
    }
    (h.finish() % writers as u64) as usize
}

fn code_of(code: &str) -> AckCode {
    match code {
        "AA" => AckCode::Accept,
        "AE" => AckCode::Error,
        _ => AckCode::Reject,
    }
}

#[cfg(test)]
mod tests {
    use super::InFlight;

    #[test]
    fn a_persons_messages_in_flight_stay_with_one_writer() {
        let in_flight = InFlight::default();
        // First message of person 7 goes where its date of birth sends it.
        assert_eq!(in_flight.assign(Some(7), 3), 3);
        // A second one with a corrected date of birth follows it to writer 3.
        assert_eq!(in_flight.assign(Some(7), 5), 3);
        // Other persons and messages without a person go by date of birth.
        assert_eq!(in_flight.assign(Some(8), 5), 5);
        assert_eq!(in_flight.assign(None, 1), 1);
        in_flight.release(Some(7));
        assert_eq!(
            in_flight.assign(Some(7), 6),
            3,
            "one message of 7 still in flight"
        );
        in_flight.release(Some(7));
        in_flight.release(Some(7));
        assert_eq!(
            in_flight.assign(Some(7), 6),
            6,
            "none in flight: by date of birth"
        );
        in_flight.release(None);
    }
}
