//! `parse`: checking a message's header and segment ids, and walking its segments.

use crate::error::{excerpt, ParseError};
use crate::lines::Lines;
use crate::segment::Segment;
use crate::Delimiters;

/// A parsed ER7 message: a view of the input text that finds segments on demand.
///
/// Holds no copy of the text and allocates nothing; it is `Copy` and cheap to pass around.
/// Walking it never fails: [`parse`] has already checked the header and every segment id.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The input from the `MSH` on.
    text: &'a str,
    delimiters: Delimiters,
    segment_count: usize,
}

/// Characters tolerated before `MSH`: whitespace, a byte-order mark, MLLP framing.
fn is_leading_junk(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{FEFF}' | '\x0B' | '\x1C')
}

/// Parses an ER7 (pipe-and-hat) message.
///
/// Accepts any delimiters declared in MSH-1 and MSH-2 (including a v2.7 truncation
/// character), segments ended by CR, LF or CRLF in any mix, blank lines, a trailing
/// terminator, and whitespace, a byte-order mark or MLLP framing before `MSH`.
///
/// Checks only the structure: the header, the delimiters, and that each segment starts
/// with a 3-character id of upper-case letters or digits. Never panics.
pub fn parse(input: &str) -> Result<Message<'_>, ParseError> {
    let text = input.trim_start_matches(is_leading_junk);
    let Some((_, header)) = Lines::new(text).next() else {
        return Err(ParseError::Empty);
    };
    let Some(after_id) = header.strip_prefix("MSH") else {
        return Err(ParseError::NotMsh {
            start: excerpt(header, 12),
        });
    };
    let mut chars = after_id.chars();
    let field = chars.next().ok_or(ParseError::MshTooShort)?;
    let encoding = chars.as_str().split(field).next().unwrap_or_default();
    if encoding.is_empty() && chars.as_str().is_empty() {
        return Err(ParseError::MshTooShort);
    }
    let delimiters = Delimiters::from_msh(field, encoding)?;

    let mut segment_count = 0;
    for (position, (_, line)) in (1..).zip(Lines::new(text)) {
        let id = crate::split::nth(line, field, 0);
        if !is_segment_id(id) {
            return Err(ParseError::InvalidSegmentId {
                position,
                id: excerpt(id, 12),
            });
        }
        segment_count = position;
    }
    Ok(Message {
        text,
        delimiters,
        segment_count,
    })
}

fn is_segment_id(id: &str) -> bool {
    id.len() == 3
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl<'a> Message<'a> {
    /// The delimiters declared in MSH-1 and MSH-2.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// The message text from `MSH` on, as received.
    pub fn raw(&self) -> &'a str {
        self.text
    }

    /// The segments, in order.
    pub fn segments(&self) -> Segments<'a> {
        Segments {
            text: self.text,
            lines: Lines::new(self.text),
            delimiters: self.delimiters,
            position: 0,
        }
    }

    /// How many segments the message has.
    pub fn segment_count(&self) -> usize {
        self.segment_count
    }

    /// The segment at a 0-based index (`segment(0)` is MSH).
    pub fn segment(&self, index: usize) -> Option<Segment<'a>> {
        self.segments().nth(index)
    }

    /// The first segment with this id, e.g. `first("PID")`.
    pub fn first(&self, id: &str) -> Option<Segment<'a>> {
        self.segments().find(|s| s.id() == id)
    }

    /// Every segment with this id, in order.
    pub fn all<'s>(&'s self, id: &'s str) -> impl Iterator<Item = Segment<'a>> + 's {
        self.segments().filter(move |s| s.id() == id)
    }
}

