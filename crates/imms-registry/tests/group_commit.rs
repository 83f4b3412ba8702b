//! Group commit writes a group of messages with a few set-based statements. It must leave
//! exactly the rows that storing the same messages one by one, in order, leaves: on SQLite
//! and on PostgreSQL, for new persons, persons of the same group who look alike or are the
//! same, resends, updates and deletes, refusals and observations.

mod common;

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use common::{vxu, with, VXU};
use imms_core::CodeTables;
use imms_db::{Database, Engine};
use imms_registry::ack::AckCode;
use imms_registry::generate::VxuGenerator;
use imms_registry::ingest::{check, Authority};
use imms_registry::problem::Problem;
use imms_registry::store::{Store, Stored};
use imms_registry::vxu::Vxu;

/// The rows of every table a message writes, as text, sorted.
const TABLES: &[(&str, &str)] = &[
    ("persons", "id, birth_date, sex, mother_maiden_family, mother_maiden_given, multiple_birth, birth_order, death_date, merged_into, created_at, updated_at, publicity_code, protection_indicator, protection_date, registry_status, registry_status_date"),
    ("person_names", "person_id, name_type, family, given, middle, suffix, family_key, given_key"),
    ("person_addresses", "person_id, street, other, city, state, postal_code, country, address_type, street_key, zip_key, facility_id, reported_at"),
    ("person_phones", "person_id, number, use_code"),
    ("person_identifiers", "facility_id, id_type, value, authority, person_id, created_at"),
    ("next_of_kin", "person_id, family, given, middle, relationship, street, city, state, postal_code, phone, facility_id, reported_at"),
    ("immunizations", "id, person_id, facility_id, filler_order_number, administered_date, cvx, mvx, lot_number, expiration_date, amount, amount_unit, information_source, route, site, administering_facility, administering_provider, completion_status, vfc_eligibility, funding_source, deleted, created_at, updated_at"),
    ("observations", "person_id, immunization_id, facility_id, kind, loinc, value_code, value_text, value_system, observed_date, created_at"),
    ("refusals", "person_id, facility_id, filler_order_number, cvx, refusal_date, reason_code, reason_text, created_at"),
    ("messages", "facility_id, control_id, message_type, outcome, ack, received_at"),
    ("audit_log", "at, actor, facility_id, control_id, action, entity, entity_id, person_id"),
    ("possible_duplicates", "person_id, candidate_id, reason, status, created_at"),
    ("match_keys", "block_key, person_id"),
];

