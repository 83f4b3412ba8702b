//! The router in-process with a fake clock: expiry of codes, one-time codes, sessions
//! (max_age), the lock lifting after 30 minutes, and the second factor (TOTP, and the
//! email code as the fallback) — no waiting.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use imms_idp::{AcctType, AddAccount, FakeClock, Idp, IdpSettings};
use sha2::Digest;
use tower::ServiceExt;

const T0: i64 = 1_800_000_000;
const PASSWORD: &str = "violet harbour lantern";
const REDIRECT: &str = "https://rp.example/cb";

struct World {
    idp: Arc<Idp>,
    router: Router,
    clock: FakeClock,
    cookies: HashMap<String, String>,
    secret: String,
    _dir: tempfile::TempDir,
    _db: imms_db::testing::TestDatabase,
}

struct Resp {
    status: StatusCode,
    location: String,
    body: String,
}

impl Resp {
    fn field(&self, name: &str) -> String {
        let pat = format!("name=\"{name}\" value=\"");
        let s = self
            .body
            .find(&pat)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + pat.len();
        self.body[s..s + self.body[s..].find('"').unwrap()].to_string()
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl World {
    async fn new() -> World {
        let t = imms_db::testing::fresh(imms_db::Engine::Sqlite).await;
        let dir = tempfile::tempdir().unwrap();
        let clock = FakeClock::at(T0);
        let settings = IdpSettings::new(dir.path().to_path_buf(), "https://id.example");
        let idp = Arc::new(Idp::open(settings, t.db.clone(), Arc::new(clock.clone())).unwrap());
        idp.add_account(&AddAccount {
            user_id: "astrid.l",
            email: "astrid@example.org",
            acct_type: AcctType::Citizen,
            password: PASSWORD,
            ssn: Some("123-45-6789"),
        })
        .await
        .unwrap();
        let secret = idp
            .add_client("rp", &[REDIRECT.to_string()], false)
            .await
            .unwrap()
            .unwrap()
            .to_string();
        World {
            router: imms_idp::router(idp.clone()),
            idp,
            clock,
            cookies: HashMap::new(),
            secret,
            _dir: dir,
            _db: t,
        }
    }

    async fn call(
        &mut self,
        method: &str,
        uri: &str,
        form: Option<&[(&str, &str)]>,
        auth: Option<String>,
    ) -> Resp {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("cookie", cookie);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let body = match form {
            Some(f) => {
                req = req.header("content-type", "application/x-www-form-urlencoded");
                Body::from(
                    f.iter()
                        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                        .collect::<Vec<_>>()
                        .join("&"),
                )
            }
            None => Body::empty(),
        };
        let resp = self
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        for v in resp.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap();
            let kv = s.split(';').next().unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        Resp {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn sign_in(&mut self, req: &str, password: &str) -> Resp {
        let page = self
            .call("GET", &format!("/idp/signin?req={req}"), None, None)
            .await;
        let csrf = page.field("csrf");
        self.call(
            "POST",
            "/idp/signin",
            Some(&[
                ("csrf", &csrf),
                ("req", req),
                ("user_id", "astrid.l"),
                ("password", password),
            ]),
            None,
        )
        .await
    }

    fn authorize_uri(&self, extra: &str) -> String {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
        format!(
            "/idp/authorize?response_type=code&client_id=rp&redirect_uri={}&scope=openid&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256{extra}",
            enc(REDIRECT)
        )
    }

    async fn token(&mut self, code: &str) -> Resp {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("rp:{}", self.secret))
        );
        self.call(
            "POST",
            "/idp/token",
            Some(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ]),
            Some(basic),
        )
        .await
    }

    fn outbox_code(&self) -> String {
        let mut mails: Vec<_> = std::fs::read_dir(self._dir.path().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .map(|p| {
                (
                    std::fs::metadata(&p).unwrap().modified().unwrap(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        mails.sort_by_key(|m| m.0);
        let text = &mails.last().expect("a mail").1;
        text.lines()
            .map(str::trim)
            .find(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit()))
            .unwrap()
            .to_string()
    }
}

const VERIFIER: &str = "a-verifier-that-is-long-enough-for-pkce-rules-0123456789";

fn code_of(location: &str) -> String {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn codes_expire_sessions_honour_max_age_and_prompt_login() {
    let mut w = World::new().await;
    let r = w.call("GET", &w.authorize_uri(""), None, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let req = r
        .location
        .split("req=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let r = w.sign_in(&req, PASSWORD).await;
    assert!(r.location.starts_with(REDIRECT), "{}", r.location);
    let code = code_of(&r.location);
    // Sixty-one seconds later the code has expired.
    w.clock.advance(61);
    let t = w.token(&code).await;
    assert_eq!(t.status, StatusCode::BAD_REQUEST);
    assert!(
        t.body.contains("invalid_grant") && t.body.contains("expired"),
        "{}",
        t.body
    );

    // The session answers at once, with a fresh code that works.
    let r = w.call("GET", &w.authorize_uri(""), None, None).await;
    assert!(
        r.location.starts_with(REDIRECT),
        "session reused: {}",
        r.location
    );
    let t = w.token(&code_of(&r.location)).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    // max_age shorter than the session's age, or prompt=login: sign in again.
    w.clock.advance(600);
    let r = w
        .call("GET", &w.authorize_uri("&max_age=300"), None, None)
        .await;
    assert!(r.location.starts_with("/idp/signin?req="), "{}", r.location);
    let r = w
        .call("GET", &w.authorize_uri("&max_age=3600"), None, None)
        .await;
    assert!(r.location.starts_with(REDIRECT));
    let r = w
        .call("GET", &w.authorize_uri("&prompt=login"), None, None)
        .await;
    assert!(r.location.starts_with("/idp/signin?req="));
    // prompt=none without a session: login_required back to the client.
    w.cookies.remove("idp_session");
    let r = w
        .call("GET", &w.authorize_uri("&prompt=none"), None, None)
        .await;
    assert!(r.location.starts_with(REDIRECT) && r.location.contains("error=login_required"));
    // Eight hours on, the session has ended by itself.
    let _ = w.sign_in("", PASSWORD).await;
    w.clock.advance(8 * 3600 + 1);
    let r = w.call("GET", "/idp/account", None, None).await;
    assert_eq!(r.location, "/idp/signin");
}

#[tokio::test]
async fn the_lock_lifts_by_itself_after_thirty_minutes() {
    let mut w = World::new().await;
    for _ in 0..4 {
        assert!(w
            .sign_in("", "wrong password!")
            .await
            .body
            .contains("IDP-SIGNIN-FAILED"));
    }
    assert!(w
        .sign_in("", "wrong password!")
        .await
        .body
        .contains("IDP-LOCKED"));
    w.clock.advance(29 * 60);
    assert!(w.sign_in("", PASSWORD).await.body.contains("IDP-LOCKED"));
    w.clock.advance(60);
    assert_eq!(w.sign_in("", PASSWORD).await.location, "/idp/account");
}

#[tokio::test]
async fn one_time_codes_expire_after_fifteen_minutes_and_allow_five_tries() {
    let mut w = World::new().await;
    let p = w.call("GET", "/idp/forgot", None, None).await;
    let r = w
        .call(
            "POST",
            "/idp/forgot",
            Some(&[("csrf", &p.field("csrf")), ("user_id", "astrid.l")]),
            None,
        )
        .await;
    let flow = r.field("flow");
    let r = w
        .call(
            "POST",
            "/idp/forgot/choose",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("flow", &flow),
                ("option", "email"),
            ]),
            None,
        )
        .await;
    let code = w.outbox_code();
    w.clock.advance(15 * 60 + 1);
    let r = w
        .call(
            "POST",
            "/idp/forgot/verify",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("flow", &flow),
                ("code", &code),
                ("password", "brand new garden gate"),
            ]),
            None,
        )
        .await;
    assert!(
        r.body.contains("IDP-FLOW-EXPIRED") || r.body.contains("IDP-CODE-WRONG"),
        "{}",
        r.body
    );

    // A new flow: four wrong codes, then the right one still works; after five wrong, no more.
    let p = w.call("GET", "/idp/forgot", None, None).await;
    let r = w
        .call(
            "POST",
            "/idp/forgot",
            Some(&[("csrf", &p.field("csrf")), ("user_id", "astrid.l")]),
            None,
        )
        .await;
    let flow = r.field("flow");
    let mut r = w
        .call(
            "POST",
            "/idp/forgot/choose",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("flow", &flow),
                ("option", "email"),
            ]),
            None,
        )
        .await;
    let code = w.outbox_code();
    for _ in 0..5 {
        r = w
            .call(
                "POST",
                "/idp/forgot/verify",
                Some(&[
                    ("csrf", &r.field("csrf")),
                    ("flow", &flow),
                    ("code", "12345678"),
                    ("password", "brand new garden gate"),
                ]),
                None,
            )
            .await;
        assert!(r.body.contains("IDP-CODE-WRONG"));
    }
    let r = w
        .call(
            "POST",
            "/idp/forgot/verify",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("flow", &flow),
                ("code", &code),
                ("password", "brand new garden gate"),
            ]),
            None,
        )
        .await;
    assert!(r.body.contains("IDP-CODE-WRONG"), "no sixth try");
    assert_eq!(
        w.sign_in("", PASSWORD).await.location,
        "/idp/account",
        "password unchanged"
    );
}

