//! Fellegi–Sunter scoring. Each field of a pair falls into one comparison level (or none
//! when either side lacks it); each level has m = P(level | same person) and
//! u = P(level | different persons), and contributes log2(m/u) bits. Exact agreement on a
//! given name or surname uses the name's own frequency in the registry for u (term frequency
//! adjustment): sharing "Smith" is weaker evidence than sharing "Quintero".

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use strsim::jaro_winkler;

use crate::address::NormAddress;
use crate::keys::{family_tf_key, given_tf_key};
use crate::text::{nickname_related, NormName};
use crate::Prepared;

/// The compared fields, in the order of [`Comparison::levels`].
pub const FIELDS: [&str; 7] = [
    "given",
    "family",
    "middle",
    "suffix",
    "birth_date",
    "sex",
    "address",
];
pub const GIVEN: usize = 0;
pub const FAMILY: usize = 1;
pub const MIDDLE: usize = 2;
pub const SUFFIX: usize = 3;
pub const BIRTH_DATE: usize = 4;
pub const SEX: usize = 5;
pub const ADDRESS: usize = 6;

/// Level names per field, best first; the last level of each is "disagree".
pub const LEVELS: [&[&str]; 7] = [
    &[
        "exact",
        "nickname",
        "jaro-winkler>=0.92",
        "jaro-winkler>=0.80 or phonetic",
        "initial",
        "disagree",
    ],
    &[
        "exact",
        "compound part",
        "jaro-winkler>=0.92",
        "jaro-winkler>=0.85 or phonetic",
        "disagree",
    ],
    &["exact", "initial", "disagree"],
    &["exact", "disagree"],
    &[
        "exact",
        "day/month swap",
        "one digit typo or transposition",
        "disagree",
    ],
    &["exact", "disagree"],
    &[
        "street and zip or city",
        "similar street",
        "zip only",
        "disagree",
    ],
];

/// m and u per field and level, and the share of true matches among compared pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    /// Prior share of matches among blocked pairs (for EM only: the decision uses bits).
    pub lambda: f64,
}

impl Default for Params {
    /// Defaults before training, from the literature on US person records (names agree
    /// exactly in ~85% of true pairs; a random pair shares a birth date 1 in ~25,000) and
    /// checked on the synthetic evaluation set (docs/matching.md).
    fn default() -> Params {
        Params {
            m: vec![
                vec![0.86, 0.04, 0.04, 0.02, 0.01, 0.03],
                vec![0.84, 0.03, 0.03, 0.02, 0.08],
                vec![0.85, 0.10, 0.05],
                vec![0.95, 0.05],
                vec![0.93, 0.01, 0.04, 0.02],
                vec![0.98, 0.02],
                vec![0.60, 0.10, 0.10, 0.20],
            ],
            u: vec![
                vec![0.005, 0.0005, 0.003, 0.02, 0.03, 0.9415],
                vec![0.003, 0.0002, 0.002, 0.01, 0.9848],
                vec![0.01, 0.06, 0.93],
                vec![0.6, 0.4],
                vec![0.00004, 0.00002, 0.0003, 0.99964],
                vec![0.5, 0.5],
                vec![0.00005, 0.0001, 0.01, 0.98985],
            ],
            lambda: 0.01,
        }
    }
}

impl Params {
    /// Are the shapes right and every probability in (0, 1]? Stored parameters are checked
    /// before use.
    pub fn is_valid(&self) -> bool {
        let ok = |v: &Vec<Vec<f64>>| {
            v.len() == LEVELS.len()
                && v.iter()
                    .zip(LEVELS)
                    .all(|(p, l)| p.len() == l.len() && p.iter().all(|x| *x > 0.0 && *x <= 1.0))
        };
        ok(&self.m) && ok(&self.u) && self.lambda > 0.0 && self.lambda < 1.0
    }

    /// The weight in bits of one level.
    pub fn weight(&self, field: usize, level: u8) -> f64 {
        let l = level as usize;
        (self.m[field][l] / self.u[field][l]).log2()
    }
}

