//! The matching engine's storage: blocking keys (table `match_keys`, written in the ingest
//! transaction), candidate profiles read from the person tables, name counts for term
//! frequencies, and the trained parameters (table `match_params`). Every read goes through
//! an index: keys by `block_key`, profiles by person id.

use std::collections::HashMap;

use imms_core::{NameType, Person};
use imms_match::{keys, Params, Prepared, Profile, ProfileName, Query, QueryAddress, Thresholds};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::json_rows;
use super::rows::{int_array, text_array, Placeholders};
use super::StoreError;

/// Most candidates scored for one query: the persons sharing the most keys with it.
pub const MAX_CANDIDATES: usize = 100;
/// Name counts stop at this: beyond it a name is common, and counting further costs time.
pub(crate) const TF_CAP: i64 = 5000;

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

/// The matching profile of what one message says about a person: what the store holds
/// once the message is stored (names as sent, addresses as the matcher reads them).
pub(crate) fn profile_of(person_id: i64, person: &Person) -> Profile {
    Profile {
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
    }
}

/// The keys of what one message says about a person.
pub(crate) fn keys_of(person_id: i64, person: &Person) -> Vec<String> {
    keys::person_keys(&Prepared::from_profile(&profile_of(person_id, person)))
}

/// Stores the keys of what this message says about a person (names and addresses are only
/// ever added, so the keys of all messages together are the keys of the stored person).
pub async fn index_person(
    conn: &mut AnyConnection,
    person_id: i64,
    person: &Person,
) -> Result<(), StoreError> {
    insert_keys(conn, person_id, &keys_of(person_id, person)).await
}

/// Rows per multi-row INSERT of [`load_persons`]: well under SQLite's 32,766 bound values.
const LOAD_ROWS: usize = 400;

