//! Identity-provider figures for docs/benchmarks.md, in one run on one machine:
//!
//! 1. raw argon2id hashes per second at the configured cost, one thread per core;
//! 2. sign-ins per second through the real sign-in path (lockout reservation, argon2id,
//!    store updates) on SQLite, 16 concurrent sign-ins, and its ratio to 1;
//! 3. latency of the sign-in POST (CSRF token, form, cookie) under 16 concurrent users over
//!    loopback HTTP against the real router: median, p95, p99.
//!
//! `cargo run -p imms-idp --example bench -- [SECONDS]` (dependencies are optimised even in
//! dev builds, so argon2id runs at full speed; add --release for the crate's own code too).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imms_idp::password::{normalize, HashCost, Hasher};
use imms_idp::{AcctType, AddAccount, Idp, IdpSettings, SignInOutcome, SystemClock};

const PASSWORD: &str = "violet harbour lantern";
/// Concurrent sign-ins in the throughput rounds (as many as the HTTP users).
const SIGNIN_TASKS: usize = 16;

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let cost = HashCost::OWASP;
    println!(
        "cores={cores} argon2id m={} t={} p={} seconds={seconds}",
        cost.memory_kib, cost.iterations, cost.parallelism
    );

    let hasher = Hasher::new(cost);
    let stored = hasher.hash(&normalize(PASSWORD));

    // The store for 2 (SQLite, durable settings).
    let dir = tempfile::tempdir().unwrap();
    let db = imms_db::Database::connect(&format!("sqlite://{}/imms.db", dir.path().display()))
        .await
        .unwrap();
    let mut settings = IdpSettings::new(dir.path().to_path_buf(), "http://127.0.0.1:8080");
    settings.rate_limit_per_minute = 0;
    let idp = Arc::new(Idp::open(settings, db, Arc::new(SystemClock)).unwrap());
    let users = 64;
    for i in 0..users {
        idp.add_account(&AddAccount {
            user_id: &format!("bench.user{i}"),
            email: "bench@example.org",
            acct_type: AcctType::Citizen,
            password: PASSWORD,
            ssn: None,
        })
        .await
        .unwrap();
    }

    // 1 and 2 alternate in three rounds, so both see the same machine (others may share it).
    let round = Duration::from_secs_f64(seconds as f64 / 3.0);
    let (mut raw_n, mut raw_t, mut raw_cpu, mut sign_n, mut sign_t, mut sign_cpu) =
        (0u64, 0f64, 0f64, 0u64, 0f64, 0f64);
    for r in 1..=3 {
        let c0 = cpu_seconds();
        let (n, t) = raw_round(&hasher, &stored, cores, round);
        let c1 = cpu_seconds();
        let (m, u) = signin_round(&idp, users, round).await;
        let c2 = cpu_seconds();
        println!(
            "round {r}: raw argon2id {:.1}/s ({:.1} per CPU-s), sign-ins {:.1}/s ({:.1} per CPU-s)",
            n as f64 / t,
            n as f64 / (c1 - c0),
            m as f64 / u,
            m as f64 / (c2 - c1)
        );
        raw_n += n;
        raw_t += t;
        raw_cpu += c1 - c0;
        sign_n += m;
        sign_t += u;
        sign_cpu += c2 - c1;
    }
    let raw = raw_n as f64 / raw_t;
    let signins = sign_n as f64 / sign_t;
    println!(
        "raw argon2id verifications/s: {raw:.1} (per CPU-second: {:.1})",
        raw_n as f64 / raw_cpu
    );
    println!(
        "sign-ins/s (lockout + argon2id + store): {signins:.1} = {:.1}% of raw by wall clock, {:.1}% per CPU-second",
        100.0 * signins / raw,
        100.0 * (sign_n as f64 / sign_cpu) / (raw_n as f64 / raw_cpu)
    );

    // 3. The sign-in POST over HTTP, 16 concurrent users.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = imms_idp::router(idp.clone());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let users_http = 16;
    let tasks: Vec<_> = (0..users_http)
        .map(|u| {
            let base = base.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                let mut lat = vec![];
                while Instant::now() < deadline {
                    // Each person loads the page (CSRF cookie and token), then signs in.
                    let r = http.get(format!("{base}/idp/signin")).send().await.unwrap();
                    let cookie = r.headers()["set-cookie"]
                        .to_str()
                        .unwrap()
                        .split(';')
                        .next()
                        .unwrap()
                        .to_string();
                    let body = r.text().await.unwrap();
                    let pat = "name=\"csrf\" value=\"";
                    let s = body.find(pat).unwrap() + pat.len();
                    let csrf = body[s..s + body[s..].find('"').unwrap()].to_string();
                    let user = format!("bench.user{u}");
                    let t = Instant::now();
                    let r = http
                        .post(format!("{base}/idp/signin"))
                        .header("cookie", cookie)
                        .form(&[
                            ("csrf", csrf.as_str()),
                            ("req", ""),
                            ("user_id", &user),
                            ("password", PASSWORD),
                        ])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 303);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let pct = |p: f64| {
        all[((all.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(all.len() - 1)]
        .as_secs_f64()
            * 1000.0
    };
    println!(
        "sign-in POST, 16 concurrent users: n={} median_ms={:.0} p95_ms={:.0} p99_ms={:.0} ({:.1}/s)",
        all.len(),
        pct(0.5),
        pct(0.95),
        pct(0.99),
        all.len() as f64 / seconds as f64
    );
}

fn raw_round(hasher: &Hasher, stored: &str, cores: usize, round: Duration) -> (u64, f64) {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (h, s, d, stop) = (
                hasher.clone(),
                stored.to_string(),
                done.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = h.verify(PASSWORD, &s);
                    d.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(round);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    (done.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}

async fn signin_round(idp: &Arc<Idp>, users: usize, round: Duration) -> (u64, f64) {
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + round;
    let start = Instant::now();
    let tasks: Vec<_> = (0..SIGNIN_TASKS)
        .map(|w| {
            let (idp, count) = (idp.clone(), count.clone());
            tokio::spawn(async move {
                let mut i = w;
                while Instant::now() < deadline {
                    let o = idp
                        .sign_in(&format!("bench.user{}", i % users), PASSWORD)
                        .await
                        .unwrap();
                    assert!(matches!(o, SignInOutcome::Success(_)));
                    count.fetch_add(1, Ordering::Relaxed);
                    i += SIGNIN_TASKS;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (count.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}

/// This process's user + system CPU time (Linux /proc; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses): utime is 14th, stime 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
