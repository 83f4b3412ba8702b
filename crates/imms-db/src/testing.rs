//! The conformance harness: fresh databases on both engines for one test suite.
//!
//! SQLite databases live in a temporary directory removed when the [`TestDatabase`] drops.
//! PostgreSQL databases are created on the server named by `IMMS_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`) with a random name, and dropped when
//! the test ends. PostgreSQL must be reachable: a conformance suite that silently ran on one
//! engine only would prove nothing, so an unreachable server fails the test.

use rand::Rng;
use sqlx::Connection;

use crate::{Database, Engine};

pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct TestDatabase {
    pub db: Database,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempdir::Dir),
    Postgres { admin_url: String, name: String },
}

mod tempdir {
    /// A directory removed on drop (kept dependency-free for this crate).
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TestDatabase {
    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    /// Closes the pool and removes the database.
    pub async fn drop_database(self) {
        self.db.close().await;
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            if let Ok(mut conn) = sqlx::AnyConnection::connect(admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

fn random_suffix() -> String {
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

/// A URL for a new, empty database of this engine (the database exists, unmigrated).
pub async fn fresh_url(engine: Engine) -> (String, TestDatabaseCleanup) {
    sqlx::any::install_default_drivers();
    match engine {
        Engine::Sqlite => {
            let dir = std::env::temp_dir().join(format!("imms-test-{}", random_suffix()));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            let url = format!("sqlite://{}/imms.db", dir.display());
            (url, TestDatabaseCleanup(Cleanup::Sqlite(tempdir::Dir(dir))))
        }
        Engine::Postgres => {
            let admin_url = std::env::var("IMMS_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_string());
            let name = format!("imms_t_{}", random_suffix());
            let mut conn = sqlx::AnyConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL is needed for the conformance suite ({admin_url}): {e}")
                });
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            let url = format!("{base}/{name}");
            (
                url,
                TestDatabaseCleanup(Cleanup::Postgres { admin_url, name }),
            )
        }
    }
}

/// Keeps a fresh database alive; see [`fresh_url`].
pub struct TestDatabaseCleanup(Cleanup);

/// A fresh, migrated database of this engine.
pub async fn fresh(engine: Engine) -> TestDatabase {
    let (url, TestDatabaseCleanup(cleanup)) = fresh_url(engine).await;
    let db = Database::connect(&url)
        .await
        .expect("connect to fresh test database");
    TestDatabase { db, url, cleanup }
}

impl TestDatabaseCleanup {
    /// Removes the database now (PostgreSQL) or when dropped (SQLite).
    pub async fn remove(self) {
        if let Cleanup::Postgres { admin_url, name } = &self.0 {
            if let Ok(mut conn) = sqlx::AnyConnection::connect(admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

/// Both engines, in the order the conformance suite runs them.
pub const ENGINES: [Engine; 2] = [Engine::Sqlite, Engine::Postgres];

/// Runs one conformance test body on a fresh database of each engine.
///
/// ```ignore
/// imms_db::conformance_test!(stores_a_person, |db| async move { /* … */ });
/// ```
#[macro_export]
macro_rules! conformance_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = $crate::testing::fresh($crate::Engine::Sqlite).await;
                ($body)(t.db.clone()).await;
                t.drop_database().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let t = $crate::testing::fresh($crate::Engine::Postgres).await;
                ($body)(t.db.clone()).await;
                t.drop_database().await;
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Database;

    crate::conformance_test!(migrations_apply, |db: Database| async move {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM persons")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(n, 0);
        assert!(db.is_healthy().await);
    });

    #[tokio::test]
    async fn sqlite_is_durable_by_configuration() {
        let t = fresh(Engine::Sqlite).await;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(t.db.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(t.db.pool())
            .await
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        t.drop_database().await;
    }
}