fn totp_now(secret_b32: &str, t: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some("MiLogin".into()),
        "astrid.l".into(),
    )
    .unwrap()
    .generate(t as u64)
}

#[tokio::test]
async fn second_factor_with_an_authenticator_app_or_an_emailed_code() {
    let mut w = World::new().await;
    assert_eq!(w.sign_in("", PASSWORD).await.location, "/idp/account");
    let page = w.call("GET", "/idp/account", None, None).await;
    assert!(
        page.body.contains("src=\"data:image/png;base64,"),
        "a QR code for the phone"
    );
    let secret = page
        .body
        .split("<code class=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let flow = page.field("flow");
    let csrf = page.field("csrf");
    let r = w
        .call(
            "POST",
            "/idp/account/totp",
            Some(&[("csrf", &csrf), ("flow", &flow), ("code", "000000")]),
            None,
        )
        .await;
    assert!(r.body.contains("IDP-CODE-WRONG"));
    let code = totp_now(&secret, w.clock_now());
    let r = w
        .call(
            "POST",
            "/idp/account/totp",
            Some(&[("csrf", &r.field("csrf")), ("flow", &flow), ("code", &code)]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(w
        .idp
        .account("astrid.l")
        .await
        .unwrap()
        .totp_secret
        .is_some());

    // Now sign-in asks for the second step.
    w.cookies.remove("idp_session");
    let r = w.sign_in("", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("action=\"/idp/mfa\""));
    let flow = r.field("flow");
    let r = w
        .call(
            "POST",
            "/idp/mfa",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("flow", &flow),
                ("code", "000000"),
                ("action", "verify"),
            ]),
            None,
        )
        .await;
    assert!(r.body.contains("IDP-CODE-WRONG"));
    w.clock.advance(30);
    let code = totp_now(&secret, w.clock_now());
    let r = w
        .call(
            "POST",
            "/idp/mfa",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("flow", &flow),
                ("code", &code),
                ("action", "verify"),
            ]),
            None,
        )
        .await;
    assert_eq!(r.location, "/idp/account");

    // The same code cannot be used twice (RFC 6238, 5.2).
    w.cookies.remove("idp_session");
    let r = w.sign_in("", PASSWORD).await;
    let flow2 = r.field("flow");
    let r = w
        .call(
            "POST",
            "/idp/mfa",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("flow", &flow2),
                ("code", &code),
                ("action", "verify"),
            ]),
            None,
        )
        .await;
    assert!(
        r.body.contains("IDP-CODE-WRONG"),
        "replayed TOTP code refused"
    );
    // The email fallback.
    w.cookies.remove("idp_session");
    let r = w.sign_in("", PASSWORD).await;
    let flow = r.field("flow");
    let r = w
        .call(
            "POST",
            "/idp/mfa",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("flow", &flow),
                ("code", ""),
                ("action", "email"),
            ]),
            None,
        )
        .await;
    let code = w.outbox_code();
    let r = w
        .call(
            "POST",
            "/idp/mfa",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("flow", &flow),
                ("code", &code),
                ("action", "verify"),
            ]),
            None,
        )
        .await;
    assert_eq!(r.location, "/idp/account");
    // A flow is single-use.
    let page = w.call("GET", "/idp/signin", None, None).await;
    let r = w
        .call(
            "POST",
            "/idp/mfa",
            Some(&[
                ("csrf", &page.field("csrf")),
                ("flow", &flow),
                ("code", &code),
                ("action", "verify"),
            ]),
            None,
        )
        .await;
    assert!(r.body.contains("IDP-FLOW-EXPIRED"));
}

