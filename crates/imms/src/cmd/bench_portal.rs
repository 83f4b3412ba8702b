//! `imms bench portal`: the portal's whole flow over HTTP against an in-process server, as
//! people use it. Each simulated person signs in through the built-in identity provider
//! (OpenID Connect over HTTP), then uploads a 12-megapixel photo of their license, sends the
//! search form and fetches the record PDF; the figure is that flow, upload to PDF bytes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use imms_idscan::testgen::aamva::AamvaCard;
use imms_idscan::testgen::people::Person;
use imms_idscan::testgen::photo::{pdf417_symbol, photo_of_symbol, Degradation};
use imms_idscan::{DocumentKind, Sex};
use imms_registry::ingest::Authority;
use rand::SeedableRng;

use crate::cmd::bench::EngineArg;

const FACILITY: &str = "BENCH-CLINIC";
const PASSWORD: &str = "bench password for the portal";
const FAMILY: &[&str] = &[
    "LINDQVIST",
    "HADDAD",
    "OKAFOR",
    "MORENO",
    "NAKAMURA",
    "KOWALSKI",
    "FITZGERALD",
    "OYELARAN",
];
const GIVEN: &[&str] = &[
    "ASTRID", "NOOR", "CHIDI", "LUCIA", "HARU", "JAN", "SIOBHAN", "ADE",
];

/// One simulated person: who they are and the photo of their license.
struct Visitor {
    user_id: String,
    photo: Vec<u8>,
    street: String,
    zip: String,
}

fn person(i: usize) -> Person {
    Person {
        family: FAMILY[i % FAMILY.len()].into(),
        first: GIVEN[(i / FAMILY.len()) % GIVEN.len()].into(),
        middle: None,
        suffix: None,
        birth: NaiveDate::from_ymd_opt(
            1950 + (i % 50) as i32,
            1 + (i % 12) as u32,
            1 + (i % 28) as u32,
        )
        .expect("a date"),
        expiry: NaiveDate::from_ymd_opt(2035, 1, 1).expect("a date"),
        sex: Sex::Female,
        street: format!("{} JUNIPER WAY", 10 + i),
        city: "HOLLAND".into(),
        zip: "49423".into(),
    }
}

fn vxu(i: usize, p: &Person) -> String {
    format!(
        "MSH|^~\\&|EHR|{FACILITY}|IMMS|IMMS|20240115083000||VXU^V04^VXU_V04|B-{i}|P|2.5.1\r\
         PID|1||MRN-{i}^^^{FACILITY}^MR||{}^{}^^^^^L||{}|F|||{}^^{}^MI^{}^USA^H\r\
         ORC|RE||B-{i}-1^{FACILITY}\r\
         RXA|0|1|20240110||141^Influenza^CVX|0.5|mL^mL^UCUM||00^New^NIP001|||||||||||CP|A\r",
        p.family,
        p.first,
        p.birth.format("%Y%m%d"),
        p.street,
        p.city,
        p.zip
    )
}

fn photo(p: &Person, width: u32) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(p.birth.to_string().len() as u64);
    let card = AamvaCard {
        person: p.clone(),
        version: 10,
        state: "MI",
        iin: "636032",
        canadian: false,
        kind: DocumentKind::DriverLicense,
        v01_full_name: false,
    };
    photo_of_symbol(
        &pdf417_symbol(&card.payload()),
        &Degradation::clean(width),
        &mut rng,
    )
}

/// A browser without JavaScript: cookies kept, redirects followed by hand.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    /// The person's own address, as the load balancer reports it: the portal's limits are
    /// per person and per address, and eight people are not one address.
    forwarded_for: String,
}

struct Page {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

impl Page {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }

    fn field(&self, name: &str) -> anyhow::Result<String> {
        let pat = format!("name=\"{name}\" value=\"");
        let text = self.text();
        let start = text
            .find(&pat)
            .with_context(|| format!("no field {name}"))?
            + pat.len();
        let end = text[start..].find('"').context("unterminated value")? + start;
        Ok(text[start..end].replace("&#43;", "+"))
    }
}

