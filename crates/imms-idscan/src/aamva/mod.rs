//! The AAMVA DL/ID Card Design Standard payload (the text in a US or Canadian card's PDF417
//! barcode), versions 01 to 10, read into an [`IdDocument`].
//!
//! Names: `DCS` family name, `DAC`/`DAD` first and middle (v04+, and v01's `DAB`/`DAC`/`DAD`),
//! `DCT` given names (v02–v03), v01's full name `DAA`, suffix `DCU` (v01: `DAE`), truncation
//! flags `DDE`/`DDF`/`DDG`. Dates `DBB` (birth, required) and `DBA` (expiry) are MMDDCCYY in the
//! US and CCYYMMDD in Canada. Address `DAG`/`DAH`/`DAI`/`DAJ`/`DAK`.

mod fields;
mod iin;
mod structure;

use crate::{Address, DocumentKind, IdDocument, ScanError};

/// Parses a decoded PDF417 payload. Pure; never panics; a value that cannot be trusted is
/// left out (optional fields) or refused ([`ScanError::MissingField`]).
pub fn parse_aamva(payload: &[u8]) -> Result<IdDocument, ScanError> {
    let p = structure::split(payload)?;
    let (kind, sub) = if let Some(s) = p.subfiles.iter().find(|s| s.kind == "DL") {
        (DocumentKind::DriverLicense, s)
    } else if let Some(s) = p.subfiles.iter().find(|s| s.kind == "ID") {
        (DocumentKind::IdCard, s)
    } else {
        return Err(ScanError::NotAamva);
    };
    let get = |code: &str| sub.get(code);

    let state = get("DAJ")
        .filter(|s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()))
        .map(str::to_owned);
    let issuer = iin::jurisdiction(&p.header.iin)
        .map(str::to_owned)
        .or_else(|| state.clone())
        .unwrap_or_else(|| p.header.iin.clone());
    let canadian = get("DCG") == Some("CAN")
        || iin::is_canadian(&issuer)
        || state.as_deref().is_some_and(iin::is_canadian);

    // Names.
    let full = get("DAA").and_then(fields::full_name);
    let family = get("DCS")
        .or_else(|| get("DAB"))
        .and_then(fields::name)
        .or_else(|| full.as_ref().map(|f| f.family.clone()))
        .ok_or(ScanError::MissingField("name"))?;
    let given = match get("DAC").and_then(fields::name) {
        Some(first) => {
            let middle = get("DAD").and_then(fields::name);
            first + &middle.map(|m| format!(" {m}")).unwrap_or_default()
        }
        None => get("DCT")
            .and_then(|g| fields::name(&g.replace(',', " ")))
            .or_else(|| {
                full.as_ref()
                    .filter(|f| !f.given.is_empty())
                    .map(|f| f.given.join(" "))
            })
            .ok_or(ScanError::MissingField("name"))?,
    };
    let suffix = get("DCU")
        .or_else(|| get("DAE"))
        .and_then(fields::name)
        .or_else(|| full.as_ref().and_then(|f| f.suffix.clone()));
    let name_truncated = ["DDE", "DDF", "DDG"].iter().any(|c| get(c) == Some("T"));

    let birth_date = get("DBB")
        .and_then(|d| fields::date(d, canadian))
        .ok_or(ScanError::MissingField("date of birth"))?;
    let expiry_date = get("DBA").and_then(|d| fields::date(d, canadian));

    let address = (|| {
        let mut street = get("DAG").and_then(fields::name)?;
        if let Some(second) = get("DAH").and_then(fields::name) {
            street = format!("{street}, {second}");
        }
        Some(Address {
            street,
            city: get("DAI").and_then(fields::name)?,
            state: state.clone()?,
            postal_code: get("DAK").and_then(fields::postal_code)?,
        })
    })();

    Ok(IdDocument {
        kind,
        family_name: family,
        given_names: given,
        suffix,
        birth_date,
        expiry_date,
        sex: get("DBC").and_then(fields::sex),
        address,
        issuer,
        name_truncated,
        iin: Some(p.header.iin),
        aamva_version: Some(p.header.version),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Sex;
    use chrono::NaiveDate;

    /// The example payload of the AAMVA DL/ID Card Design Standard (2020), Annex D, as
    /// reproduced in the README of benhovinga/aamva_barcode_library (facts only).
    pub(crate) const AAMVA_2020_SAMPLE: &str = "@\n\x1e\rANSI 636000100102DL00410278ZV03190008DLDAQT64235789\nDCSSAMPLE\nDDEN\nDACMICHAEL\nDDFN\nDADJOHN\nDDGN\nDCUJR\nDCAD\nDCBK\nDCDPH\nDBD06062019\nDBB06061986\nDBA12102024\nDBC1\nDAU068 in\nDAYBRO\nDAG2300 WEST BROAD STREET\nDAIRICHMOND\nDAJVA\nDAK232690000  \nDCF2424244747474786102204\nDCGUSA\nDCK123456789\nDDAF\nDDB06062018\nDDC06062020\nDDD1\rZVZVA01\r";

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn standard_sample_v10() {
        let doc = parse_aamva(AAMVA_2020_SAMPLE.as_bytes()).unwrap();
        assert_eq!(doc.kind, DocumentKind::DriverLicense);
        assert_eq!(doc.family_name, "SAMPLE");
        assert_eq!(doc.given_names, "MICHAEL JOHN");
        assert_eq!(doc.suffix.as_deref(), Some("JR"));
        assert_eq!(doc.birth_date, d(1986, 6, 6));
        assert_eq!(doc.expiry_date, Some(d(2024, 12, 10)));
        assert_eq!(doc.sex, Some(Sex::Male));
        let a = doc.address.unwrap();
        assert_eq!(
            (a.street.as_str(), a.city.as_str(), a.state.as_str()),
            ("2300 WEST BROAD STREET", "RICHMOND", "VA")
        );
        assert_eq!(a.postal_code, "23269");
        assert_eq!(doc.issuer, "VA");
        assert_eq!(doc.iin.as_deref(), Some("636000"));
        assert_eq!(doc.aamva_version, Some(10));
        assert!(!doc.name_truncated);
    }

    #[test]
    fn v01_full_name_and_suffix() {
        let payload = "@\n\x1e\rANSI 6360140101DL00290120DLDAQD1234567\nDAAO'NEIL-SMITH,MARY,ANN,III\nDAG1 MAIN ST\nDAISACRAMENTO\nDAJCA\nDAK958140000\nDBA20300101\nDBB19700215\nDBCF\r";
        let doc = parse_aamva(payload.as_bytes()).unwrap();
        assert_eq!(doc.family_name, "O'NEIL-SMITH");
        assert_eq!(doc.given_names, "MARY ANN");
        assert_eq!(doc.suffix.as_deref(), Some("III"));
        assert_eq!(doc.birth_date, d(1970, 2, 15));
        assert_eq!(doc.expiry_date, Some(d(2030, 1, 1)));
        assert_eq!(doc.sex, Some(Sex::Female));
        assert_eq!(doc.issuer, "CA");
        assert_eq!(doc.address.unwrap().postal_code, "95814");
    }

    #[test]
    fn v01_separate_name_elements() {
        let payload = "@\n\x1e\rANSI 6360150101DL00290100DLDABGARCIA LOPEZ\nDACJOSE\nDADLUIS\nDAEJR\nDBB03041980\r";
        let doc = parse_aamva(payload.as_bytes()).unwrap();
        assert_eq!(doc.family_name, "GARCIA LOPEZ");
        assert_eq!(doc.given_names, "JOSE LUIS");
        assert_eq!(doc.suffix.as_deref(), Some("JR"));
        assert_eq!(doc.birth_date, d(1980, 3, 4));
        assert_eq!(doc.address, None);
    }

    #[test]
    fn v03_given_names_element() {
        let payload = "@\n\x1e\rANSI 636001030001DL00310100DLDCSZOË\nDCTANNE,MARIE\nDBB12011955\nDBA12012028\nDBC2\r";
        let doc = parse_aamva(payload.as_bytes()).unwrap();
        assert_eq!(doc.family_name, "ZOË");
        assert_eq!(doc.given_names, "ANNE MARIE");
        assert_eq!(doc.issuer, "NY");
    }

    #[test]
    fn canadian_dates_and_id_card() {
        let payload = "@\n\x1e\rANSI 636012090001ID00310150IDDAQX1\nDCSTREMBLAY\nDACÉLODIE\nDADNONE\nDBB19900102\nDBA20310509\nDBC2\nDAG1560 SHERBROOKE ST E\nDAITORONTO\nDAJON\nDAKM5V 2T6\nDCGCAN\r";
        let doc = parse_aamva(payload.as_bytes()).unwrap();
        assert_eq!(doc.kind, DocumentKind::IdCard);
        assert_eq!(doc.given_names, "ÉLODIE");
        assert_eq!(doc.birth_date, d(1990, 1, 2));
        assert_eq!(doc.expiry_date, Some(d(2031, 5, 9)));
        assert_eq!(doc.issuer, "ON");
        assert_eq!(doc.address.unwrap().postal_code, "M5V 2T6");
    }

    #[test]
    fn latin1_bytes_are_read() {
        let mut payload = b"@\n\x1e\rANSI 636000080001DL00310100DLDCSPE".to_vec();
        payload.push(0xD1); // Ñ in ISO-8859-1
        payload.extend_from_slice(b"A\nDACJOSE\nDBB01021990\r");
        let doc = parse_aamva(&payload).unwrap();
        assert_eq!(doc.family_name, "PEÑA");
    }

    #[test]
    fn truncation_flag() {
        let payload = "@\n\x1e\rANSI 636000080001DL00310100DLDCSWOLFESCHLEGELSTEINHAUSENBERGERDO\nDDET\nDACHUBERT\nDDFN\nDBB01021990\r";
        let doc = parse_aamva(payload.as_bytes()).unwrap();
        assert!(doc.name_truncated);
    }

    /// Payloads from the test suite of c0shea/IdParser (IdParser.Test/Licenses/CT Suffix.txt,
    /// IdParser.Test/ON License.txt, IdParser.Test/Licenses/PA Three Middle Names.txt): facts
    /// of real-world layouts, with the values that suite expects.
    const IDPARSER_CT_SUFFIX: &str = "@\n6AAMVA6360060101DL00290182DAACORTEZ,PABLO,,JR\nDAG715 MAIN LN\nDAISTRATFORD\nDAJCT\nDAK066140123  \nDAQ227881513\nDARD   \nDAS          \nDAT     \nDBA20221007\nDBB19761007\nDBC1\nDBD20160823\nDAU600\nDAYGRN\nDBF00\nDBHY";
    const IDPARSER_ON: &str = "@\n\nANSI 636012030001DL00000367DLDCAG   \nDCBNONE      \nDCDNONE \nDBA20200603\nDCSTESTER,                               \nDCTMARY,ANN                                                                       \nDBD20170607\nDBB19960603\nDBC2\nDAYNONE\nDAU170 CM\nDAG123 ST GEORGE ST E,                   \nDAIFERGUS              \nDAJON\nDAKN1M 3J6    \nDAQS9244-43879-65702\nDCFDV1539283\nDCGCAN\nDCHNONE\nDCK839267959\n";
    const IDPARSER_PA_V01: &str = "@\n\nANSI 6360250101DL00290194DLDAQ26798765\nDAAJOHN ROBERT LEE JOHNSON SMITH\nDAG140 MAIN ST\nDAIPHILADELPHIA\nDAJPA\nDAK19130      \nDARC   \nDAS*/1             \nDAT---- \nDAU600\nDAYHAZ\nDBA20200203\nDBB19860202\nDBCM\nDBD20160104\nDBF00\nDBHY\n";

    #[test]
    fn public_sample_untagged_subfile_and_aamva_file_type() {
        let doc = parse_aamva(IDPARSER_CT_SUFFIX.as_bytes()).unwrap();
        assert_eq!(doc.family_name, "CORTEZ");
        assert_eq!(doc.given_names, "PABLO");
        assert_eq!(doc.suffix.as_deref(), Some("JR"));
        assert_eq!(doc.birth_date, d(1976, 10, 7)); // written CCYYMMDD on a US v01 card
        assert_eq!(doc.expiry_date, Some(d(2022, 10, 7)));
        assert_eq!(doc.sex, Some(Sex::Male));
        assert_eq!(doc.issuer, "CT");
        assert_eq!(doc.address.unwrap().postal_code, "06614");
    }

    #[test]
    fn public_sample_ontario() {
        let doc = parse_aamva(IDPARSER_ON.as_bytes()).unwrap();
        assert_eq!(doc.family_name, "TESTER");
        assert_eq!(doc.given_names, "MARY ANN");
        assert_eq!(doc.birth_date, d(1996, 6, 3));
        assert_eq!(doc.expiry_date, Some(d(2020, 6, 3)));
        assert_eq!(doc.sex, Some(Sex::Female));
        assert_eq!(doc.issuer, "ON");
        let a = doc.address.unwrap();
        assert_eq!(a.street, "123 ST GEORGE ST E");
        assert_eq!(a.city, "FERGUS");
        assert_eq!(a.postal_code, "N1M 3J6");
    }

    #[test]
    fn public_sample_space_separated_v01_name_is_refused() {
        // Pennsylvania writes "FIRST MIDDLE… LAST" without separators. With a double
        // surname the family name cannot be told apart, so no name is guessed.
        assert_eq!(
            parse_aamva(IDPARSER_PA_V01.as_bytes()),
            Err(ScanError::MissingField("name"))
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            parse_aamva(b"https://example.org"),
            Err(ScanError::NotAamva)
        );
        // A header with only a jurisdiction subfile.
        assert_eq!(
            parse_aamva(b"@\n\x1e\rANSI 636000080001ZV00310010ZVZVA01\r"),
            Err(ScanError::NotAamva)
        );
        // No date of birth, or an impossible one.
        assert_eq!(
            parse_aamva(b"@\n\x1e\rANSI 636000080001DL00310100DLDCSDOE\nDACJO\r"),
            Err(ScanError::MissingField("date of birth"))
        );
        assert_eq!(
            parse_aamva(b"@\n\x1e\rANSI 636000080001DL00310100DLDCSDOE\nDACJO\nDBB02301990\r"),
            Err(ScanError::MissingField("date of birth"))
        );
        // v01 name without separators: family name unknowable.
        assert_eq!(
            parse_aamva(b"@\n\x1e\rANSI 6360000101DL00290100DLDAAJOHN Q PUBLIC\nDBB01021990\r"),
            Err(ScanError::MissingField("name"))
        );
    }
}
