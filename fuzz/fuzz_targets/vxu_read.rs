//! Reads arbitrary bytes as a VXU the way the registry does before storing it (every CDC IG
//! check, the QBP query reader too): it must answer, never panic, and a refused message must
//! say why.
#![no_main]

use std::sync::OnceLock;

use imms_core::CodeTables;
use libfuzzer_sys::fuzz_target;

fn codes() -> &'static CodeTables {
    static CODES: OnceLock<CodeTables> = OnceLock::new();
    CODES.get_or_init(CodeTables::embedded)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let v = imms_registry::ingest::validate(codes(), &text);
    if v.code != imms_registry::ack::AckCode::Accept {
        assert!(v.problems.iter().any(|p| !p.text.is_empty()));
    }
});
