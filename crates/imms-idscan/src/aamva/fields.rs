//! Element values: dates, names, sex and postal codes, each read so that a doubtful value
//! becomes `None` rather than a wrong answer.

use chrono::{Datelike, NaiveDate};

use crate::Sex;

/// Years outside this range are treated as misreads.
const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i32> = 1880..=2200;

/// Reads an 8-digit AAMVA date. US cards write MMDDCCYY, Canadian cards CCYYMMDD; `canadian`
/// picks the one tried first. The other order is tried as well: no 8 digits make a plausible
/// date both ways (MM ≤ 12 would be a year before 1300 as CCYY), so this cannot mislead.
pub(crate) fn date(raw: &str, canadian: bool) -> Option<NaiveDate> {
    let s = raw.trim();
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let us = || ymd(n(4..8)?, n(0..2)?, n(2..4)?);
    let ca = || ymd(n(0..4)?, n(4..6)?, n(6..8)?);
    if canadian {
        ca().or_else(us)
    } else {
        us().or_else(ca)
    }
}

fn ymd(y: u32, m: u32, d: u32) -> Option<NaiveDate> {
    let y = i32::try_from(y).ok()?;
    if !PLAUSIBLE_YEARS.contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d).filter(|d| d.year() == y)
}

/// Cleans a name (or street, city) element: trims spaces and stray commas at the ends,
/// collapses runs of spaces, and drops the placeholders some
/// jurisdictions write for "no middle name".
pub(crate) fn name(raw: &str) -> Option<String> {
    // Some cards pad with a trailing comma ("TESTER,").
    let raw = raw.trim_matches(|c: char| c == ',' || c.is_whitespace());
    let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() || matches!(s.as_str(), "NONE" | "UNAVL" | "UNAVAIL" | "N/A" | "NMN") {
        return None;
    }
    Some(s)
}

/// A v01 `DAA` full name, "FAMILY,GIVEN,MIDDLE,SUFFIX" (some states separate with `$` or `@`).
/// Without a separator the family name cannot be told from the given names: `None`.
pub(crate) struct FullName {
    pub family: String,
    pub given: Vec<String>,
    pub suffix: Option<String>,
}

pub(crate) fn full_name(raw: &str) -> Option<FullName> {
    let sep = [',', '$', '@'].into_iter().find(|c| raw.contains(*c))?;
    let mut parts = raw.split(sep).map(name);
    let family = parts.next().flatten()?;
    let first = parts.next().flatten();
    let middle = parts.next().flatten();
    let suffix = parts.next().flatten();
    let given: Vec<String> = first.into_iter().chain(middle).collect();
    Some(FullName {
        family,
        given,
        suffix,
    })
}

/// `DBC`: 1/M male, 2/F female, 9/X not specified.
pub(crate) fn sex(raw: &str) -> Option<Sex> {
    match raw.trim() {
        "1" | "M" => Some(Sex::Male),
        "2" | "F" => Some(Sex::Female),
        "9" | "X" => Some(Sex::Unspecified),
        _ => None,
    }
}

/// `DAK`: a US ZIP (5 digits, ZIP+4 with or without hyphen, space padded) becomes its five
/// digits; a Canadian postal code becomes `A1A 1A1`. Anything else is `None`.
pub(crate) fn postal_code(raw: &str) -> Option<String> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_uppercase();
    let b = s.as_bytes();
    if (b.len() == 5 || b.len() == 9) && b.iter().all(u8::is_ascii_digit) {
        return Some(s[..5].to_owned());
    }
    let canadian = b.len() == 6
        && b.iter().enumerate().all(|(i, c)| {
            if i % 2 == 0 {
                c.is_ascii_uppercase()
            } else {
                c.is_ascii_digit()
            }
        });
    canadian.then(|| format!("{} {}", &s[..3], &s[3..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn us_and_canadian_dates() {
        assert_eq!(date("06061986", false), d(1986, 6, 6));
        assert_eq!(date("19860606", true), d(1986, 6, 6));
        // Either order is recognised whatever the jurisdiction says.
        assert_eq!(date("19860606", false), d(1986, 6, 6));
        assert_eq!(date("12311999", true), d(1999, 12, 31));
        assert_eq!(date(" 02292000 ", false), d(2000, 2, 29));
    }

    #[test]
    fn bad_dates_are_none() {
        for bad in [
            "",
            "0229199",
            "02291999",
            "13011990",
            "00001990",
            "99999999",
            "00000000",
            "1990-01-01",
            "0101199A",
            "01011700",
        ] {
            assert_eq!(date(bad, false), None, "{bad}");
            assert_eq!(date(bad, true), None, "{bad}");
        }
    }

    #[test]
    fn zip_codes() {
        assert_eq!(postal_code("232690000  ").as_deref(), Some("23269"));
        assert_eq!(postal_code("23269-1234").as_deref(), Some("23269"));
        assert_eq!(postal_code("02134").as_deref(), Some("02134"));
        assert_eq!(postal_code("k1a0b1").as_deref(), Some("K1A 0B1"));
        assert_eq!(postal_code("H2L 4M1").as_deref(), Some("H2L 4M1"));
        assert_eq!(postal_code("2326"), None);
        assert_eq!(postal_code("ABCDE"), None);
    }

    #[test]
    fn names() {
        assert_eq!(name("  MARY   ANN ").as_deref(), Some("MARY ANN"));
        assert_eq!(name("NONE"), None);
        assert_eq!(name(""), None);
        let f = full_name("O'BRIEN,SEAN,PATRICK,III").unwrap();
        assert_eq!(f.family, "O'BRIEN");
        assert_eq!(f.given, ["SEAN", "PATRICK"]);
        assert_eq!(f.suffix.as_deref(), Some("III"));
        let f = full_name("DOE$JANE").unwrap();
        assert_eq!((f.family.as_str(), f.given.len()), ("DOE", 1));
        assert!(full_name("JOHN Q PUBLIC").is_none());
        assert!(full_name(",JOHN").is_none());
    }

    #[test]
    fn sexes() {
        assert_eq!(sex("1"), Some(Sex::Male));
        assert_eq!(sex("F"), Some(Sex::Female));
        assert_eq!(sex("9"), Some(Sex::Unspecified));
        assert_eq!(sex("3"), None);
    }
}
