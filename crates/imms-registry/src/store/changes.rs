//! What the provider console's store operations share: who acts ([`Actor`]), the one error
//! type for refused or failed changes ([`ChangeError`]), and the audit line every console
//! action writes (ids only, never names or record contents).

use sqlx::{Any, Transaction};

use super::staff::Role;
use super::StoreError;

/// A signed-in member of staff, as the store sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub facility_id: String,
    pub role: Role,
}

impl Actor {
    /// The audit trail's `actor` column.
    pub fn audit_name(&self) -> String {
        format!("staff:{}", self.user_id)
    }

    /// Whether this member of staff may change a dose reported by `facility_id`: editors
    /// their own organization's, administrators any.
    pub fn may_change_dose_of(&self, facility_id: &str) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Editor => self.facility_id == facility_id,
            Role::Viewer => false,
        }
    }

    pub fn require(&self, role: Role, what: &str) -> Result<(), ChangeError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ChangeError::Forbidden(format!(
                "{what} needs the {} role; you are a {}. Ask a registry administrator.",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }
}

/// Why a console change was refused or failed. Every refusal changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("someone else changed this dose after you opened it; nothing was saved. Reload the record to see their change, then make yours again if it is still needed.")]
    Stale,
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ChangeError {
    fn from(e: sqlx::Error) -> ChangeError {
        ChangeError::Store(StoreError::Sql(e))
    }
}

/// The longest reason accepted for a change.
pub const MAX_REASON: usize = 500;

/// A change's reason: required, one paragraph of plain text.
pub fn check_reason(reason: &str) -> Result<String, ChangeError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(ChangeError::Invalid(
            "give a reason for the change (for example, where the information came from)".into(),
        ));
    }
    if r.chars().count() > MAX_REASON {
        return Err(ChangeError::Invalid(format!(
            "the reason is longer than {MAX_REASON} characters; shorten it"
        )));
    }
    if r.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ChangeError::Invalid(
            "the reason contains control characters".into(),
        ));
    }
    Ok(r.to_string())
}

/// One audit line inside a transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit_tx(
    tx: &mut Transaction<'_, Any>,
    at: &str,
    actor: &str,
    facility_id: Option<&str>,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    person_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, facility_id, action, entity, entity_id, person_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(at)
    .bind(actor)
    .bind(facility_id.map(str::to_string))
    .bind(action)
    .bind(entity)
    .bind(entity_id)
    .bind(person_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