/// Counts of names in the registry, keyed by [`crate::keys::family_tf_key`] and
/// [`crate::keys::given_tf_key`], and the number of persons.
#[derive(Debug, Clone, Default)]
pub struct TermFrequencies {
    pub total: f64,
    pub counts: HashMap<String, i64>,
}

impl TermFrequencies {
    /// u for exact agreement on this key: its frequency, but never below a tenth of the
    /// default (a name seen once in a small registry is not proof).
    fn u(&self, key: &str, default: f64) -> f64 {
        match self.counts.get(key) {
            Some(&n) if self.total >= 1.0 => (n.max(1) as f64 / self.total).max(default / 10.0),
            _ => default,
        }
    }
}

/// The comparison levels of one pair, `None` where either side lacks the field.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    pub levels: [Option<u8>; 7],
    /// TF keys of the exactly agreeing given name and surname.
    pub given_key: Option<String>,
    pub family_key: Option<String>,
}

/// One scored candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub person_id: i64,
    pub score: f64,
    pub comparison: Comparison,
}

impl Scored {
    pub fn agreeing_fields(&self) -> Vec<&'static str> {
        let l = &self.comparison.levels;
        let mut out = Vec::new();
        let at_most = |f: usize, max: u8| l[f].is_some_and(|v| v <= max);
        if at_most(GIVEN, 2) {
            out.push("given");
        }
        if at_most(FAMILY, 2) {
            out.push("family");
        }
        if at_most(MIDDLE, 1) {
            out.push("middle");
        }
        if at_most(SUFFIX, 0) {
            out.push("suffix");
        }
        if at_most(BIRTH_DATE, 0) {
            out.push("birth_date");
        }
        if at_most(SEX, 0) {
            out.push("sex");
        }
        if at_most(ADDRESS, 1) {
            out.push("address");
        } else if at_most(ADDRESS, 2) {
            out.push("zip");
        }
        out
    }

    /// Does something besides name, date of birth and sex agree: the middle name, the
    /// street, or the ZIP code with the surname (a ZIP holds thousands of people, so a
    /// given name, a birth date and a ZIP shared by someone with another surname are
    /// a coincidence a large registry meets, not a confirmation)?
    pub fn corroborated(&self) -> bool {
        let l = &self.comparison.levels;
        let surname_agrees = l[FAMILY].is_some_and(|v| v <= 3);
        l[MIDDLE].is_some_and(|v| v <= 1)
            || l[ADDRESS].is_some_and(|v| v <= 1)
            || (surname_agrees && l[ADDRESS] == Some(2))
    }
}

/// The default parameters, built once: `compare` weighs every name pair with them to pick
/// the candidate's best-agreeing name.
fn default_params() -> &'static Params {
    static DEFAULT: std::sync::OnceLock<Params> = std::sync::OnceLock::new();
    DEFAULT.get_or_init(Params::default)
}

