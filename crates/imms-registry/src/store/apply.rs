//! One message, one transaction: link the person, bring their demographics up to date,
//! apply each dose (add, update, delete), refusal and observation, write the audit trail and
//! the answer, commit.

use chrono::{DateTime, Utc};
use imms_core::normalize::{digits, normalize_text, postal_code_key};
use imms_core::{Immunization, Observation, Person, Refusal};
use imms_db::Database;
use sqlx::{Any, Transaction};

use super::link::{self, legal_keys, Link};
use super::{now_text, StoreError, Stored};
use crate::ack::AckCode;
use crate::problem::{Condition, Location, Problem, Scope};
use crate::vxu::{Action, DoseKind, DoseReport, Vxu};

/// Binds PD1's five values (all NULL without a PD1: the stored ones stay). A macro because
/// it serves both `query` and `query_as`.
macro_rules! bind_pd1 {
    ($q:expr, $pd1:expr) => {{
        let pd1 = $pd1.cloned().unwrap_or_default();
        $q.bind(pd1.publicity_code)
            .bind(pd1.protection_indicator)
            .bind(pd1.protection_date.map(|d| d.to_string()))
            .bind(pd1.registry_status)
            .bind(pd1.registry_status_date.map(|d| d.to_string()))
    }};
}

type Tx<'c> = Transaction<'c, Any>;

struct Ctx<'a> {
    facility_id: &'a str,
    control_id: &'a str,
    actor: String,
    now: String,
    /// Audit lines and dose observations, written with one statement each at the end of the
    /// message: every statement is a round trip, and most of a message's rows are these.
    pending: std::sync::Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    /// (action, entity, entity id, person id)
    audit: Vec<(&'static str, &'static str, Option<i64>, i64)>,
    /// (person id, immunization id, observation)
    observations: Vec<(i64, i64, Observation)>,
    /// New doses: (person id, dose), inserted together when the message is done.
    doses: Vec<(i64, Immunization)>,
}

impl Ctx<'_> {
    fn audit(
        &self,
        action: &'static str,
        entity: &'static str,
        entity_id: Option<i64>,
        person_id: i64,
    ) {
        self.pending
            .lock()
            .expect("pending rows")
            .audit
            .push((action, entity, entity_id, person_id));
    }

    fn new_dose(&self, person_id: i64, imm: &Immunization) {
        self.pending
            .lock()
            .expect("pending rows")
            .doses
            .push((person_id, imm.clone()));
    }

    /// When a new dose of this message is repeated by this one (same person, vaccine and
    /// day, not told apart by order numbers), the later report replaces it, as an update
    /// would; answers whether that happened.
    fn repeats_pending_dose(&self, person_id: i64, imm: &Immunization) -> bool {
        let mut pending = self.pending.lock().expect("pending rows");
        let earlier = pending
            .doses
            .iter_mut()
            .find(|(p, d)| *p == person_id && repeats(d, imm));
        match earlier {
            Some((_, d)) => {
                replace_repeated(d, imm);
                true
            }
            None => false,
        }
    }

    fn dose_observation(&self, person_id: i64, immunization_id: i64, o: &Observation) {
        self.pending
            .lock()
            .expect("pending rows")
            .observations
            .push((person_id, immunization_id, o.clone()));
    }
}

