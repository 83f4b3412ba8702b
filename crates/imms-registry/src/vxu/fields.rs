//! A segment's fields split once: the mapping reads many fields of PID and RXA, and finding
//! field n by scanning from the start each time costs more than the whole parse.

use imms_hl7::{Field, Segment};

#[derive(Clone)]
pub struct Indexed<'a> {
    pub segment: Segment<'a>,
    fields: Vec<Field<'a>>,
    empty: Field<'a>,
}

impl<'a> Indexed<'a> {
    pub fn new(segment: Segment<'a>) -> Indexed<'a> {
        let mut fields = Vec::with_capacity(segment.field_count());
        fields.extend(segment.fields());
        let empty = segment.field(fields.len() + 1);
        Indexed {
            segment,
            fields,
            empty,
        }
    }

    /// Field `n` in HL7 numbering, as [`Segment::field`].
    pub fn field(&self, n: usize) -> Field<'a> {
        match n {
            0 => self.segment.field(0),
            n => self.fields.get(n - 1).copied().unwrap_or(self.empty),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_fields_as_the_segment() {
        let m = imms_hl7::parse(
            "MSH|^~\\&|A|B|C|D|20240101||VXU^V04|1|P|2.5.1\rPID|1||X^^^F^MR||Doe^Jane|\r",
        )
        .unwrap();
        for seg in m.segments() {
            let idx = Indexed::new(seg);
            for n in 0..20 {
                assert_eq!(idx.field(n).raw(), seg.field(n).raw(), "{} {n}", seg.id());
            }
        }
    }
}
