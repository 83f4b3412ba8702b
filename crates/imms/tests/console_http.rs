//! The provider console over HTTP against the real binary, as staff use it: sign in at the
//! built-in identity provider (OpenID Connect), find a person, print the record, add, correct
//! and strike doses, resolve duplicates; what each role may and may not do, forged and stale
//! forms, and the audit trail those actions leave. Run on SQLite and PostgreSQL.

mod common;

use common::browser::{Browser, Page};
use common::{Server, Site};
use imms_db::Engine;

const PASSWORD: &str = "copper meadow signal";

fn add_account(site: &Site, user: &str, kind: &str) {
    let citizen = kind == "citizen";
    let stdin = if citizen {
        format!("{PASSWORD}\n123-45-6789\n")
    } else {
        format!("{PASSWORD}\n")
    };
    site.add_account(user, "staff@example.org", kind, &stdin, citizen);
}

fn add_staff(site: &Site, user: &str, org: &str, role: &str) {
    let (code, out, err) = site.run(&[
        "staff",
        "add",
        "--user-id",
        user,
        "--org",
        org,
        "--role",
        role,
    ]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains(&format!("user_id={user}")), "{out}");
    assert!(out.contains(&format!("role={role}")), "{out}");
}

/// Signs in through the console's sign-in link; returns the page the console lands on.
async fn sign_in(b: &mut Browser, user: &str) -> Page {
    sign_in_at(b, user, "/console/signin").await
}

async fn sign_in_at(b: &mut Browser, user: &str, path: &str) -> Page {
    let (authorize, page) = b
        .sign_in_via_idp(path, user, PASSWORD, "/console/callback")
        .await;
    assert!(authorize.contains("client_id=imms-console"), "{authorize}");
    page
}

/// A staff browser, signed in, with the CSRF token of its session.
struct Staff {
    b: Browser,
    csrf: String,
}

impl Staff {
    async fn new(server: &Server, user: &str) -> Staff {
        let mut b = Browser::new(server);
        let home = sign_in(&mut b, user).await;
        assert_eq!(home.status, 200, "{user}: {}", home.body);
        assert!(home.body.contains("Find a person"), "{}", home.body);
        let csrf = home.field("csrf");
        Staff { b, csrf }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.b.get(path).await
    }

    /// Posts a form with this session's CSRF token.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(form);
        self.b.post(path, &all).await
    }

    async fn search(&mut self, family: &str, given: &str, dob: &str) -> Page {
        self.post(
            "/console/search",
            &[
                ("family_name", family),
                ("given_name", given),
                ("birth_date", dob),
            ],
        )
        .await
    }
}

