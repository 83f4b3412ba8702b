//! The embedded fonts (DejaVu Sans Condensed, see `fonts/README.md`) and their advance widths,
//! for line breaking and alignment before anything is drawn.

use std::collections::HashMap;
use std::sync::OnceLock;

use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

pub static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed.ttf");
pub static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-Bold.ttf");

/// Advance widths in em units (1.0 = the font size).
pub struct Metrics {
    widths: HashMap<char, f32>,
    missing: f32,
}

impl Metrics {
    fn load(data: &'static [u8]) -> Metrics {
        let mut widths = HashMap::new();
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
                }
            }
            missing = glyphs
                .advance_width(skrifa::GlyphId::NOTDEF)
                .map(|w| w / upem)
                .unwrap_or(missing);
        }
        Metrics { widths, missing }
    }

    /// Width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.widths.get(&c).copied().unwrap_or(self.missing))
            .sum::<f32>()
            * size
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
