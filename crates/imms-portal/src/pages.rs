//! The pages (askama templates in `templates/`), each with the shared chrome: language,
//! direction, language switch, sign-out button when signed in.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::i18n::Lang;
use crate::identity::PostalAddress;

pub struct Chrome<'a> {
    pub t: &'a Lang,
    pub langs: Vec<(&'a str, &'a str)>,
    /// The path the language links lead to (a GET page showing the same thing).
    pub here: String,
    /// The session's CSRF token when signed in (for the sign-out button).
    pub csrf: Option<String>,
    pub title: String,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct Home<'a> {
    pub c: Chrome<'a>,
}

pub struct Problem {
    pub title: String,
    pub text: String,
    pub tips: Vec<String>,
    pub code: &'static str,
}

#[derive(Template)]
#[template(path = "upload.html")]
pub struct Upload<'a> {
    pub c: Chrome<'a>,
    pub csrf: String,
    pub error: Option<Problem>,
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchForm<'a> {
    pub c: Chrome<'a>,
    pub csrf: String,
    pub sealed: String,
    pub name: String,
    pub passport: bool,
    pub current: PostalAddress,
    pub previous: PostalAddress,
    pub previous_open: bool,
    /// (field id, message)
    pub errors: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "found.html")]
pub struct FoundPage<'a> {
    pub c: Chrome<'a>,
    pub url: String,
}

#[derive(Template)]
#[template(path = "notfound.html")]
pub struct NotFoundPage<'a> {
    pub c: Chrome<'a>,
    pub csrf: String,
    pub sealed: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct Message<'a> {
    pub c: Chrome<'a>,
    pub paragraphs: Vec<String>,
    pub code: Option<&'static str>,
    pub action: Option<(String, String)>,
    /// Link to DB-IP, whose country data decided this page (its licence asks for it).
    pub geo_credit: bool,
}

#[derive(Template)]
#[template(path = "info.html")]
pub struct Info<'a> {
    pub c: Chrome<'a>,
    pub sections: Vec<(&'a str, Vec<&'a str>)>,
    /// Markup from a trusted crate (the record's reading guide), inserted as is.
    pub trusted_html: Option<String>,
    /// The language of `trusted_html`.
    pub trusted_lang: String,
}

/// Renders a page; pages with personal data are never cached.
pub fn render(status: StatusCode, page: &impl Template, private: bool) -> Response {
    match page.render() {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            let cache = if private { "no-store" } else { "no-cache" };
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