/// The person numbers of the "Open record" links on a search page, in order.
fn candidates(page: &Page) -> Vec<i64> {
    page.body
        .match_indices("href=\"/console/person/")
        .map(|(i, m)| {
            let rest = &page.body[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

/// The dose ids with a "Correct" link on a record page.
fn correctable(page: &Page) -> Vec<i64> {
    page.body
        .match_indices("href=\"/console/dose/")
        .filter_map(|(i, m)| {
            let rest = &page.body[i + m.len()..];
            let id = &rest[..rest.find('/').unwrap()];
            rest[id.len()..]
                .starts_with("/edit")
                .then(|| id.parse().unwrap())
        })
        .collect()
}

fn pdf_text(site: &Site, bytes: &[u8], name: &str) -> String {
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    let file = site.path(name);
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args([file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The citizen's copy: `imms record pdf` from the same store, as text.
fn citizen_pdf(site: &Site, mrn: &str) -> String {
    let out = site.path("citizen.pdf");
    let (code, stdout, err) = site.run(&[
        "record",
        "pdf",
        "--mrn",
        mrn,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout} {err}");
    let bytes = std::fs::read(&out).unwrap();
    pdf_text(site, &bytes, "citizen-copy.pdf")
}

/// Audit lines of a person: (actor, action).
async fn audit(db: &imms_db::Database, person: i64) -> Vec<(String, String)> {
    sqlx::query_as("SELECT actor, action FROM audit_log WHERE person_id = $1 ORDER BY id")
        .bind(person)
        .fetch_all(db.pool())
        .await
        .unwrap()
}

async fn count(db: &imms_db::Database, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(db.pool()).await.unwrap();
    n
}

fn import(site: &Site, name: &str, hl7: &str) {
    let file = site.path(name);
    std::fs::write(&file, hl7).unwrap();
    let (code, out, err) = site.run(&["hl7", "import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out} {err}");
}

#[tokio::test]
async fn staff_look_up_print_correct_and_resolve_duplicates_by_role() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        whole_flow(engine).await;
    }
}

async fn whole_flow(engine: Engine) {
    let site = Site::new(engine).await;
    site.add_org("CLINIC-A");
    site.add_org("CLINIC-B");
    import(
        &site,
        "astrid.hl7",
        &common::vxu(
            "CLINIC-A",
            "A-1",
            "MRN-A1",
            "Lindqvist",
            "Astrid",
            "19850412",
        ),
    );
    // A refusal reported later for the same person.
    import(
        &site,
        "refusal.hl7",
        &common::vxu(
            "CLINIC-A",
            "A-R",
            "MRN-A1",
            "Lindqvist",
            "Astrid",
            "19850412",
        )
        .replace(
            "RXA|0|1|20240110||141^Influenza^CVX|0.5|mL^mL^UCUM||00^New^NIP001|||||||||||CP|A",
            "RXA|0|1|20230901||115^Tdap^CVX|999||||||||||||00^Parental decision^NIP002||RE|A",
        ),
    );
    for (user, kind) in [
        ("vera.viewer", "employee"),
        ("eddie.editor", "employee"),
        ("bea.editor", "third-party"),
        ("ada.admin", "worker"),
        ("nils.nostaff", "employee"),
        ("cora.citizen", "citizen"),
    ] {
        add_account(&site, user, kind);
    }
    add_staff(&site, "vera.viewer", "CLINIC-A", "viewer");
    add_staff(&site, "eddie.editor", "CLINIC-A", "editor");
    add_staff(&site, "bea.editor", "CLINIC-B", "editor");
    add_staff(&site, "ada.admin", "CLINIC-A", "admin");
    let (code, list, _) = site.run(&["staff", "list"]);
    assert_eq!(code, 0);
    assert!(list.contains("bea.editor\tCLINIC-B\teditor"), "{list}");
    // A role in an organization that is not registered is refused.
    let (code, _, err) = site.run(&[
        "staff",
        "add",
        "--user-id",
        "x",
        "--org",
        "NOWHERE",
        "--role",
        "viewer",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("NOWHERE"), "{err}");

    let server = Server::start_public(&site, &[]);
    let db = imms_db::Database::connect(&site.database_url)
        .await
        .unwrap();

    // Not signed in: sent to sign in, and back to the page asked for afterwards.
    let mut anon = Browser::new(&server);
    let first = anon.get("/console/person/1").await;
    assert_eq!(first.status, 303);
    assert_eq!(
        first.location.as_deref(),
        Some("/console/signin?return_to=%2Fconsole%2Fperson%2F1")
    );
    // A citizen, and an employee who is not staff, are refused after signing in.
    let mut citizen = Browser::new(&server);
    let refused = sign_in(&mut citizen, "cora.citizen").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("Citizen accounts cannot use"),
        "{}",
        refused.body
    );
    assert_eq!(citizen.get("/console").await.status, 303, "no session");
    let mut stranger = Browser::new(&server);
    let refused = sign_in(&mut stranger, "nils.nostaff").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("no access to the provider console"));

    // ---- viewer: look up and print, nothing else ----
    let mut vera = Staff::new(&server, "vera.viewer").await;
    let found = vera.search("lindqvist", "astrid", "1985-04-12").await;
    assert_eq!(found.status, 200, "{}", found.body);
    let ids = candidates(&found);
    assert_eq!(ids.len(), 1, "{}", found.body);
    let astrid = ids[0];
    assert!(
        found.body.contains("<mark>Astrid Lindqvist</mark>"),
        "{}",
        found.body
    );
    assert!(found.body.contains("<mark>1985-04-12</mark>"));
    assert!(found
        .body
        .contains("family name, given name, date of birth"));
    // Signing in from a link to a record lands on that record; never on another site.
    let mut linked = Browser::new(&server);
    let landed = sign_in_at(
        &mut linked,
        "vera.viewer",
        &format!("/console/signin?return_to=%2Fconsole%2Fperson%2F{astrid}"),
    )
    .await;
    assert!(landed.body.contains("CLINIC-A:MRN-A1"), "{}", landed.body);
    let mut lured = Browser::new(&server);
    let landed = sign_in_at(
        &mut lured,
        "vera.viewer",
        "/console/signin?return_to=https%3A%2F%2Fevil.example%2F",
    )
    .await;
    assert!(landed.body.contains("Find a person"), "{}", landed.body);
    // Nobody agrees on a different date of birth and a different given name.
    let none = vera.search("Lindqvist", "Greta", "1990-01-01").await;
    assert!(candidates(&none).is_empty(), "{}", none.body);
    let record = vera.get(&format!("/console/person/{astrid}")).await;
    assert_eq!(record.status, 200, "{}", record.body);
    assert!(record.body.contains("Influenza"), "{}", record.body);
    assert!(record.body.contains("CLINIC-A:MRN-A1"));
    assert!(
        record.body.contains("<li>2023-09-01: Tdap"),
        "the refusal: {}",
        record.body
    );
    assert!(
        correctable(&record).is_empty(),
        "a viewer gets no Correct links"
    );
    assert!(!record.body.contains("Add a dose"));
    let pdf = vera
        .b
        .get_raw(&format!("/console/person/{astrid}/record.pdf"), &[])
        .await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert_eq!(pdf.headers()["cache-control"], "no-store");
    let text = pdf_text(&site, &pdf.bytes().await.unwrap(), "printed.pdf");
    assert!(text.contains("Lindqvist"), "{text}");
    assert!(text.to_lowercase().contains("influenza"), "{text}");
    let astrid_dose = {
        let (id,): (i64,) =
            sqlx::query_as("SELECT id FROM immunizations WHERE person_id = $1 ORDER BY id")
                .bind(astrid)
                .fetch_one(db.pool())
                .await
                .unwrap();
        id
    };
    let doses_before = count(&db, "SELECT COUNT(*) FROM immunizations").await;
    let refused = vera
        .get(&format!("/console/person/{astrid}/dose/new"))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let forged = vera
        .post(
            &format!("/console/person/{astrid}/dose"),
            &[
                ("administered_date", "2019-03-01"),
                ("cvx", "115"),
                ("information_source", "01"),
                ("completion_status", "CP"),
                ("reason", "forged by a viewer"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(
        forged.body.contains("needs the editor role"),
        "{}",
        forged.body
    );
    let forged = vera
        .post(
            &format!("/console/dose/{astrid_dose}/error"),
            &[("revision", "1@x"), ("reason", "forged by a viewer")],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(vera.get("/console/duplicates").await.status, 403);
    assert_eq!(vera.get("/console/staff").await.status, 403);
    let forged = vera
        .post(
            "/console/staff",
            &[
                ("user_id", "vera.viewer"),
                ("facility_id", "CLINIC-A"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "a viewer cannot make themselves admin");
    assert_eq!(vera.get("/console/organizations").await.status, 403);
    let forged = vera
        .post(
            "/console/organizations",
            &[("facility_id", "VERA-CLINIC"), ("name", "Not hers to add")],
        )
        .await;
    assert_eq!(forged.status, 403, "a viewer cannot register organizations");
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM console_staff WHERE role = 'admin'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM immunizations").await,
        doses_before
    );
    // A form without this session's CSRF token changes nothing.
    let no_csrf = vera
        .b
        .post(
            "/console/search",
            &[
                ("csrf", "not-the-token"),
                ("family_name", "Lindqvist"),
                ("given_name", "Astrid"),
            ],
        )
        .await;
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);

    // Every look is in the audit trail: who, which person, what kind of look.
    let trail = audit(&db, astrid).await;
    for action in ["person.candidate", "person.view", "person.print"] {
        assert!(
            trail
                .iter()
                .any(|(who, what)| who == "staff:vera.viewer" && what == action),
            "{action}: {trail:?}"
        );
    }

    // ---- editors: their organization's doses only ----
    let mut bea = Staff::new(&server, "bea.editor").await;
    let form = bea.get(&format!("/console/person/{astrid}/dose/new")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("Source of the information"));
    let added = bea
        .post(
            &format!("/console/person/{astrid}/dose"),
            &[
                ("administered_date", "2019-03-01"),
                ("cvx", "115"),
                ("lot_number", "TD-PAPER-1"),
                ("information_source", "04"),
                ("completion_status", "CP"),
                ("reason", "copied from the patient's paper card"),
                // A forged organization is ignored: the dose is the editor's organization's.
                ("facility_id", "CLINIC-A"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let shown = bea.b.follow(added).await;
    assert!(shown.body.contains("The dose was added"), "{}", shown.body);
    assert!(shown.body.contains("Tdap"), "{}", shown.body);
    assert!(shown.body.contains("from parent recall"), "{}", shown.body);
    let (b_dose, b_org): (i64, String) = sqlx::query_as(
        "SELECT id, facility_id FROM immunizations WHERE person_id = $1 AND cvx = '115'",
    )
    .bind(astrid)
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(b_org, "CLINIC-B");
    assert!(citizen_pdf(&site, "CLINIC-A:MRN-A1").contains("TD-PAPER-1"));

    let mut eddie = Staff::new(&server, "eddie.editor").await;
    let record = eddie.get(&format!("/console/person/{astrid}")).await;
    assert_eq!(
        correctable(&record),
        vec![astrid_dose],
        "Correct links only for CLINIC-A's dose: {}",
        record.body
    );
    // Another organization's dose, by a forged URL: refused, and nothing changes.
    assert_eq!(
        eddie
            .get(&format!("/console/dose/{b_dose}/edit"))
            .await
            .status,
        403
    );
    let b_form = bea.get(&format!("/console/dose/{b_dose}/edit")).await;
    assert_eq!(b_form.status, 200, "{}", b_form.body);
    let b_revision = b_form.field("revision");
    let forged = eddie
        .post(
            &format!("/console/dose/{b_dose}"),
            &[
                ("revision", &b_revision),
                ("administered_date", "2019-03-02"),
                ("cvx", "115"),
                ("information_source", "04"),
                ("completion_status", "CP"),
                ("reason", "not mine to change"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(
        forged.body.contains("reported by CLINIC-B"),
        "{}",
        forged.body
    );
    let forged = eddie
        .post(
            &format!("/console/dose/{b_dose}/error"),
            &[("revision", &b_revision), ("reason", "not mine to strike")],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let (date, deleted): (String, i64) =
        sqlx::query_as("SELECT administered_date, deleted FROM immunizations WHERE id = $1")
            .bind(b_dose)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!((date.as_str(), deleted), ("2019-03-01", 0));
    // Nor may an editor merge or manage staff.
    assert_eq!(eddie.get("/console/duplicates").await.status, 403);
    let forged = eddie
        .post(
            "/console/staff",
            &[
                ("user_id", "eddie.editor"),
                ("facility_id", "CLINIC-A"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);

    // A correction of their own organization's dose, with a stale second edit.
    let edit = eddie
        .get(&format!("/console/dose/{astrid_dose}/edit"))
        .await;
    assert_eq!(edit.status, 200, "{}", edit.body);
    let revision = edit.field("revision");
    assert_eq!(edit.field("administered_date"), "2024-01-10");
    let mut ada = Staff::new(&server, "ada.admin").await;
    let ada_edit = ada.get(&format!("/console/dose/{astrid_dose}/edit")).await;
    assert_eq!(ada_edit.status, 200);
    let ada_revision = ada_edit.field("revision");
    assert_eq!(ada_revision, revision, "both opened the same version");
    let correction = |lot: &'static str, reason: &'static str| {
        vec![
            ("administered_date", "2024-01-10"),
            ("cvx", "141"),
            ("lot_number", lot),
            ("amount", "0.5"),
            ("amount_unit", "mL"),
            ("information_source", "00"),
            ("completion_status", "CP"),
            ("reason", reason),
        ]
    };
    // Over-long text: a clear error beside the field, nothing changed.
    let long_lot = "L".repeat(51);
    let mut fields = vec![("revision", revision.as_str())];
    fields.extend(correction("x", "lot from the vial"));
    fields[3].1 = &long_lot;
    let too_long = eddie
        .post(&format!("/console/dose/{astrid_dose}"), &fields)
        .await;
    assert_eq!(too_long.status, 400, "{}", too_long.body);
    assert!(too_long.body.contains("Use at most 50 characters."));
    assert!(too_long.body.contains("aria-invalid=\"true\""));
    let long_reason = "r".repeat(501);
    let mut fields = vec![("revision", revision.as_str())];
    fields.extend(correction("FX2024B", "x"));
    fields[8].1 = &long_reason;
    let too_long = eddie
        .post(&format!("/console/dose/{astrid_dose}"), &fields)
        .await;
    assert_eq!(too_long.status, 400, "{}", too_long.body);
    assert!(too_long.body.contains("longer than 500 characters"));
    let huge = "r".repeat(100_000);
    let mut fields = vec![("revision", revision.as_str())];
    fields.extend(correction("FX2024B", "x"));
    fields[8].1 = &huge;
    let too_big = eddie
        .post(&format!("/console/dose/{astrid_dose}"), &fields)
        .await;
    assert_eq!(too_big.status, 413, "refused before it is read");
    assert!(
        too_big.body.contains("too long to be read"),
        "{}",
        too_big.body
    );
    // A dose id that is not a number: a page that says so, not a bare framework error.
    let garbled = eddie.get("/console/dose/abc/edit").await;
    assert_eq!(garbled.status, 400);
    assert!(
        garbled.body.contains("could not be read"),
        "{}",
        garbled.body
    );
    // The form's own address shows the form (a reload or a bookmark after an error).
    let again = eddie.get(&format!("/console/dose/{astrid_dose}")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.field("revision"), revision);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM dose_changes WHERE action = 'corrected'"
        )
        .await,
        0
    );
    let mut fields = vec![("revision", revision.as_str())];
    fields.extend(correction("FX2024B", "lot number read from the vial label"));
    let saved = eddie
        .post(&format!("/console/dose/{astrid_dose}"), &fields)
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let shown = eddie.b.follow(saved).await;
    assert!(
        shown.body.contains("The correction was saved"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("lot number read from the vial label"));
    assert!(
        shown.body.contains("lot FX2024B"),
        "the history's after: {}",
        shown.body
    );
    // The citizen's copy shows it at once.
    let copy = citizen_pdf(&site, "CLINIC-A:MRN-A1");
    assert!(copy.contains("FX2024B"), "{copy}");
    // The second editor worked from the old version: a conflict, the first change kept.
    let mut fields = vec![("revision", ada_revision.as_str())];
    fields.extend(correction("OTHER-LOT", "a second opinion"));
    let stale = ada
        .post(&format!("/console/dose/{astrid_dose}"), &fields)
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert!(
        stale.body.contains("Someone else changed this dose"),
        "{}",
        stale.body
    );
    // Nothing lost: the dose as it is now, and the form with what the second one typed.
    assert!(stale.body.contains("lot FX2024B"), "{}", stale.body);
    assert_eq!(stale.field("lot_number"), "OTHER-LOT");
    assert!(stale.body.contains("a second opinion"));
    assert_ne!(stale.field("revision"), ada_revision, "the new version");
    let (lot,): (String,) = sqlx::query_as("SELECT lot_number FROM immunizations WHERE id = $1")
        .bind(astrid_dose)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(lot, "FX2024B");
    // A form that names no version is refused too.
    let mut fields = vec![("revision", "")];
    fields.extend(correction("OTHER-LOT", "no version"));
    let blind = ada
        .post(&format!("/console/dose/{astrid_dose}"), &fields)
        .await;
    assert_eq!(blind.status, 400, "{}", blind.body);

    // Entered in error: off the record and the citizen's copy, kept in the history.
    let strike = eddie
        .get(&format!("/console/dose/{astrid_dose}/error"))
        .await;
    assert_eq!(strike.status, 200, "{}", strike.body);
    let revision = strike.field("revision");
    let empty = eddie
        .post(
            &format!("/console/dose/{astrid_dose}/error"),
            &[("revision", &revision), ("reason", "  ")],
        )
        .await;
    assert_eq!(empty.status, 400, "a reason is required: {}", empty.body);
    let struck = eddie
        .post(
            &format!("/console/dose/{astrid_dose}/error"),
            &[
                ("revision", &revision),
                ("reason", "recorded for the wrong patient"),
            ],
        )
        .await;
    assert_eq!(struck.status, 303, "{}", struck.body);
    let shown = eddie.b.follow(struck).await;
    assert!(shown.body.contains("entered in error"), "{}", shown.body);
    assert!(shown.body.contains("recorded for the wrong patient"));
    assert!(
        correctable(&shown).is_empty(),
        "a struck dose is not corrected"
    );
    let copy = citizen_pdf(&site, "CLINIC-A:MRN-A1");
    assert!(!copy.contains("FX2024B"), "{copy}");
    assert!(copy.contains("TD-PAPER-1"), "{copy}");
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM immunizations WHERE id = {astrid_dose}")
        )
        .await,
        1,
        "kept, never deleted"
    );
    let again = eddie
        .post(
            &format!("/console/dose/{astrid_dose}/error"),
            &[("revision", &revision), ("reason", "twice")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);

    // ---- administrators: duplicates, merge and its undo, staff ----
    // The same person again under a second record number, and a twin: both queued.
    import(
        &site,
        "again.hl7",
        &common::vxu(
            "CLINIC-A",
            "A-2",
            "MRN-A2",
            "Lindqvist",
            "Astrid",
            "19850412",
        )
        .replace("20240110||141^Influenza", "20231002||208^COVID-19"),
    );
    import(
        &site,
        "twin.hl7",
        &common::vxu(
            "CLINIC-B",
            "B-1",
            "MRN-B1",
            "Lindqvist",
            "Greta",
            "19850412",
        ),
    );
    let queue = ada.get("/console/duplicates").await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    let pairs: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT id, person_id, candidate_id FROM possible_duplicates WHERE status = 'open' ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert!(pairs.len() >= 2, "{pairs:?}");
    for (id, _, _) in &pairs {
        assert!(
            queue
                .body
                .contains(&format!("href=\"/console/duplicates/{id}\"")),
            "{}",
            queue.body
        );
    }
    let twin = sqlx::query_as::<_, (i64,)>(
        "SELECT person_id FROM person_identifiers WHERE facility_id = 'CLINIC-B' AND value = 'MRN-B1'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap()
    .0;
    let again = sqlx::query_as::<_, (i64,)>(
        "SELECT person_id FROM person_identifiers WHERE facility_id = 'CLINIC-A' AND value = 'MRN-A2'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap()
    .0;
    let pair_of = |a: i64, b: i64| {
        pairs
            .iter()
            .find(|p| (p.1 == a && p.2 == b) || (p.1 == b && p.2 == a))
            .map(|p| p.0)
            .unwrap_or_else(|| panic!("pair {a} {b} in {pairs:?}"))
    };
    let same = pair_of(astrid, again);
    let twins = pair_of(astrid, twin);
    // Side by side.
    let compared = ada.get(&format!("/console/duplicates/{same}")).await;
    assert_eq!(compared.status, 200, "{}", compared.body);
    assert!(compared.body.contains(&format!("Person {astrid}")));
    assert!(compared.body.contains(&format!("Person {again}")));
    assert!(compared.body.contains("COVID-19"), "{}", compared.body);
    // Editors may not merge, even with a well-formed form.
    let forged = eddie
        .post(
            &format!("/console/duplicates/{same}/merge"),
            &[("survivor", &astrid.to_string()), ("reason", "mine")],
        )
        .await;
    assert_eq!(forged.status, 403);
    // The survivor must be one of the pair.
    let wrong = ada
        .post(
            &format!("/console/duplicates/{same}/merge"),
            &[("survivor", &twin.to_string()), ("reason", "wrong one")],
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    let merged = ada
        .post(
            &format!("/console/duplicates/{same}/merge"),
            &[
                ("survivor", &astrid.to_string()),
                ("reason", "same person, second chart opened by mistake"),
            ],
        )
        .await;
    assert_eq!(merged.status, 303, "{}", merged.body);
    let shown = ada.b.follow(merged).await;
    assert!(
        shown.body.contains("The records were merged"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("CLINIC-A:MRN-A2"), "identifiers moved");
    assert!(shown.body.contains("COVID-19"), "doses moved");
    let old = ada.get(&format!("/console/person/{again}")).await;
    assert!(
        old.body.contains(&format!(
            "merged into <a href=\"/console/person/{astrid}\">"
        )),
        "{}",
        old.body
    );
    assert!(citizen_pdf(&site, "CLINIC-A:MRN-A2").contains("TD-PAPER-1"));
    let found = vera.search("Lindqvist", "Astrid", "1985-04-12").await;
    let ids = candidates(&found);
    assert_eq!(ids[0], astrid, "best first: {ids:?}");
    assert!(
        !ids.contains(&again),
        "the merged person is not a candidate"
    );
    assert!(!ada
        .get("/console/duplicates")
        .await
        .body
        .contains(&format!("/console/duplicates/{same}\"")));
    // Undo: everything moved goes back, and the pair is waiting again.
    let (merge_id,): (i64,) = sqlx::query_as("SELECT id FROM person_merges WHERE merged_id = $1")
        .bind(again)
        .fetch_one(db.pool())
        .await
        .unwrap();
    let forged = eddie
        .post(
            &format!("/console/merges/{merge_id}/undo"),
            &[("reason", "not allowed")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let undone = ada
        .post(
            &format!("/console/merges/{merge_id}/undo"),
            &[("reason", "the charts belong to two people after all")],
        )
        .await;
    assert_eq!(undone.status, 303, "{}", undone.body);
    let shown = ada.b.follow(undone).await;
    assert!(
        shown.body.contains("The merge was undone"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("CLINIC-A:MRN-A2"));
    assert!(shown.body.contains("COVID-19"));
    let back = ada.get(&format!("/console/person/{astrid}")).await;
    assert!(!back.body.contains("CLINIC-A:MRN-A2"), "{}", back.body);
    assert!(!back.body.contains("COVID-19"));
    assert!(!citizen_pdf(&site, "CLINIC-A:MRN-A2").contains("TD-PAPER-1"));
    let queue = ada.get("/console/duplicates").await;
    assert!(queue
        .body
        .contains(&format!("href=\"/console/duplicates/{same}\"")));
    // Twins: not the same person, and the pair never comes back.
    let different = ada
        .post(
            &format!("/console/duplicates/{twins}/different"),
            &[("reason", "twins: different given names, same birth date")],
        )
        .await;
    assert_eq!(different.status, 303, "{}", different.body);
    let queue = ada.b.follow(different).await;
    assert!(!queue
        .body
        .contains(&format!("href=\"/console/duplicates/{twins}\"")));
    assert_eq!(
        ada.get(&format!("/console/duplicates/{twins}"))
            .await
            .status,
        404
    );
    import(
        &site,
        "twin-again.hl7",
        &common::vxu(
            "CLINIC-B",
            "B-2",
            "MRN-B1",
            "Lindqvist",
            "Greta",
            "19850412",
        ),
    );
    let queue = ada.get("/console/duplicates").await;
    assert!(!queue
        .body
        .contains(&format!("href=\"/console/duplicates/{twins}\"")));
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM possible_duplicates WHERE status = 'open' AND \
                 ((person_id = {astrid} AND candidate_id = {twin}) OR (person_id = {twin} AND candidate_id = {astrid}))"
            )
        )
        .await,
        0
    );

    // Organizations: an administrator registers a health department and renames it; bad
    // ids and names are explained beside the field; each change is audited.
    let page = ada.get("/console/organizations").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("CLINIC-A"), "{}", page.body);
    let bad = ada
        .post(
            "/console/organizations",
            &[
                ("facility_id", "no spaces here"),
                ("name", "Kent County Health Department"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("facility_id-error"), "{}", bad.body);
    let long_name = "N".repeat(500);
    let bad = ada
        .post(
            "/console/organizations",
            &[("facility_id", "KENT-HD"), ("name", &long_name)],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("name-error"), "{}", bad.body);
    for name in ["Kent County Health Dept", "Kent County Health Department"] {
        let saved = ada
            .post(
                "/console/organizations",
                &[("facility_id", "KENT-HD"), ("name", name)],
            )
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);
    }
    let page = ada.get("/console/organizations").await;
    assert!(
        page.body
            .contains("<td>KENT-HD</td><td>Kent County Health Department</td>"),
        "{}",
        page.body
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('org.add', 'org.rename') AND facility_id = 'KENT-HD' AND actor = 'staff:ada.admin'"
        )
        .await,
        2
    );
    let staff_page = ada.get("/console/staff").await;
    assert!(
        staff_page.body.contains("<option value=\"KENT-HD\""),
        "staff can be given a role there: {}",
        staff_page.body
    );

    // Staff pages: an administrator changes a role, and it applies at once.
    let page = ada.get("/console/staff").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("bea.editor"));
    let bad = ada
        .post(
            "/console/staff",
            &[
                ("user_id", "bea.editor"),
                ("facility_id", "CLINIC-B"),
                ("role", "superuser"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let bad = ada
        .post(
            "/console/staff",
            &[
                ("user_id", "bea.editor"),
                ("facility_id", "NOWHERE"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("NOWHERE"), "{}", bad.body);
    let saved = ada
        .post(
            "/console/staff",
            &[
                ("user_id", "bea.editor"),
                ("facility_id", "CLINIC-B"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        bea.get(&format!("/console/dose/{b_dose}/edit"))
            .await
            .status,
        403,
        "a viewer now"
    );
    let own = ada
        .post("/console/staff/remove", &[("user_id", "ada.admin")])
        .await;
    assert_eq!(own.status, 400, "{}", own.body);
    let removed = ada
        .post("/console/staff/remove", &[("user_id", "bea.editor")])
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let gone = bea.get("/console").await;
    assert_eq!(gone.status, 403, "access removed at once: {}", gone.body);

    // Administrators see on the record who looked at it; others do not.
    let seen = ada.get(&format!("/console/person/{astrid}")).await;
    assert!(seen.body.contains("Who looked at or changed this record"));
    assert!(
        seen.body
            .contains("<td>staff:vera.viewer</td><td>CLINIC-A</td><td>record printed</td>"),
        "{}",
        seen.body
    );
    let plain = vera.get(&format!("/console/person/{astrid}")).await;
    assert!(!plain.body.contains("Who looked at"));
    // The audit trail says who did what to whom; ids only.
    let trail = audit(&db, astrid).await;
    for (who, action) in [
        ("staff:bea.editor", "dose.add"),
        ("staff:eddie.editor", "dose.correct"),
        ("staff:eddie.editor", "dose.entered_in_error"),
        ("staff:ada.admin", "person.compare"),
        ("staff:ada.admin", "person.merge"),
        ("staff:ada.admin", "person.unmerge"),
        ("staff:ada.admin", "person.not_duplicate"),
    ] {
        assert!(
            trail.iter().any(|(w, a)| w == who && a == action),
            "{who} {action}: {trail:?}"
        );
    }
    assert!(audit(&db, again)
        .await
        .iter()
        .any(|(w, a)| w == "staff:ada.admin" && a == "person.merge"));
    let granted = count(
        &db,
        "SELECT COUNT(*) FROM audit_log WHERE actor = 'staff:ada.admin' AND action LIKE 'staff.%'",
    )
    .await;
    assert_eq!(granted, 2, "one grant, one removal");

    // Inactivity ends a session; signing out ends it at once.
    sqlx::query(
        "UPDATE web_sessions SET last_seen = last_seen - 3600 WHERE user_id = 'vera.viewer'",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let expired = vera.get("/console").await;
    assert_eq!(expired.status, 303, "{}", expired.body);
    assert!(expired.location.unwrap().starts_with("/console/signin"));
    let out = eddie.post("/console/signout", &[]).await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(eddie.get("/console").await.status, 303);
    let stale_csrf = eddie
        .post("/console/search", &[("identifier", "MRN-A1")])
        .await;
    assert_ne!(stale_csrf.status, 200);

    server_log_has_no_personal_data(&server);
    drop(server);
    db.close().await;
    site.remove().await;
}

fn server_log_has_no_personal_data(server: &Server) {
    let log = server.log_text();
    for secret in ["Lindqvist", "Astrid", "1985-04-12", "19850412", "Juniper"] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}
