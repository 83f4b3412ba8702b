//! HL7 v2 over HTTP against the real server: what a clinic's EHR sees.

mod common;

use common::{client, msa_code, post_hl7, vxu, Server, Site};
use imms_db::Engine;

#[tokio::test]
async fn a_clinic_reports_doses_and_reads_them_back_on_both_engines() {
    for engine in imms_db::testing::ENGINES {
        let site = Site::new(engine).await;
        let (user, password) = site.add_org("CLINIC-A");
        let server = Server::start(&site);
        assert_eq!(
            client()
                .get(server.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );

        let message = vxu(
            "CLINIC-A",
            "CTRL-1",
            "MRN-9",
            "Lindqvist",
            "Astrid",
            "19900304",
        );
        let (status, ack) = post_hl7(&server, &user, &password, &message).await;
        assert_eq!(status, 200);
        assert_eq!(msa_code(&ack), "AA", "{ack}");
        assert!(ack.contains("MSA|AA|CTRL-1"));
        let (_, again) = post_hl7(&server, &user, &password, &message).await;
        assert_eq!(again, ack, "a resend gets the same answer");

        let (code, json, err) = site.run(&["person", "show", "--mrn", "CLINIC-A:MRN-9", "--json"]);
        assert_eq!(code, 0, "{err}");
        let record: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(record["names"][0]["family"], "Lindqvist");
        assert_eq!(
            record["immunizations"].as_array().unwrap().len(),
            1,
            "stored once"
        );
        assert_eq!(record["immunizations"][0]["cvx"], "141");

        let metrics = client()
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("imms_hl7_messages_total{facility=\"CLINIC-A\",outcome=\"AA\",transport=\"http\"} 2"), "{metrics}");
        assert!(metrics.contains("imms_hl7_ack_seconds_bucket"));
        drop(server);
        site.remove().await;
    }
}

#[tokio::test]
async fn bad_requests_get_clear_answers_and_store_nothing() {
    let site = Site::new(Engine::Sqlite).await;
    let (user, password) = site.add_org("CLINIC-B");
    let (other_user, other_password) = site.add_org("CLINIC-C");
    let server = Server::start(&site);
    let url = server.url("/hl7/v2");
    let good = vxu("CLINIC-B", "C-1", "M-1", "Ngata", "Aroha", "19750101");

    let r = client().post(&url).body(good.clone()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    let r = client()
        .post(&url)
        .basic_auth(&user, Some("wrong"))
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .post(&url)
        .basic_auth("nobody", Some("x"))
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let r = client()
        .post(&url)
        .basic_auth(&user, Some(&password))
        .header("content-type", "application/json")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = client()
        .post(&url)
        .basic_auth(&user, Some(&password))
        .body("  \r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client()
        .post(&url)
        .basic_auth(&user, Some(&password))
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let huge = format!("{good}{}", "NTE|1||x\r".repeat(200_000));
    let r = client()
        .post(&url)
        .basic_auth(&user, Some(&password))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    for garbage in [
        "hello",
        "MSH|",
        "MSH|^~\\&|A|CLINIC-B|C|D|x||ADT^A01|1|P|2.5.1\r",
        "\u{1}\u{2}\u{3}",
    ] {
        let (status, ack) = post_hl7(&server, &user, &password, garbage).await;
        assert_eq!(status, 200);
        assert_eq!(msa_code(&ack), "AR", "{garbage:?} → {ack}");
        assert!(ack.contains("ERR|"), "{ack}");
    }

    // Credentials of one clinic cannot report for another.
    let (status, ack) = post_hl7(&server, &other_user, &other_password, &good).await;
    assert_eq!(status, 200);
    assert_eq!(msa_code(&ack), "AR");
    assert!(ack.contains("MSH^1^4"), "{ack}");

    let (code, _, _) = site.run(&["person", "show", "--mrn", "CLINIC-B:M-1"]);
    assert_eq!(code, 3, "nothing was stored");
    assert_eq!(
        client()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still answering"
    );
    let (status, ack) = post_hl7(&server, &user, &password, &good).await;
    assert_eq!((status, msa_code(&ack).as_str()), (200, "AA"));
}

#[tokio::test]
async fn logs_never_carry_personal_data() {
    let site = Site::new(Engine::Sqlite).await;
    let (user, password) = site.add_org("CLINIC-P");
    let server = Server::start(&site);
    let secrets = ["Zephyrine", "Quackenbush", "19610827", "Juniper"];
    let good = vxu(
        "CLINIC-P",
        "P-1",
        "MRN-SECRET-1",
        "Quackenbush",
        "Zephyrine",
        "19610827",
    );
    let bad_dose = good
        .replace("141^Influenza^CVX", "77777^Bogus^CVX")
        .replace("P-1", "P-2");
    let bad_person = good.replace("19610827", "29610827").replace("P-1", "P-3");
    for m in [&good, &bad_dose, &bad_person, &good] {
        post_hl7(&server, &user, &password, m).await;
    }
    let r = client()
        .post(server.url("/hl7/v2"))
        .basic_auth(&user, Some("Zephyrine-guess"))
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let log = server.log_text();
    assert!(
        log.contains("HL7 message answered"),
        "the log is being written: {log}"
    );
    for s in secrets
        .iter()
        .copied()
        .chain(["MRN-SECRET-1", password.as_str()])
    {
        assert!(!log.contains(s), "{s} appears in the log");
    }
    // Neither do the audit trail or the stored answers.
    let db = imms_db::Database::connect(&site.database_url)
        .await
        .unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT ack FROM messages")
        .fetch_all(db.pool())
        .await
        .unwrap();
    let audit: Vec<(String, String)> = sqlx::query_as("SELECT actor, action FROM audit_log")
        .fetch_all(db.pool())
        .await
        .unwrap();
    for s in secrets {
        assert!(rows.iter().all(|(a,)| !a.contains(s)));
        assert!(audit.iter().all(|(a, b)| !a.contains(s) && !b.contains(s)));
    }
}

#[tokio::test]
async fn the_home_page_is_the_portal_and_the_record_keys_are_published() {
    let site = Site::new(Engine::Sqlite).await;
    let server = Server::start(&site);
    let r = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\""));
    assert!(html.contains("Get My Immunization Record (Sign In)"));
    assert!(html.contains("href=\"/signin\""));
    let jwks = client()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    assert_eq!(jwks.headers()["access-control-allow-origin"], "*");
    let keys: serde_json::Value = serde_json::from_str(&jwks.text().await.unwrap()).unwrap();
    assert_eq!(keys["keys"][0]["alg"], "ES256");
    assert_eq!(keys["keys"][0]["crv"], "P-256");
    for path in ["/console", "/faq", "/guide", "/idp/signin"] {
        let r = client().get(server.url(path)).send().await.unwrap();
        assert_ne!(r.status(), 404, "{path} is served");
    }
}
