//! # imms-db — one database layer, two engines
//!
//! The registry runs on an embedded SQLite file by default and on PostgreSQL when a state
//! outgrows one machine. [`Database::connect`] picks the engine from the URL
//! (`sqlite://…` or `postgres://…`), configures it for durability (SQLite: WAL journal,
//! `synchronous=FULL`, foreign keys, a busy timeout), and applies this crate's ordered
//! migrations for that engine (`migrations/sqlite`, `migrations/postgres`).
//!
//! Queries go through sqlx's `Any` driver so that one implementation of each store serves
//! both engines; the SQL used is the common subset (`$n` placeholders, `RETURNING`,
//! `ON CONFLICT`), and where the engines differ a store asks [`Database::engine`].
//!
//! [`testing`] is the conformance harness: it hands a test a fresh SQLite file and a fresh
//! PostgreSQL database, so one suite proves both engines behave the same.

pub mod testing;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "the database URL must start with sqlite:// or postgres:// (got a URL starting {0:?})"
    )]
    UnsupportedUrl(String),
    #[error("could not open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("could not bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn from_url(url: &str) -> Result<Engine, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Engine::Postgres)
        } else {
            Err(DbError::UnsupportedUrl(url.chars().take(12).collect()))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// A connected, migrated database.
#[derive(Clone, Debug)]
pub struct Database {
    pool: AnyPool,
    engine: Engine,
}

/// Pool sizes; SQLite has one writer at a time, so more connections only help readers.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// How long [`Database::close`] waits for connections still in use.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

impl Database {
    /// Connects with default pool settings and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Database, DbError> {
        Self::connect_with(url, PoolSettings::default()).await
    }

    pub async fn connect_with(url: &str, settings: PoolSettings) -> Result<Database, DbError> {
        sqlx::any::install_default_drivers();
        let engine = Engine::from_url(url)?;
        let url = match engine {
            // Create the file when missing.
            Engine::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(DbError::Connect)?;
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout);
        if engine == Engine::Sqlite {
            pool_options = pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // Durability first: an ACK AA promises the data survives a power cut.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    // A larger page cache (64 MB) keeps the indexes of a few million
                    // persons in memory.
                    conn.execute("PRAGMA cache_size = -65536").await?;
                    // Reads through a memory map: a page already in the operating system's
                    // cache costs no system call, and every connection shares it. Without
                    // it a look-up among 1,000,000 persons spent two thirds of its time
                    // copying pages its connection's cache had dropped. SQLite clamps this
                    // to its compile-time bound (.cargo/config.toml).
                    conn.execute("PRAGMA mmap_size = 1099511627776").await?;
                    Ok(())
                })
            });
        }
        if engine == Engine::Postgres {
            pool_options = pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // A group's reads are many index look-ups whose estimated cost passes
                    // the JIT threshold; compiling them took longer than running them.
                    conn.execute("SET jit = off").await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        let db = Database { pool, engine };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), DbError> {
        match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Engine::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Closes the pool: no new connection is handed out, idle ones are closed now, and
    /// those still in use when they come back. Waits at most [`CLOSE_WAIT`] for them:
    /// sqlx's close can wait forever when a connection is held (a group writer keeps its
    /// own) while another is on its way back to the pool, and every write was committed
    /// before anyone could ask to close.
    pub async fn close(&self) {
        if tokio::time::timeout(CLOSE_WAIT, self.pool.close())
            .await
            .is_err()
        {
            tracing::warn!(
                in_use = (self.pool.size() as usize).saturating_sub(self.pool.num_idle()),
                "closing the database: connections still in use were left to close on their own"
            );
        }
    }

    /// True when the database answers a trivial query (for `/healthz`).
    pub async fn is_healthy(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sqlx's own close waits forever when one connection is held while another is on
    /// its way back to the pool (a group writer keeps a connection of its own); closing
    /// must end anyway, so that a test or `imms serve`'s shutdown cannot hang on it.
    #[tokio::test]
    async fn closing_ends_while_a_connection_is_held() {
        let t = crate::testing::fresh(Engine::Sqlite).await;
        let held = t.db.pool().acquire().await.unwrap();
        let returning = t.db.pool().acquire().await.unwrap();
        drop(returning);
        let closing = tokio::time::timeout(CLOSE_WAIT * 3, t.db.close()).await;
        assert!(closing.is_ok(), "close did not end");
        assert!(t.db.pool().is_closed());
        drop(held);
    }

    /// The memory map must cover a registry of millions (gigabytes), which takes the
    /// compile-time bound set in .cargo/config.toml: without it SQLite stops at 2 GB.
    #[tokio::test]
    async fn sqlite_reads_through_a_memory_map_larger_than_two_gigabytes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("map.db").display());
        let db = Database::connect(&url).await.unwrap();
        let (size,): (i64,) = sqlx::query_as("PRAGMA mmap_size")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert!(size >= 1 << 40, "mmap_size is {size}");
    }
}