async fn dump(db: &Database) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (table, columns) in TABLES {
        let row = columns
            .split(", ")
            .map(|c| format!("COALESCE(CAST({c} AS TEXT), '~')"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let mut rows: Vec<String> = sqlx::query_scalar(&format!("SELECT {row} FROM {table}"))
            .fetch_all(db.pool())
            .await
            .unwrap();
        rows.sort();
        out.push((table.to_string(), rows));
    }
    out
}

/// Every table holds exactly the expected rows; a failure names the table and shows a few
/// rows missing and a few unexpected (the dumps are sorted), not thousands.
fn assert_same_rows(expected: &[(String, Vec<String>)], got: &[(String, Vec<String>)], what: &str) {
    for ((table, want), (_, have)) in expected.iter().zip(got) {
        if have == want {
            continue;
        }
        let absent = |rows: &[String], row: &String| rows.binary_search(row).is_err();
        let missing: Vec<&String> = want.iter().filter(|r| absent(have, r)).take(3).collect();
        let extra: Vec<&String> = have.iter().filter(|r| absent(want, r)).take(3).collect();
        panic!(
            "table {table}, {what}: {} rows against {}; missing {missing:?}, extra {extra:?}",
            have.len(),
            want.len()
        );
    }
}

/// A deterministic answer, so both ways can be compared byte for byte.
fn make_ack(vxu: &Vxu, problems: &[Problem]) -> (AckCode, String) {
    let code = AckCode::for_problems(problems);
    let texts: Vec<String> = problems
        .iter()
        .map(|p| format!("{}:{}", p.location.display(), p.text))
        .collect();
    (
        code,
        format!(
            "{}|{}|{}",
            vxu.header.control_id,
            code.code(),
            texts.join(";")
        ),
    )
}

/// New persons, persons who look alike within the group and with the store, the same
/// person twice, a resend, an update and a delete of an earlier dose, refusals, NK1, PD1.
fn messages() -> Vec<String> {
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let mut generator = VxuGenerator::new(7, "CLINIC-1", today);
    let mut out = Vec::new();
    let mut people = Vec::new();
    for _ in 0..40 {
        let p = generator.person();
        out.push(generator.message_for(&p));
        people.push(p);
    }
    // The same generated persons again (known identifiers), between new ones.
    for p in people.iter().step_by(7) {
        out.push(generator.message_for(p));
        out.push(generator.next_message());
    }
    let jan = vxu(
        "G-1",
        "M-1",
        "Nowak",
        "Jan",
        "19700101",
        &[("O-1", "20240101", "115")],
    );
    out.push(jan.clone());
    // The same person under another record number of the same facility, and look-alikes.
    out.push(vxu(
        "G-2",
        "M-2",
        "Nowak",
        "Jan",
        "19700101",
        &[("O-2", "20240102", "115")],
    ));
    out.push(vxu("G-3", "M-3", "Nowack", "Jan", "19700101", &[]));
    out.push(vxu(
        "G-4",
        "M-4",
        "Nowak",
        "Janina",
        "19700101",
        &[("O-4", "20240101", "03")],
    ));
    out.push(vxu("G-5", "M-5", "Kowalski", "Jan", "19700101", &[]));
    // A resend of G-1, then an update and a delete of its dose.
    out.push(jan.clone());
    out.push(
        jan.replace("G-1", "G-1U")
            .replacen("|CP|A\r", "|CP|U\r", 1)
            .replace("|20240101||115", "|20240103||115"),
    );
    out.push(vxu(
        "G-6",
        "M-6",
        "Ruiz",
        "Ana",
        "20010203",
        &[("O-6", "20240101", "115")],
    ));
    out.push(
        vxu(
            "G-6D",
            "M-6",
            "Ruiz",
            "Ana",
            "20010203",
            &[("O-6", "20240101", "115")],
        )
        .replacen("|CP|A\r", "|CP|D\r", 1),
    );
    // A dose repeated without order numbers, a delete of an unknown dose.
    out.push(vxu(
        "G-7",
        "M-7",
        "Lee",
        "Kai",
        "20150505",
        &[("", "20240101", "115"), ("", "20240101", "115")],
    ));
    out.push(
        vxu(
            "G-8",
            "M-8",
            "Lee",
            "Mia",
            "20150506",
            &[("O-8", "20240101", "115")],
        )
        .replacen("|CP|A\r", "|CP|D\r", 1),
    );
    // The IG sample (PD1, mother's maiden name, OBX) and a refusal.
    out.push(VXU.to_string());
    out.push(
        with("MSG-0001", "MSG-0002")
            .replace("MRN-1001", "MRN-2002")
            .replace("RXA|0|1|19810601||03^MMR^CVX|999|||01^Historical information - source unspecified^NIP001|||||||||||CP|A", "RXA|0|1|20240115||03^MMR^CVX|999||||||||||||00^Parental decision^NIP002||RE|A"),
    );
    out
}

async fn stored_one_by_one(db: &Database, vxus: &[Vxu]) -> Vec<Stored> {
    let store = Store::new(db.clone());
    let now = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
    let mut out = Vec::new();
    for v in vxus {
        let ack = |problems: &[Problem]| make_ack(v, problems);
        out.push(store.ingest(v, now, &ack).await.unwrap());
    }
    out
}

async fn stored_in_groups(db: &Database, vxus: &[Vxu], group: usize) -> Vec<Stored> {
    let store = Store::new(db.clone());
    let now = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
    let mut out = Vec::new();
    for chunk in vxus.chunks(group) {
        let refs: Vec<&Vxu> = chunk.iter().collect();
        for r in store.ingest_batch(&refs, now, &make_ack).await.unwrap() {
            out.push(r.unwrap());
        }
    }
    out
}

/// As the SQLite writer stores them: each group written while the next is read and routed
/// ahead (`GroupWriter`).
async fn stored_pipelined(db: &Database, vxus: &[Vxu], group: usize) -> Vec<Stored> {
    let store = Store::new(db.clone());
    let mut writer = store.group_writer();
    let now = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
    let groups: Vec<Vec<Arc<Vxu>>> = vxus
        .chunks(group)
        .map(|c| c.iter().cloned().map(Arc::new).collect())
        .collect();
    let mut out = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let refs: Vec<&Vxu> = group.iter().map(|v| &**v).collect();
        let next: &[Arc<Vxu>] = groups.get(i + 1).map_or(&[], |g| g.as_slice());
        for r in writer.store(&refs, next, now, &make_ack).await.unwrap() {
            out.push(r.unwrap());
        }
    }
    out
}

