//! One segment of a parsed message and its fields, numbered as HL7 numbers them.

use crate::field::Field;
use crate::lines::Lines;
use crate::split::{self, SplitOn};
use crate::Delimiters;

/// A segment of a parsed [`Message`](crate::Message): a view of one line of the input.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// The whole message text, to count earlier segments for `occurrence`.
    message: &'a str,
    /// Byte offset of this segment in `message`.
    start: usize,
    raw: &'a str,
    position: usize,
    delimiters: Delimiters,
}

/// Segments whose first field is the field separator itself and whose second holds the
/// encoding characters: the message header and the batch and file headers.
pub(crate) fn is_header_id(id: &str) -> bool {
    matches!(id, "MSH" | "BHS" | "FHS")
}

impl<'a> Segment<'a> {
    pub(crate) fn new(
        message: &'a str,
        start: usize,
        raw: &'a str,
        position: usize,
        delimiters: Delimiters,
    ) -> Self {
        Segment {
            message,
            start,
            raw,
            position,
            delimiters,
        }
    }

    /// The segment id, e.g. `"PID"`.
    pub fn id(&self) -> &'a str {
        // `parse` checked that every segment starts with three ASCII characters.
        self.raw.get(..3).unwrap_or(self.raw)
    }

    /// The 1-based position of the segment in the message (MSH is 1).
    pub fn position(&self) -> usize {
        self.position
    }

    /// Which occurrence of its id this segment is, from 1: the third OBX has occurrence 3.
    ///
    /// Counts the segments before this one, so it costs a scan of the text before it.
    pub fn occurrence(&self) -> usize {
        let id = self.id();
        let before = self.message.get(..self.start).unwrap_or_default();
        1 + Lines::new(before)
            .filter(|(_, line)| split::nth(line, self.delimiters.field, 0) == id)
            .count()
    }

    /// The segment text as received, without its terminator.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The delimiters of the message this segment belongs to.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// The highest field number present (counting empty fields before a final separator):
    /// `PID|1||X` has 3, `MSH|^~\&|APP` has 3 (MSH-1 is the field separator).
    pub fn field_count(&self) -> usize {
        let body = self.body();
        if body.is_empty() {
            return 0;
        }
        let separators = split::count(body, self.delimiters.field);
        if self.is_header() {
            separators + 1
        } else {
            separators
        }
    }

    /// Field `n`, numbered as in HL7: for MSH (and BHS, FHS), `field(1)` is the field
    /// separator itself, `field(2)` the encoding characters (both read literally, without
    /// splitting or unescaping) and `field(3)` MSH-3. For other segments `field(1)` is the
    /// first field after the id. `field(0)` is the segment id. An absent field is empty.
    pub fn field(&self, n: usize) -> Field<'a> {
        let body = self.body();
        let sep = self.delimiters.field;
        let raw = match n {
            0 => return Field::literal(self.id(), self.delimiters),
            1 | 2 if self.is_header() => {
                let raw = if n == 1 {
                    body.get(..sep.len_utf8()).unwrap_or_default()
                } else {
                    split::nth(body, sep, 1)
                };
                return Field::literal(raw, self.delimiters);
            }
            _ if self.is_header() => split::nth(body, sep, n - 1),
            _ => split::nth(body, sep, n),
        };
        Field::new(raw, self.delimiters)
    }

    /// Fields 1 to [`field_count`](Self::field_count), in order; cheaper than calling
    /// `field(n)` for each.
    pub fn fields(&self) -> Fields<'a> {
        let mut split = SplitOn::new(self.body(), self.delimiters.field);
        // The body starts with the separator, so the first piece is always empty.
        split.next();
        Fields {
            split,
            header_separator: if self.is_header() && !self.body().is_empty() {
                Some(&self.body()[..self.delimiters.field.len_utf8()])
            } else {
                None
            },
            number: 0,
            header: self.is_header(),
            delimiters: self.delimiters,
        }
    }

    pub(crate) fn is_header(&self) -> bool {
        is_header_id(self.id())
    }

    /// The text after the id: empty, or starting with the field separator.
    pub(crate) fn body(&self) -> &'a str {
        self.raw.get(3..).unwrap_or_default()
    }
}

/// Iterator over a segment's fields from field 1, from [`Segment::fields`].
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    split: SplitOn<'a>,
    header_separator: Option<&'a str>,
    number: usize,
    header: bool,
    delimiters: Delimiters,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        if let Some(sep) = self.header_separator.take() {
            self.number = 1;
            return Some(Field::literal(sep, self.delimiters));
        }
        let raw = self.split.next()?;
        self.number += 1;
        Some(if self.header && self.number == 2 {
            Field::literal(raw, self.delimiters)
        } else {
            Field::new(raw, self.delimiters)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn field_numbering() {
        let m = parse("MSH|^~\\&|APP||FAC\rPID|1||X^Y~Z||").unwrap();
        let msh = m.segment(0).unwrap();
        assert_eq!(msh.field(0).raw(), "MSH");
        assert_eq!(msh.field(1).raw(), "|");
        assert_eq!(msh.field(2).raw(), "^~\\&");
        assert_eq!(msh.field(2).repetition_count(), 1);
        assert_eq!(msh.field(2).component(1).raw(), "^~\\&");
        assert_eq!(msh.field(3).raw(), "APP");
        assert_eq!(msh.field(5).raw(), "FAC");
        assert!(msh.field(6).is_empty());
        assert_eq!(msh.field_count(), 5);

        let pid = m.segment(1).unwrap();
        assert_eq!(pid.field(0).value(), "PID");
        assert_eq!(pid.field(1).raw(), "1");
        assert!(pid.field(2).is_empty());
        assert_eq!(pid.field(3).raw(), "X^Y~Z");
        assert_eq!(pid.field_count(), 5);
        assert!(pid.field(99).is_empty());
        assert!(pid.field(usize::MAX).is_empty());
    }

    #[test]
    fn fields_iterator_matches_field() {
        let m = parse("MSH|^~\\&|APP||FAC\rPID|1||X^Y~Z||\rEVN\rBHS|^~\\&|B").unwrap();
        for s in m.segments() {
            let walked: Vec<_> = s.fields().map(|f| f.raw()).collect();
            let indexed: Vec<_> = (1..=s.field_count()).map(|n| s.field(n).raw()).collect();
            assert_eq!(walked, indexed, "{}", s.raw());
            // MSH-2 is literal both ways.
            if s.id() == "MSH" {
                assert_eq!(s.fields().nth(1).unwrap().value(), "^~\\&");
            }
        }
        assert_eq!(m.segment(2).unwrap().field_count(), 0);
        assert_eq!(m.segment(3).unwrap().field(2).value(), "^~\\&");
        assert_eq!(m.segment(3).unwrap().field(3).value(), "B");
    }

    #[test]
    fn occurrence_counts_same_id_only() {
        let m = parse("MSH|^~\\&\rOBX|1\rNTE|1\rOBX|2\r\nOBX|3\rOBXX|4").unwrap_err();
        assert_eq!(m.segment_position(), Some(6));
        let m = parse("MSH|^~\\&\rOBX|1\rNTE|1\rOBX|2\r\nOBX|3").unwrap();
        let occ: Vec<_> = m.segments().map(|s| (s.id(), s.occurrence())).collect();
        assert_eq!(
            occ,
            [("MSH", 1), ("OBX", 1), ("NTE", 1), ("OBX", 2), ("OBX", 3)]
        );
    }
}
