//! Finding the one person a query means, with the rule ingest uses to link a message to a
//! person (`store::link`): the asking facility's own identifier, or the same legal name,
//! date of birth and sex plus one more agreeing fact. Never a guess: when no one is certain
//! the answer is "not found", and when several people could be meant it is "too many".

use imms_core::{Person, Sex};
use sqlx::{Any, Transaction};

use crate::store::link::{self, Link};
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
    let found = look_up_in(&mut tx, db.engine(), person).await;
    let _ = tx.rollback().await;
    found
}

async fn look_up_in(
    tx: &mut Transaction<'_, Any>,
    engine: imms_db::Engine,
    person: &Person,
) -> Result<Found, StoreError> {
    match link::find(tx, engine, person).await? {
        Link::Known(id) => {
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
            let mut without_ids = person.clone();
            without_ids.identifiers.clear();
            match link::find(tx, engine, &without_ids).await? {
                Link::Known(_) => Ok(Found::NotFound),
                Link::Certain(id) => Ok(Found::One(id)),
                Link::New { .. } => same_identity_count(tx, person).await,
            }
        }
        Link::Certain(id) => Ok(Found::One(id)),
        Link::New { .. } => same_identity_count(tx, person).await,
    }
}

/// No one is certain: "too many" when two or more people share the legal name, date of
/// birth (and sex, when asked), else "not found".
async fn same_identity_count(
    tx: &mut Transaction<'_, Any>,
    person: &Person,
) -> Result<Found, StoreError> {
    let (family_key, given_key) = link::legal_keys(person);
    let any_sex = person.sex == Sex::Unknown;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(DISTINCT p.id) FROM persons p JOIN person_names n ON n.person_id = p.id \
         WHERE p.birth_date = $1 AND p.merged_into IS NULL AND n.name_type = 'L' \
           AND n.family_key = $2 AND n.given_key = $3 AND (p.sex = $4 OR $5 = 1)",
    )
    .bind(person.birth_date.to_string())
    .bind(&family_key)
    .bind(&given_key)
    .bind(person.sex.code())
    .bind(i64::from(any_sex))
    .fetch_one(&mut **tx)
    .await?;
    Ok(if n >= 2 {
        Found::TooMany
    } else {
        Found::NotFound
    })
}
