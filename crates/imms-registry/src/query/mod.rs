//! Queries: QBP^Q11 Z34 (request immunization history) answered with RSP^K11, per the CDC
//! HL7 2.5.1 Implementation Guide for Immunization Messaging, release 1.5.
//!
//! - one person certainly meant → Z32 with their PID and every dose, refusal and observation;
//! - no one → Z33 with QAK-2 NF; several people could be meant → Z33 with QAK-2 TM (never a
//!   guess, never a list of candidates);
//! - a malformed query → MSA-1 AE, QAK-2 AE, an ERR per problem;
//! - Z44 (evaluated history and forecast), other queries, a bad header or a forged MSH-4 →
//!   MSA-1 AR, QAK-2 AR.
//!
//! The person is looked up with the rule ingest uses to link messages ([`lookup`]). A query
//! writes nothing but one audit line (ids and the outcome only).

pub mod lookup;
pub mod request;
pub mod response;

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use imms_hl7::Message;

use crate::ingest::{Authority, Ingestor};
use crate::problem::{Condition, Location, Problem, Scope};
use crate::store::StoreError;
use lookup::{look_up, Found};
use request::{read_query, Asked, Query};
use response::{build_z32, build_z33, QueryStatus, ResponseContext};

/// The answer to a query.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    pub response: String,
    pub status: QueryStatus,
    pub control_id: String,
    pub facility_id: String,
}

static RESPONSE_COUNTER: AtomicU64 = AtomicU64::new(0);

fn response_control_id() -> String {
    let n = RESPONSE_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}Q{:06}",
        Utc::now().format("%Y%m%d%H%M%S%3f"),
        n % 1_000_000
    )
}

/// Is this parsed message a query (MSH-9.1 QBP)?
pub fn is_query(message: &Message<'_>) -> bool {
    message
        .first("MSH")
        .is_some_and(|m| m.field(9).component(1).value().trim() == "QBP")
}

/// Answers a parsed QBP message.
pub async fn answer(
    ingestor: &Ingestor,
    message: &Message<'_>,
    authority: Authority<'_>,
) -> Result<QueryOutcome, StoreError> {
    let today = Utc::now().date_naive();
    let mut query: Query = read_query(message, today);
    if let Authority::Facility(f) = authority {
        if !query.header.facility_id.is_empty() && query.header.facility_id != f {
            query.asked = Err(vec![Problem::new(
                Location::new("MSH", 1, 4),
                Condition::UnknownKeyIdentifier,
                Scope::Message,
                "MSH-4 (sending facility) is not the facility these credentials belong to; the query was not answered.",
            )]);
        }
    }
    let now = Utc::now();
    let response_id = response_control_id();
    let ctx = ResponseContext {
        registry_id: ingestor.registry_id(),
        delimiters: &query.header.delimiters,
        sending_application: &query.header.sending_application,
        sending_facility: &query.header.facility_id,
        control_id: &query.header.control_id,
        processing_id: &query.header.processing_id,
        now,
        response_control_id: &response_id,
        query_name: query.query_name,
        tag: &query.tag,
    };
    let (response, status) = match &query.asked {
        Err(problems) => {
            let status = if problems.iter().any(|p| p.scope == Scope::Message) {
                QueryStatus::Rejected
            } else {
                QueryStatus::Error
            };
            (build_z33(&ctx, status, problems), status)
        }
        Ok(Asked::Forecast) => {
            let problem = Problem::new(Location::new("QPD", 1, 1), Condition::UnsupportedMessageType, Scope::Message,
                "Z44 (evaluated immunization history and forecast) is not supported by this registry yet; send a Z34 query (request immunization history) instead.");
            (
                build_z33(&ctx, QueryStatus::Rejected, &[problem]),
                QueryStatus::Rejected,
            )
        }
        Ok(Asked::History(person)) => match look_up(ingestor.store(), person).await? {
            Found::One(id) => match ingestor.store().person_record(id).await? {
                Some(record) => (
                    build_z32(&ctx, ingestor.codes(), &record, &[]),
                    QueryStatus::Ok,
                ),
                None => (
                    build_z33(&ctx, QueryStatus::NotFound, &[not_found()]),
                    QueryStatus::NotFound,
                ),
            },
            Found::NotFound => (
                build_z33(&ctx, QueryStatus::NotFound, &[not_found()]),
                QueryStatus::NotFound,
            ),
            Found::TooMany => {
                let problem = Problem::new(Location::new("QPD", 1, 0), Condition::SegmentSequence, Scope::Nothing,
                    "More than one person could be meant; no record is sent. Add this facility's patient identifier (QPD-3), the middle name, address, phone or mother's maiden name and ask again.")
                    .informational();
                (
                    build_z33(&ctx, QueryStatus::TooMany, &[problem]),
                    QueryStatus::TooMany,
                )
            }
        },
    };
    let facility = query.header.facility_id.clone();
    let _ = ingestor
        .store()
        .audit(
            now,
            &format!("facility:{}", facility.chars().take(64).collect::<String>()),
            Some(&facility)
                .filter(|f| !f.is_empty())
                .map(|f| f.as_str()),
            Some(&query.header.control_id)
                .filter(|c| !c.is_empty())
                .map(|c| c.as_str()),
            &format!("query {} {}", query.query_name, status.code()),
        )
        .await;
    Ok(QueryOutcome {
        response,
        status,
        control_id: query.header.control_id,
        facility_id: facility,
    })
}

fn not_found() -> Problem {
    Problem::new(Location::new("QPD", 1, 0), Condition::SegmentSequence, Scope::Nothing,
        "No person was found with certainty. A match needs this facility's patient identifier (QPD-3), or the legal name, date of birth and sex plus one more agreeing fact: middle name, address, phone or mother's maiden name.")
        .informational()
}
