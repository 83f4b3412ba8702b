//! The portal over HTTP against the real binary, as a person uses it: sign in at the
//! built-in identity provider (OpenID Connect over HTTP), upload a photo of a license,
//! confirm the address, get the record as a PDF; and every refusal on the way.

mod common;

use chrono::NaiveDate;
use common::browser::{Browser, Page};
use common::{Server, Site};
use imms_db::Engine;
use imms_idscan::testgen::aamva::AamvaCard;
use imms_idscan::testgen::people::Person;
use imms_idscan::testgen::photo::{pdf417_symbol, photo_of_symbol, Degradation};
use imms_idscan::testgen::{passport, Passport};
use imms_idscan::{DocumentKind, Sex};
use rand::SeedableRng;

const PASSWORD: &str = "violet harbour lantern";
/// Only on the ID, never in the registry: it must not be stored or logged anywhere.
const ID_ONLY_MIDDLE: &str = "QUILLON";

fn add_account(site: &Site, user: &str, kind: &str, ssn: Option<&str>) {
    let stdin = match ssn {
        Some(ssn) => format!("{PASSWORD}\n{ssn}\n"),
        None => format!("{PASSWORD}\n"),
    };
    site.add_account(user, "someone@example.org", kind, &stdin, ssn.is_some());
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A Michigan license of `family, first` born `birth`, living where the registry has them.
fn license_photo(
    family: &str,
    first: &str,
    middle: Option<&str>,
    birth: NaiveDate,
    expiry: NaiveDate,
) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let card = AamvaCard {
        person: Person {
            family: family.into(),
            first: first.into(),
            middle: middle.map(str::to_string),
            suffix: None,
            birth,
            expiry,
            sex: Sex::Female,
            street: "77 JUNIPER WAY".into(),
            city: "HOLLAND".into(),
            zip: "49423".into(),
        },
        version: 9,
        state: "MI",
        iin: "636032",
        canadian: false,
        kind: DocumentKind::DriverLicense,
        v01_full_name: false,
    };
    photo_of_symbol(
        &pdf417_symbol(&card.payload()),
        &Degradation::clean(1400),
        &mut rng,
    )
}

/// A US passport's data page: no address on it.
fn passport_photo(family: &str, first: &str, birth: NaiveDate, expiry: NaiveDate) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let p = Passport {
        person: Person {
            family: family.into(),
            first: first.into(),
            middle: None,
            suffix: None,
            birth,
            expiry,
            sex: Sex::Female,
            street: String::new(),
            city: String::new(),
            zip: String::new(),
        },
        number: "561234587".into(),
        issuer: "USA",
    };
    passport::photo_of_passport(&p, &Degradation::clean(2000), &mut rng)
}

/// Signs in through the portal's button; returns the page the portal lands on.
async fn sign_in(b: &mut Browser, user: &str) -> Page {
    let (authorize, page) = b
        .sign_in_via_idp("/signin", user, PASSWORD, "/callback")
        .await;
    assert!(authorize.contains("code_challenge_method=S256"), "PKCE");
    page
}

async fn upload(b: &mut Browser, photo: Vec<u8>) -> Page {
    let page = b.get("/upload").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Photo of your ID"));
    let csrf = page.field("csrf");
    b.post_file("/upload", &[("csrf", &csrf)], "photo", "id.jpg", photo)
        .await
}

async fn search(b: &mut Browser, form: &Page, street: &str, zip: &str) -> Page {
    let (csrf, identity) = (form.field("csrf"), form.field("identity"));
    b.post(
        "/search",
        &[
            ("csrf", &csrf),
            ("identity", &identity),
            ("street", street),
            ("city", "Holland"),
            ("state", "MI"),
            ("zip", zip),
        ],
    )
    .await
}

fn record_link(found: &Page) -> String {
    let start = found.body.find("href=\"/record/").expect("a record link") + 6;
    let end = found.body[start..].find('"').unwrap() + start;
    found.body[start..end].to_string()
}

#[tokio::test]
async fn an_adult_signs_in_uploads_a_license_and_gets_their_record() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        whole_flow(engine).await;
    }
}

