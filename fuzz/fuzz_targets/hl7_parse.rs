//! Parses arbitrary bytes as an HL7 v2 message, reads every part of it, re-encodes it and
//! checks that the re-encoded text reads back the same.
#![no_main]

use imms_hl7::{encode, escape, parse, unescape, Message, SegmentBuilder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(message) = parse(&text) else {
        return;
    };
    walk(&message);
    reencode(&message);
});

fn walk(m: &Message<'_>) {
    let d = m.delimiters();
    for s in m.segments() {
        let _ = (s.id(), s.position(), s.occurrence(), s.raw());
        for n in 0..=s.field_count() + 1 {
            let f = s.field(n);
            let _ = (
                f.raw(),
                f.is_empty(),
                f.is_null(),
                f.value(),
                f.repetition_count(),
            );
            let _ = (f.rep(2).value(), f.component(3).value());
            for r in f.repetitions() {
                let _ = (
                    r.raw(),
                    r.is_empty(),
                    r.is_null(),
                    r.value(),
                    r.component_count(),
                );
                for c in r.components() {
                    let _ = (c.raw(), c.is_empty(), c.value(), c.subcomponent_count());
                    let _ = (c.subcomponent(2), c.subcomponent_value(2));
                    for sub in c.subcomponents() {
                        let value = unescape(sub, d);
                        let again = escape(&value, d);
                        assert_eq!(unescape(&again, d), value, "escape round trip of {sub:?}");
                    }
                }
            }
        }
        assert_eq!(s.fields().count(), s.field_count());
    }
    let _ = m.first("PID").map(|s| s.field(5).value());
    let _ = m.all("OBX").count();
    let _ = m.segment(m.segment_count());
}

fn reencode(m: &Message<'_>) {
    let builders: Vec<_> = m
        .segments()
        .map(|s| SegmentBuilder::from_segment(&s))
        .collect();
    let text = encode(m.delimiters(), &builders);
    let again = parse(&text).expect("a re-encoded message parses");
    assert_eq!(again.delimiters(), m.delimiters());
    assert_eq!(again.segment_count(), m.segment_count());
    for (a, b) in m.segments().zip(again.segments()) {
        assert_eq!(a.id(), b.id());
        let first = if matches!(a.id(), "MSH" | "BHS" | "FHS") {
            3
        } else {
            1
        };
        for n in first..=a.field_count().max(b.field_count()) {
            assert_eq!(a.field(n).raw(), b.field(n).raw());
        }
    }
}
