//! Building segments and writing them out as ER7 text.

use std::collections::BTreeMap;

use crate::escape::escape;
use crate::segment::{is_header_id, Segment};
use crate::Delimiters;

/// One repetition of a field being built.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Repetition {
    /// Components as plain text, escaped when written.
    Components(Vec<String>),
    /// Text already encoded for the delimiters it will be written with.
    Raw(String),
}

impl Repetition {
    fn is_empty(&self) -> bool {
        match self {
            Repetition::Components(c) => c.iter().all(String::is_empty),
            Repetition::Raw(r) => r.is_empty(),
        }
    }
}

/// A segment under construction: fields set by number, written by [`encode`].
///
/// Values are kept as plain text and escaped only when written, so the same builder can be
/// encoded with any delimiters. Field numbering is the same as [`Segment::field`]: for MSH
/// (and BHS, FHS) fields 1 and 2 come from the delimiters and whatever is set there is
/// ignored. Field 0 (the id) is set by [`new`](Self::new) and cannot be set otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentBuilder {
    id: String,
    fields: BTreeMap<usize, Vec<Repetition>>,
}

impl SegmentBuilder {
    /// A segment with this id (e.g. `"PID"`) and no fields. The id is written as given:
    /// it should be 3 upper-case letters or digits for `parse` to accept the result.
    pub fn new(id: &str) -> Self {
        SegmentBuilder {
            id: id.to_owned(),
            fields: BTreeMap::new(),
        }
    }

    /// A builder holding a copy of a parsed segment's fields, as received; for echoing
    /// or amending segments.
    pub fn from_segment(segment: &Segment<'_>) -> Self {
        let mut b = SegmentBuilder::new(segment.id());
        let first = if is_header_id(segment.id()) { 3 } else { 1 };
        for (n, f) in (1..).zip(segment.fields()) {
            if n >= first && !f.is_empty() {
                b.set_raw(n, f.raw());
            }
        }
        b
    }

    /// The segment id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets field `n` to one plain value, escaped when written.
    pub fn set(&mut self, n: usize, value: &str) -> &mut Self {
        self.put(n, vec![Repetition::Components(vec![value.to_owned()])])
    }

    /// Sets field `n` to one repetition of these components, each escaped when written.
    /// Trailing empty components are left out.
    pub fn set_components(&mut self, n: usize, components: &[&str]) -> &mut Self {
        self.put(n, vec![components_of(components)])
    }

    /// Appends a repetition of these components to field `n` (the first, when the field
    /// is not set yet).
    pub fn add_repetition(&mut self, n: usize, components: &[&str]) -> &mut Self {
        if n != 0 {
            self.fields
                .entry(n)
                .or_default()
                .push(components_of(components));
        }
        self
    }

    /// Sets field `n` to text already encoded (escaped, with its own separators) for the
    /// delimiters it will be written with; written as is.
    pub fn set_raw(&mut self, n: usize, raw: &str) -> &mut Self {
        self.put(n, vec![Repetition::Raw(raw.to_owned())])
    }

    /// Sets field `n` to the explicit null `""`, asking the receiver to delete the value.
    pub fn set_null(&mut self, n: usize) -> &mut Self {
        self.set_raw(n, "\"\"")
    }

    /// Empties field `n`.
    pub fn clear(&mut self, n: usize) -> &mut Self {
        self.fields.remove(&n);
        self
    }

    fn put(&mut self, n: usize, value: Vec<Repetition>) -> &mut Self {
        if n != 0 {
            self.fields.insert(n, value);
        }
        self
    }

    /// Appends this segment, without a terminator, to `out`.
    pub fn encode_into(&self, d: &Delimiters, out: &mut String) {
        out.push_str(&self.id);
        let mut written = 0;
        if is_header_id(&self.id) {
            out.push(d.field);
            out.push_str(&d.encoding_characters());
            written = 2;
        }
        for (&n, reps) in self.fields.range(written + 1..) {
            if reps.iter().all(Repetition::is_empty) && reps.len() < 2 {
                continue;
            }
            out.extend(std::iter::repeat_n(d.field, n - written));
            written = n;
            for (i, rep) in reps.iter().enumerate() {
                if i > 0 {
                    out.push(d.repetition);
                }
                match rep {
                    Repetition::Raw(raw) => out.push_str(raw),
                    Repetition::Components(components) => {
                        for (j, c) in components.iter().enumerate() {
                            if j > 0 {
                                out.push(d.component);
                            }
                            out.push_str(&escape(c, d));
                        }
                    }
                }
            }
        }
    }
}

fn components_of(components: &[&str]) -> Repetition {
    let kept = components
        .iter()
        .rposition(|c| !c.is_empty())
        .map_or(0, |last| last + 1);
    Repetition::Components(components[..kept].iter().map(|&c| c.to_owned()).collect())
}

