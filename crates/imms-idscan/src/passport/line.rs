//! One MRZ line cut out of the full photo and made regular: level, capitals exactly
//! [`CAP`] pixels tall, and each of the 44 characters in its own [`pitch`]-wide cell starting
//! at [`MARGIN`]. Perspective makes the characters at one end of a line larger than at the
//! other; the cell grid is therefore fitted to the characters (a quadratic in the character
//! index) rather than assumed even.

use image::{GrayImage, Luma};

use super::band::{ink_mask, Band, Zone};
use crate::ocrb;

/// Capital height of a regular line, in pixels.
pub const CAP: u32 = 32;
/// White border around a regular line.
pub const MARGIN: u32 = 8;
/// Characters per line.
pub const CHARS: usize = 44;

/// Width of one character cell of a regular line.
pub fn pitch() -> u32 {
    (CAP as f32 * ocrb::pitch_per_cap()).round() as u32
}

/// A line cut out, levelled and upright, with the cell grid fitted to it.
#[derive(Clone)]
pub struct Line {
    level: GrayImage,
    /// Left and right ends of the grid and its bow at the middle, in `level`'s pixels.
    a: f32,
    b: f32,
    m: f32,
    /// Rough cell width in `level`'s pixels.
    p0: f32,
}

impl Line {
    /// The line resampled onto the regular cell grid, with the fitted grid bowed by `bow`
    /// cells more at its middle (a second guess where perspective fooled the gap fit).
    pub fn regular(&self, bow: f32) -> GrayImage {
        let (a, b, m) = (self.a, self.b, self.m + bow * self.p0);
        let pitch = pitch();
        let out_w = CHARS as u32 * pitch + 2 * MARGIN;
        GrayImage::from_fn(out_w, self.level.height(), |x, y| {
            let k = (x as f32 + 0.5 - MARGIN as f32) / pitch as f32;
            let src = boundary(a, b, m, k);
            Luma([sample(&self.level, src, y as f32 + 0.5).unwrap_or(255)])
        })
    }
}

/// Cuts `band` out of `full`, levels it and fits its cell grid; `flip` reads it upside down.
///
/// The band may lie a few degrees off its line and stop short of its ends (a page in
/// perspective turns its two lines apart, and the band search settles on the first angle
/// that shows both). So the line is cut out twice: along the band, then along the line that
/// the first cut found, centred on it.
pub fn extract(full: &GrayImage, zone: &Zone, band: &Band, flip: bool) -> Option<Line> {
    let first = Frame::of(band);
    let (_, centre_line) = followed(&cut(full, zone, &first, flip))?;
    let strip = cut(full, zone, &first.along(centre_line, flip), flip);
    let (found, centre_line) = followed(&strip)?;
    let cap = cap_height(&found);
    fit_grid(upright(&levelled(&strip, centre_line, cap)), cap)
}

/// A rectangle of the zone's turned copy to cut out: its centre, the direction of its long
/// side (radians), its half length and half height, and the strip pixels per copy pixel.
#[derive(Debug, Clone, Copy)]
struct Frame {
    centre: (f32, f32),
    angle: f32,
    half_len: f32,
    half_height: f32,
    k: f32,
}

impl Frame {
    /// The band and some room around it, at [`CAP`] pixels per band height.
    fn of(band: &Band) -> Frame {
        Frame {
            centre: ((band.x0 + band.x1 + 1.0) / 2.0, (band.y0 + band.y1) / 2.0),
            angle: 0.0,
            // Room for a band found a little short of its line's ends.
            half_len: band.len() / 2.0 + 3.0 * band.height(),
            half_height: 1.5 * band.height(),
            k: CAP as f32 / band.height(),
        }
    }

    /// A frame of the same size centred on and along the line `y = a + b x` found in this
    /// frame's strip.
    fn along(self, (a, b): (f32, f32), flip: bool) -> Frame {
        // The strip's middle column, in pixel indices as the fit is.
        let u = self.half_len * self.k - 0.5;
        let dv = (a + b * u + 0.5) / self.k - self.half_height;
        let dv = if flip { -dv } else { dv };
        let (s, c) = self.angle.sin_cos();
        Frame {
            centre: (self.centre.0 - s * dv, self.centre.1 + c * dv),
            angle: self.angle + b.atan(),
            ..self
        }
    }