async fn a_group_stores_what_one_by_one_stores(engine: Engine) {
    let codes = CodeTables::embedded();
    let vxus: Vec<Vxu> = messages()
        .iter()
        .map(|m| {
            let v =
                check(&codes, m, Authority::Operator).unwrap_or_else(|_| panic!("readable: {m}"));
            assert!(v.person.is_some(), "{:?}", v.problems);
            v
        })
        .collect();
    let reference = imms_db::testing::fresh(engine).await;
    let expected = stored_one_by_one(&reference.db, &vxus).await;
    let expected_rows = dump(&reference.db).await;
    assert!(
        expected
            .iter()
            .any(|s| matches!(s, Stored::Duplicate { .. })),
        "the sample has a resend"
    );
    let flagged = expected_rows
        .iter()
        .find(|(t, _)| t == "possible_duplicates");
    assert!(
        flagged.is_some_and(|(_, rows)| !rows.is_empty()),
        "the sample has look-alikes"
    );
    // One big group, and small groups that split persons across commits; each group
    // alone and each written while the next is routed.
    for (group, pipelined) in [(vxus.len(), false), (7, false), (7, true), (3, true)] {
        let grouped = imms_db::testing::fresh(engine).await;
        let got = if pipelined {
            stored_pipelined(&grouped.db, &vxus, group).await
        } else {
            stored_in_groups(&grouped.db, &vxus, group).await
        };
        let what = format!("groups of {group}, pipelined: {pipelined}");
        assert_eq!(got, expected, "answers, {what}");
        let rows = dump(&grouped.db).await;
        assert_same_rows(&expected_rows, &rows, &what);
        grouped.db.close().await;
        grouped.drop_database().await;
    }
    reference.db.close().await;
    reference.drop_database().await;
}

#[tokio::test]
async fn a_group_stores_what_one_by_one_stores_on_sqlite() {
    a_group_stores_what_one_by_one_stores(Engine::Sqlite).await;
}

#[tokio::test]
async fn a_group_stores_what_one_by_one_stores_on_postgres() {
    a_group_stores_what_one_by_one_stores(Engine::Postgres).await;
}

/// Jan Nowak's messages for the tests of kept profiles: Jan at Elm St (CLINIC-1, M-1),
/// Piotr born on `piotr_born` (a candidate of Jan's whose profile a store reads and keeps
/// when born the same day), Jan's clinic reporting his move to Oak Ave, and another clinic's
/// record of Jan at the new address, which links to Jan only where his move is seen.
fn jan_moves(piotr_born: &str) -> [Vxu; 4] {
    let codes = CodeTables::embedded();
    let read = |m: &str| check(&codes, m, Authority::Operator).expect("readable");
    let moved = vxu("C-3", "M-1", "Nowak", "Jan", "19700101", &[])
        .replace("12 Elm St^^Flint^MI^48502", "9 Oak Ave^^Lansing^MI^48933");
    [
        read(&vxu("C-1", "M-1", "Nowak", "Jan", "19700101", &[])),
        read(&vxu("C-2", "M-2", "Zielinski", "Piotr", piotr_born, &[])),
        read(&moved),
        read(
            &moved
                .replace("C-3", "C-4")
                .replace("M-1", "M-4")
                .replace("CLINIC-1", "CLINIC-2"),
        ),
    ]
}

