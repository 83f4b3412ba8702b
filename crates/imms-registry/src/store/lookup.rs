//! Staff look-up: persons who agree with what staff typed (name and date of birth, optionally
//! address, phone or a facility's identifier), each with the fields that agree, best first.
//! An indexed search over the registry's name keys, birth dates and identifiers; staff may see
//! candidates, the public never does.

use std::collections::BTreeSet;

use imms_core::normalize::{digits, normalize_text, postal_code_key};
use serde::Serialize;

use super::changes::ChangeError;
use super::Store;

/// What staff search with. Empty strings mean "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupQuery {
    pub family_name: String,
    pub given_name: String,
    /// YYYY-MM-DD.
    pub birth_date: String,
    pub street: String,
    pub postal_code: String,
    pub phone: String,
    /// A facility's identifier for the person (MRN), as `VALUE` or `FACILITY:VALUE`.
    pub identifier: String,
}

/// A field of the query that agrees with a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreeing {
    FamilyName,
    GivenName,
    BirthDate,
    Address,
    Phone,
    Identifier,
}

impl Agreeing {
    pub fn label(self) -> &'static str {
        match self {
            Agreeing::FamilyName => "family name",
            Agreeing::GivenName => "given name",
            Agreeing::BirthDate => "date of birth",
            Agreeing::Address => "address",
            Agreeing::Phone => "phone",
            Agreeing::Identifier => "identifier",
        }
    }

    fn weight(self) -> u32 {
        match self {
            Agreeing::Identifier => 6,
            Agreeing::BirthDate => 4,
            Agreeing::FamilyName => 3,
            Agreeing::GivenName => 2,
            Agreeing::Address | Agreeing::Phone => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LookupCandidate {
    pub person_id: i64,
    pub agreeing: Vec<Agreeing>,
    pub score: u32,
}

/// The most persons one look-up reads before scoring.
const MAX_SCANNED: i64 = 500;

impl Store {
    /// Candidates agreeing on at least two fields (or the identifier), best first.
    pub async fn lookup(
        &self,
        q: &LookupQuery,
        limit: usize,
    ) -> Result<Vec<LookupCandidate>, ChangeError> {
        let pool = self.db.pool();
        let family = normalize_text(&q.family_name);
        let given = normalize_text(&q.given_name);
        let dob = q.birth_date.trim().to_string();
        let street = normalize_text(&q.street);
        let zip = postal_code_key(&q.postal_code);
        let phone = digits(&q.phone);
        let (id_facility, id_value) = match q.identifier.trim().split_once(':') {
            Some((f, v)) => (f.trim().to_string(), v.trim().to_string()),
            None => (String::new(), q.identifier.trim().to_string()),
        };

        let mut ids: BTreeSet<i64> = BTreeSet::new();
        if !dob.is_empty() && (!family.is_empty() || !given.is_empty()) {
            let rows: Vec<(i64,)> = sqlx::query_as(
                "SELECT DISTINCT p.id FROM persons p JOIN person_names n ON n.person_id = p.id \
                 WHERE p.birth_date = $1 AND p.merged_into IS NULL AND (n.family_key = $2 OR n.given_key = $3) LIMIT $4",
            )
            .bind(&dob)
            .bind(&family)
            .bind(&given)
            .bind(MAX_SCANNED)
            .fetch_all(pool)
            .await?;
            ids.extend(rows.into_iter().map(|r| r.0));
        }
        if !family.is_empty() && !given.is_empty() {
            // A mistyped date of birth: the same full name on any date.
            let rows: Vec<(i64,)> = sqlx::query_as(
                "SELECT DISTINCT p.id FROM persons p JOIN person_names n ON n.person_id = p.id \
                 WHERE n.family_key = $1 AND n.given_key = $2 AND p.merged_into IS NULL LIMIT $3",
            )
            .bind(&family)
            .bind(&given)
            .bind(MAX_SCANNED)
            .fetch_all(pool)
            .await?;
            ids.extend(rows.into_iter().map(|r| r.0));
        }
        if !id_value.is_empty() {
            let rows: Vec<(i64,)> = sqlx::query_as(
                "SELECT DISTINCT i.person_id FROM person_identifiers i JOIN persons p ON p.id = i.person_id \
                 WHERE i.value = $1 AND ($2 = '' OR i.facility_id = $2) AND p.merged_into IS NULL LIMIT $3",
            )
            .bind(&id_value)
            .bind(&id_facility)
            .bind(MAX_SCANNED)
            .fetch_all(pool)
            .await?;
            ids.extend(rows.into_iter().map(|r| r.0));
        }

        let mut out = Vec::new();
        for id in ids {
            let mut agreeing = Vec::new();
            let names: Vec<(String, String)> = sqlx::query_as(
                "SELECT family_key, given_key FROM person_names WHERE person_id = $1",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            if !family.is_empty() && names.iter().any(|n| n.0 == family) {
                agreeing.push(Agreeing::FamilyName);
            }
            if !given.is_empty() && names.iter().any(|n| n.1 == given) {
                agreeing.push(Agreeing::GivenName);
            }
            let (birth,): (String,) =
                sqlx::query_as("SELECT birth_date FROM persons WHERE id = $1")
                    .bind(id)
                    .fetch_one(pool)
                    .await?;
            if !dob.is_empty() && birth == dob {
                agreeing.push(Agreeing::BirthDate);
            }
            if !street.is_empty() || !zip.is_empty() {
                let hit: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM person_addresses WHERE person_id = $1 AND ($2 = '' OR street_key = $2) AND ($3 = '' OR zip_key = $3) LIMIT 1",
                )
                .bind(id)
                .bind(&street)
                .bind(&zip)
                .fetch_optional(pool)
                .await?;
                if hit.is_some() {
                    agreeing.push(Agreeing::Address);
                }
            }
            if !phone.is_empty() {
                let hit: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM person_phones WHERE person_id = $1 AND number = $2 LIMIT 1",
                )
                .bind(id)
                .bind(&phone)
                .fetch_optional(pool)
                .await?;
                if hit.is_some() {
                    agreeing.push(Agreeing::Phone);
                }
            }
            if !id_value.is_empty() {
                let hit: Option<(i64,)> = sqlx::query_as(
                    "SELECT person_id FROM person_identifiers WHERE person_id = $1 AND value = $2 AND ($3 = '' OR facility_id = $3) LIMIT 1",
                )
                .bind(id)
                .bind(&id_value)
                .bind(&id_facility)
                .fetch_optional(pool)
                .await?;
                if hit.is_some() {
                    agreeing.push(Agreeing::Identifier);
                }
            }
            let keep = agreeing.contains(&Agreeing::Identifier) || agreeing.len() >= 2;
            if keep {
                let score = agreeing.iter().map(|a| a.weight()).sum();
                out.push(LookupCandidate {
                    person_id: id,
                    agreeing,
                    score,
                });
            }
        }
        out.sort_by(|a, b| b.score.cmp(&a.score).then(a.person_id.cmp(&b.person_id)));
        out.truncate(limit);
        Ok(out)
    }
}