    /// The turned copy's point under pixel `(u, v)` of the strip.
    fn point(&self, u: f32, v: f32, flip: bool) -> (f32, f32) {
        let (du, dv) = (u / self.k - self.half_len, v / self.k - self.half_height);
        let (du, dv) = if flip { (-du, -dv) } else { (du, dv) };
        let (s, c) = self.angle.sin_cos();
        (
            self.centre.0 + c * du - s * dv,
            self.centre.1 + s * du + c * dv,
        )
    }
}

/// The strip `frame` covers, contrast stretched.
fn cut(full: &GrayImage, zone: &Zone, frame: &Frame, flip: bool) -> GrayImage {
    let w = (2.0 * frame.half_len * frame.k) as u32;
    let h = (2.0 * frame.half_height * frame.k) as u32;
    let strip = GrayImage::from_fn(w.max(1), h.max(1), |u, v| {
        let (x, y) = frame.point(u as f32 + 0.5, v as f32 + 0.5, flip);
        let (x, y) = zone.to_full(x, y);
        Luma([sample(full, x, y).unwrap_or(255)])
    });
    stretch(strip)
}

fn sample(img: &GrayImage, x: f32, y: f32) -> Option<u8> {
    crate::geometry::bilinear(img, x - 0.5, y - 0.5)
}

/// Contrast stretched so the 1st and 99th percentiles become black and white.
fn stretch(mut img: GrayImage) -> GrayImage {
    let mut hist = [0usize; 256];
    img.as_raw().iter().for_each(|&p| hist[p as usize] += 1);
    let n = img.as_raw().len();
    let pct = |q: f64| {
        let mut acc = 0;
        hist.iter()
            .position(|&c| {
                acc += c;
                acc as f64 > n as f64 * q
            })
            .unwrap_or(255) as f32
    };
    let (lo, hi) = (pct(0.01), pct(0.99));
    if hi - lo >= 8.0 {
        for p in img.iter_mut() {
            *p = ((f32::from(*p) - lo) * 255.0 / (hi - lo)).clamp(0.0, 255.0) as u8;
        }
    }
    img
}

/// The line a strip holds, slice by slice, and its centre in the strip, `y = a + b x`.
///
/// A page in perspective turns the line off the strip's direction. So the line is followed
/// slice by slice, first counting ink along the strip's rows, then along the direction that
/// first pass found: counted across a turned line, each character's ink smears over more
/// rows, the gap between the two MRZ lines fills in and a slice can take both lines for one.
fn followed(strip: &GrayImage) -> Option<(Vec<Slice>, (f32, f32))> {
    let ink = ink_mask(strip, CAP / 2);
    let (w, h) = (strip.width() as usize, strip.height() as usize);
    let (mut found, mut line) = (Vec::new(), (0.0, 0.0));
    for _ in 0..3 {
        let slope = line.1;
        found = follow(&ink, w, h, slope)?;
        let centres: Vec<(f32, f32)> = found.iter().map(|s| (s.x, s.mean)).collect();
        line = fit_line(&centres);
        if (line.1 - slope).abs() < 0.004 {
            break;
        }
    }
    Some((found, line))
}

/// The strip with its text centred on a level line (its centre `y = a + b x`) and capitals
/// `cap` strip pixels tall made [`CAP`] tall; the level line keeps the strip's widths.
fn levelled(strip: &GrayImage, (a, b): (f32, f32), cap: f32) -> GrayImage {
    let out_h = CAP + 2 * MARGIN;
    let centre = (out_h as f32) / 2.0;
    GrayImage::from_fn(strip.width(), out_h, |u, v| {
        let x = u as f32 + 0.5;
        let y = a + b * x + (v as f32 + 0.5 - centre) * cap / CAP as f32;
        Luma([sample(strip, x, y + 0.5).unwrap_or(255)])
    })
}

/// What one slice of a strip shows of the line: its middle column, the ink's mean row
/// there, and the ink's height.
#[derive(Debug, Clone, Copy)]
struct Slice {
    x: f32,
    mean: f32,
    extent: f32,
}

