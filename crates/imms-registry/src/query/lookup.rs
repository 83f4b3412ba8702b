//! Finding the one person a query means, with the engine ingest uses to link a message to
//! a person (`store::link`, crate `imms_match`): the asking facility's own identifier (when
//! the date of birth agrees), or a unique, corroborated match of the demographics. Never a
//! guess: when two or more people are within the margin of each other the answer is "too
//! many", otherwise "not found".

use imms_core::Person;
use imms_match::{decide, Decision, NoMatchReason};
use sqlx::{Any, Transaction};

use crate::matching;
use crate::store::link;
use crate::store::match_keys;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    One(i64),
    NotFound,
    /// More than one person could be meant.
    TooMany,
}

/// Looks the person up in a read-only transaction (rolled back: a query writes nothing).
pub async fn look_up(store: &Store, person: &Person) -> Result<Found, StoreError> {
    let db = store.database();
    let mut tx = db.pool().begin().await?;
    let found = look_up_in(&mut tx, person).await;
    let _ = tx.rollback().await;
    found
}

async fn look_up_in(tx: &mut Transaction<'_, Any>, person: &Person) -> Result<Found, StoreError> {
    if let Some(id) = link::by_identifier(tx, person).await? {
        // The facility's identifier names this person; a record is only sent when the
        // date of birth asked agrees too, so a mistyped MRN cannot disclose someone
        // else's history. Otherwise the identifier is ignored and the demographics
        // decide, as for a query without one.
        let (birth_date,): (String,) =
            sqlx::query_as("SELECT birth_date FROM persons WHERE id = $1")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
        if birth_date == person.birth_date.to_string() {
            return Ok(Found::One(id));
        }
    }
    demographics(tx, person).await
}

/// The engine's decision on the demographics alone (another facility's identifiers never
/// decide).
async fn demographics(tx: &mut Transaction<'_, Any>, person: &Person) -> Result<Found, StoreError> {
    let Some(query) = match_keys::query_from_person(person) else {
        return Ok(Found::NotFound);
    };
    let settings = match_keys::load_settings(tx).await?;
    let scored = matching::score_in(tx, &query, &settings).await?;
    Ok(match decide(&scored, &settings.thresholds) {
        Decision::Unique { person_id, .. } => Found::One(person_id),
        Decision::NoUniqueMatch {
            reason: NoMatchReason::Ambiguous,
        } => Found::TooMany,
        Decision::NoUniqueMatch { .. } => Found::NotFound,
    })
}
