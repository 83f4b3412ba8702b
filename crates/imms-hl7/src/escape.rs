//! Escape sequences: how a value containing a delimiter, a line break or formatting travels
//! inside a field (HL7 v2.5.1 chapter 2.7).

use std::borrow::Cow;

use crate::split::find;
use crate::Delimiters;

/// Most line breaks `\.sp n\` may stand for; bounds the output of hostile input.
const MAX_SKIPPED_LINES: usize = 100;

/// Decodes the escape sequences in `raw`, a field, component or sub-component as received.
///
/// - `\F\ \S\ \T\ \R\ \E\` become the field, component, sub-component, repetition and escape
///   characters; `\P\` the truncation character when the message declares one.
/// - `\Xhh…\` becomes the bytes `hh…`, read as UTF-8 when they are valid UTF-8 and as
///   Latin-1 otherwise.
/// - `\.br\` becomes `"\r"`, and `\.sp n\` that many `"\r"` (one when no number).
/// - Sequences that only format or switch character sets carry no text and are left out:
///   `\H\ \N\` (highlighting), `\.fi\ \.nf\ \.in n\ \.ti n\ \.sk n\ \.ce\`, `\Cxxyy\`,
///   `\Mxxyyzz\` and locally defined `\Z…\`.
/// - Anything else, including an escape character without its closing partner, is kept
///   literally, so sloppy input such as a Windows path loses nothing.
///
/// Borrows `raw` unchanged when it holds no escape character. Never panics.
pub fn unescape<'a>(raw: &'a str, d: &Delimiters) -> Cow<'a, str> {
    let e = d.escape;
    let Some(first) = find(raw, e) else {
        return Cow::Borrowed(raw);
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first]);
    let mut rest = &raw[first..];
    // Invariant: `rest` starts with the escape character.
    loop {
        let after = &rest[e.len_utf8()..];
        let Some(end) = find(after, e) else {
            out.push_str(rest);
            return Cow::Owned(out);
        };
        let remaining = if decode(&after[..end], d, &mut out) {
            &after[end + e.len_utf8()..]
        } else {
            // Not a sequence we know: keep this escape character as text and look for a
            // sequence from its would-be closing partner on.
            out.push(e);
            after
        };
        match find(remaining, e) {
            Some(next) => {
                out.push_str(&remaining[..next]);
                rest = &remaining[next..];
            }
            None => {
                out.push_str(remaining);
                return Cow::Owned(out);
            }
        }
    }
}

