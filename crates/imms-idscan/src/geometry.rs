//! Plane geometry shared by the barcode search and the test-photo generator: projective maps
//! (homographies) from four point pairs, and warping a picture through one.

use image::{GrayImage, Luma};

/// The projective map sending the four `from` points to the four `to` points.
pub fn homography(from: &[(f32, f32)], to: &[(f32, f32)]) -> [f64; 9] {
    // Solve A h = b for h = (h0..h7), h8 = 1.
    let mut a = [[0f64; 9]; 8];
    for i in 0..4 {
        let (x, y) = (f64::from(from[i].0), f64::from(from[i].1));
        let (u, v) = (f64::from(to[i].0), f64::from(to[i].1));
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for col in 0..8 {
        let pivot = (col..8)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (row, r) in a.iter_mut().enumerate() {
            if row != col {
                let f = r[col] / pivot_row[col];
                for (x, p) in r.iter_mut().zip(pivot_row.iter()).skip(col) {
                    *x -= f * p;
                }
            }
        }
    }
    let mut h = [0f64; 9];
    for i in 0..8 {
        h[i] = a[i][8] / a[i][i];
    }
    h[8] = 1.0;
    h
}

pub fn apply(h: &[f64; 9], x: f32, y: f32) -> (f32, f32) {
    let (x, y) = (f64::from(x), f64::from(y));
    let z = h[6] * x + h[7] * y + h[8];
    (
        ((h[0] * x + h[1] * y + h[2]) / z) as f32,
        ((h[3] * x + h[4] * y + h[5]) / z) as f32,
    )
}

/// Resamples `img` into a `w` x `h` picture: each output pixel (x, y) takes the source pixel at
/// `apply(to_source, x, y)`, bilinearly; outside the source it is `fill`.
pub fn warp(img: &GrayImage, to_source: &[f64; 9], w: u32, h: u32, fill: u8) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        let (u, v) = apply(to_source, x as f32 + 0.5, y as f32 + 0.5);
        Luma([bilinear(img, u - 0.5, v - 0.5).unwrap_or(fill)])
    })
}

/// The grey of `img` at (u, v), where pixel (x, y) sits at (x, y), interpolated bilinearly
/// and rounded; `None` unless the point lies within the pixel centres.
#[inline]
pub fn bilinear(img: &GrayImage, u: f32, v: f32) -> Option<u8> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if !(u >= 0.0 && v >= 0.0 && u < w as f32 - 1.0 && v < h as f32 - 1.0) {
        return None;
    }
    let (x0, y0) = (u as usize, v as usize);
    let (fx, fy) = (u - x0 as f32, v - y0 as f32);
    let raw = img.as_raw();
    let i = y0 * w + x0;
    let q = |j: usize| f32::from(raw[j]);
    let top = q(i) * (1.0 - fx) + q(i + 1) * fx;
    let bottom = q(i + w) * (1.0 - fx) + q(i + w + 1) * fx;
    // Non-negative, so adding a half and truncating rounds (without a call to `roundf`).
    Some((top * (1.0 - fy) + bottom * fy + 0.5) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homography_maps_the_four_points() {
        let from = [(0.0, 0.0), (10.0, 0.0), (12.0, 8.0), (-1.0, 9.0)];
        let to = [(3.0, 4.0), (20.0, 2.0), (18.0, 15.0), (2.0, 14.0)];
        let h = homography(&from, &to);
        for (f, t) in from.iter().zip(&to) {
            let (x, y) = apply(&h, f.0, f.1);
            assert!((x - t.0).abs() < 1e-3 && (y - t.1).abs() < 1e-3);
        }
    }
}
