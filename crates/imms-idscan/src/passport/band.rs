//! Finding the machine readable zone on a passport photo: two long, equal lines of text near
//! each other, longer than any other line on the page.
//!
//! On a small copy of the photo ink is marked where a pixel is darker than its
//! neighbourhood; the mask is turned so that the text runs level (the angle that piles the
//! ink into the sharpest rows, then a few degrees either way for a page in perspective). In
//! each row the longest stretch of ink with gaps no wider than a character
//! is measured; rows with a long stretch form bands, and the MRZ is the pair of thin,
//! matching, adjacent bands with the longest lines.

use image::GrayImage;

/// The longest side of the copy the search works on.
const SEARCH_SIDE: u32 = 1200;

/// One text line of the zone, in the turned copy's coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub x0: f32,
    pub x1: f32,
    pub y0: f32,
    pub y1: f32,
}

impl Band {
    pub fn height(&self) -> f32 {
        self.y1 - self.y0 + 1.0
    }
    pub fn len(&self) -> f32 {
        self.x1 - self.x0 + 1.0
    }
}

/// Where the two lines are, and how to map the turned copy back onto the full photo.
#[derive(Debug, Clone, Copy)]
pub struct Zone {
    pub lines: [Band; 2],
    /// Centre of the small copy and of the turned canvas.
    centre: (f32, f32),
    turned_centre: (f32, f32),
    sin_cos: (f32, f32),
    /// Full-photo pixels per small-copy pixel.
    pub scale: f32,
}

impl Zone {
    /// Maps a point of the turned copy to the full photo.
    pub fn to_full(self, x: f32, y: f32) -> (f32, f32) {
        let (s, c) = self.sin_cos;
        let (dx, dy) = (x - self.turned_centre.0, y - self.turned_centre.1);
        let u = c * dx + s * dy + self.centre.0;
        let v = -s * dx + c * dy + self.centre.1;
        (u * self.scale, v * self.scale)
    }
}

/// The search for the MRZ's two lines over the angles worth trying, one candidate zone at
/// a time: the first pair of bands found may be other print (a header line broken in two),
/// and the zone then lies at another angle.
pub struct Search {
    ink: Vec<bool>,
    w: usize,
    h: usize,
    /// Full-photo pixels per search-copy pixel.
    scale: f32,
    /// The angles to try, in order, and how many have been.
    angles: Vec<f32>,
    next: usize,
    /// The angles of the zones given so far.
    given: Vec<f32>,
}

impl Search {
    pub fn new(gray: &GrayImage) -> Search {
        let small = shrink(gray, SEARCH_SIDE);
        let scale = gray.width() as f32 / small.width() as f32;
        let (w, h) = (small.width() as usize, small.height() as usize);
        // One ink mask, turned for each angle tried (cheaper than turning the picture).
        let ink = ink_mask(&small, (w.max(h) as f32 / 100.0).max(4.0) as u32);
        // In perspective the two lines are not quite parallel to the page's average: up to
        // nine degrees either way (a page photographed from low down, its zone at the far
        // end, turns its lines that far from the page's text), in steps fine enough for the
        // row runs. The page's angle may also have been taken across its columns (text
        // lines short against a tall page), so the angle a quarter turn away is tried too,
        // more narrowly; and then three degrees either way around the sharpest angle a
        // quarter turn from the first (a sheared page's photo box and edges can pile more
        // ink into columns than its text into rows; wider would cost a photo that shows no
        // zone, a card's, another 20 turns of the mask).
        let around = |n: i32| {
            (0..=n).map(|k| {
                if k % 2 == 0 {
                    0.3 * k as f32
                } else {
                    -0.3 * (k + 1) as f32
                }
            })
        };
        let across = [0.0, -0.6, 0.6, -1.2, 1.2].into_iter().map(|d| 90.0 + d);
        let [tilt, other] = text_angles(&ink, w, h);
        let angles = around(30)
            .chain(across)
            .map(|d| tilt + d)
            .chain(around(10).map(|d| other + d))
            .collect();
        Search {
            ink,
            w,
            h,
            scale,
            angles,
            next: 0,
            given: Vec::new(),
        }
    }