/// Bulk load (`imms match run`, load tests): new persons with their names, addresses and
/// blocking keys, written straight into the tables in multi-row statements, with the same
/// keys and name columns as ingest. No linking: every person is new. Run it inside a
/// transaction (the caller's; big ones are fastest); returns the new ids in order. The keys
/// go into `keys_table`: `match_keys`, or the staging table of a
/// [`BulkLoad`](super::bulk_load::BulkLoad).
pub async fn load_persons(
    conn: &mut AnyConnection,
    engine: imms_db::Engine,
    persons: &[Person],
    keys_table: &str,
    facility_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<i64>, StoreError> {
    use imms_core::normalize::{normalize_text, postal_code_key};
    if persons.is_empty() {
        return Ok(Vec::new());
    }
    if engine == imms_db::Engine::Postgres {
        // Ids are taken from MAX(id): no other writer may create persons meanwhile.
        sqlx::query("LOCK TABLE persons IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *conn)
            .await?;
    }
    let (max,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM persons")
        .fetch_one(&mut *conn)
        .await?;
    let first = max.unwrap_or(0) + 1;
    let ids: Vec<i64> = (first..first + persons.len() as i64).collect();
    let now = super::now_text(now);
    for (chunk, chunk_ids) in persons.chunks(LOAD_ROWS).zip(ids.chunks(LOAD_ROWS)) {
        let sql = format!(
            "INSERT INTO persons (id, birth_date, sex, created_at, updated_at) VALUES {}",
            rows(chunk.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (p, id) in chunk.iter().zip(chunk_ids) {
            q = q
                .bind(*id)
                .bind(p.birth_date.to_string())
                .bind(p.sex.code())
                .bind(now.clone())
                .bind(now.clone());
        }
        q.execute(&mut *conn).await?;

        let names: Vec<(i64, &imms_core::PersonName)> = chunk
            .iter()
            .zip(chunk_ids)
            .flat_map(|(p, id)| p.names.iter().map(move |n| (*id, n)))
            .collect();
        for part in names.chunks(LOAD_ROWS) {
            let sql = format!(
                "INSERT INTO person_names (person_id, name_type, family, given, middle, suffix, family_key, given_key) \
                 VALUES {} ON CONFLICT DO NOTHING",
                rows(part.len(), 8)
            );
            let mut q = sqlx::query(&sql);
            for (id, n) in part {
                q = q
                    .bind(*id)
                    .bind(n.name_type.code())
                    .bind(n.family.clone())
                    .bind(n.given.clone())
                    .bind(n.middle.clone())
                    .bind(n.suffix.clone())
                    .bind(normalize_text(&n.family))
                    .bind(normalize_text(&n.given));
            }
            q.execute(&mut *conn).await?;
        }

        let addresses: Vec<(i64, &imms_core::Address)> = chunk
            .iter()
            .zip(chunk_ids)
            .flat_map(|(p, id)| p.addresses.iter().map(move |a| (*id, a)))
            .collect();
        for part in addresses.chunks(LOAD_ROWS) {
            let sql = format!(
                "INSERT INTO person_addresses (person_id, street, other, city, state, postal_code, country, address_type, street_key, zip_key, facility_id, reported_at) \
                 VALUES {} ON CONFLICT DO NOTHING",
                rows(part.len(), 12)
            );
            let mut q = sqlx::query(&sql);
            for (id, a) in part {
                q = q
                    .bind(*id)
                    .bind(a.street.clone())
                    .bind(a.other.clone())
                    .bind(a.city.clone())
                    .bind(a.state.clone())
                    .bind(a.postal_code.clone())
                    .bind(a.country.clone())
                    .bind(a.address_type.clone())
                    .bind(normalize_text(&a.street))
                    .bind(postal_code_key(&a.postal_code))
                    .bind(facility_id.to_string())
                    .bind(now.clone());
            }
            q.execute(&mut *conn).await?;
        }

        let mut keys: Vec<(String, i64)> = Vec::new();
        for (p, id) in chunk.iter().zip(chunk_ids) {
            keys.extend(keys_of(*id, p).into_iter().map(|k| (k, *id)));
        }
        for part in keys.chunks(LOAD_ROWS * 4) {
            let sql = format!(
                "INSERT INTO {keys_table} (block_key, person_id) VALUES {} ON CONFLICT DO NOTHING",
                rows(part.len(), 2)
            );
            let mut q = sqlx::query(&sql);
            for (k, id) in part {
                q = q.bind(k.clone()).bind(*id);
            }
            q.execute(&mut *conn).await?;
        }
    }
    if engine == imms_db::Engine::Postgres {
        sqlx::query("SELECT setval(pg_get_serial_sequence('persons', 'id'), $1)")
            .bind(first + persons.len() as i64 - 1)
            .execute(&mut *conn)
            .await?;
    }
    Ok(ids)
}

/// `($1, $2), ($3, $4)` for `n` rows of `columns` values.
fn rows(n: usize, columns: usize) -> String {
    (0..n)
        .map(|r| format!("({})", placeholders(r * columns + 1, columns)))
        .collect::<Vec<_>>()
        .join(", ")
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
    let mut by_id = HashMap::new();
    read_profiles(conn, ids, true, &mut by_id).await?;
    let mut out: Vec<Profile> = by_id.into_values().collect();
    out.sort_by_key(|p| p.person_id);
    Ok(out)
}

/// Reads the profiles of `ids` into `out` (merged-away persons left out), names and
/// addresses in the order they were stored. `persistent` keeps the prepared statement:
/// worth it for the few list lengths of a look-up, not for a group's one-off lists of
/// thousands of ids.
pub(super) async fn read_profiles(
    conn: &mut AnyConnection,
    ids: &[i64],
    persistent: bool,
    out: &mut HashMap<i64, Profile>,
) -> Result<(), StoreError> {
    read_profile_rows(conn, ids, persistent, true, out).await
}

/// Adds the names and addresses of `ids` to their profiles in `out` (ids without one there
/// are skipped), in the order they were stored.
pub(super) async fn read_names_and_addresses(
    conn: &mut AnyConnection,
    ids: &[i64],
    persistent: bool,
    out: &mut HashMap<i64, Profile>,
) -> Result<(), StoreError> {
    read_profile_rows(conn, ids, persistent, false, out).await
}

/// The rows of a profile, each part selected as (part, person id, order, four texts).
const PROFILE_PARTS: [&str; 3] = [
    "SELECT 0 AS part, id AS person_id, id AS seq, birth_date AS a, sex AS b, '' AS c, '' AS d \
     FROM persons WHERE merged_into IS NULL AND id IN ({ids})",
    "SELECT 1 AS part, person_id, id AS seq, given AS a, middle AS b, family AS c, suffix AS d \
     FROM person_names WHERE person_id IN ({ids})",
    "SELECT 2 AS part, person_id, id AS seq, street AS a, city AS b, state AS c, postal_code AS d \
     FROM person_addresses WHERE person_id IN ({ids})",
];

/// [`PROFILE_PARTS`] for PostgreSQL, the ids as one array bound once (`$1`): given a long
/// `IN` list, PostgreSQL may scan the whole table (a million names, for a group's few
/// thousand candidates); a lateral look-up per id, fenced by `OFFSET 0` so that it stays
/// one, cannot be planned as a scan. One text for any number of ids: planned once per
/// connection.
const PROFILE_PARTS_BY_PROBE: [&str; 3] = [
    "SELECT 0 AS part, t.id AS person_id, t.id AS seq, t.birth_date AS a, t.sex AS b, '' AS c, '' AS d \
     FROM unnest($1::bigint[]) AS probe(v) CROSS JOIN LATERAL \
     (SELECT id, birth_date, sex FROM persons WHERE id = probe.v AND merged_into IS NULL OFFSET 0) t",
    "SELECT 1 AS part, t.person_id, t.id AS seq, t.given AS a, t.middle AS b, t.family AS c, t.suffix AS d \
     FROM unnest($1::bigint[]) AS probe(v) CROSS JOIN LATERAL \
     (SELECT person_id, id, given, middle, family, suffix FROM person_names WHERE person_id = probe.v OFFSET 0) t",
    "SELECT 2 AS part, t.person_id, t.id AS seq, t.street AS a, t.city AS b, t.state AS c, t.postal_code AS d \
     FROM unnest($1::bigint[]) AS probe(v) CROSS JOIN LATERAL \
     (SELECT person_id, id, street, city, state, postal_code FROM person_addresses WHERE person_id = probe.v OFFSET 0) t",
];

/// Reads persons (with `heads`; else into the profiles already in `out`), their names and
/// their addresses in one statement, as rows of one JSON value (json_rows.rs says why).
async fn read_profile_rows(
    conn: &mut AnyConnection,
    ids: &[i64],
    persistent: bool,
    heads: bool,
    out: &mut HashMap<i64, Profile>,
) -> Result<(), StoreError> {
    let marks = Placeholders::of(conn);
    let first = if heads { 0 } else { 1 };
    // The id list is bound once per part, so that each part stays an index look-up (a
    // shared list in a CTE may be joined by a scan). A look-up's list (at most
    // MAX_CANDIDATES ids) is planned as look-ups either way, and a little faster as an `IN`
    // list; a group's lists of thousands are not, on PostgreSQL.
    let by_probe = marks == Placeholders::Numbered && ids.len() > MAX_CANDIDATES;
    let texts = if by_probe {
        &PROFILE_PARTS_BY_PROBE
    } else {
        &PROFILE_PARTS
    };
    let inner = texts[first..]
        .iter()
        .enumerate()
        .map(|(i, part)| {
            if by_probe {
                part.to_string()
            } else {
                part.replace("{ids}", &marks.list(i * ids.len() + 1, ids.len()))
            }
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let parts = texts.len() - first;
    let sql = json_rows::wrap(
        conn,
        &inner,
        &["part", "person_id", "a", "b", "c", "d"],
        "part, seq",
    );
    let mut q = sqlx::query_as(&sql).persistent(persistent || by_probe);
    if by_probe {
        q = q.bind(int_array(ids.iter().copied()));
    } else {
        for _ in 0..parts {
            for id in ids {
                q = q.bind(id);
            }
        }
    }
    let rows: Vec<(i64, i64, String, String, String, String)> = json_rows::fetch(conn, q).await?;
    for (part, id, a, b, c, d) in rows {
        if part == 0 {
            out.insert(
                id,
                Profile {
                    person_id: id,
                    birth_date: a.parse().ok(),
                    sex: b.chars().next(),
                    ..Default::default()
                },
            );
            continue;
        }
        // Names and addresses of merged-away persons have no profile to join.
        let Some(p) = out.get_mut(&id) else { continue };
        if part == 1 {
            p.names.push(ProfileName {
                given: a,
                middle: b,
                family: c,
                suffix: d,
            });
        } else {
            p.addresses.push(QueryAddress {
                street: a,
                city: b,
                state: c,
                postal_code: d,
            });
        }
    }
    Ok(())
}

/// Name keys already counted at [`TF_CAP`], remembered between groups of one store.
/// Counting a common name visits [`TF_CAP`] index entries, and ingest asks for the same
/// common names in every group; a count at the cap stays there (persons are only added,
/// and a merge takes away one), so these need no counting again. Rarer names are cheap to
/// count and are always counted fresh.
#[derive(Debug, Default)]
pub(crate) struct CommonNames {
    keys: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Keys remembered at most; the set is emptied when full.
const COMMON_NAMES_MAX: usize = 100_000;

impl CommonNames {
    /// [`name_counts`] of `keys`, the common ones from memory.
    pub(crate) async fn counts(
        &self,
        conn: &mut AnyConnection,
        keys: &[&str],
        persistent: bool,
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut out = HashMap::new();
        let mut uncounted = Vec::new();
        {
            let common = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            for key in keys {
                if common.contains(*key) {
                    out.insert(key.to_string(), TF_CAP);
                } else {
                    uncounted.push(*key);
                }
            }
        }
        let counted = name_counts(conn, &uncounted, persistent).await?;
        let mut common = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        for (key, n) in &counted {
            if *n >= TF_CAP {
                if common.len() >= COMMON_NAMES_MAX {
                    common.clear();
                }
                common.insert(key.clone());
            }
        }
        drop(common);
        out.extend(counted);
        Ok(out)
    }
}

/// How many persons carry each name key (counted up to [`TF_CAP`]), in one statement.
/// `persistent` keeps the prepared statement: worth it for a look-up's few keys, not for a
/// group's one-off lists.
pub async fn name_counts(
    conn: &mut AnyConnection,
    keys: &[&str],
    persistent: bool,
) -> Result<HashMap<String, i64>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let style = Placeholders::of(conn);
    let count = match style {
        // The keys themselves, from the covering index.
        Placeholders::Positional => format!(
            "(SELECT COUNT(*) FROM (SELECT 1 FROM match_keys WHERE block_key = q.k LIMIT {TF_CAP}) t)"
        ),
        // The count table the triggers of migration 0310 keep (one row per session).
        Placeholders::Numbered => {
            "(SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM name_counts c WHERE c.name_key = q.k)"
                .to_string()
        }
    };
    // PostgreSQL gets the keys as one array: one text for any number of keys.
    let list = match style {
        Placeholders::Positional => format!("VALUES {}", style.value_lists(keys.len(), 1)),
        Placeholders::Numbered => "SELECT unnest($1::text[])".to_string(),
    };
    let sql = format!("WITH q(k) AS ({list}) SELECT k, {count} AS n FROM q");
    let sql = json_rows::wrap(conn, &sql, &["k", "n"], "");
    let q = sqlx::query_as(&sql).persistent(persistent || style.one_text_for_any_length());
    let q = match style {
        Placeholders::Positional => keys.iter().fold(q, |q, k| q.bind(*k)),
        Placeholders::Numbered => q.bind(text_array(keys.iter().copied())),
    };
    let rows: Vec<(String, i64)> = json_rows::fetch(conn, q).await?;
    // Capped as the key-by-key count is, so that answers do not depend on the engine.
    Ok(rows
        .into_iter()
        .map(|(k, n)| (k, n.clamp(0, TF_CAP)))
        .collect())
}

/// On PostgreSQL, moves the name counts of database sessions that have ended into one row
/// per name (each session counts into its own row so that writers never wait on each
/// other; without folding, a long-running registry would gather a row per connection it
/// ever opened). Nothing to do on SQLite, which counts the keys themselves.
pub async fn fold_name_counts(db: &imms_db::Database) -> Result<(), StoreError> {
    if db.engine() == imms_db::Engine::Postgres {
        sqlx::query("SELECT fold_name_counts()")
            .execute(db.pool())
            .await?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use imms_db::Database;

    /// `n` persons (ids from `first`) carrying the name key `key`.
    async fn persons_named(db: &Database, first: i64, n: i64, key: &str) {
        let mut tx = db.pool().begin().await.unwrap();
        for id in first..first + n {
            sqlx::query(
                "INSERT INTO persons (id, birth_date, sex, created_at, updated_at) \
                 VALUES ($1, '1980-01-01', 'F', 'now', 'now')",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
            sqlx::query("INSERT INTO match_keys (block_key, person_id) VALUES ($1, $2)")
                .bind(key)
                .bind(id)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    imms_db::conformance_test!(
        common_names_are_counted_once_and_rare_ones_every_time,
        |db: Database| async move {
            persons_named(&db, 1, TF_CAP, "FN|SMITH").await;
            persons_named(&db, TF_CAP + 1, 3, "FN|OKAFOR").await;
            let common = CommonNames::default();
            let mut conn = db.pool().acquire().await.unwrap();
            let keys = ["FN|SMITH", "FN|OKAFOR", "FN|NOBODY"];
            let first = common.counts(&mut conn, &keys, true).await.unwrap();
            assert_eq!(first, name_counts(&mut conn, &keys, true).await.unwrap());
            assert_eq!(first["FN|SMITH"], TF_CAP);
            assert_eq!(first["FN|OKAFOR"], 3);
            assert_eq!(first["FN|NOBODY"], 0);
            // One more Okafor is seen at once; Smith, at the cap, is not counted again.
            persons_named(&db, TF_CAP + 4, 1, "FN|OKAFOR").await;
            sqlx::query("DELETE FROM match_keys WHERE block_key = 'FN|SMITH'")
                .execute(&mut *conn)
                .await
                .unwrap();
            let again = common.counts(&mut conn, &keys, true).await.unwrap();
            assert_eq!(again["FN|OKAFOR"], 4);
            assert_eq!(again["FN|SMITH"], TF_CAP, "remembered, not counted");
        }
    );
}
