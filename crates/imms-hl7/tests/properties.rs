//! Property tests: the parser never panics, escaping round-trips, and whatever the builder
//! writes reads back the same.

use imms_hl7::{
    encode, escape, parse, unescape, Delimiters, IndexedSegment, Message, SegmentBuilder,
};
use proptest::prelude::*;
use proptest::sample::select;

/// A VXU^V04 like those clinics send (made-up person), to mutate.
const VXU: &str = "MSH|^~\\&|MYEHR2.5|RI88140101|IMMS|STATEIIS|20240315083012-0500||VXU^V04^VXU_V04|NIST-IZ-AD-10.1|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r\
PID|1||90012^^^NIST-MPI-1^MR~444-22-1234^^^MAA^SS||Nuclear^Nancy^D^^^^L|Brown^Maria^^^^^M|20140125|F||2106-3^White^CDCREC|3030 Pine St^^Lansing^MI^48912^USA^P\r\
NK1|1|Nuclear^Sally^^^^^L|MTH^Mother^HL70063\r\
ORC|RE||IZ-783274^NDA|||||||I-23432^Burden^Donna^A^^^^^NIST-AA-1&2.16.840.1&ISO\r\
RXA|0|1|20240315|20240315|08^Hep B, adolescent or pediatric^CVX|0.5|mL^milliliters^UCUM||00^New Immunization Record^NIP001||^^^NIST-Clinic-1||||Z0860BB|20251230|MSD^Merck^MVX|||CP|A\r\
RXR|C28161^Intramuscular^NCIT|LD^Left Arm^HL70163\r\
OBX|1|CE|64994-7^Vaccine funding program eligibility^LN|1|V02^VFC \\T\\ Medicaid\\.br\\line^HL70064||||||F\r\
NTE|1||\"\"|\\X0D0A\\\\H\\bold\\N\\ \\XE9\\\r";

/// Touches every part of a message the way a consumer would, so that any panic in an
/// accessor shows up.
fn walk(m: &Message<'_>) -> usize {
    let mut n = m.segment_count() + m.delimiters().encoding_characters().len();
    for s in m.segments() {
        n += s.id().len() + s.position() + s.occurrence() + s.raw().len();
        for i in 0..=s.field_count() + 1 {
            let f = s.field(i);
            n += f.raw().len()
                + f.value().len()
                + usize::from(f.is_null())
                + usize::from(f.is_empty());
            n += f.repetition_count() + f.component(1).value().len() + f.component(2).raw().len();
            for r in f.repetitions() {
                n += r.value().len() + r.component_count() + r.raw().len();
                for c in r.components() {
                    n += c.value().len() + c.subcomponent_count() + c.subcomponent(2).len();
                    n += c.subcomponents().map(str::len).sum::<usize>();
                    n += c.subcomponent_value(2).len();
                }
            }
        }
        n += s.fields().count();
        let indexed = IndexedSegment::new(s);
        for i in (0..=s.field_count() + 2).chain([usize::MAX]) {
            assert_eq!(
                indexed.field(i).raw(),
                s.field(i).raw(),
                "field {i} of {}",
                s.raw()
            );
        }
    }
    let _ = m.first("PID").map(|s| s.field(5).value());
    n += m.all("OBX").count();
    n
}

/// Re-encodes a parsed message from its raw fields and checks that it reads back the same.
fn reencode_matches(m: &Message<'_>) {
    let builders: Vec<_> = m
        .segments()
        .map(|s| SegmentBuilder::from_segment(&s))
        .collect();
    let text = encode(m.delimiters(), &builders);
    let again = parse(&text).expect("re-encoded message parses");
    assert_eq!(again.delimiters(), m.delimiters());
    assert_eq!(again.segment_count(), m.segment_count());
    for (a, b) in m.segments().zip(again.segments()) {
        assert_eq!(a.id(), b.id());
        let header = matches!(a.id(), "MSH" | "BHS" | "FHS");
        let from = if header { 3 } else { 1 };
        for i in from..=a.field_count().max(b.field_count()) {
            assert_eq!(a.field(i).raw(), b.field(i).raw(), "{}-{i}", a.id());
        }
    }
}

