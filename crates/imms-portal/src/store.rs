//! What the portal keeps: the one person bound to each account (a keyed hash, never the name
//! or date of birth) and audit events (ids only). Nothing uploaded is ever written here.

use imms_db::Database;
use sqlx::Row;

#[derive(Clone)]
pub struct PortalStore {
    db: Database,
}

/// Whether an identity may be used by an account.
#[derive(Debug, PartialEq, Eq)]
pub enum Binding {
    /// No identity bound yet: the first match binds this one.
    Unbound,
    /// This identity is the account's.
    Same,
    /// The account is bound to someone else.
    Other,
}

impl PortalStore {
    pub fn new(db: Database) -> PortalStore {
        PortalStore { db }
    }

    pub async fn binding(
        &self,
        subject: &str,
        identity_hash: &str,
    ) -> Result<Binding, sqlx::Error> {
        let row = sqlx::query("SELECT identity_hash FROM portal_bindings WHERE subject = $1")
            .bind(subject)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(match row {
            None => Binding::Unbound,
            Some(r) if r.try_get::<String, _>("identity_hash")? == identity_hash => Binding::Same,
            Some(_) => Binding::Other,
        })
    }

    /// Binds the identity to the account unless one is bound already; returns the binding
    /// that holds afterwards (two tabs racing bind only the first).
    pub async fn bind(&self, subject: &str, identity_hash: &str) -> Result<Binding, sqlx::Error> {
        sqlx::query(
            "INSERT INTO portal_bindings (subject, identity_hash, bound_at) VALUES ($1, $2, $3) \
             ON CONFLICT (subject) DO NOTHING",
        )
        .bind(subject)
        .bind(identity_hash)
        .bind(chrono::Utc::now().timestamp())
        .execute(self.db.pool())
        .await?;
        self.binding(subject, identity_hash).await
    }

    /// An audit event: what happened, to which account, in which session. Also a log line.
    pub async fn audit(
        &self,
        event: &str,
        subject: &str,
        session: &str,
    ) -> Result<(), sqlx::Error> {
        tracing::warn!(target: "audit", event, subject, session, "portal audit event");
        sqlx::query(
            "INSERT INTO portal_audit (at, event, subject, session) VALUES ($1, $2, $3, $4)",
        )
        .bind(chrono::Utc::now().timestamp())
        .bind(event)
        .bind(subject)
        .bind(session)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Audit events of one account, oldest first (for operators and tests).
    pub async fn audit_events(&self, subject: &str) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query("SELECT event FROM portal_audit WHERE subject = $1 ORDER BY id")
            .bind(subject)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(|r| r.try_get("event")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    imms_db::conformance_test!(one_person_per_account, |db| async move {
        let store = PortalStore::new(db);
        assert_eq!(
            store.binding("sub-1", "h1").await.unwrap(),
            Binding::Unbound
        );
        assert_eq!(store.bind("sub-1", "h1").await.unwrap(), Binding::Same);
        assert_eq!(store.bind("sub-1", "h2").await.unwrap(), Binding::Other);
        assert_eq!(store.binding("sub-1", "h1").await.unwrap(), Binding::Same);
        assert_eq!(
            store.binding("sub-2", "h1").await.unwrap(),
            Binding::Unbound
        );
        store
            .audit("identity_mismatch", "sub-1", "abcd")
            .await
            .unwrap();
        assert_eq!(
            store.audit_events("sub-1").await.unwrap(),
            vec!["identity_mismatch"]
        );
    });
}
