//! HL7 DT/DTM values: `YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]`. The registry keeps dates only.

use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    /// Fewer than eight digits: the day is not known.
    Incomplete,
    /// Not digits, or not a calendar date (2023-02-30).
    Invalid,
}

/// The calendar date at the start of an HL7 DT or DTM value.
pub fn parse_date(value: &str) -> Result<NaiveDate, DateError> {
    let value = value.trim();
    let digits: usize = value.bytes().take_while(u8::is_ascii_digit).count();
    if digits < 8 {
        return Err(if value.bytes().all(|b| b.is_ascii_digit()) {
            DateError::Incomplete
        } else {
            DateError::Invalid
        });
    }
    let rest = &value[digits..];
    // The time part, if any, must itself be digits with an optional fraction and offset.
    if !(digits == 8 || digits == 10 || digits == 12 || digits == 14) || !valid_tail(rest) {
        return Err(DateError::Invalid);
    }
    // Digits only (checked above), so plain arithmetic; chrono's format parser is slow.
    let num = |r: std::ops::Range<usize>| {
        value.as_bytes()[r]
            .iter()
            .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'))
    };
    NaiveDate::from_ymd_opt(num(0..4) as i32, num(4..6), num(6..8)).ok_or(DateError::Invalid)
}

fn valid_tail(rest: &str) -> bool {
    let rest = match rest.strip_prefix('.') {
        Some(fraction) => {
            let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 4 {
                return false;
            }
            &fraction[n..]
        }
        None => rest,
    };
    match rest.as_bytes().first() {
        None => true,
        Some(b'+' | b'-') => rest.len() == 5 && rest[1..].bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dates_and_date_times() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(parse_date("20240229"), Ok(d));
        assert_eq!(parse_date("202402291530"), Ok(d));
        assert_eq!(parse_date("20240229153000.123-0500"), Ok(d));
        assert_eq!(parse_date("2024"), Err(DateError::Incomplete));
        assert_eq!(parse_date("20230229"), Err(DateError::Invalid));
        assert_eq!(parse_date("2023-01-01"), Err(DateError::Invalid));
        assert_eq!(parse_date("20230101x"), Err(DateError::Invalid));
        assert_eq!(parse_date("202301011"), Err(DateError::Invalid));
        assert_eq!(parse_date(""), Err(DateError::Incomplete));
    }
}
