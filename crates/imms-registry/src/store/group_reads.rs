//! Everything a group of messages needs to know from the store, read with a handful of
//! statements for the whole group before anything is written: earlier answers, identifiers
//! and order numbers already stored, and the matching engine's candidates, name counts and
//! profiles for every person the group may create.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use imms_core::Person;
use imms_db::Engine;
use imms_match::{keys, Prepared};
use sha2::{Digest, Sha256};
use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;
use sqlx::{Any, AnyConnection};

use super::json_rows;
use super::match_keys::CommonNames;
use super::match_keys::{self, Settings, MAX_CANDIDATES};
use super::profile_cache::ProfileCache;
use super::rows::{int_array, text_array, Placeholders};
use super::StoreError;
use crate::vxu::Vxu;

/// Items per IN list or VALUES list of one read.
const READ_CHUNK: usize = 5_000;

/// (facility, id type, value)
pub(crate) type IdentifierKey = (String, String, String);

/// The matching view of a message's person, when the engine can look for it.
pub(crate) struct MatchQuery {
    pub prepared: Prepared,
    pub keys: Vec<String>,
    pub tf_keys: Vec<String>,
}

impl MatchQuery {
    pub(crate) fn of(person: &Person) -> Option<MatchQuery> {
        let query = match_keys::query_from_person(person)?;
        if query.check().is_err() {
            return None;
        }
        let prepared = Prepared::from_query(&query);
        let keys = keys::query_keys(&prepared);
        let tf_keys = crate::matching::tf_keys(&prepared);
        Some(MatchQuery {
            prepared,
            keys,
            tf_keys,
        })
    }
}

/// What the store held for a group when the group began.
#[derive(Default)]
pub(crate) struct Known {
    /// (facility, control id) → (ACK, MSA-1) of messages stored before.
    pub previous: HashMap<(String, String), (String, String)>,
    pub identifiers: HashSet<IdentifierKey>,
    /// (facility, filler order number) of stored doses.
    pub orders: HashSet<(String, String)>,
    /// Per message (by index in the group): its query and the stored persons sharing the
    /// most keys with it, as (person id, keys shared), most shared first.
    pub queries: HashMap<usize, (MatchQuery, Vec<(i64, i64)>)>,
    /// Prepared profiles of the stored candidates.
    pub profiles: HashMap<i64, Arc<Prepared>>,
    /// Name counts (capped at [`TF_CAP`]).
    pub name_counts: HashMap<String, i64>,
    /// The highest person id (the matcher's estimate of the number of persons).
    pub max_person_id: i64,
    pub settings: Settings,
}

impl Known {
    pub(crate) async fn read(
        conn: &mut AnyConnection,
        engine: Engine,
        cache: &ProfileCache,
        common_names: &CommonNames,
        vxus: &[&Vxu],
    ) -> Result<Known, StoreError> {
        Known::read_trusting(conn, engine, cache, common_names, vxus, 0).await
    }

