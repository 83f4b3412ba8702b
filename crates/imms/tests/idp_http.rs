//! The identity provider over HTTP against the real binary: the pages a person uses, the
//! OpenID Connect code flow a relying party uses, and the refusals.

mod common;

use std::collections::HashMap;

use base64::Engine as _;
use common::browser::{Browser, Page};
use common::{Server, Site};
use imms_db::Engine;
use sha2::Digest;

const PASSWORD: &str = "violet harbour lantern";
const SSN: &str = "123-45-6789";
const EMAIL: &str = "astrid.lindqvist@example.org";

fn add_account(site: &Site, user: &str, email: &str, kind: &str, stdin: &str, ssn: bool) {
    site.add_account(user, email, kind, stdin, ssn);
}

fn add_client(site: &Site, id: &str, public: bool) -> String {
    let mut args = vec![
        "oidc",
        "client",
        "add",
        "--client-id",
        id,
        "--redirect-uri",
        "http://127.0.0.1:9/cb",
    ];
    if public {
        args.push("--public");
    }
    let (code, out, err) = site.run(&args);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .find_map(|l| l.strip_prefix("client_secret="))
        .unwrap_or("")
        .to_string()
}

async fn metrics_text(http: &reqwest::Client, server: &Server) -> String {
    let r = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// One sample's value in the Prometheus text format (0 when absent).
fn metric(text: &str, sample: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .map(|v| v.trim().parse::<f64>().unwrap() as u64)
        .unwrap_or(0)
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn pkce() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-abcdefghij".to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Authorize, sign in through the page, and return the code.
async fn sign_in_for_code(
    b: &mut Browser,
    client: &str,
    challenge: &str,
    user: &str,
    password: &str,
) -> String {
    let auth = b
        .get(&format!(
            "/idp/authorize?response_type=code&client_id={client}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid%20profile%20email&state=st8&nonce=n0nce&code_challenge={challenge}&code_challenge_method=S256&prompt=login"
        ))
        .await;
    assert_eq!(auth.status, 303, "{}", auth.body);
    let page = b.get(auth.location.as_deref().unwrap()).await;
    let (csrf, req) = (page.field("csrf"), page.field("req"));
    let done = b
        .post(
            "/idp/signin",
            &[
                ("csrf", &csrf),
                ("req", &req),
                ("user_id", user),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let loc = done.location.unwrap();
    assert!(loc.starts_with("http://127.0.0.1:9/cb?"), "{loc}");
    let q = query(&loc);
    assert_eq!(q["state"], "st8");
    assert!(q["iss"].ends_with("/idp"));
    q["code"].clone()
}

async fn token(
    http: &reqwest::Client,
    server: &Server,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, serde_json::Value) {
    let mut r = http.post(server.url("/idp/token")).form(form);
    if let Some((u, p)) = basic {
        r = r.basic_auth(u, Some(p));
    }
    let r = r.send().await.unwrap();
    (
        r.status().as_u16(),
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

fn claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

fn newest_code(site: &Site, to: &str) -> String {
    let mut mails: Vec<_> = std::fs::read_dir(site.path("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            (
                std::fs::metadata(&p).unwrap().modified().unwrap(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .filter(|(_, text)| text.contains(to))
        .collect();
    mails.sort_by_key(|(t, _)| *t);
    let text = &mails.last().expect("a mail").1;
    text.lines()
        .map(str::trim)
        .find(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit()))
        .expect("a code in the mail")
        .to_string()
}

#[tokio::test]
async fn a_person_signs_in_and_a_relying_party_gets_valid_tokens() {
    for engine in imms_db::testing::ENGINES {
        a_person_signs_in_and_a_relying_party_gets_valid_tokens_on(engine).await;
    }
}

async fn a_person_signs_in_and_a_relying_party_gets_valid_tokens_on(engine: Engine) {
    let site = Site::new(engine).await;
    add_account(
        &site,
        "astrid.l",
        EMAIL,
        "citizen",
        &format!("{PASSWORD}\n{SSN}\n"),
        true,
    );
    add_account(
        &site,
        "sam.worker",
        "sam@state.example",
        "worker",
        "a worker's long password\n",
        false,
    );
    let secret = add_client(&site, "portal", false);
    add_client(&site, "mobile", true);
    let server = Server::start(&site);
    let http = reqwest::Client::new();

    let disc: String = http
        .get(server.url("/idp/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let disc: serde_json::Value = serde_json::from_str(&disc).unwrap();
    assert_eq!(disc["issuer"], "http://127.0.0.1:8080/idp");
    assert_eq!(disc["code_challenge_methods_supported"][0], "S256");
    let jwks: String = http
        .get(server.url("/idp/jwks"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let jwks: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "ES256");

    // The sign-in page has the FAQ's words.
    let mut b = Browser::new(&server);
    let page = b.get("/idp/signin").await;
    assert_eq!(page.status, 200);
    for words in [
        ">User ID</label>",
        ">Password</label>",
        ">Sign in</button>",
        ">Sign Up</button>",
        ">Forgot your password?</a>",
    ] {
        assert!(page.body.contains(words), "{words}");
    }
    let es = Browser::new(&server)
        .get_lang("/idp/signin", "es-MX,es;q=0.9")
        .await;
    assert!(es.body.contains("lang=\"es\"") && es.body.contains(">Contraseña</label>"));

    // Code flow with PKCE and client_secret_basic.
    let (verifier, challenge) = pkce();
    let code = sign_in_for_code(&mut b, "portal", &challenge, "astrid.l", PASSWORD).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, tok) = token(&http, &server, &form, Some(("portal", &secret))).await;
    assert_eq!(status, 200, "{tok}");
    let id = claims(tok["id_token"].as_str().unwrap());
    assert_eq!(id["acct_type"], "citizen");
    assert_eq!(id["nonce"], "n0nce");
    assert_eq!(id["aud"], "portal");
    assert_eq!(id["iss"], "http://127.0.0.1:8080/idp");
    let info: String = http
        .get(server.url("/idp/userinfo"))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["acct_type"], "citizen");
    assert_eq!(info["sub"], id["sub"]);
    // The code is single-use, and presenting it again revokes the tokens issued from it
    // (RFC 6749, section 4.1.2): the access token no longer opens userinfo.
    let (status, err) = token(&http, &server, &form, Some(("portal", &secret))).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let r = http
        .get(server.url("/idp/userinfo"))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "revoked after the code's reuse");

    // client_secret_post; bad secret; missing and wrong verifier; wrong redirect URI.
    let code = sign_in_for_code(&mut b, "portal", &challenge, "astrid.l", PASSWORD).await;
    let bad = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("code_verifier", verifier.as_str()),
        ("client_id", "portal"),
        ("client_secret", "nope"),
    ];
    let (status, err) = token(&http, &server, &bad, None).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let post = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("code_verifier", verifier.as_str()),
        ("client_id", "portal"),
        ("client_secret", secret.as_str()),
    ];
    assert_eq!(token(&http, &server, &post, None).await.0, 200);
    let code = sign_in_for_code(&mut b, "mobile", &challenge, "astrid.l", PASSWORD).await;
    let (status, err) = token(
        &http,
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("client_id", "mobile"),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "missing verifier"
    );
    let code = sign_in_for_code(&mut b, "mobile", &challenge, "astrid.l", PASSWORD).await;
    let wrong_verifier = "x".repeat(50);
    let (status, _) = token(
        &http,
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("client_id", "mobile"),
            ("code_verifier", &wrong_verifier),
        ],
        None,
    )
    .await;
    assert_eq!(status, 400, "wrong verifier");
    let code = sign_in_for_code(&mut b, "mobile", &challenge, "astrid.l", PASSWORD).await;
    let (status, _) = token(
        &http,
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("client_id", "mobile"),
            ("code_verifier", &verifier),
        ],
        None,
    )
    .await;
    assert_eq!(status, 400, "redirect URI bound to the code");
    // A public client without PKCE is refused at the authorization endpoint.
    let r = b.get("/idp/authorize?response_type=code&client_id=mobile&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid&state=s").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        query(r.location.as_deref().unwrap())["error"],
        "invalid_request"
    );
    // Unknown client and open redirect: an error page, never a redirect.
    let r = b.get("/idp/authorize?response_type=code&client_id=portal&redirect_uri=https%3A%2F%2Fevil.example%2F&scope=openid").await;
    assert_eq!(r.status, 400);
    assert!(r.location.is_none() && r.body.contains("IDP-OIDC-REDIRECT"));
    let r = b.get("/idp/authorize?response_type=code&client_id=nobody&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid").await;
    assert!(r.status == 400 && r.body.contains("IDP-OIDC-CLIENT"));

    // A worker account says so in its token.
    let code = sign_in_for_code(
        &mut b,
        "mobile",
        &challenge,
        "sam.worker",
        "a worker's long password",
    )
    .await;
    let (_, tok) = token(
        &http,
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("client_id", "mobile"),
            ("code_verifier", &verifier),
        ],
        None,
    )
    .await;
    assert_eq!(
        claims(tok["id_token"].as_str().unwrap())["acct_type"],
        "worker"
    );

    // CSRF: missing and replayed tokens are refused, and nothing happens.
    let page = b.get("/idp/signin").await;
    let csrf = page.field("csrf");
    let r = b
        .post(
            "/idp/signin",
            &[
                ("csrf", "forged"),
                ("user_id", "astrid.l"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(r.status == 403 && r.body.contains("IDP-CSRF"));
    let r = b
        .post(
            "/idp/signin",
            &[
                ("csrf", &csrf),
                ("user_id", "astrid.l"),
                ("password", "wrong but long"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("IDP-SIGNIN-FAILED"));
    let r = b
        .post(
            "/idp/signin",
            &[
                ("csrf", &csrf),
                ("user_id", "astrid.l"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(r.status == 403 && r.body.contains("IDP-CSRF"), "replay");
    // Invalid UTF-8 and missing fields: a clear page.
    let r = b
        .http
        .post(server.url("/idp/signin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'u', b'=', 0xff, 0xfe])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("IDP-BAD-FORM"));

    // Security headers.
    let r = http.get(server.url("/idp/signin")).send().await.unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("HttpOnly"));

    // `imms keys rotate` while the server runs: both keys published, new tokens use the new one.
    let (code_rc, out, _) = site.run(&["keys", "rotate"]);
    assert_eq!(code_rc, 0);
    let new_kid = out.trim().strip_prefix("kid=").unwrap().to_string();
    let jwks: serde_json::Value = serde_json::from_str(
        &http
            .get(server.url("/idp/jwks"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let code = sign_in_for_code(&mut b, "mobile", &challenge, "astrid.l", PASSWORD).await;
    let (_, tok) = token(
        &http,
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("client_id", "mobile"),
            ("code_verifier", &verifier),
        ],
        None,
    )
    .await;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tok["id_token"].as_str().unwrap().split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], new_kid.as_str());
    assert_eq!(header["alg"], "ES256");
    // The shared /metrics counts tokens by client and the revocation; no personal data.
    let metrics = metrics_text(&http, &server).await;
    assert_eq!(
        metric(
            &metrics,
            "imms_idp_tokens_issued_total{client_id=\"portal\"}"
        ),
        2
    );
    assert_eq!(
        metric(
            &metrics,
            "imms_idp_tokens_issued_total{client_id=\"mobile\"}"
        ),
        2
    );
    assert_eq!(metric(&metrics, "imms_idp_tokens_revoked_total"), 1);
    assert_eq!(
        metric(&metrics, "imms_idp_sign_ins_total{outcome=\"ok\"}"),
        7
    );
    assert_eq!(
        metric(&metrics, "imms_idp_sign_ins_total{outcome=\"wrong\"}"),
        1
    );
    for personal in ["astrid", "sam.worker", EMAIL, SSN] {
        assert!(!metrics.contains(personal), "/metrics shows {personal}");
    }
    let log = server.log_text();
    for secret_text in [
        PASSWORD,
        SSN,
        "123456789",
        EMAIL,
        "sam@state.example",
        &secret,
        &code,
    ] {
        assert!(!log.contains(secret_text), "log leaks {secret_text}");
    }
    drop(server);
    site.remove().await;
}

async fn sign_in_page(b: &mut Browser, user: &str, password: &str) -> Page {
    let page = b.get("/idp/signin").await;
    let csrf = page.field("csrf");
    b.post(
        "/idp/signin",
        &[
            ("csrf", &csrf),
            ("req", ""),
            ("user_id", user),
            ("password", password),
        ],
    )
    .await
}

#[tokio::test]
async fn lockout_disabled_accounts_sign_up_and_recovery_over_http() {
    for engine in imms_db::testing::ENGINES {
        lockout_disabled_accounts_sign_up_and_recovery_over_http_on(engine).await;
    }
}

async fn lockout_disabled_accounts_sign_up_and_recovery_over_http_on(engine: Engine) {
    let site = Site::new(engine).await;
    add_account(
        &site,
        "astrid.l",
        EMAIL,
        "citizen",
        &format!("{PASSWORD}\n{SSN}\n"),
        true,
    );
    let server = Server::start(&site);
    let mut b = Browser::new(&server);

    // Five failures lock; the right password is refused while locked; the page says so.
    for _ in 0..4 {
        assert!(sign_in_page(&mut b, "astrid.l", "wrong password!")
            .await
            .body
            .contains("IDP-SIGNIN-FAILED"));
    }
    let locked = sign_in_page(&mut b, "astrid.l", "wrong password!").await;
    assert!(
        locked.body.contains("IDP-LOCKED") && locked.body.contains("30 minutes"),
        "{}",
        locked.body
    );
    assert!(sign_in_page(&mut b, "astrid.l", PASSWORD)
        .await
        .body
        .contains("IDP-LOCKED"));
    // An unknown user ID gets the same answers.
    for _ in 0..4 {
        assert!(sign_in_page(&mut b, "nobody.here", "wrong password!")
            .await
            .body
            .contains("IDP-SIGNIN-FAILED"));
    }
    assert!(sign_in_page(&mut b, "nobody.here", "wrong password!")
        .await
        .body
        .contains("IDP-LOCKED"));
    // Thirty minutes later (the lock's end moved into the past) it opens with no action.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&site.database_url).await.unwrap();
    sqlx::query("UPDATE idp_lockouts SET locked_until = locked_until - 1800")
        .execute(&pool)
        .await
        .unwrap();
    let ok = sign_in_page(&mut b, "astrid.l", PASSWORD).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.location.as_deref(), Some("/idp/account"));
    let settings = b.get("/idp/account").await;
    assert!(settings.body.contains("astrid.l") && settings.body.contains("citizen"));

    // Disabled: the helpline's number.
    assert_eq!(site.run(&["account", "disable", "astrid.l"]).0, 0);
    let d = sign_in_page(&mut b, "astrid.l", PASSWORD).await;
    assert!(
        d.body.contains("IDP-DISABLED") && d.body.contains("1-833-999-2484"),
        "{}",
        d.body
    );
    assert_eq!(b.get("/idp/account").await.status, 303, "sessions ended");
    assert_eq!(site.run(&["account", "enable", "astrid.l"]).0, 0);

    // Sign up with an emailed code; one citizen account per SSN.
    let mut n = Browser::new(&server);
    let page = n.get("/idp/signup").await;
    let csrf = page.field("csrf");
    let r = n
        .post(
            "/idp/signup",
            &[
                ("csrf", &csrf),
                ("req", ""),
                ("user_id", "bo.ng"),
                ("email", "bo@example.org"),
                ("password", "maple river sunrise"),
                ("ssn", "123456789"),
            ],
        )
        .await;
    assert!(
        r.body.contains("IDP-SSN-IN-USE")
            && r.body.contains("already in use")
            && r.body.contains("Forgot your password?"),
        "{}",
        r.body
    );
    let page = n.get("/idp/signup").await;
    let csrf = page.field("csrf");
    let r = n
        .post(
            "/idp/signup",
            &[
                ("csrf", &csrf),
                ("req", ""),
                ("user_id", "bo.ng"),
                ("email", "bo@example.org"),
                ("password", "password1234"),
                ("ssn", "000-11-2222"),
            ],
        )
        .await;
    assert!(r.body.contains("IDP-PW-COMMON") || r.body.contains("IDP-SSN-INVALID"));
    assert!(r.body.contains("IDP-SSN-INVALID"));
    let page = n.get("/idp/signup").await;
    let csrf = page.field("csrf");
    let r = n
        .post(
            "/idp/signup",
            &[
                ("csrf", &csrf),
                ("req", ""),
                ("user_id", "bo.ng"),
                ("email", "bo@example.org"),
                ("password", "maple river sunrise"),
                ("ssn", "234-56-7890"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (csrf, flow) = (r.field("csrf"), r.field("flow"));
    let wrong = n
        .post(
            "/idp/signup/verify",
            &[
                ("csrf", &csrf),
                ("req", ""),
                ("flow", &flow),
                ("code", "00000000"),
            ],
        )
        .await;
    assert!(wrong.body.contains("IDP-CODE-WRONG"));
    let code = newest_code(&site, "bo@example.org");
    let csrf = wrong.field("csrf");
    let r = n
        .post(
            "/idp/signup/verify",
            &[
                ("csrf", &csrf),
                ("req", ""),
                ("flow", &flow),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(site
        .run(&["account", "show", "bo.ng"])
        .1
        .contains("ssn_on_file=true"));

    // Forgot your password?: same answer for unknown IDs; email code; sessions end.
    let mut f = Browser::new(&server);
    let unknown = {
        let p = f.get("/idp/forgot").await;
        let csrf = p.field("csrf");
        f.post(
            "/idp/forgot",
            &[("csrf", &csrf), ("req", ""), ("user_id", "nobody.here")],
        )
        .await
    };
    let p = f.get("/idp/forgot").await;
    let csrf = p.field("csrf");
    let known = f
        .post(
            "/idp/forgot",
            &[("csrf", &csrf), ("req", ""), ("user_id", "astrid.l")],
        )
        .await;
    let strip = |s: &str| {
        s.split('\n')
            .filter(|l| !l.contains("value="))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&unknown.body),
        strip(&known.body),
        "no difference for unknown user IDs"
    );
    let (csrf, flow) = (known.field("csrf"), known.field("flow"));
    let r = f
        .post(
            "/idp/forgot/choose",
            &[
                ("csrf", &csrf),
                ("req", ""),
                ("flow", &flow),
                ("option", "email"),
            ],
        )
        .await;
    let code = newest_code(&site, EMAIL);
    let csrf = r.field("csrf");
    let r = f
        .post(
            "/idp/forgot/verify",
            &[
                ("csrf", &csrf),
                ("req", ""),
                ("flow", &flow),
                ("code", &code),
                ("password", "brand new garden gate"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        b.get("/idp/account").await.status,
        303,
        "the old session ended"
    );
    assert!(sign_in_page(&mut b, "astrid.l", PASSWORD)
        .await
        .body
        .contains("IDP-SIGNIN-FAILED"));
    assert_eq!(
        sign_in_page(&mut b, "astrid.l", "brand new garden gate")
            .await
            .status,
        303
    );

    // The shared /metrics: each lock once, sign-ins by outcome, sign-up, reset, codes.
    let metrics = metrics_text(&reqwest::Client::new(), &server).await;
    for (sample, want) in [
        ("imms_idp_lockouts_total", 2),
        ("imms_idp_sign_ins_total{outcome=\"wrong\"}", 9),
        ("imms_idp_sign_ins_total{outcome=\"locked\"}", 3),
        ("imms_idp_sign_ins_total{outcome=\"disabled\"}", 1),
        ("imms_idp_sign_ins_total{outcome=\"ok\"}", 2),
        ("imms_idp_sign_ups_total", 1),
        ("imms_idp_password_resets_total", 1),
        ("imms_idp_codes_sent_total{purpose=\"signup\"}", 1),
        ("imms_idp_codes_sent_total{purpose=\"reset\"}", 1),
    ] {
        assert_eq!(metric(&metrics, sample), want, "{sample} in {metrics}");
    }
    for personal in ["astrid", "bo.ng", "nobody", EMAIL, "bo@example.org"] {
        assert!(!metrics.contains(personal), "/metrics shows {personal}");
    }

    let log = server.log_text();
    for s in [
        PASSWORD,
        "maple river sunrise",
        "brand new garden gate",
        SSN,
        "234-56-7890",
        EMAIL,
        "bo@example.org",
        &code,
    ] {
        assert!(!log.contains(s), "log leaks {s}");
    }
    drop(server);
    site.remove().await;
}

fn start_with_env(site: &Site, env: &[(&str, &str)]) -> Server {
    Server::start_with_env(site, &[], env)
}

/// (recipients, message text) of every mail received.
type Mails = std::sync::Arc<std::sync::Mutex<Vec<(Vec<String>, String)>>>;

/// A tiny SMTP server on loopback (mailin-embedded) that keeps every message it is given.
#[derive(Clone, Default)]
struct SmtpSink {
    mails: Mails,
    to: Vec<String>,
    data: Vec<u8>,
}

impl mailin_embedded::Handler for SmtpSink {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let text = String::from_utf8_lossy(&self.data).into_owned();
        self.mails
            .lock()
            .unwrap()
            .push((std::mem::take(&mut self.to), text));
        mailin_embedded::response::OK
    }
}

impl SmtpSink {
    /// Listens on a free loopback port; returns the sink and its `smtp://` URL.
    fn start() -> (SmtpSink, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = SmtpSink::default();
        let mut server = mailin_embedded::Server::new(sink.clone());
        server
            .with_name("sink.test")
            .with_ssl(mailin_embedded::SslConfig::None)
            .unwrap()
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            // The error type is not Send: report it here.
            if let Err(e) = server.serve() {
                eprintln!("SMTP sink stopped: {e}");
            }
        });
        (sink, format!("smtp://127.0.0.1:{port}"))
    }

    /// The 8-digit code of the newest mail to `to`, waiting up to 10 s for it.
    async fn code_for(&self, to: &str, nth: usize) -> String {
        for _ in 0..200 {
            let found = {
                let mails = self.mails.lock().unwrap();
                let theirs: Vec<_> = mails
                    .iter()
                    .filter(|(rcpt, _)| rcpt.iter().any(|r| r == to))
                    .collect();
                theirs.get(nth).map(|(_, text)| text.clone())
            };
            if let Some(text) = found {
                return text
                    .lines()
                    .map(str::trim)
                    .find(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit()))
                    .unwrap_or_else(|| panic!("no code in {text}"))
                    .to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no mail number {nth} to {to} reached the SMTP server");
    }
}

#[tokio::test]
async fn sign_up_and_reset_codes_arrive_over_smtp() {
    let (sink, url) = SmtpSink::start();
    let site = Site::new(Engine::Sqlite).await;
    let server = start_with_env(
        &site,
        &[
            ("IMMS_SMTP_URL", url.as_str()),
            ("IMMS_MAIL_FROM", "MiLogin <no-reply@state.example>"),
        ],
    );
    let mut n = Browser::new(&server);
    let page = n.get("/idp/signup").await;
    let r = n
        .post(
            "/idp/signup",
            &[
                ("csrf", &page.field("csrf")),
                ("req", ""),
                ("user_id", "rosa.m"),
                ("email", "rosa@example.org"),
                ("password", "quiet copper meadow"),
                ("ssn", "234-56-7891"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let code = sink.code_for("rosa@example.org", 0).await;
    let done = n
        .post(
            "/idp/signup/verify",
            &[
                ("csrf", &r.field("csrf")),
                ("req", ""),
                ("flow", &r.field("flow")),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(
        done.status, 303,
        "the code from SMTP signs up: {}",
        done.body
    );

    let mut f = Browser::new(&server);
    let p = f.get("/idp/forgot").await;
    let known = f
        .post(
            "/idp/forgot",
            &[
                ("csrf", &p.field("csrf")),
                ("req", ""),
                ("user_id", "rosa.m"),
            ],
        )
        .await;
    let flow = known.field("flow");
    let r = f
        .post(
            "/idp/forgot/choose",
            &[
                ("csrf", &known.field("csrf")),
                ("req", ""),
                ("flow", &flow),
                ("option", "email"),
            ],
        )
        .await;
    let reset_code = sink.code_for("rosa@example.org", 1).await;
    let r = f
        .post(
            "/idp/forgot/verify",
            &[
                ("csrf", &r.field("csrf")),
                ("req", ""),
                ("flow", &flow),
                ("code", &reset_code),
                ("password", "another copper meadow"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        sign_in_page(&mut f, "rosa.m", "another copper meadow")
            .await
            .status,
        303
    );
    {
        let mails = sink.mails.lock().unwrap();
        assert_eq!(mails.len(), 2);
        assert!(mails[0].1.contains("no-reply@state.example"));
        assert!(mails[0].1.contains("Subject: Your MiLogin sign-up code"));
        assert!(mails[1].1.contains("Subject: Reset your MiLogin password"));
    }
    // With SMTP set, nothing is written to the outbox.
    let outbox = site.path("outbox");
    assert!(
        !outbox.exists() || std::fs::read_dir(&outbox).unwrap().next().is_none(),
        "no mail in the outbox when SMTP is set"
    );
    let log = server.log_text();
    for s in [
        "rosa@example.org",
        &code,
        &reset_code,
        "quiet copper meadow",
    ] {
        assert!(!log.contains(s), "log leaks {s}");
    }
    drop(server);
    site.remove().await;
}

#[tokio::test]
async fn relying_party_logout_asks_first_and_returns_only_to_registered_uris() {
    let site = Site::new(Engine::Sqlite).await;
    add_account(
        &site,
        "astrid.l",
        EMAIL,
        "citizen",
        &format!("{PASSWORD}\n{SSN}\n"),
        true,
    );
    let (rc, out, err) = site.run(&[
        "oidc",
        "client",
        "add",
        "--client-id",
        "portal",
        "--redirect-uri",
        "http://127.0.0.1:9/cb",
        "--post-logout-redirect-uri",
        "http://127.0.0.1:9/bye",
    ]);
    assert_eq!(rc, 0, "{err}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret="))
        .unwrap()
        .to_string();
    let server = Server::start(&site);
    let http = reqwest::Client::new();
    let mut b = Browser::new(&server);
    let (verifier, challenge) = pkce();
    let code = sign_in_for_code(&mut b, "portal", &challenge, "astrid.l", PASSWORD).await;
    let (status, tok) = token(
        &http,
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_verifier", &verifier),
        ],
        Some(("portal", &secret)),
    )
    .await;
    assert_eq!(status, 200);
    let hint = tok["id_token"].as_str().unwrap().to_string();
    assert_eq!(b.get("/idp/account").await.status, 200, "signed in");

    // A GET alone (a cross-site link or image) ends nothing: it asks.
    let logout = format!(
        "/idp/logout?id_token_hint={hint}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fbye&state=s1"
    );
    let ask = b.get(&logout).await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(ask.body.contains("Do you want to sign out"));
    assert!(ask.body.contains("action=\"/idp/logout\""));
    assert_eq!(b.get("/idp/account").await.status, 200, "still signed in");
    // Spanish too.
    let es = Browser {
        http: b.http.clone(),
        cookies: b.cookies.clone(),
        base: b.base.clone(),
    }
    .get_lang(&logout, "es")
    .await;
    assert!(es.body.contains("¿Quiere cerrar la sesión"), "{}", es.body);
    // A return address not registered for logout (here the code redirect URI) is refused.
    let r = b
        .get(&format!(
            "/idp/logout?id_token_hint={hint}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb"
        ))
        .await;
    assert!(
        r.status == 400 && r.body.contains("IDP-LOGOUT-REDIRECT"),
        "{}",
        r.body
    );
    let r = b
        .get("/idp/logout?client_id=portal&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F")
        .await;
    assert!(r.status == 400 && r.location.is_none());
    // A forged hint is refused.
    let r = b
        .get("/idp/logout?id_token_hint=eyJhbGciOiJFUzI1NiJ9.e30.AAAA")
        .await;
    assert!(r.status == 400 && r.body.contains("IDP-LOGOUT-HINT"));
    assert_eq!(b.get("/idp/account").await.status, 200, "still signed in");

    // The POST without a valid CSRF token changes nothing.
    let r = b
        .post(
            "/idp/logout",
            &[
                ("csrf", "forged"),
                ("client_id", "portal"),
                ("post_logout_redirect_uri", "http://127.0.0.1:9/bye"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(b.get("/idp/account").await.status, 200, "still signed in");
    // A tampered return address in the form is not followed.
    let ask = b.get(&logout).await;
    let r = b
        .post(
            "/idp/logout",
            &[
                ("csrf", &ask.field("csrf")),
                ("client_id", "portal"),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.location.is_none() && r.body.contains("You are signed out"));
    assert_eq!(b.get("/idp/account").await.status, 303, "signed out");

    // Confirmed: the session ends and the browser goes back to the registered URI.
    let code = sign_in_for_code(&mut b, "portal", &challenge, "astrid.l", PASSWORD).await;
    assert!(!code.is_empty());
    let ask = b.get(&logout).await;
    assert_eq!(
        ask.field("post_logout_redirect_uri"),
        "http://127.0.0.1:9/bye"
    );
    let r = b
        .post(
            "/idp/logout",
            &[
                ("csrf", &ask.field("csrf")),
                ("client_id", &ask.field("client_id")),
                (
                    "post_logout_redirect_uri",
                    &ask.field("post_logout_redirect_uri"),
                ),
                ("state", &ask.field("state")),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some("http://127.0.0.1:9/bye?state=s1")
    );
    assert_eq!(b.get("/idp/account").await.status, 303, "signed out");
    // Signed out already: the GET goes straight back (nothing to confirm).
    let r = b.get(&logout).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some("http://127.0.0.1:9/bye?state=s1")
    );
    drop(server);
    site.remove().await;
}
