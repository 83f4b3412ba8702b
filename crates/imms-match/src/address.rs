//! USPS-style address standardization (Publication 28): street suffixes and directionals in
//! their standard abbreviations, unit designators (Apt, Unit, Suite, #) split from the
//! street, ZIP+4 cut to the five-digit ZIP.

use imms_core::normalize::{normalize_text, postal_code_key};

/// Longest street line considered; anything longer is cut.
const MAX_CHARS: usize = 120;

/// Street suffixes (USPS Publication 28, appendix C1): the common ones.
const SUFFIXES: &[(&str, &str)] = &[
    ("ALLEY", "ALY"),
    ("AVENUE", "AVE"),
    ("AV", "AVE"),
    ("AVEN", "AVE"),
    ("BOULEVARD", "BLVD"),
    ("BOUL", "BLVD"),
    ("CIRCLE", "CIR"),
    ("CIRC", "CIR"),
    ("COURT", "CT"),
    ("CRT", "CT"),
    ("COVE", "CV"),
    ("CRESCENT", "CRES"),
    ("DRIVE", "DR"),
    ("DRV", "DR"),
    ("EXPRESSWAY", "EXPY"),
    ("FREEWAY", "FWY"),
    ("HIGHWAY", "HWY"),
    ("HIWAY", "HWY"),
    ("LANE", "LN"),
    ("LOOP", "LOOP"),
    ("PARKWAY", "PKWY"),
    ("PKY", "PKWY"),
    ("PLACE", "PL"),
    ("PLAZA", "PLZ"),
    ("POINT", "PT"),
    ("ROAD", "RD"),
    ("ROUTE", "RTE"),
    ("SQUARE", "SQ"),
    ("STREET", "ST"),
    ("STR", "ST"),
    ("STRT", "ST"),
    ("TERRACE", "TER"),
    ("TRAIL", "TRL"),
    ("TURNPIKE", "TPKE"),
    ("WAY", "WAY"),
];

const DIRECTIONALS: &[(&str, &str)] = &[
    ("NORTH", "N"),
    ("SOUTH", "S"),
    ("EAST", "E"),
    ("WEST", "W"),
    ("NORTHEAST", "NE"),
    ("NORTHWEST", "NW"),
    ("SOUTHEAST", "SE"),
    ("SOUTHWEST", "SW"),
];

/// Secondary unit designators: everything from one of these on is the unit.
const UNITS: &[&str] = &[
    "APT",
    "APARTMENT",
    "UNIT",
    "STE",
    "SUITE",
    "BLDG",
    "BUILDING",
    "FL",
    "FLOOR",
    "RM",
    "ROOM",
    "LOT",
    "TRLR",
    "SPC",
    "NO",
];

/// One standardized address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormAddress {
    /// House number, street name, suffix, directionals: "417 LARKSPUR LN".
    pub street: String,
    /// The house number alone ("417"), empty when the line has none.
    pub number: String,
    /// The unit ("5B"), empty when none.
    pub unit: String,
    pub city: String,
    pub state: String,
    /// Five-digit ZIP (or the normalized foreign postal code).
    pub zip: String,
}

impl NormAddress {
    pub fn new(street: &str, city: &str, state: &str, postal_code: &str) -> NormAddress {
        let (street, unit) = standardize_street(street);
        let number = street
            .split(' ')
            .next()
            .filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .unwrap_or_default()
            .to_string();
        NormAddress {
            street,
            number,
            unit,
            city: bounded(&normalize_text(city)),
            state: bounded(&normalize_text(state)),
            zip: bounded(&postal_code_key(postal_code)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.street.is_empty() && self.city.is_empty() && self.zip.is_empty()
    }
}

fn bounded(s: &str) -> String {
    s.chars().take(MAX_CHARS).collect()
}

/// ("417 LARKSPUR LN", "5B") from "417 Larkspur Lane, Apt. 5B" or "417 Larkspur Ln #5B".
pub fn standardize_street(line: &str) -> (String, String) {
    let line: String = line.chars().take(MAX_CHARS).collect();
    // "#" is a unit designator; normalize_text would drop it as punctuation.
    let line = line.replace('#', " UNIT ");
    let mut street = Vec::new();
    let mut unit = Vec::new();
    let mut in_unit = false;
    for token in normalize_text(&line).split(' ').filter(|t| !t.is_empty()) {
        if !in_unit && !street.is_empty() && UNITS.contains(&token) {
            in_unit = true;
            continue;
        }
        if in_unit {
            if !UNITS.contains(&token) {
                unit.push(token.to_string());
            }
            continue;
        }
        let std = SUFFIXES
            .iter()
            .chain(DIRECTIONALS)
            .find(|(long, _)| *long == token)
            .map(|(_, short)| *short)
            .unwrap_or(token);
        street.push(std.to_string());
    }
    (street.join(" "), unit.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usps_abbreviations_units_and_zip5() {
        let a = NormAddress::new("417 Larkspur Lane, Apt. 5B", "Lansing", "MI", "48933-1234");
        assert_eq!(a.street, "417 LARKSPUR LN");
        assert_eq!(a.unit, "5B");
        assert_eq!(a.number, "417");
        assert_eq!(a.zip, "48933");
        let b = NormAddress::new("417 Larkspur Ln #5B", "LANSING", "mi", "48933");
        assert_eq!(a, b);
        assert_eq!(
            standardize_street("12 North Main Street Suite 200").0,
            "12 N MAIN ST"
        );
    }
}