    /// As [`Known::read`], with the kept profiles of a trust epoch used unchecked
    /// (`ProfileCache::read`).
    pub(crate) async fn read_trusting(
        conn: &mut AnyConnection,
        engine: Engine,
        cache: &ProfileCache,
        common_names: &CommonNames,
        vxus: &[&Vxu],
        epoch: u64,
    ) -> Result<Known, StoreError> {
        let mut known = Known {
            previous: previous_answers(conn, vxus).await?,
            identifiers: stored_identifiers(conn, vxus).await?,
            orders: stored_orders(conn, vxus).await?,
            ..Default::default()
        };
        // Persons the group may create: no identifier of theirs is stored yet.
        let unknown: Vec<(usize, &Person)> = vxus
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.person.as_ref().map(|p| (i, p)))
            .filter(|(_, p)| {
                !p.identifiers.iter().any(|id| {
                    known.identifiers.contains(&(
                        id.facility_id.clone(),
                        id.id_type.clone(),
                        id.value.clone(),
                    ))
                })
            })
            .collect();
        if unknown.is_empty() {
            return Ok(known);
        }
        if engine == Engine::Postgres {
            lock_birth_dates(conn, unknown.iter().map(|(_, p)| p)).await?;
        }
        let queries: Vec<(usize, MatchQuery)> = unknown
            .iter()
            .filter_map(|(i, p)| MatchQuery::of(p).map(|q| (*i, q)))
            .collect();
        if queries.is_empty() {
            return Ok(known);
        }
        let mut found = candidates(conn, &queries).await?;
        let mut ids: Vec<i64> = found.values().flatten().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        known.profiles = cache.read(conn, &ids, epoch).await?;
        let mut tf: Vec<&String> = queries.iter().flat_map(|(_, q)| &q.tf_keys).collect();
        tf.sort_unstable();
        tf.dedup();
        known.name_counts = HashMap::new();
        for chunk in tf.chunks(READ_CHUNK) {
            let keys: Vec<&str> = chunk.iter().map(|k| k.as_str()).collect();
            known
                .name_counts
                .extend(common_names.counts(conn, &keys, false).await?);
        }
        let (max,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM persons")
            .fetch_one(&mut *conn)
            .await?;
        known.max_person_id = max.unwrap_or(0);
        known.settings = match_keys::load_settings(conn).await?;
        known.queries = queries
            .into_iter()
            .map(|(i, q)| (i, (q, found.remove(&i).unwrap_or_default())))
            .collect();
        Ok(known)
    }
}

