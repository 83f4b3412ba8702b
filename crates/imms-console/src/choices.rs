//! The code lists staff choose from (vaccines, information sources, routes, sites, completion
//! statuses), read from the CDC and HL7 tables compiled into imms-core, never retyped.

use imms_core::codes::{CVX_FILE, EMBEDDED_FILES, VALUE_SETS_FILE};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub code: String,
    pub label: String,
}

pub struct Choices {
    pub vaccines: Vec<Choice>,
    pub sources: Vec<Choice>,
    pub routes: Vec<Choice>,
    pub sites: Vec<Choice>,
    pub statuses: Vec<Choice>,
}

fn file(name: &str) -> &'static str {
    EMBEDDED_FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or("")
}

fn value_set(binding: &str) -> Vec<Choice> {
    file(VALUE_SETS_FILE)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').map(str::trim).collect();
            (c.len() >= 5 && c[0] == binding).then(|| Choice {
                code: c[3].to_string(),
                label: c[4].split_whitespace().collect::<Vec<_>>().join(" "),
            })
        })
        .collect()
}

impl Choices {
    pub fn embedded() -> Choices {
        let mut vaccines: Vec<Choice> = file(CVX_FILE)
            .lines()
            .skip(1)
            .filter_map(|l| {
                let c: Vec<&str> = l.split('\t').map(str::trim).collect();
                (c.len() >= 2 && !c[0].is_empty()).then(|| Choice {
                    code: c[0].to_string(),
                    label: c[1].to_string(),
                })
            })
            .collect();
        vaccines.sort_by_key(|v| v.label.to_lowercase());
        Choices {
            vaccines,
            sources: value_set("NIP001"),
            routes: value_set("NCIT"),
            sites: value_set("HL70163_IZ"),
            statuses: value_set("HL70322_IZ"),
        }
    }

    /// The label of a code in a list, or the code itself.
    pub fn label<'a>(list: &'a [Choice], code: &'a str) -> &'a str {
        list.iter()
            .find(|c| c.code == code)
            .map(|c| c.label.as_str())
            .unwrap_or(code)
    }

    pub fn has(list: &[Choice], code: &str) -> bool {
        list.iter().any(|c| c.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_come_from_the_embedded_tables() {
        let c = Choices::embedded();
        assert!(Choices::has(&c.vaccines, "115"), "Tdap");
        assert!(Choices::has(&c.sources, "01"));
        assert!(Choices::has(&c.routes, "C28161"));
        assert!(Choices::has(&c.sites, "LD"));
        assert!(Choices::has(&c.statuses, "CP"));
        assert_eq!(
            Choices::label(&c.sources, "04"),
            "Historical information - from parent recall"
        );
    }
}
