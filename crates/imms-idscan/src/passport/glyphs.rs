//! The second reader: every character cell of a regular line (module `line`) compared with
//! OCR-B glyphs drawn from the embedded font, by normalised cross-correlation over small
//! shifts. Unlike a general OCR engine it cannot mistake the filler `<` for a letter drawn
//! differently, and it says how sure it is of every character.

use std::sync::OnceLock;

use image::{GrayImage, Luma};

use super::line::{pitch, CAP, CHARS, MARGIN};
use crate::ocrb;

/// Rows of room above and below the capitals in a template.
const ROOM: u32 = 3;
/// Shifts tried, in pixels.
const DX: i32 = 2;
const DY: i32 = 1;

struct Template {
    c: char,
    /// Ink (255 − grey), zero mean, unit norm, row by row.
    data: Vec<f32>,
}

fn templates() -> &'static [Template] {
    static T: OnceLock<Vec<Template>> = OnceLock::new();
    T.get_or_init(|| {
        let (w, h) = (pitch(), CAP + 2 * ROOM);
        ocrb::MRZ_ALPHABET
            .chars()
            .map(|c| {
                let mut img = GrayImage::from_pixel(w, h, Luma([255]));
                ocrb::draw_text(
                    &mut img,
                    &c.to_string(),
                    0.0,
                    (ROOM + CAP) as f32,
                    CAP as f32,
                    0,
                );
                let mut data: Vec<f32> =
                    img.as_raw().iter().map(|&p| 255.0 - f32::from(p)).collect();
                normalise(&mut data);
                Template { c, data }
            })
            .collect()
    })
}

fn normalise(v: &mut [f32]) -> bool {
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    v.iter_mut().for_each(|x| *x -= mean);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm < 1e-3 {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

/// One character as read: the best match and the runner-up (another character).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guess {
    pub best: char,
    pub score: f32,
    pub second: char,
    pub second_score: f32,
}

impl Guess {
    /// Sure enough to stand alone, without the other reader's agreement.
    pub fn confident(&self) -> bool {
        self.score >= 0.55 && self.score - self.second_score >= 0.06
    }
}

/// Reads the 44 cells of `line`; `allowed[i]` lists the characters cell `i` may hold.
pub fn read(line: &GrayImage, allowed: &[&str; CHARS]) -> Vec<Guess> {
    let tpl = templates();
    let (w, h) = (pitch() as i32, (CAP + 2 * ROOM) as i32);
    let mut window = vec![0f32; (w * h) as usize];
    (0..CHARS)
        .map(|i| {
            let mut scores: Vec<(char, f32)> = tpl
                .iter()
                .filter(|t| allowed[i].contains(t.c))
                .map(|t| (t.c, f32::MIN))
                .collect();
            let x0 = MARGIN as i32 + i as i32 * w;
            let y0 = MARGIN as i32 - ROOM as i32;
            for dy in -DY..=DY {
                for dx in -DX..=DX {
                    for y in 0..h {
                        for x in 0..w {
                            let (px, py) = (x0 + dx + x, y0 + dy + y);
                            let p = if px >= 0
                                && py >= 0
                                && (px as u32) < line.width()
                                && (py as u32) < line.height()
                            {
                                line.get_pixel(px as u32, py as u32).0[0]
                            } else {
                                255
                            };
                            window[(y * w + x) as usize] = 255.0 - f32::from(p);
                        }
                    }
                    if !normalise(&mut window) {
                        continue;
                    }
                    for (c, best) in scores.iter_mut() {
                        let t = tpl.iter().find(|t| t.c == *c).expect("template exists");
                        let s: f32 = t.data.iter().zip(&window).map(|(a, b)| a * b).sum();
                        if s > *best {
                            *best = s;
                        }
                    }
                }
            }
            scores.sort_by(|a, b| b.1.total_cmp(&a.1));
            let (best, score) = scores.first().copied().unwrap_or(('<', 0.0));
            let (second, second_score) = scores.get(1).copied().unwrap_or((best, -1.0));
            Guess {
                best,
                score,
                second,
                second_score,
            }
        })
        .collect()
}
