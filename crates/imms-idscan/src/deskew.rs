//! Straightening a tilted barcode before decoding.
//!
//! rxing's PDF417 detector reads a symbol turned by a quarter turn or upside down, but loses it
//! once its rows slant by more than a few degrees. A PDF417 symbol is mostly vertical bar edges,
//! so the dominant gradient direction of the photo (the structure tensor, computed on a small
//! copy) gives its slant; the picture is then turned back by that angle.

use image::{GrayImage, Luma};

use crate::geometry::{bilinear, homography, warp};

/// The dominant edge orientation in degrees, in [-90, 90): 0 when the bars stand upright
/// (gradients horizontal), ±90 when the symbol lies on its side. Also returns the share of
/// edge strength within ±2° of that orientation (0–1), a confidence.
///
/// Sobel gradients (on a slightly smoothed copy, which keeps their angular error small) vote, weighted by magnitude, into a histogram of orientations (mod 180°);
/// the peak wins. The mode, unlike the mean, is not pulled aside by the card's print.
pub fn dominant_angle(img: &GrayImage) -> (f32, f32) {
    dominant_angle_within(img, None)
}

/// [`dominant_angle`] among edges whose orientation lies within `window` = (centre, half
/// width) degrees, e.g. `(90, 25)` for the rows of an upright symbol.
pub fn dominant_angle_within(img: &GrayImage, window: Option<(f32, f32)>) -> (f32, f32) {
    const BINS: usize = 360; // half-degree bins over 180°
    let img = &smooth(img);
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut hist = vec![0f32; BINS];
    let mut edges: Vec<(f32, f32, f32, f32)> = Vec::new(); // x, y, magnitude, orientation
    for y in 1..h.saturating_sub(1) {
        let (r0, r1, r2) = (
            &raw[(y - 1) * w..y * w],
            &raw[y * w..(y + 1) * w],
            &raw[(y + 1) * w..(y + 2) * w],
        );
        let p = |r: &[u8], x: usize| i32::from(r[x]);
        for x in 1..w.saturating_sub(1) {
            let gx = (p(r0, x + 1) + 2 * p(r1, x + 1) + p(r2, x + 1))
                - (p(r0, x - 1) + 2 * p(r1, x - 1) + p(r2, x - 1));
            let gy = (p(r2, x - 1) + 2 * p(r2, x) + p(r2, x + 1))
                - (p(r0, x - 1) + 2 * p(r0, x) + p(r0, x + 1));
            if gx * gx + gy * gy < 1600 {
                continue; // noise and soft shading
            }
            let (gx, gy) = (gx as f32, gy as f32);
            let m = (gx * gx + gy * gy).sqrt();
            let mut a = gy.atan2(gx).to_degrees();
            if a < 0.0 {
                a += 180.0;
            }
            if a >= 180.0 {
                a -= 180.0;
            }
            if let Some((centre, half)) = window {
                let d = (a - centre).rem_euclid(180.0);
                if d.min(180.0 - d) > half {
                    continue;
                }
            }
            hist[((a * 2.0) as usize).min(BINS - 1)] += m;
            edges.push((x as f32, y as f32, m, a));
        }
    }
    let at = |i: isize| hist[i.rem_euclid(BINS as isize) as usize];
    let smooth: Vec<f32> = (0..BINS as isize)
        .map(|i| at(i - 2) + 2.0 * at(i - 1) + 3.0 * at(i) + 2.0 * at(i + 1) + at(i + 2))
        .collect();
    let peak = (0..BINS)
        .max_by(|&a, &b| smooth[a].total_cmp(&smooth[b]))
        .unwrap_or(0) as isize;
    // Parabolic refinement around the peak.
    let s = |i: isize| smooth[i.rem_euclid(BINS as isize) as usize];
    let (l, c, r) = (s(peak - 1), s(peak), s(peak + 1));
    let denom = l - 2.0 * c + r;
    let offset = if denom.abs() > f32::EPSILON {
        0.5 * (l - r) / denom
    } else {
        0.0
    };
    let mut angle = (peak as f32 + offset + 0.5) / 2.0;
    if angle >= 90.0 {
        angle -= 180.0;
    }
    let total: f32 = hist.iter().sum();
    let near: f32 = (-4..=4).map(|d| at(peak + d)).sum();
    (
        refine(&edges, angle),
        if total > 0.0 { near / total } else { 0.0 },
    )
}

