//! Facilities (clinics, health departments) and the credentials their systems use.

use chrono::{DateTime, Utc};

use super::{now_text, Store, StoreError};

#[derive(Debug, Clone)]
pub struct Credential {
    pub username: String,
    pub facility_id: String,
    pub password_hash: String,
    pub disabled: bool,
}

impl Store {
    /// Adds the facility, or renames it when it exists.
    pub async fn upsert_facility(
        &self,
        id: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO facilities (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET name = excluded.name")
            .bind(id)
            .bind(name)
            .bind(now_text(now))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Every facility's name by its id, for the record (people recognise a clinic's name,
    /// not its HL7 id).
    pub async fn facility_names(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, name FROM facilities")
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows.into_iter().collect())
    }

    pub async fn facility_exists(&self, id: &str) -> Result<bool, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM facilities WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.is_some())
    }

    pub async fn add_credential(
        &self,
        username: &str,
        facility_id: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO facility_credentials (username, facility_id, password_hash, disabled, created_at) VALUES ($1, $2, $3, 0, $4)")
            .bind(username)
            .bind(facility_id)
            .bind(password_hash)
            .bind(now_text(now))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn credential(&self, username: &str) -> Result<Option<Credential>, StoreError> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT username, facility_id, password_hash, disabled FROM facility_credentials WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(
            |(username, facility_id, password_hash, disabled)| Credential {
                username,
                facility_id,
                password_hash,
                disabled: disabled != 0,
            },
        ))
    }
}
