//! The registry's storage: one implementation over [`imms_db::Database`] that runs the same
//! SQL on SQLite and PostgreSQL (the conformance suite in `tests/store_conformance.rs`
//! proves they agree).
//!
//! [`Store::ingest`] stores everything one message says in a single transaction, together
//! with the answer it got, so that an AA is never sent for data that is not durable and a
//! resend of the same MSH-4 + MSH-10 gets the same answer without storing anything twice.

mod apply;
pub mod bulk_load;
pub mod changes;
pub mod corrections;
mod facilities;
mod group;
mod group_plan;
mod group_reads;
mod group_write;
pub mod history;
mod json_rows;
pub(crate) mod link;
pub mod lookup;
pub mod match_keys;
pub mod merge;
mod pipeline;
mod profile_cache;
pub mod record;
pub mod rows;
pub mod staff;

use chrono::{DateTime, Utc};
use imms_db::Database;

use crate::ack::AckCode;
use crate::problem::Problem;
use crate::vxu::Vxu;

pub use facilities::Credential;
pub use pipeline::GroupWriter;

/// Builds a message's answer from all its problems: (MSA-1, the ACK text).
pub type MakeAck<'a> = dyn Fn(&Vxu, &[Problem]) -> (AckCode, String) + Sync + 'a;
/// Per-message results of a group, or the group's own failure.
pub type GroupResult = Result<Vec<Result<Stored, StoreError>>, StoreError>;
pub use record::{Counts, PersonRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Conflict(String),
    #[error("another writer stored the same person at the same moment")]
    Race,
}

impl StoreError {
    /// Errors that a retry of the same transaction can cure: unique-key races between two
    /// nodes creating the same person, serialization failures, a busy SQLite file.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sql(sqlx::Error::Database(e)) => {
                let code = e.code().map(|c| c.to_string()).unwrap_or_default();
                matches!(
                    code.as_str(),
                    "23505" | "40001" | "40P01" | "5" | "6" | "517" | "2067" | "1555"
                ) || e.message().contains("database is locked")
                    || e.message().contains("UNIQUE constraint failed")
            }
            StoreError::Sql(sqlx::Error::PoolTimedOut) | StoreError::Race => true,
            _ => false,
        }
    }
}

/// What storing a message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// The same facility sent this control id before: its answer, unchanged.
    Duplicate { ack: String, code: String },
    Applied {
        person_id: i64,
        code: AckCode,
        ack: String,
        problems: Vec<Problem>,
    },
}

#[derive(Clone, Debug)]
pub struct Store {
    db: Database,
    /// Candidate profiles read by earlier groups (checked against the store before use).
    profiles: std::sync::Arc<profile_cache::ProfileCache>,
    /// Names counted at the cap by earlier groups and look-ups.
    common_names: std::sync::Arc<match_keys::CommonNames>,
}

pub(crate) fn now_text(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    pub fn new(db: Database) -> Store {
        Store {
            db,
            profiles: Default::default(),
            common_names: Default::default(),
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Names this store has counted at the cap (look-ups and groups share them).
    pub(crate) fn common_names(&self) -> &match_keys::CommonNames {
        &self.common_names
    }

    /// Stores a readable VXU (no problem of message or person scope) and its answer in one
    /// transaction. `make_ack` builds the ACK from all problems, including the ones found
    /// while applying (an update of an unknown dose, say). Retries transient conflicts.
    pub async fn ingest(
        &self,
        vxu: &Vxu,
        now: DateTime<Utc>,
        make_ack: &(dyn Fn(&[Problem]) -> (AckCode, String) + Sync),
    ) -> Result<Stored, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match apply::ingest_once(&self.db, vxu, now, make_ack).await {
                Err(e) if e.is_transient() && attempt < 8 => {
                    tokio::time::sleep(std::time::Duration::from_millis(5 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// Stores many readable messages in one transaction, with a few set-based statements
    /// for the whole group (see `group`); see [`Store::ingest`]. An outer `Err` means nothing
    /// of the batch was stored.
    pub async fn ingest_batch(
        &self,
        vxus: &[&Vxu],
        now: DateTime<Utc>,
        make_ack: &MakeAck<'_>,
    ) -> GroupResult {
        group::ingest_group(
            &self.db,
            &self.profiles,
            &self.common_names,
            vxus,
            now,
            make_ack,
        )
        .await
    }

    /// A writer that stores groups one after the other, reading and routing the next group
    /// while one is written (see `pipeline`). One per store: it assumes it is the store's
    /// only group writer.
    pub fn group_writer(&self) -> GroupWriter {
        GroupWriter::new(self.clone())
    }

    /// The answer stored for an earlier message with this facility and control id.
    pub async fn previous_answer(
        &self,
        facility_id: &str,
        control_id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT ack, outcome FROM messages WHERE facility_id = $1 AND control_id = $2",
        )
        .bind(facility_id)
        .bind(control_id)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row)
    }

    /// One audit line for an event outside a message transaction (a refused credential, a
    /// rejected message). Ids only, never content.
    pub async fn audit(
        &self,
        now: DateTime<Utc>,
        actor: &str,
        facility_id: Option<&str>,
        control_id: Option<&str>,
        action: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_log (at, actor, facility_id, control_id, action, entity) VALUES ($1, $2, $3, $4, $5, 'message')")
            .bind(now_text(now))
            .bind(actor)
            .bind(facility_id.map(str::to_string))
            .bind(control_id.map(str::to_string))
            .bind(action)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The code tables stored in the database, by file name.
    pub async fn code_table_files(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT name, content FROM code_tables ORDER BY name")
                .fetch_all(self.db.pool())
                .await?,
        )
    }

    /// Replaces the stored code tables.
    pub async fn save_code_table_files(
        &self,
        files: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("DELETE FROM code_tables")
            .execute(&mut *tx)
            .await?;
        for (name, content) in files {
            sqlx::query("INSERT INTO code_tables (name, content, loaded_at) VALUES ($1, $2, $3)")
                .bind(name)
                .bind(content)
                .bind(now_text(now))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