/// Slices a strip is cut into to follow its line.
const SLICES: usize = 11;

/// The line followed through the slices of an ink mask `w` x `h`, rows counted along
/// `slope`: from the slice nearest the middle that holds it (a glare spot or a stretch of
/// fillers may hide it in the very middle), outwards, each slice looking for it where its
/// neighbour found it (a line a little off the strip's direction drifts towards the strip's
/// edge, where the other line can come nearer the middle than this one). `None` when fewer
/// than three slices hold it.
fn follow(ink: &[bool], w: usize, h: usize, slope: f32) -> Option<Vec<Slice>> {
    let measure = |s: usize, near: f32| -> Option<Slice> {
        let (a, b) = (s * w / SLICES, (s + 1) * w / SLICES);
        let xc = (a + b) as f32 / 2.0;
        let mut rows = vec![0usize; h];
        for y in 0..h {
            for x in (a..b).filter(|&x| ink[y * w + x]) {
                let r = (y as f32 - slope * (x as f32 + 0.5 - xc)).round();
                if r >= 0.0 && (r as usize) < h {
                    rows[r as usize] += 1;
                }
            }
        }
        // Only this line's ink: the run of busy rows nearest where the line is expected
        // (the strip also holds part of the other MRZ line).
        let busy = (b - a) / 20 + 1;
        let (top, bottom) = nearest_run(&rows, busy, near.max(0.0) as usize)?;
        let total: usize = rows[top..=bottom].iter().sum();
        // Too little ink for text, or ink taller than a band or solid (the dark beyond the
        // page's edge, which the strip may reach: text leaves most of its rows blank).
        let solid = total * 10 > (b - a) * (bottom - top + 1) * 6;
        if total < (b - a) * 2 || (bottom - top) as f32 > 1.4 * CAP as f32 || solid {
            return None;
        }
        let mean = rows[top..=bottom]
            .iter()
            .enumerate()
            .map(|(y, &c)| (top + y) * c)
            .sum::<usize>() as f32
            / total as f32;
        Some(Slice {
            x: xc,
            mean,
            extent: (bottom - top + 1) as f32,
        })
    };
    let middle = SLICES / 2;
    let (first, start) = (0..=middle)
        .flat_map(|d| [middle - d, middle + d])
        .find_map(|s| measure(s, h as f32 / 2.0).map(|m| (s, m)))?;
    let mut found = vec![start];
    for outwards in [
        (first + 1..SLICES).collect::<Vec<_>>(),
        (0..first).rev().collect(),
    ] {
        let mut last = start;
        for s in outwards {
            let x = ((2 * s + 1) * w) as f32 / (2 * SLICES) as f32;
            if let Some(m) = measure(s, last.mean + slope * (x - last.x)) {
                found.push(m);
                last = m;
            }
        }
    }
    (found.len() >= 3).then_some(found)
}

/// The capitals' height from the slices' ink heights: the median of the tall ones (a slice
/// of fillers, `<` being shorter than a capital, is not). A straight fit along the line, for
/// the capitals that perspective makes taller at one end, was tried: under blur a run of
/// fillers smears into ink taller than the digits, and the fit followed that, not the
/// perspective.
fn cap_height(found: &[Slice]) -> f32 {
    let mut extents: Vec<f32> = found.iter().map(|s| s.extent).collect();
    extents.sort_by(f32::total_cmp);
    let tallest = extents[extents.len() - 1];
    let tall: Vec<f32> = extents
        .into_iter()
        .filter(|&e| e >= 0.75 * tallest)
        .collect();
    tall[tall.len() / 2]
}

/// The run of rows with at least `busy` ink pixels (gaps of two rows bridged) whose middle
/// is nearest `mid`.
fn nearest_run(rows: &[usize], busy: usize, mid: usize) -> Option<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (y, &c) in rows.iter().enumerate() {
        if c < busy {
            continue;
        }
        match runs.last_mut() {
            Some(r) if y - r.1 <= 3 => r.1 = y,
            _ => runs.push((y, y)),
        }
    }
    runs.into_iter()
        .filter(|r| r.1 - r.0 >= 2)
        .min_by_key(|r| ((r.0 + r.1) / 2).abs_diff(mid))
}

