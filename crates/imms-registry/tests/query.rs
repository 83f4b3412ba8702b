//! QBP^Q11 Z34 → RSP^K11 on SQLite and PostgreSQL: the one person certainly meant gets
//! their whole history (Z32); nobody, several people, a malformed query, a forged facility
//! or an unsupported query get a Z33 that names no one.

mod common;

use std::sync::Arc;

use common::{vxu, VXU};
use imms_core::CodeTables;
use imms_db::Database;
use imms_registry::exchange::answer;
use imms_registry::ingest::{Authority, Ingestor};
use imms_registry::store::Store;

fn ingestor(db: Database) -> Ingestor {
    Ingestor::new(Store::new(db), Arc::new(CodeTables::embedded()), "IMMS")
}

/// A Z34 from `facility` with these QPD-3 to QPD-9 fields.
fn qbp(facility: &str, control_id: &str, params: &str) -> String {
    format!(
        "MSH|^~\\&|EHR|{facility}|IMMS|IMMS|20240601120000||QBP^Q11^QBP_Q11|{control_id}|P|2.5.1|||ER|AL|||||Z34^CDCPHINVS\r\
         QPD|Z34^Request Immunization History^CDCPHINVS|TAG-{control_id}|{params}\r\
         RCP|I|1^RD&Records&HL70126|R^real-time^HL70394\r"
    )
}

fn segment<'a>(rsp: &'a str, id: &str) -> Vec<&'a str> {
    rsp.split('\r')
        .filter(|s| s.starts_with(&format!("{id}|")))
        .collect()
}

fn field(rsp: &str, id: &str, n: usize) -> String {
    segment(rsp, id)
        .first()
        .and_then(|s| s.split('|').nth(if id == "MSH" { n - 1 } else { n }))
        .unwrap_or("")
        .to_string()
}

async fn ask(ing: &Ingestor, facility: &str, raw: &str) -> String {
    let a = answer(ing, raw, Authority::Facility(facility))
        .await
        .unwrap();
    assert_eq!(a.kind, "QBP");
    assert_eq!(field(&a.text, "MSA", 1), a.code);
    a.text
}

/// Nothing personal in an answer that found no one.
fn names_no_one(rsp: &str) {
    assert!(segment(rsp, "PID").is_empty(), "{rsp}");
    assert!(segment(rsp, "RXA").is_empty(), "{rsp}");
    for word in [
        "Quintero", "Rosalind", "Ferrante", "Larkspur", "19800412", "Lowe", "Dana",
    ] {
        assert!(!rsp.contains(word), "{word} in {rsp}");
    }
}

const Q_FULL: &str = "MRN-1001^^^CLINIC-1^MR|Quintero^Rosalind^Maeve^^^^L|Ferrante^Giulia^^^^^M|19800412|F|417 Larkspur Ln^^Lansing^MI^48933^USA^H|^PRN^PH^^^517^5550199";

