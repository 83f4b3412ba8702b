//! Splitting text on one separator character, quickly for the short pieces of ER7.
//!
//! Fields, components and sub-components are mostly a few bytes long, where a plain byte
//! loop beats a vectorised search; segments and long fields are not. Separators are ASCII in every parsed
//! message (`Delimiters::validate` insists), but other characters still work.

/// How many bytes `find` checks one by one before a vectorised search.
pub(crate) const SHORT: usize = 16;

/// Iterator over the pieces of a text between occurrences of a separator, like
/// `str::split(char)`.
#[derive(Debug, Clone)]
pub(crate) struct SplitOn<'a> {
    rest: Option<&'a str>,
    sep: char,
}

impl<'a> SplitOn<'a> {
    pub(crate) fn new(text: &'a str, sep: char) -> Self {
        SplitOn {
            rest: Some(text),
            sep,
        }
    }
}

impl<'a> Iterator for SplitOn<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let text = self.rest?;
        match find(text, self.sep) {
            Some(i) => {
                // `i` is the start of the separator, so both cuts are on char boundaries.
                self.rest = Some(&text[i + self.sep.len_utf8()..]);
                Some(&text[..i])
            }
            None => {
                self.rest = None;
                Some(text)
            }
        }
    }
}

/// Byte offset of the first `sep` in `text`.
#[inline]
pub(crate) fn find(text: &str, sep: char) -> Option<usize> {
    if sep.is_ascii() {
        let (b, bytes) = (sep as u8, text.as_bytes());
        // Separators are usually close: look at the next few bytes one by one before
        // paying for a vectorised search of the rest.
        match bytes.get(SHORT..) {
            None => bytes.iter().position(|&x| x == b),
            Some(rest) => match bytes[..SHORT].iter().position(|&x| x == b) {
                Some(i) => Some(i),
                None => memchr::memchr(b, rest).map(|i| i + SHORT),
            },
        }
    } else {
        text.find(sep)
    }
}

/// How many times `sep` occurs in `text`.
#[inline]
pub(crate) fn count(text: &str, sep: char) -> usize {
    if sep.is_ascii() {
        let b = sep as u8;
        text.bytes().filter(|&x| x == b).count()
    } else {
        text.matches(sep).count()
    }
}

/// Piece `index` (0-based) of `text` split on `sep`; empty when absent.
#[inline]
pub(crate) fn nth(text: &str, sep: char, index: usize) -> &str {
    SplitOn::new(text, sep).nth(index).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_as_str_split() {
        let long = format!("{}|{}€|", "x".repeat(40), "é".repeat(20));
        for text in ["", "a", "|", "a|b", "|a||b|", "é|ü|", "a€b€", &long] {
            for sep in ['|', '€'] {
                let ours: Vec<_> = SplitOn::new(text, sep).collect();
                let std: Vec<_> = text.split(sep).collect();
                assert_eq!(ours, std, "{text:?} on {sep:?}");
                assert_eq!(count(text, sep), text.matches(sep).count());
                assert_eq!(find(text, sep), text.find(sep));
            }
        }
        assert_eq!(nth("a|b", '|', 1), "b");
        assert_eq!(nth("a|b", '|', 2), "");
    }
}
