//! ACK^V04 per the CDC IG (profile Z23): MSA-1 AA, AE or AR, and one ERR per problem.

use chrono::{DateTime, Utc};
use imms_hl7::{encode, Delimiters, SegmentBuilder};

use crate::problem::{Problem, Scope};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Accepted (warnings allowed).
    Accept,
    /// Errors: stored in part, or nothing stored because of the content.
    Error,
    /// Rejected: header, type, version or credentials; nothing stored.
    Reject,
}

impl AckCode {
    pub fn code(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }

    pub fn for_problems(problems: &[Problem]) -> AckCode {
        let worst = problems
            .iter()
            .map(|p| p.scope)
            .max()
            .unwrap_or(Scope::Nothing);
        match worst {
            Scope::Message => AckCode::Reject,
            Scope::Person | Scope::Dose => AckCode::Error,
            Scope::Nothing => AckCode::Accept,
        }
    }
}

/// Who we are and who we answer, for the ACK's MSH.
pub struct AckContext<'a> {
    pub registry_id: &'a str,
    pub delimiters: &'a Delimiters,
    /// The message's MSH-3 and MSH-4 (empty when unreadable).
    pub sending_application: &'a str,
    pub sending_facility: &'a str,
    /// MSH-10 of the message acknowledged.
    pub control_id: &'a str,
    /// MSH-11 of the message, echoed (P when unknown).
    pub processing_id: &'a str,
    pub now: DateTime<Utc>,
    /// The ACK's own MSH-10.
    pub ack_control_id: &'a str,
}

pub fn build_ack(ctx: &AckContext<'_>, code: AckCode, problems: &[Problem]) -> String {
    let mut segments = Vec::with_capacity(2 + problems.len());
    let mut msh = SegmentBuilder::new("MSH");
    msh.set(3, ctx.registry_id)
        .set(4, ctx.registry_id)
        .set(5, ctx.sending_application)
        .set(6, ctx.sending_facility)
        .set(7, &ctx.now.format("%Y%m%d%H%M%S%z").to_string())
        .set_components(9, &["ACK", "V04", "ACK"])
        .set(10, ctx.ack_control_id)
        .set(
            11,
            if ctx.processing_id.is_empty() {
                "P"
            } else {
                ctx.processing_id
            },
        )
        .set(12, "2.5.1")
        .set(15, "NE")
        .set(16, "NE")
        .set_components(21, &["Z23", "CDCPHINVS"]);
    segments.push(msh);
    let mut msa = SegmentBuilder::new("MSA");
    msa.set(1, code.code()).set(2, ctx.control_id);
    segments.push(msa);
    segments.extend(problems.iter().map(err_segment));
    encode(ctx.delimiters, &segments)
}

/// One ERR segment (used by ACKs and query responses alike): ERR-2 location, ERR-3 table
/// 0357, ERR-4 severity, ERR-5 table 0533, ERR-8 the plain-words message.
pub fn err_segment(p: &Problem) -> SegmentBuilder {
    let mut err = SegmentBuilder::new("ERR");
    let l = &p.location;
    let occurrence = l.occurrence.to_string();
    let field = if l.field > 0 {
        l.field.to_string()
    } else {
        String::new()
    };
    let repetition = if l.field > 0 {
        l.repetition.max(1).to_string()
    } else {
        String::new()
    };
    let component = if l.component > 0 {
        l.component.to_string()
    } else {
        String::new()
    };
    err.set_components(
        2,
        &[&l.segment, &occurrence, &field, &repetition, &component],
    );
    err.set_components(
        3,
        &[
            &p.condition.code().to_string(),
            p.condition.text(),
            "HL70357",
        ],
    );
    err.set(4, p.severity.code());
    if let Some(app) = p.app_error {
        err.set_components(5, &[&app.code().to_string(), app.text(), "HL70533"]);
    }
    err.set(8, &p.text);
    err
}