    /// The pair of bands the mask shows turned by `deg`, if any.
    fn at(&self, deg: f32) -> Option<Zone> {
        let (w, h) = (self.w, self.h);
        let (turned, tw, th) = turn_mask(&self.ink, w, h, -deg);
        pair(&bands(&turned, tw, th)).map(|lines| Zone {
            lines,
            centre: (w as f32 / 2.0, h as f32 / 2.0),
            turned_centre: (tw as f32 / 2.0, th as f32 / 2.0),
            sin_cos: (-deg).to_radians().sin_cos(),
            scale: self.scale,
        })
    }

    /// The next candidate zone, at an angle more than two degrees from those given before;
    /// `None` when no angle left shows one.
    pub fn next_zone(&mut self) -> Option<Zone> {
        let (mut deg, mut zone) = loop {
            let d = *self.angles.get(self.next)?;
            self.next += 1;
            if self.given.iter().any(|g| (g - d).abs() <= 2.0) {
                continue;
            }
            if let Some(z) = self.at(d) {
                break (d, z);
            }
        };
        // The first angle that shows the pair may cut across the lines (the MRZ, at the
        // page's bottom, can lie a few degrees off the page's text in perspective), so that
        // each band holds only part of its line: climb to the angle whose pair is longest.
        let length = |z: &Zone| z.lines[0].len() + z.lines[1].len();
        for step in [0.3, -0.3] {
            while let Some(z) = self.at(deg + step).filter(|z| length(z) > length(&zone)) {
                deg += step;
                zone = z;
            }
        }
        self.given.push(deg);
        Some(zone)
    }
}

/// `mask` (w x h) turned by `degrees` as [`crate::deskew::rotate`] turns a picture (same canvas),
/// nearest neighbour.
fn turn_mask(mask: &[bool], w: usize, h: usize, degrees: f32) -> (Vec<bool>, usize, usize) {
    let (wf, hf) = (w as f32, h as f32);
    let (s, c) = degrees.to_radians().sin_cos();
    let nw = (wf * c.abs() + hf * s.abs()).ceil() as usize;
    let nh = (wf * s.abs() + hf * c.abs()).ceil() as usize;
    let (cx, cy) = (wf / 2.0, hf / 2.0);
    let (ncx, ncy) = (nw as f32 / 2.0, nh as f32 / 2.0);
    let mut out = vec![false; nw * nh];
    for y in 0..nh {
        let dy = y as f32 + 0.5 - ncy;
        for x in 0..nw {
            let dx = x as f32 + 0.5 - ncx;
            let u = c * dx + s * dy + cx;
            let v = -s * dx + c * dy + cy;
            if u >= 0.0 && v >= 0.0 && u < wf && v < hf {
                out[y * nw + x] = mask[v as usize * w + u as usize];
            }
        }
    }
    (out, nw, nh)
}