async fn whole_flow(engine: Engine) {
    let site = Site::new(engine).await;
    let (_user, _password) = site.add_org("CLINIC-P");
    let hl7 = site.path("astrid.hl7");
    std::fs::write(
        &hl7,
        common::vxu(
            "CLINIC-P",
            "P-1",
            "MRN-P1",
            "Lindqvist",
            "Astrid",
            "19850412",
        ),
    )
    .unwrap();
    let (code, out, err) = site.run(&["hl7", "import", hl7.to_str().unwrap()]);
    assert_eq!(code, 0, "{out} {err}");
    add_account(&site, "astrid.l", "citizen", Some("123-45-6789"));
    add_account(&site, "sam.employee", "employee", None);
    add_account(&site, "noor.h", "citizen", Some("234-56-7890"));
    let server = Server::start_public(&site, &[("IMMS_TRUSTED_PROXIES", "127.0.0.1/32")]);
    let mut b = Browser::new(&server);

    let home = b.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Get My Immunization Record (Sign In)"));
    assert!(home.body.contains("href=\"/signin\""));
    let landed = sign_in(&mut b, "astrid.l").await;
    assert_eq!(landed.status, 200, "{}", landed.body);
    assert!(landed.body.contains("Photo of your ID"), "{}", landed.body);

    // A minor's ID and an expired ID are refused with what to do.
    let minor = upload(
        &mut b,
        license_photo(
            "LINDQVIST",
            "ELSA",
            None,
            date(2012, 3, 1),
            date(2031, 1, 1),
        ),
    )
    .await;
    assert_eq!(minor.status, 403, "{}", minor.body);
    assert!(minor.body.contains("PORTAL-UNDER-18"));
    assert!(minor.body.contains("doctor"));
    let expired = upload(
        &mut b,
        license_photo(
            "LINDQVIST",
            "ASTRID",
            None,
            date(1985, 4, 12),
            date(2020, 1, 1),
        ),
    )
    .await;
    assert_eq!(expired.status, 422, "{}", expired.body);
    assert!(expired.body.contains("PORTAL-ID-EXPIRED"));
    let junk = upload(&mut b, b"\x89PNG\r\n\x1a\nnot a photo".to_vec()).await;
    assert!(junk.body.contains("PORTAL-ID-"), "{}", junk.body);

    // The license: the name is shown and cannot be edited; the address is prefilled.
    let photo = license_photo(
        "LINDQVIST",
        "ASTRID",
        Some(ID_ONLY_MIDDLE),
        date(1985, 4, 12),
        date(2031, 1, 1),
    );
    let form = upload(&mut b, photo).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form
        .body
        .contains(&format!("ASTRID {ID_ONLY_MIDDLE} LINDQVIST")));
    assert!(
        !form.body.contains("name=\"family"),
        "the name is not a field"
    );
    assert_eq!(form.field("street"), "77 JUNIPER WAY");
    assert_eq!(form.field("zip"), "49423");
    for label in [
        "Street address",
        "City",
        "State",
        "ZIP code",
        "Get my immunization record",
    ] {
        assert!(form.body.contains(label), "{label}");
    }

    // A required field left empty is named; nothing is searched.
    let empty = search(&mut b, &form, "", "49423").await;
    assert_eq!(empty.status, 422);
    assert!(empty.body.contains("href=\"#street\""));

    // An address the registry does not have for her still finds no one else.
    let found = search(&mut b, &form, "77 Juniper Way", "49423").await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(
        found.body.contains("target=\"_blank\""),
        "opens in a new window"
    );
    assert!(
        found.body.contains("pop-up"),
        "says what to do if it is blocked"
    );
    let link = record_link(&found);
    assert!(found.body.contains(&format!("{link}?download=1")));
    let pdf = b.get_raw(&link, &[]).await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert_eq!(pdf.headers()["cache-control"], "no-store");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let file = site.path("record.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let text = std::process::Command::new("pdftotext")
        .args([file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Lindqvist"), "{text}");
    assert!(text.contains("Official Immunization Record"), "{text}");
    assert!(
        text.to_lowercase().contains("influenza"),
        "the dose: {text}"
    );
    std::fs::remove_file(&file).unwrap();

    // Her US passport: the name from the MRZ, the address typed in (a passport has none).
    let form_pp = upload(
        &mut b,
        passport_photo("LINDQVIST", "ASTRID", date(1985, 4, 12), date(2032, 6, 30)),
    )
    .await;
    assert_eq!(form_pp.status, 200, "{}", form_pp.body);
    assert!(
        form_pp.body.contains("ASTRID LINDQVIST"),
        "{}",
        form_pp.body
    );
    assert_eq!(
        form_pp.field("street"),
        "",
        "nothing to prefill from a passport"
    );
    let found_pp = search(&mut b, &form_pp, "77 Juniper Way", "49423").await;
    assert_eq!(found_pp.status, 200, "{}", found_pp.body);
    assert!(
        found_pp.body.contains("href=\"/record/"),
        "{}",
        found_pp.body
    );

    // The link works only in this browser's session.
    let mut stranger = Browser::new(&server);
    let other = stranger.get_raw(&link, &[]).await;
    assert_ne!(other.status(), 200);
    assert_ne!(other.headers()["content-type"], "application/pdf");

    // The account is now bound to Astrid: someone else's ID is refused.
    let noor = upload(
        &mut b,
        license_photo("HADDAD", "NOOR", None, date(1979, 9, 30), date(2030, 5, 5)),
    )
    .await;
    // Refused at the upload already: the ID is not the person the account is bound to.
    assert_eq!(noor.status, 403, "{}", noor.body);
    assert!(noor.body.contains("PORTAL-OTHER-PERSON"), "{}", noor.body);
    assert!(!noor.body.contains("name=\"identity\""), "no search form");
    assert!(!noor.body.contains("/record/"));

    // Someone the registry does not have: an honest "not found", with what to do.
    let mut nb = Browser::new(&server);
    sign_in(&mut nb, "noor.h").await;
    let form = upload(
        &mut nb,
        license_photo("HADDAD", "NOOR", None, date(1979, 9, 30), date(2030, 5, 5)),
    )
    .await;
    assert_eq!(form.status, 200, "{}", form.body);
    let missing = search(&mut nb, &form, "77 Juniper Way", "49423").await;
    assert_eq!(missing.status, 200);
    assert!(missing.body.contains("We could not find your record"));
    assert!(missing.body.contains("health department"));
    assert!(!missing.body.contains("/record/"));

    // Employees sign in with their citizen account: a stable error code says so.
    let mut eb = Browser::new(&server);
    let refused = sign_in(&mut eb, "sam.employee").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("PORTAL-NOT-CITIZEN"));

    // Geo-blocking: the proxy's address for the client decides, not what the client wrote.
    let blocked = b.get_raw("/", &[("x-forwarded-for", "77.88.8.8")]).await;
    assert_eq!(blocked.status(), 403);
    assert!(blocked
        .text()
        .await
        .unwrap()
        .contains("PORTAL-BLOCKED-COUNTRY"));
    let forged = b
        .get_raw("/", &[("x-forwarded-for", "8.8.8.8, 77.88.8.8")])
        .await;
    assert_eq!(forged.status(), 403, "a forged first hop changes nothing");
    let allowed = b.get_raw("/", &[("x-forwarded-for", "8.8.8.8")]).await;
    assert_eq!(allowed.status(), 200);

    // Nothing read from the ID is logged or stored outside the registry's own tables.
    drop(server);
    let log = std::fs::read_dir(site.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("serve-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        log.contains("portal record served"),
        "the log is the server's"
    );
    for secret in [
        ID_ONLY_MIDDLE,
        "LINDQVIST",
        "Lindqvist",
        "1985-04-12",
        "19850412",
        "JUNIPER",
        "Juniper",
        "HADDAD",
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    for entry in std::fs::read_dir(site.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let found = bytes
                .windows(ID_ONLY_MIDDLE.len())
                .any(|w| w.eq_ignore_ascii_case(ID_ONLY_MIDDLE.as_bytes()));
            assert!(!found, "{ID_ONLY_MIDDLE} stored in {}", path.display());
        }
    }
    if engine == Engine::Postgres {
        let url = site.database_url.clone();
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        for (table,) in tables {
            let hit: Option<(i64,)> = sqlx::query_as(&format!(
                "SELECT 1::bigint FROM \"{table}\" t WHERE t::text ILIKE '%{ID_ONLY_MIDDLE}%' LIMIT 1"
            ))
            .fetch_optional(&pool)
            .await
            .unwrap();
            assert!(hit.is_none(), "{ID_ONLY_MIDDLE} stored in {table}");
        }
        pool.close().await;
    }
    site.remove().await;
}
