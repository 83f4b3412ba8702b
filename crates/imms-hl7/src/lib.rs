//! # imms-hl7: HL7 v2 messages as text, read and written
//!
//! Clinics' EHRs send the registry HL7 v2.5.1 messages (VXU^V04 to report a dose, QBP^Q11 to
//! ask for a record) in the ER7 "pipe and hat" encoding, and get ACK and RSP messages back.
//! This crate is the codec for that text and nothing more: no I/O, no knowledge of message
//! types. The mapping of VXU, QBP, RSP and ACK to the registry's domain is built on top of it.
//!
//! ## Reading
//!
//! ```
//! let text = "MSH|^~\\&|MYEHR|CLINIC|IMMS|STATE|20240315||VXU^V04^VXU_V04|42|P|2.5.1\r\
//!             PID|1||90012^^^MPI^MR~444-22-1234^^^SSA^SS||Nuclear^Nancy^D||20140125|F\r\
//!             RXA|0|1|20240315||08^Hep B, ped/adol^CVX|0.5|mL^^UCUM\r";
//! let message = imms_hl7::parse(text)?;
//! let pid = message.first("PID").expect("a PID segment");
//! assert_eq!(pid.field(5).component(2).value(), "Nancy");
//! assert_eq!(pid.field(3).rep(2).component(5).value(), "SS");
//! let msh = message.first("MSH").unwrap();
//! assert_eq!(msh.field(9).component(1).value(), "VXU");   // MSH-9, numbered as in HL7
//! # Ok::<(), imms_hl7::ParseError>(())
//! ```
//!
//! [`parse`] accepts what senders really send: any delimiters declared in MSH-1 and MSH-2
//! (including the v2.7 truncation character), segments ended by CR, LF or CRLF in any mix,
//! blank lines, a trailing terminator, and a byte-order mark or whitespace before `MSH`.
//! It checks the header and that every segment starts with a valid id, and otherwise
//! leaves meaning to the caller. A [`ParseError`] says what is wrong in plain English and
//! which segment it is in, for the ERR segment of the ACK. It never panics, whatever the
//! input: a fuzz target (`fuzz/`) and property tests (`tests/properties.rs`) check that.
//!
//! [`Message`], [`Segment`], [`Field`], [`Repetition`] and [`Component`] are small `Copy`
//! views into the input. Nothing is split or copied until asked for: `field(5)` finds the
//! fifth field separator, `component(2)` the second component separator within it, and
//! `value()` unescapes (`\F\ \S\ \T\ \R\ \E\ \Xhh\ \.br\`; see [`unescape`]) only when the
//! text has an escape, borrowing it otherwise. Parsing allocates nothing at all.
//!
//! ## Why borrow
//!
//! A registry ingests millions of messages in bulk loads and busy clinics' batches, and
//! reads a few dozen of the hundreds of fields each carries. Copying every field into owned
//! strings up front would cost more than reading the few that matter, and a tree of owned
//! strings per message is a lot of allocator work for text that is already in memory.
//! Borrowing also keeps the raw text at hand, so an error can quote exactly what was sent.
//!
//! ## Writing
//!
//! ```
//! use imms_hl7::{encode, Delimiters, SegmentBuilder};
//! let mut msh = SegmentBuilder::new("MSH");
//! msh.set(3, "IMMS").set_components(9, &["ACK", "V04", "ACK"]).set(12, "2.5.1");
//! let mut msa = SegmentBuilder::new("MSA");
//! msa.set(1, "AE").set(3, "dose date 2024|03|15 is not a date");
//! let text = encode(&Delimiters::default(), &[msh, msa]);
//! assert_eq!(
//!     text,
//!     "MSH|^~\\&|IMMS||||||ACK^V04^ACK|||2.5.1\rMSA|AE||dose date 2024\\F\\03\\F\\15 is not a date\r"
//! );
//! ```
//!
//! [`SegmentBuilder`] keeps plain values and escapes them with [`escape`] when
//! [`encode`] writes them, so a value can never break the structure of the message.

mod delimiters;
mod encode;
mod error;
mod escape;
mod field;
mod indexed;
mod lines;
mod message;
mod segment;
mod split;

pub use delimiters::Delimiters;
pub use encode::{encode, SegmentBuilder};
pub use error::ParseError;
pub use escape::{escape, unescape};
pub use field::{Component, Components, Field, Repetition, Repetitions, Subcomponents};
pub use indexed::IndexedSegment;
pub use message::{parse, Message, Segments};
pub use segment::{Fields, Segment};
