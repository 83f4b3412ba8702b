//! Blocking keys: short strings stored for each person and looked up for each query, so that
//! the candidates come from an index and never from a scan. A true match shares at least one
//! key unless several fields are wrong at once:
//!
//! - `D|yyyymmdd`: the date of birth (queries also look up the day/month swap);
//! - `F|phonetic surname part|yyyy`: each significant surname part with the birth year;
//! - `G|phonetic given name|mmdd`: the given name (and the legal names a nickname stands
//!   for) with the month and day of birth, for married names and mistyped years;
//! - `Z|zip5|yyyy`: ZIP code and birth year, for mistyped names.
//!
//! Two more kinds are counted, never used to block: `FN|surname` and `GN|given name`, the
//! term frequencies that make common names weigh less.

use chrono::{Datelike, NaiveDate};

use crate::text::{formal_names, phonetic, NormName};
use crate::Prepared;

/// Keys stored for a person (deduplicated).
pub fn person_keys(p: &Prepared) -> Vec<String> {
    let mut keys = blocking(p, false);
    for n in &p.names {
        if !n.family.is_empty() {
            keys.push(family_tf_key(n));
        }
        if !n.given.is_empty() {
            keys.push(given_tf_key(n));
        }
    }
    dedup(keys)
}

/// Keys looked up for a query (deduplicated).
pub fn query_keys(q: &Prepared) -> Vec<String> {
    dedup(blocking(q, true))
}

pub fn family_tf_key(n: &NormName) -> String {
    format!("FN|{}", n.family)
}

pub fn given_tf_key(n: &NormName) -> String {
    format!("GN|{}", n.given)
}

fn blocking(p: &Prepared, query: bool) -> Vec<String> {
    let mut keys = Vec::new();
    let Some(dob) = p.birth_date else {
        return keys;
    };
    let year = dob.year();
    keys.push(format!("D|{}", dob.format("%Y%m%d")));
    if query && dob.day() <= 12 && dob.day() != dob.month() {
        if let Some(swapped) = NaiveDate::from_ymd_opt(year, dob.day(), dob.month()) {
            keys.push(format!("D|{}", swapped.format("%Y%m%d")));
        }
    }
    let families = p.names.iter().chain(&p.former_families);
    for n in families {
        for part in n.family_parts.iter().take(3) {
            let code = phonetic(part);
            if !code.is_empty() {
                keys.push(format!("F|{code}|{year}"));
            }
        }
    }
    let mmdd = dob.format("%m%d");
    for n in &p.names {
        if n.given.is_empty() {
            continue;
        }
        let mut givens = vec![n.given.as_str()];
        givens.extend(formal_names(&n.given));
        for g in givens {
            let code = phonetic(g);
            if !code.is_empty() {
                keys.push(format!("G|{code}|{mmdd}"));
            }
        }
    }
    for a in &p.addresses {
        if a.zip.len() == 5 && a.zip.chars().all(|c| c.is_ascii_digit()) {
            keys.push(format!("Z|{}|{year}", a.zip));
        }
    }
    keys
}

fn dedup(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Query, QueryAddress};

    #[test]
    fn keys_of_a_query_and_a_person() {
        let q = Query {
            given: "Bob".into(),
            middle: String::new(),
            family: "García-López".into(),
            suffix: String::new(),
            birth_date: NaiveDate::from_ymd_opt(1980, 4, 12).unwrap(),
            sex: Some('M'),
            addresses: vec![QueryAddress {
                street: "1 Main St".into(),
                city: "Lansing".into(),
                state: "MI".into(),
                postal_code: "48933-1234".into(),
            }],
            former_family_names: vec![],
        };
        let keys = query_keys(&Prepared::from_query(&q));
        assert!(keys.contains(&"D|19800412".to_string()));
        assert!(keys.contains(&"D|19801204".to_string()), "day/month swap");
        assert!(keys.contains(&format!("F|{}|1980", phonetic("LOPEZ"))));
        assert!(keys.contains(&format!("G|{}|0412", phonetic("ROBERT"))));
        assert!(keys.contains(&"Z|48933|1980".to_string()));
        let stored = person_keys(&Prepared::from_query(&q));
        assert!(stored.contains(&"FN|GARCIA LOPEZ".to_string()));
        assert!(!stored.contains(&"D|19801204".to_string()));
    }
}
