//! One module per subcommand group.

pub mod bench;
pub mod codes;
pub mod demo;
pub mod hl7;
pub mod org;
pub mod person;
