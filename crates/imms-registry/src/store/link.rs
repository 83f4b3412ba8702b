//! Linking a message to a person: a known facility identifier goes to its person; otherwise
//! an existing person only when certain (same normalised legal name, date of birth and sex,
//! and one more agreeing fact); otherwise a new person, with look-alikes queued for staff as
//! possible duplicates. Never guess: a wrong link mixes two people's health records.

use imms_core::normalize::{digits, normalize_text, postal_code_key};
use imms_core::{NameType, Person};
use imms_db::Engine;
use sha2::{Digest, Sha256};
use sqlx::{Any, Transaction};

use super::StoreError;

pub enum Link {
    Known(i64),
    Certain(i64),
    /// No certain match; these persons look alike and go to the duplicate queue.
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
            return Ok(Link::Known(resolve_merged(tx, pid).await?));
        }
    }

    let (family_key, given_key) = legal_keys(person);
    let birth_date = person.birth_date.to_string();
    if engine == Engine::Postgres {
        // Two nodes creating the same new person at once would each miss the other's
        // uncommitted row: serialise look-ups of one identity (SQLite has one writer anyway).
        let digest =
            Sha256::digest(format!("{family_key}\u{1f}{given_key}\u{1f}{birth_date}").as_bytes());
        let key = i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    // Everyone born that day who shares the family or the given name: the certain match, if
    // any, is among them, and the rest are the look-alikes worth a person's review.
    let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
        "SELECT p.id, p.sex, n.family_key, n.given_key, n.middle FROM persons p \
         JOIN person_names n ON n.person_id = p.id \
         WHERE p.birth_date = $1 AND p.merged_into IS NULL AND n.name_type = 'L' \
           AND (n.family_key = $2 OR n.given_key = $3)",
    )
    .bind(&birth_date)
    .bind(&family_key)
    .bind(&given_key)
    .fetch_all(&mut **tx)
    .await?;

    let mut certain = Vec::new();
    let mut look_alikes = Vec::new();
    for (id, sex, fk, gk, middle) in rows {
        if look_alikes.contains(&id) || certain.contains(&id) {
            continue;
        }
        if fk == family_key
            && gk == given_key
            && sex == person.sex.code()
            && one_more_agrees(tx, id, person, &middle).await?
        {
            certain.push(id);
        } else {
            look_alikes.push(id);
        }
    }
    match certain.as_slice() {
        [one] => Ok(Link::Certain(*one)),
        _ => {
            look_alikes.extend(certain);
            Ok(Link::New { look_alikes })
        }
    }
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

/// A fact besides name, date of birth and sex: middle name, an address, a phone, or the
/// mother's maiden name.
async fn one_more_agrees(
    tx: &mut Transaction<'_, Any>,
    id: i64,
    person: &Person,
    stored_middle: &str,
) -> Result<bool, StoreError> {
    let legal = person.names.iter().find(|n| n.name_type == NameType::Legal);
    if let Some(n) = legal {
        if !n.middle.is_empty() && normalize_text(&n.middle) == normalize_text(stored_middle) {
            return Ok(true);
        }
    }
    for a in &person.addresses {
        let street = normalize_text(&a.street);
        if street.is_empty() {
            continue;
        }
        let hit: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM person_addresses WHERE person_id = $1 AND street_key = $2 AND zip_key = $3",
        )
        .bind(id)
        .bind(&street)
        .bind(postal_code_key(&a.postal_code))
        .fetch_optional(&mut **tx)
        .await?;
        if hit.is_some() {
            return Ok(true);
        }
    }
    for p in &person.phones {
        let hit: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM person_phones WHERE person_id = $1 AND number = $2")
                .bind(id)
                .bind(digits(&p.number))
                .fetch_optional(&mut **tx)
                .await?;
        if hit.is_some() {
            return Ok(true);
        }
    }
    if let Some(m) = &person.mother_maiden_name {
        let stored: Option<(Option<String>,)> =
            sqlx::query_as("SELECT mother_maiden_family FROM persons WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some((Some(f),)) = stored {
            if !m.family.is_empty() && normalize_text(&f) == normalize_text(&m.family) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