/// Compares a query with a candidate.
pub fn compare(q: &Prepared, c: &Prepared) -> Comparison {
    let mut out = Comparison::default();
    // The candidate's name that agrees best with the query's (a maiden name, an alias).
    let mut best: Option<(f64, Comparison)> = None;
    let params = default_params();
    for qn in &q.names {
        for cn in &c.names {
            let mut cmp = Comparison::default();
            cmp.levels[GIVEN] = given_level(qn, cn);
            let mut fam = family_level(qn, cn);
            for former in &q.former_families {
                let f = family_level(former, cn);
                if f.is_some() && (fam.is_none() || f < fam) {
                    fam = f;
                }
            }
            cmp.levels[FAMILY] = fam;
            // A middle name written into the given name ("Mary Ann" beside "Mary" + "Ann")
            // still agrees; the rest of a compound given name on both sides ("María José"
            // and "María José") is the given name agreeing, not a middle name.
            cmp.levels[MIDDLE] = middle_level(&qn.middle, &cn.middle).or_else(|| {
                if qn.middle.is_empty() && cn.given_rest.is_empty() {
                    middle_level(&qn.given_rest, &cn.middle)
                } else if cn.middle.is_empty() && qn.given_rest.is_empty() {
                    middle_level(&qn.middle, &cn.given_rest)
                } else {
                    None
                }
            });
            cmp.levels[SUFFIX] = suffix_level(&qn.suffix, &cn.suffix);
            if cmp.levels[GIVEN] == Some(0) {
                cmp.given_key = Some(given_tf_key(cn));
            }
            if cmp.levels[FAMILY] == Some(0) {
                cmp.family_key = Some(family_tf_key(cn));
            }
            let w: f64 = [GIVEN, FAMILY, MIDDLE, SUFFIX]
                .iter()
                .filter_map(|&f| cmp.levels[f].map(|l| params.weight(f, l)))
                .sum();
            if best.as_ref().is_none_or(|(bw, _)| w > *bw) {
                best = Some((w, cmp));
            }
        }
    }
    if let Some((_, b)) = best {
        out = b;
    }
    out.levels[BIRTH_DATE] = match (q.birth_date, c.birth_date) {
        (Some(a), Some(b)) => Some(date_level(a, b)),
        _ => None,
    };
    out.levels[SEX] = match (q.sex, c.sex) {
        (Some(a), Some(b)) => Some(u8::from(a != b)),
        _ => None,
    };
    out.levels[ADDRESS] = q
        .addresses
        .iter()
        .flat_map(|a| c.addresses.iter().map(move |b| address_level(a, b)))
        .min();
    out
}

/// The chance that two different persons at one street address share a surname: most
/// housemates do. Once the street agrees, a shared surname is weighed against this, not
/// against the surname's frequency, or one household would count twice.
const SURNAME_U_AT_ONE_ADDRESS: f64 = 0.5;

/// Total weight in bits of a comparison.
pub fn weigh(cmp: &Comparison, params: &Params, tf: &TermFrequencies) -> f64 {
    let mut total = 0.0;
    let same_street = cmp.levels[ADDRESS].is_some_and(|l| l <= 1);
    for (f, level) in cmp.levels.iter().enumerate() {
        let Some(l) = *level else { continue };
        let key = match f {
            GIVEN if l == 0 => cmp.given_key.as_deref(),
            FAMILY if l == 0 => cmp.family_key.as_deref(),
            _ => None,
        };
        let mut u = match key {
            Some(k) => tf.u(k, params.u[f][0]),
            None => params.u[f][l as usize],
        };
        if f == FAMILY && l == 0 && same_street {
            u = u.max(SURNAME_U_AT_ONE_ADDRESS);
        }
        total += (params.m[f][l as usize] / u).log2();
    }
    total
}

/// Scores candidates against a query, best first. Candidates may be owned or shared
/// (`Prepared`, `&Prepared`, `Arc<Prepared>`): a group of messages scores one cached
/// profile against many queries.
pub fn score_all<P: std::borrow::Borrow<Prepared>>(
    q: &Prepared,
    candidates: &[P],
    params: &Params,
    tf: &TermFrequencies,
) -> Vec<Scored> {
    let mut out: Vec<Scored> = candidates
        .iter()
        .map(|c| {
            let c = c.borrow();
            let comparison = compare(q, c);
            Scored {
                person_id: c.person_id,
                score: weigh(&comparison, params, tf),
                comparison,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.person_id.cmp(&b.person_id))
    });
    out
}

fn given_level(x: &NormName, y: &NormName) -> Option<u8> {
    let (a, b) = (x.given.as_str(), y.given.as_str());
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if a == b {
        return Some(0);
    }
    if nickname_related(a, b) {
        return Some(1);
    }
    let long = a.len() > 1 && b.len() > 1;
    let jw = if long { jaro_winkler(a, b) } else { 0.0 };
    Some(if long && jw >= 0.92 {
        2
    } else if long && (jw >= 0.80 || x.given_sound == y.given_sound) {
        3
    } else if (a.len() == 1 || b.len() == 1) && a[..1] == b[..1] {
        4
    } else {
        5
    })
}

