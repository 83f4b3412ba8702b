//! MLLP in process, with short limits: framing, answers in order on one connection, the
//! facility credential in MSH-8, and senders that are cut off (garbage, no end block, a
//! stall, an oversized message, too many connections) without holding anything.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{vxu, VXU};
use imms_core::CodeTables;
use imms_db::testing::{fresh, TestDatabase};
use imms_db::Engine;
use imms_registry::credentials::{hash_password, VerifiedCache};
use imms_registry::http::Hl7Http;
use imms_registry::ingest::Ingestor;
use imms_registry::metrics::Metrics;
use imms_registry::mllp::{frame, serve, Mllp, MllpLimits};
use imms_registry::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Running {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    db: Option<TestDatabase>,
}

impl Running {
    async fn finish(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.db.take().unwrap().drop_database().await;
    }
}

fn limits() -> MllpLimits {
    MllpLimits {
        max_message_bytes: 64 * 1024,
        idle_timeout: Duration::from_millis(2000),
        frame_timeout: Duration::from_millis(400),
        max_connections: 300,
        max_refusals: 3,
    }
}

/// An MLLP server on a random port, with CLINIC-1 (user c1/pw1) and CLINIC-2 (c2/pw2).
async fn start(limits: MllpLimits) -> Running {
    let t = fresh(Engine::Sqlite).await;
    let store = Store::new(t.db.clone());
    for (f, u, p) in [("CLINIC-1", "c1", "pw1"), ("CLINIC-2", "c2", "pw2")] {
        store
            .upsert_facility(f, "Clinic", Utc::now())
            .await
            .unwrap();
        store
            .add_credential(u, f, &hash_password(p), Utc::now())
            .await
            .unwrap();
    }
    let ingestor = Arc::new(Ingestor::new(
        store,
        Arc::new(CodeTables::embedded()),
        "IMMS",
    ));
    let state = Arc::new(Mllp {
        hl7: Arc::new(Hl7Http {
            ingestor,
            metrics: Metrics::default(),
            cache: VerifiedCache::default(),
        }),
        limits,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state, async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        db: Some(t),
    }
}

/// MSH-8 set to a credential.
fn with_credential(message: &str, credential: &str) -> String {
    // MSH|^~\&|APP|FAC|RAPP|RFAC|TIME|SECURITY|...
    let mut fields: Vec<String> = message
        .split('\r')
        .next()
        .unwrap()
        .split('|')
        .map(String::from)
        .collect();
    fields[7] = credential.to_string();
    let rest = message.split_once('\r').map(|x| x.1).unwrap_or("");
    format!("{}\r{rest}", fields.join("|"))
}

/// Reads one framed answer; None when the server closed the connection.
async fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buf.windows(2).position(|w| w == [0x1c, 0x0d]) {
            assert_eq!(buf[0], 0x0b, "an answer starts with the start block");
            let text = String::from_utf8(buf[1..end].to_vec()).unwrap();
            buf.drain(..end + 2);
            return Some(text);
        }
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut chunk))
            .await
            .expect("an answer in time")
            .unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn msa(answer: &str) -> String {
    answer
        .split('\r')
        .find(|s| s.starts_with("MSA|"))
        .and_then(|s| s.split('|').nth(1))
        .unwrap_or("")
        .to_string()
}

