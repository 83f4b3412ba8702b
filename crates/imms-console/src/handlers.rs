//! The console's routes and handlers. Every handler that shows or changes a person takes the
//! signed-in [`Staff`]; every POST checks the session's CSRF token first, then the role,
//! then the form.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{middleware, Form, Router};
use axum_extra::extract::cookie::CookieJar;
use chrono::Utc;
use imms_registry::store::changes::{Actor, ChangeError};
use imms_registry::store::corrections::Revision;
use imms_registry::store::history::ConsoleDose;
use imms_registry::store::lookup::Agreeing;
use imms_registry::store::staff::Role;
use imms_registry::store::PersonRecord;
use serde::Deserialize;

use crate::auth::{staff_account_type, Staff};
use crate::choices::Choices;
use crate::forms::{CsrfForm, DoseForm, OrganizationForm, ReasonForm, SearchForm, StaffForm};
use crate::pages::*;
use crate::{Console, ConsoleError, BASE_PATH};

type Result<T, E = ConsoleError> = std::result::Result<T, E>;

/// Form bodies are small; anything larger is refused before it is read.
const BODY_LIMIT: usize = 64 * 1024;
/// Candidates shown for one search.
const CANDIDATES: usize = 20;
/// Audit lines shown to administrators on a record.
const AUDIT_SHOWN: i64 = 100;

/// An audit action in words.
fn audit_words(action: &str) -> &str {
    match action {
        "person.candidate" => "shown as a search candidate",
        "person.view" => "record opened",
        "person.print" => "record printed",
        "person.compare" => "compared as a possible duplicate",
        "person.merge" => "merged",
        "person.unmerge" => "merge undone",
        "person.not_duplicate" => "marked not the same person",
        "dose.add" => "dose added",
        "dose.correct" => "dose corrected",
        "dose.entered_in_error" => "dose marked entered in error",
        other => other,
    }
}

pub fn router(console: Arc<Console>) -> Router {
    let headers = imms_web::SecurityHeaders::new(&console.settings.public_url, &[]);
    Router::new()
        .route("/console", get(home))
        .route("/console/static/console.css", get(css))
        .route("/console/signin", get(signin))
        .route("/console/callback", get(callback))
        .route("/console/signout", post(signout))
        .route("/console/signed-out", get(signed_out))
        .route("/console/search", get(home).post(search))
        .route("/console/person/{id}", get(person))
        .route("/console/person/{id}/record.pdf", get(print))
        .route("/console/person/{id}/dose/new", get(new_dose))
        .route("/console/person/{id}/dose", get(new_dose).post(add_dose))
        .route("/console/dose/{id}/edit", get(edit_dose))
        .route("/console/dose/{id}", get(edit_dose).post(correct_dose))
        .route("/console/dose/{id}/error", get(error_form).post(mark_error))
        .route("/console/duplicates", get(duplicates))
        .route("/console/duplicates/{id}", get(compare))
        .route("/console/duplicates/{id}/merge", post(merge))
        .route("/console/duplicates/{id}/different", post(different))
        .route("/console/merges/{id}/undo", post(undo_merge))
        .route("/console/staff", get(staff_page).post(staff_add))
        .route("/console/staff/remove", post(staff_remove))
        .route(
            "/console/organizations",
            get(organizations_page).post(organization_save),
        )
        .layer(middleware::map_response(plain_rejections))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            headers,
            imms_web::headers::apply,
        ))
        .with_state(console)
}

/// A form the framework could not read (too large, not a form, a field of the wrong kind)
/// gets a page that says what to do, like every other refusal.
async fn plain_rejections(response: Response) -> Response {
    let status = response.status();
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html || !status.is_client_error() {
        return response;
    }
    let text = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            "The form is too long to be read, so nothing was changed. Shorten the text and try again."
        }
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND => {
            "There is no such page in the provider console. Start again from the console's home page."
        }
        _ => "The form could not be read, so nothing was changed. Go back, reload the page and try again.",
    };
    let title = match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "Not found",
        _ => "Please check and try again",
    };
    message(status, Chrome::anonymous(title), text, true)
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn chrome(console: &Console, title: &str, staff: &Staff) -> Chrome {
    Chrome::staff(title, staff, &console.settings.helpline)
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/console.css"),
    )
        .into_response()
}