fn family_level(a: &NormName, b: &NormName) -> Option<u8> {
    if a.family.is_empty() || b.family.is_empty() {
        return None;
    }
    let (ja, jb) = (a.family_joined(), b.family_joined());
    if a.family == b.family || ja == jb {
        return Some(0);
    }
    if a.family_parts.iter().any(|p| b.family_parts.contains(p)) {
        return Some(1);
    }
    let jw = jaro_winkler(ja, jb);
    Some(if jw >= 0.92 {
        2
    } else if jw >= 0.85 || a.family_sound == b.family_sound {
        3
    } else {
        4
    })
}

fn middle_level(a: &str, b: &str) -> Option<u8> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (fa, fb) = (
        a.split(' ').next().unwrap_or(a),
        b.split(' ').next().unwrap_or(b),
    );
    Some(
        if fa == fb || (fa.len() > 1 && fb.len() > 1 && jaro_winkler(fa, fb) >= 0.92) {
            0
        } else if (fa.len() == 1 || fb.len() == 1) && fa[..1] == fb[..1] {
            1
        } else {
            2
        },
    )
}

fn suffix_level(a: &str, b: &str) -> Option<u8> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    Some(u8::from(a != b))
}

fn date_level(a: NaiveDate, b: NaiveDate) -> u8 {
    if a == b {
        return 0;
    }
    if a.year() == b.year() && a.day() == b.month() && a.month() == b.day() {
        return 1;
    }
    // The eight digits YYYYMMDD of each date, compared place by place: one digit wrong, or
    // two neighbours swapped, is a typo.
    let digits = |d: NaiveDate| -> Option<[u8; 8]> {
        let y = u32::try_from(d.year()).ok().filter(|y| *y <= 9999)?;
        let n = y * 10_000 + d.month() * 100 + d.day();
        let mut out = [0u8; 8];
        for (i, place) in out.iter_mut().enumerate() {
            *place = (n / 10u32.pow(7 - i as u32) % 10) as u8;
        }
        Some(out)
    };
    let (Some(sa), Some(sb)) = (digits(a), digits(b)) else {
        return 3;
    };
    let mut diff = [0usize; 3];
    let mut n = 0;
    for i in 0..8 {
        if sa[i] != sb[i] {
            if n < diff.len() {
                diff[n] = i;
            }
            n += 1;
        }
    }
    let transposed = n == 2
        && diff[1] == diff[0] + 1
        && sa[diff[0]] == sb[diff[1]]
        && sa[diff[1]] == sb[diff[0]];
    if n == 1 || transposed {
        2
    } else {
        3
    }
}

