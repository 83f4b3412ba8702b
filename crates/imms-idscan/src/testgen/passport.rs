//! Phone photos of a passport's data page: the page drawn with its machine readable zone in
//! OCR-B at the size and place ICAO 9303 gives (125 × 88 mm, 10 characters per inch), then
//! laid on a table and photographed like a card ([`super::photo::photograph`]): at an angle,
//! in perspective, in poor light, blurred, noisy, as a JPEG with an EXIF orientation.

use image::{GrayImage, Luma};
use rand::Rng;

use super::mrz::Passport;
use super::photo::{add_noise, box_blur, encode, photograph, Degradation};
use crate::ocrb;

/// Page size in millimetres (ICAO 9303 TD3).
const PAGE_MM: (f32, f32) = (125.0, 88.0);
/// MRZ character pitch (10 per inch) and cap height (OCR-B size 1), in millimetres.
const PITCH_MM: f32 = 2.54;
const LINE_MM: f32 = 4.23;

/// The data page at `px_per_mm`: paper with a fine wavy print, a portrait, the printed
/// fields and the two MRZ lines at the bottom.
pub fn data_page(p: &Passport, px_per_mm: f32, rng: &mut impl Rng) -> GrayImage {
    data_page_with(p, &p.lines(), px_per_mm, rng)
}

/// [`data_page`] with the given MRZ lines instead of `p`'s (e.g. a wrong check digit).
pub fn data_page_with(
    p: &Passport,
    mrz: &(String, String),
    px_per_mm: f32,
    rng: &mut impl Rng,
) -> GrayImage {
    let (w, h) = (
        (PAGE_MM.0 * px_per_mm) as u32,
        (PAGE_MM.1 * px_per_mm) as u32,
    );
    let paper = rng.gen_range(205..=240u8);
    let mut page = GrayImage::from_pixel(w, h, Luma([paper]));
    // Security print: faint sine waves, kept out of the MRZ's clear band as ICAO requires.
    let clear_top = h as f32 - 23.0 * px_per_mm;
    let (freq, amp) = (
        rng.gen_range(0.02..0.05),
        rng.gen_range(2.0..6.0) * px_per_mm,
    );
    for k in 0..12 {
        let y0 = (k as f32 + 0.5) * clear_top / 12.0;
        for x in 0..w {
            let y = y0 + amp * (x as f32 * freq / px_per_mm * 10.0 + k as f32).sin();
            if y >= 0.0 && y < clear_top {
                page.put_pixel(x, y as u32, Luma([paper.saturating_sub(35)]));
            }
        }
    }
    // Portrait.
    let (px, py) = ((5.0 * px_per_mm) as u32, (14.0 * px_per_mm) as u32);
    let (pw, ph) = ((32.0 * px_per_mm) as u32, (40.0 * px_per_mm) as u32);
    let tone = rng.gen_range(60..150u8);
    for y in py..(py + ph).min(h) {
        for x in px..(px + pw).min(w) {
            let v = tone as i32 + rng.gen_range(-20..20);
            page.put_pixel(x, y, Luma([v.clamp(0, 255) as u8]));
        }
    }
    let ink = rng.gen_range(10..=50u8);
    let small = 1.8 * px_per_mm;
    let tiny = 1.1 * px_per_mm;
    let person = &p.person;
    let x0 = 42.0 * px_per_mm;
    let line = |text: &str, y_mm: f32, size: f32, page: &mut GrayImage| {
        ocrb::draw_text(page, text, x0, y_mm * px_per_mm, size, ink);
    };
    line("PASSPORT  UNITED STATES OF AMERICA", 8.0, small, &mut page);
    line("SURNAME", 18.0, tiny, &mut page);
    line(&person.family, 22.0, small, &mut page);
    line("GIVEN NAMES", 27.0, tiny, &mut page);
    line(&person.given_names(), 31.0, small, &mut page);
    line("DATE OF BIRTH", 36.0, tiny, &mut page);
    line(
        &person.birth.format("%d %b %Y").to_string().to_uppercase(),
        40.0,
        small,
        &mut page,
    );
    line("PASSPORT NO.", 45.0, tiny, &mut page);
    line(&p.number, 49.0, small, &mut page);
    line("DATE OF EXPIRATION", 54.0, tiny, &mut page);
    line(
        &person.expiry.format("%d %b %Y").to_string().to_uppercase(),
        58.0,
        small,
        &mut page,
    );
    // The MRZ: two lines of 44 characters, the lower baseline about 4.5 mm above the edge.
    let (l1, l2) = mrz;
    let cap = PITCH_MM * px_per_mm / ocrb::pitch_per_cap();
    let left = (PAGE_MM.0 - 44.0 * PITCH_MM) / 2.0 * px_per_mm;
    let base2 = h as f32 - 4.5 * px_per_mm;
    ocrb::draw_text(&mut page, l1, left, base2 - LINE_MM * px_per_mm, cap, ink);
    ocrb::draw_text(&mut page, l2, left, base2, cap, ink);
    page
}

/// Photographs `p`'s data page, as encoded file bytes (JPEG or PNG). `d.card_frac` is the
/// page's share of the photo's width; `d.blur` is in tenths of a character pitch.
pub fn photo_of_passport(p: &Passport, d: &Degradation, rng: &mut impl Rng) -> Vec<u8> {
    photo_of_page_with(p, &p.lines(), d, rng)
}

/// [`photo_of_passport`] with the given MRZ lines instead of `p`'s.
pub fn photo_of_page_with(
    p: &Passport,
    mrz: &(String, String),
    d: &Degradation,
    rng: &mut impl Rng,
) -> Vec<u8> {
    let px_per_mm = d.photo_width as f32 * d.card_frac / PAGE_MM.0;
    let page = data_page_with(p, mrz, px_per_mm, rng);
    let mut scene = photograph(&page, d, rng);
    let r = (d.blur * PITCH_MM * px_per_mm / 10.0).round() as u32;
    for _ in 0..2 {
        box_blur(&mut scene, r);
    }
    add_noise(&mut scene, d.noise, rng);
    encode(scene, d)
}

/// A kitchen-table photo of a passport: as [`Degradation::random`], but the page is held
/// roughly upright or upside down (a passport is photographed open, in landscape).
pub fn random_degradation(rng: &mut impl Rng) -> Degradation {
    let mut d = Degradation::random(rng);
    let turn = if rng.gen_bool(0.2) { 180.0 } else { 0.0 };
    d.angle_deg = turn + rng.gen_range(-10.0..10.0);
    d.card_frac = rng.gen_range(0.6..0.92);
    d
}
