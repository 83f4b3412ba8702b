//! The CDC IG rules a VXU is held to, and the ACK each breach gets (no database needed).

mod common;

use chrono::NaiveDate;
use common::{with, VXU};
use imms_core::CodeTables;
use imms_registry::ack::AckCode;
use imms_registry::ingest::validate;
use imms_registry::problem::{Condition, Scope, Severity};
use imms_registry::vxu::{read_vxu, Action, DoseKind};

fn codes() -> CodeTables {
    CodeTables::embedded()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 1).unwrap()
}

fn read(raw: &str) -> imms_registry::vxu::Vxu {
    let m = imms_hl7::parse(raw).expect("parses");
    read_vxu(&m, &codes(), today())
}

#[test]
fn the_sample_is_read_completely() {
    let v = read(VXU);
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    let p = v.person.expect("person");
    assert_eq!(p.legal_name().unwrap().family, "Quintero");
    assert_eq!(p.birth_date, NaiveDate::from_ymd_opt(1980, 4, 12).unwrap());
    assert_eq!(p.identifiers[0].value, "MRN-1001");
    assert_eq!(p.identifiers[0].facility_id, "CLINIC-1");
    assert_eq!(p.addresses[0].postal_code, "48933-1234");
    assert_eq!(p.phones[0].number, "5175550199");
    assert_eq!(p.mother_maiden_name.as_ref().unwrap().family, "Ferrante");
    assert_eq!(v.doses.len(), 2);
    let DoseKind::Given(tdap) = &v.doses[0].kind else {
        panic!("given")
    };
    assert_eq!(tdap.cvx, "115");
    assert_eq!(tdap.mvx.as_deref(), Some("SKB"));
    assert_eq!(tdap.lot_number.as_deref(), Some("TDAP-LOT-7"));
    assert_eq!(tdap.route.as_deref(), Some("C28161"));
    assert_eq!(tdap.site.as_deref(), Some("LD"));
    assert_eq!(tdap.vfc_eligibility.as_deref(), Some("V01"));
    assert_eq!(tdap.filler_order_number.as_deref(), Some("CLINIC-1-ORD-1"));
    assert!(!tdap.is_historical());
    let DoseKind::Given(mmr) = &v.doses[1].kind else {
        panic!("given")
    };
    assert!(mmr.is_historical());
    assert_eq!(mmr.amount, None, "999 means the amount is unknown");
}