/// A delimiter set as `Delimiters::validate` accepts: distinct ASCII punctuation.
fn delimiters() -> impl Strategy<Value = Delimiters> {
    let punctuation: Vec<char> = (0u8..128)
        .map(char::from)
        .filter(char::is_ascii_punctuation)
        .collect();
    (Just(punctuation).prop_shuffle(), any::<bool>()).prop_map(|(p, truncation)| Delimiters {
        field: p[0],
        component: p[1],
        repetition: p[2],
        escape: p[3],
        subcomponent: p[4],
        truncation: truncation.then_some(p[5]),
    })
}

/// Text with plenty of characters that mean something in ER7.
fn hl7ish_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(MSH[|#]\\^~\\\\&#?)?[A-Z0-9|^~\\\\&#\"\r\n \\.XHNFSTREP-]{0,200}",
        "MSH[!-/]{1,7}[A-Z|^~\\\\&\r\n\"]{0,60}",
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Delete(usize, usize),
    Replace(usize, char),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let special = select(vec![
        '|', '^', '~', '\\', '&', '#', '\r', '\n', '"', 'X', '.', 'M', 'é',
    ]);
    let ch = prop_oneof![special, any::<char>()];
    prop_oneof![
        (any::<usize>(), ch.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), 0usize..20).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), ch).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<usize>(), 0usize..40).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn mutate(base: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for e in edits {
        let len = chars.len();
        match *e {
            Edit::Insert(i, c) => chars.insert(i % (len + 1), c),
            Edit::Delete(i, n) if len > 0 => {
                let i = i % len;
                chars.drain(i..(i + n).min(len));
            }
            Edit::Replace(i, c) if len > 0 => chars[i % len] = c,
            Edit::Duplicate(i, n) if len > 0 => {
                let i = i % len;
                let piece: Vec<char> = chars[i..(i + n).min(len)].to_vec();
                chars.splice(i..i, piece);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// A value a field may hold: any text, weighted towards delimiters and escapes.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z|^~\\\\&#$%!@*\r\n\" .X0-9]{0,12}",
        Just(String::new()),
        Just("\"\"".to_owned()),
    ]
}

#[derive(Debug, Clone)]
enum FieldSpec {
    Plain(String),
    Components(Vec<String>),
    Repetitions(Vec<Vec<String>>),
}

#[derive(Debug, Clone)]
struct SegmentSpec {
    id: String,
    fields: Vec<(usize, FieldSpec)>,
}

fn field_spec() -> impl Strategy<Value = FieldSpec> {
    prop_oneof![
        value().prop_map(FieldSpec::Plain),
        prop::collection::vec(value(), 0..5).prop_map(FieldSpec::Components),
        prop::collection::vec(prop::collection::vec(value(), 0..4), 1..4)
            .prop_map(FieldSpec::Repetitions),
    ]
}

fn segment_spec(id: impl Strategy<Value = String>) -> impl Strategy<Value = SegmentSpec> {
    (id, prop::collection::vec((1usize..30, field_spec()), 0..8))
        .prop_map(|(id, fields)| SegmentSpec { id, fields })
}

fn message_spec() -> impl Strategy<Value = Vec<SegmentSpec>> {
    let other_id = prop_oneof![
        select(vec![
            "PID", "PD1", "NK1", "ORC", "RXA", "RXR", "OBX", "NTE", "BHS", "FHS", "MSH"
        ])
        .prop_map(str::to_owned),
        "[A-Z0-9]{3}",
    ];
    (
        segment_spec(Just("MSH".to_owned())),
        prop::collection::vec(segment_spec(other_id), 0..6),
    )
        .prop_map(|(msh, mut rest)| {
            rest.insert(0, msh);
            rest
        })
}

fn build(spec: &SegmentSpec) -> SegmentBuilder {
    let mut b = SegmentBuilder::new(&spec.id);
    for (n, f) in &spec.fields {
        match f {
            FieldSpec::Plain(v) => b.set(*n, v),
            FieldSpec::Components(c) => {
                b.set_components(*n, &c.iter().map(String::as_str).collect::<Vec<_>>())
            }
            FieldSpec::Repetitions(reps) => {
                b.clear(*n);
                for r in reps {
                    b.add_repetition(*n, &r.iter().map(String::as_str).collect::<Vec<_>>());
                }
                &mut b
            }
        };
    }
    b
}

/// What each field should read back as, the last setting of a field number winning.
fn expected(spec: &SegmentSpec) -> std::collections::BTreeMap<usize, Vec<Vec<String>>> {
    let mut fields = std::collections::BTreeMap::new();
    for (n, f) in &spec.fields {
        let reps = match f {
            FieldSpec::Plain(v) => vec![vec![v.clone()]],
            FieldSpec::Components(c) => vec![c.clone()],
            FieldSpec::Repetitions(r) => r.clone(),
        };
        fields.insert(*n, reps);
    }
    fields
}

/// `escape` leaves no delimiter (but the escape character) and no line break, and
/// `unescape` gives the value back.
fn check_escape_round_trip(value: &str, d: &Delimiters) -> Result<(), TestCaseError> {
    let escaped = escape(value, d);
    for c in escaped.chars() {
        prop_assert!(
            c == d.escape || !d.is_delimiter(c),
            "{c:?} left in {escaped:?}"
        );
        prop_assert!(c != '\r' && c != '\n', "line break left in {escaped:?}");
    }
    prop_assert_eq!(unescape(&escaped, d), value);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics(text in hl7ish_text()) {
        if let Ok(m) = parse(&text) {
            walk(&m);
            reencode_matches(&m);
        } else if let Err(e) = parse(&text) {
            prop_assert!(!e.to_string().is_empty());
            let _ = e.segment_position();
        }
    }

    #[test]
    fn parse_never_panics_on_mutated_messages(edits in prop::collection::vec(edit(), 1..8)) {
        let text = mutate(VXU, &edits);
        if let Ok(m) = parse(&text) {
            walk(&m);
            reencode_matches(&m);
        }
    }

    #[test]
    fn unescape_never_panics(text in hl7ish_text(), d in delimiters()) {
        let _ = unescape(&text, &d);
        let _ = unescape(&text, &Delimiters::default());
    }

    #[test]
    fn escape_round_trips(value in any::<String>(), d in delimiters()) {
        check_escape_round_trip(&value, &d)?;
    }

    #[test]
    fn escape_round_trips_delimiter_heavy(value in "[|^~\\\\&#$%!@*\r\nXF. a]{0,40}", d in delimiters()) {
        check_escape_round_trip(&value, &d)?;
    }

    #[test]
    fn built_messages_read_back(specs in message_spec(), d in delimiters()) {
        let builders: Vec<_> = specs.iter().map(build).collect();
        let text = encode(&d, &builders);
        let m = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert_eq!(*m.delimiters(), d);
        prop_assert_eq!(m.segment_count(), specs.len());
        for (spec, seg) in specs.iter().zip(m.segments()) {
            prop_assert_eq!(seg.id(), spec.id.as_str());
            let header = matches!(spec.id.as_str(), "MSH" | "BHS" | "FHS");
            if header {
                prop_assert_eq!(seg.field(1).raw(), d.field.to_string());
                prop_assert_eq!(seg.field(2).raw(), d.encoding_characters());
            }
            for (n, reps) in expected(spec) {
                if header && n <= 2 {
                    continue;
                }
                let field = seg.field(n);
                for (r, components) in reps.iter().enumerate() {
                    let rep = field.rep(r + 1);
                    for (c, value) in components.iter().enumerate() {
                        prop_assert_eq!(
                            rep.component(c + 1).value(), value.as_str(),
                            "{}-{}[{}].{} in {:?}", spec.id, n, r + 1, c + 1, text
                        );
                    }
                    prop_assert!(rep.component(components.len() + 1).is_empty());
                }
                if reps.len() > 1 {
                    prop_assert_eq!(field.repetition_count(), reps.len());
                }
            }
            walk(&m);
            reencode_matches(&m);
        }
    }
}