/// The direction of the page's lines of text, in degrees (y down): the angle whose
/// projection of the ink piles it into the sharpest rows (largest sum of squared row counts).
/// Near level or near upright (a photo taken sideways); the MRZ reader tells upside down.
/// Returned with the sharpest angle of the other kind (upright if the first is near level,
/// and the other way round), the first's second guess.
fn text_angles(ink: &[bool], w: usize, h: usize) -> [f32; 2] {
    let mut pts: Vec<(i32, i32)> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if ink[y * w + x] {
                pts.push((x as i32, y as i32));
            }
        }
    }
    // The coarse search over 122 angles needs only the rows' shape: a sample of the ink
    // does; the fine search around its best uses more.
    let sample = |n: usize| -> Vec<(i32, i32)> {
        let step = (pts.len() / n).max(1);
        pts.iter().copied().step_by(step).collect()
    };
    let (few, many) = (sample(30_000), sample(150_000));
    let diag = ((w * w + h * h) as f64).sqrt().ceil() as i64;
    let mut hist = vec![0u32; 2 * diag as usize + 2];
    // Projections in 16.16 fixed point: integer arithmetic, no float-to-index conversions.
    let mut sharpness = |pts: &[(i32, i32)], deg: f32| {
        hist.iter_mut().for_each(|c| *c = 0);
        let (s, c) = f64::from(deg).to_radians().sin_cos();
        let (s, c) = ((s * 65536.0) as i64, (c * 65536.0) as i64);
        let last = hist.len() - 1;
        for &(x, y) in pts {
            let r = ((-i64::from(x) * s + i64::from(y) * c) >> 16) + diag;
            hist[(r.max(0) as usize).min(last)] += 1;
        }
        hist.iter()
            .map(|&n| u64::from(n) * u64::from(n))
            .sum::<u64>()
    };
    // The sharpest angle among half degrees `halves`, refined to a tenth, and its sharpness.
    let mut best = |halves: std::ops::RangeInclusive<i32>| {
        let (d, _) = halves
            .map(|k| k as f32 * 0.5)
            .map(|d| (d, sharpness(&few, d)))
            .max_by_key(|&(_, v)| v)
            .unwrap_or((0.0, 0));
        (-5..=5)
            .map(|k| d + k as f32 * 0.1)
            .map(|d| (d, sharpness(&many, d)))
            .max_by_key(|&(_, v)| v)
            .unwrap_or((d, 0))
    };
    let level = best(-30..=30);
    let upright = best(150..=210);
    if level.1 >= upright.1 {
        [level.0, upright.0]
    } else {
        [upright.0, level.0]
    }
}

fn shrink(img: &GrayImage, side: u32) -> GrayImage {
    let (w, h) = img.dimensions();
    let f = side as f32 / w.max(h) as f32;
    if f >= 1.0 {
        return img.clone();
    }
    crate::shrink::resize(
        img,
        ((w as f32 * f) as u32).max(1),
        ((h as f32 * f) as u32).max(1),
    )
}

/// Ink: darker than the mean of the surrounding `2r+1` square by a margin
/// (`p < m - max(0.12 m, 8)`, compared in integers as `100 p n < 100 s - max(12 s, 800 n)`
/// for the square's sum `s` over `n` pixels).
pub fn ink_mask(img: &GrayImage, r: u32) -> Vec<bool> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let integral = integral(img);
    let r = r as usize;
    let raw = img.as_raw();
    let mut out = vec![false; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        let (top, bottom) = (&integral[y0 * (w + 1)..], &integral[y1 * (w + 1)..]);
        let rows = (y1 - y0) as u64;
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let sum = bottom[x1] + top[x0] - top[x1] - bottom[x0];
            let n = (x1 - x0) as u64 * rows;
            let p = u64::from(raw[y * w + x]);
            let margin = (12 * sum).max(800 * n);
            out[y * w + x] = 100 * p * n + margin < 100 * sum;
        }
    }
    out
}

fn integral(img: &GrayImage) -> Vec<u64> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut s = vec![0u64; (w + 1) * (h + 1)];
    for (y, row) in img.as_raw().chunks_exact(w.max(1)).take(h).enumerate() {
        let mut acc = 0u64;
        for (x, &p) in row.iter().enumerate() {
            acc += u64::from(p);
            s[(y + 1) * (w + 1) + x + 1] = s[y * (w + 1) + x + 1] + acc;
        }
    }
    s
}