/// The rows of `table` whose `fixed` columns equal the first bound values and whose
/// `probed` column equals one of the `n` values bound after them ([`bind_probed`]): one
/// index look-up per value, however many rows share the fixed columns.
///
/// SQLite does that with an IN list. PostgreSQL's planner, given a long IN list, may scan
/// every row with the fixed columns and filter (a bulk import's statistics are stale, and
/// a single facility holds most of the table), which makes each group's read grow with
/// the table; a lateral look-up per value cannot be planned as a scan. The values come as
/// one array, so the text is the same for any number and is planned once per connection.
fn probe_sql(
    style: Placeholders,
    table: &str,
    fixed: &[&str],
    probed: &str,
    select: &[&str],
    n: usize,
) -> String {
    let fixed_equal: String = fixed
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = {} AND ", style.nth(i + 1)))
        .collect();
    match style {
        Placeholders::Positional => format!(
            "SELECT {} FROM {table} WHERE {fixed_equal}{probed} IN ({})",
            select.join(", "),
            style.list(fixed.len() + 1, n)
        ),
        Placeholders::Numbered => format!(
            "SELECT {} FROM unnest({}::text[]) AS probe(v) CROSS JOIN LATERAL \
             (SELECT {} FROM {table} WHERE {fixed_equal}{probed} = probe.v LIMIT 1) found",
            select
                .iter()
                .map(|c| format!("found.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            style.nth(fixed.len() + 1),
            select.join(", "),
        ),
    }
}

/// Binds the probed values of [`probe_sql`]: each one on SQLite, one array on PostgreSQL.
fn bind_probed<'q, O>(
    q: QueryAs<'q, Any, O, AnyArguments<'q>>,
    style: Placeholders,
    values: &'q [String],
) -> QueryAs<'q, Any, O, AnyArguments<'q>> {
    match style {
        Placeholders::Positional => values.iter().fold(q, |q, v| q.bind(v)),
        Placeholders::Numbered => q.bind(text_array(values.iter().map(String::as_str))),
    }
}

/// Groups items by a key, keeping the order of first appearance.
fn grouped<K: Eq + std::hash::Hash + Clone, V>(
    items: impl Iterator<Item = (K, V)>,
) -> Vec<(K, Vec<V>)> {
    let mut order: Vec<(K, Vec<V>)> = Vec::new();
    let mut at: HashMap<K, usize> = HashMap::new();
    for (k, v) in items {
        match at.get(&k) {
            Some(&i) => order[i].1.push(v),
            None => {
                at.insert(k.clone(), order.len());
                order.push((k, vec![v]));
            }
        }
    }
    order
}

async fn previous_answers(
    conn: &mut AnyConnection,
    vxus: &[&Vxu],
) -> Result<HashMap<(String, String), (String, String)>, StoreError> {
    let mut out = HashMap::new();
    let by_facility = grouped(
        vxus.iter()
            .map(|v| (v.header.facility_id.clone(), v.header.control_id.clone())),
    );
    for (facility, controls) in by_facility {
        let style = Placeholders::of(conn);
        for chunk in controls.chunks(READ_CHUNK) {
            let sql = probe_sql(
                style,
                "messages",
                &["facility_id"],
                "control_id",
                &["control_id", "ack", "outcome"],
                chunk.len(),
            );
            let q = sqlx::query_as::<_, (String, String, String)>(&sql)
                .persistent(style.one_text_for_any_length())
                .bind(&facility);
            let q = bind_probed(q, style, chunk);
            for (control, ack, outcome) in q.fetch_all(&mut *conn).await? {
                out.insert((facility.clone(), control), (ack, outcome));
            }
        }
    }
    Ok(out)
}

async fn stored_identifiers(
    conn: &mut AnyConnection,
    vxus: &[&Vxu],
) -> Result<HashSet<IdentifierKey>, StoreError> {
    let mut out = HashSet::new();
    let by_kind = grouped(
        vxus.iter()
            .filter_map(|v| v.person.as_ref())
            .flat_map(|p| &p.identifiers)
            .map(|id| {
                (
                    (id.facility_id.clone(), id.id_type.clone()),
                    id.value.clone(),
                )
            }),
    );
    for ((facility, id_type), values) in by_kind {
        let style = Placeholders::of(conn);
        for chunk in values.chunks(READ_CHUNK) {
            let sql = probe_sql(
                style,
                "person_identifiers",
                &["facility_id", "id_type"],
                "value",
                &["value"],
                chunk.len(),
            );
            let q = sqlx::query_as::<_, (String,)>(&sql)
                .persistent(style.one_text_for_any_length())
                .bind(&facility)
                .bind(&id_type);
            let q = bind_probed(q, style, chunk);
            for (value,) in q.fetch_all(&mut *conn).await? {
                out.insert((facility.clone(), id_type.clone(), value));
            }
        }
    }
    Ok(out)
}

async fn stored_orders(
    conn: &mut AnyConnection,
    vxus: &[&Vxu],
) -> Result<HashSet<(String, String)>, StoreError> {
    let mut out = HashSet::new();
    let by_facility = grouped(vxus.iter().flat_map(|v| {
        v.doses
            .iter()
            .filter_map(|d| d.filler_order_number.clone())
            .map(|o| (v.header.facility_id.clone(), o))
    }));
    for (facility, orders) in by_facility {
        let style = Placeholders::of(conn);
        for chunk in orders.chunks(READ_CHUNK) {
            let sql = probe_sql(
                style,
                "immunizations",
                &["facility_id"],
                "filler_order_number",
                &["filler_order_number"],
                chunk.len(),
            );
            let q = sqlx::query_as::<_, (String,)>(&sql)
                .persistent(style.one_text_for_any_length())
                .bind(&facility);
            let q = bind_probed(q, style, chunk);
            for (order,) in q.fetch_all(&mut *conn).await? {
                out.insert((facility.clone(), order));
            }
        }
    }
    Ok(out)
}

/// The advisory lock the one-message path takes per date of birth (see `link::find`), for
/// every date of the group at once, in a fixed order so two groups never wait on each other
/// in a circle.
async fn lock_birth_dates<'a>(
    conn: &mut AnyConnection,
    persons: impl Iterator<Item = &'a &'a Person>,
) -> Result<(), StoreError> {
    let mut keys: Vec<i64> = persons
        .map(|p| {
            let digest = Sha256::digest(format!("match\u{1f}{}", p.birth_date).as_bytes());
            i64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for chunk in keys.chunks(READ_CHUNK) {
        sqlx::query("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS v(k)")
            .bind(int_array(chunk.iter().copied()))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// For each query, the stored persons sharing the most keys with it: the same answer as
/// [`match_keys::candidate_ids`] for each, with one statement for many queries.
async fn candidates(
    conn: &mut AnyConnection,
    queries: &[(usize, MatchQuery)],
) -> Result<HashMap<usize, Vec<(i64, i64)>>, StoreError> {
    let pairs: Vec<(i64, &String)> = queries
        .iter()
        .flat_map(|(i, q)| q.keys.iter().map(move |k| (*i as i64, k)))
        .collect();
    let style = Placeholders::of(conn);
    // Query → person → keys shared, summed over the chunks a query's keys fall in.
    let mut shared: HashMap<usize, HashMap<i64, i64>> = HashMap::new();
    for chunk in pairs.chunks(READ_CHUNK) {
        let sql = candidates_sql(style, chunk.len());
        let sql = json_rows::wrap(conn, &sql, &["n", "person_id", "h"], "");
        let mut q = sqlx::query_as(&sql).persistent(style.one_text_for_any_length());
        match style {
            Placeholders::Positional => {
                for (n, k) in chunk {
                    q = q.bind(*n).bind(k.as_str());
                }
            }
            Placeholders::Numbered => {
                q = q
                    .bind(int_array(chunk.iter().map(|(n, _)| *n)))
                    .bind(text_array(chunk.iter().map(|(_, k)| k.as_str())));
            }
        }
        let rows: Vec<(i64, i64, i64)> = json_rows::fetch(conn, q).await?;
        for (n, person_id, hits) in rows {
            *shared
                .entry(n as usize)
                .or_default()
                .entry(person_id)
                .or_default() += hits;
        }
    }
    Ok(shared
        .into_iter()
        .map(|(n, persons)| {
            let mut list: Vec<(i64, i64)> = persons.into_iter().collect();
            list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            list.truncate(MAX_CANDIDATES);
            (n, list)
        })
        .collect())
}

/// Rows (query, person, keys shared) for `n` bound (query, key) pairs.
///
/// SQLite looks each key up in the index and keeps each query's best [`MAX_CANDIDATES`].
/// PostgreSQL, given a join against a list of keys, hashes the list and scans every stored
/// key (a bulk import's statistics are stale), which makes each group's read grow with the
/// registry; a lateral look-up per key, fenced by `OFFSET 0` so that the planner cannot
/// turn it back into a join, reads only the keys asked for. Its rows count the keys shared
/// per query and person; the caller adds up the chunks and keeps the best. The pairs come
/// as two arrays ($1 the queries, $2 the keys), so the text is planned once per connection.
fn candidates_sql(style: Placeholders, n: usize) -> String {
    match style {
        Placeholders::Positional => format!(
            "WITH q(n, k) AS (VALUES {}), \
             hits AS (SELECT q.n AS n, m.person_id AS person_id, COUNT(*) AS h \
                      FROM q JOIN match_keys m ON m.block_key = q.k GROUP BY q.n, m.person_id) \
             SELECT n, person_id, h FROM \
               (SELECT n, person_id, h, ROW_NUMBER() OVER (PARTITION BY n ORDER BY h DESC, person_id) AS r FROM hits) t \
             WHERE r <= {MAX_CANDIDATES}",
            style.value_lists(n, 2)
        ),
        Placeholders::Numbered => "SELECT q.n AS n, m.person_id AS person_id, COUNT(*) AS h \
             FROM unnest($1::bigint[], $2::text[]) AS q(n, k) \
             CROSS JOIN LATERAL \
             (SELECT person_id FROM match_keys WHERE block_key = q.k OFFSET 0) m \
             GROUP BY q.n, m.person_id"
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_an_in_list_on_sqlite_and_lateral_look_ups_on_postgres() {
        let cols = ["control_id", "ack"];
        assert_eq!(
            probe_sql(
                Placeholders::Positional,
                "messages",
                &["facility_id"],
                "control_id",
                &cols,
                2
            ),
            "SELECT control_id, ack FROM messages WHERE facility_id = ? AND control_id IN (?, ?)"
        );
        assert_eq!(
            probe_sql(Placeholders::Numbered, "messages", &["facility_id"], "control_id", &cols, 2),
            "SELECT found.control_id, found.ack FROM unnest($2::text[]) AS probe(v) CROSS JOIN LATERAL \
             (SELECT control_id, ack FROM messages WHERE facility_id = $1 AND control_id = probe.v LIMIT 1) found"
        );
    }
}