/// The line with its characters' lean undone. A page photographed in perspective is
/// sheared as well as turned: its vertical strokes lean. The lean is the horizontal shear
/// that piles the ink into the sharpest columns.
fn upright(level: &GrayImage) -> GrayImage {
    let (w, h) = (level.width() as usize, level.height() as usize);
    let ink = ink_mask(level, CAP / 2);
    let mid = h as f32 / 2.0;
    let pts: Vec<(f32, f32)> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| ink[y * w + x])
        .map(|(x, y)| (x as f32, y as f32 - mid))
        .collect();
    let pad = h;
    let mut cols = vec![0u32; w + 2 * pad];
    let mut sharpness = |k: f32| {
        cols.iter_mut().for_each(|c| *c = 0);
        for &(x, dy) in &pts {
            let c = (x - k * dy + pad as f32).clamp(0.0, (w + 2 * pad - 1) as f32) as usize;
            cols[c] += 1;
        }
        cols.iter()
            .map(|&n| u64::from(n) * u64::from(n))
            .sum::<u64>()
    };
    let best = (-30..=30)
        .map(|i| i as f32 * 0.01)
        .map(|k| (k, sharpness(k)))
        .max_by_key(|&(_, v)| v)
        .map_or(0.0, |(k, _)| k);
    if best.abs() < 0.005 {
        return level.clone();
    }
    GrayImage::from_fn(w as u32, h as u32, |x, y| {
        let src = x as f32 + 0.5 + best * (y as f32 + 0.5 - mid);
        Luma([sample(level, src, y as f32 + 0.5).unwrap_or(255)])
    })
}

/// The line's columns: the run of inked columns (at least two ink pixels) around the
/// middle, bridging gaps of up to `gap` blank columns. Beyond a wider gap lies other print
/// or the page's edge (the zone starts some capitals in from it).
fn extent(cols: &[usize], gap: usize) -> Option<(usize, usize)> {
    let inked = |x: &usize| cols[*x] >= 2;
    let mid = cols.len() / 2;
    let seed = (0..cols.len())
        .filter(inked)
        .min_by_key(|x| x.abs_diff(mid))?;
    let mut from = seed;
    for x in (0..seed).rev().filter(inked) {
        if from - x > gap + 1 {
            break;
        }
        from = x;
    }
    let mut to = seed;
    for x in (seed + 1..cols.len()).filter(inked) {
        if x - to > gap + 1 {
            break;
        }
        to = x;
    }
    Some((from, to))
}

/// Least squares y = a + b x.
fn fit_line(pts: &[(f32, f32)]) -> (f32, f32) {
    let n = pts.len() as f32;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f32 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f32 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (my - b * mx, b)
}

/// Where boundary `k` (0..=CHARS) of a grid from `a` to `b` bowed by `m` falls.
fn boundary(a: f32, b: f32, m: f32, k: f32) -> f32 {
    let t = k / CHARS as f32;
    a + (b - a) * t + 4.0 * m * t * (1.0 - t)
}

