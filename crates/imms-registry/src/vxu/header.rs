//! MSH: who sent the message and what it claims to be. Any problem here makes the message
//! unusable (MSA-1 AR).

use imms_hl7::{Delimiters, Message};

use crate::problem::{Condition, Location, Problem, Scope};

#[derive(Debug, Clone)]
pub struct Header {
    pub delimiters: Delimiters,
    pub sending_application: String,
    /// MSH-4.1 (or MSH-4.2 when only the universal id is sent).
    pub facility_id: String,
    pub control_id: String,
    pub message_type: String,
    pub trigger_event: String,
    pub processing_id: String,
    pub version: String,
}

impl Header {
    /// Reads MSH. Problems are at message scope; the header is returned even with problems
    /// (when MSH-10 is readable the ACK can still name it).
    pub fn read(message: &Message<'_>) -> (Header, Vec<Problem>) {
        let msh = message
            .first("MSH")
            .expect("a parsed message starts with MSH");
        let at = |field| Location::new("MSH", 1, field);
        let hd = |n: usize| {
            let f = msh.field(n);
            let ns = f.component(1).value().trim().to_string();
            if ns.is_empty() {
                f.component(2).value().trim().to_string()
            } else {
                ns
            }
        };
        let msg_type = msh.field(9);
        let header = Header {
            delimiters: *message.delimiters(),
            sending_application: hd(3),
            facility_id: hd(4),
            control_id: msh.field(10).value().trim().to_string(),
            message_type: msg_type.component(1).value().trim().to_string(),
            trigger_event: msg_type.component(2).value().trim().to_string(),
            processing_id: msh.field(11).component(1).value().trim().to_string(),
            version: msh.field(12).component(1).value().trim().to_string(),
        };
        let mut problems = Vec::new();
        let mut reject = |loc: Location, condition, text: &str| {
            problems.push(Problem::new(loc, condition, Scope::Message, text));
        };
        if header.facility_id.is_empty() {
            reject(at(4), Condition::RequiredFieldMissing, "MSH-4 (sending facility) is required: it says which registered facility sent the message.");
        }
        if msh.field(7).is_empty() {
            reject(
                at(7),
                Condition::RequiredFieldMissing,
                "MSH-7 (date/time of message) is required.",
            );
        }
        if header.control_id.is_empty() {
            reject(at(10), Condition::RequiredFieldMissing, "MSH-10 (message control ID) is required: it identifies the message so that a resend is not stored twice.");
        } else if header.control_id.chars().count() > 199 {
            reject(
                at(10),
                Condition::DataType,
                "MSH-10 (message control ID) is longer than 199 characters.",
            );
        }
        if header.message_type.is_empty() {
            reject(
                at(9),
                Condition::RequiredFieldMissing,
                "MSH-9 (message type) is required.",
            );
        } else if header.message_type != "VXU" {
            reject(
                at(9).component(1),
                Condition::UnsupportedMessageType,
                "This endpoint accepts VXU (immunization update) messages only.",
            );
        } else if header.trigger_event != "V04" {
            reject(
                at(9).component(2),
                Condition::UnsupportedEventCode,
                "A VXU message must have trigger event V04 (MSH-9.2).",
            );
        }
        match header.processing_id.as_str() {
            "P" | "T" | "D" => {}
            "" => reject(at(11), Condition::RequiredFieldMissing, "MSH-11 (processing ID) is required: P for production, T for training, D for debugging."),
            _ => reject(at(11), Condition::UnsupportedProcessingId, "MSH-11 (processing ID) must be P, T or D."),
        }
        match header.version.as_str() {
            "2.5.1" => {}
            "" => reject(at(12), Condition::RequiredFieldMissing, "MSH-12 (version ID) is required and must be 2.5.1."),
            _ => reject(at(12), Condition::UnsupportedVersionId, "Only HL7 version 2.5.1 is supported (MSH-12), as the CDC implementation guide requires."),
        }
        (header, problems)
    }
}