/// A slightly smoothed copy (which keeps the gradients' angular error small): the binomial
/// kernel 1 6 15 20 15 6 1 across and down, a Gaussian of σ ≈ 1.2 in integers.
fn smooth(img: &GrayImage) -> GrayImage {
    const K: [u32; 7] = [1, 6, 15, 20, 15, 6, 1];
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return img.clone();
    }
    let raw = img.as_raw();
    let clamp = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    // Across, kept at 64 times the grey.
    let mut across = vec![0u32; w * h];
    for y in 0..h {
        let row = &raw[y * w..(y + 1) * w];
        let out = &mut across[y * w..(y + 1) * w];
        for (x, o) in out.iter_mut().enumerate() {
            *o = if x >= 3 && x + 3 < w {
                K.iter()
                    .zip(&row[x - 3..x + 4])
                    .map(|(k, &p)| k * u32::from(p))
                    .sum()
            } else {
                K.iter()
                    .enumerate()
                    .map(|(i, k)| k * u32::from(row[clamp(x as isize + i as isize - 3, w)]))
                    .sum()
            };
        }
    }
    // Down, then back to grey (64 x 64 = 4096).
    let mut out = vec![0u8; w * h];
    let mut acc = vec![0u32; w];
    for y in 0..h {
        acc.iter_mut().for_each(|a| *a = 0);
        for (i, k) in K.iter().enumerate() {
            let row = &across[clamp(y as isize + i as isize - 3, h) * w..][..w];
            acc.iter_mut().zip(row).for_each(|(a, &p)| *a += k * p);
        }
        out[y * w..(y + 1) * w]
            .iter_mut()
            .zip(&acc)
            .for_each(|(o, &a)| *o = ((a + 2048) >> 12) as u8);
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| img.clone())
}

/// Sharpens a coarse orientation: long straight edges (the symbol's start and stop bars, the
/// card's sides) pile up into a few narrow bins of the projection across them only when the
/// angle is exactly right. Tries ±4° in 0.2° steps around `coarse` and keeps the peakiest.
fn refine(edges: &[(f32, f32, f32, f32)], coarse: f32) -> f32 {
    let near: Vec<(f32, f32, f32)> = edges
        .iter()
        .filter(|e| {
            let d = (e.3 - coarse).rem_euclid(180.0);
            d.min(180.0 - d) < 10.0
        })
        .map(|e| (e.0, e.1, e.2))
        .collect();
    if near.len() < 100 {
        return coarse;
    }
    // An even sample of at most 50,000 edge points keeps the lines' piles as sharp as all of
    // them do (each long edge still brings hundreds) at a fraction of the 41 projections' cost.
    let step = near.len().div_ceil(50_000);
    // Coordinates as integers and the projection in 16.16 fixed point: no float-to-index
    // conversion in the loop that runs 41 times over every sampled edge.
    let near: Vec<(i64, i64, f32)> = near
        .into_iter()
        .step_by(step)
        .map(|(x, y, m)| (x as i64, y as i64, m))
        .collect();
    let extent = near.iter().fold(0i64, |m, e| m.max(e.0.abs() + e.1.abs())) + 2;
    let mut bins = vec![0f32; 2 * extent as usize + 1];
    let mut best = (f32::MIN, coarse);
    for step in -20..=20 {
        let angle = coarse + step as f32 * 0.2;
        let (s, c) = f64::from(angle).to_radians().sin_cos();
        let (s, c) = ((s * 65536.0).round() as i64, (c * 65536.0).round() as i64);
        bins.iter_mut().for_each(|b| *b = 0.0);
        for &(x, y, m) in &near {
            // Rounded to the nearest bin; never below 0 as |t| < extent.
            let t = (x * c + y * s + 32768) >> 16;
            bins[(t + extent) as usize] += m;
        }
        let score: f32 = bins.iter().map(|b| b * b).sum();
        if score > best.0 {
            best = (score, angle);
        }
    }
    let mut angle = best.1;
    if angle >= 90.0 {
        angle -= 180.0;
    } else if angle < -90.0 {
        angle += 180.0;
    }
    angle
}

