//! ICAO 9303 TD3 machine readable zone (the two 44-character lines of a passport data page),
//! read into an [`IdDocument`] with every check digit verified.
//!
//! ```text
//! line 1: P<ISSFAMILY<NAME<<GIVEN<NAMES<<<<<<<<<<<<<<<<
//! line 2: DOCNUMBER C NAT YYMMDD C S YYMMDD C PERSONALNUMBER C C
//! ```
//! Check digits: document number, birth date, expiry date, personal number, and the composite
//! over all of them. The name line has no check digit, so it is held to the strict shape
//! `FAMILY(<PART)*<<GIVEN(<PART)*<<<…` and anything else is refused as unreadable.

use chrono::{Datelike, NaiveDate};

use crate::{DocumentKind, IdDocument, ScanError, Sex};

const LEN: usize = 44;

/// Finds a TD3 MRZ in `text` (two consecutive 44-character lines; spaces inside a line are
/// ignored, as OCR output has them) and parses it. `today` decides the century of the birth
/// date: the latest century that does not put it in the future.
pub fn parse_mrz(text: &str, today: NaiveDate) -> Result<IdDocument, ScanError> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect())
        .filter(|l: &String| !l.is_empty())
        .collect();
    let pair = lines
        .windows(2)
        .find(|w| w[0].len() == LEN && w[1].len() == LEN && w[0].starts_with('P'));
    match pair {
        Some(w) => parse_td3(&w[0], &w[1], today),
        None if lines
            .windows(2)
            .any(|w| w[0].len() == LEN && w[1].len() == LEN && w[0].starts_with('V')) =>
        {
            Err(ScanError::UnsupportedDocument("a visa".into()))
        }
        None if lines.iter().filter(|l| l.len() == 30).count() >= 3 => {
            Err(ScanError::UnsupportedDocument(
                "a card with a three-line MRZ; use the passport's photo page".into(),
            ))
        }
        None => Err(ScanError::MrzUnreadable),
    }
}

/// Parses the two lines of a TD3 MRZ.
pub fn parse_td3(line1: &str, line2: &str, today: NaiveDate) -> Result<IdDocument, ScanError> {
    let (l1, l2) = (line1.as_bytes(), line2.as_bytes());
    if l1.len() != LEN || l2.len() != LEN {
        return Err(ScanError::MrzUnreadable);
    }
    if !l1.iter().chain(l2).all(|&c| is_mrz_char(c)) {
        return Err(ScanError::MrzUnreadable);
    }
    if l1[0] != b'P' {
        return Err(ScanError::UnsupportedDocument(
            "not a passport (the MRZ does not start with P)".into(),
        ));
    }

    verify_line2(line2)?;

    let birth = yymmdd(&l2[13..19]).ok_or(ScanError::MrzUnreadable)?;
    let birth_date = century(birth, |y| {
        NaiveDate::from_ymd_opt(y, birth.1, birth.2).filter(|d| *d <= today)
    })
    .ok_or(ScanError::MrzUnreadable)?;
    let exp = yymmdd(&l2[21..27]).ok_or(ScanError::MrzUnreadable)?;
    let expiry_date = NaiveDate::from_ymd_opt(2000 + exp.0 as i32, exp.1, exp.2)
        .ok_or(ScanError::MrzUnreadable)?;

    let sex = match l2[20] {
        b'M' => Sex::Male,
        b'F' => Sex::Female,
        b'<' | b'X' => Sex::Unspecified,
        _ => return Err(ScanError::MrzUnreadable),
    };
    let issuer = code(&l1[2..5]).ok_or(ScanError::MrzUnreadable)?;
    let (family_name, given_names) = names(&line1[5..]).ok_or(ScanError::MrzUnreadable)?;

    Ok(IdDocument {
        kind: DocumentKind::Passport,
        family_name,
        given_names,
        suffix: None,
        birth_date,
        expiry_date: Some(expiry_date),
        sex: Some(sex),
        address: None,
        issuer,
        name_truncated: l1[LEN - 1] != b'<',
        iin: None,
        aamva_version: None,
    })
}

