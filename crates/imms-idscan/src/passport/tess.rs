//! The OCR engine: Tesseract (Debian's `tesseract-ocr` with its English model), through the
//! `tesseract` crate, told to expect one line of the MRZ alphabet and no dictionary words.
//! One engine per thread, made on first use (loading the model takes longer than a read).

use std::cell::RefCell;

use image::GrayImage;
use tesseract::{PageSegMode, Tesseract};

use crate::ocrb::MRZ_ALPHABET;

thread_local! {
    static ENGINE: RefCell<Option<Tesseract>> = const { RefCell::new(None) };
}

fn engine() -> Option<Tesseract> {
    let mut t = Tesseract::new(None, Some("eng"))
        .ok()?
        .set_variable("tessedit_char_whitelist", MRZ_ALPHABET)
        .ok()?
        .set_variable("load_system_dawg", "0")
        .ok()?
        .set_variable("load_freq_dawg", "0")
        .ok()?;
    t.set_page_seg_mode(PageSegMode::PsmSingleLine);
    Some(t)
}

/// Reads one regular MRZ line; `None` if the engine is missing or fails. Spaces are dropped.
pub fn read_line(line: &GrayImage) -> Option<String> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let t = match slot.take() {
            Some(t) => t,
            None => engine()?,
        };
        let (w, h) = (line.width() as i32, line.height() as i32);
        let mut t = t
            .set_frame(line.as_raw(), w, h, 1, w)
            .ok()?
            .set_source_resolution(300)
            .recognize()
            .ok()?;
        let text = t.get_text().ok();
        *slot = Some(t);
        text.map(|s| s.chars().filter(|c| !c.is_whitespace()).collect())
    })
}
