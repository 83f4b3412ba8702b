//! Sustained messages/s and answer latency over HTTP, MLLP and SOAP, in one run against one
//! store, with 16 concurrent senders per transport.
//!
//! ```text
//! cargo run --release -p imms-registry --example transport_load -- sqlite 6000
//! cargo run --release -p imms-registry --example transport_load -- postgres 6000
//! ```
//! Arguments: engine, messages per transport. The server side is the registry's own: the
//! HTTP and SOAP routers under axum and the MLLP listener, in this process, on loopback.
//! Each transport gets its own generated VXUs (new persons, 1 to 8 doses each); the
//! transports run one after the other on the same growing store, in two rounds of opposite
//! order; the figures are per transport over both rounds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use imms_core::CodeTables;
use imms_db::testing::fresh;
use imms_db::Engine;
use imms_registry::credentials::{hash_password, VerifiedCache};
use imms_registry::generate::VxuGenerator;
use imms_registry::http::Hl7Http;
use imms_registry::ingest::Ingestor;
use imms_registry::metrics::Metrics;
use imms_registry::mllp::{set_security, Mllp, MllpClient, MllpLimits};
use imms_registry::soap::envelope::{read_reply, submit_single_message, Reply};
use imms_registry::soap::Soap;
use imms_registry::store::Store;

const SENDERS: usize = 16;
const FACILITY: &str = "LOAD-CLINIC";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn msa(ack: &str) -> &str {
    ack.split('\r')
        .find(|s| s.starts_with("MSA|"))
        .and_then(|s| s.split('|').nth(1))
        .unwrap_or("")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = match args.get(1).map(String::as_str) {
        Some("postgres") => Engine::Postgres,
        _ => Engine::Sqlite,
    };
    let count: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3000);
    let t = fresh(engine).await;
    let store = Store::new(t.db.clone());
    store
        .upsert_facility(FACILITY, "Load", Utc::now())
        .await
        .unwrap();
    store
        .add_credential("load", FACILITY, &hash_password("secret"), Utc::now())
        .await
        .unwrap();
    let ingestor = Arc::new(Ingestor::new(
        store,
        Arc::new(CodeTables::embedded()),
        "IMMS",
    ));
    let hl7 = Arc::new(Hl7Http {
        ingestor: ingestor.clone(),
        metrics: Metrics::default(),
        cache: VerifiedCache::default(),
    });
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", http_listener.local_addr().unwrap());
    let router = imms_registry::http::router(hl7.clone()).merge(imms_registry::soap::router(
        Arc::new(Soap {
            hl7: hl7.clone(),
            endpoint: format!("{base}/hl7/soap"),
        }),
    ));
    tokio::spawn(async move { axum::serve(http_listener, router).await.unwrap() });
    let mllp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mllp_addr = mllp_listener.local_addr().unwrap().to_string();
    tokio::spawn(imms_registry::mllp::serve(
        mllp_listener,
        Arc::new(Mllp {
            hl7: hl7.clone(),
            limits: MllpLimits::default(),
        }),
        std::future::pending(),
    ));

    let today = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let mut gen = VxuGenerator::new(7, FACILITY, today);
    println!(
        "engine={} senders={SENDERS} messages_per_transport={count}",
        engine.name()
    );
    // Warm-up, not timed: each transport's first messages (password verification, pools).
    let rounds = [("http", SENDERS), ("mllp", SENDERS), ("soap", SENDERS)];
    // Timed: two rounds in opposite orders (HTTP, MLLP, SOAP, then SOAP, MLLP, HTTP), so
    // that no transport always meets the smaller store or the quieter neighbours.
    let half = count / 2;
    let timed = [
        ("http", half),
        ("mllp", half),
        ("soap", half),
        ("soap", count - half),
        ("mllp", count - half),
        ("http", count - half),
    ];
    let mut totals: std::collections::BTreeMap<&str, (usize, f64, Vec<f64>, usize)> =
        Default::default();
    for (round, (transport, count)) in rounds.into_iter().chain(timed).enumerate() {
        let warm_up = round < 3;
        let messages: Vec<String> = (0..count).map(|_| gen.next_message()).collect();
        let queue = Arc::new(Mutex::new(messages));
        let latencies = Arc::new(Mutex::new(Vec::with_capacity(count)));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(SENDERS)
            .build()
            .unwrap();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..SENDERS {
            let (queue, latencies, client, base, mllp_addr) = (
                queue.clone(),
                latencies.clone(),
                client.clone(),
                base.clone(),
                mllp_addr.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut mllp = None;
                let mut not_aa = 0usize;
                loop {
                    let Some(m) = queue.lock().unwrap().pop() else {
                        return not_aa;
                    };
                    let t0 = Instant::now();
                    let ack = match transport {
                        "http" => client
                            .post(format!("{base}/hl7/v2"))
                            .basic_auth("load", Some("secret"))
                            .header("content-type", "x-application/hl7-v2+er7")
                            .body(m)
                            .send()
                            .await
                            .unwrap()
                            .text()
                            .await
                            .unwrap(),
                        "mllp" => {
                            if mllp.is_none() {
                                mllp = Some(
                                    MllpClient::connect(&mllp_addr, Duration::from_secs(60))
                                        .await
                                        .unwrap(),
                                );
                            }
                            mllp.as_mut()
                                .unwrap()
                                .send(&set_security(&m, "load:secret"))
                                .await
                                .unwrap()
                        }
                        _ => {
                            let body = client
                                .post(format!("{base}/hl7/soap"))
                                .header("content-type", "application/soap+xml; charset=utf-8")
                                .body(submit_single_message("load", "secret", FACILITY, &m))
                                .send()
                                .await
                                .unwrap()
                                .text()
                                .await
                                .unwrap();
                            match read_reply(&body).unwrap() {
                                Reply::Return(a) => a,
                                Reply::Fault { name, .. } => panic!("fault {name}"),
                            }
                        }
                    };
                    latencies
                        .lock()
                        .unwrap()
                        .push(t0.elapsed().as_secs_f64() * 1000.0);
                    if msa(&ack) != "AA" {
                        not_aa += 1;
                    }
                }
            }));
        }
        let mut not_aa = 0;
        for t in tasks {
            not_aa += t.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        if warm_up {
            continue;
        }
        let t = totals.entry(transport).or_default();
        t.0 += count;
        t.1 += secs;
        t.2.extend_from_slice(&latencies.lock().unwrap());
        t.3 += not_aa;
    }
    for transport in ["http", "mllp", "soap"] {
        let (n, secs, mut ms, not_aa) = totals.remove(transport).unwrap_or_default();
        ms.sort_by(f64::total_cmp);
        println!(
            "| {} | {transport} | {n} | {:.0} | {:.1} | {:.1} | {not_aa} |",
            engine.name(),
            n as f64 / secs,
            percentile(&ms, 0.5),
            percentile(&ms, 0.99)
        );
    }
    drop(ingestor);
    t.drop_database().await;
}