impl World {
    fn clock_now(&self) -> i64 {
        use imms_idp::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn unknown_user_ids_take_as_long_and_read_the_same() {
    let mut w = World::new().await;
    let (mut known, mut unknown) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    // One warm-up of each, then interleaved rounds in alternating order, so both see the same
    // machine; the known account gets the right password between rounds to stay clear of
    // the lockout.
    for i in 0..7 {
        let mut pair = vec![];
        for who in if i % 2 == 0 {
            ["astrid.l", "nobody.here"]
        } else {
            ["nobody.here", "astrid.l"]
        } {
            let page = w.call("GET", "/idp/signin", None, None).await;
            let user = if who == "nobody.here" {
                format!("nobody{i}")
            } else {
                who.to_string()
            };
            let t = std::time::Instant::now();
            let r = w
                .call(
                    "POST",
                    "/idp/signin",
                    Some(&[
                        ("csrf", &page.field("csrf")),
                        ("user_id", &user),
                        ("password", "wrong password"),
                    ]),
                    None,
                )
                .await;
            if i > 0 {
                if who == "astrid.l" {
                    known += t.elapsed();
                } else {
                    unknown += t.elapsed();
                }
            }
            pair.push(r);
        }
        assert_eq!(pair[0].status, pair[1].status);
        let text = |r: &Resp| {
            r.body
                .split("<div class=\"error\"")
                .nth(1)
                .unwrap()
                .split("</div>")
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(text(&pair[0]), text(&pair[1]));
        w.sign_in("", PASSWORD).await;
        w.cookies.remove("idp_session");
    }
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    eprintln!("unknown/known sign-in time: {ratio:.2}");
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown/known time ratio {ratio:.2}"
    );
}

#[tokio::test]
async fn over_long_fields_and_bad_forms_get_a_clear_page_and_change_nothing() {
    let mut w = World::new().await;
    let page = w.call("GET", "/idp/signin", None, None).await;
    let long = "x".repeat(5000);
    let r = w
        .call(
            "POST",
            "/idp/signin",
            Some(&[
                ("csrf", &page.field("csrf")),
                ("user_id", "astrid.l"),
                ("password", &long),
            ]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("IDP-TOO-LONG"));
    let a = w.idp.account("astrid.l").await.unwrap();
    assert_eq!(
        w.idp
            .store
            .lock_state(&a.lock_key())
            .await
            .unwrap()
            .failed_count,
        0,
        "no guess spent"
    );
    // Bodies over 16 KiB, missing fields, unknown pages.
    let huge = "y".repeat(20_000);
    let r = w
        .call(
            "POST",
            "/idp/signin",
            Some(&[("csrf", "x"), ("user_id", &huge), ("password", "p")]),
            None,
        )
        .await;
    assert!(
        r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        r.status
    );
    let r = w
        .call(
            "POST",
            "/idp/signin",
            Some(&[("user_id", "astrid.l")]),
            None,
        )
        .await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("IDP-BAD-FORM"));
    let r = w.call("GET", "/idp/nothing-here", None, None).await;
    assert!(r.status == StatusCode::NOT_FOUND && r.body.contains("IDP-NOT-FOUND"));
    // Paths outside /idp are not ours (the site's other components and fallback answer them).
    let r = w.call("GET", "/favicon.ico", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("IDP-"));
    // Sign-up with a 300-character user ID and a bad email: refused, no account, no mail.
    let page = w.call("GET", "/idp/signup", None, None).await;
    let r = w
        .call(
            "POST",
            "/idp/signup",
            Some(&[
                ("csrf", &page.field("csrf")),
                ("user_id", &"u".repeat(300)),
                ("email", "not an email"),
                ("password", "maple river sunrise"),
                ("ssn", "234-56-7890"),
            ]),
            None,
        )
        .await;
    assert!(r.body.contains("IDP-USERID-INVALID") && r.body.contains("IDP-EMAIL-INVALID"));
    assert!(!w
        ._dir
        .path()
        .join("outbox")
        .read_dir()
        .unwrap()
        .any(|_| true));
}

#[tokio::test]
async fn settings_change_the_password_and_end_other_sessions() {
    let mut w = World::new().await;
    assert_eq!(w.sign_in("", PASSWORD).await.location, "/idp/account");
    let other_session = w.cookies.get("idp_session").cloned().unwrap();
    w.cookies.remove("idp_session");
    assert_eq!(w.sign_in("", PASSWORD).await.location, "/idp/account");
    let page = w.call("GET", "/idp/account", None, None).await;
    let r = w
        .call(
            "POST",
            "/idp/account/password",
            Some(&[
                ("csrf", &page.field("csrf")),
                ("current", "not it at all"),
                ("password", "brand new garden gate"),
            ]),
            None,
        )
        .await;
    assert!(r.body.contains("IDP-SIGNIN-FAILED"));
    let r = w
        .call(
            "POST",
            "/idp/account/password",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("current", PASSWORD),
                ("password", "password1234"),
            ]),
            None,
        )
        .await;
    assert!(r.body.contains("IDP-PW-COMMON"));
    let r = w
        .call(
            "POST",
            "/idp/account/password",
            Some(&[
                ("csrf", &r.field("csrf")),
                ("current", PASSWORD),
                ("password", "brand new garden gate"),
            ]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Your password has been changed."));
    // This browser keeps a (new) session; the other one has ended.
    assert_eq!(
        w.call("GET", "/idp/account", None, None).await.status,
        StatusCode::OK
    );
    w.cookies.insert("idp_session".into(), other_session);
    assert_eq!(
        w.call("GET", "/idp/account", None, None).await.location,
        "/idp/signin"
    );
    assert_eq!(
        w.sign_in("", "brand new garden gate").await.location,
        "/idp/account"
    );
}

#[tokio::test]
async fn cookies_are_secure_and_posts_are_rate_limited() {
    let t = imms_db::testing::fresh(imms_db::Engine::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = IdpSettings::new(dir.path().to_path_buf(), "https://id.example");
    settings.rate_limit_per_minute = 3;
    let idp = Arc::new(Idp::open(settings, t.db.clone(), Arc::new(FakeClock::at(T0))).unwrap());
    let router = imms_idp::router(idp);
    let get = Request::builder()
        .uri("/idp/signin")
        .body(Body::empty())
        .unwrap();
    let r = router.clone().oneshot(get).await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("; Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(r.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let mut statuses = vec![];
    for _ in 0..4 {
        let post = Request::builder()
            .method("POST")
            .uri("/idp/signin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("csrf=x&user_id=a&password=b"))
            .unwrap();
        statuses.push(
            router
                .clone()
                .oneshot(post)
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![403, 403, 403, 429]);
    t.drop_database().await;
}

#[tokio::test]
async fn at_most_five_emailed_codes_per_account_per_hour() {
    let mut w = World::new().await;
    let outbox = w._dir.path().join("outbox");
    let mails = || std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0);
    for i in 0..7 {
        let p = w.call("GET", "/idp/forgot", None, None).await;
        let r = w
            .call(
                "POST",
                "/idp/forgot",
                Some(&[("csrf", &p.field("csrf")), ("user_id", "astrid.l")]),
                None,
            )
            .await;
        let flow = r.field("flow");
        let r = w
            .call(
                "POST",
                "/idp/forgot/choose",
                Some(&[
                    ("csrf", &r.field("csrf")),
                    ("flow", &flow),
                    ("option", "email"),
                ]),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "the same answer every time");
        assert_eq!(mails(), (i + 1).min(5));
    }
    w.clock.advance(3601);
    let p = w.call("GET", "/idp/forgot", None, None).await;
    let r = w
        .call(
            "POST",
            "/idp/forgot",
            Some(&[("csrf", &p.field("csrf")), ("user_id", "astrid.l")]),
            None,
        )
        .await;
    let flow = r.field("flow");
    w.call(
        "POST",
        "/idp/forgot/choose",
        Some(&[
            ("csrf", &r.field("csrf")),
            ("flow", &flow),
            ("option", "email"),
        ]),
        None,
    )
    .await;
    assert_eq!(mails(), 6, "an hour later, codes are sent again");
}

#[tokio::test]
async fn the_disabled_page_gives_the_configured_helpline() {
    let t = imms_db::testing::fresh(imms_db::Engine::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = IdpSettings::new(dir.path().to_path_buf(), "http://127.0.0.1:8080");
    settings.helpline = "1-800-555-0199".into();
    let idp = Arc::new(Idp::open(settings, t.db.clone(), Arc::new(FakeClock::at(T0))).unwrap());
    idp.add_account(&AddAccount {
        user_id: "off.line",
        email: "off@example.org",
        acct_type: AcctType::Employee,
        password: PASSWORD,
        ssn: None,
    })
    .await
    .unwrap();
    idp.set_disabled("off.line", true).await.unwrap();
    let router = imms_idp::router(idp);
    let r = router
        .clone()
        .oneshot(
            Request::builder()
                .uri("/idp/signin?lang=es")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect();
    let body = String::from_utf8(
        axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let pat = "name=\"csrf\" value=\"";
    let s = body.find(pat).unwrap() + pat.len();
    let csrf = &body[s..s + body[s..].find('"').unwrap()];
    let post = Request::builder()
        .method("POST")
        .uri("/idp/signin")
        .header("cookie", cookies.join("; "))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "csrf={}&user_id=off.line&password={}",
            enc(csrf),
            enc(PASSWORD)
        )))
        .unwrap();
    let r = router.oneshot(post).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = String::from_utf8(
        axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        body.contains("1-800-555-0199") && body.contains("IDP-DISABLED"),
        "{body}"
    );
    assert!(
        body.contains("desactivada"),
        "in the language chosen with the switch"
    );
    t.drop_database().await;
}
