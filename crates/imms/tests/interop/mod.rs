//! The registry's three transports through the real binary: a server whose HTTP and MLLP
//! addresses are both known, and small senders for each transport.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};

use crate::common::Site;

/// A running `imms serve` with its HTTP base URL and MLLP address; killed on drop.
pub struct Running {
    pub child: Child,
    pub base: String,
    pub mllp: String,
    pub log: PathBuf,
}

impl Running {
    pub fn start(site: &Site) -> Running {
        let log = site.dir.path().join(format!(
            "serve-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut child = site
            .command()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("start imms serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut mllp = None;
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("imms MLLP listening at ") {
                        mllp = Some(rest.trim().to_string());
                    }
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
        std::thread::spawn(move || for _ in lines {});
        Running {
            child,
            base,
            mllp: mllp.expect("the MLLP address is printed before the HTTP one"),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Z34 query for a person.
pub fn qbp(
    facility: &str,
    control_id: &str,
    mrn: &str,
    family: &str,
    given: &str,
    dob: &str,
) -> String {
    format!(
        "MSH|^~\\&|EHR|{facility}|IMMS|IMMS|20240601120000||QBP^Q11^QBP_Q11|{control_id}|P|2.5.1|||ER|AL|||||Z34^CDCPHINVS\r\
         QPD|Z34^Request Immunization History^CDCPHINVS|T-{control_id}|{mrn}^^^{facility}^MR|{family}^{given}^^^^^L||{dob}|F\r\
         RCP|I|1^RD&Records&HL70126|R^real-time^HL70394\r"
    )
}

/// The workspace's Python with zeep (made by scripts/test-all).
pub fn zeep_python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv-tools/bin/python");
    assert!(
        python.exists(),
        "the SOAP test drives the service with Python zeep: run scripts/test-all once, or \
         python3 -m venv .venv-tools && .venv-tools/bin/pip install -r requirements-test.txt"
    );
    python
}
