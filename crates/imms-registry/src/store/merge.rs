//! Duplicate persons: the possible-duplicate queue (filled by ingest and matching), merging
//! two persons into one, undoing a merge, and "not the same person", which keeps a pair from
//! ever coming back to the queue. A merge moves the merged person's identifiers, doses,
//! refusals, observations and dose history to the survivor and records exactly which rows it
//! moved, so an administrator can undo it; the merged person stays, pointing at the survivor
//! (`persons.merged_into`), so messages that still name them land on the survivor.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::changes::{audit_tx, check_reason, Actor, ChangeError};
use super::staff::Role;
use super::{now_text, Store};

/// A pair waiting for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DuplicatePair {
    pub id: i64,
    pub person_id: i64,
    pub candidate_id: i64,
    pub reason: String,
    pub created_at: String,
}

/// A merge as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Merge {
    pub id: i64,
    pub survivor_id: i64,
    pub merged_id: i64,
    pub reason: String,
    pub actor: String,
    pub at: String,
    pub undone_at: Option<String>,
    pub undone_by: Option<String>,
    pub undo_reason: Option<String>,
    pub moved: Moved,
}

/// The rows a merge moved from the merged person to the survivor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// (facility_id, id_type, value)
    pub identifiers: Vec<(String, String, String)>,
    pub immunizations: Vec<i64>,
    pub refusals: Vec<i64>,
    pub observations: Vec<i64>,
    pub dose_changes: Vec<i64>,
}

fn ordered(a: i64, b: i64) -> (i64, i64) {
    (a.min(b), a.max(b))
}

const QUEUE: &str = "SELECT d.id, d.person_id, d.candidate_id, d.reason, d.created_at FROM possible_duplicates d \
     JOIN persons a ON a.id = d.person_id JOIN persons b ON b.id = d.candidate_id \
     WHERE d.status = 'open' AND a.merged_into IS NULL AND b.merged_into IS NULL \
     AND NOT EXISTS (SELECT 1 FROM not_duplicates n WHERE (n.low_id = d.person_id AND n.high_id = d.candidate_id) \
                                                    OR (n.low_id = d.candidate_id AND n.high_id = d.person_id))";

type MergeRow = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn merge_from(r: MergeRow) -> Merge {
    Merge {
        id: r.0,
        survivor_id: r.1,
        merged_id: r.2,
        reason: r.3,
        actor: r.4,
        at: r.5,
        moved: serde_json::from_str(&r.6).unwrap_or_default(),
        undone_at: r.7,
        undone_by: r.8,
        undo_reason: r.9,
    }
}

const SELECT_MERGE: &str = "SELECT id, survivor_id, merged_id, reason, actor, at, moved, undone_at, undone_by, undo_reason FROM person_merges";

impl Store {
    /// Open pairs, oldest first, leaving out merged persons and pairs staff said differ.
    pub async fn duplicate_queue(&self, limit: i64) -> Result<Vec<DuplicatePair>, ChangeError> {
        Ok(sqlx::query_as(&format!("{QUEUE} ORDER BY d.id LIMIT $1"))
            .bind(limit)
            .fetch_all(self.db.pool())
            .await?)
    }