/// Undoes perspective on an already straightened symbol: measures the bar direction in the
/// left and right thirds of `img`; where the bars converge, maps the trapezoid they span onto
/// a rectangle so they stand parallel. `None` when they already are (or cannot be measured).
pub fn rectify(img: &GrayImage, fill: u8) -> Option<GrayImage> {
    let (w, h) = img.dimensions();
    if w < 90 || h < 30 {
        return None;
    }
    let third = w / 3;
    let left = image::imageops::crop_imm(img, 0, 0, third, h).to_image();
    let right = image::imageops::crop_imm(img, w - third, 0, third, h).to_image();
    let (al, _) = dominant_angle(&left);
    let (ar, _) = dominant_angle(&right);
    if al.abs() > 20.0 || ar.abs() > 20.0 || (al - ar).abs() < 0.5 {
        return None;
    }
    // Bars run across the gradient: direction (-sin a, cos a).
    let dir = |a: f32| {
        let (s, c) = a.to_radians().sin_cos();
        (-s, c)
    };
    let hf = h as f32;
    let pl = (third as f32 / 2.0, hf / 2.0);
    let pr = (w as f32 - third as f32 / 2.0, hf / 2.0);
    let x_at = |p: (f32, f32), d: (f32, f32), y: f32| p.0 + (y - p.1) * d.0 / d.1;
    let (dl, dr) = (dir(al), dir(ar));
    let source = [
        (x_at(pl, dl, 0.0), 0.0),
        (x_at(pr, dr, 0.0), 0.0),
        (x_at(pr, dr, hf), hf),
        (x_at(pl, dl, hf), hf),
    ];
    let target = [(pl.0, 0.0), (pr.0, 0.0), (pr.0, hf), (pl.0, hf)];
    let to_source = homography(&target, &source);
    Some(warp(img, &to_source, w, h, fill))
}

/// Levels the rows of an upright symbol whose rows still slope (a sheared photo): measures
/// the slope of the near-horizontal edges and shears the picture vertically, which keeps the
/// bars upright. `None` when the rows are level already.
pub fn level_rows(img: &GrayImage, fill: u8) -> Option<GrayImage> {
    let (a, _) = dominant_angle_within(img, Some((90.0, 25.0)));
    let slope = if a < 0.0 { a + 90.0 } else { a - 90.0 };
    if slope.abs() < 0.7 || slope.abs() > 25.0 {
        return None;
    }
    let t = slope.to_radians().tan();
    let (w, h) = img.dimensions();
    let cx = w as f64 / 2.0;
    let t = f64::from(t);
    // Output (x, y) comes from source (x, y + (x - cx) * t).
    let to_source = [1.0, 0.0, 0.0, t, 1.0, -cx * t, 0.0, 0.0, 1.0];
    Some(warp(img, &to_source, w, h, fill))
}

/// Turns `img` by `degrees` (counter-clockwise in image coordinates, i.e. y down) about its
/// centre, on a canvas large enough to hold all of it; the corners are filled with `fill`.
pub fn rotate(img: &GrayImage, degrees: f32, fill: u8) -> GrayImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (s, c) = degrees.to_radians().sin_cos();
    let nw = (w * c.abs() + h * s.abs()).ceil() as u32;
    let nh = (w * s.abs() + h * c.abs()).ceil() as u32;
    let (cx, cy) = (w / 2.0, h / 2.0);
    let (ncx, ncy) = (nw as f32 / 2.0, nh as f32 / 2.0);
    GrayImage::from_fn(nw, nh, |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - ncx, y as f32 + 0.5 - ncy);
        // Inverse rotation: where in the source does this pixel come from?
        let u = c * dx + s * dy + cx - 0.5;
        let v = -s * dx + c * dy + cy - 0.5;
        Luma([bilinear(img, u, v).unwrap_or(fill)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vertical stripes, turned by `deg`.
    fn stripes(deg: f32) -> GrayImage {
        let img = GrayImage::from_fn(200, 200, |x, _| {
            Luma([if (x / 4) % 2 == 0 { 0 } else { 255 }])
        });
        rotate(&img, deg, 128)
    }

    #[test]
    fn finds_the_slant() {
        for deg in [0.0f32, 7.0, -12.0, 30.0, 80.0] {
            let (a, coherence) = dominant_angle(&stripes(deg));
            // The picture was turned by `deg`; the gradients turned with it.
            assert!((a - deg).abs() < 1.0, "{deg}: {a}");
            assert!(coherence > 0.3, "{coherence}");
        }
    }

    #[test]
    fn rotate_keeps_everything() {
        let img = GrayImage::from_pixel(100, 50, Luma([10]));
        let r = rotate(&img, 90.0, 255);
        assert!((r.width() as i32 - 50).abs() <= 1 && (r.height() as i32 - 100).abs() <= 1);
        assert_eq!(r.get_pixel(r.width() / 2, r.height() / 2).0[0], 10);
    }
}
