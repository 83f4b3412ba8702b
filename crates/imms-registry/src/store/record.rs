//! A person's whole record as stored: demographics, doses, refusals, observations. Read by
//! `imms person show`, and later by the record, portal and console.

use serde::Serialize;

use super::{Store, StoreError};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PersonRecord {
    pub person_id: i64,
    pub birth_date: String,
    pub sex: String,
    pub names: Vec<NameRow>,
    pub addresses: Vec<AddressRow>,
    pub phones: Vec<String>,
    pub identifiers: Vec<IdentifierRow>,
    pub mother_maiden_family: Option<String>,
    pub pd1: Pd1Row,
    pub next_of_kin: Vec<NextOfKinRow>,
    pub immunizations: Vec<ImmunizationRow>,
    pub refusals: Vec<RefusalRow>,
    pub observations: Vec<ObservationRow>,
}

#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct NameRow {
    pub name_type: String,
    pub family: String,
    pub given: String,
    pub middle: String,
    pub suffix: String,
}

/// PD1 as stored (all `None` when never reported).
#[derive(Debug, Clone, Default, Serialize, PartialEq, sqlx::FromRow)]
pub struct Pd1Row {
    pub publicity_code: Option<String>,
    pub protection_indicator: Option<String>,
    pub protection_date: Option<String>,
    pub registry_status: Option<String>,
    pub registry_status_date: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct NextOfKinRow {
    pub family: String,
    pub given: String,
    pub middle: String,
    pub relationship: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct AddressRow {
    pub street: String,
    pub other: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub address_type: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct IdentifierRow {
    pub facility_id: String,
    pub id_type: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct ImmunizationRow {
    pub id: i64,
    pub facility_id: String,
    pub filler_order_number: Option<String>,
    pub administered_date: String,
    pub cvx: String,
    pub mvx: Option<String>,
    pub lot_number: Option<String>,
    pub expiration_date: Option<String>,
    pub amount: Option<String>,
    pub amount_unit: Option<String>,
    pub information_source: String,
    pub route: Option<String>,
    pub site: Option<String>,
    pub administering_facility: Option<String>,
    pub administering_provider: Option<String>,
    pub completion_status: String,
    pub vfc_eligibility: Option<String>,
    pub funding_source: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct RefusalRow {
    pub cvx: String,
    pub refusal_date: String,
    pub reason_code: Option<String>,
    pub facility_id: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct ObservationRow {
    pub immunization_id: Option<i64>,
    pub kind: String,
    pub loinc: String,
    pub value_code: String,
    pub value_text: String,
    pub observed_date: Option<String>,
}

impl Store {
    /// The person a facility knows by this identifier value (any identifier type).
    pub async fn person_by_identifier(
        &self,
        facility_id: &str,
        value: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT person_id FROM person_identifiers WHERE facility_id = $1 AND value = $2 ORDER BY id_type LIMIT 1",
        )
        .bind(facility_id)
        .bind(value)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn person_record(&self, person_id: i64) -> Result<Option<PersonRecord>, StoreError> {
        let pool = self.db.pool();
        let Some((birth_date, sex, mother_maiden_family)): Option<(
            String,
            String,
            Option<String>,
        )> = sqlx::query_as(
            "SELECT birth_date, sex, mother_maiden_family FROM persons WHERE id = $1",
        )
        .bind(person_id)
        .fetch_optional(pool)
        .await?
        else {
            return Ok(None);
        };
        let pd1: Pd1Row = sqlx::query_as(
            "SELECT publicity_code, protection_indicator, protection_date, registry_status, registry_status_date FROM persons WHERE id = $1",
        )
        .bind(person_id)
        .fetch_one(pool)
        .await?;
        let next_of_kin = sqlx::query_as(
            "SELECT family, given, middle, relationship, street, city, state, postal_code, phone FROM next_of_kin WHERE person_id = $1 ORDER BY id",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await?;
        let names = sqlx::query_as("SELECT name_type, family, given, middle, suffix FROM person_names WHERE person_id = $1 ORDER BY id")
            .bind(person_id)
            .fetch_all(pool)
            .await?;
        let addresses = sqlx::query_as(
            "SELECT street, other, city, state, postal_code, country, address_type FROM person_addresses WHERE person_id = $1 ORDER BY reported_at DESC, id DESC",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await?;
        let phones: Vec<(String,)> =
            sqlx::query_as("SELECT number FROM person_phones WHERE person_id = $1 ORDER BY id")
                .bind(person_id)
                .fetch_all(pool)
                .await?;
        let identifiers = sqlx::query_as("SELECT facility_id, id_type, value FROM person_identifiers WHERE person_id = $1 ORDER BY facility_id, value")
            .bind(person_id)
            .fetch_all(pool)
            .await?;
        let immunizations = sqlx::query_as(
            "SELECT id, facility_id, filler_order_number, administered_date, cvx, mvx, lot_number, expiration_date, amount, amount_unit, \
             information_source, route, site, administering_facility, administering_provider, completion_status, vfc_eligibility, funding_source \
             FROM immunizations WHERE person_id = $1 AND deleted = 0 ORDER BY administered_date, id",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await?;
        let refusals = sqlx::query_as("SELECT cvx, refusal_date, reason_code, facility_id FROM refusals WHERE person_id = $1 ORDER BY refusal_date, id")
            .bind(person_id)
            .fetch_all(pool)
            .await?;
        let observations = sqlx::query_as(
            "SELECT immunization_id, kind, loinc, value_code, value_text, observed_date FROM observations WHERE person_id = $1 ORDER BY id",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await?;
        Ok(Some(PersonRecord {
            person_id,
            birth_date,
            sex,
            names,
            addresses,
            phones: phones.into_iter().map(|p| p.0).collect(),
            identifiers,
            mother_maiden_family,
            pd1,
            next_of_kin,
            immunizations,
            refusals,
            observations,
        }))
    }

    /// Row counts, for tests and operators.
    pub async fn counts(&self) -> Result<Counts, StoreError> {
        let pool = self.db.pool();
        let one = |sql: &'static str| async move {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await?;
            Ok::<i64, StoreError>(n)
        };
        Ok(Counts {
            persons: one("SELECT COUNT(*) FROM persons").await?,
            immunizations: one("SELECT COUNT(*) FROM immunizations WHERE deleted = 0").await?,
            messages: one("SELECT COUNT(*) FROM messages").await?,
            possible_duplicates: one("SELECT COUNT(*) FROM possible_duplicates").await?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub persons: i64,
    pub immunizations: i64,
    pub messages: i64,
    pub possible_duplicates: i64,
}