imms_db::conformance_test!(
    the_one_person_meant_gets_their_whole_history,
    |db: Database| async move {
        let ing = ingestor(db);
        let out = ing
            .process(VXU, Authority::Facility("CLINIC-1"))
            .await
            .unwrap();
        assert_eq!(out.code.code(), "AA");
        let rsp = ask(&ing, "CLINIC-1", &qbp("CLINIC-1", "Q1", Q_FULL)).await;
        assert!(
            rsp.starts_with("MSH|^~\\&|IMMS|IMMS|EHR|CLINIC-1|"),
            "{rsp}"
        );
        assert_eq!(field(&rsp, "MSH", 9), "RSP^K11^RSP_K11");
        assert_eq!(field(&rsp, "MSH", 21), "Z32^CDCPHINVS");
        assert_eq!(field(&rsp, "MSA", 1), "AA");
        assert_eq!(field(&rsp, "MSA", 2), "Q1");
        assert_eq!(field(&rsp, "QAK", 1), "TAG-Q1");
        assert_eq!(field(&rsp, "QAK", 2), "OK");
        assert_eq!(
            field(&rsp, "QPD", 1),
            "Z34^Request Immunization History^CDCPHINVS"
        );
        assert_eq!(
            segment(&rsp, "QPD")[0].split('|').count(),
            3,
            "QPD echoes name and tag only"
        );
        let pid = segment(&rsp, "PID")[0];
        assert!(pid.contains("MRN-1001^^^CLINIC-1^MR"), "{pid}");
        assert!(pid.contains("Quintero^Rosalind^Maeve^^^^L"), "{pid}");
        assert_eq!(field(&rsp, "PID", 7), "19800412");
        assert_eq!(field(&rsp, "PID", 8), "F");
        assert!(pid.contains("417 Larkspur Ln"), "{pid}");
        let rxas = segment(&rsp, "RXA");
        assert_eq!(rxas.len(), 2, "{rsp}");
        assert!(rxas[0].contains("|03^"), "MMR first, in date order: {rsp}");
        assert!(rxas[1].contains("|115^"), "{rsp}");
        assert!(rxas[1].contains("|TDAP-LOT-7|20251231|SKB^"), "{rsp}");
        assert_eq!(segment(&rsp, "ORC").len(), 2);
        assert!(segment(&rsp, "RXR")[0].starts_with("RXR|C28161^^NCIT|LD^^HL70163"));
        assert!(rsp.contains("OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V01^^HL70064||||||F"), "{rsp}");
        // Segment order of a Z32.
        let ids: Vec<&str> = rsp
            .split('\r')
            .filter(|s| !s.is_empty())
            .map(|s| &s[..3])
            .collect();
        assert_eq!(&ids[..5], &["MSH", "MSA", "QAK", "QPD", "PID"]);
        // The answer parses as HL7.
        imms_hl7::parse(&rsp).unwrap();
        // A query stores nothing but an audit line.
        let counts = ing.store().counts().await.unwrap();
        assert_eq!(counts.messages, 1);
    }
);

imms_db::conformance_test!(
    another_facility_finds_the_person_by_demographics_but_not_others_ids,
    |db: Database| async move {
        let ing = ingestor(db);
        ing.process(VXU, Authority::Facility("CLINIC-1"))
            .await
            .unwrap();
        // No identifier of CLINIC-2: legal name, DOB, sex and the address agree.
        let q = qbp(
            "CLINIC-2",
            "Q2",
            "|Quintero^Rosalind^^^^^L||19800412|F|417 Larkspur Ln^^Lansing^MI^48933^USA^H",
        );
        let rsp = ask(&ing, "CLINIC-2", &q).await;
        assert_eq!(field(&rsp, "QAK", 2), "OK", "{rsp}");
        assert!(
            !rsp.contains("MRN-1001"),
            "another facility's MRN is not sent: {rsp}"
        );
        // Name, DOB and sex alone are not certain: not found, never a guess.
        let q = qbp("CLINIC-2", "Q3", "|Quintero^Rosalind^^^^^L||19800412|F");
        let rsp = ask(&ing, "CLINIC-2", &q).await;
        assert_eq!(field(&rsp, "QAK", 2), "NF", "{rsp}");
        assert_eq!(field(&rsp, "MSH", 21), "Z33^CDCPHINVS");
        names_no_one(&rsp);
    }
);

imms_db::conformance_test!(
    nobody_gets_nf_and_a_mistyped_identifier_discloses_no_one,
    |db: Database| async move {
        let ing = ingestor(db);
        ing.process(VXU, Authority::Facility("CLINIC-1"))
            .await
            .unwrap();
        let q = qbp(
            "CLINIC-1",
            "Q4",
            "X-9^^^CLINIC-1^MR|Lowe^Dana^^^^^L||20010203|M",
        );
        let rsp = ask(&ing, "CLINIC-1", &q).await;
        assert_eq!(field(&rsp, "MSA", 1), "AA");
        assert_eq!(field(&rsp, "QAK", 2), "NF");
        names_no_one(&rsp);
        // The facility's MRN of Quintero, but another person's name and date of birth.
        let q = qbp(
            "CLINIC-1",
            "Q5",
            "MRN-1001^^^CLINIC-1^MR|Lowe^Dana^^^^^L||20010203|M",
        );
        let rsp = ask(&ing, "CLINIC-1", &q).await;
        assert_eq!(field(&rsp, "QAK", 2), "NF", "{rsp}");
        names_no_one(&rsp);
    }
);

