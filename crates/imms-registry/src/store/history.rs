//! What the console shows of a person beyond [`PersonRecord`](super::PersonRecord): every
//! dose including those entered in error (with the revision a change must name), the history
//! of staff changes, merges, and the audit trail of who looked at or changed the record.

use serde::Serialize;

use super::changes::ChangeError;
use super::corrections::{DoseFields, Revision};
use super::Store;

/// A dose as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsoleDose {
    pub id: i64,
    pub person_id: i64,
    pub facility_id: String,
    pub fields: DoseFields,
    pub entered_in_error: bool,
    #[serde(skip)]
    pub revision: Revision,
}

/// One staff change to a dose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoseChange {
    pub id: i64,
    pub immunization_id: i64,
    pub action: String,
    pub reason: String,
    pub actor: String,
    pub actor_facility_id: String,
    pub at: String,
    pub before: Option<DoseFields>,
    pub after: Option<DoseFields>,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub facility_id: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct DoseRow {
    id: i64,
    person_id: i64,
    facility_id: String,
    deleted: i64,
    version: i64,
    updated_at: String,
    #[sqlx(flatten)]
    fields: DoseFields,
}

const SELECT_DOSE: &str = "SELECT id, person_id, facility_id, deleted, version, updated_at, administered_date, cvx, mvx, lot_number, \
     expiration_date, amount, amount_unit, route, site, administering_provider, information_source, completion_status FROM immunizations";

fn console_dose(r: DoseRow) -> ConsoleDose {
    ConsoleDose {
        id: r.id,
        person_id: r.person_id,
        facility_id: r.facility_id,
        fields: r.fields,
        entered_in_error: r.deleted != 0,
        revision: Revision {
            version: r.version,
            updated_at: r.updated_at,
        },
    }
}

impl Store {
    /// Every dose of a person, entered-in-error ones too, by date.
    pub async fn console_doses(&self, person_id: i64) -> Result<Vec<ConsoleDose>, ChangeError> {
        let rows: Vec<DoseRow> = sqlx::query_as(&format!(
            "{SELECT_DOSE} WHERE person_id = $1 ORDER BY administered_date, id"
        ))
        .bind(person_id)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.into_iter().map(console_dose).collect())
    }

    pub async fn console_dose(&self, dose_id: i64) -> Result<Option<ConsoleDose>, ChangeError> {
        let row: Option<DoseRow> = sqlx::query_as(&format!("{SELECT_DOSE} WHERE id = $1"))
            .bind(dose_id)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.map(console_dose))
    }

    /// Staff changes to a person's doses, newest first.
    pub async fn dose_history(&self, person_id: i64) -> Result<Vec<DoseChange>, ChangeError> {
        type Row = (
            i64,
            i64,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, immunization_id, action, reason, actor, actor_facility_id, at, before_fields, after_fields \
             FROM dose_changes WHERE person_id = $1 ORDER BY at DESC, id DESC",
        )
        .bind(person_id)
        .fetch_all(self.db.pool())
        .await?;
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        Ok(rows
            .into_iter()
            .map(|r| DoseChange {
                id: r.0,
                immunization_id: r.1,
                action: r.2,
                reason: r.3,
                actor: r.4,
                actor_facility_id: r.5,
                at: r.6,
                before: parse(r.7),
                after: parse(r.8),
            })
            .collect())
    }

    /// The audit trail of one person, newest first.
    pub async fn person_audit(
        &self,
        person_id: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, ChangeError> {
        Ok(sqlx::query_as(
            "SELECT at, actor, facility_id, action, entity, entity_id FROM audit_log WHERE person_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(person_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// The person this one was merged into, if any (following a chain of merges).
    pub async fn merged_into(&self, person_id: i64) -> Result<Option<i64>, ChangeError> {
        let mut id = person_id;
        let mut seen = 0;
        loop {
            let row: Option<(Option<i64>,)> =
                sqlx::query_as("SELECT merged_into FROM persons WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.db.pool())
                    .await?;
            match row {
                Some((Some(next),)) if seen < 16 => {
                    id = next;
                    seen += 1;
                }
                _ => break,
            }
        }
        Ok((id != person_id).then_some(id))
    }

    /// Audits a look at a person's record (a view, a print, a candidate shown in a search).
    pub async fn audit_view(
        &self,
        actor: &super::changes::Actor,
        action: &str,
        person_id: i64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ChangeError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, facility_id, action, entity, entity_id, person_id) VALUES ($1, $2, $3, $4, 'person', $5, $5)",
        )
        .bind(super::now_text(now))
        .bind(actor.audit_name())
        .bind(&actor.facility_id)
        .bind(action)
        .bind(person_id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}
