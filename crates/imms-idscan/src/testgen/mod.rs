//! A seeded generator of test documents (feature `testgen`; used by this crate's tests,
//! benchmarks and fuzz seeds, never by the portal). Everything is made in memory from a seed,
//! so a failing case can be rebuilt from its seed alone.

pub mod aamva;
pub mod mrz;
pub mod passport;
pub mod people;
pub mod photo;

pub use aamva::AamvaCard;
pub use mrz::Passport;
pub use people::Person;
pub use photo::Degradation;