fn expect(raw: &str, code: AckCode, condition: Condition, location: &str) {
    let v = validate(&codes(), raw);
    assert_eq!(v.code, code, "{:?}", v.problems);
    assert!(
        v.problems
            .iter()
            .any(|p| p.condition == condition && p.location.display() == location),
        "expected {condition:?} at {location}, got {:?}",
        v.problems
            .iter()
            .map(|p| (p.condition, p.location.display()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn header_problems_reject_the_message() {
    expect(
        &with("VXU^V04^VXU_V04", "ADT^A01^ADT_A01"),
        AckCode::Reject,
        Condition::UnsupportedMessageType,
        "MSH-9.1",
    );
    expect(
        &with("VXU^V04^VXU_V04", "VXU^V99"),
        AckCode::Reject,
        Condition::UnsupportedEventCode,
        "MSH-9.2",
    );
    expect(
        &with("|P|2.5.1|", "|P|2.3.1|"),
        AckCode::Reject,
        Condition::UnsupportedVersionId,
        "MSH-12",
    );
    expect(
        &with("|P|2.5.1|", "|X|2.5.1|"),
        AckCode::Reject,
        Condition::UnsupportedProcessingId,
        "MSH-11",
    );
    expect(
        &with("|MSG-0001|", "||"),
        AckCode::Reject,
        Condition::RequiredFieldMissing,
        "MSH-10",
    );
    expect(
        &with("|MYEHR|CLINIC-1|", "|MYEHR||"),
        AckCode::Reject,
        Condition::RequiredFieldMissing,
        "MSH-4",
    );
}

#[test]
fn garbage_is_rejected_with_a_reason() {
    for raw in [
        "",
        "hello",
        "PID|1||x",
        "MSH",
        "MSH|",
        "\u{0}\u{1}\u{2}",
        "MSH|^~\\&|A|B|C|D|E||VXU^V04|1|P|2.5.1\rP!D|x",
    ] {
        let v = validate(&codes(), raw);
        assert_eq!(v.code, AckCode::Reject, "{raw:?}");
        assert!(!v.problems.is_empty());
        assert!(!v.problems[0].text.is_empty());
    }
}

#[test]
fn person_problems_store_nothing() {
    expect(
        &with("MRN-1001^^^CLINIC-1^MR", ""),
        AckCode::Error,
        Condition::RequiredFieldMissing,
        "PID-3",
    );
    expect(
        &with("Quintero^Rosalind", "^Rosalind"),
        AckCode::Error,
        Condition::RequiredFieldMissing,
        "PID-5.1",
    );
    expect(
        &with("Quintero^Rosalind", "Quintero^"),
        AckCode::Error,
        Condition::RequiredFieldMissing,
        "PID-5.2",
    );
    expect(
        &with("|19800412|", "||"),
        AckCode::Error,
        Condition::RequiredFieldMissing,
        "PID-7",
    );
    expect(
        &with("|19800412|", "|19800230|"),
        AckCode::Error,
        Condition::DataType,
        "PID-7",
    );
    expect(
        &with("|19800412|", "|1980|"),
        AckCode::Error,
        Condition::DataType,
        "PID-7",
    );
    expect(
        &with("|19800412|", "|20990101|"),
        AckCode::Error,
        Condition::DataType,
        "PID-7",
    );
    let v = read(&with("|19800412|", "|20990101|"));
    assert!(v.person.is_none() && v.doses.is_empty());
    assert_eq!(v.worst_scope(), Scope::Person);
}

#[test]
fn a_bad_dose_rejects_that_dose_only() {
    // Unknown CVX.
    let v = read(&with("115^Tdap^CVX", "9999^Nope^CVX"));
    assert_eq!(v.doses.len(), 1, "the other dose is kept");
    assert!(v
        .problems
        .iter()
        .any(|p| p.condition == Condition::TableValueNotFound
            && p.location.display() == "RXA-5.1"
            && p.scope == Scope::Dose));
    // A date before birth.
    let v = read(&with("|19810601|", "|19790101|"));
    assert_eq!(v.doses.len(), 1);
    let p = v
        .problems
        .iter()
        .find(|p| p.location.display() == "RXA[2]-3")
        .expect("problem at the second RXA");
    assert_eq!(p.app_error.map(|a| a.code()), Some(1));
    // A date in the future.
    let v = read(&with("|20240115||115", "|20990115||115"));
    assert_eq!(v.doses.len(), 1);
    // A code that was never used.
    assert_eq!(
        validate(&codes(), &with("03^MMR^CVX", "999^unknown^CVX")).code,
        AckCode::Accept,
        "999 (unknown) is a valid CVX for a record"
    );
}

#[test]
fn an_inactive_code_is_fine_for_history_but_not_for_a_new_dose() {
    // CVX 01 (DTP) went out of use in 2010.
    let new_dose = with("115^Tdap^CVX", "01^DTP^CVX");
    assert_eq!(validate(&codes(), &new_dose).code, AckCode::Error);
    let historical = with("|19810601||03^MMR^CVX", "|19810601||01^DTP^CVX");
    assert_eq!(validate(&codes(), &historical).code, AckCode::Accept);
}

#[test]
fn warnings_keep_aa() {
    let v = validate(
        &codes(),
        &with("LD^Left Deltoid^HL70163", "ZZ^Nowhere^HL70163"),
    );
    assert_eq!(v.code, AckCode::Accept);
    assert!(v
        .problems
        .iter()
        .any(|p| p.severity == Severity::Warning && p.location.display() == "RXR-2"));
    let v = validate(&codes(), &with("|F||2106-3", "|Q||2106-3"));
    assert_eq!(v.code, AckCode::Accept);
}

#[test]
fn refusals_updates_and_deletes_are_read() {
    let refusal = with(
        "|TDAP-LOT-7|20251231|SKB^GlaxoSmithKline^MVX|||CP|A",
        "||||00^Parental decision^NIP002||RE|A",
    );
    let v = read(&refusal);
    assert!(
        matches!(&v.doses[0].kind, DoseKind::Refused(r) if r.reason_code.as_deref() == Some("00"))
    );
    let v = read(&with("|CP|A\r", "|CP|D\r"));
    assert_eq!(v.doses[0].action, Action::Delete);
    // Update or delete without a filler order number cannot be applied.
    let no_orc = with(
        "ORC|RE||CLINIC-1-ORD-1^CLINIC-1||||||||||||||CLINIC-1^Clinic One\r",
        "",
    )
    .replacen("|CP|A\r", "|CP|U\r", 1);
    let v = validate(&codes(), &no_orc);
    assert_eq!(v.code, AckCode::Error);
}

#[test]
fn other_delimiters_and_line_ends_are_read_the_same() {
    let crlf = VXU.replace('\r', "\r\n");
    assert!(validate(&codes(), &crlf).problems.is_empty());
    let lf = VXU.replace('\r', "\n");
    assert!(validate(&codes(), &lf).problems.is_empty());
    // Field separator # and component separator $ throughout, MSH-2 included.
    let odd = VXU.replace('|', "#").replace('^', "$");
    let v = read(&odd);
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!(v.person.unwrap().legal_name().unwrap().given, "Rosalind");
}

#[test]
fn ack_carries_one_err_per_problem_and_no_personal_data() {
    let store_less = with("115^Tdap^CVX", "9999^Nope^CVX").replace("|19810601|", "|19790101|");
    let v = validate(&codes(), &store_less);
    let errors = v
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    assert_eq!(errors, 2);
    for p in &v.problems {
        for secret in [
            "Quintero", "Rosalind", "19800412", "Larkspur", "5550199", "Ferrante",
        ] {
            assert!(!p.text.contains(secret));
        }
    }
}