imms_db::conformance_test!(
    several_people_who_could_be_meant_get_tm,
    |db: Database| async move {
        let ing = ingestor(db);
        // Two people with the same legal name, DOB and sex at different addresses: ingest
        // keeps them apart (no second agreeing fact).
        let a = vxu(
            "A1",
            "MRN-A",
            "Lowe",
            "Dana",
            "20010203",
            &[("A1-1", "20240101", "08")],
        );
        let b = vxu(
            "B1",
            "MRN-B",
            "Lowe",
            "Dana",
            "20010203",
            &[("B1-1", "20240102", "08")],
        )
        .replace("|CLINIC-1|", "|CLINIC-2|")
        .replace("^CLINIC-1", "^CLINIC-2")
        .replace("12 Elm St^^Flint^MI^48502", "9 Oak Ave^^Detroit^MI^48201");
        assert_eq!(
            ing.process(&a, Authority::Facility("CLINIC-1"))
                .await
                .unwrap()
                .code
                .code(),
            "AA"
        );
        assert_eq!(
            ing.process(&b, Authority::Facility("CLINIC-2"))
                .await
                .unwrap()
                .code
                .code(),
            "AA"
        );
        assert_eq!(ing.store().counts().await.unwrap().persons, 2);
        let q = qbp("CLINIC-3", "Q6", "|Lowe^Dana^^^^^L||20010203|F");
        let rsp = ask(&ing, "CLINIC-3", &q).await;
        assert_eq!(field(&rsp, "QAK", 2), "TM", "{rsp}");
        assert_eq!(field(&rsp, "MSA", 1), "AA");
        names_no_one(&rsp);
        // One more agreeing fact picks the one meant.
        let q = qbp(
            "CLINIC-3",
            "Q7",
            "|Lowe^Dana^^^^^L||20010203|F|9 Oak Ave^^Detroit^MI^48201",
        );
        let rsp = ask(&ing, "CLINIC-3", &q).await;
        assert_eq!(field(&rsp, "QAK", 2), "OK", "{rsp}");
        assert_eq!(segment(&rsp, "RXA").len(), 1);
        assert!(segment(&rsp, "RXA")[0].contains("|20240102|"), "{rsp}");
    }
);

imms_db::conformance_test!(
    malformed_forged_and_unsupported_queries_name_no_one,
    |db: Database| async move {
        let ing = ingestor(db);
        ing.process(VXU, Authority::Facility("CLINIC-1"))
            .await
            .unwrap();
        // Everybody: a surname only.
        let rsp = ask(&ing, "CLINIC-1", &qbp("CLINIC-1", "Q8", "|Quintero")).await;
        assert_eq!(field(&rsp, "MSA", 1), "AE", "{rsp}");
        assert_eq!(field(&rsp, "QAK", 2), "AE");
        assert!(rsp.contains("\rERR|"), "{rsp}");
        assert!(
            segment(&rsp, "ERR")
                .iter()
                .any(|e| e.contains("QPD^1^4^1^2")),
            "{rsp}"
        );
        names_no_one(&rsp.replace("TAG-Q8", ""));
        // A forged facility: credentials of CLINIC-2, MSH-4 of CLINIC-1.
        let rsp = ask(&ing, "CLINIC-2", &qbp("CLINIC-1", "Q9", Q_FULL)).await;
        assert_eq!(field(&rsp, "MSA", 1), "AR", "{rsp}");
        assert_eq!(field(&rsp, "QAK", 2), "AR");
        names_no_one(&rsp);
        // 10,000 repetitions of the identifier list.
        let many = vec!["MRN-1001^^^CLINIC-1^MR"; 10_000].join("~");
        let q = qbp(
            "CLINIC-1",
            "Q10",
            &Q_FULL.replacen("MRN-1001^^^CLINIC-1^MR", &many, 1),
        );
        let rsp = ask(&ing, "CLINIC-1", &q).await;
        assert_eq!(field(&rsp, "QAK", 2), "AE", "{rsp}");
        assert!(rsp.len() < 2_000, "a short answer");
        names_no_one(&rsp);
        // 10,000 QPD segments.
        let q = qbp("CLINIC-1", "Q11", Q_FULL);
        let qpd = q.split('\r').nth(1).unwrap();
        let many = format!("{}{}", q, format!("{qpd}\r").repeat(10_000));
        let rsp = ask(&ing, "CLINIC-1", &many).await;
        assert_eq!(field(&rsp, "QAK", 2), "AE", "{rsp}");
        names_no_one(&rsp);
        // Z44: not supported, said clearly.
        let z44 = qbp("CLINIC-1", "Q12", Q_FULL).replace(
            "QPD|Z34^Request Immunization History",
            "QPD|Z44^Request Evaluated History and Forecast",
        );
        let rsp = ask(&ing, "CLINIC-1", &z44).await;
        assert_eq!(field(&rsp, "MSA", 1), "AR", "{rsp}");
        assert_eq!(field(&rsp, "QAK", 2), "AR");
        assert!(rsp.contains("not supported"), "{rsp}");
        names_no_one(&rsp);
        // An unknown query name.
        let other = qbp("CLINIC-1", "Q13", Q_FULL).replace("QPD|Z34^", "QPD|Z99^");
        let rsp = ask(&ing, "CLINIC-1", &other).await;
        assert_eq!(field(&rsp, "QAK", 2), "AR", "{rsp}");
        names_no_one(&rsp);
        // Nothing stored by any of it.
        assert_eq!(ing.store().counts().await.unwrap().messages, 1);
    }
);