/// Verifies the five check digits of a TD3 data line (line 2).
pub(crate) fn verify_line2(line2: &str) -> Result<(), ScanError> {
    let l2 = line2.as_bytes();
    if l2.len() != LEN || !l2.iter().all(|&c| is_mrz_char(c)) {
        return Err(ScanError::MrzUnreadable);
    }
    verify(&l2[0..9], l2[9], "the document number")?;
    verify(&l2[13..19], l2[19], "the date of birth")?;
    verify(&l2[21..27], l2[27], "the expiry date")?;
    if !(l2[42] == b'<' && l2[28..42].iter().all(|&c| c == b'<')) {
        verify(&l2[28..42], l2[42], "the personal number")?;
    }
    let composite: Vec<u8> = [&l2[0..10], &l2[13..20], &l2[21..43]].concat();
    verify(&composite, l2[43], "the whole zone")
}

fn is_mrz_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'<'
}

/// ICAO 9303 check digit: weights 7, 3, 1; digits their value, A–Z 10–35, `<` 0.
pub fn check_digit(field: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in field.iter().enumerate() {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'<' => 0,
            _ => return None,
        };
        sum += u32::from(v) * [7, 3, 1][i % 3];
    }
    Some((sum % 10) as u8)
}

fn verify(field: &[u8], check: u8, what: &'static str) -> Result<(), ScanError> {
    let expected = check_digit(field).ok_or(ScanError::MrzUnreadable)?;
    let got = match check {
        b'0'..=b'9' => check - b'0',
        b'<' => 0,
        _ => return Err(ScanError::CheckDigit(what)),
    };
    if got == expected {
        Ok(())
    } else {
        Err(ScanError::CheckDigit(what))
    }
}

fn yymmdd(s: &[u8]) -> Option<(u32, u32, u32)> {
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |i: usize| u32::from(s[i] - b'0') * 10 + u32::from(s[i + 1] - b'0');
    Some((n(0), n(2), n(4)))
}

fn century(
    (yy, _, _): (u32, u32, u32),
    make: impl Fn(i32) -> Option<NaiveDate>,
) -> Option<NaiveDate> {
    [2000, 1900]
        .into_iter()
        .find_map(|c| make(c + yy as i32))
        .filter(|d| d.year() >= 1900)
}

fn code(s: &[u8]) -> Option<String> {
    let c: String = String::from_utf8_lossy(s).trim_end_matches('<').into();
    (!c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase())).then_some(c)
}

