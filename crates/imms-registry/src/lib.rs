//! # imms-registry — the state immunization information system
//!
//! Clinics report doses as HL7 v2.5.1 VXU^V04 messages and get an ACK^V04 that says exactly
//! what happened to each part. This crate reads messages ([`vxu`]), decides what can be
//! stored ([`problem`]), links each message to the one right person ([`store`]), stores
//! it durably in one transaction and only then answers AA ([`ingest`]), and serves the
//! HTTP transport ([`http`]).

pub mod ack;
pub mod batch;
pub mod codes;
pub mod credentials;
pub mod exchange;
pub mod generate;
pub mod http;
pub mod ingest;
pub mod matching;
pub mod metrics;
pub mod mllp;
pub mod problem;
pub mod query;
pub mod record_input;
pub mod soap;
pub mod store;
pub mod vxu;

pub use ingest::{IngestOutcome, Ingestor};