/// Writes segments as an ER7 message, each ended by `\r`, trailing empty fields left out.
pub fn encode(delimiters: &Delimiters, segments: &[SegmentBuilder]) -> String {
    let mut out = String::with_capacity(segments.len() * 80);
    for s in segments {
        s.encode_into(delimiters, &mut out);
        out.push('\r');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn ack() -> Vec<SegmentBuilder> {
        let mut msh = SegmentBuilder::new("MSH");
        msh.set(1, "ignored")
            .set(2, "ignored")
            .set(3, "IMMS")
            .set(4, "STATEIIS")
            .set(7, "20240315083015-0500")
            .set_components(9, &["ACK", "V04", "ACK", "", ""])
            .set(10, "IMMS-1")
            .set(11, "P")
            .set(12, "2.5.1");
        let mut msa = SegmentBuilder::new("MSA");
        msa.set(1, "AE").set(2, "NIST-IZ-AD-10.1_Send_V04_Z22");
        let mut err = SegmentBuilder::new("ERR");
        err.set_components(2, &["RXA", "1", "5", "1", "1"])
            .set_components(4, &["W"])
            .set(8, "Unknown CVX code 999 | see ^the^ guide")
            .set(9, "");
        vec![msh, msa, err]
    }

    #[test]
    fn writes_an_ack() {
        let text = encode(&Delimiters::default(), &ack());
        assert_eq!(
            text,
            "MSH|^~\\&|IMMS|STATEIIS|||20240315083015-0500||ACK^V04^ACK|IMMS-1|P|2.5.1\r\
             MSA|AE|NIST-IZ-AD-10.1_Send_V04_Z22\r\
             ERR||RXA^1^5^1^1||W||||Unknown CVX code 999 \\F\\ see \\S\\the\\S\\ guide\r"
        );
        let m = parse(&text).unwrap();
        assert_eq!(
            m.first("ERR").unwrap().field(8).value(),
            "Unknown CVX code 999 | see ^the^ guide"
        );
    }

    #[test]
    fn other_delimiters() {
        let d = Delimiters {
            field: '#',
            component: '$',
            repetition: '%',
            escape: '!',
            subcomponent: '@',
            truncation: Some('*'),
        };
        let text = encode(&d, &ack());
        assert!(text.starts_with("MSH#$%!@*#IMMS#STATEIIS###"), "{text}");
        assert!(text.contains("ACK$V04$ACK"));
        let m = parse(&text).unwrap();
        assert_eq!(*m.delimiters(), d);
        assert_eq!(m.first("MSH").unwrap().field(12).value(), "2.5.1");
        assert_eq!(m.first("ERR").unwrap().field(2).component(3).value(), "5");
    }

    #[test]
    fn header_without_fields() {
        let text = encode(&Delimiters::default(), &[SegmentBuilder::new("MSH")]);
        assert_eq!(text, "MSH|^~\\&\r");
    }

    #[test]
    fn repetitions_raw_and_null() {
        let mut pid = SegmentBuilder::new("PID");
        pid.set(1, "1")
            .add_repetition(3, &["90012", "", "", "NIST-MPI-1", "MR"])
            .add_repetition(3, &["444-22-1234", "", "", "MAA", "SS"])
            .set_raw(5, "Nuclear^Nancy^D~Nuclear^Nan")
            .add_repetition(5, &["Doe"])
            .set_null(8)
            .set(0, "XXX")
            .set(30, "")
            .set_components(31, &["", ""]);
        let text = encode(&Delimiters::default(), &[pid]);
        assert_eq!(
            text,
            "PID|1||90012^^^NIST-MPI-1^MR~444-22-1234^^^MAA^SS||Nuclear^Nancy^D~Nuclear^Nan~Doe|||\"\"\r"
        );
    }

    #[test]
    fn empty_repetitions_are_written() {
        let mut s = SegmentBuilder::new("ZXY");
        s.add_repetition(1, &[]).add_repetition(1, &[]);
        assert_eq!(encode(&Delimiters::default(), &[s]), "ZXY|~\r");
    }

    #[test]
    fn clear_and_id() {
        let mut s = SegmentBuilder::new("NTE");
        s.set(3, "note").clear(3);
        assert_eq!(s.id(), "NTE");
        assert_eq!(encode(&Delimiters::default(), &[s]), "NTE\r");
    }

    #[test]
    fn round_trip_from_segments() {
        let text = "MSH|^~\\&|A|B||||VXU^V04|1|P|2.5.1\rPID|1||X^^^Y&1.2&ISO^MR~Z|\"\"||\\F\\\r";
        let m = parse(text).unwrap();
        let builders: Vec<_> = m
            .segments()
            .map(|s| SegmentBuilder::from_segment(&s))
            .collect();
        assert_eq!(encode(m.delimiters(), &builders), text);
    }
}