/// Runs of rows holding a long line of ink, in an ink mask `w` x `h`.
fn bands(ink: &[bool], w: usize, h: usize) -> Vec<Band> {
    let side = w.max(h) as f32;
    // Ink spread two rows up and down: a line a little off level still fills one row.
    let mut spread = vec![false; w * h];
    for y in 0..h {
        let out = &mut spread[y * w..(y + 1) * w];
        for yy in y.saturating_sub(2)..(y + 3).min(h) {
            out.iter_mut()
                .zip(&ink[yy * w..(yy + 1) * w])
                .for_each(|(o, &i)| *o |= i);
        }
    }
    let (raw, ink) = (ink, spread);
    let gap = (side * 0.025) as usize;
    let min_len = (side * 0.25) as usize;
    // The longest gap-tolerant run of ink in each row.
    let runs: Vec<Option<(usize, usize)>> = (0..h)
        .map(|y| {
            let row = &ink[y * w..(y + 1) * w];
            let mut best: Option<(usize, usize)> = None;
            let mut start = None;
            let mut last = 0;
            for (x, &on) in row.iter().enumerate() {
                if !on {
                    continue;
                }
                match start {
                    Some(_) if x - last <= gap => {}
                    _ => start = Some(x),
                }
                last = x;
                let s = start.unwrap_or(x);
                if best.is_none_or(|(a, b)| b - a < last - s) {
                    best = Some((s, last));
                }
            }
            // Text leaves gaps between its characters; a solid run is an edge (the page's,
            // against a dark table), not a line of text.
            let solid = |a: usize, b: usize| {
                let inked = row[a..=b].iter().filter(|&&i| i).count();
                inked * 100 > (b - a + 1) * 85
            };
            best.filter(|&(a, b)| b - a >= min_len && !solid(a, b))
        })
        .collect();
    // Consecutive long rows make bands.
    let mut bands = Vec::new();
    let mut y = 0;
    while y < h {
        if runs[y].is_none() {
            y += 1;
            continue;
        }
        let top = y;
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        while y < h {
            match runs[y] {
                Some((a, b)) => {
                    starts.push(a);
                    ends.push(b);
                }
                None => break,
            }
            y += 1;
        }
        starts.sort_unstable();
        ends.sort_unstable();
        // The line's ends: the outermost rows' (the second outermost, to pass over a row of
        // noise). A line a little off level reaches its ends only in its top or bottom rows.
        let band = Band {
            x0: starts[starts.len().min(2) - 1] as f32,
            x1: ends[ends.len().saturating_sub(2)] as f32,
            y0: top as f32,
            y1: (y - 1) as f32,
        };
        for band in split(band, raw, w) {
            // A line of 44 OCR-B characters is about 32 capitals long, and its band at
            // least half a capital tall (fillers, `<`, are shorter than capitals): a band
            // thinner than an 80th of its length is an edge (the page's, a shadow's), not
            // the zone's text.
            let aspect = band.len() / band.height();
            if band.height() >= 3.0 && (12.0..=80.0).contains(&aspect) {
                bands.push(band);
            }
        }
    }
    bands
}

/// A band too tall for one line of text (shorter than 20 times its height, where a line of
/// 44 characters is about 30 capitals long) split in two at its emptiest row in the middle
/// half, if that row holds less than half the ink of the band's typical row: two lines run
/// together where perspective turns the zone's lines apart and spreading the ink fills the
/// gap between them. `ink` is the mask before spreading, `w` its width.
fn split(band: Band, ink: &[bool], w: usize) -> Vec<Band> {
    let (y0, y1) = (band.y0 as usize, band.y1 as usize);
    if band.len() >= 20.0 * band.height() || y1 - y0 < 10 {
        return vec![band];
    }
    // Counted in the middle eighth of the band only: turned apart, the two lines cross
    // each other's rows towards the ends.
    let eighth = band.len() as usize / 16;
    let mid = (band.x0 + band.x1) as usize / 2;
    let (x0, x1) = (mid - eighth, mid + eighth);
    let count = |y: usize| ink[y * w + x0..=y * w + x1].iter().filter(|&&i| i).count();
    let counts: Vec<usize> = (y0..=y1).map(count).collect();
    let mut sorted = counts.clone();
    sorted.sort_unstable();
    let typical = sorted[sorted.len() / 2];
    let quarter = counts.len() / 4;
    let centre = counts.len() / 2;
    let Some(emptiest) =
        (quarter..counts.len() - quarter).min_by_key(|&i| (counts[i], i.abs_diff(centre)))
    else {
        return vec![band];
    };
    if counts[emptiest] * 2 >= typical {
        return vec![band];
    }
    let at = (y0 + emptiest) as f32;
    vec![
        Band {
            y1: at - 1.0,
            ..band
        },
        Band {
            y0: at + 1.0,
            ..band
        },
    ]
}

