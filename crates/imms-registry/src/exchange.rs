//! One answer for one message, whatever the transport: a query (QBP) gets an RSP from
//! [`crate::query`], anything else goes through the one ingest path,
//! [`Ingestor::process`], and gets its ACK. HTTP, SOAP and MLLP all call [`answer`].

use imms_hl7::parse;

use crate::ingest::{Authority, Ingestor};
use crate::store::StoreError;

/// The answer to one message, and what to log and count about it (no content).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The ACK or RSP text.
    pub text: String,
    /// MSA-1: AA, AE or AR.
    pub code: &'static str,
    /// MSH-10 of the message answered (empty when unreadable).
    pub control_id: String,
    /// "VXU" for ingest (and anything not a query), "QBP" for a query.
    pub kind: &'static str,
}

/// Answers one message from a facility whose credentials were checked.
pub async fn answer(
    ingestor: &Ingestor,
    raw: &str,
    authority: Authority<'_>,
) -> Result<Answer, StoreError> {
    if let Ok(message) = parse(raw) {
        if crate::query::is_query(&message) {
            let q = crate::query::answer(ingestor, &message, authority).await?;
            return Ok(Answer {
                text: q.response,
                code: q.status.msa(),
                control_id: q.control_id,
                kind: "QBP",
            });
        }
    }
    let o = ingestor.process(raw, authority).await?;
    Ok(Answer {
        text: o.ack,
        code: o.code.code(),
        control_id: o.control_id,
        kind: "VXU",
    })
}
