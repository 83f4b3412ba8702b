//! `imms account …`, `imms oidc client add`, `imms keys rotate` against the real binary.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::Site;
use imms_db::Engine;

fn run_stdin(site: &Site, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = site
        .command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run imms");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_helpline_manages_accounts_from_the_command_line() {
    let site = Site::new(Engine::Sqlite).await;
    let (code, out, err) = run_stdin(
        &site,
        &[
            "account",
            "add",
            "--user-id",
            "astrid.l",
            "--email",
            "astrid@example.org",
            "--type",
            "citizen",
            "--password-stdin",
            "--ssn-stdin",
        ],
        "violet harbour lantern\n123-45-6789\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("type=citizen"));
    // One citizen account per SSN; a worker account of the same person is fine.
    let (code, _, err) = run_stdin(
        &site,
        &[
            "account",
            "add",
            "--user-id",
            "other.one",
            "--email",
            "o@example.org",
            "--password-stdin",
            "--ssn-stdin",
        ],
        "another long password\n123456789\n",
    );
    assert_ne!(code, 0);
    assert!(err.contains("IDP-SSN-IN-USE"), "{err}");
    let (code, _, err) = run_stdin(
        &site,
        &[
            "account",
            "add",
            "--user-id",
            "astrid.work",
            "--email",
            "a@state.example",
            "--type",
            "worker",
            "--password-stdin",
            "--ssn-stdin",
        ],
        "another long password\n123456789\n",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_stdin(
        &site,
        &[
            "account",
            "add",
            "--user-id",
            "weak.one",
            "--email",
            "w@example.org",
            "--password-stdin",
        ],
        "password\n",
    );
    assert_ne!(code, 0);
    assert!(err.contains("IDP-PW-SHORT"), "{err}");

    let (code, out, _) = site.run(&["account", "show", "astrid.l"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("disabled=false")
            && out.contains("locked=false")
            && out.contains("ssn_on_file=true"),
        "{out}"
    );
    assert!(!out.contains("astrid@example.org"), "email is masked");
    let (code, _, _) = site.run(&["account", "disable", "astrid.l"]);
    assert_eq!(code, 0);
    assert!(site
        .run(&["account", "show", "astrid.l"])
        .1
        .contains("disabled=true"));
    assert_eq!(site.run(&["account", "enable", "astrid.l"]).0, 0);
    assert_eq!(site.run(&["account", "unlock", "astrid.l"]).0, 0);
    let (code, _, err) = site.run(&["account", "show", "nobody.here"]);
    assert_ne!(code, 0);
    assert!(err.contains("IDP-NO-ACCOUNT"));

    let (code, out, err) = site.run(&[
        "oidc",
        "client",
        "add",
        "--client-id",
        "portal",
        "--redirect-uri",
        "https://portal.example/cb",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out
        .lines()
        .any(|l| l.starts_with("client_secret=") && l.len() > 30));
    let (code, out, _) = site.run(&[
        "oidc",
        "client",
        "add",
        "--client-id",
        "app",
        "--redirect-uri",
        "http://127.0.0.1:9/cb",
        "--public",
    ]);
    assert_eq!(code, 0);
    assert!(!out.contains("client_secret="));
    let (code, _, err) = site.run(&[
        "oidc",
        "client",
        "add",
        "--client-id",
        "bad",
        "--redirect-uri",
        "http://evil.example/cb",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("IDP-CLIENT-INVALID"));

    let (code, out, _) = site.run(&["keys", "rotate"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("kid="));
    let keys = std::fs::read_to_string(site.path("idp-signing-keys.json")).unwrap();
    assert_eq!(keys.matches("\"kid\"").count(), 2, "old key kept");
    // Secrets generated into the data directory.
    assert!(site.path("idp-ssn-pepper.key").exists());
    site.remove().await;
}
