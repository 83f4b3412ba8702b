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
/// Vertical reach of a cell's registration, in pixels of the regular line.
const REACH_Y: i32 = 4;
/// Largest change of the horizontal offset from one cell to the next, in half-resolution
/// pixels: small against a cell, so neighbouring cells can never slide onto one glyph.
const JUMP: i32 = 3;

struct Template {
    c: char,
    /// Ink (255 − grey), zero mean, unit norm, row by row, at full and at half resolution.
    data: Vec<f32>,
    half: Vec<f32>,
}

/// Template sizes: full `(w, h)` and half `(w, h)`.
fn sizes() -> ((usize, usize), (usize, usize)) {
    let (w, h) = (pitch() as usize, (CAP + 2 * ROOM) as usize);
    ((w, h), (w / 2, h / 2))
}

fn templates() -> &'static [Template] {
    static T: OnceLock<Vec<Template>> = OnceLock::new();
    T.get_or_init(|| {
        let ((w, h), _) = sizes();
        ocrb::MRZ_ALPHABET
            .chars()
            .map(|c| {
                let mut img = GrayImage::from_pixel(w as u32, h as u32, Luma([255]));
                ocrb::draw_text(
                    &mut img,
                    &c.to_string(),
                    0.0,
                    (ROOM + CAP) as f32,
                    CAP as f32,
                    0,
                );
                let ink: Vec<f32> = img.as_raw().iter().map(|&p| 255.0 - f32::from(p)).collect();
                let mut half = halve(&ink, w, h);
                normalise(&mut half);
                let mut data = ink;
                normalise(&mut data);
                Template { c, data, half }
            })
            .collect()
    })
}

/// A `w` x `h` picture at half resolution (2 x 2 means, odd edges dropped).
fn halve(v: &[f32], w: usize, h: usize) -> Vec<f32> {
    let (hw, hh) = (w / 2, h / 2);
    let mut out = vec![0.0; hw * hh];
    for y in 0..hh {
        for x in 0..hw {
            let q = |dx: usize, dy: usize| v[(2 * y + dy) * w + 2 * x + dx];
            out[y * hw + x] = (q(0, 0) + q(1, 0) + q(0, 1) + q(1, 1)) / 4.0;
        }
    }
    out
}

fn normalise(v: &mut [f32]) -> bool {
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    v.iter_mut().for_each(|x| *x -= mean);
    let norm = dot(v, v).sqrt();
    if norm < 1e-3 {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

/// The dot product of two equally long vectors, summed in eight lanes so the compiler can
/// use SIMD (a single running float sum must be added in order, one element at a time).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// One character as read: the best match and the runner-up (another character), and the
/// two next after them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guess {
    pub best: char,
    pub score: f32,
    pub second: char,
    pub second_score: f32,
    pub next: [char; 2],
}

impl Guess {
    /// `c` is among the four glyphs this cell matches best.
    pub fn among_likeliest(&self, c: char) -> bool {
        c == self.best || c == self.second || self.next.contains(&c)
    }

    /// Sure enough to stand alone, without the other reader's agreement.
    pub fn confident(&self) -> bool {
        self.score >= 0.55 && self.score - self.second_score >= 0.06
    }
}

/// Ink of `line` (255 − grey), `w` x `h`, blank outside.
struct Ink {
    v: Vec<f32>,
    w: i32,
    h: i32,
}

impl Ink {
    fn of(line: &GrayImage) -> Self {
        Ink {
            v: line
                .as_raw()
                .iter()
                .map(|&p| 255.0 - f32::from(p))
                .collect(),
            w: line.width() as i32,
            h: line.height() as i32,
        }
    }

    /// The same ink at half resolution.
    fn halved(&self) -> Ink {
        let (w, h) = (self.w as usize, self.h as usize);
        Ink {
            v: halve(&self.v, w, h),
            w: (w / 2) as i32,
            h: (h / 2) as i32,
        }
    }

    /// The best score of each of `tpl` (by `pick`) against the `tw` x `th` window at
    /// (x0, y0), written into `scores`; false where the window holds no contrast.
    #[allow(clippy::too_many_arguments)]
    fn score(
        &self,
        x0: i32,
        y0: i32,
        (tw, th): (usize, usize),
        tpl: &[&Template],
        pick: fn(&Template) -> &[f32],
        window: &mut Vec<f32>,
        scores: &mut [f32],
    ) -> bool {
        window.clear();
        let inside_x = x0 >= 0 && x0 + tw as i32 <= self.w;
        for y in 0..th as i32 {
            let py = y0 + y;
            if py < 0 || py >= self.h {
                window.extend(std::iter::repeat_n(0.0, tw));
            } else if inside_x {
                let start = (py * self.w + x0) as usize;
                window.extend_from_slice(&self.v[start..start + tw]);
            } else {
                window.extend((x0..x0 + tw as i32).map(|px| {
                    if px >= 0 && px < self.w {
                        self.v[(py * self.w + px) as usize]
                    } else {
                        0.0
                    }
                }));
            }
        }
        if !normalise(window) {
            return false;
        }
        for (t, best) in tpl.iter().zip(scores.iter_mut()) {
            let s = dot(pick(t), window);
            if s > *best {
                *best = s;
            }
        }
        true
    }
}

/// The coarse half of [`read`]: each cell registered at half resolution. `coarse[i * span + o]`
/// holds cell `i`'s best score at horizontal offset `o`, the vertical offset and the allowed
/// glyph (its index) that gave it; `offsets[i]` is the chosen `o`.
struct Registration {
    coarse: Vec<(f32, i32, usize)>,
    offsets: Vec<usize>,
    reach: i32,
    span: usize,
}

fn allowed_templates(allowed: &[&str; CHARS]) -> Vec<Vec<&'static Template>> {
    let all = templates();
    allowed
        .iter()
        .map(|a| all.iter().filter(|t| a.contains(t.c)).collect())
        .collect()
}