/// Iterator over a message's segments, from [`Message::segments`].
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    text: &'a str,
    lines: Lines<'a>,
    delimiters: Delimiters,
    position: usize,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        let (start, raw) = self.lines.next()?;
        self.position += 1;
        Some(Segment::new(
            self.text,
            start,
            raw,
            self.position,
            self.delimiters,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VXU^V04 in the style of the CDC implementation guide's examples (made-up person).
    pub(crate) const VXU: &str = "MSH|^~\\&|MYEHR2.5|RI88140101|IMMS|STATEIIS|20240315083012-0500||VXU^V04^VXU_V04|NIST-IZ-AD-10.1_Send_V04_Z22|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS|RI88140101^^^^^NIST-AA-1^XX^^^RI88140101|STATEIIS\r\
PID|1||90012^^^NIST-MPI-1^MR~444-22-1234^^^MAA^SS||Nuclear^Nancy^D^^^^L~Nuclear^Nan^^^^^A|Brown^Maria^^^^^M|20140125|F||2106-3^White^CDCREC|3030 Pine St^^Lansing^MI^48912^USA^P||^PRN^PH^^^517^5551234~^NET^Internet^nancy@example.com|||||||||2186-5^Not Hispanic or Latino^CDCREC||N|1|||||N\r\
PD1|||||||||||02^Reminder/Recall - any method^HL70215|N|20240315|||A|20140125|20240315\r\
NK1|1|Nuclear^Sally^^^^^L|MTH^Mother^HL70063|3030 Pine St^^Lansing^MI^48912^USA^P|^PRN^PH^^^517^5551234\r\
ORC|RE||IZ-783274^NDA|||||||I-23432^Burden^Donna^A^^^^^NIST-AA-1^^^^^^^^^^^^^^^^MD||57422^RADON^NICHOLAS^^^^^^NIST-AA-1^L^^^^^^^^^^^^^^^MD\r\
RXA|0|1|20240315|20240315|08^Hep B, adolescent or pediatric^CVX|0.5|mL^milliliters^UCUM||00^New Immunization Record^NIP001|7832-1^Lemon^Mike^A^^^^^NIST-AA-1^^^^^^^^^^^^^^^^MD|^^^NIST-Clinic-1||||Z0860BB|20251230|MSD^Merck and Co., Inc.^MVX|||CP|A\r\
RXR|C28161^Intramuscular^NCIT|LD^Left Arm^HL70163\r\
OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V02^VFC eligible - Medicaid/Medicaid Managed Care^HL70064||||||F|||20240315|||VXC40^Eligibility captured at the immunization level^CDCPHINVS\r\
OBX|2|CE|30956-7^vaccine type^LN|2|45^Hep B, unspecified formulation^CVX||||||F\r\
OBX|3|TS|29768-9^Date vaccine information statement published^LN|2|20120202||||||F\r\
OBX|4|TS|29769-7^Date vaccine information statement presented^LN|2|20240315||||||F\r";

    #[test]
    fn vxu_segments() {
        let m = parse(VXU).unwrap();
        assert_eq!(m.segment_count(), 11);
        let ids: Vec<_> = m.segments().map(|s| s.id()).collect();
        assert_eq!(
            ids,
            ["MSH", "PID", "PD1", "NK1", "ORC", "RXA", "RXR", "OBX", "OBX", "OBX", "OBX"]
        );
        assert_eq!(m.segment(5).unwrap().id(), "RXA");
        assert!(m.segment(11).is_none());
        assert_eq!(m.first("OBX").unwrap().position(), 8);
        assert_eq!(m.all("OBX").count(), 4);
        assert!(m.first("ZZZ").is_none());
        assert_eq!(*m.delimiters(), Delimiters::default());
    }

    #[test]
    fn vxu_fields() {
        let m = parse(VXU).unwrap();
        let msh = m.first("MSH").unwrap();
        assert_eq!(msh.field(1).raw(), "|");
        assert_eq!(msh.field(2).raw(), "^~\\&");
        assert_eq!(msh.field(2).value(), "^~\\&");
        assert_eq!(msh.field(3).value(), "MYEHR2.5");
        assert_eq!(msh.field(9).component(1).value(), "VXU");
        assert_eq!(msh.field(9).component(2).value(), "V04");
        assert_eq!(msh.field(10).value(), "NIST-IZ-AD-10.1_Send_V04_Z22");
        assert_eq!(msh.field(12).value(), "2.5.1");
        assert_eq!(msh.field(21).component(1).value(), "Z22");

        let pid = m.first("PID").unwrap();
        let ids = pid.field(3);
        assert_eq!(ids.repetition_count(), 2);
        assert_eq!(ids.rep(2).component(1).value(), "444-22-1234");
        assert_eq!(ids.rep(2).component(5).value(), "SS");
        assert_eq!(pid.field(5).component(1).value(), "Nuclear");
        assert_eq!(pid.field(5).rep(2).component(2).value(), "Nan");
        assert_eq!(pid.field(7).value(), "20140125");
        assert_eq!(
            pid.field(13).rep(2).component(4).value(),
            "nancy@example.com"
        );

        let rxa = m.first("RXA").unwrap();
        assert_eq!(rxa.field(5).component(1).value(), "08");
        assert_eq!(rxa.field(17).component(1).value(), "MSD");
        assert_eq!(rxa.field(21).value(), "A");
        assert_eq!(rxa.field_count(), 21);

        let obx = m.all("OBX").nth(2).unwrap();
        assert_eq!(obx.occurrence(), 3);
        assert_eq!(obx.position(), 10);
        assert_eq!(obx.field(5).value(), "20120202");
    }

    #[test]
    fn any_line_ends_and_leading_junk() {
        let text = VXU.replace('\r', "\r\n");
        assert_eq!(parse(&text).unwrap().segment_count(), 11);
        let text = VXU.replace('\r', "\n");
        assert_eq!(parse(&text).unwrap().segment_count(), 11);
        let mixed = "\u{FEFF}\r\n  \x0bMSH|^~\\&|A\nPID|1\r\n\r\nRXA|0|1\rRXR|C28161\n\n\x1c\r";
        let m = parse(mixed).unwrap();
        assert_eq!(m.segment_count(), 4);
        assert_eq!(m.segment(3).unwrap().raw(), "RXR|C28161");
        assert_eq!(m.segment(0).unwrap().field(3).value(), "A");
    }

    #[test]
    fn non_standard_delimiters() {
        let m = parse("MSH#$%!@#SENDER#FAC\rPID#1##12345$$$AUTH$MR%999$$$SSA$SS##Doe$John!S!Jr\r")
            .unwrap();
        let d = m.delimiters();
        assert_eq!(
            (d.field, d.component, d.repetition, d.escape, d.subcomponent),
            ('#', '$', '%', '!', '@')
        );
        let msh = m.first("MSH").unwrap();
        assert_eq!(msh.field(1).raw(), "#");
        assert_eq!(msh.field(2).raw(), "$%!@");
        assert_eq!(msh.field(3).value(), "SENDER");
        let pid = m.first("PID").unwrap();
        assert_eq!(pid.field(3).rep(2).component(5).value(), "SS");
        assert_eq!(pid.field(5).component(2).value(), "John$Jr");
    }

    #[test]
    fn truncation_character_v27() {
        let m = parse("MSH|^~\\&#|APP|FAC|||20240101||VXU^V04|1|P|2.7\rPID|1||X\\P\\Y#\r").unwrap();
        assert_eq!(m.delimiters().truncation, Some('#'));
        let msh = m.segment(0).unwrap();
        assert_eq!(msh.field(2).raw(), "^~\\&#");
        assert_eq!(msh.field(3).value(), "APP");
        assert_eq!(msh.field(12).value(), "2.7");
        assert_eq!(m.segment(1).unwrap().field(3).value(), "X#Y#");
    }

    #[test]
    fn header_only() {
        let m = parse("MSH|^~\\&").unwrap();
        assert_eq!(m.segment_count(), 1);
        let msh = m.segment(0).unwrap();
        assert_eq!(msh.field_count(), 2);
        assert!(msh.field(3).is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(parse("").unwrap_err(), ParseError::Empty);
        assert_eq!(parse(" \r\n\u{FEFF}\t").unwrap_err(), ParseError::Empty);
        assert!(matches!(parse("PID|1"), Err(ParseError::NotMsh { start }) if start == "PID|1"));
        assert!(matches!(parse("FHS|^~\\&"), Err(ParseError::NotMsh { .. })));
        assert_eq!(parse("MSH").unwrap_err(), ParseError::MshTooShort);
        assert_eq!(parse("MSH\rPID|1").unwrap_err(), ParseError::MshTooShort);
        assert_eq!(parse("MSH|").unwrap_err(), ParseError::MshTooShort);
        assert!(matches!(
            parse("MSH||A"),
            Err(ParseError::EncodingCharacters { count: 0, .. })
        ));
        assert!(matches!(
            parse("MSH|^~|A"),
            Err(ParseError::EncodingCharacters { count: 2, .. })
        ));
        assert!(matches!(
            parse("MSHA^~\\&"),
            Err(ParseError::InvalidDelimiter { ch: 'A', .. })
        ));
        assert!(matches!(
            parse("MSH|^~\\~|"),
            Err(ParseError::DuplicateDelimiter { ch: '~', .. })
        ));
        let e = parse("MSH|^~\\&|A\rPID|1\rpid|2").unwrap_err();
        assert_eq!(
            e,
            ParseError::InvalidSegmentId {
                position: 3,
                id: "pid".into()
            }
        );
        assert_eq!(e.segment_position(), Some(3));
        let e = parse("MSH|^~\\&|A\r\r\nPID1|1").unwrap_err();
        assert_eq!(e.segment_position(), Some(2));
        assert!(parse("MSH|^~\\&|A\rPI|1").is_err());
        assert!(parse("MSH|^~\\&|A\r PID|1").is_err());
        assert!(parse("MSH|^~\\&|A\rPÏD|1").is_err());
        // Z-segments and digits are fine.
        assert!(parse("MSH|^~\\&|A\rZ01|1\rNK1|1").is_ok());
    }

    #[test]
    fn message_is_copy() {
        let m = parse(VXU).unwrap();
        let n = m;
        assert_eq!(m.segment_count(), n.segment_count());
        assert_eq!(m.raw(), VXU);
    }
}
