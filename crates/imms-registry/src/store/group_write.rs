//! Writes the new persons of a group with one multi-row statement per table.

use sqlx::AnyConnection;

use super::group_plan::{kin_rows, phone_rows, NewPerson};
use super::rows::{Rows, Value};
use super::{StoreError, Stored};

/// Writes these persons' rows; answers their new ids, in order.
/// `resolve` turns a look-alike of the same group (`-(slot + 1)`) into its stored id.
pub(crate) async fn write_new_persons(
    conn: &mut AnyConnection,
    plans: &[NewPerson<'_>],
    now: &str,
    resolve: &(dyn Fn(i64, &[i64]) -> Option<i64> + Sync),
) -> Result<Vec<i64>, StoreError> {
    let mut persons = Rows::new(
        "INSERT INTO persons (birth_date, sex, mother_maiden_family, mother_maiden_given, multiple_birth, birth_order, death_date, created_at, updated_at, \
         publicity_code, protection_indicator, protection_date, registry_status, registry_status_date)",
        14,
        "RETURNING id",
    );
    for plan in plans {
        let p = plan.person;
        let pd1 = p.pd1.clone().unwrap_or_default();
        persons.push(vec![
            p.birth_date.to_string().into(),
            p.sex.code().into(),
            p.mother_maiden_name
                .as_ref()
                .map(|n| n.family.clone())
                .into(),
            p.mother_maiden_name
                .as_ref()
                .map(|n| n.given.clone())
                .into(),
            p.multiple_birth.map(i64::from).into(),
            p.birth_order.map(i64::from).into(),
            p.death_date.map(|d| d.to_string()).into(),
            now.into(),
            now.into(),
            pd1.publicity_code.into(),
            pd1.protection_indicator.into(),
            pd1.protection_date.map(|d| d.to_string()).into(),
            pd1.registry_status.into(),
            pd1.registry_status_date.map(|d| d.to_string()).into(),
        ]);
    }
    let ids = persons.returning_ids(conn).await?;

    let mut names = Rows::new(
        "INSERT INTO person_names (person_id, name_type, family, given, middle, suffix, family_key, given_key)",
        8,
        "ON CONFLICT DO NOTHING",
    );
    let mut addresses = Rows::new(
        "INSERT INTO person_addresses (person_id, street, other, city, state, postal_code, country, address_type, street_key, zip_key, facility_id, reported_at)",
        12,
        "ON CONFLICT DO NOTHING",
    );
    let mut phones = Rows::new(
        "INSERT INTO person_phones (person_id, number, use_code)",
        3,
        "ON CONFLICT DO NOTHING",
    );
    let mut kin = Rows::new(
        "INSERT INTO next_of_kin (person_id, family, given, middle, relationship, street, city, state, postal_code, phone, facility_id, reported_at)",
        12,
        "ON CONFLICT DO NOTHING",
    );
    let mut identifiers = Rows::new(
        "INSERT INTO person_identifiers (facility_id, id_type, value, authority, person_id, created_at)",
        6,
        "ON CONFLICT DO NOTHING",
    );
    // The keys of persons created here: no one else can hold their ids yet, and
    // `keys::person_keys` gives each key once (sorted), so nothing can conflict; without
    // `ON CONFLICT` PostgreSQL skips a look-up in the key index per row (most rows of an
    // import).
    let mut match_keys = Rows::new("INSERT INTO match_keys (block_key, person_id)", 2, "");
    let mut duplicates = Rows::new(
        "INSERT INTO possible_duplicates (person_id, candidate_id, reason, created_at)",
        4,
        "ON CONFLICT DO NOTHING",
    );
    let mut refusals = Rows::new(
        "INSERT INTO refusals (person_id, facility_id, filler_order_number, cvx, refusal_date, reason_code, reason_text, created_at)",
        8,
        "RETURNING id",
    );
    let mut immunizations = Rows::new(
        "INSERT INTO immunizations (person_id, facility_id, filler_order_number, administered_date, cvx, mvx, lot_number, expiration_date, \
         amount, amount_unit, information_source, route, site, administering_facility, administering_provider, completion_status, \
         vfc_eligibility, funding_source, deleted, created_at, updated_at)",
        21,
        "RETURNING id",
    );
    let mut look_alikes: Vec<Vec<i64>> = Vec::with_capacity(plans.len());
    for (plan, &id) in plans.iter().zip(&ids) {
        let p = plan.person;
        let facility = plan.vxu.header.facility_id.as_str();
        for n in &plan.names {
            let mut row: Vec<Value> = vec![id.into()];
            row.extend(n.iter().map(Value::from));
            names.push(row);
        }
        for (a, street_key, zip_key) in &plan.addresses {
            addresses.push(vec![
                id.into(),
                (&a.street).into(),
                (&a.other).into(),
                (&a.city).into(),
                (&a.state).into(),
                (&a.postal_code).into(),
                (&a.country).into(),
                (&a.address_type).into(),
                street_key.into(),
                zip_key.into(),
                facility.into(),
                now.into(),
            ]);
        }
        for (number, use_code) in phone_rows(p) {
            phones.push(vec![id.into(), number.into(), use_code.into()]);
        }
        for (k, a, phone) in kin_rows(p) {
            kin.push(vec![
                id.into(),
                (&k.name.family).into(),
                (&k.name.given).into(),
                (&k.name.middle).into(),
                (&k.relationship).into(),
                a.street.into(),
                a.city.into(),
                a.state.into(),
                a.postal_code.into(),
                phone.into(),
                facility.into(),
                now.into(),
            ]);
        }
        let mut seen = Vec::new();
        for ident in &p.identifiers {
            let key = (&ident.facility_id, &ident.id_type, &ident.value);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            identifiers.push(vec![
                (&ident.facility_id).into(),
                (&ident.id_type).into(),
                (&ident.value).into(),
                (&ident.authority).into(),
                id.into(),
                now.into(),
            ]);
        }
        debug_assert!(plan.keys.windows(2).all(|w| w[0] < w[1]), "keys given once");
        for k in &plan.keys {
            match_keys.push(vec![k.into(), id.into()]);
        }
        let others: Vec<i64> = plan
            .look_alikes
            .iter()
            .filter_map(|&o| resolve(o, &ids))
            .collect();
        for &other in &others {
            duplicates.push(vec![
                id.into(),
                other.into(),
                "same date of birth and family or given name".into(),
                now.into(),
            ]);
        }
        look_alikes.push(others);
        for r in &plan.refusals {
            refusals.push(vec![
                id.into(),
                facility.into(),
                r.filler_order_number.clone().into(),
                (&r.cvx).into(),
                r.refusal_date.to_string().into(),
                r.reason_code.clone().into(),
                r.reason_text.clone().into(),
                now.into(),
            ]);
        }
        for imm in &plan.doses {
            immunizations.push(vec![
                id.into(),
                facility.into(),
                imm.filler_order_number.clone().into(),
                imm.administered_date.to_string().into(),
                (&imm.cvx).into(),
                imm.mvx.clone().into(),
                imm.lot_number.clone().into(),
                imm.expiration_date.map(|d| d.to_string()).into(),
                imm.amount.clone().into(),
                imm.amount_unit.clone().into(),
                (&imm.information_source).into(),
                imm.route.clone().into(),
                imm.site.clone().into(),
                imm.administering_facility.clone().into(),
                imm.administering_provider.clone().into(),
                (&imm.completion_status).into(),
                imm.vfc_eligibility.clone().into(),
                imm.funding_source.clone().into(),
                0i64.into(),
                now.into(),
                now.into(),
            ]);
        }
    }
    names.execute(conn).await?;
    addresses.execute(conn).await?;
    phones.execute(conn).await?;
    kin.execute(conn).await?;
    // Another node stored one of these identifiers after the group read them: the group
    // starts over, one message at a time, and links to that person.
    if identifiers.execute(conn).await? != identifiers.len() as u64 {
        return Err(StoreError::Race);
    }
    match_keys.execute(conn).await?;
    duplicates.execute(conn).await?;
    let refusal_ids = refusals.returning_ids(conn).await?;
    let dose_ids = immunizations.returning_ids(conn).await?;

    let mut observations = Rows::new(
        "INSERT INTO observations (person_id, immunization_id, facility_id, kind, loinc, value_code, value_text, value_system, observed_date, created_at)",
        10,
        "",
    );
    let mut audit = Rows::new(
        "INSERT INTO audit_log (at, actor, facility_id, control_id, action, entity, entity_id, person_id)",
        8,
        "",
    );
    let mut messages = Rows::new(
        "INSERT INTO messages (facility_id, control_id, message_type, outcome, ack, received_at)",
        6,
        "",
    );
    let (mut refusal_ids, mut dose_ids) = (refusal_ids.into_iter(), dose_ids.into_iter());
    for ((plan, &id), others) in plans.iter().zip(&ids).zip(&look_alikes) {
        let header = &plan.vxu.header;
        let actor = format!("facility:{}", header.facility_id);
        let mut audit_line = |action: &str, entity: &str, entity_id: i64| {
            audit.push(vec![
                now.into(),
                (&actor).into(),
                (&header.facility_id).into(),
                (&header.control_id).into(),
                action.into(),
                entity.into(),
                entity_id.into(),
                id.into(),
            ]);
        };
        audit_line("create", "person", id);
        for &other in others {
            audit_line("flag", "possible_duplicate", other);
        }
        for _ in &plan.refusals {
            let refusal_id = refusal_ids.next().ok_or(StoreError::Race)?;
            audit_line("add", "refusal", refusal_id);
        }
        for o in &plan.person_observations {
            observations.push(observation_row(id, None, &header.facility_id, o, now));
        }
        for imm in &plan.doses {
            let dose_id = dose_ids.next().ok_or(StoreError::Race)?;
            audit_line("add", "immunization", dose_id);
            for o in &imm.observations {
                observations.push(observation_row(
                    id,
                    Some(dose_id),
                    &header.facility_id,
                    o,
                    now,
                ));
            }
        }
        messages.push(vec![
            (&header.facility_id).into(),
            (&header.control_id).into(),
            "VXU^V04".into(),
            plan.code.code().into(),
            (&plan.ack).into(),
            now.into(),
        ]);
    }
    observations.execute(conn).await?;
    audit.execute(conn).await?;
    messages.execute(conn).await?;
    Ok(ids)
}

fn observation_row(
    person_id: i64,
    immunization_id: Option<i64>,
    facility: &str,
    o: &imms_core::Observation,
    now: &str,
) -> Vec<Value> {
    vec![
        person_id.into(),
        immunization_id.into(),
        facility.into(),
        o.kind.code().into(),
        (&o.loinc).into(),
        (&o.value_code).into(),
        (&o.value_text).into(),
        (&o.value_system).into(),
        o.observed_date.map(|d| d.to_string()).into(),
        now.into(),
    ]
}

/// The answer each written plan gets.
pub(crate) fn stored(plan: &NewPerson<'_>, person_id: i64) -> Stored {
    Stored::Applied {
        person_id,
        code: plan.code,
        ack: plan.ack.clone(),
        problems: plan.problems.clone(),
    }
}
