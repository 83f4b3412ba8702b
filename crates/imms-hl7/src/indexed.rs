//! A segment whose field boundaries are found once, for callers that read many of its
//! fields: `Segment::field(n)` scans from the start of the segment on every call.

use crate::field::Field;
use crate::segment::Segment;

/// How many field separators are remembered; later fields are found by scanning. Covers
/// every field the CDC IG profiles for PID, NK1, ORC, RXA and OBX.
const SLOTS: usize = 48;

/// A [`Segment`] with the positions of its first field separators, so that
/// [`field`](Self::field) is a slice, not a scan. Built with one vectorised pass over the
/// segment and no allocation; `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct IndexedSegment<'a> {
    segment: Segment<'a>,
    /// Byte offsets of the first `known` field separators in the segment's body.
    separators: [u32; SLOTS],
    known: usize,
    /// Whether `separators` holds every separator of the body.
    complete: bool,
}

impl<'a> IndexedSegment<'a> {
    pub fn new(segment: Segment<'a>) -> Self {
        let mut indexed = IndexedSegment {
            segment,
            separators: [0; SLOTS],
            known: 0,
            complete: false,
        };
        let body = segment.body();
        let sep = segment.delimiters().field;
        // Header segments number their fields differently; a body beyond u32 cannot be
        // indexed. Both are left to `Segment::field`.
        if segment.is_header() || !sep.is_ascii() || u32::try_from(body.len()).is_err() {
            return indexed;
        }
        let mut found = memchr::memchr_iter(sep as u8, body.as_bytes());
        indexed.complete = loop {
            match found.next() {
                None => break true,
                Some(_) if indexed.known == SLOTS => break false,
                Some(at) => {
                    // Fits: the body length was checked against u32 above.
                    indexed.separators[indexed.known] = at as u32;
                    indexed.known += 1;
                }
            }
        };
        indexed
    }

    /// The segment itself.
    pub fn segment(&self) -> Segment<'a> {
        self.segment
    }

    /// Field `n` in HL7 numbering, exactly as [`Segment::field`].
    pub fn field(&self, n: usize) -> Field<'a> {
        let (known, body) = (self.known, self.segment.body());
        let cut = |i: usize| self.separators[i] as usize;
        // Separators are ASCII, so every cut is on a character boundary.
        let raw = match n {
            0 => return self.segment.field(0),
            n if n < known => &body[cut(n - 1) + 1..cut(n)],
            n if n == known && self.complete => &body[cut(n - 1) + 1..],
            _ if self.complete => "",
            _ => return self.segment.field(n),
        };
        Field::new(raw, *self.segment.delimiters())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn same_fields_as_the_segment() {
        let many = format!("ZZZ{}|last", "|x".repeat(SLOTS + 5));
        let text = format!(
            "MSH|^~\\&|A|B|C|D|20240101||VXU^V04|1|P|2.5.1\rPID|1||X^^^F^MR||Doe^Jane|\rEVN\rNTE|\rBHS|^~\\&|B\r{many}\r"
        );
        let m = parse(&text).unwrap();
        for seg in m.segments() {
            let idx = IndexedSegment::new(seg);
            assert_eq!(idx.segment().raw(), seg.raw());
            for n in (0..SLOTS + 10).chain([usize::MAX]) {
                assert_eq!(idx.field(n).raw(), seg.field(n).raw(), "{} {n}", seg.id());
            }
        }
    }
}