/// How well `line` fits the OCR-B glyphs, 0–1: the mean over its 44 cells of the score, at
/// full resolution, of the glyph the registration found best for the cell. About a third of
/// the work of [`read`] (one glyph scored finely per cell instead of all allowed), for
/// telling a passport's zone from other print.
pub fn fit(line: &GrayImage, allowed: &[&str; CHARS]) -> f32 {
    let full = Ink::of(line);
    let tpl = allowed_templates(allowed);
    let reg = register(&full.halved(), &tpl);
    let mut window = Vec::new();
    let sum: f32 = (0..CHARS)
        .map(|i| {
            let o = reg.offsets[i];
            let best = tpl[i][reg.coarse[i * reg.span + o].2];
            fine(&full, &reg, i, &[best], &mut window)[0].max(0.0)
        })
        .sum();
    sum / CHARS as f32
}

/// The scores of `tpl` for cell `i` at full resolution, each its best within ±2 px across
/// and ±1 px down of the cell's own place, or of its registered place where that fits
/// clearly better (on a blurred line a shifted window can favour a wrong glyph).
fn fine(
    full: &Ink,
    reg: &Registration,
    i: usize,
    tpl: &[&Template],
    window: &mut Vec<f32>,
) -> Vec<f32> {
    let ((w, h), _) = sizes();
    let p = pitch() as i32;
    let o = reg.offsets[i];
    let (ox, oy) = (
        2 * (o as i32 - reg.reach),
        2 * reg.coarse[i * reg.span + o].1,
    );
    let x0 = MARGIN as i32 + i as i32 * p;
    let y0 = MARGIN as i32 - ROOM as i32;
    let mut at = |px: i32, py: i32| {
        let mut scores = vec![f32::MIN; tpl.len()];
        for dy in -1..=1 {
            for dx in -2..=2 {
                full.score(
                    x0 + px + dx,
                    y0 + py + dy,
                    (w, h),
                    tpl,
                    |t| &t.data,
                    window,
                    &mut scores,
                );
            }
        }
        scores
    };
    let top = |v: &[f32]| v.iter().copied().fold(f32::MIN, f32::max);
    let own = at(0, 0);
    if (ox, oy) == (0, 0) {
        return own;
    }
    let moved = at(ox, oy);
    if top(&moved) > top(&own) + 0.05 {
        moved
    } else {
        own
    }
}

