//! The operators' and integrators' commands, run as a person would run them.

mod common;

use common::{vxu, write, Site};
use imms_db::Engine;

#[tokio::test]
async fn import_is_safe_to_run_again_and_reports_what_it_refused() {
    let site = Site::new(Engine::Sqlite).await;
    let dir = site.path("incoming");
    std::fs::create_dir_all(&dir).unwrap();
    let mut batch = String::new();
    for i in 0..40 {
        batch.push_str(&vxu(
            "CLINIC-I",
            &format!("I-{i}"),
            &format!("MRN-{i}"),
            "Ferreira",
            &format!("Ana{i}"),
            "19880808",
        ));
        batch.push('\n');
    }
    write(&dir.join("a.hl7"), &batch);
    write(
        &dir.join("b.hl7"),
        &vxu("CLINIC-I", "I-bad", "MRN-X", "Ferreira", "Rui", "30000101"),
    );
    let (code, out, err) = site.run(&["hl7", "import", dir.to_str().unwrap()]);
    assert_eq!(
        code, 1,
        "a rejected message makes the exit status 1: {out} {err}"
    );
    assert!(out.contains("40 accepted, 1 rejected"), "{out}");
    assert!(
        out.contains("PID-7") || err.contains("PID-7"),
        "says what was wrong: {out} {err}"
    );
    let (_, out, _) = site.run(&["hl7", "import", dir.join("a.hl7").to_str().unwrap()]);
    assert!(out.contains("40 accepted, 0 rejected"), "{out}");
    assert!(out.contains("40 of them were already stored"), "{out}");
    let (_, json, _) = site.run(&["person", "show", "--mrn", "CLINIC-I:MRN-3", "--json"]);
    let record: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(record["immunizations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn validate_prints_a_line_per_message_and_stores_nothing() {
    let site = Site::new(Engine::Sqlite).await;
    let file = site.path("check.hl7");
    let good = vxu("CLINIC-V", "V-1", "M1", "Okoye", "Chidi", "19700101");
    let bad_dose = vxu("CLINIC-V", "V-2", "M2", "Okoye", "Ada", "19700101")
        .replace("141^Influenza^CVX", "4242^x^CVX");
    let bad_version =
        vxu("CLINIC-V", "V-3", "M3", "Okoye", "Obi", "19700101").replace("|2.5.1\r", "|2.3\r");
    write(&file, &format!("{good}\n{bad_dose}\n{bad_version}\n"));
    let (code, out, _) = site.run(&["hl7", "validate", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "V-1 AA");
    assert!(lines[1].starts_with("V-2 AE RXA-5.1 "), "{}", lines[1]);
    assert!(lines[2].starts_with("V-3 AR MSH-12 "), "{}", lines[2]);
    assert_eq!(lines[3], "3 messages: 1 AA, 1 AE, 1 AR");
    assert!(!site.path("imms.db").exists(), "validate opened no store");
}

#[tokio::test]
async fn codes_load_replaces_the_tables_from_a_directory() {
    let site = Site::new(Engine::Sqlite).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/codes");
    let (code, out, err) = site.run(&["codes", "load", dir]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("288 CVX codes, 89 MVX codes"), "{out}");
    let empty = site.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, err) = site.run(&["codes", "load", empty.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("no .tsv files"), "{err}");
}

#[tokio::test]
async fn demo_data_goes_through_the_real_ingest_path() {
    let site = Site::new(Engine::Sqlite).await;
    let (code, out, err) = site.run(&["demo", "load", "--persons", "25"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("25 of 25 persons stored"), "{out}");
    let (code, json, _) = site.run(&[
        "person",
        "show",
        "--mrn",
        "DEMO-CLINIC:MRN000000007",
        "--json",
    ]);
    assert_eq!(code, 0);
    let record: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(!record["immunizations"].as_array().unwrap().is_empty());
}

#[test]
fn the_embedded_code_tables_are_the_shared_ones() {
    // data/codes is a copy of the project's shared code tables; when the shared folder is
    // beside the repository, the copy must not have drifted.
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if !shared.exists() {
        return;
    }
    let ours = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/codes");
    for name in [
        "cvx.tsv",
        "mvx.tsv",
        "cvx_vaccine_group.tsv",
        "hl7/iz_value_sets.tsv",
        "tradename.tsv",
    ] {
        assert_eq!(
            std::fs::read(shared.join(name)).unwrap(),
            std::fs::read(ours.join(name)).unwrap(),
            "{name} differs"
        );
    }
}
