//! Linking a message to a person: a known facility identifier goes to its person; otherwise
//! the matching engine ([`crate::matching`], crate `imms_match`) links to an existing person
//! only on a unique, corroborated match (threshold, margin over the second best, and an
//! agreeing middle name, street or ZIP besides name, date of birth and sex); otherwise a new
//! person, with every plausible candidate queued for staff as a possible duplicate. Never
//! guess: a wrong link mixes two people's health records.

use imms_core::normalize::normalize_text;
use imms_core::Person;
use imms_db::Engine;
use imms_match::{decide, Decision};
use sha2::{Digest, Sha256};
use sqlx::{Any, Transaction};

use super::match_keys;
use super::StoreError;
use crate::matching;

/// Most possible duplicates queued for one new person.
const MAX_LOOK_ALIKES: usize = 10;

pub enum Link {
    Known(i64),
    /// A unique match of the engine.
    Certain(i64),
    /// No unique match; these persons look alike and go to the duplicate queue.
    New {
        look_alikes: Vec<i64>,
    },
}

pub fn legal_keys(person: &Person) -> (String, String) {
    let name = person.legal_name();
    (
        name.map(|n| normalize_text(&n.family)).unwrap_or_default(),
        name.map(|n| normalize_text(&n.given)).unwrap_or_default(),
    )
}

pub async fn find(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    person: &Person,
) -> Result<Link, StoreError> {
    if let Some(id) = by_identifier(tx, person).await? {
        return Ok(Link::Known(id));
    }
    let birth_date = person.birth_date.to_string();
    if engine == Engine::Postgres {
        // Two nodes creating the same new person at once would each miss the other's
        // uncommitted row: serialise look-ups of one date of birth (the engine forgives
        // typos in names, so the name cannot be part of the lock; SQLite has one writer).
        let digest = Sha256::digest(format!("match\u{1f}{birth_date}").as_bytes());
        let key = i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    let Some(query) = match_keys::query_from_person(person) else {
        return Ok(Link::New {
            look_alikes: Vec::new(),
        });
    };
    let settings = match_keys::load_settings(tx).await?;
    let scored = matching::score_in(tx, &query, &settings).await?;
    match decide(&scored, &settings.thresholds) {
        Decision::Unique { person_id, .. }
            if !has_other_identifier_here(tx, person_id, person).await? =>
        {
            Ok(Link::Certain(person_id))
        }
        // No unique match, or the match already has another record number at this very
        // facility: a facility that gave two numbers most likely has two people (twins, a
        // parent and child of one name); staff decide.
        _ => Ok(Link::New {
            // Everyone who scores as a plausible match goes to staff for review.
            look_alikes: scored
                .iter()
                .filter(|s| s.score >= settings.thresholds.review_weight)
                .take(MAX_LOOK_ALIKES)
                .map(|s| s.person_id)
                .collect(),
        }),
    }
}

/// Whether `person_id` holds an identifier of the same facility and type as one the message
/// carries, with another value.
async fn has_other_identifier_here(
    tx: &mut Transaction<'_, Any>,
    person_id: i64,
    person: &Person,
) -> Result<bool, StoreError> {
    for id in &person.identifiers {
        let found: Option<(i64,)> = sqlx::query_as(
            "SELECT person_id FROM person_identifiers \
             WHERE person_id = $1 AND facility_id = $2 AND id_type = $3 AND value <> $4 LIMIT 1",
        )
        .bind(person_id)
        .bind(&id.facility_id)
        .bind(&id.id_type)
        .bind(&id.value)
        .fetch_optional(&mut **tx)
        .await?;
        if found.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The person one of these facility identifiers already belongs to (after merges).
pub async fn by_identifier(
    tx: &mut Transaction<'_, Any>,
    person: &Person,
) -> Result<Option<i64>, StoreError> {
    for id in &person.identifiers {
        let found: Option<(i64,)> = sqlx::query_as(
            "SELECT person_id FROM person_identifiers WHERE facility_id = $1 AND id_type = $2 AND value = $3",
        )
        .bind(&id.facility_id)
        .bind(&id.id_type)
        .bind(&id.value)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some((pid,)) = found {
            return Ok(Some(resolve_merged(tx, pid).await?));
        }
    }
    Ok(None)
}

async fn resolve_merged(tx: &mut Transaction<'_, Any>, mut id: i64) -> Result<i64, StoreError> {
    for _ in 0..16 {
        let (merged,): (Option<i64>,) =
            sqlx::query_as("SELECT merged_into FROM persons WHERE id = $1")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
        match merged {
            Some(next) => id = next,
            None => break,
        }
    }
    Ok(id)
}