/// `($1, $2, …), ($n, …)` for `rows` rows of `columns` values.
fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            format!(
                "({})",
                (1..=columns)
                    .map(|c| format!("${}", r * columns + c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the pending audit lines and dose observations of one message.
async fn flush(tx: &mut Tx<'_>, ctx: &Ctx<'_>) -> Result<(), StoreError> {
    let doses = std::mem::take(&mut ctx.pending.lock().expect("pending rows").doses);
    if !doses.is_empty() {
        let ids = insert_immunizations(tx, ctx, &doses).await?;
        for ((person_id, imm), id) in doses.iter().zip(ids) {
            ctx.audit("add", "immunization", Some(id), *person_id);
            for obs in &imm.observations {
                ctx.dose_observation(*person_id, id, obs);
            }
        }
    }
    let pending = std::mem::take(&mut *ctx.pending.lock().expect("pending rows"));
    if !pending.audit.is_empty() {
        let sql = format!(
            "INSERT INTO audit_log (at, actor, facility_id, control_id, action, entity, entity_id, person_id) VALUES {}",
            placeholders(pending.audit.len(), 8)
        );
        let mut q = sqlx::query(&sql);
        for (action, entity, entity_id, person_id) in &pending.audit {
            q = q
                .bind(&ctx.now)
                .bind(&ctx.actor)
                .bind(ctx.facility_id)
                .bind(ctx.control_id)
                .bind(*action)
                .bind(*entity)
                .bind(*entity_id)
                .bind(*person_id);
        }
        q.execute(&mut **tx).await?;
    }
    if !pending.observations.is_empty() {
        let sql = format!(
            "INSERT INTO observations (person_id, immunization_id, facility_id, kind, loinc, value_code, value_text, value_system, observed_date, created_at) VALUES {}",
            placeholders(pending.observations.len(), 10)
        );
        let mut q = sqlx::query(&sql);
        for (person_id, immunization_id, o) in &pending.observations {
            q = q
                .bind(*person_id)
                .bind(*immunization_id)
                .bind(ctx.facility_id)
                .bind(o.kind.code())
                .bind(o.loinc.clone())
                .bind(o.value_code.clone())
                .bind(o.value_text.clone())
                .bind(o.value_system.clone())
                .bind(o.observed_date.map(|d| d.to_string()))
                .bind(&ctx.now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

pub async fn ingest_once(
    db: &Database,
    vxu: &Vxu,
    now: DateTime<Utc>,
    make_ack: &(dyn Fn(&[Problem]) -> (AckCode, String) + Sync),
) -> Result<Stored, StoreError> {
    let mut tx = db.pool().begin().await?;
    let stored = apply_message(&mut tx, db.engine(), vxu, now, make_ack).await?;
    match stored {
        Stored::Duplicate { .. } => tx.rollback().await?,
        Stored::Applied { .. } => tx.commit().await?,
    }
    Ok(stored)
}

/// Stores one message inside an open transaction (a group's, or its own).
pub(super) async fn apply_message(
    tx: &mut Tx<'_>,
    engine: imms_db::Engine,
    vxu: &Vxu,
    now: DateTime<Utc>,
    make_ack: &(dyn Fn(&[Problem]) -> (AckCode, String) + Sync),
) -> Result<Stored, StoreError> {
    let person = vxu.person.as_ref().ok_or_else(|| {
        StoreError::Conflict("a VXU without a readable person cannot be stored".into())
    })?;
    let ctx = Ctx {
        facility_id: &vxu.header.facility_id,
        control_id: &vxu.header.control_id,
        actor: format!("facility:{}", vxu.header.facility_id),
        now: now_text(now),
        pending: Default::default(),
    };
    let previous: Option<(String, String)> = sqlx::query_as(
        "SELECT ack, outcome FROM messages WHERE facility_id = $1 AND control_id = $2",
    )
    .bind(ctx.facility_id)
    .bind(ctx.control_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((ack, code)) = previous {
        return Ok(Stored::Duplicate { ack, code });
    }

    let mut problems = vxu.problems.clone();
    let link = link::find(tx, engine, person).await?;
    let link_kind = match link {
        Link::New { .. } => LinkKind::New,
        _ => LinkKind::Existing,
    };
    let person_id = match link {
        Link::Known(id) | Link::Certain(id) => {
            update_person(tx, &ctx, id, person, &mut problems).await?;
            id
        }
        Link::New { look_alikes } => {
            let id = create_person(tx, &ctx, person).await?;
            add_demographics(tx, &ctx, id, person, true, &mut problems).await?;
            for other in look_alikes {
                sqlx::query("INSERT INTO possible_duplicates (person_id, candidate_id, reason, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                    .bind(id)
                    .bind(other)
                    .bind("same date of birth and family or given name")
                    .bind(&ctx.now)
                    .execute(&mut **tx)
                    .await?;
                ctx.audit("flag", "possible_duplicate", Some(other), id);
            }
            id
        }
    };
    super::match_keys::index_person(tx, person_id, person).await?;

    let is_new = matches!(link_kind, LinkKind::New);
    let known_orders = existing_orders(tx, &ctx, &vxu.doses).await?;
    for dose in &vxu.doses {
        apply_dose(
            tx,
            &ctx,
            person_id,
            is_new,
            &known_orders,
            dose,
            &mut problems,
        )
        .await?;
    }
    flush(tx, &ctx).await?;

    let (code, ack) = make_ack(&problems);
    sqlx::query("INSERT INTO messages (facility_id, control_id, message_type, outcome, ack, received_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(ctx.facility_id)
        .bind(ctx.control_id)
        .bind("VXU^V04")
        .bind(code.code())
        .bind(&ack)
        .bind(&ctx.now)
        .execute(&mut **tx)
        .await?;
    Ok(Stored::Applied {
        person_id,
        code,
        ack,
        problems,
    })
}

async fn create_person(tx: &mut Tx<'_>, ctx: &Ctx<'_>, p: &Person) -> Result<i64, StoreError> {
    let q = sqlx::query_as(
        "INSERT INTO persons (birth_date, sex, mother_maiden_family, mother_maiden_given, multiple_birth, birth_order, death_date, created_at, updated_at, \
         publicity_code, protection_indicator, protection_date, registry_status, registry_status_date) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(p.birth_date.to_string())
    .bind(p.sex.code())
    .bind(p.mother_maiden_name.as_ref().map(|n| n.family.clone()))
    .bind(p.mother_maiden_name.as_ref().map(|n| n.given.clone()))
    .bind(p.multiple_birth.map(i64::from))
    .bind(p.birth_order.map(i64::from))
    .bind(p.death_date.map(|d| d.to_string()))
    .bind(&ctx.now);
    let (id,): (i64,) = bind_pd1!(q, p.pd1.as_ref()).fetch_one(&mut **tx).await?;
    ctx.audit("create", "person", Some(id), id);
    Ok(id)
}

async fn update_person(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    id: i64,
    p: &Person,
    problems: &mut Vec<Problem>,
) -> Result<(), StoreError> {
    let (birth_date, sex): (String, String) =
        sqlx::query_as("SELECT birth_date, sex FROM persons WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
    if birth_date != p.birth_date.to_string() {
        // A different date of birth for a known identifier is more often a reused record
        // number or a typing error than a correction: keep ours and say so.
        problems.push(Problem::new(Location::new("PID", 1, 7), Condition::DataType, Scope::Nothing,
            "PID-7 (date of birth) differs from the registry's record for this patient identifier; the registry kept its date of birth. Contact the registry to correct it."));
    }
    let new_sex = if sex == "U" || p.sex.code() != "U" {
        p.sex.code().to_string()
    } else {
        sex
    };
    let q = sqlx::query(
        "UPDATE persons SET sex = $1, mother_maiden_family = COALESCE($2, mother_maiden_family), \
         mother_maiden_given = COALESCE($3, mother_maiden_given), multiple_birth = COALESCE($4, multiple_birth), \
         birth_order = COALESCE($5, birth_order), death_date = COALESCE($6, death_date), updated_at = $7, profile_version = profile_version + 1, \
         publicity_code = COALESCE($9, publicity_code), protection_indicator = COALESCE($10, protection_indicator), \
         protection_date = COALESCE($11, protection_date), registry_status = COALESCE($12, registry_status), \
         registry_status_date = COALESCE($13, registry_status_date) WHERE id = $8",
    )
    .bind(new_sex)
    .bind(p.mother_maiden_name.as_ref().map(|n| n.family.clone()))
    .bind(p.mother_maiden_name.as_ref().map(|n| n.given.clone()))
    .bind(p.multiple_birth.map(i64::from))
    .bind(p.birth_order.map(i64::from))
    .bind(p.death_date.map(|d| d.to_string()))
    .bind(&ctx.now)
    .bind(id);
    bind_pd1!(q, p.pd1.as_ref()).execute(&mut **tx).await?;
    add_demographics(tx, ctx, id, p, false, problems).await?;
    ctx.audit("update", "person", Some(id), id);
    Ok(())
}

/// Adds names, addresses, phones and identifiers the registry did not have yet.
async fn add_demographics(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    id: i64,
    p: &Person,
    is_new: bool,
    problems: &mut Vec<Problem>,
) -> Result<(), StoreError> {
    let (legal_family, legal_given) = legal_keys(p);
    for n in &p.names {
        let (fk, gk) = if n.name_type == imms_core::NameType::Legal
            && normalize_text(&n.family) == legal_family
        {
            (legal_family.clone(), legal_given.clone())
        } else {
            (normalize_text(&n.family), normalize_text(&n.given))
        };
        sqlx::query(
            "INSERT INTO person_names (person_id, name_type, family, given, middle, suffix, family_key, given_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(n.name_type.code())
        .bind(&n.family)
        .bind(&n.given)
        .bind(&n.middle)
        .bind(&n.suffix)
        .bind(fk)
        .bind(gk)
        .execute(&mut **tx)
        .await?;
    }
    for a in &p.addresses {
        sqlx::query(
            "INSERT INTO person_addresses (person_id, street, other, city, state, postal_code, country, address_type, street_key, zip_key, facility_id, reported_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (person_id, street_key, zip_key) DO UPDATE SET reported_at = excluded.reported_at",
        )
        .bind(id)
        .bind(&a.street)
        .bind(&a.other)
        .bind(&a.city)
        .bind(&a.state)
        .bind(&a.postal_code)
        .bind(&a.country)
        .bind(&a.address_type)
        .bind(normalize_text(&a.street))
        .bind(postal_code_key(&a.postal_code))
        .bind(ctx.facility_id)
        .bind(&ctx.now)
        .execute(&mut **tx)
        .await?;
    }
    for ph in &p.phones {
        sqlx::query("INSERT INTO person_phones (person_id, number, use_code) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(digits(&ph.number))
            .bind(&ph.use_code)
            .execute(&mut **tx)
            .await?;
    }
    for k in &p.next_of_kin {
        let a = k.address.clone().unwrap_or_default();
        sqlx::query(
            "INSERT INTO next_of_kin (person_id, family, given, middle, relationship, street, city, state, postal_code, phone, facility_id, reported_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (person_id, family, given, relationship) DO UPDATE SET street = excluded.street, city = excluded.city, \
             state = excluded.state, postal_code = excluded.postal_code, phone = excluded.phone, reported_at = excluded.reported_at",
        )
        .bind(id)
        .bind(&k.name.family)
        .bind(&k.name.given)
        .bind(&k.name.middle)
        .bind(&k.relationship)
        .bind(a.street)
        .bind(a.city)
        .bind(a.state)
        .bind(a.postal_code)
        .bind(k.phone.clone().unwrap_or_default())
        .bind(ctx.facility_id)
        .bind(&ctx.now)
        .execute(&mut **tx)
        .await?;
    }
    for ident in &p.identifiers {
        let inserted = sqlx::query(
            "INSERT INTO person_identifiers (facility_id, id_type, value, authority, person_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&ident.facility_id)
        .bind(&ident.id_type)
        .bind(&ident.value)
        .bind(&ident.authority)
        .bind(id)
        .bind(&ctx.now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            continue;
        }
        let (owner,): (i64,) = sqlx::query_as(
            "SELECT person_id FROM person_identifiers WHERE facility_id = $1 AND id_type = $2 AND value = $3",
        )
        .bind(&ident.facility_id)
        .bind(&ident.id_type)
        .bind(&ident.value)
        .fetch_one(&mut **tx)
        .await?;
        match owner {
            owner if owner == id => {}
            // Another node stored this identifier after our look-up: start over and link to it.
            _ if is_new => return Err(StoreError::Race),
            _ => problems.push(Problem::new(Location::new("PID", 1, 3), Condition::DuplicateKeyIdentifier, Scope::Nothing,
                "One of the patient identifiers in PID-3 already belongs to another person in the registry; it was not linked to this one.")),
        }
    }
    Ok(())
}

enum LinkKind {
    New,
    Existing,
}

/// The doses this facility already reported under the message's filler order numbers:
/// order number → (immunization id, person id). One query for the whole message.
async fn existing_orders(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    doses: &[DoseReport],
) -> Result<std::collections::HashMap<String, (i64, i64)>, StoreError> {
    let orders: Vec<&String> = doses
        .iter()
        .filter_map(|d| d.filler_order_number.as_ref())
        .collect();
    if orders.is_empty() {
        return Ok(Default::default());
    }
    let list = (0..orders.len())
        .map(|i| format!("${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT filler_order_number, id, person_id FROM immunizations WHERE facility_id = $1 AND filler_order_number IN ({list})"
    );
    let mut q = sqlx::query_as::<_, (String, i64, i64)>(&sql).bind(ctx.facility_id);
    for o in &orders {
        q = q.bind(o.as_str());
    }
    Ok(q.fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|(f, id, person)| (f, (id, person)))
        .collect())
}

#[allow(clippy::too_many_arguments)]
async fn apply_dose(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    person_id: i64,
    person_is_new: bool,
    known_orders: &std::collections::HashMap<String, (i64, i64)>,
    dose: &DoseReport,
    problems: &mut Vec<Problem>,
) -> Result<(), StoreError> {
    let at = || Location::new("RXA", dose.rxa_occurrence, 21);
    let existing = dose
        .filler_order_number
        .as_ref()
        .and_then(|f| known_orders.get(f).copied());
    if let Some((_, owner)) = existing {
        if owner != person_id {
            problems.push(Problem::new(Location::new("ORC", 1, 3), Condition::DuplicateKeyIdentifier, Scope::Dose,
                "ORC-3 (filler order number) already identifies a dose of another person; this dose was not stored."));
            return Ok(());
        }
    }
    match (&dose.kind, dose.action) {
        (_, Action::Delete) => match existing {
            Some((imm_id, _)) => {
                sqlx::query("UPDATE immunizations SET deleted = 1, updated_at = $1 WHERE id = $2")
                    .bind(&ctx.now)
                    .bind(imm_id)
                    .execute(&mut **tx)
                    .await?;
                ctx.audit("delete", "immunization", Some(imm_id), person_id);
            }
            None => problems.push(Problem::new(at(), Condition::UnknownKeyIdentifier, Scope::Dose,
                "RXA-21 asks to delete a dose, but no dose with this filler order number (ORC-3) was reported by this facility; nothing was deleted.")),
        },
        (DoseKind::Given(imm), action) => {
            let target = match existing {
                Some((id, _)) => Some(id),
                // A person created by this message has no earlier doses to repeat, except
                // doses of this same message sent without order numbers.
                None if person_is_new && imm.filler_order_number.is_some() => None,
                None => duplicate_dose(tx, person_id, imm).await?,
            };
            match target {
                Some(imm_id) => {
                    if action == Action::Add && existing.is_some() {
                        problems.push(Problem::new(at(), Condition::DuplicateKeyIdentifier, Scope::Nothing,
                            "A dose with this filler order number (ORC-3) was already reported; it was updated.").informational());
                    }
                    update_immunization(tx, ctx, imm_id, imm).await?;
                    ctx.audit("update", "immunization", Some(imm_id), person_id);
                }
                None => {
                    if action == Action::Update {
                        problems.push(Problem::new(at(), Condition::UnknownKeyIdentifier, Scope::Nothing,
                            "RXA-21 asks to update a dose the registry does not have; it was added.").informational());
                    }
                    if !ctx.repeats_pending_dose(person_id, imm) {
                        ctx.new_dose(person_id, imm);
                    }
                }
            }
        }
        (DoseKind::Refused(r), _) => add_refusal(tx, ctx, person_id, r).await?,
        (DoseKind::NotAdministered, _) => {}
    }
    for obs in &dose.person_observations {
        add_observation(tx, ctx, person_id, None, obs).await?;
    }
    Ok(())
}

/// The same vaccine on the same day for the same person, reported without an order number
/// that would tell them apart: one dose, not two.
async fn duplicate_dose(
    tx: &mut Tx<'_>,
    person_id: i64,
    imm: &Immunization,
) -> Result<Option<i64>, StoreError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM immunizations WHERE person_id = $1 AND cvx = $2 AND administered_date = $3 AND deleted = 0 \
         AND ($4 = '' OR filler_order_number IS NULL) ORDER BY id LIMIT 1",
    )
    .bind(person_id)
    .bind(&imm.cvx)
    .bind(imm.administered_date.to_string())
    .bind(imm.filler_order_number.clone().unwrap_or_default())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Inserts a message's new doses with one statement; returns their ids in the same order.
async fn insert_immunizations(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    doses: &[(i64, Immunization)],
) -> Result<Vec<i64>, StoreError> {
    let sql = format!(
        "INSERT INTO immunizations (person_id, facility_id, filler_order_number, administered_date, cvx, mvx, lot_number, expiration_date, \
         amount, amount_unit, information_source, route, site, administering_facility, administering_provider, completion_status, \
         vfc_eligibility, funding_source, deleted, created_at, updated_at) VALUES {} RETURNING id",
        (0..doses.len())
            .map(|r| {
                let b = r * 19;
                let cols: Vec<String> = (1..=18).map(|c| format!("${}", b + c)).collect();
                format!("({}, 0, ${}, ${})", cols.join(", "), b + 19, b + 19)
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut q = sqlx::query_as::<_, (i64,)>(&sql);
    for (person_id, imm) in doses {
        q = q
            .bind(*person_id)
            .bind(ctx.facility_id)
            .bind(imm.filler_order_number.clone())
            .bind(imm.administered_date.to_string())
            .bind(imm.cvx.clone())
            .bind(imm.mvx.clone())
            .bind(imm.lot_number.clone())
            .bind(imm.expiration_date.map(|d| d.to_string()))
            .bind(imm.amount.clone())
            .bind(imm.amount_unit.clone())
            .bind(imm.information_source.clone())
            .bind(imm.route.clone())
            .bind(imm.site.clone())
            .bind(imm.administering_facility.clone())
            .bind(imm.administering_provider.clone())
            .bind(imm.completion_status.clone())
            .bind(imm.vfc_eligibility.clone())
            .bind(imm.funding_source.clone())
            .bind(&ctx.now);
    }
    // Both engines number the rows of one INSERT in the order of its VALUES; RETURNING's
    // own order is not promised, so sort.
    let mut ids: Vec<i64> = q
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

async fn update_immunization(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    id: i64,
    imm: &Immunization,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE immunizations SET administered_date = $1, cvx = $2, mvx = $3, lot_number = $4, expiration_date = $5, amount = $6, \
         amount_unit = $7, information_source = $8, route = $9, site = $10, administering_facility = $11, administering_provider = $12, \
         completion_status = $13, vfc_eligibility = $14, funding_source = $15, deleted = 0, updated_at = $16, \
         filler_order_number = COALESCE(filler_order_number, $17) WHERE id = $18",
    )
    .bind(imm.administered_date.to_string())
    .bind(&imm.cvx)
    .bind(imm.mvx.clone())
    .bind(imm.lot_number.clone())
    .bind(imm.expiration_date.map(|d| d.to_string()))
    .bind(imm.amount.clone())
    .bind(imm.amount_unit.clone())
    .bind(&imm.information_source)
    .bind(imm.route.clone())
    .bind(imm.site.clone())
    .bind(imm.administering_facility.clone())
    .bind(imm.administering_provider.clone())
    .bind(&imm.completion_status)
    .bind(imm.vfc_eligibility.clone())
    .bind(imm.funding_source.clone())
    .bind(&ctx.now)
    .bind(imm.filler_order_number.clone())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM observations WHERE immunization_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let person_id: (i64,) = sqlx::query_as("SELECT person_id FROM immunizations WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    for obs in &imm.observations {
        add_observation(tx, ctx, person_id.0, Some(id), obs).await?;
    }
    Ok(())
}

async fn add_refusal(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    person_id: i64,
    r: &Refusal,
) -> Result<(), StoreError> {
    let exists: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM refusals WHERE person_id = $1 AND cvx = $2 AND refusal_date = $3",
    )
    .bind(person_id)
    .bind(&r.cvx)
    .bind(r.refusal_date.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    if exists.is_some() {
        return Ok(());
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO refusals (person_id, facility_id, filler_order_number, cvx, refusal_date, reason_code, reason_text, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(person_id)
    .bind(ctx.facility_id)
    .bind(r.filler_order_number.clone())
    .bind(&r.cvx)
    .bind(r.refusal_date.to_string())
    .bind(r.reason_code.clone())
    .bind(r.reason_text.clone())
    .bind(&ctx.now)
    .fetch_one(&mut **tx)
    .await?;
    ctx.audit("add", "refusal", Some(id), person_id);
    Ok(())
}

async fn add_observation(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    person_id: i64,
    immunization_id: Option<i64>,
    o: &Observation,
) -> Result<(), StoreError> {
    if immunization_id.is_none() {
        let exists: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM observations WHERE person_id = $1 AND immunization_id IS NULL AND loinc = $2 AND value_code = $3",
        )
        .bind(person_id)
        .bind(&o.loinc)
        .bind(&o.value_code)
        .fetch_optional(&mut **tx)
        .await?;
        if exists.is_some() {
            return Ok(());
        }
    }
    sqlx::query(
        "INSERT INTO observations (person_id, immunization_id, facility_id, kind, loinc, value_code, value_text, value_system, observed_date, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(person_id)
    .bind(immunization_id)
    .bind(ctx.facility_id)
    .bind(o.kind.code())
    .bind(&o.loinc)
    .bind(&o.value_code)
    .bind(&o.value_text)
    .bind(&o.value_system)
    .bind(o.observed_date.map(|d| d.to_string()))
    .bind(&ctx.now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether `imm` reports the same dose as `earlier` (same vaccine and day, not told apart
/// by order numbers).
pub(super) fn repeats(earlier: &Immunization, imm: &Immunization) -> bool {
    earlier.cvx == imm.cvx
        && earlier.administered_date == imm.administered_date
        && (imm.filler_order_number.is_none() || earlier.filler_order_number.is_none())
}

/// The later report replaces the earlier one, as an update would, keeping whichever order
/// number was sent.
pub(super) fn replace_repeated(earlier: &mut Immunization, imm: &Immunization) {
    let order = earlier
        .filler_order_number
        .take()
        .or(imm.filler_order_number.clone());
    *earlier = imm.clone();
    earlier.filler_order_number = order;
}
