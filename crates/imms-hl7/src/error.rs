//! Why a message could not be parsed, in words a clinic's interface analyst understands.

/// Why [`parse`](crate::parse) rejected a message.
///
/// Every variant says what was wrong in plain English (its `Display`), and
/// [`segment_position`](ParseError::segment_position) tells which segment it was in, for
/// the ERR segment of an acknowledgement.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but whitespace was received.
    #[error("the message is empty")]
    Empty,

    /// The first segment is not a message header.
    #[error("the message does not start with an MSH segment (it starts with {start:?})")]
    NotMsh {
        /// The first few characters of the first segment.
        start: String,
    },

    /// `MSH` is not followed by a field separator and the encoding characters.
    #[error(
        "the MSH segment is too short: it must hold the field separator (MSH-1) and the \
         encoding characters (MSH-2), as in \"MSH|^~\\&|\""
    )]
    MshTooShort,

    /// MSH-2 does not hold 4 or 5 characters.
    #[error(
        "MSH-2 must hold 4 or 5 encoding characters (component, repetition, escape, \
         sub-component and optionally truncation, as in \"^~\\&\"), but it holds {count}: {found:?}"
    )]
    EncodingCharacters {
        /// What MSH-2 held (at most a few characters of it).
        found: String,
        /// How many characters MSH-2 held.
        count: usize,
    },

    /// A delimiter is a letter, a digit, whitespace or not ASCII.
    #[error(
        "{ch:?} cannot be the {role}: delimiters must be ASCII punctuation characters, \
         such as | ^ ~ \\ &"
    )]
    InvalidDelimiter {
        /// Which delimiter, e.g. "component separator".
        role: &'static str,
        /// The character found.
        ch: char,
    },

    /// The same character was given two jobs in MSH-1/MSH-2.
    #[error(
        "{ch:?} is used as both the {first} and the {second}: each delimiter in MSH-1 and \
         MSH-2 must be different"
    )]
    DuplicateDelimiter {
        /// The repeated character.
        ch: char,
        /// Its first job.
        first: &'static str,
        /// Its second job.
        second: &'static str,
    },

    /// A segment does not start with a three-character id.
    #[error(
        "segment {position} starts with {id:?}, but a segment must start with an id of 3 \
         upper-case letters or digits, such as PID or RXA, followed by the field separator"
    )]
    InvalidSegmentId {
        /// 1-based position of the segment in the message.
        position: usize,
        /// What stood where the id should be (at most a few characters of it).
        id: String,
    },
}

impl ParseError {
    /// The 1-based position of the segment at fault, when known.
    ///
    /// Problems with the header are in segment 1; an empty message has no segment.
    pub fn segment_position(&self) -> Option<usize> {
        match self {
            ParseError::Empty => None,
            ParseError::NotMsh { .. }
            | ParseError::MshTooShort
            | ParseError::EncodingCharacters { .. }
            | ParseError::InvalidDelimiter { .. }
            | ParseError::DuplicateDelimiter { .. } => Some(1),
            ParseError::InvalidSegmentId { position, .. } => Some(*position),
        }
    }
}

/// At most `max` characters of `s`, with "…" when cut, for quoting input in an error.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        assert_eq!(ParseError::Empty.segment_position(), None);
        assert_eq!(ParseError::MshTooShort.segment_position(), Some(1));
        let e = ParseError::InvalidSegmentId {
            position: 4,
            id: "pid".into(),
        };
        assert_eq!(e.segment_position(), Some(4));
        assert!(e.to_string().contains("segment 4"));
    }

    #[test]
    fn excerpt_cuts_on_char_boundaries() {
        assert_eq!(excerpt("abc", 5), "abc");
        assert_eq!(excerpt("ééééé", 2), "éé…");
        assert_eq!(excerpt("", 2), "");
    }
}
