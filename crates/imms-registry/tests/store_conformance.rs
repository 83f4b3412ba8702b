//! The registry's store, run on SQLite and on PostgreSQL: both engines must give the same
//! answers to the same messages.

mod common;

use std::sync::Arc;

use common::{vxu, with, VXU};
use imms_core::CodeTables;
use imms_db::Database;
use imms_registry::ack::AckCode;
use imms_registry::ingest::{Authority, Ingestor};
use imms_registry::store::Store;

fn ingestor(db: Database) -> Ingestor {
    Ingestor::new(Store::new(db), Arc::new(CodeTables::embedded()), "IMMS")
}

async fn person(ing: &Ingestor, facility: &str, mrn: &str) -> imms_registry::store::PersonRecord {
    let id = ing
        .store()
        .person_by_identifier(facility, mrn)
        .await
        .unwrap()
        .expect("person known by identifier");
    ing.store().person_record(id).await.unwrap().unwrap()
}

imms_db::conformance_test!(
    stores_a_vxu_and_answers_aa_after_commit,
    |db: Database| async move {
        let ing = ingestor(db);
        let out = ing
            .process(VXU, Authority::Facility("CLINIC-1"))
            .await
            .unwrap();
        assert_eq!(out.code, AckCode::Accept, "{}", out.ack);
        assert!(out.ack.contains("\rMSA|AA|MSG-0001"));
        let rec = person(&ing, "CLINIC-1", "MRN-1001").await;
        assert_eq!(rec.birth_date, "1980-04-12");
        assert_eq!(rec.names[0].family, "Quintero");
        assert_eq!(rec.immunizations.len(), 2);
        assert_eq!(rec.immunizations[0].cvx, "03", "in date order");
        assert_eq!(
            rec.immunizations[1].lot_number.as_deref(),
            Some("TDAP-LOT-7")
        );
        assert_eq!(rec.immunizations[1].vfc_eligibility.as_deref(), Some("V01"));
        assert_eq!(rec.addresses[0].postal_code, "48933-1234");
        assert_eq!(rec.mother_maiden_family.as_deref(), Some("Ferrante"));
        let audit: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE control_id = 'MSG-0001'")
                .fetch_one(ing.store().database().pool())
                .await
                .unwrap();
        assert!(audit >= 3, "person created and two doses added are audited");
    }
);

imms_db::conformance_test!(
    a_resend_gets_the_same_answer_and_stores_nothing_twice,
    |db: Database| async move {
        let ing = ingestor(db);
        let first = ing
            .process(VXU, Authority::Facility("CLINIC-1"))
            .await
            .unwrap();
        let before = ing.store().counts().await.unwrap();
        let second = ing
            .process(VXU, Authority::Facility("CLINIC-1"))
            .await
            .unwrap();
        assert!(second.duplicate);
        assert_eq!(second.ack, first.ack);
        assert_eq!(ing.store().counts().await.unwrap(), before);
        // Another facility may reuse the control id.
        let other = VXU.replace("|CLINIC-1|IMMS|", "|CLINIC-2|IMMS|");
        let third = ing
            .process(&other, Authority::Facility("CLINIC-2"))
            .await
            .unwrap();
        assert!(!third.duplicate);
    }
);

imms_db::conformance_test!(
    updates_and_deletes_by_filler_order_number,
    |db: Database| async move {
        let ing = ingestor(db);
        ing.process(VXU, Authority::Operator).await.unwrap();
        let update = with("MSG-0001", "MSG-0002")
            .replace("TDAP-LOT-7", "TDAP-LOT-8")
            .replacen("|CP|A\r", "|CP|U\r", 1);
        let out = ing.process(&update, Authority::Operator).await.unwrap();
        assert_eq!(out.code, AckCode::Accept, "{}", out.ack);
        let rec = person(&ing, "CLINIC-1", "MRN-1001").await;
        assert_eq!(rec.immunizations.len(), 2);
        assert!(rec
            .immunizations
            .iter()
            .any(|i| i.lot_number.as_deref() == Some("TDAP-LOT-8")));

        let delete = with("MSG-0001", "MSG-0003").replacen("|CP|A\r", "|CP|D\r", 1);
        let out = ing.process(&delete, Authority::Operator).await.unwrap();
        assert_eq!(out.code, AckCode::Accept, "{}", out.ack);
        let rec = person(&ing, "CLINIC-1", "MRN-1001").await;
        assert_eq!(
            rec.immunizations.len(),
            1,
            "the Tdap is deleted, the MMR stays"
        );
        assert_eq!(rec.immunizations[0].cvx, "03");

        let unknown = with("MSG-0001", "MSG-0004")
            .replace("CLINIC-1-ORD-1", "NO-SUCH-ORDER")
            .replacen("|CP|A\r", "|CP|D\r", 1);
        let out = ing.process(&unknown, Authority::Operator).await.unwrap();
        assert_eq!(out.code, AckCode::Error);
        assert!(
            out.ack.contains("|204^Unknown key identifier^HL70357|"),
            "{}",
            out.ack
        );
    }
);

