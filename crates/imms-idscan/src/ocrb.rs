//! The OCR-B font (embedded, see `fonts/README.md`): glyph pictures for the MRZ reader's
//! templates and for the generator's passport pages.

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use image::{GrayImage, Luma};

static OCRB: &[u8] = include_bytes!("../fonts/OCRB.otf");

/// The 37 characters an MRZ may hold.
pub const MRZ_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

pub fn font() -> FontRef<'static> {
    FontRef::try_from_slice(OCRB).expect("the embedded OCR-B font parses")
}

/// Horizontal advance of every OCR-B glyph (a monospaced font), as a fraction of the
/// cap height; cap height is what [`draw_text`] is given.
pub fn pitch_per_cap() -> f32 {
    let f = font();
    f.h_advance_unscaled(f.glyph_id('A')) / cap_height_unscaled(&f)
}

/// The mean blank beside a glyph's ink within its cell, as a fraction of the cell width.
pub fn side_bearing() -> f32 {
    let f = font();
    let adv = f.h_advance_unscaled(f.glyph_id('A'));
    let sum: f32 = MRZ_ALPHABET
        .chars()
        .filter_map(|c| f.outline(f.glyph_id(c)))
        .map(|o| (adv - (o.bounds.max.x - o.bounds.min.x).abs()) / 2.0 / adv)
        .sum();
    sum / MRZ_ALPHABET.len() as f32
}

/// The `PxScale` (ab_glyph's scale is the ascent-to-descent height) giving capitals `cap_px`
/// tall.
fn scale_for_cap(f: &FontRef<'_>, cap_px: f32) -> PxScale {
    PxScale::from(cap_px / cap_height_unscaled(f) * f.height_unscaled())
}

fn cap_height_unscaled(f: &FontRef<'_>) -> f32 {
    f.outline(f.glyph_id('H'))
        .map(|o| (o.bounds.max.y - o.bounds.min.y).abs())
        .unwrap_or(700.0)
}

/// Draws `text` in OCR-B with capitals `cap_px` tall, ink value `ink` over whatever is in
/// `img`, the baseline at `y`, the first cell starting at `x`. Returns the pen's end x.
pub fn draw_text(img: &mut GrayImage, text: &str, x: f32, y: f32, cap_px: f32, ink: u8) -> f32 {
    let f = font();
    let px = scale_for_cap(&f, cap_px);
    let scaled = f.as_scaled(px);
    let mut pen = x;
    for c in text.chars() {
        let id = f.glyph_id(c);
        let glyph = id.with_scale_and_position(px, point(pen, y));
        if let Some(outline) = f.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                let (xx, yy) = (
                    b.min.x as i64 + i64::from(gx),
                    b.min.y as i64 + i64::from(gy),
                );
                if xx >= 0 && yy >= 0 && (xx as u32) < img.width() && (yy as u32) < img.height() {
                    let p = img.get_pixel_mut(xx as u32, yy as u32);
                    let v = f32::from(p.0[0]) * (1.0 - cov) + f32::from(ink) * cov;
                    *p = Luma([v.round() as u8]);
                }
            });
        }
        pen += scaled.h_advance(id);
    }
    pen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monospaced_and_drawable() {
        let f = font();
        let adv = |c| f.h_advance_unscaled(f.glyph_id(c));
        assert!(MRZ_ALPHABET
            .chars()
            .all(|c| (adv(c) - adv('A')).abs() < 1e-3));
        assert!(MRZ_ALPHABET
            .chars()
            .all(|c| f.outline(f.glyph_id(c)).is_some()));
        let mut img = GrayImage::from_pixel(200, 40, Luma([255]));
        draw_text(&mut img, "P<USA", 2.0, 30.0, 20.0, 0);
        assert!(img.pixels().filter(|p| p.0[0] < 128).count() > 100);
        assert!(pitch_per_cap() > 0.5 && pitch_per_cap() < 1.2);
    }
}