/// Waits until the server closes the connection; returns how long it took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut chunk)).await {
            Err(_) => panic!("the server did not close the connection within {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_and_queries_are_answered_in_order_on_one_connection() {
    let r = start(limits()).await;
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    let mut buf = Vec::new();
    let m1 = with_credential(VXU, "c1:pw1");
    let m2 = with_credential(
        &vxu(
            "M-2",
            "MRN-2",
            "Lowe",
            "Dana",
            "20010203",
            &[("M2-1", "20240101", "08")],
        ),
        "c1:pw1",
    );
    // Two frames in one write, with a newline between them as some senders do.
    let mut bytes = frame(&m1);
    bytes.extend_from_slice(b"\n");
    bytes.extend(frame(&m2));
    s.write_all(&bytes).await.unwrap();
    let a1 = read_answer(&mut s, &mut buf).await.unwrap();
    let a2 = read_answer(&mut s, &mut buf).await.unwrap();
    assert_eq!(msa(&a1), "AA", "{a1}");
    assert!(a1.contains("|MSG-0001"), "{a1}");
    assert_eq!(msa(&a2), "AA", "{a2}");
    assert!(a2.contains("|M-2"), "{a2}");
    // A query on the same connection.
    let q = with_credential(
        "MSH|^~\\&|EHR|CLINIC-1|IMMS|IMMS|20240601||QBP^Q11^QBP_Q11|Q-1|P|2.5.1|||ER|AL|||||Z34^CDCPHINVS\rQPD|Z34^Request Immunization History^CDCPHINVS|T1|MRN-2^^^CLINIC-1^MR|Lowe^Dana^^^^^L||20010203|F\rRCP|I|1^RD&Records&HL70126|R\r",
        "c1:pw1",
    );
    s.write_all(&frame(&q)).await.unwrap();
    let rsp = read_answer(&mut s, &mut buf).await.unwrap();
    assert!(rsp.contains("RSP^K11"), "{rsp}");
    assert!(rsp.contains("\rQAK|T1|OK|"), "{rsp}");
    assert!(!rsp.contains("c1:pw1"), "the credential is never echoed");
    // The same message again: the same answer, nothing stored twice.
    s.write_all(&frame(&m1)).await.unwrap();
    let again = read_answer(&mut s, &mut buf).await.unwrap();
    assert_eq!(again, a1);
    drop(s);
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facility_must_be_authenticated() {
    let r = start(limits()).await;
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    let mut buf = Vec::new();
    // No credential.
    s.write_all(&frame(VXU)).await.unwrap();
    let a = read_answer(&mut s, &mut buf).await.unwrap();
    assert_eq!(msa(&a), "AR", "{a}");
    assert!(a.contains("MSH-8"), "{a}");
    assert!(
        a.contains("|MSG-0001"),
        "the message is named by its control id"
    );
    // A forged facility: CLINIC-2's credential, CLINIC-1's MSH-4.
    s.write_all(&frame(&with_credential(VXU, "c2:pw2")))
        .await
        .unwrap();
    let a = read_answer(&mut s, &mut buf).await.unwrap();
    assert_eq!(msa(&a), "AR", "{a}");
    // Wrong passwords: the third refusal closes the connection.
    s.write_all(&frame(&with_credential(VXU, "c1:nope")))
        .await
        .unwrap();
    let a = read_answer(&mut s, &mut buf).await.unwrap();
    assert_eq!(msa(&a), "AR");
    s.write_all(&frame(&with_credential(VXU, "c1:nope")))
        .await
        .unwrap();
    let a = read_answer(&mut s, &mut buf).await.unwrap();
    assert_eq!(msa(&a), "AR");
    assert!(read_answer(&mut s, &mut buf).await.is_none(), "closed");
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_senders_are_cut_off() {
    let r = start(limits()).await;
    // Garbage: closed at once, no answer.
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // At once: well before the idle timeout.
    assert!(closed_within(&mut s, Duration::from_secs(3)).await < Duration::from_millis(1500));
    // A frame that holds no HL7.
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    s.write_all(&frame("hello, world")).await.unwrap();
    closed_within(&mut s, Duration::from_secs(2)).await;
    // A missing end block: closed after the frame timeout.
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    let mut f = frame(&with_credential(VXU, "c1:pw1"));
    f.truncate(f.len() - 2);
    s.write_all(&f).await.unwrap();
    let t = closed_within(&mut s, Duration::from_secs(3)).await;
    assert!(t >= Duration::from_millis(350), "{t:?}");
    // A sender that stalls in the middle of a message.
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    s.write_all(&[0x0b]).await.unwrap();
    s.write_all(b"MSH|^~\\&|EHR").await.unwrap();
    closed_within(&mut s, Duration::from_secs(3)).await;
    // An idle connection.
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    let t = closed_within(&mut s, Duration::from_secs(6)).await;
    assert!(t >= Duration::from_millis(1900), "{t:?}");
    // An oversized message is cut off without being read to its end.
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    let mut big = vec![0x0b];
    big.extend_from_slice(VXU.as_bytes());
    big.extend(std::iter::repeat_n(b'A', 200 * 1024));
    let _ = s.write_all(&big).await;
    closed_within(&mut s, Duration::from_secs(3)).await;
    // The server still answers.
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    s.write_all(&frame(&with_credential(VXU, "c1:pw1")))
        .await
        .unwrap();
    let a = read_answer(&mut s, &mut Vec::new()).await.unwrap();
    assert_eq!(msa(&a), "AA", "{a}");
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_at_once() {
    let r = start(limits()).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let addr = r.addr;
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let m = with_credential(
                &vxu(
                    &format!("C-{i}"),
                    &format!("MRN-{i}"),
                    "Lowe",
                    &format!("Dana{i}"),
                    "20010203",
                    &[(&format!("C{i}-1"), "20240101", "08")],
                ),
                "c1:pw1",
            );
            s.write_all(&frame(&m)).await.unwrap();
            let a = read_answer(&mut s, &mut Vec::new()).await.unwrap();
            msa(&a)
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), "AA");
    }
    // Past the connection limit, new connections are closed at once.
    let mut open = Vec::new();
    for _ in 0..300 {
        open.push(TcpStream::connect(r.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(r.addr).await.unwrap();
    let t = closed_within(&mut extra, Duration::from_secs(3)).await;
    assert!(
        t < Duration::from_millis(1500),
        "closed at once, not by the idle timeout: {t:?}"
    );
    drop(open);
    r.finish().await;
}