/// The MRZ: two thin, matching, adjacent bands, the longest such pair.
fn pair(bands: &[Band]) -> Option<[Band; 2]> {
    bands
        .windows(2)
        .filter(|p| {
            let (a, b) = (p[0], p[1]);
            let hmax = a.height().max(b.height());
            let lmax = a.len().max(b.len());
            b.y0 - a.y1 < 2.0 * hmax
                && (a.height() - b.height()).abs() < 0.3 * hmax
                && (a.len() - b.len()).abs() < 0.08 * lmax
                && (a.x0 - b.x0).abs() < 0.06 * lmax
        })
        .max_by(|p, q| (p[0].len() + p[1].len()).total_cmp(&(q[0].len() + q[1].len())))
        .map(|p| [p[0], p[1]])
}

#[cfg(test)]
mod tests {
    use super::{bands, split, text_angles, Band};

    #[test]
    fn a_solid_edge_is_not_a_line_of_text() {
        let (w, h) = (400, 60);
        let mut ink = vec![false; w * h];
        // Text: characters six columns wide, four apart, on rows 10-20.
        for y in 10..=20 {
            for x in (20..380).filter(|x| x % 10 < 6) {
                ink[y * w + x] = true;
            }
        }
        // The page's edge against a dark table: solid, on rows 40-44.
        for y in 40..=44 {
            ink[y * w + 10..y * w + 390].fill(true);
        }
        let found = bands(&ink, w, h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].y0 >= 8.0 && found[0].y1 <= 22.0, "{found:?}");
    }

    #[test]
    fn a_thin_edge_is_not_a_line_of_text() {
        // Broken like text, but only two rows tall over 760 columns: a shadow's edge.
        let (w, h) = (800, 40);
        let mut ink = vec![false; w * h];
        for y in 20..22 {
            for x in (20..780).filter(|x| x % 10 < 6) {
                ink[y * w + x] = true;
            }
        }
        assert_eq!(bands(&ink, w, h), vec![]);
    }

    #[test]
    fn two_lines_run_together_are_split_at_the_gap_between_them() {
        // Two lines of characters, rows 10-29 and 36-55, that spreading ran into one band.
        let (w, h) = (400, 70);
        let mut ink = vec![false; w * h];
        for y in (10..30).chain(36..56) {
            for x in (20..380).filter(|x| x % 10 < 6) {
                ink[y * w + x] = true;
            }
        }
        let band = Band {
            x0: 20.0,
            x1: 375.0,
            y0: 8.0,
            y1: 57.0,
        };
        let halves = split(band, &ink, w);
        assert_eq!(halves.len(), 2, "{halves:?}");
        assert!((30.0..=36.0).contains(&halves[0].y1), "{halves:?}");
        assert!((30.0..=36.0).contains(&halves[1].y0), "{halves:?}");
        // One line's band, however tall, stays whole.
        let one = Band { y1: 31.0, ..band };
        assert_eq!(split(one, &ink, w), vec![one]);
    }

    #[test]
    fn the_other_kind_of_text_angle_is_the_second_guess() {
        // Six level lines of text, and a box whose two tall solid sides pile more ink into
        // columns than the text does into rows.
        let (w, h) = (600, 600);
        let mut ink = vec![false; w * h];
        for line in 0..6 {
            for y in 100 + 40 * line..110 + 40 * line {
                for x in (300..560).filter(|x| x % 10 < 6) {
                    ink[y * w + x] = true;
                }
            }
        }
        for y in 50..550 {
            for x in (40..60).chain(240..260) {
                ink[y * w + x] = true;
            }
        }
        let [first, second] = text_angles(&ink, w, h);
        assert!((first - 90.0).abs() <= 0.3, "{first}");
        assert!(second.abs() <= 0.3, "{second}");
    }
}
