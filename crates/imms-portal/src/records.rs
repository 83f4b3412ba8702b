//! The two things the portal asks of the registry: find the one person an identity and
//! address describe, and make that person's official record. `imms serve` plugs in the
//! registry's matcher and the record issuer; the portal never sees more than a person id
//! and PDF bytes.

use std::future::Future;
use std::pin::Pin;

use chrono::NaiveDate;

use crate::identity::PostalAddress;

/// What the search screen sends to the matcher.
#[derive(Clone, Debug)]
pub struct Search {
    pub given: String,
    pub middle: String,
    pub family: String,
    pub suffix: String,
    pub birth_date: NaiveDate,
    /// `M`, `F`, or empty.
    pub sex: String,
    /// Current address first, then previous ones.
    pub addresses: Vec<PostalAddress>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// One person, confidently.
    Person(i64),
    /// No one, or more than one person could be meant: the page says the same either way.
    NoUniqueMatch,
}

/// Errors from the registry side; their text is logged, never shown.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RecordsError(pub String);

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, RecordsError>> + Send + 'a>>;

pub trait Records: Send + Sync + 'static {
    fn find<'a>(&'a self, search: &'a Search) -> BoxFut<'a, Found>;
    /// The official record of `person_id` as PDF bytes, in `lang` (`en`, `es`; others fall
    /// back to English), dated `issued_on`.
    fn pdf<'a>(
        &'a self,
        person_id: i64,
        lang: &'a str,
        issued_on: NaiveDate,
    ) -> BoxFut<'a, Vec<u8>>;
    /// The reading guide as an HTML fragment (trusted markup from the record crate) and
    /// the language it is in (it may not exist in every language of the portal).
    fn guide_html(&self, lang: &str) -> (String, String);
}