imms_db::conformance_test!(
    refusals_are_part_of_the_history,
    |db: Database| async move {
        let ing = ingestor(db);
        let m = format!(
            "{}ORC|RE||9999^CDC\rRXA|0|1|20240110||03^MMR^CVX|999||||||||||||00^Parental decision^NIP002||RE\r",
            vxu("R1", "MRN-R", "Lowe", "Dana", "20010203", &[("R1-1", "20240101", "08")])
        );
        let out = ing
            .process(&m, Authority::Facility("CLINIC-1"))
            .await
            .unwrap();
        assert_ne!(out.code.code(), "AR", "{}", out.ack);
        let q = qbp(
            "CLINIC-1",
            "Q14",
            "MRN-R^^^CLINIC-1^MR|Lowe^Dana^^^^^L||20010203|F",
        );
        let rsp = ask(&ing, "CLINIC-1", &q).await;
        assert_eq!(field(&rsp, "QAK", 2), "OK", "{rsp}");
        let rxas = segment(&rsp, "RXA");
        assert!(
            rxas.iter()
                .any(|r| r.ends_with("|RE") && r.contains("|00^^NIP002|")),
            "{rsp}"
        );
    }
);

imms_db::conformance_test!(
    pd1_and_next_of_kin_come_back_where_known,
    |db: Database| async move {
        let ing = ingestor(db);
        let with_nk1 = VXU.replacen(
            "PD1|",
            "NK1|1|Quintero^Marisol^^^^^L|MTH^Mother^HL70063|417 Larkspur Ln^^Lansing^MI^48933^USA^H|^PRN^PH^^^517^5550100\rPD1|",
            1,
        );
        assert_eq!(
            ing.process(&with_nk1, Authority::Operator)
                .await
                .unwrap()
                .code
                .code(),
            "AA"
        );
        let rsp = ask(&ing, "CLINIC-1", &qbp("CLINIC-1", "Q-NK", Q_FULL)).await;
        assert_eq!(field(&rsp, "QAK", 2), "OK", "{rsp}");
        let pd1 = segment(&rsp, "PD1");
        assert_eq!(pd1.len(), 1, "{rsp}");
        assert!(
            pd1[0].contains("|02^^HL70215|N|20240115|||A|20240115"),
            "{}",
            pd1[0]
        );
        let nk1 = segment(&rsp, "NK1");
        assert_eq!(nk1.len(), 1, "{rsp}");
        assert!(nk1[0].starts_with("NK1|1|Quintero^Marisol^^^^^L|MTH^^HL70063|417 Larkspur Ln^^Lansing^MI^48933^^H|^PRN^PH^^^517^5550100"), "{}", nk1[0]);
        let order: Vec<&str> = rsp
            .split('\r')
            .filter(|s| s.len() > 3)
            .map(|s| &s[..3])
            .collect();
        let pid = order.iter().position(|s| *s == "PID").unwrap();
        assert_eq!(
            &order[pid + 1..pid + 3],
            &["PD1", "NK1"],
            "PID, PD1, NK1 in the IG's order"
        );
    }
);
