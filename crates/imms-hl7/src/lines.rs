//! Splitting a message into segments at CR, LF or CRLF, skipping blank lines.

/// The non-blank lines of a text with their byte offsets, ended by `\r`, `\n` or `\r\n`.
///
/// A line is blank when it holds only spaces, tabs, form feeds or the MLLP framing bytes
/// (VT, FS) that a careless transport may leave behind.
#[derive(Clone, Debug)]
pub(crate) struct Lines<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Lines { text, pos: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    /// (byte offset of the line in the text, the line without its terminator)
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.text.len() {
            let start = self.pos;
            let rest = &self.text.as_bytes()[start..];
            let len = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
            // CR and LF are ASCII, so both ends are character boundaries.
            let line = &self.text[start..start + len];
            self.pos = start + len + 1;
            if !is_blank(line) {
                return Some((start, line));
            }
        }
        None
    }
}

fn is_blank(line: &str) -> bool {
    line.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | 0x0B | 0x0C | 0x1C))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<(usize, &str)> {
        Lines::new(s).collect()
    }

    #[test]
    fn every_terminator() {
        assert_eq!(
            lines("A\rB\nC\r\nD"),
            [(0, "A"), (2, "B"), (4, "C"), (7, "D")]
        );
    }

    #[test]
    fn blank_lines_and_trailing_terminators() {
        assert_eq!(lines("A\r\r\n \t\nB\r\n\x1c\r"), [(0, "A"), (7, "B")]);
        assert_eq!(lines(""), []);
        assert_eq!(lines("\r\n"), []);
    }

    #[test]
    fn multibyte_text() {
        assert_eq!(lines("é\rü"), [(0, "é"), (3, "ü")]);
    }
}
