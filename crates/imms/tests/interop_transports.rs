//! The three transports through the real binary: `imms hl7 send` over HTTP, MLLP and SOAP
//! (VXU and QBP), the WSDL, an independent SOAP client (Python zeep, generated from our
//! WSDL at run time) with every fault, and MLLP senders that are cut off.

mod common;
mod interop;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{vxu, write, Site};
use imms_db::Engine;
use interop::{qbp, zeep_python, Running};

fn lines(out: &str) -> Vec<&str> {
    out.lines().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hl7_send_speaks_http_mllp_and_soap() {
    let site = Site::new(Engine::Sqlite).await;
    let (user, password) = site.add_org("CLINIC-1");
    let server = Running::start(&site);
    let vxus = format!(
        "{}{}",
        vxu("CLINIC-1", "S-1", "MRN-1", "Quintero", "Rosalind", "19800412"),
        vxu("CLINIC-1", "S-2", "MRN-2", "Lowe", "Dana", "20010203")
    );
    let file = site.path("vxu.hl7");
    write(&file, &vxus);
    let qfile = site.path("qbp.hl7");
    write(
        &qfile,
        &format!(
            "{}{}",
            qbp("CLINIC-1", "Q-1", "MRN-1", "Quintero", "Rosalind", "19800412"),
            qbp("CLINIC-1", "Q-2", "NOPE", "Nobody", "Here", "19990101")
        ),
    );
    let targets = [
        server.url("/hl7/v2"),
        format!("mllp://{}", server.mllp),
        format!("soap+{}", server.url("/hl7/soap")),
    ];
    for to in &targets {
        let (code, out, err) = site.run(&[
            "hl7",
            "send",
            "--to",
            to,
            "--user",
            &user,
            "--password",
            &password,
            file.to_str().unwrap(),
            qfile.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{to}: {out}{err}");
        assert_eq!(
            lines(&out),
            vec![
                "S-1 AA",
                "S-2 AA",
                "Q-1 AA OK",
                "Q-2 AA NF",
                "4 accepted, 0 not accepted"
            ],
            "{to}"
        );
    }
    // Wrong credentials on each transport: refused, said in one line, exit status 1.
    for to in &targets {
        let (code, out, _) = site.run(&[
            "hl7",
            "send",
            "--to",
            to,
            "--user",
            &user,
            "--password",
            "wrong",
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{to}: {out}");
        assert!(out.contains("0 accepted, 2 not accepted"), "{to}: {out}");
    }
    let (code, _, err) = site.run(&["hl7", "send", "--to", "ftp://x", file.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("mllp://HOST:PORT"), "{err}");

    // The WSDL names the service at the public URL.
    let wsdl = reqwest::get(server.url("/hl7/soap?wsdl")).await.unwrap();
    assert_eq!(wsdl.status(), 200);
    let wsdl = wsdl.text().await.unwrap();
    assert!(wsdl.contains("<soap12:address location=\"http://127.0.0.1:8080/hl7/soap\"/>"));
    assert!(wsdl.contains("submitSingleMessage") && wsdl.contains("MessageTooLargeFault"));

    // Each message stored once, whatever the transport.
    let (_, out, _) = site.run(&["person", "show", "--mrn", "CLINIC-1:MRN-1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["immunizations"].as_array().unwrap().len(), 1, "{out}");

    // No personal data in the log.
    let log = server.log_text();
    for word in ["Quintero", "Rosalind", "19800412", "Juniper", &password] {
        assert!(!log.contains(word), "{word} in the log");
    }
    assert!(
        log.contains("transport=\"mllp\"") || log.contains("transport=mllp"),
        "{log}"
    );
    drop(server);
    site.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_soap_client_from_our_wsdl() {
    let python = zeep_python();
    let site = Site::new(Engine::Sqlite).await;
    let (user, password) = site.add_org("CLINIC-1");
    let server = Running::start(&site);
    let v = site.path("v.hl7");
    write(
        &v,
        &vxu(
            "CLINIC-1", "Z-1", "MRN-9", "Quintero", "Rosalind", "19800412",
        ),
    );
    let q = site.path("q.hl7");
    write(
        &q,
        &qbp(
            "CLINIC-1", "ZQ-1", "MRN-9", "Quintero", "Rosalind", "19800412",
        ),
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zeep_client.py");
    let out = std::process::Command::new(python)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .arg(script)
        .args([
            &server.base,
            &user,
            &password,
            "CLINIC-1",
            v.to_str().unwrap(),
            q.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        r["wsdl_operations"],
        serde_json::json!(["connectivityTest", "submitSingleMessage"])
    );
    assert_eq!(r["echo"], "ping");
    let ack = r["vxu"].as_str().unwrap();
    assert!(
        ack.contains("\rMSA|AA|Z-1"),
        "CR segment ends survive XML: {ack:?}"
    );
    assert_eq!(r["vxu_again"], r["vxu"], "a resend gets the same answer");
    let rsp = r["qbp"].as_str().unwrap();
    assert!(
        rsp.contains("RSP^K11") && rsp.contains("\rQAK|T-ZQ-1|OK|"),
        "{rsp:?}"
    );
    assert!(
        rsp.contains("Quintero^Rosalind"),
        "the matched person's own record"
    );
    for (case, detail, code) in [
        ("security", "SecurityFault", "10"),
        ("security_facility", "SecurityFault", "10"),
        ("too_large_message", "MessageTooLargeFault", "30"),
        ("too_large_body", "MessageTooLargeFault", "30"),
        ("unsupported", "UnsupportedOperationFault", "20"),
        ("malformed", "fault", "0"),
        ("xxe", "fault", "0"),
        ("billion_laughs", "fault", "0"),
    ] {
        let f = &r[case];
        assert_eq!(f["detail"], detail, "{case}: {f}");
        assert_eq!(f["detail_code"], code, "{case}: {f}");
        let message = f["message"].as_str().unwrap_or("");
        assert!(!message.is_empty(), "{case}: a reason people can read");
        assert!(!message.contains("root:"), "{case}: no file was read");
    }
    assert!(r["xxe"]["message"].as_str().unwrap().contains("DTD"));
    // Still serving, and stored once.
    let (_, out, _) = site.run(&["person", "show", "--mrn", "CLINIC-1:MRN-9", "--json"]);
    let p: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["immunizations"].as_array().unwrap().len(), 1);
    let log = server.log_text();
    assert!(!log.contains("Quintero") && !log.contains(&password));
    drop(server);
    site.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mllp_cuts_off_garbage_and_answers_others() {
    let site = Site::new(Engine::Sqlite).await;
    let (user, password) = site.add_org("CLINIC-1");
    let server = Running::start(&site);
    // Garbage: closed without an answer.
    let mut s = TcpStream::connect(&server.mllp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello")
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "closed");
    // A sender that never finishes its message holds nothing: others are answered.
    let mut stalled = TcpStream::connect(&server.mllp).unwrap();
    stalled.write_all(b"\x0bMSH|^~\\&|EHR|CLINIC-1|").unwrap();
    let m = imms_registry::mllp::set_security(
        &vxu("CLINIC-1", "G-1", "MRN-G", "Lowe", "Dana", "20010203"),
        &format!("{user}:{password}"),
    );
    let mut c = imms_registry::mllp::MllpClient::connect(&server.mllp, Duration::from_secs(10))
        .await
        .unwrap();
    let ack = c.send(&m).await.unwrap();
    assert!(ack.contains("\rMSA|AA|G-1"), "{ack}");
    drop(stalled);
    drop(server);
    site.remove().await;
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A raw HTTP/1.1 POST of `chunks` × 64 KiB in chunked encoding (no Content-Length);
/// returns the response's start.
fn post_chunked(addr: &str, chunks: usize, first: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST /hl7/soap HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(format!("{:x}\r\n", first.len()).as_bytes());
    let _ = s.write_all(first);
    let _ = s.write_all(b"\r\n");
    let chunk = vec![b'A'; 64 * 1024];
    for _ in 0..chunks {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(15).any(|w| w == b"</soap:Envelope") {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_hostile_soap_bodies_cost_no_memory() {
    let site = Site::new(Engine::Sqlite).await;
    let server = Running::start(&site);
    let addr = server.base.trim_start_matches("http://").to_string();
    let pid = server.child.id();
    // Warm up, then measure.
    let _ = post_chunked(&addr, 1, b"<x/>");
    let before = rss_kib(pid);
    let envelope_start = b"<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body><submitSingleMessage xmlns=\"urn:cdc:iisb:2011\"><hl7Message>";
    for _ in 0..40 {
        // 3 MiB without a Content-Length: cut off at the limit.
        let r = post_chunked(&addr, 48, envelope_start);
        assert!(
            r.contains("MessageTooLargeFault"),
            "{}",
            &r[..r.len().min(400)]
        );
    }
    let lol = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY l0 \"lol\">{}]><s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body><connectivityTest xmlns=\"urn:cdc:iisb:2011\"><echoBack>&l9;</echoBack></connectivityTest></s:Body></s:Envelope>",
        (1..10)
            .map(|i| format!("<!ENTITY l{i} \"{}\">", format!("&l{};", i - 1).repeat(10)))
            .collect::<String>()
    );
    let client = reqwest::Client::new();
    for _ in 0..40 {
        let r = client
            .post(server.url("/hl7/soap"))
            .header("content-type", "application/soap+xml")
            .body(lol.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        let text = r.text().await.unwrap();
        assert!(
            text.contains("<fault xmlns=\"urn:cdc:iisb:2011\">"),
            "{text}"
        );
        assert!(!text.contains("lollol"));
    }
    let after = rss_kib(pid);
    // 120 MiB of oversized bodies and 40 billion-laughs later, the process has not grown by
    // more than a few request buffers.
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    drop(server);
    site.remove().await;
}