    /// One open pair of the queue.
    pub async fn duplicate_pair(&self, id: i64) -> Result<Option<DuplicatePair>, ChangeError> {
        Ok(sqlx::query_as(&format!("{QUEUE} AND d.id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?)
    }

    /// Queues a pair for staff (for matching), unless staff said they are different people
    /// or the pair is already queued. Returns whether it was queued.
    pub async fn queue_duplicate(
        &self,
        person_id: i64,
        candidate_id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ChangeError> {
        if person_id == candidate_id || self.not_duplicate(person_id, candidate_id).await? {
            return Ok(false);
        }
        let (low, high) = ordered(person_id, candidate_id);
        let exists: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM possible_duplicates WHERE (person_id = $1 AND candidate_id = $2) OR (person_id = $2 AND candidate_id = $1)",
        )
        .bind(low)
        .bind(high)
        .fetch_optional(self.db.pool())
        .await?;
        if exists.is_some() {
            return Ok(false);
        }
        let r = sqlx::query("INSERT INTO possible_duplicates (person_id, candidate_id, reason, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(person_id)
            .bind(candidate_id)
            .bind(reason)
            .bind(now_text(now))
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Whether staff said these two are not the same person.
    pub async fn not_duplicate(&self, a: i64, b: i64) -> Result<bool, ChangeError> {
        let (low, high) = ordered(a, b);
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT low_id FROM not_duplicates WHERE low_id = $1 AND high_id = $2")
                .bind(low)
                .bind(high)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(row.is_some())
    }

    /// Records that `a` and `b` are different people: the pair leaves the queue for good.
    pub async fn mark_not_duplicate(
        &self,
        actor: &Actor,
        a: i64,
        b: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        actor.require(Role::Admin, "Resolving possible duplicates")?;
        let reason = check_reason(reason)?;
        if a == b {
            return Err(ChangeError::Invalid("choose two different persons".into()));
        }
        let at = now_text(now);
        let (low, high) = ordered(a, b);
        let mut tx = self.db.pool().begin().await?;
        for id in [low, high] {
            let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM persons WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(ChangeError::NotFound(format!("person {id}")));
            }
        }
        sqlx::query("INSERT INTO not_duplicates (low_id, high_id, reason, actor, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
            .bind(low)
            .bind(high)
            .bind(&reason)
            .bind(&actor.user_id)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE possible_duplicates SET status = 'not_duplicate' WHERE (person_id = $1 AND candidate_id = $2) OR (person_id = $2 AND candidate_id = $1)")
            .bind(low)
            .bind(high)
            .execute(&mut *tx)
            .await?;
        for (id, other) in [(low, high), (high, low)] {
            audit_tx(
                &mut tx,
                &at,
                &actor.audit_name(),
                Some(&actor.facility_id),
                "person.not_duplicate",
                "person",
                Some(other),
                Some(id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Merges `merged_id` into `survivor_id`. Returns the merge's id.
    pub async fn merge_persons(
        &self,
        actor: &Actor,
        survivor_id: i64,
        merged_id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, ChangeError> {
        actor.require(Role::Admin, "Merging persons")?;
        let reason = check_reason(reason)?;
        if survivor_id == merged_id {
            return Err(ChangeError::Invalid(
                "a person cannot be merged into themselves".into(),
            ));
        }
        let at = now_text(now);
        let mut tx = self.db.pool().begin().await?;
        for id in [survivor_id, merged_id] {
            let row: Option<(Option<i64>,)> =
                sqlx::query_as("SELECT merged_into FROM persons WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match row {
                None => return Err(ChangeError::NotFound(format!("person {id}"))),
                Some((Some(into),)) => {
                    return Err(ChangeError::Invalid(format!(
                        "person {id} was already merged into person {into}"
                    )))
                }
                Some((None,)) => {}
            }
        }
        // Claim the merged person first: of two administrators merging at once, one wins.
        let claimed = sqlx::query("UPDATE persons SET merged_into = $1, updated_at = $2 WHERE id = $3 AND merged_into IS NULL")
            .bind(survivor_id)
            .bind(&at)
            .bind(merged_id)
            .execute(&mut *tx)
            .await?;
        if claimed.rows_affected() != 1 {
            return Err(ChangeError::Stale);
        }
        let identifiers = sqlx::query_as(
            "UPDATE person_identifiers SET person_id = $1 WHERE person_id = $2 RETURNING facility_id, id_type, value",
        )
        .bind(survivor_id)
        .bind(merged_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut moved = Moved {
            identifiers,
            ..Moved::default()
        };
        for (table, list) in [
            ("immunizations", &mut moved.immunizations),
            ("refusals", &mut moved.refusals),
            ("observations", &mut moved.observations),
            ("dose_changes", &mut moved.dose_changes),
        ] {
            let ids: Vec<(i64,)> = sqlx::query_as(&format!(
                "UPDATE {table} SET person_id = $1 WHERE person_id = $2 RETURNING id"
            ))
            .bind(survivor_id)
            .bind(merged_id)
            .fetch_all(&mut *tx)
            .await?;
            *list = ids.into_iter().map(|r| r.0).collect();
            list.sort_unstable();
        }
        moved.identifiers.sort();
        sqlx::query("UPDATE possible_duplicates SET status = 'merged' WHERE (person_id = $1 AND candidate_id = $2) OR (person_id = $2 AND candidate_id = $1)")
            .bind(survivor_id)
            .bind(merged_id)
            .execute(&mut *tx)
            .await?;
        let (merge_id,): (i64,) = sqlx::query_as(
            "INSERT INTO person_merges (survivor_id, merged_id, reason, actor, at, moved) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(survivor_id)
        .bind(merged_id)
        .bind(&reason)
        .bind(&actor.user_id)
        .bind(&at)
        .bind(serde_json::to_string(&moved).expect("plain struct"))
        .fetch_one(&mut *tx)
        .await?;
        for id in [survivor_id, merged_id] {
            audit_tx(
                &mut tx,
                &at,
                &actor.audit_name(),
                Some(&actor.facility_id),
                "person.merge",
                "merge",
                Some(merge_id),
                Some(id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(merge_id)
    }

    /// Undoes a merge: the rows it moved go back, the merged person stands alone again, and
    /// the pair returns to the queue. Doses reported for the survivor after the merge stay.
    pub async fn unmerge(
        &self,
        actor: &Actor,
        merge_id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        actor.require(Role::Admin, "Undoing a merge")?;
        let reason = check_reason(reason)?;
        let at = now_text(now);
        let mut tx = self.db.pool().begin().await?;
        let row: Option<MergeRow> = sqlx::query_as(&format!("{SELECT_MERGE} WHERE id = $1"))
            .bind(merge_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(m) = row.map(merge_from) else {
            return Err(ChangeError::NotFound(format!("merge {merge_id}")));
        };
        if m.undone_at.is_some() {
            return Err(ChangeError::Invalid("this merge was already undone".into()));
        }
        let (survivor_merged,): (Option<i64>,) =
            sqlx::query_as("SELECT merged_into FROM persons WHERE id = $1")
                .bind(m.survivor_id)
                .fetch_one(&mut *tx)
                .await?;
        if let Some(into) = survivor_merged {
            return Err(ChangeError::Invalid(format!(
                "person {} was later merged into person {into}; undo that merge first",
                m.survivor_id
            )));
        }
        let released = sqlx::query("UPDATE persons SET merged_into = NULL, updated_at = $1 WHERE id = $2 AND merged_into = $3")
            .bind(&at)
            .bind(m.merged_id)
            .bind(m.survivor_id)
            .execute(&mut *tx)
            .await?;
        if released.rows_affected() != 1 {
            return Err(ChangeError::Stale);
        }
        for (f, t, v) in &m.moved.identifiers {
            sqlx::query("UPDATE person_identifiers SET person_id = $1 WHERE facility_id = $2 AND id_type = $3 AND value = $4 AND person_id = $5")
                .bind(m.merged_id)
                .bind(f)
                .bind(t)
                .bind(v)
                .bind(m.survivor_id)
                .execute(&mut *tx)
                .await?;
        }
        for (table, list) in [
            ("immunizations", &m.moved.immunizations),
            ("refusals", &m.moved.refusals),
            ("observations", &m.moved.observations),
            ("dose_changes", &m.moved.dose_changes),
        ] {
            for id in list {
                sqlx::query(&format!(
                    "UPDATE {table} SET person_id = $1 WHERE id = $2 AND person_id = $3"
                ))
                .bind(m.merged_id)
                .bind(id)
                .bind(m.survivor_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query("UPDATE possible_duplicates SET status = 'open' WHERE status = 'merged' AND ((person_id = $1 AND candidate_id = $2) OR (person_id = $2 AND candidate_id = $1))")
            .bind(m.survivor_id)
            .bind(m.merged_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE person_merges SET undone_at = $1, undone_by = $2, undo_reason = $3 WHERE id = $4")
            .bind(&at)
            .bind(&actor.user_id)
            .bind(&reason)
            .bind(merge_id)
            .execute(&mut *tx)
            .await?;
        for id in [m.survivor_id, m.merged_id] {
            audit_tx(
                &mut tx,
                &at,
                &actor.audit_name(),
                Some(&actor.facility_id),
                "person.unmerge",
                "merge",
                Some(merge_id),
                Some(id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Merges in which this person was the survivor or the merged one, newest first.
    pub async fn merges_of(&self, person_id: i64) -> Result<Vec<Merge>, ChangeError> {
        let rows: Vec<MergeRow> = sqlx::query_as(&format!(
            "{SELECT_MERGE} WHERE survivor_id = $1 OR merged_id = $1 ORDER BY id DESC"
        ))
        .bind(person_id)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.into_iter().map(merge_from).collect())
    }

    pub async fn merge(&self, merge_id: i64) -> Result<Option<Merge>, ChangeError> {
        let row: Option<MergeRow> = sqlx::query_as(&format!("{SELECT_MERGE} WHERE id = $1"))
            .bind(merge_id)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.map(merge_from))
    }
}