imms_db::conformance_test!(links_only_when_certain, |db: Database| async move {
    let ing = ingestor(db);
    ing.process(VXU, Authority::Operator).await.unwrap();
    // Another clinic, same name, birth date, sex and address: the same person.
    let same = VXU
        .replace("CLINIC-1", "CLINIC-2")
        .replace("MRN-1001", "X-77");
    assert_eq!(
        ing.process(&same, Authority::Operator).await.unwrap().code,
        AckCode::Accept
    );
    let a = ing
        .store()
        .person_by_identifier("CLINIC-1", "MRN-1001")
        .await
        .unwrap();
    let b = ing
        .store()
        .person_by_identifier("CLINIC-2", "X-77")
        .await
        .unwrap();
    assert_eq!(a, b);
    // Same name and birth date but nothing else agrees: a new person, queued for review.
    let lookalike = VXU
        .replace("CLINIC-1", "CLINIC-3")
        .replace("MRN-1001", "Z-1")
        .replace(
            "417 Larkspur Ln^^Lansing^MI^48933-1234",
            "9 Pine Rd^^Marquette^MI^49855",
        )
        .replace("^517^5550199", "^906^5550111")
        .replace("Ferrante^Giulia", "Bianchi^Sara")
        .replace("Quintero^Rosalind^Maeve", "Quintero^Rosalind^");
    ing.process(&lookalike, Authority::Operator).await.unwrap();
    let c = ing
        .store()
        .person_by_identifier("CLINIC-3", "Z-1")
        .await
        .unwrap();
    assert_ne!(a, c);
    let counts = ing.store().counts().await.unwrap();
    assert_eq!(counts.persons, 2);
    assert_eq!(counts.possible_duplicates, 1);
});

