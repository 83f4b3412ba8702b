//! Reading a VXU never panics, whatever the bytes, and always yields an answer that names
//! what is wrong.

mod common;

use common::VXU;
use imms_core::CodeTables;
use imms_registry::ack::AckCode;
use imms_registry::ingest::validate;
use proptest::prelude::*;

fn codes() -> &'static CodeTables {
    static CODES: std::sync::OnceLock<CodeTables> = std::sync::OnceLock::new();
    CODES.get_or_init(CodeTables::embedded)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_text_gets_an_answer(s in "\\PC{0,400}") {
        let v = validate(codes(), &s);
        prop_assert!(v.code == AckCode::Accept || !v.problems.is_empty());
    }

    #[test]
    fn mutated_messages_get_an_answer(
        edits in prop::collection::vec((0usize..VXU.len(), prop::sample::select(vec!["|", "^", "~", "\\", "&", "\r", "", "X", "\"\"", "99999999", "\\X00\\", "é", "MSH|"])), 1..8)
    ) {
        let mut m = VXU.to_string();
        for (pos, text) in edits {
            let mut at = pos.min(m.len());
            while !m.is_char_boundary(at) { at -= 1; }
            let end = (at + 1).min(m.len());
            let end = if m.is_char_boundary(end) { end } else { at };
            m.replace_range(at..end, text);
        }
        let v = validate(codes(), &m);
        if v.code != AckCode::Accept {
            prop_assert!(v.problems.iter().any(|p| !p.text.is_empty()));
        }
    }
}

#[test]
fn ten_thousand_repetitions_still_get_an_answer() {
    let flood = VXU.replacen(
        "MRN-1001^^^CLINIC-1^MR",
        &"MRN^^^CLINIC-1^MR~".repeat(10_000),
        1,
    );
    let v = validate(codes(), &flood);
    assert_ne!(v.code, AckCode::Reject);
    let flood = VXU.replacen("|F||", &format!("|{}||", "F~".repeat(10_000)), 1);
    assert_eq!(
        validate(codes(), &flood).code,
        AckCode::Accept,
        "the first repetition of PID-8 is read"
    );
}
