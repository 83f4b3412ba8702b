//! Finding where the barcode is: the densest patch of edges in the picture.
//!
//! A PDF417 symbol changes from black to white every module or two, far more often than the
//! card's print, its edges or the table. Edge strength is summed over a grid of cells; the
//! strongest cell and its strong neighbours (flood fill) make the region. Decoding a crop of
//! that region at full resolution reads symbols that are small in the photo, and measuring the
//! slant there ignores the card's edges, which perspective bends differently.

use image::GrayImage;

const CELL: u32 = 16;

/// The bounding box `(x, y, width, height)` of the densest edge patch, in `img` coordinates,
/// with a margin of one cell; `None` when the picture has no edges or the patch is nearly the
/// whole picture (cropping would gain nothing).
pub fn densest_region(img: &GrayImage) -> Option<(u32, u32, u32, u32)> {
    let (w, h) = img.dimensions();
    let (gw, gh) = (w.div_ceil(CELL) as usize, h.div_ceil(CELL) as usize);
    if gw < 3 || gh < 3 {
        return None;
    }
    let mut grid = vec![0u32; gw * gh];
    let p = |x: u32, y: u32| i32::from(img.get_pixel(x, y).0[0]);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let g = (p(x + 1, y) - p(x - 1, y)).abs() + (p(x, y + 1) - p(x, y - 1)).abs();
            if g > 40 {
                grid[(y / CELL) as usize * gw + (x / CELL) as usize] += g as u32;
            }
        }
    }
    let (best, &max) = grid.iter().enumerate().max_by_key(|(_, v)| **v)?;
    if max == 0 {
        return None;
    }
    let threshold = max / 3;
    let mut seen = vec![false; grid.len()];
    let mut stack = vec![best];
    seen[best] = true;
    let (mut x0, mut y0, mut x1, mut y1) = (gw, gh, 0, 0);
    while let Some(i) = stack.pop() {
        let (cx, cy) = (i % gw, i / gw);
        x0 = x0.min(cx);
        y0 = y0.min(cy);
        x1 = x1.max(cx);
        y1 = y1.max(cy);
        let neighbours = [
            (cx.wrapping_sub(1), cy),
            (cx + 1, cy),
            (cx, cy.wrapping_sub(1)),
            (cx, cy + 1),
        ];
        for (nx, ny) in neighbours {
            if nx < gw && ny < gh {
                let j = ny * gw + nx;
                if !seen[j] && grid[j] >= threshold {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
    }
    let (x0, y0) = (
        x0.saturating_sub(1) as u32 * CELL,
        y0.saturating_sub(1) as u32 * CELL,
    );
    let x1 = ((x1 as u32 + 2) * CELL).min(w);
    let y1 = ((y1 as u32 + 2) * CELL).min(h);
    let (rw, rh) = (x1 - x0, y1 - y0);
    if u64::from(rw) * u64::from(rh) * 10 > u64::from(w) * u64::from(h) * 8 {
        return None;
    }
    Some((x0, y0, rw, rh))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn finds_a_busy_patch() {
        let img = GrayImage::from_fn(400, 300, |x, y| {
            let busy = (200..300).contains(&x) && (100..160).contains(&y);
            Luma([if busy && (x / 2 + y / 5) % 2 == 0 {
                0
            } else {
                220
            }])
        });
        let (x, y, w, h) = densest_region(&img).unwrap();
        assert!(
            x <= 200 && y <= 100 && x + w >= 300 && y + h >= 160,
            "{x} {y} {w} {h}"
        );
        assert!(w < 200 && h < 120);
        assert_eq!(
            densest_region(&GrayImage::from_pixel(400, 300, Luma([9]))),
            None
        );
    }
}