/// A database holding messages stored one by one, their answers and its rows.
type Reference = (
    imms_db::testing::TestDatabase,
    Vec<Stored>,
    Vec<(String, Vec<String>)>,
);

/// `steps` stored one by one in a fresh database, where the last one must link to the
/// first one's person: the database, the answers and the rows.
async fn jan_one_by_one(engine: Engine, steps: &[Vxu]) -> Reference {
    let reference = imms_db::testing::fresh(engine).await;
    let expected = stored_one_by_one(&reference.db, steps).await;
    let rows = dump(&reference.db).await;
    let Stored::Applied { person_id: jan, .. } = &expected[0] else {
        panic!("stored");
    };
    assert!(
        matches!(expected.last(), Some(Stored::Applied { person_id, .. }) if person_id == jan),
        "one by one, the other clinic's record links to Jan: {expected:?}"
    );
    (reference, expected, rows)
}

/// The answers and rows in `db` are the reference's; both databases are dropped.
async fn assert_as_reference(
    db: imms_db::testing::TestDatabase,
    got: &[Stored],
    reference: Reference,
    what: &str,
) {
    let (reference, expected, expected_rows) = reference;
    assert_eq!(got, expected, "{what}");
    assert_same_rows(&expected_rows, &dump(&db.db).await, what);
    db.db.close().await;
    db.drop_database().await;
    reference.db.close().await;
    reference.drop_database().await;
}

/// A group reuses the candidate profiles an earlier group of the same store read. Another
/// writer (here a second store over the same database, as another process would be) adds
/// an address to a person after that: the next group must see it, and decide as storing one
/// by one decides (the new street makes the look-alike a corroborated match).
async fn profiles_kept_between_groups_follow_other_writers(engine: Engine) {
    let steps = jan_moves("19700101");
    let reference = jan_one_by_one(engine, &steps).await;
    let db = imms_db::testing::fresh(engine).await;
    let kept = Store::new(db.db.clone());
    let other = Store::new(db.db.clone());
    let now = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
    let mut got = Vec::new();
    for (i, v) in steps.iter().enumerate() {
        if i == 2 {
            let ack = |problems: &[Problem]| make_ack(v, problems);
            got.push(other.ingest(v, now, &ack).await.unwrap());
        } else {
            for r in kept.ingest_batch(&[v], now, &make_ack).await.unwrap() {
                got.push(r.unwrap());
            }
        }
    }
    assert_as_reference(db, &got, reference, "kept profiles").await;
}

#[tokio::test]
async fn profiles_kept_between_groups_follow_other_writers_on_sqlite() {
    profiles_kept_between_groups_follow_other_writers(Engine::Sqlite).await;
}

#[tokio::test]
async fn profiles_kept_between_groups_follow_other_writers_on_postgres() {
    profiles_kept_between_groups_follow_other_writers(Engine::Postgres).await;
}

/// The pipelined writer routes the next group while one is written, from what the store
/// held then. When another writer commits before that group is stored (here a second store
/// adds Jan's new address), the group must be read again: routed ahead, Jan's report from
/// the other clinic would become a new person instead of linking to him.
async fn a_group_routed_ahead_follows_other_writers(engine: Engine) {
    let steps = jan_moves("19700101");
    let reference = jan_one_by_one(engine, &steps).await;
    let db = imms_db::testing::fresh(engine).await;
    let store = Store::new(db.db.clone());
    let mut writer = store.group_writer();
    let other = Store::new(db.db.clone());
    let now = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
    let shared = |i: usize| vec![Arc::new(steps[i].clone())];
    let mut got = Vec::new();
    for r in writer
        .store(&[&steps[0]], &shared(1), now, &make_ack)
        .await
        .unwrap()
    {
        got.push(r.unwrap());
    }
    // Stores Piotr while Jan's record from the other clinic is routed ahead.
    for r in writer
        .store(&[&steps[1]], &shared(3), now, &make_ack)
        .await
        .unwrap()
    {
        got.push(r.unwrap());
    }
    let ack = |problems: &[Problem]| make_ack(&steps[2], problems);
    got.push(other.ingest(&steps[2], now, &ack).await.unwrap());
    for r in writer
        .store(&[&steps[3]], &[], now, &make_ack)
        .await
        .unwrap()
    {
        got.push(r.unwrap());
    }
    // The writer keeps a connection of its own: give it back before the pool closes.
    drop(writer);
    assert_as_reference(db, &got, reference, "routed ahead").await;
}

