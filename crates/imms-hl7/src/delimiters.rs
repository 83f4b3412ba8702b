//! The delimiter characters a message declares in MSH-1 and MSH-2.

use crate::error::ParseError;

/// The characters that structure an ER7 message: MSH-1 and the characters of MSH-2.
///
/// The default is the standard set `|^~\&` of HL7 v2.5.1, with no truncation character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delimiters {
    /// Separates fields (MSH-1), normally `|`.
    pub field: char,
    /// Separates components, normally `^`.
    pub component: char,
    /// Separates repetitions of a field, normally `~`.
    pub repetition: char,
    /// Starts and ends an escape sequence, normally `\`.
    pub escape: char,
    /// Separates sub-components, normally `&`.
    pub subcomponent: char,
    /// Marks a truncated value (v2.7 and later), normally `#` when present.
    pub truncation: Option<char>,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: '\\',
            subcomponent: '&',
            truncation: None,
        }
    }
}

const FIELD: &str = "field separator";
const COMPONENT: &str = "component separator";
const REPETITION: &str = "repetition separator";
const ESCAPE: &str = "escape character";
const SUBCOMPONENT: &str = "sub-component separator";
const TRUNCATION: &str = "truncation character";

impl Delimiters {
    /// The value of MSH-2 for these delimiters, e.g. `^~\&` (or `^~\&#` with truncation).
    pub fn encoding_characters(&self) -> String {
        let mut s = String::with_capacity(5);
        s.push(self.component);
        s.push(self.repetition);
        s.push(self.escape);
        s.push(self.subcomponent);
        if let Some(t) = self.truncation {
            s.push(t);
        }
        s
    }

    /// Reads the delimiters from MSH-1 (`field`) and MSH-2 (`encoding_characters`), and
    /// checks them with [`validate`](Self::validate).
    pub fn from_msh(field: char, encoding_characters: &str) -> Result<Self, ParseError> {
        check_char(FIELD, field)?;
        let mut chars = encoding_characters.chars();
        let mut next = || chars.next();
        let (component, repetition, escape, subcomponent, truncation, extra) =
            (next(), next(), next(), next(), next(), next());
        let (Some(component), Some(repetition), Some(escape), Some(subcomponent), None) =
            (component, repetition, escape, subcomponent, extra)
        else {
            return Err(ParseError::EncodingCharacters {
                found: crate::error::excerpt(encoding_characters, 8),
                count: encoding_characters.chars().count(),
            });
        };
        let d = Delimiters {
            field,
            component,
            repetition,
            escape,
            subcomponent,
            truncation,
        };
        d.validate()?;
        Ok(d)
    }

    /// Checks that every delimiter is an ASCII punctuation character and that no two
    /// are the same, as `parse` requires and as `escape`/`unescape` need to round-trip.
    pub fn validate(&self) -> Result<(), ParseError> {
        let roles = self.roles();
        for (i, &(role, ch)) in roles.iter().enumerate() {
            let Some(ch) = ch else { continue };
            check_char(role, ch)?;
            if let Some(&(first, _)) = roles[..i].iter().find(|(_, c)| *c == Some(ch)) {
                return Err(ParseError::DuplicateDelimiter {
                    ch,
                    first,
                    second: role,
                });
            }
        }
        Ok(())
    }

    /// Whether `validate` accepts these delimiters.
    pub fn is_valid(&self) -> bool {
        self.validate().is_ok()
    }

    /// Whether `c` is one of the delimiters (including the truncation character).
    pub fn is_delimiter(&self, c: char) -> bool {
        c == self.field
            || c == self.component
            || c == self.repetition
            || c == self.escape
            || c == self.subcomponent
            || Some(c) == self.truncation
    }

    fn roles(&self) -> [(&'static str, Option<char>); 6] {
        [
            (FIELD, Some(self.field)),
            (COMPONENT, Some(self.component)),
            (REPETITION, Some(self.repetition)),
            (ESCAPE, Some(self.escape)),
            (SUBCOMPONENT, Some(self.subcomponent)),
            (TRUNCATION, self.truncation),
        ]
    }
}

fn check_char(role: &'static str, ch: char) -> Result<(), ParseError> {
    if ch.is_ascii_punctuation() {
        Ok(())
    } else {
        Err(ParseError::InvalidDelimiter { role, ch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_standard() {
        let d = Delimiters::default();
        assert_eq!(d.field, '|');
        assert_eq!(d.encoding_characters(), "^~\\&");
        assert!(d.is_valid());
    }

    #[test]
    fn from_msh_reads_four_or_five() {
        let d = Delimiters::from_msh('|', "^~\\&").unwrap();
        assert_eq!(d, Delimiters::default());
        let d = Delimiters::from_msh('|', "^~\\&#").unwrap();
        assert_eq!(d.truncation, Some('#'));
        assert_eq!(d.encoding_characters(), "^~\\&#");
        let d = Delimiters::from_msh('#', "$%!@").unwrap();
        assert_eq!(
            (d.component, d.repetition, d.escape, d.subcomponent),
            ('$', '%', '!', '@')
        );
    }

    #[test]
    fn wrong_count() {
        for enc in ["", "^", "^~\\", "^~\\&#*"] {
            let e = Delimiters::from_msh('|', enc).unwrap_err();
            assert!(
                matches!(e, ParseError::EncodingCharacters { count, .. } if count == enc.len()),
                "{enc}: {e}"
            );
        }
    }

    #[test]
    fn rejects_alphanumeric_and_whitespace() {
        assert!(matches!(
            Delimiters::from_msh('A', "^~\\&"),
            Err(ParseError::InvalidDelimiter { ch: 'A', .. })
        ));
        assert!(matches!(
            Delimiters::from_msh('|', "^~\\1"),
            Err(ParseError::InvalidDelimiter { ch: '1', role }) if role == SUBCOMPONENT
        ));
        assert!(Delimiters::from_msh('|', "^ \\&").is_err());
        assert!(Delimiters::from_msh('|', "^~\\é").is_err());
    }

    #[test]
    fn rejects_duplicates() {
        let e = Delimiters::from_msh('|', "^^\\&").unwrap_err();
        assert_eq!(
            e,
            ParseError::DuplicateDelimiter {
                ch: '^',
                first: COMPONENT,
                second: REPETITION
            }
        );
        assert!(e.to_string().contains("both the component separator"));
        assert!(Delimiters::from_msh('|', "^~\\|").is_err());
        assert!(Delimiters::from_msh('|', "^~\\&^").is_err());
    }
}
