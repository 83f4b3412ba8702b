//! The AAMVA file structure: header, subfile designators, subfiles and their elements.
//!
//! ```text
//! @ LF RS CR  "ANSI "  IIN(6)  version(2)  [jurisdiction version(2), v02+]  entries(2)
//! { type(2) offset(4) length(4) } x entries        subfile designators
//! type(2) element { LF element } CR                 each subfile, e.g. "DLDAQ123\nDCSDOE\n…\r"
//! ```
//!
//! Real cards bend the rules: offsets off by a byte or two, another separator byte, `AAMVA`
//! instead of `ANSI ` as file type, a v01 header with or without the jurisdiction version. So
//! offsets are used as hints and each subfile is found by its type tag.

use crate::ScanError;

/// Payloads bigger than this are not AAMVA (a PDF417 symbol holds at most ~1.8 KB).
const MAX_PAYLOAD: usize = 16 * 1024;

/// The parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub iin: String,
    pub version: u8,
    pub jurisdiction_version: Option<u8>,
}

/// One subfile: its two-character type (`DL`, `ID`, `ZV`, …) and its elements in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subfile {
    pub kind: String,
    pub elements: Vec<(String, String)>,
}

impl Subfile {
    /// The first value of element `code`, trimmed; `None` when absent or blank.
    pub fn get(&self, code: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// A payload split into header and subfiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payload {
    pub header: Header,
    pub subfiles: Vec<Subfile>,
}

struct Designator {
    kind: [u8; 2],
    offset: usize,
}

/// Splits a raw barcode payload. Fails with [`ScanError::NotAamva`] when the header is absent.
pub(crate) fn split(payload: &[u8]) -> Result<Payload, ScanError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(ScanError::NotAamva);
    }
    // Scanners sometimes hand over leading whitespace or NULs.
    let start = payload
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0)
        .ok_or(ScanError::NotAamva)?;
    let p = &payload[start..];
    if p.first() != Some(&b'@') {
        return Err(ScanError::NotAamva);
    }
    // File type within the first few bytes after the compliance indicator.
    let window = &p[..p.len().min(12)];
    let ft = find(window, b"ANSI ")
        .or_else(|| find(window, b"AAMVA"))
        .ok_or(ScanError::NotAamva)?;
    let (element_sep, segment_term) = if ft == 4 {
        (p[1], p[3])
    } else {
        (b'\n', b'\r')
    };

    let mut cur = Cursor { p, at: ft + 5 };
    let iin = cur.digits(6).ok_or(ScanError::NotAamva)?;
    let version = cur.number(2).ok_or(ScanError::NotAamva)? as u8;
    // v01 headers have no jurisdiction version; some v01 cards carry one anyway. Decide by
    // what follows: "NN" + subfile type, or "NNNN" + subfile type.
    let jurisdiction_version = if cur.looks_like(&[Digit, Digit, Upper, Alnum]) {
        None
    } else {
        Some(cur.number(2).ok_or(ScanError::NotAamva)? as u8)
    };
    let entries = cur.number(2).ok_or(ScanError::NotAamva)?;
    if entries == 0 {
        return Err(ScanError::NotAamva);
    }
    let mut designators = Vec::with_capacity(entries.min(16));
    for _ in 0..entries {
        let kind = cur.take(2).ok_or(ScanError::NotAamva)?;
        if !kind.iter().all(u8::is_ascii_alphanumeric) {
            return Err(ScanError::NotAamva);
        }
        let offset = cur.number(4).ok_or(ScanError::NotAamva)?;
        let _length = cur.number(4).ok_or(ScanError::NotAamva)?;
        designators.push(Designator {
            kind: [kind[0], kind[1]],
            offset: offset + start,
        });
    }
    let data_start = cur.at + start;

    // Locate every subfile, then cut each at the next one's start.
    // (where the subfile starts, where its elements start, its type)
    let mut starts: Vec<(usize, usize, [u8; 2])> = Vec::with_capacity(designators.len());
    let mut search_from = data_start;
    for (i, d) in designators.iter().enumerate() {
        if let Some(at) = locate(payload, d, data_start.max(search_from)) {
            starts.push((at, at + 2, d.kind));
            search_from = at + 2;
        } else if i == 0 && untagged_first(payload, d, data_start) {
            // Some cards (e.g. older Connecticut ones) omit the type tag of their only
            // subfile: its first element follows the designator table directly.
            starts.push((data_start, data_start, d.kind));
            search_from = data_start + 1;
        }
    }
    starts.sort_by_key(|(at, _, _)| *at);
    let mut subfiles = Vec::with_capacity(starts.len());
    for (i, (_, body_at, kind)) in starts.iter().enumerate() {
        let limit = starts
            .get(i + 1)
            .map_or(payload.len(), |(next, _, _)| *next);
        let body = &payload[*body_at..limit];
        let end = body
            .iter()
            .position(|b| *b == segment_term)
            .unwrap_or(body.len());
        subfiles.push(Subfile {
            kind: String::from_utf8_lossy(kind).into_owned(),
            elements: elements(&body[..end], element_sep),
        });
    }
    Ok(Payload {
        header: Header {
            iin,
            version,
            jurisdiction_version,
        },
        subfiles,
    })
}