#[tokio::test]
async fn a_group_routed_ahead_follows_other_writers_on_sqlite() {
    a_group_routed_ahead_follows_other_writers(Engine::Sqlite).await;
}

/// The pipelined writer takes the profiles it kept unchecked while it only adds persons and
/// no one else commits. A message of a known person (here Jan's clinic reporting his new
/// address) changes a stored profile through the one-message path: what the writer kept
/// of Jan must not be trusted after that, or Jan's report from another clinic, routed ahead
/// two groups later, would become a new person instead of linking to him.
async fn kept_profiles_are_checked_after_the_writer_changed_a_person(engine: Engine) {
    // Piotr, born another day, is no candidate of Jan's: the group storing him reads
    // nothing of Jan while Jan's record from the other clinic is routed ahead.
    let [jan, piotr, moved, other_clinic] = jan_moves("19550505");
    let steps = [jan, moved, piotr, other_clinic];
    let reference = jan_one_by_one(engine, &steps).await;
    let shared: Vec<Arc<Vxu>> = steps.iter().cloned().map(Arc::new).collect();
    let db = imms_db::testing::fresh(engine).await;
    let store = Store::new(db.db.clone());
    let mut writer = store.group_writer();
    let now = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
    let mut got = Vec::new();
    for (i, step) in shared.iter().enumerate() {
        let next: Vec<Arc<Vxu>> = shared.get(i + 1).cloned().into_iter().collect();
        for r in writer
            .store(&[&**step], &next, now, &make_ack)
            .await
            .unwrap()
        {
            got.push(r.unwrap());
        }
    }
    // The writer keeps a connection of its own: give it back before the pool closes.
    drop(writer);
    assert_as_reference(db, &got, reference, "kept profiles trusted").await;
}

#[tokio::test]
async fn kept_profiles_are_checked_after_the_writer_changed_a_person_on_sqlite() {
    kept_profiles_are_checked_after_the_writer_changed_a_person(Engine::Sqlite).await;
}

/// Generated traffic (new persons, the same persons again, look-alikes), in groups whose
/// boundaries fall anywhere, as a writer's do: the rows must not depend on where they fall.
async fn generated_groups_store_what_one_by_one_stores(engine: Engine) {
    let codes = CodeTables::embedded();
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let mut generator = VxuGenerator::new(2026, "CLINIC-1", today);
    let vxus: Vec<Vxu> = (0..3_000)
        .map(|_| check(&codes, &generator.next_message(), Authority::Operator).expect("readable"))
        .collect();
    let reference = imms_db::testing::fresh(engine).await;
    let expected = stored_one_by_one(&reference.db, &vxus).await;
    let expected_rows = dump(&reference.db).await;
    for (group, pipelined) in [(1_024, false), (333, false), (1_024, true), (333, true)] {
        let grouped = imms_db::testing::fresh(engine).await;
        let got = if pipelined {
            stored_pipelined(&grouped.db, &vxus, group).await
        } else {
            stored_in_groups(&grouped.db, &vxus, group).await
        };
        let rows = dump(&grouped.db).await;
        let what = format!("groups of {group}, pipelined: {pipelined}");
        assert_same_rows(&expected_rows, &rows, &what);
        assert_eq!(got, expected, "answers, {what}");
        grouped.db.close().await;
        grouped.drop_database().await;
    }
    reference.db.close().await;
    reference.drop_database().await;
}

#[tokio::test]
async fn generated_groups_store_what_one_by_one_stores_on_sqlite() {
    generated_groups_store_what_one_by_one_stores(Engine::Sqlite).await;
}

#[tokio::test]
async fn generated_groups_store_what_one_by_one_stores_on_postgres() {
    generated_groups_store_what_one_by_one_stores(Engine::Postgres).await;
}