impl Browser {
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> anyhow::Result<Page> {
        let r = req
            .header("cookie", self.cookie_header())
            .header("x-forwarded-for", &self.forwarded_for)
            .send()
            .await?;
        for v in r.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap_or("");
            let kv = s.split(';').next().unwrap_or("");
            if let Some((k, v)) = kv.split_once('=') {
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        Ok(Page {
            status,
            location,
            body: r.bytes().await?.to_vec(),
        })
    }

    async fn get(&mut self, path: &str) -> anyhow::Result<Page> {
        let req = self.http.get(self.url(path));
        let mut page = self.send(req).await?;
        for _ in 0..10 {
            match (page.status, page.location.clone()) {
                (301..=308, Some(to)) => {
                    let req = self.http.get(self.url(&to));
                    page = self.send(req).await?;
                }
                _ => break,
            }
        }
        Ok(page)
    }

    async fn sign_in(&mut self, user: &str) -> anyhow::Result<()> {
        let form = self.get("/signin").await?;
        let (csrf, req) = (form.field("csrf")?, form.field("req")?);
        let post = self.http.post(self.url("/idp/signin")).form(&[
            ("csrf", csrf.as_str()),
            ("req", req.as_str()),
            ("user_id", user),
            ("password", PASSWORD),
        ]);
        let done = self.send(post).await?;
        let to = done.location.context("the sign-in did not redirect")?;
        let landed = self.get(&to).await?;
        if !landed.text().contains("name=\"photo\"") {
            bail!("signed in but not on the upload page ({})", landed.status);
        }
        Ok(())
    }

    /// Upload → search → record: the PDF's size.
    async fn flow(&mut self, v: &Visitor) -> anyhow::Result<usize> {
        let page = self.get("/upload").await?;
        let csrf = page.field("csrf")?;
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .part(
                "photo",
                reqwest::multipart::Part::bytes(v.photo.clone())
                    .file_name("id.jpg")
                    .mime_str("image/jpeg")?,
            );
        let req = self.http.post(self.url("/upload")).multipart(form);
        let search = self.send(req).await?;
        if search.status != 200 {
            bail!("upload answered {}", search.status);
        }
        let identity = search.field("identity")?;
        let req = self.http.post(self.url("/search")).form(&[
            ("csrf", csrf.as_str()),
            ("identity", identity.as_str()),
            ("street", v.street.as_str()),
            ("city", "HOLLAND"),
            ("state", "MI"),
            ("zip", v.zip.as_str()),
        ]);
        let found = self.send(req).await?;
        let text = found.text();
        let start = text.find("href=\"/record/").context("no record found")? + 6;
        let end = text[start..].find('"').context("bad link")? + start;
        let link = text[start..end].to_string();
        let pdf = self.get(&link).await?;
        if !pdf.body.starts_with(b"%PDF-") {
            bail!("the record is not a PDF ({})", pdf.status);
        }
        Ok(pdf.body.len())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub async fn run(
    users: usize,
    flows: usize,
    width: u32,
    engine: EngineArg,
) -> anyhow::Result<std::process::ExitCode> {
    let (url, cleanup) = imms_db::testing::fresh_url(engine.into()).await;
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut config = crate::config::Config::load(None)?;
    config.data_dir = dir.path().to_path_buf();
    config.database_url = url;
    config.http_addr = addr.to_string();
    config.public_url = format!("http://{addr}");
    config.trusted_proxies = vec!["127.0.0.1/32".into()];
    let app = Arc::new(crate::app::App::open(config).await?);
    app.store()
        .upsert_facility(FACILITY, "Bench clinic", Utc::now())
        .await?;
    eprintln!("making {users} people: registry records, accounts and {width}-pixel license photos");
    let idp = crate::cmd::account::init_served(&app)?;
    let mut visitors = Vec::new();
    for i in 0..users {
        let p = person(i);
        let ack = app
            .ingestor
            .process(&vxu(i, &p), Authority::Facility(FACILITY))
            .await?;
        if ack.code.code() != "AA" {
            bail!("the bench's VXU was not accepted: {}", ack.code.code());
        }
        let user_id = format!("bench.user{i}");
        idp.add_account(&imms_idp::AddAccount {
            user_id: &user_id,
            email: &format!("bench{i}@example.org"),
            acct_type: imms_idp::AcctType::Citizen,
            password: PASSWORD,
            ssn: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        visitors.push(Visitor {
            user_id,
            photo: photo(&p, width),
            street: p.street.clone(),
            zip: p.zip.clone(),
        });
    }
    let photo_mb = visitors.first().map_or(0.0, |v| v.photo.len() as f64 / 1e6);
    let parts = crate::serve::open_parts(&app).await?;
    let router = crate::serve::router(
        app.clone(),
        imms_registry::metrics::Metrics::default(),
        parts,
    );
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    let rss_before = peak_rss_mb();

    // Sign everyone in first: the figure is the flow, not argon2.
    let mut browsers = Vec::new();
    for v in &visitors {
        let mut b = Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base: format!("http://{addr}"),
            cookies: HashMap::new(),
            // TEST-NET-2 (RFC 5737): no country, so allowed.
            forwarded_for: format!("198.51.100.{}", 1 + browsers.len() % 250),
        };
        b.sign_in(&v.user_id).await?;
        browsers.push(b);
    }
    let visitors = Arc::new(visitors);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (k, mut b) in browsers.into_iter().enumerate() {
        let (visitors, next) = (visitors.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut bytes = 0usize;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < flows {
                let t = Instant::now();
                bytes = b.flow(&visitors[k]).await?;
                times.push(t.elapsed());
            }
            anyhow::Ok((times, bytes))
        }));
    }
    let mut times = Vec::new();
    let mut pdf_bytes = 0;
    for t in tasks {
        let (mut t, bytes) = t.await??;
        times.append(&mut t);
        pdf_bytes = pdf_bytes.max(bytes);
    }
    let wall = started.elapsed();
    times.sort();
    println!(
        "portal flow (upload {photo_mb:.1} MB {width}x{} photo -> search -> PDF {} KB), {users} concurrent people, {} flows, {}:",
        width * 3 / 4,
        pdf_bytes / 1024,
        times.len(),
        match engine {
            EngineArg::Sqlite => "SQLite",
            EngineArg::Postgres => "PostgreSQL",
        }
    );
    println!(
        "  p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; {:.2} flows/s sustained",
        percentile(&times, 0.50),
        percentile(&times, 0.95),
        percentile(&times, 1.0),
        times.len() as f64 / wall.as_secs_f64()
    );
    println!(
        "  peak resident memory of the whole process {:.0} MB ({:.0} MB before the flows, with the photos held by the bench)",
        peak_rss_mb(),
        rss_before
    );
    server.abort();
    app.store().database().close().await;
    cleanup.remove().await;
    Ok(std::process::ExitCode::SUCCESS)
}
