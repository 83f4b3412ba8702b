//! Staff of the provider console: who (the identity provider's user ID) works for which
//! organization (a registered facility) in which role. One organization per person: a
//! second `add` moves them, and both are audited.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::changes::{audit_tx, ChangeError};
use super::{now_text, Store};

/// What a member of staff may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Look people up and print their record.
    Viewer,
    /// Also add doses and correct the doses their organization reported.
    Editor,
    /// Registry administrator: also correct any dose, merge persons, manage staff.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];
}

/// A member of staff as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffMember {
    pub user_id: String,
    pub facility_id: String,
    pub role: Role,
    pub created_at: String,
    pub created_by: String,
}

/// The longest user ID the identity provider accepts is far shorter; this only bounds input.
pub const MAX_USER_ID: usize = 200;
/// HL7 HD namespace ids are short; this bounds input.
pub const MAX_FACILITY_ID: usize = 64;
pub const MAX_ORG_NAME: usize = 120;

type StaffRow = (String, String, String, String, String);

fn member(r: StaffRow) -> Result<StaffMember, ChangeError> {
    Ok(StaffMember {
        role: Role::parse(&r.2)
            .ok_or_else(|| ChangeError::Invalid(format!("stored role {:?} is unknown", r.2)))?,
        user_id: r.0,
        facility_id: r.1,
        created_at: r.3,
        created_by: r.4,
    })
}

impl Store {
    /// Gives `user_id` this role in this organization (replacing any earlier one).
    /// `by` is who did it (`cli:<os user>` or `staff:<user id>`), for the audit trail.
    pub async fn add_staff(
        &self,
        user_id: &str,
        facility_id: &str,
        role: Role,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<StaffMember, ChangeError> {
        let user_id = user_id.trim();
        let facility_id = facility_id.trim();
        if user_id.is_empty()
            || user_id.chars().count() > MAX_USER_ID
            || user_id.chars().any(char::is_control)
        {
            return Err(ChangeError::Invalid(format!(
                "the user ID must be 1 to {MAX_USER_ID} characters"
            )));
        }
        if !self.facility_exists(facility_id).await? {
            return Err(ChangeError::Invalid(format!(
                "no organization {facility_id:?} is registered; add it first with `imms org add`"
            )));
        }
        let at = now_text(now);
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO console_staff (user_id, facility_id, role, created_at, created_by) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id) DO UPDATE SET facility_id = excluded.facility_id, role = excluded.role, \
             created_at = excluded.created_at, created_by = excluded.created_by",
        )
        .bind(user_id)
        .bind(facility_id)
        .bind(role.as_str())
        .bind(&at)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        audit_tx(
            &mut tx,
            &at,
            by,
            Some(facility_id),
            &format!("staff.grant.{} {user_id}", role.as_str()),
            "staff",
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(StaffMember {
            user_id: user_id.to_string(),
            facility_id: facility_id.to_string(),
            role,
            created_at: at,
            created_by: by.to_string(),
        })
    }

    /// The staff record of this identity-provider user, if any.
    pub async fn staff_member(&self, user_id: &str) -> Result<Option<StaffMember>, ChangeError> {
        let row: Option<StaffRow> = sqlx::query_as(
            "SELECT user_id, facility_id, role, created_at, created_by FROM console_staff WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(member).transpose()
    }

    /// Every member of staff, by organization then user ID.
    pub async fn staff_list(&self) -> Result<Vec<StaffMember>, ChangeError> {
        let rows: Vec<StaffRow> = sqlx::query_as(
            "SELECT user_id, facility_id, role, created_at, created_by FROM console_staff ORDER BY facility_id, user_id",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter().map(member).collect()
    }

    /// Takes away a member of staff's access. Returns whether they had any.
    pub async fn remove_staff(
        &self,
        user_id: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ChangeError> {
        let at = now_text(now);
        let mut tx = self.db.pool().begin().await?;
        let gone = sqlx::query("DELETE FROM console_staff WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if gone {
            audit_tx(
                &mut tx,
                &at,
                by,
                None,
                &format!("staff.revoke {user_id}"),
                "staff",
                None,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// Registers an organization (a clinic or health department, by the facility id its
    /// systems put in MSH-4) or renames it; audited. HL7 credentials stay with
    /// `imms org add`, which prints them once.
    pub async fn save_organization(
        &self,
        facility_id: &str,
        name: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        let facility_id = facility_id.trim();
        let name = name.trim();
        if facility_id.is_empty()
            || facility_id.len() > MAX_FACILITY_ID
            || !facility_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ChangeError::Invalid(format!(
                "the facility id must be 1 to {MAX_FACILITY_ID} letters, digits, dots, dashes or underscores, as its systems send it in MSH-4"
            )));
        }
        if name.is_empty()
            || name.chars().count() > MAX_ORG_NAME
            || name.chars().any(char::is_control)
        {
            return Err(ChangeError::Invalid(format!(
                "the name must be 1 to {MAX_ORG_NAME} characters"
            )));
        }
        let existed = self.facility_exists(facility_id).await?;
        let at = now_text(now);
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO facilities (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )
        .bind(facility_id)
        .bind(name)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        let action = if existed { "org.rename" } else { "org.add" };
        audit_tx(
            &mut tx,
            &at,
            by,
            Some(facility_id),
            action,
            "facility",
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Registered organizations (facility id, name), by id.
    pub async fn facility_list(&self) -> Result<Vec<(String, String)>, ChangeError> {
        Ok(
            sqlx::query_as("SELECT id, name FROM facilities ORDER BY id")
                .fetch_all(self.db.pool())
                .await?,
        )
    }
}
