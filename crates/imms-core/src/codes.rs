//! CDC vaccine code sets (CVX, MVX, CVX → vaccine group) and the HL7 / CDC IG value sets,
//! parsed from the tab-separated files of `data/codes/` (layout described in its README).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;

/// File names a code directory holds, relative to it. `hl7/*.tsv` value sets are listed by the
/// caller, since this crate does no I/O.
pub const CVX_FILE: &str = "cvx.tsv";
pub const MVX_FILE: &str = "mvx.tsv";
pub const CVX_GROUP_FILE: &str = "cvx_vaccine_group.tsv";
pub const VALUE_SETS_FILE: &str = "hl7/iz_value_sets.tsv";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CodesError {
    #[error("{file}: the header should start with {expected:?}")]
    BadHeader { file: String, expected: String },
    #[error("{file} line {line}: expected {expected} tab-separated columns, found {found}")]
    BadRow {
        file: String,
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error("{0} is missing from the code tables")]
    Missing(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvxStatus {
    Active,
    Inactive,
    NonUs,
    NeverActive,
    Pending,
}

impl CvxStatus {
    fn parse(s: &str) -> CvxStatus {
        match s {
            "Active" => CvxStatus::Active,
            "Non-US" => CvxStatus::NonUs,
            "Never Active" => CvxStatus::NeverActive,
            "Pending" => CvxStatus::Pending,
            _ => CvxStatus::Inactive,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cvx {
    pub code: String,
    pub short_description: String,
    pub full_name: String,
    pub status: CvxStatus,
    /// For inactive and non-US codes, the date of the CDC's last change to the code, taken as
    /// the day it went out of use.
    pub inactive_since: Option<NaiveDate>,
    /// Vaccine groups (name, group CVX) the code belongs to; a combination has several.
    pub groups: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mvx {
    pub code: String,
    pub name: String,
    pub active: bool,
}

/// All code tables, ready for look-ups.
#[derive(Debug, Clone, Default)]
pub struct CodeTables {
    cvx: HashMap<String, Cvx>,
    mvx: HashMap<String, Mvx>,
    /// binding id (e.g. `HL70163_IZ`) → codes.
    value_sets: HashMap<String, HashSet<String>>,
}

/// The text of every file in `data/codes/`, compiled in.
pub const EMBEDDED_FILES: &[(&str, &str)] = &[
    (CVX_FILE, include_str!("../../../data/codes/cvx.tsv")),
    (MVX_FILE, include_str!("../../../data/codes/mvx.tsv")),
    (
        CVX_GROUP_FILE,
        include_str!("../../../data/codes/cvx_vaccine_group.tsv"),
    ),
    (
        VALUE_SETS_FILE,
        include_str!("../../../data/codes/hl7/iz_value_sets.tsv"),
    ),
];

fn rows<'a>(
    file: &'a str,
    text: &'a str,
    header_start: &'a str,
    columns: usize,
) -> Result<impl Iterator<Item = Result<Vec<&'a str>, CodesError>> + 'a, CodesError> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.starts_with(header_start) => {}
        _ => {
            return Err(CodesError::BadHeader {
                file: file.to_string(),
                expected: header_start.to_string(),
            })
        }
    }
    Ok(lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(move |(i, line)| {
            let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
            if cols.len() < columns {
                Err(CodesError::BadRow {
                    file: file.to_string(),
                    line: i + 1,
                    expected: columns,
                    found: cols.len(),
                })
            } else {
                Ok(cols)
            }
        }))
}

impl CodeTables {
    /// The tables compiled into the binary (a copy of `data/codes/`).
    pub fn embedded() -> CodeTables {
        CodeTables::parse(EMBEDDED_FILES).expect("embedded code tables are valid")
    }

    /// Parses the named files (see the `*_FILE` constants); all four are required.
    pub fn parse(files: &[(&str, &str)]) -> Result<CodeTables, CodesError> {
        let get = |name: &str| {
            files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| *t)
                .ok_or_else(|| CodesError::Missing(name.to_string()))
        };
        let mut tables = CodeTables::default();
        for row in rows(CVX_FILE, get(CVX_FILE)?, "cvx_code\t", 5)? {
            let r = row?;
            let status = CvxStatus::parse(r[4]);
            let inactive_since = match status {
                CvxStatus::Inactive | CvxStatus::NonUs => r
                    .get(5)
                    .and_then(|d| NaiveDate::parse_from_str(d, "%m/%d/%Y").ok()),
                _ => None,
            };
            tables.cvx.insert(
                r[0].to_string(),
                Cvx {
                    code: r[0].to_string(),
                    short_description: r[1].to_string(),
                    full_name: r[2].to_string(),
                    status,
                    inactive_since,
                    groups: Vec::new(),
                },
            );
        }
        for row in rows(
            CVX_GROUP_FILE,
            get(CVX_GROUP_FILE)?,
            "short_description\tcvx_code",
            5,
        )? {
            let r = row?;
            if let Some(cvx) = tables.cvx.get_mut(r[1]) {
                cvx.groups.push((r[3].to_string(), r[4].to_string()));
            }
        }
        for row in rows(MVX_FILE, get(MVX_FILE)?, "mvx_code\t", 4)? {
            let r = row?;
            tables.mvx.insert(
                r[0].to_string(),
                Mvx {
                    code: r[0].to_string(),
                    name: r[1].to_string(),
                    active: r[3] == "Active",
                },
            );
        }
        for row in rows(
            VALUE_SETS_FILE,
            get(VALUE_SETS_FILE)?,
            "binding_identifier\t",
            6,
        )? {
            let r = row?;
            tables
                .value_sets
                .entry(r[0].to_string())
                .or_default()
                .insert(r[3].to_string());
        }
        Ok(tables)
    }

    pub fn cvx(&self, code: &str) -> Option<&Cvx> {
        self.cvx.get(code)
    }

    pub fn mvx(&self, code: &str) -> Option<&Mvx> {
        self.mvx.get(code)
    }

    /// Whether `code` is in the value set with this NIST binding id (e.g. `HL70163_IZ`).
    /// An unknown value set answers `true`: we cannot judge what we do not have.
    pub fn in_value_set(&self, binding_id: &str, code: &str) -> bool {
        self.value_sets
            .get(binding_id)
            .is_none_or(|set| set.contains(code))
    }

    pub fn has_value_set(&self, binding_id: &str) -> bool {
        self.value_sets.contains_key(binding_id)
    }

    /// Counts per table, for `imms codes load` to report.
    pub fn summary(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("cvx", self.cvx.len()),
            ("mvx", self.mvx.len()),
            ("value_sets", self.value_sets.len()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_hold_the_published_codes() {
        let t = CodeTables::embedded();
        assert_eq!(t.cvx("115").unwrap().short_description, "Tdap");
        assert_eq!(t.cvx("08").unwrap().status, CvxStatus::Active);
        assert_eq!(t.cvx("01").unwrap().status, CvxStatus::Inactive);
        assert_eq!(
            t.cvx("01").unwrap().inactive_since,
            NaiveDate::from_ymd_opt(2010, 5, 28)
        );
        let combo = t.cvx("146").unwrap();
        assert_eq!(combo.groups.len(), 4);
        assert_eq!(t.mvx("PFR").unwrap().name, "Pfizer, Inc");
        assert!(t.in_value_set("HL70163_IZ", "LD"));
        assert!(!t.in_value_set("HL70163_IZ", "XX"));
        assert!(t.in_value_set("NIP001", "01"));
        assert_eq!(t.summary()["cvx"], 288);
    }

    #[test]
    fn a_bad_file_says_where() {
        let files = [(CVX_FILE, "nope\n")];
        assert!(matches!(
            CodeTables::parse(&files),
            Err(CodesError::BadHeader { .. })
        ));
    }
}
