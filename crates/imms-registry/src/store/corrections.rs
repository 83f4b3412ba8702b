//! Staff changes to doses: add a historical dose, correct a dose's fields, mark a dose entered
//! in error. Each keeps the dose's fields before and after in `dose_changes` with the reason,
//! who and when; an entered-in-error dose is kept (flagged `deleted`), never removed, and
//! leaves the person's record at once. Editors change only what their organization reported,
//! administrators anything. A correction names the revision it was made from, so the second of
//! two staff editing one dose gets [`ChangeError::Stale`] and nothing is lost.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::changes::{audit_tx, check_reason, Actor, ChangeError};
use super::staff::Role;
use super::{now_text, Store};

/// The fields of a dose staff may set. Validated by the caller (dates, codes, lengths).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct DoseFields {
    pub administered_date: String,
    pub cvx: String,
    pub mvx: Option<String>,
    pub lot_number: Option<String>,
    pub expiration_date: Option<String>,
    pub amount: Option<String>,
    pub amount_unit: Option<String>,
    pub route: Option<String>,
    pub site: Option<String>,
    pub administering_provider: Option<String>,
    /// NIP001: 00 new record, 01–08 historical with its source.
    pub information_source: String,
    /// CP complete, PA partial, NA not administered, RE refused.
    pub completion_status: String,
}

/// Which state of a dose a change was made from: its version and last update time (an HL7
/// update from the clinic changes the time, a console change both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub version: i64,
    pub updated_at: String,
}

impl Revision {
    /// As carried in a form: `<version>@<updated_at>`.
    pub fn token(&self) -> String {
        format!("{}@{}", self.version, self.updated_at)
    }

    pub fn parse(token: &str) -> Option<Revision> {
        let (v, at) = token.split_once('@')?;
        Some(Revision {
            version: v.parse().ok()?,
            updated_at: at.to_string(),
        })
    }
}

const DOSE_COLUMNS: &str = "administered_date, cvx, mvx, lot_number, expiration_date, amount, amount_unit, route, site, administering_provider, information_source, completion_status";

/// A dose's owner and state, read before a change.
#[derive(Debug, sqlx::FromRow)]
struct DoseState {
    person_id: i64,
    facility_id: String,
    deleted: i64,
    version: i64,
    updated_at: String,
}

