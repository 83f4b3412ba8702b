//! The typed result of a scan: [`IdDocument`], serialised exactly as `imms idscan` prints it.

use chrono::NaiveDate;
use serde::Serialize;

/// What kind of document was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// An AAMVA card whose barcode carries a `DL` subfile.
    DriverLicense,
    /// An AAMVA card whose barcode carries only an `ID` subfile.
    IdCard,
    /// An ICAO 9303 TD3 passport data page.
    Passport,
}

/// Sex as printed on the document. `X` covers "not specified" and ICAO's `<`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Sex {
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "F")]
    Female,
    #[serde(rename = "X")]
    Unspecified,
}

/// A postal address from an AAMVA barcode. Passports carry none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    /// Street line(s); a second street line is joined with ", ".
    pub street: String,
    pub city: String,
    /// Two-letter jurisdiction code (US state or Canadian province).
    pub state: String,
    /// US: five-digit ZIP (a ZIP+4 is cut to five). Canada: postal code as printed.
    pub postal_code: String,
}

/// Everything the portal needs from an identity document.
///
/// Serialises to the JSON shape of `imms idscan` (see docs/INTERFACE.md); the fields marked
/// `skip` are for callers in Rust only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdDocument {
    #[serde(rename = "document")]
    pub kind: DocumentKind,
    pub family_name: String,
    /// Given name(s) in order, separated by single spaces (first name then middle names).
    pub given_names: String,
    pub suffix: Option<String>,
    #[serde(serialize_with = "iso_date")]
    pub birth_date: NaiveDate,
    #[serde(serialize_with = "iso_date_opt")]
    pub expiry_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub address: Option<Address>,
    /// Issuing jurisdiction: a US state / Canadian province code for cards, the ICAO state
    /// code (e.g. `USA`) for passports.
    pub issuer: String,
    /// True when the document says a name was cut to fit (AAMVA DDE/DDF/DDG = `T`, or an MRZ
    /// name field filled to its last column). The name is then only a prefix of the real one.
    #[serde(skip)]
    pub name_truncated: bool,
    /// AAMVA Issuer Identification Number (six digits); `None` for passports.
    #[serde(skip)]
    pub iin: Option<String>,
    /// AAMVA version number (1–10; 0 for pre-standard cards); `None` for passports.
    #[serde(skip)]
    pub aamva_version: Option<u8>,
}

fn iso_date<S: serde::Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&d.format("%Y-%m-%d"))
}

fn iso_date_opt<S: serde::Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => iso_date(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_to_the_interface_shape() {
        let doc = IdDocument {
            kind: DocumentKind::DriverLicense,
            family_name: "O'BRIEN-SMITH".into(),
            given_names: "MARY ANN".into(),
            suffix: Some("JR".into()),
            birth_date: NaiveDate::from_ymd_opt(1986, 6, 6).unwrap(),
            expiry_date: None,
            sex: Some(Sex::Female),
            address: Some(Address {
                street: "2300 WEST BROAD STREET".into(),
                city: "RICHMOND".into(),
                state: "VA".into(),
                postal_code: "23269".into(),
            }),
            issuer: "VA".into(),
            name_truncated: false,
            iin: Some("636000".into()),
            aamva_version: Some(10),
        };
        let json = serde_json::to_string(&doc).unwrap();
        assert_eq!(
            json,
            r#"{"document":"driver_license","family_name":"O'BRIEN-SMITH","given_names":"MARY ANN","suffix":"JR","birth_date":"1986-06-06","expiry_date":null,"sex":"F","address":{"street":"2300 WEST BROAD STREET","city":"RICHMOND","state":"VA","postal_code":"23269"},"issuer":"VA"}"#
        );
    }
}