fn register(half: &Ink, allowed_tpl: &[Vec<&Template>]) -> Registration {
    let (_, (hw, hh)) = sizes();
    let p = pitch() as i32;
    let reach = (p as f32 / 3.0 / 2.0).round() as i32;
    let span = (2 * reach + 1) as usize;
    let mut window = Vec::with_capacity(hw * hh);
    // Coarse: per cell and horizontal offset, the best score over the vertical offsets and
    // the allowed glyphs (and the vertical offset that gave it).
    let mut coarse = vec![(f32::MIN, 0i32, 0usize); CHARS * span];
    for (i, tpl) in allowed_tpl.iter().enumerate() {
        let mut scores = vec![f32::MIN; tpl.len()];
        let x0 = (MARGIN as i32 + i as i32 * p) / 2;
        let y0 = (MARGIN as i32 - ROOM as i32) / 2;
        for ox in -reach..=reach {
            let cell = &mut coarse[i * span + (ox + reach) as usize];
            for oy in -REACH_Y / 2..=REACH_Y / 2 {
                scores.iter_mut().for_each(|s| *s = f32::MIN);
                if !half.score(
                    x0 + ox,
                    y0 + oy,
                    (hw, hh),
                    tpl,
                    |t| &t.half,
                    &mut window,
                    &mut scores,
                ) {
                    continue;
                }
                let (k, s) = scores
                    .iter()
                    .copied()
                    .enumerate()
                    .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
                if s > cell.0 {
                    *cell = (s, oy, k);
                }
            }
        }
    }
    // The chain of offsets with the highest total score.
    let mut total = vec![0f32; CHARS * span];
    let mut from = vec![0usize; CHARS * span];
    for i in 0..CHARS {
        for o in 0..span {
            let own = coarse[i * span + o].0.max(-1.0);
            if i == 0 {
                total[o] = own;
                continue;
            }
            let lo = o.saturating_sub(JUMP as usize);
            let hi = (o + JUMP as usize).min(span - 1);
            let prev = (lo..=hi)
                .max_by(|&a, &b| total[(i - 1) * span + a].total_cmp(&total[(i - 1) * span + b]))
                .unwrap_or(o);
            total[i * span + o] = total[(i - 1) * span + prev] + own;
            from[i * span + o] = prev;
        }
    }
    let mut offsets = vec![0usize; CHARS];
    offsets[CHARS - 1] = (0..span)
        .max_by(|&a, &b| total[(CHARS - 1) * span + a].total_cmp(&total[(CHARS - 1) * span + b]))
        .unwrap_or(reach as usize);
    for i in (1..CHARS).rev() {
        offsets[i - 1] = from[i * span + offsets[i]];
    }
    Registration {
        coarse,
        offsets,
        reach,
        span,
    }
}

/// Reads the 44 cells of `line`; `allowed[i]` lists the characters cell `i` may hold.
///
/// Each cell is registered on its own: perspective and a grid fitted a little off leave
/// glyphs up to a third of a cell from their cell's place. A coarse search at half
/// resolution finds each cell's offset (within a third of a cell across and a few pixels
/// up or down), the offsets chained so that neighbours differ little; then every allowed
/// glyph is scored at full resolution around that offset.
pub fn read(line: &GrayImage, allowed: &[&str; CHARS]) -> Vec<Guess> {
    let full = Ink::of(line);
    let allowed_tpl = allowed_templates(allowed);
    let reg = register(&full.halved(), &allowed_tpl);
    let mut window = Vec::new();
    (0..CHARS)
        .map(|i| {
            let tpl = &allowed_tpl[i];
            let scores = fine(&full, &reg, i, tpl, &mut window);
            let mut ranked: Vec<(char, f32)> = tpl.iter().map(|t| t.c).zip(scores).collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let (best, score) = ranked.first().copied().unwrap_or(('<', 0.0));
            let (second, second_score) = ranked.get(1).copied().unwrap_or((best, -1.0));
            let nth = |k: usize| ranked.get(k).map_or(second, |r| r.0);
            Guess {
                best,
                score,
                second,
                second_score,
                next: [nth(2), nth(3)],
            }
        })
        .collect()
}
