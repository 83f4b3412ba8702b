//! "How to read your immunization record": the guide the portal serves at `/guide` and the
//! PDF points to, as HTML fragments (headings, lists; no styles or scripts) in plain language.

use crate::Lang;

/// The guide as an HTML fragment in `lang`, starting with its `<h1>`.
pub fn html(lang: Lang) -> &'static str {
    match lang {
        Lang::En => include_str!("guide/en.html"),
        Lang::Es => include_str!("guide/es.html"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_explains_every_column_in_both_languages() {
        for (lang, words) in [(Lang::En, &crate::text::EN), (Lang::Es, &crate::text::ES)] {
            let g = html(lang);
            assert!(g.starts_with("<h1>"));
            assert!(!g.contains("style=") && !g.contains("<script"));
            for col in [
                words.col_vaccine,
                words.col_date,
                words.col_dose,
                words.col_manufacturer,
                words.col_lot,
                words.col_facility,
                words.col_type,
                words.given,
                words.historical,
                words.refusals,
                words.immunity,
            ] {
                assert!(g.contains(col), "{lang:?} guide does not explain {col}");
            }
        }
    }
}
