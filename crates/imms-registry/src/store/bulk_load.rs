//! Index upkeep paused for a bulk load into an empty store (`imms match run`, load tests).
//!
//! Each person brings about ten blocking keys and a few names and addresses, inserted at
//! random places of indexes that outgrow memory once the store holds millions. On
//! PostgreSQL that made a load slow down threefold as it went; on SQLite every transaction
//! rewrote most pages of those indexes into the write-ahead log. Built once after the rows
//! are in, an index is one sort.
//!
//! Only an empty store is loaded this way: a live registry keeps its indexes. A load that
//! fails half-way leaves the store without them; load again into a new database.

use sqlx::AnyConnection;

use super::StoreError;

/// The tables a bulk load writes.
const LOADED_TABLES: [&str; 4] = ["persons", "person_names", "person_addresses", "match_keys"];

/// SQLite keeps `match_keys` ordered by its key (WITHOUT ROWID): there the keys are first
/// appended to this plain table and moved over in key order at the end.
const SQLITE_STAGED_KEYS: &str = "match_keys_staged";

/// Indexes dropped for a load, with what rebuilds them.
#[derive(Debug)]
pub struct BulkLoad {
    engine: imms_db::Engine,
    /// `CREATE INDEX` statements of the dropped secondary indexes.
    rebuild: Vec<String>,
}

impl BulkLoad {
    /// Drops the secondary indexes of the loaded tables (and on PostgreSQL the blocking
    /// keys' primary key) when the store holds no person yet. `None`: the store is not
    /// empty, and rows go into the live indexes.
    pub async fn begin(
        conn: &mut AnyConnection,
        engine: imms_db::Engine,
    ) -> Result<Option<BulkLoad>, StoreError> {
        let (any,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM (SELECT 1 FROM persons LIMIT 1) t")
                .fetch_one(&mut *conn)
                .await?;
        if any > 0 {
            return Ok(None);
        }
        let rebuild = secondary_indexes(conn, engine).await?;
        for (name, _) in &rebuild {
            sqlx::query(&format!("DROP INDEX {name}"))
                .execute(&mut *conn)
                .await?;
        }
        match engine {
            imms_db::Engine::Postgres => {
                sqlx::query("ALTER TABLE match_keys DROP CONSTRAINT match_keys_pkey")
                    .execute(&mut *conn)
                    .await?;
                // The name counts are made once at the end, by one GROUP BY.
                sqlx::query("ALTER TABLE match_keys DISABLE TRIGGER match_keys_names_added")
                    .execute(&mut *conn)
                    .await?;
            }
            imms_db::Engine::Sqlite => {
                sqlx::query(&format!(
                    "CREATE TABLE {SQLITE_STAGED_KEYS} (block_key TEXT NOT NULL, person_id INTEGER NOT NULL)"
                ))
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok(Some(BulkLoad {
            engine,
            rebuild: rebuild.into_iter().map(|(_, sql)| sql).collect(),
        }))
    }

    /// The table the load writes blocking keys into.
    pub fn keys_table(&self) -> &'static str {
        match self.engine {
            imms_db::Engine::Postgres => "match_keys",
            imms_db::Engine::Sqlite => SQLITE_STAGED_KEYS,
        }
    }

    /// Builds what [`BulkLoad::begin`] dropped, once, from the loaded rows.
    pub async fn finish(self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        match self.engine {
            imms_db::Engine::Postgres => {
                sqlx::query("SET maintenance_work_mem = '1GB'")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("ALTER TABLE match_keys ADD PRIMARY KEY (block_key, person_id)")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("SELECT recount_name_counts()")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("ALTER TABLE match_keys ENABLE TRIGGER match_keys_names_added")
                    .execute(&mut *conn)
                    .await?;
            }
            imms_db::Engine::Sqlite => {
                // In key order each page of the clustered table is written once.
                sqlx::query(&format!(
                    "INSERT OR IGNORE INTO match_keys (block_key, person_id) \
                     SELECT block_key, person_id FROM {SQLITE_STAGED_KEYS} ORDER BY block_key, person_id"
                ))
                .execute(&mut *conn)
                .await?;
                sqlx::query(&format!("DROP TABLE {SQLITE_STAGED_KEYS}"))
                    .execute(&mut *conn)
                    .await?;
            }
        }
        for sql in &self.rebuild {
            sqlx::query(sql).execute(&mut *conn).await?;
        }
        if self.engine == imms_db::Engine::Postgres {
            sqlx::query("RESET maintenance_work_mem")
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// (name, definition) of the indexes on the loaded tables that no constraint owns.
async fn secondary_indexes(
    conn: &mut AnyConnection,
    engine: imms_db::Engine,
) -> Result<Vec<(String, String)>, StoreError> {
    let tables = LOADED_TABLES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = match engine {
        // Indexes behind PRIMARY KEY and UNIQUE have no SQL of their own.
        imms_db::Engine::Sqlite => format!(
            "SELECT name, sql FROM sqlite_master \
             WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({tables}) ORDER BY name"
        ),
        imms_db::Engine::Postgres => format!(
            "SELECT i.indexname::TEXT, i.indexdef::TEXT FROM pg_indexes i \
             WHERE i.schemaname = current_schema() AND i.tablename IN ({tables}) \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) \
             ORDER BY i.indexname"
        ),
    };
    Ok(sqlx::query_as(&sql).fetch_all(&mut *conn).await?)
}