/// Finds a subfile: at its declared offset (± 2 bytes), else by searching for its type tag
/// followed by an element code.
fn locate(payload: &[u8], d: &Designator, from: usize) -> Option<usize> {
    let tagged = |at: usize| {
        at >= from
            && payload.get(at..at + 2) == Some(&d.kind[..])
            && payload
                .get(at + 2..at + 5)
                .is_some_and(|c| c.iter().all(u8::is_ascii_uppercase))
    };
    for delta in [0isize, -1, 1, -2, 2] {
        if let Some(at) = d.offset.checked_add_signed(delta) {
            if tagged(at) {
                return Some(at);
            }
        }
    }
    (from..payload.len()).find(|&at| tagged(at))
}

/// True when a DL/ID subfile without its type tag starts right after the designator table
/// (its declared offset within two bytes of there) with a `D..` element code.
fn untagged_first(payload: &[u8], d: &Designator, data_start: usize) -> bool {
    (&d.kind == b"DL" || &d.kind == b"ID")
        && d.offset.abs_diff(data_start) <= 2
        && payload
            .get(data_start..data_start + 3)
            .is_some_and(|c| c[0] == b'D' && c.iter().all(u8::is_ascii_uppercase))
}

/// Splits a subfile body into `(code, value)` pairs. Element codes are three upper-case letters.
fn elements(body: &[u8], element_sep: u8) -> Vec<(String, String)> {
    body.split(|b| *b == element_sep || *b == b'\n' || *b == b'\r')
        .filter(|raw| raw.len() >= 3 && raw[..3].iter().all(u8::is_ascii_uppercase))
        .map(|raw| {
            (
                String::from_utf8_lossy(&raw[..3]).into_owned(),
                text(&raw[3..]),
            )
        })
        .collect()
}

/// Decodes a value: UTF-8 when valid, else ISO-8859-1 (what PDF417 byte mode defaults to).
fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[derive(Clone, Copy)]
enum Class {
    Digit,
    Upper,
    Alnum,
}
use Class::*;

struct Cursor<'a> {
    p: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.p.get(self.at..self.at + n)?;
        self.at += n;
        Some(s)
    }
    fn digits(&mut self, n: usize) -> Option<String> {
        let s = self.p.get(self.at..self.at + n)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += n;
        Some(String::from_utf8_lossy(s).into_owned())
    }
    fn number(&mut self, n: usize) -> Option<usize> {
        self.digits(n)?.parse().ok()
    }
    fn looks_like(&self, pattern: &[Class]) -> bool {
        pattern.iter().enumerate().all(|(i, c)| {
            self.p.get(self.at + i).is_some_and(|b| match c {
                Digit => b.is_ascii_digit(),
                Upper => b.is_ascii_uppercase(),
                Alnum => b.is_ascii_alphanumeric(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_v10_sample() {
        let p = split(crate::aamva::tests::AAMVA_2020_SAMPLE.as_bytes()).unwrap();
        assert_eq!(p.header.iin, "636000");
        assert_eq!(p.header.version, 10);
        assert_eq!(p.header.jurisdiction_version, Some(1));
        assert_eq!(p.subfiles.len(), 2);
        assert_eq!(p.subfiles[0].kind, "DL");
        assert_eq!(p.subfiles[0].get("DAQ"), Some("T64235789"));
        assert_eq!(p.subfiles[0].get("DDD"), Some("1"));
        assert_eq!(p.subfiles[1].kind, "ZV");
        assert_eq!(p.subfiles[1].get("ZVA"), Some("01"));
    }

    #[test]
    fn v01_header_without_jurisdiction_version() {
        let p = split(b"@\n\x1e\rANSI 6360000101DL00290050DLDAQ1\nDAADOE,JOHN\r").unwrap();
        assert_eq!(p.header.version, 1);
        assert_eq!(p.header.jurisdiction_version, None);
        assert_eq!(p.subfiles[0].get("DAA"), Some("DOE,JOHN"));
    }

    #[test]
    fn wrong_offsets_are_tolerated() {
        let p = split(b"@\n\x1e\rANSI 636000080001DL00990050DLDAQ1\nDCSDOE\r").unwrap();
        assert_eq!(p.subfiles[0].get("DCS"), Some("DOE"));
    }

    #[test]
    fn not_aamva() {
        for bad in [
            &b""[..],
            b"hello world",
            b"@\n\x1e\rANSI ",
            b"@\n\x1e\rANSI 63600010",
            b"@\n\x1e\rANSI 6360001001",
            b"@\n\x1e\rANSI 63600010010",
            b"@\n\x1e\rANSI 6360001001\x00\x00",
        ] {
            assert_eq!(split(bad), Err(ScanError::NotAamva), "{bad:?}");
        }
    }
}