// ---- sign-in ----

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignInQuery {
    return_to: String,
}

async fn signin(
    State(console): State<Arc<Console>>,
    jar: CookieJar,
    Query(q): Query<SignInQuery>,
) -> Result<Response> {
    let back = if q.return_to.starts_with(BASE_PATH) && !q.return_to.starts_with("/console/sign") {
        q.return_to
    } else {
        BASE_PATH.to_string()
    };
    let (url, pending) = console.rp.begin(&back).await?;
    let jar = console.login.remember(jar, &pending);
    Ok((jar, Redirect::to(url.as_str())).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CallbackQuery {
    code: String,
    state: String,
    error: String,
}

async fn callback(
    State(console): State<Arc<Console>>,
    jar: CookieJar,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let (jar, pending) = console.login.take(jar);
    let outcome = async {
        if !q.error.is_empty() {
            return Err(ConsoleError::SignIn(
                "the identity provider did not sign you in".into(),
            ));
        }
        let pending = pending?;
        let who = console.rp.complete(&pending, &q.code, &q.state).await?;
        if !staff_account_type(&who.acct_type) {
            return Err(ConsoleError::Citizen);
        }
        if console.store.staff_member(&who.user_id).await?.is_none() {
            return Err(ConsoleError::NotStaff);
        }
        let (_, cookie) = console.sessions.start(&who).await?;
        let back = if pending.return_to.starts_with(BASE_PATH) {
            pending.return_to.clone()
        } else {
            BASE_PATH.to_string()
        };
        Ok((cookie, back))
    }
    .await;
    match outcome {
        Ok((cookie, back)) => (jar.add(cookie), Redirect::to(&back)).into_response(),
        Err(e) => (jar, e).into_response(),
    }
}

async fn signout(
    State(console): State<Arc<Console>>,
    jar: CookieJar,
    staff: Staff,
    Form(f): Form<CsrfForm>,
) -> Result<Response> {
    staff.check_csrf(&f.csrf)?;
    let removal = console.sessions.end(&staff.session).await?;
    let after = format!(
        "{}/console/signed-out",
        console.settings.public_url.trim_end_matches('/')
    );
    let to = console
        .rp
        .logout_url(&staff.session.id_token, &after)
        .await
        .map(|u| u.to_string())
        .unwrap_or_else(|| "/console/signed-out".to_string());
    Ok((jar.add(removal), Redirect::to(&to)).into_response())
}

async fn signed_out() -> Response {
    let mut c = Chrome::anonymous("You are signed out");
    c.title = "You are signed out".into();
    message(
        StatusCode::OK,
        c,
        "You are signed out of the provider console. Close this window on a shared computer.",
        false,
    )
}

// ---- look-up ----

async fn home(State(console): State<Arc<Console>>, staff: Staff) -> Response {
    render(
        StatusCode::OK,
        SearchPage {
            c: chrome(&console, "Find a person", &staff),
            form: SearchForm::default(),
            errors: Errors::none(),
            searched: false,
            results: Vec::new(),
        },
    )
}

fn full_name(r: &PersonRecord) -> (String, Vec<String>) {
    let fmt = |n: &imms_registry::store::record::NameRow| {
        [
            n.given.as_str(),
            n.middle.as_str(),
            n.family.as_str(),
            n.suffix.as_str(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
    };
    let legal = r
        .names
        .iter()
        .find(|n| n.name_type == "L")
        .or(r.names.first());
    let name = legal.map(fmt).unwrap_or_else(|| "(no name on file)".into());
    let others = r
        .names
        .iter()
        .filter(|n| legal.is_none_or(|l| !std::ptr::eq(*n, l)))
        .map(|n| format!("{} ({})", fmt(n), n.name_type))
        .collect();
    (name, others)
}

fn address_line(a: &imms_registry::store::record::AddressRow) -> String {
    [
        a.street.as_str(),
        a.other.as_str(),
        a.city.as_str(),
        a.state.as_str(),
        a.postal_code.as_str(),
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join(", ")
}

fn person_view(r: &PersonRecord) -> PersonView {
    let (name, other_names) = full_name(r);
    PersonView {
        id: r.person_id,
        name,
        other_names,
        birth_date: r.birth_date.clone(),
        sex: match r.sex.as_str() {
            "F" => "female".into(),
            "M" => "male".into(),
            "U" => "unknown".into(),
            other => other.to_string(),
        },
        addresses: r.addresses.iter().map(address_line).collect(),
        phones: r.phones.clone(),
        identifiers: r
            .identifiers
            .iter()
            .map(|i| format!("{}:{} ({})", i.facility_id, i.value, i.id_type))
            .collect(),
    }
}

async fn search(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Form(form): Form<SearchForm>,
) -> Result<Response> {
    staff.check_csrf(&form.csrf)?;
    let today = Utc::now().date_naive();
    let query = match form.query(today) {
        Ok(q) => q,
        Err(errors) => {
            return Ok(render(
                StatusCode::BAD_REQUEST,
                SearchPage {
                    c: chrome(&console, "Find a person", &staff),
                    form,
                    errors: Errors(errors),
                    searched: false,
                    results: Vec::new(),
                },
            ))
        }
    };
    let found = console.store.lookup(&query, CANDIDATES).await?;
    let mut results = Vec::new();
    for cand in found {
        let Some(r) = console.store.person_record(cand.person_id).await? else {
            continue;
        };
        console
            .store
            .audit_view(&staff.actor, "person.candidate", cand.person_id, Utc::now())
            .await?;
        let v = person_view(&r);
        results.push(CandidateView {
            person_id: cand.person_id,
            name: v.name,
            birth_date: v.birth_date,
            address: v.addresses.first().cloned().unwrap_or_default(),
            agrees: cand.agreeing.iter().map(|a| a.label()).collect(),
            family: cand.agreeing.contains(&Agreeing::FamilyName),
            given: cand.agreeing.contains(&Agreeing::GivenName),
            dob: cand.agreeing.contains(&Agreeing::BirthDate),
            addr: cand.agreeing.contains(&Agreeing::Address),
        });
    }
    Ok(render(
        StatusCode::OK,
        SearchPage {
            c: chrome(&console, "Find a person", &staff),
            form: SearchForm {
                csrf: String::new(),
                ..form
            },
            errors: Errors::none(),
            searched: true,
            results,
        },
    ))
}

// ---- the record ----

fn dose_view(console: &Console, actor: &Actor, d: &ConsoleDose) -> DoseView {
    let vaccine = console
        .codes
        .cvx(&d.fields.cvx)
        .map(|c| c.short_description.clone())
        .unwrap_or_else(|| "unknown vaccine".into());
    DoseView {
        id: d.id,
        date: d.fields.administered_date.clone(),
        vaccine,
        cvx: d.fields.cvx.clone(),
        lot: d.fields.lot_number.clone().unwrap_or_default(),
        mvx: d.fields.mvx.clone().unwrap_or_default(),
        source: Choices::label(&console.choices.sources, &d.fields.information_source).to_string(),
        status: Choices::label(&console.choices.statuses, &d.fields.completion_status).to_string(),
        facility_id: d.facility_id.clone(),
        entered_in_error: d.entered_in_error,
        may_change: actor.may_change_dose_of(&d.facility_id),
    }
}

fn fields_summary(
    console: &Console,
    f: &Option<imms_registry::store::corrections::DoseFields>,
) -> String {
    let Some(f) = f else { return String::new() };
    let mut parts = vec![
        f.administered_date.clone(),
        format!(
            "{} (CVX {})",
            console
                .codes
                .cvx(&f.cvx)
                .map(|c| c.short_description.as_str())
                .unwrap_or("unknown"),
            f.cvx
        ),
    ];
    if let Some(l) = &f.lot_number {
        parts.push(format!("lot {l}"));
    }
    if let Some(m) = &f.mvx {
        parts.push(format!("MVX {m}"));
    }
    parts.push(format!("source {}", f.information_source));
    parts.push(format!("status {}", f.completion_status));
    parts.join(", ")
}

async fn record_or_404(console: &Console, id: i64) -> Result<PersonRecord> {
    console
        .store
        .person_record(id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("no person {id} in the registry")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: String,
}

async fn person(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response> {
    let record = record_or_404(&console, id).await?;
    console
        .store
        .audit_view(&staff.actor, "person.view", id, Utc::now())
        .await?;
    let merged_into = console.store.merged_into(id).await?;
    let doses = console.store.console_doses(id).await?;
    let changes = console.store.dose_history(id).await?;
    let merges = console.store.merges_of(id).await?;
    let is_admin = staff.actor.role == Role::Admin;
    let notice = match done.done.as_str() {
        "added" => "The dose was added. It is on the record and printed copies now.",
        "corrected" => "The correction was saved. It is on the record and printed copies now.",
        "error" => "The dose was marked entered in error. It is kept in the change history.",
        "merged" => "The records were merged. An administrator can undo the merge below.",
        "unmerged" => "The merge was undone.",
        _ => "",
    };
    let page = PersonPage {
        c: chrome(&console, "Immunization record", &staff),
        person: person_view(&record),
        notice: notice.to_string(),
        merged_into,
        doses: doses
            .iter()
            .map(|d| dose_view(&console, &staff.actor, d))
            .collect(),
        refusals: record
            .refusals
            .iter()
            .map(|r| RefusalView {
                date: r.refusal_date.clone(),
                vaccine: console
                    .codes
                    .cvx(&r.cvx)
                    .map(|c| c.short_description.clone())
                    .unwrap_or_else(|| format!("CVX {}", r.cvx)),
                facility_id: r.facility_id.clone(),
            })
            .collect(),
        changes: changes
            .iter()
            .map(|h| ChangeView {
                at: h.at.clone(),
                action: match h.action.as_str() {
                    "added" => "dose added".into(),
                    "corrected" => "dose corrected".into(),
                    "entered_in_error" => "marked entered in error".into(),
                    other => other.to_string(),
                },
                dose_id: h.immunization_id,
                who: h.actor.clone(),
                org: h.actor_facility_id.clone(),
                reason: h.reason.clone(),
                before: fields_summary(&console, &h.before),
                after: fields_summary(&console, &h.after),
            })
            .collect(),
        merges: merges
            .iter()
            .map(|m| MergeView {
                id: m.id,
                survivor_id: m.survivor_id,
                merged_id: m.merged_id,
                at: m.at.clone(),
                who: m.actor.clone(),
                reason: m.reason.clone(),
                undone: match (&m.undone_at, &m.undone_by, &m.undo_reason) {
                    (Some(at), Some(by), Some(why)) => format!("{at} by {by}: {why}"),
                    _ => String::new(),
                },
                can_undo: is_admin && m.undone_at.is_none(),
            })
            .collect(),
        can_add: staff.actor.role >= Role::Editor && merged_into.is_none(),
        can_print: console.printer.is_some() && merged_into.is_none(),
        audit: if is_admin {
            console
                .store
                .person_audit(id, AUDIT_SHOWN)
                .await?
                .into_iter()
                .map(|a| AuditView {
                    what: audit_words(&a.action).to_string(),
                    at: a.at,
                    who: a.actor,
                    org: a.facility_id.unwrap_or_default(),
                })
                .collect()
        } else {
            Vec::new()
        },
    };
    Ok(render(StatusCode::OK, page))
}

async fn print(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response> {
    let Some(printer) = console.printer.clone() else {
        return Err(ConsoleError::Setup(
            "printing the official record is not available on this server".into(),
        ));
    };
    let record = record_or_404(&console, id).await?;
    if let Some(into) = console.store.merged_into(id).await? {
        return Err(ConsoleError::Invalid(format!(
            "this person was merged into person {into}; print that record"
        )));
    }
    console
        .store
        .audit_view(&staff.actor, "person.print", id, Utc::now())
        .await?;
    let facilities = console.store.facility_names().await?;
    let pdf = printer
        .pdf(&record, &facilities)
        .map_err(ConsoleError::Internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"immunization-record.pdf\"",
            ),
        ],
        pdf,
    )
        .into_response())
}

// ---- doses ----

fn dose_form_page(
    console: &Console,
    staff: &Staff,
    title: &str,
    person: &PersonRecord,
    dose_id: Option<i64>,
    form: DoseForm,
    errors: Errors,
) -> DoseFormPage {
    let choices: &'static Choices = console_choices(console);
    DoseFormPage {
        c: chrome(console, title, staff),
        person: person_view(person),
        action: match dose_id {
            Some(d) => format!("/console/dose/{d}"),
            None => format!("/console/person/{}/dose", person.person_id),
        },
        dose_id: dose_id.map(|d| d.to_string()).unwrap_or_default(),
        form: DoseForm {
            csrf: String::new(),
            ..form
        },
        errors,
        conflict: String::new(),
        vaccines: &choices.vaccines,
        sources: &choices.sources,
        routes: &choices.routes,
        sites: &choices.sites,
        statuses: &choices.statuses,
    }
}

/// The code lists live as long as the process.
fn console_choices(_console: &Console) -> &'static Choices {
    static CHOICES: std::sync::OnceLock<Choices> = std::sync::OnceLock::new();
    CHOICES.get_or_init(Choices::embedded)
}

async fn live_person(console: &Console, id: i64) -> Result<PersonRecord> {
    let record = record_or_404(console, id).await?;
    if let Some(into) = console.store.merged_into(id).await? {
        return Err(ConsoleError::Invalid(format!(
            "this person was merged into person {into}; work on that record"
        )));
    }
    Ok(record)
}

async fn new_dose(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response> {
    staff.actor.require(Role::Editor, "Adding a dose")?;
    let record = live_person(&console, id).await?;
    let form = DoseForm {
        information_source: "01".into(),
        completion_status: "CP".into(),
        ..DoseForm::default()
    };
    Ok(render(
        StatusCode::OK,
        dose_form_page(
            &console,
            &staff,
            "Add a dose",
            &record,
            None,
            form,
            Errors::none(),
        ),
    ))
}

async fn add_dose(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<DoseForm>,
) -> Result<Response> {
    staff.check_csrf(&form.csrf)?;
    staff.actor.require(Role::Editor, "Adding a dose")?;
    let record = live_person(&console, id).await?;
    let today = Utc::now().date_naive();
    let fields = match form.fields(&console.codes, &console.choices, &record.birth_date, today) {
        Ok(f) => f,
        Err(errors) => {
            return Ok(render(
                StatusCode::BAD_REQUEST,
                dose_form_page(
                    &console,
                    &staff,
                    "Add a dose",
                    &record,
                    None,
                    form,
                    Errors(errors),
                ),
            ))
        }
    };
    console
        .store
        .add_dose(&staff.actor, id, &fields, &form.reason, Utc::now())
        .await?;
    Ok(see_other(&format!("/console/person/{id}?done=added")))
}

/// The dose, if this member of staff may change it.
async fn changeable_dose(console: &Console, staff: &Staff, dose_id: i64) -> Result<ConsoleDose> {
    staff.actor.require(Role::Editor, "Changing a dose")?;
    let dose = console
        .store
        .console_dose(dose_id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("no dose {dose_id}")))?;
    if !staff.actor.may_change_dose_of(&dose.facility_id) {
        return Err(ConsoleError::Forbidden(format!(
            "this dose was reported by {}; only that organization's editors or a registry administrator may change it",
            dose.facility_id
        )));
    }
    Ok(dose)
}

async fn edit_dose(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(dose_id): Path<i64>,
) -> Result<Response> {
    let dose = changeable_dose(&console, &staff, dose_id).await?;
    if dose.entered_in_error {
        return Err(ConsoleError::Invalid(
            "this dose is marked entered in error; it cannot be corrected".into(),
        ));
    }
    let record = record_or_404(&console, dose.person_id).await?;
    let mut form = DoseForm::from_fields(&dose.fields);
    form.revision = dose.revision.token();
    Ok(render(
        StatusCode::OK,
        dose_form_page(
            &console,
            &staff,
            "Correct a dose",
            &record,
            Some(dose_id),
            form,
            Errors::none(),
        ),
    ))
}

fn revision(token: &str) -> Result<Revision> {
    Revision::parse(token).ok_or_else(|| {
        ConsoleError::Invalid(
            "the form does not say which version of the dose it changes; open the dose again from the record".into(),
        )
    })
}

async fn correct_dose(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(dose_id): Path<i64>,
    Form(form): Form<DoseForm>,
) -> Result<Response> {
    staff.check_csrf(&form.csrf)?;
    let dose = changeable_dose(&console, &staff, dose_id).await?;
    let from = revision(&form.revision)?;
    let record = record_or_404(&console, dose.person_id).await?;
    let today = Utc::now().date_naive();
    let fields = match form.fields(&console.codes, &console.choices, &record.birth_date, today) {
        Ok(f) => f,
        Err(errors) => {
            return Ok(render(
                StatusCode::BAD_REQUEST,
                dose_form_page(
                    &console,
                    &staff,
                    "Correct a dose",
                    &record,
                    Some(dose_id),
                    form,
                    Errors(errors),
                ),
            ))
        }
    };
    match console
        .store
        .correct_dose(
            &staff.actor,
            dose_id,
            &from,
            &fields,
            &form.reason,
            Utc::now(),
        )
        .await
    {
        Ok(()) => Ok(see_other(&format!(
            "/console/person/{}?done=corrected",
            dose.person_id
        ))),
        Err(ChangeError::Stale) => {
            // Nothing lost: the dose as it is now, beside what this member of staff typed,
            // and a form that changes the new version if they save again.
            let current = console.store.console_dose(dose_id).await?;
            let Some(current) = current.filter(|d| !d.entered_in_error) else {
                return Err(ConsoleError::Stale);
            };
            let mut page = dose_form_page(
                &console,
                &staff,
                "Correct a dose",
                &record,
                Some(dose_id),
                DoseForm {
                    revision: current.revision.token(),
                    ..form
                },
                Errors::none(),
            );
            page.conflict = fields_summary(&console, &Some(current.fields));
            Ok(render(StatusCode::CONFLICT, page))
        }
        Err(e) => Err(e.into()),
    }
}

async fn error_form(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(dose_id): Path<i64>,
) -> Result<Response> {
    let dose = changeable_dose(&console, &staff, dose_id).await?;
    if dose.entered_in_error {
        return Err(ConsoleError::Invalid(
            "this dose is already marked entered in error".into(),
        ));
    }
    let record = record_or_404(&console, dose.person_id).await?;
    Ok(render(
        StatusCode::OK,
        EnteredInErrorPage {
            c: chrome(&console, "Mark a dose entered in error", &staff),
            person: person_view(&record),
            dose: dose_view(&console, &staff.actor, &dose),
            revision: dose.revision.token(),
            reason: String::new(),
            errors: Errors::none(),
        },
    ))
}

async fn mark_error(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(dose_id): Path<i64>,
    Form(form): Form<ReasonForm>,
) -> Result<Response> {
    staff.check_csrf(&form.csrf)?;
    let dose = changeable_dose(&console, &staff, dose_id).await?;
    let from = revision(&form.revision)?;
    let mut errors = Vec::new();
    crate::forms::reason_check(&form.reason, &mut errors);
    if !errors.is_empty() {
        let record = record_or_404(&console, dose.person_id).await?;
        return Ok(render(
            StatusCode::BAD_REQUEST,
            EnteredInErrorPage {
                c: chrome(&console, "Mark a dose entered in error", &staff),
                person: person_view(&record),
                dose: dose_view(&console, &staff.actor, &dose),
                revision: form.revision,
                reason: form.reason,
                errors: Errors(errors),
            },
        ));
    }
    console
        .store
        .mark_entered_in_error(&staff.actor, dose_id, &from, &form.reason, Utc::now())
        .await?;
    Ok(see_other(&format!(
        "/console/person/{}?done=error",
        dose.person_id
    )))
}

// ---- duplicates ----

async fn duplicates(State(console): State<Arc<Console>>, staff: Staff) -> Result<Response> {
    staff
        .actor
        .require(Role::Admin, "Resolving possible duplicates")?;
    let pairs = console.store.duplicate_queue(200).await?;
    Ok(render(
        StatusCode::OK,
        DuplicatesPage {
            c: chrome(&console, "Possible duplicates", &staff),
            pairs: pairs
                .into_iter()
                .map(|p| PairView {
                    id: p.id,
                    person_id: p.person_id,
                    candidate_id: p.candidate_id,
                    reason: p.reason,
                    created_at: p.created_at,
                })
                .collect(),
        },
    ))
}

async fn open_pair(
    console: &Console,
    id: i64,
) -> Result<imms_registry::store::merge::DuplicatePair> {
    console.store.duplicate_pair(id).await?.ok_or_else(|| {
        ConsoleError::NotFound(format!(
            "pair {id} is not waiting any more (already merged, marked different, or unknown)"
        ))
    })
}

async fn compare(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response> {
    staff
        .actor
        .require(Role::Admin, "Resolving possible duplicates")?;
    let pair = open_pair(&console, id).await?;
    let mut sides = Vec::new();
    let mut records = Vec::new();
    for pid in [pair.person_id, pair.candidate_id] {
        let r = record_or_404(&console, pid).await?;
        console
            .store
            .audit_view(&staff.actor, "person.compare", pid, Utc::now())
            .await?;
        let doses = console.store.console_doses(pid).await?;
        sides.push(Side {
            p: person_view(&r),
            doses: doses
                .iter()
                .map(|d| dose_view(&console, &staff.actor, d))
                .collect(),
        });
        records.push(r);
    }
    let legal = |r: &PersonRecord| {
        r.names
            .iter()
            .find(|n| n.name_type == "L")
            .map(|n| (n.family.to_lowercase(), n.given.to_lowercase()))
    };
    Ok(render(
        StatusCode::OK,
        ComparePage {
            c: chrome(&console, &format!("Compare pair {id}"), &staff),
            pair_id: id,
            reason: pair.reason,
            left_id: pair.person_id,
            right_id: pair.candidate_id,
            sides,
            same_name: legal(&records[0]).is_some() && legal(&records[0]) == legal(&records[1]),
            same_dob: records[0].birth_date == records[1].birth_date,
            same_sex: records[0].sex == records[1].sex,
            errors: Errors::none(),
        },
    ))
}

async fn merge(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<ReasonForm>,
) -> Result<Response> {
    staff.check_csrf(&form.csrf)?;
    staff.actor.require(Role::Admin, "Merging persons")?;
    let pair = open_pair(&console, id).await?;
    let survivor: i64 = form
        .survivor
        .trim()
        .parse()
        .map_err(|_| ConsoleError::Invalid("choose which record stays".into()))?;
    let merged = if survivor == pair.person_id {
        pair.candidate_id
    } else if survivor == pair.candidate_id {
        pair.person_id
    } else {
        return Err(ConsoleError::Invalid(
            "the record to keep must be one of the pair".into(),
        ));
    };
    console
        .store
        .merge_persons(&staff.actor, survivor, merged, &form.reason, Utc::now())
        .await?;
    Ok(see_other(&format!(
        "/console/person/{survivor}?done=merged"
    )))
}

async fn different(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<ReasonForm>,
) -> Result<Response> {
    staff.check_csrf(&form.csrf)?;
    staff
        .actor
        .require(Role::Admin, "Resolving possible duplicates")?;
    let pair = open_pair(&console, id).await?;
    console
        .store
        .mark_not_duplicate(
            &staff.actor,
            pair.person_id,
            pair.candidate_id,
            &form.reason,
            Utc::now(),
        )
        .await?;
    Ok(see_other("/console/duplicates"))
}

async fn undo_merge(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<ReasonForm>,
) -> Result<Response> {
    staff.check_csrf(&form.csrf)?;
    staff.actor.require(Role::Admin, "Undoing a merge")?;
    let m = console
        .store
        .merge(id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("no merge {id}")))?;
    console
        .store
        .unmerge(&staff.actor, id, &form.reason, Utc::now())
        .await?;
    Ok(see_other(&format!(
        "/console/person/{}?done=unmerged",
        m.merged_id
    )))
}

// ---- staff ----

async fn staff_view(
    console: &Console,
    staff: &Staff,
    form: StaffForm,
    errors: Errors,
    notice: &str,
    status: StatusCode,
) -> Result<Response> {
    let list = console.store.staff_list().await?;
    let facilities = console.store.facility_list().await?;
    Ok(render(
        status,
        StaffPage {
            c: chrome(console, "Staff", staff),
            staff: list
                .into_iter()
                .map(|s| StaffView {
                    user_id: s.user_id,
                    facility_id: s.facility_id,
                    role: s.role.as_str().to_string(),
                    since: s.created_at,
                })
                .collect(),
            facilities,
            roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
            form_user_id: form.user_id,
            form_facility_id: form.facility_id,
            form_role: if form.role.is_empty() {
                "viewer".into()
            } else {
                form.role
            },
            errors,
            notice: notice.to_string(),
        },
    ))
}

async fn staff_page(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response> {
    staff.actor.require(Role::Admin, "Managing staff")?;
    let notice = match done.done.as_str() {
        "saved" => "Saved. The change applies from their next page.",
        "removed" => "Access removed. It applies from their next page.",
        _ => "",
    };
    staff_view(
        &console,
        &staff,
        StaffForm::default(),
        Errors::none(),
        notice,
        StatusCode::OK,
    )
    .await
}

async fn staff_add(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Form(form): Form<StaffForm>,
) -> Result<Response> {
    staff.check_csrf(&form.csrf)?;
    staff.actor.require(Role::Admin, "Managing staff")?;
    let Some(role) = Role::parse(&form.role) else {
        return Err(ConsoleError::Invalid(
            "the role must be viewer, editor or admin".into(),
        ));
    };
    match console
        .store
        .add_staff(
            &form.user_id,
            &form.facility_id,
            role,
            &staff.actor.audit_name(),
            Utc::now(),
        )
        .await
    {
        Ok(_) => Ok(see_other("/console/staff?done=saved")),
        Err(ChangeError::Invalid(msg)) => {
            let errors = Errors(vec![crate::forms::FieldError {
                field: "user_id",
                message: msg,
            }]);
            staff_view(&console, &staff, form, errors, "", StatusCode::BAD_REQUEST).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn staff_remove(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Form(form): Form<StaffForm>,
) -> Result<Response> {
    staff.check_csrf(&form.csrf)?;
    staff.actor.require(Role::Admin, "Managing staff")?;
    if form.user_id.trim() == staff.actor.user_id {
        return Err(ConsoleError::Invalid(
            "you cannot remove your own access; ask another administrator".into(),
        ));
    }
    if !console
        .store
        .remove_staff(form.user_id.trim(), &staff.actor.audit_name(), Utc::now())
        .await?
    {
        return Err(ConsoleError::NotFound("no such member of staff".into()));
    }
    Ok(see_other("/console/staff?done=removed"))
}

async fn organizations_view(
    console: &Console,
    staff: &Staff,
    form: OrganizationForm,
    errors: Errors,
    notice: &str,
    status: StatusCode,
) -> Result<Response> {
    let members = console.store.staff_list().await?;
    let organizations = console
        .store
        .facility_list()
        .await?
        .into_iter()
        .map(|(id, name)| {
            let n = members.iter().filter(|m| m.facility_id == id).count();
            (id, name, n)
        })
        .collect();
    Ok(render(
        status,
        OrganizationsPage {
            c: chrome(console, "Organizations", staff),
            organizations,
            form_facility_id: form.facility_id,
            form_name: form.name,
            errors,
            notice: notice.to_string(),
        },
    ))
}

async fn organizations_page(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response> {
    staff.actor.require(Role::Admin, "Managing organizations")?;
    let notice = if done.done == "saved" { "Saved." } else { "" };
    organizations_view(
        &console,
        &staff,
        OrganizationForm::default(),
        Errors::none(),
        notice,
        StatusCode::OK,
    )
    .await
}

async fn organization_save(
    State(console): State<Arc<Console>>,
    staff: Staff,
    Form(form): Form<OrganizationForm>,
) -> Result<Response> {
    staff.check_csrf(&form.csrf)?;
    staff.actor.require(Role::Admin, "Managing organizations")?;
    match console
        .store
        .save_organization(
            &form.facility_id,
            &form.name,
            &staff.actor.audit_name(),
            Utc::now(),
        )
        .await
    {
        Ok(()) => Ok(see_other("/console/organizations?done=saved")),
        Err(ChangeError::Invalid(msg)) => {
            let field = if msg.starts_with("the name") {
                "name"
            } else {
                "facility_id"
            };
            let errors = Errors(vec![crate::forms::FieldError {
                field,
                message: msg,
            }]);
            organizations_view(&console, &staff, form, errors, "", StatusCode::BAD_REQUEST).await
        }
        Err(e) => Err(e.into()),
    }
}
