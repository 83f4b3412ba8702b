//! One module per subcommand group.

pub mod account;
pub mod bench;
pub mod bench_floor;
pub mod bench_portal;
pub mod codes;
pub mod demo;
pub mod hl7;
pub mod idscan;
pub mod keys;
pub mod matching;
pub mod oidc;
pub mod org;
pub mod person;
pub mod portal;
pub mod record;
pub mod staff;