fn address_level(a: &NormAddress, b: &NormAddress) -> u8 {
    let zip = !a.zip.is_empty() && a.zip == b.zip;
    let city = !a.city.is_empty() && a.city == b.city && a.state == b.state;
    let street_exact = !a.street.is_empty() && a.street == b.street;
    let street_similar = !a.street.is_empty()
        && !b.street.is_empty()
        && a.number == b.number
        && jaro_winkler(&a.street, &b.street) >= 0.88;
    if street_exact && (zip || city) {
        0
    } else if street_exact || (street_similar && (zip || city)) {
        1
    } else if zip {
        2
    } else {
        3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn date_levels() {
        assert_eq!(date_level(d(1980, 4, 12), d(1980, 4, 12)), 0);
        assert_eq!(date_level(d(1980, 4, 12), d(1980, 12, 4)), 1);
        assert_eq!(date_level(d(1980, 4, 12), d(1980, 4, 13)), 2);
        assert_eq!(date_level(d(1980, 4, 12), d(1908, 4, 12)), 2, "transposed");
        assert_eq!(date_level(d(1980, 4, 12), d(1975, 1, 30)), 3);
        assert_eq!(
            date_level(d(1980, 4, 12), d(1980, 4, 21)),
            2,
            "day transposed"
        );
        assert_eq!(date_level(d(1980, 4, 12), d(1980, 4, 20)), 3, "two digits");
        assert_eq!(
            date_level(d(1980, 1, 1), d(-5, 1, 1)),
            3,
            "no digits of its own"
        );
    }

    #[test]
    fn name_levels() {
        let given_level = |a: &str, b: &str| {
            given_level(
                &NormName::new(a, "", "X", ""),
                &NormName::new(b, "", "X", ""),
            )
        };
        assert_eq!(given_level("ROBERT", "ROBERT"), Some(0));
        assert_eq!(given_level("BOB", "ROBERT"), Some(1));
        assert_eq!(given_level("ZELPHINA", "ZELPHINE"), Some(2));
        assert_eq!(given_level("CATHERINE", "KATHRYN"), Some(3), "phonetic");
        assert_eq!(given_level("J", "JOHN"), Some(4));
        assert_eq!(given_level("MARY", "PETER"), Some(5));
        assert_eq!(given_level("", "PETER"), None);
        let n = |f: &str| NormName::new("A", "", f, "");
        assert_eq!(
            family_level(&n("Garcia Lopez"), &n("García-López")),
            Some(0)
        );
        assert_eq!(family_level(&n("Garcia"), &n("Garcia-Lopez")), Some(1));
        assert_eq!(family_level(&n("DeLaCruz"), &n("de la Cruz")), Some(0));
        assert_eq!(family_level(&n("Smith"), &n("Jones")), Some(4));
    }

    #[test]
    fn a_compound_given_name_does_not_corroborate() {
        let p = |given: &str, middle: &str| Prepared {
            person_id: 1,
            names: vec![NormName::new(given, middle, "Hiecho", "")],
            former_families: vec![],
            birth_date: Some(d(1992, 11, 28)),
            sex: Some('F'),
            addresses: vec![],
        };
        let same = compare(&p("María José", ""), &p("María José", "Giborini"));
        assert_eq!(same.levels[MIDDLE], None);
        let moved_in = compare(&p("Mary", "Ann"), &p("Mary Ann", ""));
        assert_eq!(moved_in.levels[MIDDLE], Some(0));
    }

    #[test]
    fn defaults_are_valid_and_weights_have_the_right_sign() {
        let p = Params::default();
        assert!(p.is_valid());
        for (f, levels) in LEVELS.iter().enumerate() {
            assert!(p.weight(f, 0) > 0.0, "{}", FIELDS[f]);
            assert!(p.weight(f, (levels.len() - 1) as u8) < 0.0, "{}", FIELDS[f]);
        }
    }

    #[test]
    fn housemates_share_a_surname_so_it_counts_once() {
        let tf = TermFrequencies::default();
        let p = Params::default();
        let mut cmp = Comparison::default();
        cmp.levels[FAMILY] = Some(0);
        cmp.levels[ADDRESS] = Some(3);
        let elsewhere = weigh(&cmp, &p, &tf) - p.weight(ADDRESS, 3);
        cmp.levels[ADDRESS] = Some(0);
        let at_one_address = weigh(&cmp, &p, &tf) - p.weight(ADDRESS, 0);
        assert!(elsewhere > 8.0, "{elsewhere}");
        assert!(at_one_address < 1.0, "{at_one_address}");
    }

    #[test]
    fn common_names_weigh_less() {
        let mut tf = TermFrequencies {
            total: 1000.0,
            ..Default::default()
        };
        tf.counts.insert("FN|SMITH".into(), 50);
        tf.counts.insert("FN|QUINTERO".into(), 1);
        let p = Params::default();
        let mut cmp = Comparison::default();
        cmp.levels[FAMILY] = Some(0);
        cmp.family_key = Some("FN|SMITH".into());
        let smith = weigh(&cmp, &p, &tf);
        cmp.family_key = Some("FN|QUINTERO".into());
        assert!(weigh(&cmp, &p, &tf) > smith + 3.0);
    }
}
