//! The floor `imms bench import` measures the import against: the very rows the import
//! stored (every table, every column, the same values: ACK texts, audit lines, matching
//! keys), read back from its database and inserted into a fresh one with multi-row INSERTs,
//! the rows of as many persons per transaction as import's largest group: no parsing, no
//! checks, no reads, no linking, no RETURNING.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imms_db::{Database, Engine};
use imms_registry::ingest::MAX_GROUP;
use imms_registry::store::rows::{Rows, Value};

/// The tables import writes, each with the column that ties a row to its person (`None`:
/// the message's own row, placed by its order among the messages).
const TABLES: [(&str, Option<&str>); 13] = [
    ("persons", Some("id")),
    ("person_names", Some("person_id")),
    ("person_addresses", Some("person_id")),
    ("person_phones", Some("person_id")),
    ("next_of_kin", Some("person_id")),
    ("person_identifiers", Some("person_id")),
    ("match_keys", Some("person_id")),
    ("possible_duplicates", Some("person_id")),
    ("refusals", Some("person_id")),
    ("immunizations", Some("person_id")),
    ("observations", Some("person_id")),
    ("audit_log", Some("person_id")),
    ("messages", None),
];

/// Rows of every table, in transactions of [`MAX_GROUP`] persons.
pub struct Floor {
    transactions: Arc<Vec<Vec<Rows>>>,
    rows: usize,
}

impl Floor {
    /// Reads back everything the import stored.
    pub async fn read(db: &Database) -> anyhow::Result<Floor> {
        let mut transactions: Vec<Vec<Rows>> = Vec::new();
        let mut rows = 0;
        for (table, person_column) in TABLES {
            let columns = columns(db, table).await?;
            let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
            let tie = match person_column {
                Some(c) => Some(
                    names
                        .iter()
                        .position(|n| *n == c)
                        .ok_or_else(|| anyhow::anyhow!("{table} has no column {c}"))?,
                ),
                None => None,
            };
            // A leaked statement head: a handful per run, and `Rows` keeps `&'static str`.
            let head: &'static str =
                Box::leak(format!("INSERT INTO {table} ({})", names.join(", ")).into_boxed_str());
            let order = person_column.unwrap_or(names[0]);
            let found = all_rows(db, table, &names, order).await?;
            for (position, row) in found.into_iter().enumerate() {
                let chunk = match tie {
                    None => position / MAX_GROUP,
                    Some(tie) => {
                        // Persons are numbered from 1 in the order the import created them.
                        let person = row.get(tie).and_then(|v| v.as_i64()).unwrap_or(1);
                        (person.max(1) as usize - 1) / MAX_GROUP
                    }
                };
                while transactions.len() <= chunk {
                    transactions.push(Vec::new());
                }
                let tables = &mut transactions[chunk];
                if tables.last().is_none_or(|t| t.head() != head) {
                    tables.push(Rows::new(head, names.len(), ""));
                }
                let values = row
                    .into_iter()
                    .zip(&columns)
                    .map(|(v, (_, integer))| value(v, *integer))
                    .collect();
                if let Some(t) = tables.last_mut() {
                    t.push(values);
                }
                rows += 1;
            }
        }
        Ok(Floor {
            transactions: Arc::new(transactions),
            rows,
        })
    }

    /// Inserts the rows into `db` (fresh) over one connection; answers how many and how
    /// long it took.
    pub async fn insert(&self, db: &Database) -> anyhow::Result<(usize, Duration)> {
        self.insert_over(db, 1).await
    }

    /// As [`Floor::insert`], with `connections` writing transactions side by side, as
    /// PostgreSQL's import writers do. A possible duplicate names a person another
    /// transaction may not have committed yet, so those rows are written last.
    pub async fn insert_over(
        &self,
        db: &Database,
        connections: usize,
    ) -> anyhow::Result<(usize, Duration)> {
        fn later(t: &Rows) -> bool {
            t.head().starts_with("INSERT INTO possible_duplicates ")
        }
        let start = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let mut writers = tokio::task::JoinSet::new();
        for _ in 0..connections.max(1) {
            let (transactions, next, db) = (self.transactions.clone(), next.clone(), db.clone());
            writers.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(tables) = transactions.get(i) else {
                        return anyhow::Ok(());
                    };
                    let mut tx = db.pool().begin().await?;
                    for t in tables.iter().filter(|t| connections == 1 || !later(t)) {
                        t.execute(&mut tx).await?;
                    }
                    tx.commit().await?;
                }
            });
        }
        while let Some(done) = writers.join_next().await {
            done??;
        }
        if connections > 1 {
            let mut tx = db.pool().begin().await?;
            for t in self.transactions.iter().flatten().filter(|t| later(t)) {
                t.execute(&mut tx).await?;
            }
            tx.commit().await?;
        }
        Ok((self.rows, start.elapsed()))
    }
}

/// A table's columns in order, each with whether it holds integers.
async fn columns(db: &Database, table: &str) -> anyhow::Result<Vec<(String, bool)>> {
    let sql = match db.engine() {
        Engine::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Engine::Postgres => {
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let found: Vec<(String, String)> = sqlx::query_as(sql).bind(table).fetch_all(db.pool()).await?;
    anyhow::ensure!(!found.is_empty(), "no table {table}");
    Ok(found
        .into_iter()
        .map(|(name, kind)| {
            let integer = kind.to_ascii_uppercase().contains("INT");
            (name, integer)
        })
        .collect())
}

/// Every row of a table as JSON values, ordered by `order` (the person, as import wrote
/// them), then by the first column.
async fn all_rows(
    db: &Database,
    table: &str,
    columns: &[&str],
    order: &str,
) -> anyhow::Result<Vec<Vec<serde_json::Value>>> {
    let list = columns.join(", ");
    let order = format!("{order}, {}", columns[0]);
    let sql = match db.engine() {
        Engine::Sqlite => format!(
            "SELECT json_group_array(json_array({list})) FROM (SELECT * FROM {table} ORDER BY {order})"
        ),
        Engine::Postgres => format!(
            "SELECT CAST(COALESCE(json_agg(json_build_array({list}) ORDER BY {order}), '[]') AS TEXT) FROM {table}"
        ),
    };
    let (text,): (Option<String>,) = sqlx::query_as(&sql).fetch_one(db.pool()).await?;
    Ok(serde_json::from_str(text.as_deref().unwrap_or("[]"))?)
}

fn value(v: serde_json::Value, integer: bool) -> Value {
    match (v, integer) {
        (serde_json::Value::Null, true) => Value::Int(None),
        (serde_json::Value::Null, false) => Value::Text(None),
        (serde_json::Value::Number(n), true) => Value::Int(n.as_i64()),
        (serde_json::Value::String(s), _) => Value::Text(Some(s)),
        (other, _) => Value::Text(Some(other.to_string())),
    }
}