impl Store {
    /// Adds a dose to a person's record, reported by the actor's organization. Returns its id.
    pub async fn add_dose(
        &self,
        actor: &Actor,
        person_id: i64,
        fields: &DoseFields,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, ChangeError> {
        actor.require(Role::Editor, "Adding a dose")?;
        let reason = check_reason(reason)?;
        let at = now_text(now);
        let mut tx = self.db.pool().begin().await?;
        let person: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT merged_into FROM persons WHERE id = $1")
                .bind(person_id)
                .fetch_optional(&mut *tx)
                .await?;
        match person {
            None => return Err(ChangeError::NotFound(format!("person {person_id}"))),
            Some((Some(into),)) => {
                return Err(ChangeError::Invalid(format!(
                    "this person was merged into person {into}; add the dose there"
                )))
            }
            Some((None,)) => {}
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO immunizations (person_id, facility_id, administered_date, cvx, mvx, lot_number, expiration_date, amount, amount_unit, \
             route, site, administering_provider, information_source, completion_status, deleted, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, $15, $15) RETURNING id",
        )
        .bind(person_id)
        .bind(&actor.facility_id)
        .bind(&fields.administered_date)
        .bind(&fields.cvx)
        .bind(fields.mvx.clone())
        .bind(fields.lot_number.clone())
        .bind(fields.expiration_date.clone())
        .bind(fields.amount.clone())
        .bind(fields.amount_unit.clone())
        .bind(fields.route.clone())
        .bind(fields.site.clone())
        .bind(fields.administering_provider.clone())
        .bind(&fields.information_source)
        .bind(&fields.completion_status)
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        record_change(
            &mut tx,
            actor,
            id,
            person_id,
            "added",
            &reason,
            &at,
            None,
            Some(fields),
        )
        .await?;
        audit_tx(
            &mut tx,
            &at,
            &actor.audit_name(),
            Some(&actor.facility_id),
            "dose.add",
            "immunization",
            Some(id),
            Some(person_id),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces a dose's fields, if `from` is still its revision.
    pub async fn correct_dose(
        &self,
        actor: &Actor,
        dose_id: i64,
        from: &Revision,
        fields: &DoseFields,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        actor.require(Role::Editor, "Correcting a dose")?;
        let reason = check_reason(reason)?;
        let at = now_text(now);
        let mut tx = self.db.pool().begin().await?;
        let state = dose_state(&mut tx, actor, dose_id, from).await?;
        let before: DoseFields = sqlx::query_as(&format!(
            "SELECT {DOSE_COLUMNS} FROM immunizations WHERE id = $1"
        ))
        .bind(dose_id)
        .fetch_one(&mut *tx)
        .await?;
        if &before == fields {
            return Err(ChangeError::Invalid(
                "nothing was changed: the fields are the same as the dose's".into(),
            ));
        }
        let done = sqlx::query(
            "UPDATE immunizations SET administered_date = $1, cvx = $2, mvx = $3, lot_number = $4, expiration_date = $5, amount = $6, \
             amount_unit = $7, route = $8, site = $9, administering_provider = $10, information_source = $11, completion_status = $12, \
             version = version + 1, updated_at = $13 WHERE id = $14 AND version = $15 AND updated_at = $16 AND deleted = 0",
        )
        .bind(&fields.administered_date)
        .bind(&fields.cvx)
        .bind(fields.mvx.clone())
        .bind(fields.lot_number.clone())
        .bind(fields.expiration_date.clone())
        .bind(fields.amount.clone())
        .bind(fields.amount_unit.clone())
        .bind(fields.route.clone())
        .bind(fields.site.clone())
        .bind(fields.administering_provider.clone())
        .bind(&fields.information_source)
        .bind(&fields.completion_status)
        .bind(&at)
        .bind(dose_id)
        .bind(state.version)
        .bind(&state.updated_at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(ChangeError::Stale);
        }
        record_change(
            &mut tx,
            actor,
            dose_id,
            state.person_id,
            "corrected",
            &reason,
            &at,
            Some(&before),
            Some(fields),
        )
        .await?;
        audit_tx(
            &mut tx,
            &at,
            &actor.audit_name(),
            Some(&actor.facility_id),
            "dose.correct",
            "immunization",
            Some(dose_id),
            Some(state.person_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a dose entered in error: it leaves the record but stays in the history.
    pub async fn mark_entered_in_error(
        &self,
        actor: &Actor,
        dose_id: i64,
        from: &Revision,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        actor.require(Role::Editor, "Marking a dose entered in error")?;
        let reason = check_reason(reason)?;
        let at = now_text(now);
        let mut tx = self.db.pool().begin().await?;
        let state = dose_state(&mut tx, actor, dose_id, from).await?;
        let before: DoseFields = sqlx::query_as(&format!(
            "SELECT {DOSE_COLUMNS} FROM immunizations WHERE id = $1"
        ))
        .bind(dose_id)
        .fetch_one(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE immunizations SET deleted = 1, version = version + 1, updated_at = $1 \
             WHERE id = $2 AND version = $3 AND updated_at = $4 AND deleted = 0",
        )
        .bind(&at)
        .bind(dose_id)
        .bind(state.version)
        .bind(&state.updated_at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(ChangeError::Stale);
        }
        record_change(
            &mut tx,
            actor,
            dose_id,
            state.person_id,
            "entered_in_error",
            &reason,
            &at,
            Some(&before),
            None,
        )
        .await?;
        audit_tx(
            &mut tx,
            &at,
            &actor.audit_name(),
            Some(&actor.facility_id),
            "dose.entered_in_error",
            "immunization",
            Some(dose_id),
            Some(state.person_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Reads a dose to change and checks, in this order: it exists, the actor may change it, it
/// is not already entered in error, and nobody changed it since `from`.
async fn dose_state(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    dose_id: i64,
    from: &Revision,
) -> Result<DoseState, ChangeError> {
    let state: Option<DoseState> = sqlx::query_as(
        "SELECT person_id, facility_id, deleted, version, updated_at FROM immunizations WHERE id = $1",
    )
    .bind(dose_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(state) = state else {
        return Err(ChangeError::NotFound(format!("dose {dose_id}")));
    };
    if !actor.may_change_dose_of(&state.facility_id) {
        return Err(ChangeError::Forbidden(format!(
            "this dose was reported by {}; only that organization's editors or a registry administrator may change it",
            state.facility_id
        )));
    }
    if state.deleted != 0 {
        if state.version != from.version || state.updated_at != from.updated_at {
            return Err(ChangeError::Stale);
        }
        return Err(ChangeError::Invalid(
            "this dose is marked entered in error; it cannot be changed".into(),
        ));
    }
    if state.version != from.version || state.updated_at != from.updated_at {
        return Err(ChangeError::Stale);
    }
    Ok(state)
}

#[allow(clippy::too_many_arguments)]
async fn record_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    dose_id: i64,
    person_id: i64,
    action: &str,
    reason: &str,
    at: &str,
    before: Option<&DoseFields>,
    after: Option<&DoseFields>,
) -> Result<(), ChangeError> {
    let json = |f: Option<&DoseFields>| f.map(|f| serde_json::to_string(f).expect("plain struct"));
    sqlx::query(
        "INSERT INTO dose_changes (immunization_id, person_id, action, reason, actor, actor_facility_id, at, before_fields, after_fields) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(dose_id)
    .bind(person_id)
    .bind(action)
    .bind(reason)
    .bind(&actor.user_id)
    .bind(&actor.facility_id)
    .bind(at)
    .bind(json(before))
    .bind(json(after))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
