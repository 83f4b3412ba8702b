//! Kill -9 during a load: every message acknowledged AA must be stored exactly once, on
//! SQLite and on PostgreSQL. Senders resend what was not acknowledged, as an EHR would.
//! The senders use all three transports at once: HTTP POST, MLLP and the SOAP service.

mod common;
mod interop;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{msa_code, Site};
use imms_registry::batch::split_messages;
use imms_registry::mllp::{set_security, MllpClient};
use imms_registry::soap::envelope::{read_reply, submit_single_message, Reply};
use interop::Running;

const MESSAGES: usize = 2500;
const SENDERS: usize = 16;

/// Messages acknowledged AA per transport (HTTP, MLLP, SOAP), over the whole test.
static PER_TRANSPORT: [std::sync::atomic::AtomicUsize; 3] = [
    std::sync::atomic::AtomicUsize::new(0),
    std::sync::atomic::AtomicUsize::new(0),
    std::sync::atomic::AtomicUsize::new(0),
];

fn control_id(m: &str) -> String {
    imms_hl7::parse(m)
        .unwrap()
        .first("MSH")
        .unwrap()
        .field(10)
        .value()
        .to_string()
}

/// Sends every message whose id is not yet acknowledged; returns when all are acknowledged
/// or the server stops answering.
async fn send_all(
    server: (String, String),
    user: String,
    password: String,
    messages: Arc<Vec<String>>,
    acked: Arc<Mutex<HashSet<String>>>,
    stop_after: Option<usize>,
) {
    let queue: Arc<Mutex<Vec<usize>>> = {
        let done = acked.lock().unwrap().clone();
        Arc::new(Mutex::new(
            (0..messages.len())
                .filter(|i| !done.contains(&control_id(&messages[*i])))
                .rev()
                .collect(),
        ))
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let (base, mllp_addr) = server;
    let mut tasks = Vec::new();
    for n in 0..SENDERS {
        let (queue, acked, messages, client) = (
            queue.clone(),
            acked.clone(),
            messages.clone(),
            client.clone(),
        );
        let (base, mllp_addr, user, password) = (
            base.clone(),
            mllp_addr.clone(),
            user.clone(),
            password.clone(),
        );
        // A third of the senders on each transport.
        let transport = n % 3;
        tasks.push(tokio::spawn(async move {
            let mut mllp: Option<MllpClient> = None;
            loop {
                if stop_after.is_some_and(|n| acked.lock().unwrap().len() >= n) {
                    return;
                }
                let Some(i) = queue.lock().unwrap().pop() else {
                    return;
                };
                let m = &messages[i];
                let ack = match transport {
                    0 => match client
                        .post(format!("{base}/hl7/v2"))
                        .basic_auth(&user, Some(&password))
                        .body(m.clone())
                        .send()
                        .await
                    {
                        Ok(r) if r.status() == 200 => r.text().await.ok(),
                        _ => None,
                    },
                    1 => {
                        if mllp.is_none() {
                            mllp = MllpClient::connect(&mllp_addr, Duration::from_secs(20))
                                .await
                                .ok();
                        }
                        match mllp.as_mut() {
                            Some(c) => c
                                .send(&set_security(m, &format!("{user}:{password}")))
                                .await
                                .ok(),
                            None => None,
                        }
                    }
                    _ => match client
                        .post(format!("{base}/hl7/soap"))
                        .header("content-type", "application/soap+xml; charset=utf-8")
                        .body(submit_single_message(&user, &password, "DEMO-CLINIC", m))
                        .send()
                        .await
                    {
                        Ok(r) => match read_reply(&r.text().await.unwrap_or_default()) {
                            Ok(Reply::Return(ack)) => Some(ack),
                            _ => None,
                        },
                        Err(_) => None,
                    },
                };
                match ack {
                    Some(ack) => {
                        if msa_code(&ack) == "AA" {
                            acked.lock().unwrap().insert(control_id(m));
                            PER_TRANSPORT[transport]
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    // The server is gone: this message was not acknowledged.
                    None => return,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_aa_survives_a_kill_and_is_stored_once() {
    for engine in imms_db::testing::ENGINES {
        let site = Site::new(engine).await;
        let (user, password) = site.add_org("DEMO-CLINIC");
        let file = site.path("load.hl7");
        let (code, _, err) = site.run(&[
            "gen",
            "vxu",
            "--count",
            &MESSAGES.to_string(),
            "--out",
            file.to_str().unwrap(),
            "--seed",
            "99",
        ]);
        assert_eq!(code, 0, "{err}");
        let messages = Arc::new(split_messages(&std::fs::read_to_string(&file).unwrap()));
        assert_eq!(messages.len(), MESSAGES);
        let expected_doses: usize = messages.iter().map(|m| m.matches("\rRXA|").count()).sum();
        let acked = Arc::new(Mutex::new(HashSet::new()));

        // Load, and kill the server in the middle of it.
        let mut server = Running::start(&site);
        let load = tokio::spawn(send_all(
            (server.base.clone(), server.mllp.clone()),
            user.clone(),
            password.clone(),
            messages.clone(),
            acked.clone(),
            None,
        ));
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if acked.lock().unwrap().len() >= MESSAGES / 3 {
                break;
            }
        }
        server.kill();
        let _ = load.await;
        let acked_before_kill = acked.lock().unwrap().clone();
        assert!(
            acked_before_kill.len() < MESSAGES,
            "the kill came during the load ({engine:?})"
        );

        // Every AA so far must be durable, before anything is resent.
        let db = imms_db::Database::connect(&site.database_url)
            .await
            .unwrap();
        let stored: Vec<(String,)> = sqlx::query_as("SELECT control_id FROM messages")
            .fetch_all(db.pool())
            .await
            .unwrap();
        let stored: HashSet<String> = stored.into_iter().map(|r| r.0).collect();
        let lost: Vec<_> = acked_before_kill.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "{} acknowledged messages were lost on {engine:?}",
            lost.len()
        );
        db.close().await;

        // Restart and resend what was not acknowledged, plus some that were (an EHR that
        // never saw the answer): nothing is stored twice.
        let server = Running::start(&site);
        acked.lock().unwrap().retain(|id| !id.ends_with('7'));
        send_all(
            (server.base.clone(), server.mllp.clone()),
            user.clone(),
            password.clone(),
            messages.clone(),
            acked.clone(),
            None,
        )
        .await;
        assert_eq!(
            acked.lock().unwrap().len(),
            MESSAGES,
            "all acknowledged after the restart on {engine:?}"
        );

        let db = imms_db::Database::connect(&site.database_url)
            .await
            .unwrap();
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT control_id, COUNT(*) FROM messages GROUP BY control_id")
                .fetch_all(db.pool())
                .await
                .unwrap();
        let per_id: HashMap<String, i64> = rows.into_iter().collect();
        assert_eq!(per_id.len(), MESSAGES);
        assert!(per_id.values().all(|n| *n == 1));
        let (doses,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM immunizations")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(
            doses as usize, expected_doses,
            "each dose stored exactly once on {engine:?}"
        );
        db.close().await;
        drop(server);
        site.remove().await;
    }
    let per: Vec<usize> = PER_TRANSPORT
        .iter()
        .map(|n| n.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    assert!(
        per.iter().all(|n| *n > 0),
        "every transport carried part of the load: {per:?}"
    );
}