/// Splits the name field: `FAMILY<PARTS<<GIVEN<PARTS<<<…`. Returns `None` unless the field has
/// exactly that shape (a filler misread as a letter usually breaks it).
fn names(field: &str) -> Option<(String, String)> {
    let body = field.trim_end_matches('<');
    let (family, given) = body.split_once("<<").unwrap_or((body, ""));
    let part = |s: &str| {
        !s.is_empty()
            && s.split('<')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase()))
    };
    if !part(family) || !(given.is_empty() || part(given)) {
        return None;
    }
    Some((family.replace('<', " "), given.replace('<', " ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specimen in ICAO Doc 9303 part 4 (Utopia, Anna Maria Eriksson).
    const L1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
    const L2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    #[test]
    fn icao_specimen() {
        let doc = parse_td3(L1, L2, today()).unwrap();
        assert_eq!(doc.kind, DocumentKind::Passport);
        assert_eq!(doc.family_name, "ERIKSSON");
        assert_eq!(doc.given_names, "ANNA MARIA");
        assert_eq!(
            doc.birth_date,
            NaiveDate::from_ymd_opt(1974, 8, 12).unwrap()
        );
        assert_eq!(doc.expiry_date, NaiveDate::from_ymd_opt(2012, 4, 15));
        assert_eq!(doc.sex, Some(Sex::Female));
        assert_eq!(doc.issuer, "UTO");
        assert_eq!(doc.address, None);
        assert!(!doc.name_truncated);
    }

    #[test]
    fn finds_lines_in_ocr_text() {
        let text = format!(
            "PASSPORT\nsome noise\n{}\n{} \n",
            L1,
            &L2.replace("UTO", "U TO")
        );
        assert_eq!(parse_mrz(&text, today()).unwrap().family_name, "ERIKSSON");
        assert_eq!(
            parse_mrz("nothing here", today()),
            Err(ScanError::MrzUnreadable)
        );
    }

    #[test]
    fn every_check_digit_is_verified() {
        let cases = [
            (9, "the document number"),
            (19, "the date of birth"),
            (27, "the expiry date"),
            (42, "the personal number"),
            (43, "the whole zone"),
        ];
        for (pos, what) in cases {
            let mut l2 = L2.as_bytes().to_vec();
            l2[pos] = if l2[pos] == b'1' { b'2' } else { b'1' };
            let l2 = String::from_utf8(l2).unwrap();
            assert_eq!(
                parse_td3(L1, &l2, today()),
                Err(ScanError::CheckDigit(what)),
                "{pos}"
            );
        }
        // A changed birth date with its own check digit still fails the composite.
        let l2 = L2.replace("7408122", "7409129");
        assert_eq!(
            parse_td3(L1, &l2, today()),
            Err(ScanError::CheckDigit("the whole zone"))
        );
    }

    #[test]
    fn name_line_shape_is_enforced() {
        let bad = "P<UTOERIKSSON<<ANNA<MARIA<<<<<K<<<<<<<<<<<<<";
        assert_eq!(parse_td3(bad, L2, today()), Err(ScanError::MrzUnreadable));
        let bad = "P<UTOERIKSSON<<ANNA<<MARIA<<<<<<<<<<<<<<<<<<";
        assert_eq!(parse_td3(bad, L2, today()), Err(ScanError::MrzUnreadable));
        let lower = L1.to_lowercase();
        assert_eq!(
            parse_td3(&lower, L2, today()),
            Err(ScanError::MrzUnreadable)
        );
    }

    #[test]
    fn check_digits() {
        assert_eq!(check_digit(b"L898902C3"), Some(6));
        assert_eq!(check_digit(b"740812"), Some(2));
        assert_eq!(check_digit(b"120415"), Some(9));
        assert_eq!(check_digit(b"a"), None);
    }

    #[test]
    fn birth_century() {
        // Born 2010 (a child's passport) vs 1930.
        let doc = parse_td3(L1, &line2("100101"), today()).unwrap();
        assert_eq!(doc.birth_date, NaiveDate::from_ymd_opt(2010, 1, 1).unwrap());
        let doc = parse_td3(L1, &line2("300101"), today()).unwrap();
        assert_eq!(doc.birth_date, NaiveDate::from_ymd_opt(1930, 1, 1).unwrap());
        assert_eq!(
            parse_td3(L1, &line2("301301"), today()),
            Err(ScanError::MrzUnreadable)
        );
    }

    /// The specimen's line 2 with another birth date, all check digits recomputed.
    fn line2(dob: &str) -> String {
        let digit = |f: &str| char::from(b'0' + check_digit(f.as_bytes()).unwrap());
        let mut s = format!("L898902C36UTO{dob}{}F1204159ZE184226B<<<<<1", digit(dob));
        let b = s.as_bytes();
        let comp = [&b[0..10], &b[13..20], &b[21..43]].concat();
        s.push(char::from(b'0' + check_digit(&comp).unwrap()));
        s
    }

    #[test]
    fn visa_and_td1_refused() {
        let visa = format!("V{}\n{}", &L1[1..], L2);
        assert!(matches!(
            parse_mrz(&visa, today()),
            Err(ScanError::UnsupportedDocument(_))
        ));
        let td1 = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        assert!(matches!(
            parse_mrz(td1, today()),
            Err(ScanError::UnsupportedDocument(_))
        ));
    }
}
