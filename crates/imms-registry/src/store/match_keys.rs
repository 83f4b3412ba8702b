//! The matching engine's storage: blocking keys (table `match_keys`, written in the ingest
//! transaction), candidate profiles read from the person tables, name counts for term
//! frequencies, and the trained parameters (table `match_params`). Every read goes through
//! an index: keys by `block_key`, profiles by person id.

use std::collections::HashMap;

use imms_core::{NameType, Person};
use imms_match::{keys, Params, Prepared, Profile, ProfileName, Query, QueryAddress, Thresholds};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::StoreError;

/// Most candidates scored for one query: the persons sharing the most keys with it.
pub const MAX_CANDIDATES: usize = 200;
/// Name counts stop at this: beyond it a name is common, and counting further costs time.
const TF_CAP: i64 = 5000;

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The matching view of an incoming person: legal name (or the first), other surnames,
/// date of birth, sex, addresses.
pub fn query_from_person(person: &Person) -> Option<Query> {
    let legal = person.legal_name().or_else(|| person.names.first())?;
    let former_family_names = person
        .names
        .iter()
        .filter(|n| !std::ptr::eq(*n, legal) && n.name_type != NameType::Legal)
        .map(|n| n.family.clone())
        .collect();
    Some(Query {
        given: legal.given.clone(),
        middle: legal.middle.clone(),
        family: legal.family.clone(),
        suffix: legal.suffix.clone(),
        birth_date: person.birth_date,
        sex: person.sex.code().chars().next(),
        addresses: person
            .addresses
            .iter()
            .map(|a| QueryAddress {
                street: a.street.clone(),
                city: a.city.clone(),
                state: a.state.clone(),
                postal_code: a.postal_code.clone(),
            })
            .collect(),
        former_family_names,
    })
}

/// Stores the keys of what this message says about a person (names and addresses are only
/// ever added, so the keys of all messages together are the keys of the stored person).
pub async fn index_person(
    conn: &mut AnyConnection,
    person_id: i64,
    person: &Person,
) -> Result<(), StoreError> {
    let profile = Profile {
        person_id,
        birth_date: Some(person.birth_date),
        sex: person.sex.code().chars().next(),
        names: person
            .names
            .iter()
            .map(|n| ProfileName {
                given: n.given.clone(),
                middle: n.middle.clone(),
                family: n.family.clone(),
                suffix: n.suffix.clone(),
            })
            .collect(),
        addresses: query_from_person(person)
            .map(|q| q.addresses)
            .unwrap_or_default(),
    };
    insert_keys(
        conn,
        person_id,
        &keys::person_keys(&Prepared::from_profile(&profile)),
    )
    .await
}

/// Rebuilds one person's keys from the stored person tables (after a correction or a merge).
pub async fn reindex(conn: &mut AnyConnection, person_id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM match_keys WHERE person_id = $1")
        .bind(person_id)
        .execute(&mut *conn)
        .await?;
    if let Some(p) = profiles(conn, &[person_id]).await?.into_iter().next() {
        insert_keys(
            conn,
            person_id,
            &keys::person_keys(&Prepared::from_profile(&p)),
        )
        .await?;
    }
    Ok(())
}

async fn insert_keys(
    conn: &mut AnyConnection,
    person_id: i64,
    keys: &[String],
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let values = (0..keys.len())
        .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO match_keys (block_key, person_id) VALUES {values} ON CONFLICT DO NOTHING"
    );
    let mut q = sqlx::query(&sql);
    for k in keys {
        q = q.bind(k).bind(person_id);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// The persons sharing the most keys with the query, most shared first.
pub async fn candidate_ids(
    conn: &mut AnyConnection,
    keys: &[String],
    limit: usize,
) -> Result<Vec<i64>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT person_id, COUNT(*) AS hits FROM match_keys WHERE block_key IN ({}) \
         GROUP BY person_id ORDER BY hits DESC, person_id LIMIT {}",
        placeholders(1, keys.len()),
        limit.min(MAX_CANDIDATES)
    );
    let mut q = sqlx::query_as::<_, (i64, i64)>(&sql);
    for k in keys {
        q = q.bind(k);
    }
    Ok(q.fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

/// Every name and address of these persons (merged-away persons left out), in id order.
pub async fn profiles(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<Profile>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = placeholders(1, ids.len());
    let sql = format!(
        "SELECT id, birth_date, sex FROM persons WHERE merged_into IS NULL AND id IN ({list})"
    );
    let mut q = sqlx::query_as::<_, (i64, String, String)>(&sql);
    for id in ids {
        q = q.bind(id);
    }
    let mut by_id: HashMap<i64, Profile> = HashMap::new();
    for (id, birth_date, sex) in q.fetch_all(&mut *conn).await? {
        by_id.insert(
            id,
            Profile {
                person_id: id,
                birth_date: birth_date.parse().ok(),
                sex: sex.chars().next(),
                ..Default::default()
            },
        );
    }
    let sql = format!(
        "SELECT person_id, given, middle, family, suffix FROM person_names WHERE person_id IN ({list})"
    );
    let mut q = sqlx::query_as::<_, (i64, String, String, String, String)>(&sql);
    for id in ids {
        q = q.bind(id);
    }
    for (id, given, middle, family, suffix) in q.fetch_all(&mut *conn).await? {
        if let Some(p) = by_id.get_mut(&id) {
            p.names.push(ProfileName {
                given,
                middle,
                family,
                suffix,
            });
        }
    }
    let sql = format!(
        "SELECT person_id, street, city, state, postal_code FROM person_addresses WHERE person_id IN ({list})"
    );
    let mut q = sqlx::query_as::<_, (i64, String, String, String, String)>(&sql);
    for id in ids {
        q = q.bind(id);
    }
    for (id, street, city, state, postal_code) in q.fetch_all(&mut *conn).await? {
        if let Some(p) = by_id.get_mut(&id) {
            p.addresses.push(QueryAddress {
                street,
                city,
                state,
                postal_code,
            });
        }
    }
    let mut out: Vec<Profile> = by_id.into_values().collect();
    out.sort_by_key(|p| p.person_id);
    Ok(out)
}

/// How many persons carry this name key (counted up to a cap).
pub async fn name_count(conn: &mut AnyConnection, key: &str) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM match_keys WHERE block_key = $1 LIMIT {TF_CAP}) t"
    ))
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// An estimate of the number of persons, read from the primary key's end (no count scan).
pub async fn person_total(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    let (n,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM persons")
        .fetch_one(&mut *conn)
        .await?;
    Ok(n.unwrap_or(0))
}

/// Trained parameters and thresholds, as stored by `imms match train`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub params: Params,
    pub thresholds: Thresholds,
}

/// The newest stored settings that are valid, or the defaults.
pub async fn load_settings(conn: &mut AnyConnection) -> Result<Settings, StoreError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT params FROM match_params ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row
        .and_then(|(json,)| serde_json::from_str::<Settings>(&json).ok())
        .filter(|s| s.params.is_valid())
        .unwrap_or_default())
}

/// Stores new settings; they take effect for new matchers and the next ingest.
pub async fn save_settings(
    conn: &mut AnyConnection,
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(settings)
        .map_err(|e| StoreError::Conflict(format!("matching settings not storable: {e}")))?;
    sqlx::query("INSERT INTO match_params (params, trained_at) VALUES ($1, $2)")
        .bind(json)
        .bind(super::now_text(now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}
