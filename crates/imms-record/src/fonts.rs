//! The embedded fonts (DejaVu Sans Condensed, see `fonts/README.md`) and their advance widths,
//! for line breaking and alignment before anything is drawn.

use std::collections::HashMap;
use std::sync::OnceLock;

use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

pub static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed.ttf");
pub static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-Bold.ttf");

/// Advance widths in em units (1.0 = the font size), and each character's glyph.
pub struct Metrics {
    widths: HashMap<char, f32>,
    glyphs: HashMap<char, u32>,
    missing: f32,
}

impl Metrics {
    fn load(data: &'static [u8]) -> Metrics {
        let mut widths = HashMap::new();
        let mut glyph_ids = HashMap::new();
        let mut missing = 0.6;
        if let Ok(font) = FontRef::new(data) {
            let upem = font
                .metrics(Size::unscaled(), LocationRef::default())
                .units_per_em as f32;
            let glyphs = font.glyph_metrics(Size::unscaled(), LocationRef::default());
            let charmap = font.charmap();
            for (cp, gid) in charmap.mappings() {
                if let (Some(c), Some(w)) = (char::from_u32(cp), glyphs.advance_width(gid)) {
                    widths.insert(c, w / upem);
                    glyph_ids.insert(c, gid.to_u32());
                }
            }
            missing = glyphs
                .advance_width(skrifa::GlyphId::NOTDEF)
                .map(|w| w / upem)
                .unwrap_or(missing);
        }
        Metrics {
            widths,
            glyphs: glyph_ids,
            missing,
        }
    }

    /// Width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.widths.get(&c).copied().unwrap_or(self.missing))
            .sum::<f32>()
            * size
    }

    /// `text` as positioned glyphs: each character its own glyph at its advance width, no
    /// shaping (no kerning or ligatures), so the drawn text is exactly as wide as the layout
    /// measured it; each glyph maps back to its character for text extraction.
    pub fn glyphs(&self, text: &str) -> Vec<krilla::text::KrillaGlyph> {
        text.char_indices()
            .map(|(i, c)| {
                let id = self.glyphs.get(&c).copied().unwrap_or(0);
                let advance = self.widths.get(&c).copied().unwrap_or(self.missing);
                krilla::text::KrillaGlyph::new(
                    krilla::text::GlyphId::new(id),
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    i..i + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    /// Whether the font has a glyph for `c`.
    pub fn covers(&self, c: char) -> bool {
        self.widths.contains_key(&c)
    }
}

pub fn metrics(bold: bool) -> &'static Metrics {
    static R: OnceLock<Metrics> = OnceLock::new();
    static B: OnceLock<Metrics> = OnceLock::new();
    if bold {
        B.get_or_init(|| Metrics::load(BOLD))
    } else {
        R.get_or_init(|| Metrics::load(REGULAR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining_accents_take_no_room_so_decomposed_names_print_in_place() {
        // Text is drawn as glyphs at their advance widths, without shaping: a decomposed
        // "é" (e + U+0301) keeps its accent on its letter only if the mark has no advance.
        for bold in [false, true] {
            let m = metrics(bold);
            for mark in ['\u{300}', '\u{301}', '\u{303}', '\u{308}', '\u{327}'] {
                assert!(m.covers(mark), "{mark:?}");
                assert_eq!(m.width(&mark.to_string(), 10.0), 0.0, "{mark:?}");
            }
            assert_eq!(m.width("e\u{301}", 10.0), m.width("e", 10.0));
            let glyphs = m.glyphs("Jose\u{301}");
            assert_eq!(glyphs.len(), 5);
            assert!(glyphs.iter().all(|g| g.glyph_id.to_u32() != 0));
            assert_eq!(glyphs[4].text_range, 4..6);
        }
    }
}