/// Appends the text that escape sequence `seq` (without its escape characters) stands for.
/// Returns false, appending nothing, when `seq` is not an escape sequence.
fn decode(seq: &str, d: &Delimiters, out: &mut String) -> bool {
    let simple = match seq {
        "F" => Some(d.field),
        "S" => Some(d.component),
        "T" => Some(d.subcomponent),
        "R" => Some(d.repetition),
        "E" => Some(d.escape),
        "P" => d.truncation,
        _ => None,
    };
    if let Some(c) = simple {
        out.push(c);
        return true;
    }
    let mut chars = seq.chars();
    let Some(kind) = chars.next() else {
        return false;
    };
    let arg = chars.as_str();
    match kind {
        'H' | 'N' => arg.is_empty(),
        'X' => decode_hex(arg, out),
        'C' => arg.len() == 4 && is_hex(arg),
        'M' => (arg.len() == 4 || arg.len() == 6) && is_hex(arg),
        'Z' => !arg.is_empty(),
        '.' => format_command(arg, out),
        _ => false,
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn decode_hex(hex: &str, out: &mut String) -> bool {
    if hex.is_empty() || hex.len() % 2 != 0 || !is_hex(hex) {
        return false;
    }
    let bytes: Vec<u8> = hex
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| (hex_value(pair[0]) << 4) | hex_value(pair[1]))
        .collect();
    match std::str::from_utf8(&bytes) {
        Ok(s) => out.push_str(s),
        // Latin-1: each byte is the code point of the same number.
        Err(_) => out.extend(bytes.iter().map(|&b| char::from(b))),
    }
    true
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// `\.br\`, `\.sp n\` and the formatting commands that carry no text.
fn format_command(cmd: &str, out: &mut String) -> bool {
    let (Some(name), Some(arg)) = (cmd.get(..2), cmd.get(2..)) else {
        return false;
    };
    let arg = arg.trim();
    let number = || arg.trim_start_matches(['+', '-']);
    let numeric = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match name {
        "br" | "fi" | "nf" | "ce" if arg.is_empty() => {
            if name == "br" {
                out.push('\r');
            }
            true
        }
        "sp" if numeric(arg) => {
            let lines = if arg.is_empty() {
                1
            } else {
                arg.parse::<usize>()
                    .unwrap_or(MAX_SKIPPED_LINES)
                    .clamp(1, MAX_SKIPPED_LINES)
            };
            out.extend(std::iter::repeat_n('\r', lines));
            true
        }
        "sk" if numeric(arg) => true,
        "in" | "ti" if numeric(number()) => true,
        _ => false,
    }
}

/// Encodes `value` so that it can stand in a field, component or sub-component: the
/// delimiters become `\F\ \S\ \T\ \R\ \E\` (`\P\` for the truncation character), and
/// carriage returns and line feeds, which would end the segment, become `\X0D\` and `\X0A\`.
///
/// Borrows `value` when it needs no escaping. `unescape` reverses it exactly.
pub fn escape<'v>(value: &'v str, d: &Delimiters) -> Cow<'v, str> {
    let needs = |c: char| c == '\r' || c == '\n' || d.is_delimiter(c);
    let Some(first) = value.find(needs) else {
        return Cow::Borrowed(value);
    };
    let mut out = String::with_capacity(value.len() + 8);
    out.push_str(&value[..first]);
    for c in value[first..].chars() {
        let code = if c == d.field {
            "F"
        } else if c == d.component {
            "S"
        } else if c == d.subcomponent {
            "T"
        } else if c == d.repetition {
            "R"
        } else if c == d.escape {
            "E"
        } else if Some(c) == d.truncation {
            "P"
        } else if c == '\r' {
            "X0D"
        } else if c == '\n' {
            "X0A"
        } else {
            out.push(c);
            continue;
        };
        out.push(d.escape);
        out.push_str(code);
        out.push(d.escape);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(s: &str) -> String {
        unescape(s, &Delimiters::default()).into_owned()
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            unescape("SMITH", &Delimiters::default()),
            Cow::Borrowed("SMITH")
        ));
        assert!(matches!(
            escape("SMITH", &Delimiters::default()),
            Cow::Borrowed("SMITH")
        ));
    }

    #[test]
    fn delimiter_escapes() {
        assert_eq!(un(r"A\F\B\S\C\T\D\R\E\E\F"), r"A|B^C&D~E\F");
        assert_eq!(un(r"\S\"), "^");
        // \P\ only means something when the message declares a truncation character.
        assert_eq!(un(r"x\P\y"), r"x\P\y");
        let d = Delimiters {
            truncation: Some('#'),
            ..Delimiters::default()
        };
        assert_eq!(unescape(r"x\P\y", &d), "x#y");
    }

    #[test]
    fn hex_escapes() {
        assert_eq!(un(r"\X0D\"), "\r");
        assert_eq!(un(r"a\X0D0A\b"), "a\r\nb");
        assert_eq!(un(r"\XC3A9\"), "é"); // valid UTF-8
        assert_eq!(un(r"\XE9\"), "é"); // Latin-1
        assert_eq!(un(r"\Xe9\"), "é");
        // Malformed hex stays as it was.
        assert_eq!(un(r"\X0\"), r"\X0\");
        assert_eq!(un(r"\XZZ\"), r"\XZZ\");
        assert_eq!(un(r"\X\"), r"\X\");
    }

    #[test]
    fn formatting() {
        assert_eq!(un(r"line 1\.br\line 2"), "line 1\rline 2");
        assert_eq!(un(r"a\.sp\b"), "a\rb");
        assert_eq!(un(r"a\.sp 2\b"), "a\r\rb");
        assert_eq!(
            un(r"a\.sp99999999999999999999\b").len(),
            2 + MAX_SKIPPED_LINES
        );
        assert_eq!(un(r"\H\IMPORTANT\N\ note"), "IMPORTANT note");
        assert_eq!(un(r"\.in+4\x\.ti-2\\.fi\\.nf\\.sk 3\\.ce\y"), "xy");
        assert_eq!(un(r"\C2842\abc\M2442\\Zlocal\"), "abc");
    }

    #[test]
    fn bad_escapes_stay_literal() {
        assert_eq!(un(r"C:\path\file.txt"), r"C:\path\file.txt");
        assert_eq!(un(r"unterminated \F"), r"unterminated \F");
        assert_eq!(un(r"\"), r"\");
        assert_eq!(un(r"\\"), r"\\");
        assert_eq!(un(r"a\\F\"), r"a\|");
        assert_eq!(un(r"\.xx\"), r"\.xx\");
        assert_eq!(un(r"\H1\"), r"\H1\");
        assert_eq!(un("\\é\\F\\"), "\\é|");
    }

    #[test]
    fn custom_escape_character() {
        let d = Delimiters::from_msh('#', "$%!@").unwrap();
        assert_eq!(unescape("a!F!b!S!c!E!", &d), "a#b$c!");
        assert_eq!(unescape(r"back\slash", &d), r"back\slash");
        assert_eq!(escape("a#b$c!d%e@f\\", &d), "a!F!b!S!c!E!d!R!e!T!f\\");
    }

    #[test]
    fn escape_everything() {
        let d = Delimiters {
            truncation: Some('#'),
            ..Delimiters::default()
        };
        let v = "|^~\\&#\r\n plain é";
        let e = escape(v, &d);
        assert_eq!(e, r"\F\\S\\R\\E\\T\\P\\X0D\\X0A\ plain é");
        assert_eq!(unescape(&e, &d), v);
    }
}