/// The cell grid of an upright, levelled line; `cap` is its capitals' height measured in its
/// horizontal pixels (from [`cap_height`]), which sets the pitch and the widest gap inside it.
fn fit_grid(level: GrayImage, cap: f32) -> Option<Line> {
    let (w, h) = (level.width() as usize, level.height() as usize);
    let ink = ink_mask(&level, CAP / 2);
    let (r0, r1) = (MARGIN as usize, (MARGIN + CAP) as usize);
    let cols: Vec<usize> = (0..w)
        .map(|x| (r0..r1.min(h)).filter(|&y| ink[y * w + x]).count())
        .collect();
    // The ends of the line: where a half cell's worth of columns first holds real ink.
    let total: usize = cols.iter().sum();
    let rough = (cap * ocrb::pitch_per_cap()).max(4.0) as usize;
    let enough = (total / CHARS / 6).max(4);
    let window = |x: usize| cols[x..(x + rough / 2).min(w)].iter().sum::<usize>();
    let (from, to) = extent(&cols, (1.2 * cap) as usize)?;
    let left = (from..=to).find(|&x| cols[x] >= 2 && window(x) >= enough)? as f32;
    let right = (from..=to).rev().find(|&x| {
        cols[x] >= 2 && cols[x.saturating_sub(rough / 2)..=x].iter().sum::<usize>() >= enough
    })? as f32;
    let side = ocrb::side_bearing();
    let p0 = (right - left) / (CHARS as f32 - 2.0 * side);
    if p0 < 4.0 {
        return None;
    }
    // The cell boundaries fall in the gaps between characters: of the grids running from
    // near the left end to near the right end, bowed by perspective by up to three cells in
    // the middle, take the one whose boundaries cross the least ink, and among grids that
    // cross none (a blurred line's gaps are narrow, a sharp line's wide) the one whose
    // boundaries keep furthest from the ink: ink spread over a quarter cell weighs in a
    // little.
    let spread = |r: usize| -> Vec<f32> {
        (0..w)
            .map(|x| {
                (x.saturating_sub(r)..=(x + r).min(w - 1))
                    .map(|i| (r + 1 - i.abs_diff(x)) as f32 * cols[i] as f32)
                    .sum()
            })
            .collect()
    };
    let (narrow, wide) = (spread(1), spread((p0 / 4.0) as usize));
    let at = |x: f32| {
        let i = x.round().max(0.0) as usize;
        narrow.get(i).map_or(0.0, |n| n + 0.01 * wide[i])
    };
    let (a0, b0) = (left - side * p0, right + side * p0);
    let steps = |n: i32, step: f32| (-n..=n).map(move |i| i as f32 * step);
    let mut best = (f32::MAX, a0, b0, 0.0);
    for da in steps(6, 0.05 * p0) {
        for db in steps(6, 0.05 * p0) {
            for m in steps(30, 0.1 * p0) {
                let cost: f32 = (1..CHARS)
                    .map(|k| at(boundary(a0 + da, b0 + db, m, k as f32)))
                    .sum();
                if cost < best.0 {
                    best = (cost, a0 + da, b0 + db, m);
                }
            }
        }
    }
    let (_, a, b, m) = best;
    Some(Line { level, a, b, m, p0 })
}

#[cfg(test)]
mod tests {
    use super::{extent, follow};

    #[test]
    fn a_line_ends_at_the_first_gap_wider_than_allowed() {
        // Page edge (dark) at 0..5, a margin of 20 blank columns, then the line: glyphs of
        // 6 inked columns with gaps of 4, one of 6 among them.
        let mut cols = vec![0usize; 120];
        cols[..5].fill(9);
        for start in (25..100).step_by(10) {
            cols[start..start + 6].fill(5);
        }
        cols[61..67].fill(0);
        assert_eq!(extent(&cols, 12), Some((25, 100)));
        // Where the margin is no wider than a gap, the edge joins the line.
        assert_eq!(extent(&cols, 20), Some((0, 100)));
        assert_eq!(extent(&[0; 10], 3), None);
    }

    #[test]
    fn a_turned_line_is_followed_along_its_direction_not_across_into_the_other() {
        // Two lines of characters 12 rows tall, 8 rows apart, turned by 0.03 (rising 36
        // rows over the strip), the one to follow centred on row 48 at the strip's middle.
        let (w, h) = (1200usize, 96usize);
        let mut ink = vec![false; w * h];
        for x in (0..w).filter(|x| x % 20 < 12) {
            let centre = 48.0 - 0.03 * (x as f32 - 600.0);
            for other in [0.0, -20.0] {
                let c = centre + other;
                for y in (c - 6.0).max(0.0) as usize..((c + 6.0) as usize).min(h) {
                    ink[y * w + x] = true;
                }
            }
        }
        for slope in [0.0, -0.03] {
            let found = follow(&ink, w, h, slope).expect("followed");
            for s in &found {
                let expected = 48.0 - 0.03 * (s.x - 600.0);
                assert!((s.mean - expected).abs() < 3.0, "slope {slope}: {s:?}");
            }
        }
        // Along its direction every slice sees the line's true height; across, the turn
        // smears it.
        let along = follow(&ink, w, h, -0.03).expect("followed");
        assert!(
            along.iter().all(|s| (11.0..=14.0).contains(&s.extent)),
            "{along:?}"
        );
    }
}
