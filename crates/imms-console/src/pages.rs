//! The pages (askama templates in `templates/`) and the plain view models they show. Pages
//! that show a person are never cached.

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::auth::Staff;
use crate::choices::Choice;
use crate::forms::{DoseForm, FieldError, SearchForm};

/// The frame of every page: title, who is signed in, the sign-out form's CSRF token.
pub struct Chrome {
    pub title: String,
    pub signed_in: bool,
    pub user: String,
    pub org: String,
    pub role: String,
    pub is_admin: bool,
    pub csrf: String,
    pub helpline: String,
}

impl Chrome {
    pub fn anonymous(title: &str) -> Chrome {
        Chrome {
            title: title.to_string(),
            signed_in: false,
            user: String::new(),
            org: String::new(),
            role: String::new(),
            is_admin: false,
            csrf: String::new(),
            helpline: String::new(),
        }
    }

    pub fn staff(title: &str, staff: &Staff, helpline: &str) -> Chrome {
        Chrome {
            title: title.to_string(),
            signed_in: true,
            user: staff.actor.user_id.clone(),
            org: staff.actor.facility_id.clone(),
            role: staff.actor.role.as_str().to_string(),
            is_admin: staff.actor.role == imms_registry::store::staff::Role::Admin,
            csrf: staff.session.csrf_token.clone(),
            helpline: helpline.to_string(),
        }
    }
}

pub fn render(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub c: Chrome,
    pub text: String,
    pub is_error: bool,
}

pub fn message(status: StatusCode, c: Chrome, text: &str, is_error: bool) -> Response {
    render(
        status,
        MessagePage {
            c,
            text: text.to_string(),
            is_error,
        },
    )
}

/// Errors for one form, looked up by field name in the templates.
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn none() -> Errors {
        Errors(Vec::new())
    }
    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }
    pub fn get(&self, field: &str) -> String {
        self.0
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }
    pub fn list(&self) -> &[FieldError] {
        &self.0
    }
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub c: Chrome,
    pub form: SearchForm,
    pub errors: Errors,
    pub searched: bool,
    pub results: Vec<CandidateView>,
}

pub struct CandidateView {
    pub person_id: i64,
    pub name: String,
    pub birth_date: String,
    pub address: String,
    pub agrees: Vec<&'static str>,
    pub family: bool,
    pub given: bool,
    pub dob: bool,
    pub addr: bool,
}

pub struct PersonView {
    pub id: i64,
    pub name: String,
    pub other_names: Vec<String>,
    pub birth_date: String,
    pub sex: String,
    pub addresses: Vec<String>,
    pub phones: Vec<String>,
    pub identifiers: Vec<String>,
}

pub struct DoseView {
    pub id: i64,
    pub date: String,
    pub vaccine: String,
    pub cvx: String,
    pub lot: String,
    pub mvx: String,
    pub source: String,
    pub status: String,
    pub facility_id: String,
    pub entered_in_error: bool,
    pub may_change: bool,
}

pub struct RefusalView {
    pub date: String,
    pub vaccine: String,
    pub facility_id: String,
}

pub struct ChangeView {
    pub at: String,
    pub action: String,
    pub dose_id: i64,
    pub who: String,
    pub org: String,
    pub reason: String,
    pub before: String,
    pub after: String,
}

pub struct MergeView {
    pub id: i64,
    pub survivor_id: i64,
    pub merged_id: i64,
    pub at: String,
    pub who: String,
    pub reason: String,
    pub undone: String,
    pub can_undo: bool,
}

#[derive(Template)]
#[template(path = "person.html")]
pub struct PersonPage {
    pub c: Chrome,
    pub person: PersonView,
    pub notice: String,
    pub merged_into: Option<i64>,
    pub doses: Vec<DoseView>,
    pub refusals: Vec<RefusalView>,
    pub changes: Vec<ChangeView>,
    pub merges: Vec<MergeView>,
    pub can_add: bool,
    pub can_print: bool,
    /// For administrators: who looked at or changed this record, newest first.
    pub audit: Vec<AuditView>,
}

pub struct AuditView {
    pub at: String,
    pub who: String,
    pub org: String,
    pub what: String,
}

#[derive(Template)]
#[template(path = "dose_form.html")]
pub struct DoseFormPage {
    pub c: Chrome,
    pub person: PersonView,
    /// Where the form posts.
    pub action: String,
    /// Empty when adding.
    pub dose_id: String,
    pub form: DoseForm,
    pub errors: Errors,
    /// When someone else saved the dose first: what it reads now (the form keeps the
    /// values this member of staff typed).
    pub conflict: String,
    pub vaccines: &'static [Choice],
    pub sources: &'static [Choice],
    pub routes: &'static [Choice],
    pub sites: &'static [Choice],
    pub statuses: &'static [Choice],
}

#[derive(Template)]
#[template(path = "dose_error.html")]
pub struct EnteredInErrorPage {
    pub c: Chrome,
    pub person: PersonView,
    pub dose: DoseView,
    pub revision: String,
    pub reason: String,
    pub errors: Errors,
}

pub struct PairView {
    pub id: i64,
    pub person_id: i64,
    pub candidate_id: i64,
    pub reason: String,
    pub created_at: String,
}

#[derive(Template)]
#[template(path = "duplicates.html")]
pub struct DuplicatesPage {
    pub c: Chrome,
    pub pairs: Vec<PairView>,
}

pub struct Side {
    pub p: PersonView,
    pub doses: Vec<DoseView>,
}

#[derive(Template)]
#[template(path = "compare.html")]
pub struct ComparePage {
    pub c: Chrome,
    pub pair_id: i64,
    pub reason: String,
    pub sides: Vec<Side>,
    pub left_id: i64,
    pub right_id: i64,
    pub same_name: bool,
    pub same_dob: bool,
    pub same_sex: bool,
    pub errors: Errors,
}

pub struct StaffView {
    pub user_id: String,
    pub facility_id: String,
    pub role: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "staff.html")]
pub struct StaffPage {
    pub c: Chrome,
    pub staff: Vec<StaffView>,
    pub facilities: Vec<(String, String)>,
    pub roles: Vec<&'static str>,
    pub form_user_id: String,
    pub form_facility_id: String,
    pub form_role: String,
    pub errors: Errors,
    pub notice: String,
}

#[derive(Template)]
#[template(path = "organizations.html")]
pub struct OrganizationsPage {
    pub c: Chrome,
    /// Facility id, name, number of staff.
    pub organizations: Vec<(String, String, usize)>,
    pub form_facility_id: String,
    pub form_name: String,
    pub errors: Errors,
    pub notice: String,
}