imms_db::conformance_test!(
    concurrent_messages_for_one_new_person_make_one_person,
    |db: Database| async move {
        let ing = Arc::new(ingestor(db));
        let mut tasks = Vec::new();
        for i in 0..16 {
            let ing = ing.clone();
            tasks.push(tokio::spawn(async move {
                let m = vxu(
                    &format!("C-{i}"),
                    "MRN-RACE",
                    "Okafor",
                    "Ada",
                    "20010203",
                    &[(&format!("ORD-{i}"), "20240101", "115")],
                );
                ing.process(&m, Authority::Operator).await.unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().code, AckCode::Accept);
        }
        let counts = ing.store().counts().await.unwrap();
        assert_eq!(counts.persons, 1);
        assert_eq!(counts.messages, 16);
    }
);

imms_db::conformance_test!(
    a_batch_stores_each_message_once,
    |db: Database| async move {
        let ing = ingestor(db);
        let a = vxu(
            "B-1",
            "M-1",
            "Nowak",
            "Jan",
            "19700101",
            &[("O-1", "20240101", "115")],
        );
        let b = vxu(
            "B-2",
            "M-2",
            "Nowak",
            "Ewa",
            "19720202",
            &[("O-2", "20240101", "115")],
        );
        let bad = vxu("B-3", "M-3", "Nowak", "Ola", "29990101", &[]);
        let outcomes = ing
            .process_batch(&[&a, &b, &a, &bad], Authority::Operator)
            .await;
        let codes: Vec<_> = outcomes.iter().map(|o| o.as_ref().unwrap().code).collect();
        assert_eq!(
            codes,
            vec![
                AckCode::Accept,
                AckCode::Accept,
                AckCode::Accept,
                AckCode::Error
            ]
        );
        // The same message twice: one is stored, the other answered as a resend. Which one
        // is which depends on the writers (several on PostgreSQL), not on input order.
        let dup = |i: usize| outcomes[i].as_ref().unwrap().duplicate;
        assert!(
            dup(0) != dup(2),
            "exactly one of the two copies is the resend"
        );
        assert_eq!(ing.store().counts().await.unwrap().persons, 2);
        assert_eq!(ing.store().counts().await.unwrap().messages, 2);
    }
);

imms_db::conformance_test!(
    a_refusal_is_kept_apart_from_doses,
    |db: Database| async move {
        let ing = ingestor(db);
        let refusal = with(
            "|TDAP-LOT-7|20251231|SKB^GlaxoSmithKline^MVX|||CP|A",
            "||||00^Parental decision^NIP002||RE|A",
        );
        assert_eq!(
            ing.process(&refusal, Authority::Operator)
                .await
                .unwrap()
                .code,
            AckCode::Accept
        );
        let rec = person(&ing, "CLINIC-1", "MRN-1001").await;
        assert_eq!(rec.refusals.len(), 1);
        assert_eq!(rec.refusals[0].cvx, "115");
        assert_eq!(rec.immunizations.len(), 1);
    }
);

imms_db::conformance_test!(
    concurrent_reports_from_two_clinics_make_one_person,
    |db: Database| async move {
        let ing = Arc::new(ingestor(db));
        let mut tasks = Vec::new();
        for i in 0..12 {
            let ing = ing.clone();
            tasks.push(tokio::spawn(async move {
                // Each clinic has its own record number; name, birth date, sex and address agree.
                let m = vxu(
                    &format!("K-{i}"),
                    &format!("CLINIC-MRN-{i}"),
                    "Ståhl",
                    "Björn",
                    "19650505",
                    &[],
                )
                .replace("|CLINIC-1|", &format!("|CLINIC-{i}|"));
                ing.process(&m, Authority::Operator).await.unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().code, AckCode::Accept);
        }
        assert_eq!(ing.store().counts().await.unwrap().persons, 1);
    }
);

imms_db::conformance_test!(
    each_dose_keeps_its_own_observations,
    |db: Database| async move {
        let ing = ingestor(db);
        let mut m = vxu("OBS-1", "M-OBS", "Adeyemi", "Tola", "19900101", &[]);
        for (i, vfc) in ["V01", "V02", "V03", "V04"].iter().enumerate() {
            m.push_str(&format!(
            "ORC|RE||ORD-OBS-{i}^CLINIC-1\rRXA|0|1|2024010{}||115^Tdap^CVX|0.5|mL^mL^UCUM||00^New^NIP001|||||||||||CP|A\r\
             OBX|1|CE|64994-7^Eligibility^LN|1|{vfc}^x^HL70064||||||F\r",
            i + 1
        ));
        }
        // Reported twice in one message without order numbers: one dose.
        m.push_str("RXA|0|1|20230601||03^MMR^CVX|999|||01^Historical^NIP001|||||||||||CP|A\rRXA|0|1|20230601||03^MMR^CVX|999|||01^Historical^NIP001|||||||||||CP|A\r");
        assert_eq!(
            ing.process(&m, Authority::Operator).await.unwrap().code,
            AckCode::Accept
        );
        let rec = person(&ing, "CLINIC-1", "M-OBS").await;
        assert_eq!(rec.immunizations.len(), 5);
        for imm in rec.immunizations.iter().filter(|i| i.cvx == "115") {
            let obs: Vec<_> = rec
                .observations
                .iter()
                .filter(|o| o.immunization_id == Some(imm.id))
                .collect();
            assert_eq!(obs.len(), 1);
            assert_eq!(
                Some(obs[0].value_code.as_str()),
                imm.vfc_eligibility.as_deref()
            );
        }
    }
);

imms_db::conformance_test!(
    a_batch_keeps_each_persons_messages_in_order,
    |db: Database| async move {
        let ing = ingestor(db);
        // Add, update, then delete one dose, among other people's messages, in one import.
        let mut batch = Vec::new();
        for i in 0..40 {
            batch.push(vxu(
                &format!("X-{i}"),
                &format!("OTHER-{i}"),
                "Kim",
                &format!("Min{i}"),
                "19900101",
                &[(&format!("OO-{i}"), "20240101", "115")],
            ));
        }
        let add = vxu(
            "ORD-A",
            "M-ORDER",
            "Park",
            "Ji",
            "19850505",
            &[("DOSE-1", "20240101", "115")],
        );
        let update = add
            .replace("ORD-A", "ORD-U")
            .replacen("|CP|A\r", "|CP|U\r", 1)
            .replace("|20240101||115", "|20240102||115");
        let delete = add
            .replace("ORD-A", "ORD-D")
            .replacen("|CP|A\r", "|CP|D\r", 1);
        batch.insert(5, add);
        batch.insert(20, update);
        batch.insert(35, delete);
        let raws: Vec<&str> = batch.iter().map(String::as_str).collect();
        for o in ing.process_batch(&raws, Authority::Operator).await {
            assert_eq!(o.unwrap().code, AckCode::Accept);
        }
        let rec = person(&ing, "CLINIC-1", "M-ORDER").await;
        assert!(
            rec.immunizations.is_empty(),
            "the delete came last: {:?}",
            rec.immunizations
        );
    }
);

/// A person for the bulk-load test: one legal name, one home address.
fn loaded_person(family: &str, given: &str, dob: &str) -> imms_core::Person {
    use imms_core::{Address, NameType, Person, PersonName, Sex};
    Person {
        names: vec![PersonName {
            name_type: NameType::Legal,
            family: family.into(),
            given: given.into(),
            middle: String::new(),
            suffix: String::new(),
        }],
        birth_date: dob.parse().unwrap(),
        sex: Sex::Female,
        addresses: vec![Address {
            street: "12 Elm St".into(),
            city: "Flint".into(),
            state: "MI".into(),
            postal_code: "48502".into(),
            country: "USA".into(),
            address_type: "H".into(),
            ..Default::default()
        }],
        phones: Vec::new(),
        identifiers: Vec::new(),
        mother_maiden_name: None,
        multiple_birth: None,
        birth_order: None,
        death_date: None,
        pd1: None,
        next_of_kin: Vec::new(),
    }
}

/// Names of the indexes on the tables a bulk load writes.
async fn person_indexes(db: &Database) -> Vec<String> {
    let sql = match db.engine() {
        imms_db::Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' \
             AND tbl_name IN ('persons', 'person_names', 'person_addresses', 'match_keys') ORDER BY name"
        }
        imms_db::Engine::Postgres => {
            "SELECT indexname::TEXT FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename IN ('persons', 'person_names', 'person_addresses', 'match_keys') ORDER BY indexname"
        }
    };
    sqlx::query_scalar(sql).fetch_all(db.pool()).await.unwrap()
}

imms_db::conformance_test!(
    a_bulk_load_builds_the_indexes_it_paused_and_finds_its_persons,
    |db: Database| async move {
        use imms_match::{keys, Prepared};
        use imms_registry::store::bulk_load::BulkLoad;
        use imms_registry::store::match_keys;
        let engine = db.engine();
        let before = person_indexes(&db).await;
        assert!(
            before.iter().any(|i| i == "match_keys_person"),
            "{before:?}"
        );
        let persons = [
            loaded_person("Okafor", "Adaeze", "1971-03-09"),
            loaded_person("Lindqvist", "Maren", "1988-11-23"),
        ];
        let mut conn = db.pool().acquire().await.unwrap();
        let bulk = BulkLoad::begin(&mut conn, engine)
            .await
            .unwrap()
            .expect("an empty store is bulk loaded");
        assert!(
            !person_indexes(&db)
                .await
                .iter()
                .any(|i| i == "match_keys_person"),
            "paused while loading"
        );
        let mut tx = db.pool().begin().await.unwrap();
        let ids = match_keys::load_persons(
            &mut tx,
            engine,
            &persons,
            bulk.keys_table(),
            "CLINIC-1",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        bulk.finish(&mut conn).await.unwrap();
        assert_eq!(person_indexes(&db).await, before, "every index is back");
        for (person, id) in persons.iter().zip(&ids) {
            let query = match_keys::query_from_person(person).unwrap();
            let found = match_keys::candidate_ids(
                &mut conn,
                &keys::query_keys(&Prepared::from_query(&query)),
                10,
            )
            .await
            .unwrap();
            assert_eq!(
                found.first(),
                Some(id),
                "the keys were moved into match_keys"
            );
        }
        let counts = match_keys::name_counts(&mut conn, &["FN|OKAFOR", "GN|MAREN"], false)
            .await
            .unwrap();
        assert_eq!(counts["FN|OKAFOR"], 1, "the load counted its names");
        assert_eq!(counts["GN|MAREN"], 1);
        assert!(
            BulkLoad::begin(&mut conn, engine).await.unwrap().is_none(),
            "a store that holds persons keeps its indexes"
        );
    }
);

/// Per name key: (the count [`match_keys::name_counts`] gives, the blocking keys' own
/// count). Equal when PostgreSQL's triggers kept table `name_counts` right.
async fn name_counts_against_keys(db: &Database) -> Vec<(String, i64, i64)> {
    use imms_registry::store::match_keys;
    let counted: Vec<(String, i64)> = sqlx::query_as(
        "SELECT block_key, COUNT(*) FROM match_keys \
         WHERE substr(block_key, 1, 3) IN ('FN|', 'GN|') GROUP BY block_key ORDER BY block_key",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let keys: Vec<&str> = counted.iter().map(|(k, _)| k.as_str()).collect();
    let mut conn = db.pool().acquire().await.unwrap();
    let kept = match_keys::name_counts(&mut conn, &keys, false)
        .await
        .unwrap();
    counted
        .iter()
        .map(|(k, n)| (k.clone(), kept[k], *n))
        .collect()
}

imms_db::conformance_test!(
    name_counts_follow_every_write_of_the_blocking_keys,
    |db: Database| async move {
        use imms_registry::store::match_keys;
        let ing = ingestor(db.clone());
        // Three Parks (one sent twice, one a Ji), stored one by one and as a group.
        let one = vxu("NC-1", "NC-A", "Park", "Ji", "19850505", &[]);
        let again = one.replace("NC-1", "NC-1B");
        let two = vxu("NC-2", "NC-B", "Park", "Min", "19900101", &[]);
        let three = vxu("NC-3", "NC-C", "Park", "Ji", "19700707", &[]);
        assert_eq!(
            ing.process(&one, Authority::Operator).await.unwrap().code,
            AckCode::Accept
        );
        for o in ing
            .process_batch(&[&again, &two, &three], Authority::Operator)
            .await
        {
            assert_eq!(o.unwrap().code, AckCode::Accept);
        }
        for (key, kept, counted) in name_counts_against_keys(&db).await {
            assert_eq!(kept, counted, "{key}");
        }
        let count = |key: &'static str| {
            let db = db.clone();
            async move {
                let mut conn = db.pool().acquire().await.unwrap();
                match_keys::name_counts(&mut conn, &[key], true)
                    .await
                    .unwrap()[key]
            }
        };
        assert_eq!(count("FN|PARK").await, 3);
        assert_eq!(count("GN|JI").await, 2);
        assert_eq!(count("GN|NOBODY").await, 0);

        // A reindex (after a correction or a merge) deletes and writes a person's keys.
        let id = ing
            .store()
            .person_by_identifier("CLINIC-1", "NC-B")
            .await
            .unwrap()
            .unwrap();
        let mut tx = db.pool().begin().await.unwrap();
        match_keys::reindex(&mut tx, id).await.unwrap();
        sqlx::query("DELETE FROM match_keys WHERE person_id = $1 AND block_key = 'GN|MIN'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count("FN|PARK").await, 3);
        assert_eq!(count("GN|MIN").await, 0);

        // A session that has ended leaves its counts, folded into one row per name.
        let mut gone = db.pool().acquire().await.unwrap().detach();
        sqlx::query("INSERT INTO match_keys (block_key, person_id) VALUES ('GN|MIN', $1)")
            .bind(id)
            .execute(&mut gone)
            .await
            .unwrap();
        sqlx::Connection::close(gone).await.unwrap();
        if db.engine() == imms_db::Engine::Postgres {
            // The server forgets a closed session shortly after the client hangs up.
            for _ in 0..100 {
                match_keys::fold_name_counts(&db).await.unwrap();
                let (rows,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM name_counts WHERE name_key = 'GN|MIN' AND shard <> 0",
                )
                .fetch_one(db.pool())
                .await
                .unwrap();
                if rows == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            let (left,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM name_counts WHERE shard <> 0 \
                 AND shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)",
            )
            .fetch_one(db.pool())
            .await
            .unwrap();
            assert_eq!(left, 0, "rows of ended sessions are folded");
        }
        assert_eq!(count("GN|MIN").await, 1);
        for (key, kept, counted) in name_counts_against_keys(&db).await {
            assert_eq!(kept, counted, "{key}");
        }
    }
);
