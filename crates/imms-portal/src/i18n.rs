//! The words on the pages: one TOML file per language in `messages/` (embedded at build
//! time), so a new language is a new file and nothing else. Each file holds `_name` (the
//! language's own name), `_dir` (`ltr` or `rtl`) and one string per key; English is the
//! reference every other file must cover (a test checks it). `{helpline}` in any text becomes
//! the configured helpline number.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use include_dir::{include_dir, Dir};

static MESSAGES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/messages");

/// The reference language: its file has every key.
pub const DEFAULT_LANG: &str = "en";

/// One language's words.
#[derive(Debug)]
pub struct Lang {
    pub code: String,
    pub name: String,
    /// `ltr` or `rtl`, for the page's `dir` attribute.
    pub dir: String,
    text: BTreeMap<String, String>,
}

impl Lang {
    /// The text for `key`; the key itself when missing (a test keeps that from happening).
    pub fn s<'a>(&'a self, key: &'a str) -> &'a str {
        self.text.get(key).map(String::as_str).unwrap_or(key)
    }

    /// Numbered sections of an information page: keys `PAGE.NN.h` (heading) and
    /// `PAGE.NN.p` (paragraph), in number order.
    pub fn sections(&self, page: &str) -> Vec<(&str, Vec<&str>)> {
        let prefix = format!("{page}.");
        let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
        let mut current = "";
        for (key, value) in self.text.range(prefix.clone()..) {
            let Some(rest) = key.strip_prefix(&prefix) else {
                break;
            };
            let Some((number, part)) = rest.split_once('.') else {
                continue;
            };
            if !number.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            if number != current {
                current = number;
                out.push(("", Vec::new()));
            }
            let section = out.last_mut().expect("pushed above");
            match part {
                "h" => section.0 = value,
                _ => section.1.push(value),
            }
        }
        out
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.text.keys()
    }
}

/// Every language, English first.
#[derive(Clone, Debug)]
pub struct Catalog {
    langs: Arc<Vec<Lang>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("message file {file}: {reason}")]
    File { file: String, reason: String },
}

impl Catalog {
    /// Reads every embedded message file, putting `helpline` in place of `{helpline}`.
    pub fn load(helpline: &str) -> Result<Catalog, CatalogError> {
        let mut langs = Vec::new();
        for file in MESSAGES.files() {
            let path = file.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let name = path.display().to_string();
            let code = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let err = |reason: String| CatalogError::File {
                file: name.clone(),
                reason,
            };
            let body = file
                .contents_utf8()
                .ok_or_else(|| err("not UTF-8".into()))?;
            let mut text: BTreeMap<String, String> =
                toml::from_str(body).map_err(|e| err(e.to_string()))?;
            for value in text.values_mut() {
                if value.contains("{helpline}") {
                    *value = value.replace("{helpline}", helpline);
                }
            }
            let lang_name = text.remove("_name").ok_or_else(|| err("no _name".into()))?;
            let dir = text.remove("_dir").unwrap_or_else(|| "ltr".into());
            if dir != "ltr" && dir != "rtl" {
                return Err(err("_dir must be ltr or rtl".into()));
            }
            langs.push(Lang {
                code,
                name: lang_name,
                dir,
                text,
            });
        }
        langs.sort_by(|a, b| {
            (a.code != DEFAULT_LANG, &a.code).cmp(&(b.code != DEFAULT_LANG, &b.code))
        });
        if langs.first().map(|l| l.code.as_str()) != Some(DEFAULT_LANG) {
            return Err(CatalogError::File {
                file: "en.toml".into(),
                reason: "the English reference file is missing".into(),
            });
        }
        Ok(Catalog {
            langs: Arc::new(langs),
        })
    }

    pub fn all(&self) -> &[Lang] {
        &self.langs
    }

    pub fn get(&self, code: &str) -> Option<&Lang> {
        self.langs.iter().find(|l| l.code == code)
    }

    pub fn default_lang(&self) -> &Lang {
        &self.langs[0]
    }

    /// The language for a request: an explicit choice (query or cookie), else the first
    /// Accept-Language entry we have, else English.
    pub fn pick(&self, explicit: Option<&str>, headers: &HeaderMap) -> &Lang {
        if let Some(lang) = explicit.and_then(|c| self.get(c)) {
            return lang;
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut ranked: Vec<(f32, &str)> = accept
            .split(',')
            .filter_map(|part| {
                let mut bits = part.trim().split(';');
                let tag = bits.next()?.trim();
                let q = bits
                    .find_map(|b| b.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, tag) in ranked {
            let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
            if let Some(lang) = self.get(&primary) {
                return lang;
            }
        }
        self.default_lang()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_english_key() {
        let catalog = Catalog::load("1-800-000-0000").unwrap();
        let en = catalog.default_lang();
        assert!(catalog.all().len() >= 3, "en, es and ar at least");
        for lang in catalog.all() {
            for key in en.keys() {
                assert!(
                    lang.text.contains_key(key),
                    "{}.toml lacks {key}",
                    lang.code
                );
            }
            for key in lang.keys() {
                assert!(
                    en.text.contains_key(key),
                    "{}.toml has unknown key {key}",
                    lang.code
                );
            }
        }
        assert_eq!(catalog.get("ar").unwrap().dir, "rtl");
        assert!(en.s("help.call").contains("1-800-000-0000"));
    }

    #[test]
    fn accept_language_and_explicit_choice() {
        let catalog = Catalog::load("x").unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            "fr-FR, es-MX;q=0.8, en;q=0.5".parse().unwrap(),
        );
        assert_eq!(catalog.pick(None, &h).code, "es");
        assert_eq!(catalog.pick(Some("ar"), &h).code, "ar");
        assert_eq!(catalog.pick(Some("zz"), &HeaderMap::new()).code, "en");
    }
}
