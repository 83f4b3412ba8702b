//! The QR mask chosen as ISO/IEC 18004 (§7.8.3) and qrcodegen choose it, the lowest penalty
//! of the eight, but scored on rows and columns held as bits instead of one module at a time.
//!
//! qrcodegen's own choice applies, scores and undoes each mask module by module, which was
//! most of the record's QR time. Here qrcodegen places the modules once under mask 0; the
//! other seven are derived from it (the mask flips only data modules; the format bits are
//! redrawn) and scored; qrcodegen then draws the code under the chosen mask. The penalty
//! rules and their tie-breaks are qrcodegen's, so the code comes out module for module the
//! same as qrcodegen's automatic choice (tested below), only sooner.

use qrcodegen::{QrCode, QrCodeEcc};

/// The largest side this module scores: one row fits a `u128` (version 27 is 125 modules).
pub const MAX_SIZE: usize = 128;

const PENALTY_N1: i32 = 3;
const PENALTY_N2: i32 = 3;
const PENALTY_N3: i32 = 40;
const PENALTY_N4: i32 = 10;

/// A square of modules as bits: `rows[y]` bit `x`, and `cols[x]` bit `y`, for dark.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Bits {
    size: usize,
    rows: Vec<u128>,
    cols: Vec<u128>,
}

impl Bits {
    fn new(size: usize) -> Bits {
        Bits {
            size,
            rows: vec![0; size],
            cols: vec![0; size],
        }
    }

    fn set(&mut self, x: usize, y: usize, dark: bool) {
        let (row, col) = (1u128 << x, 1u128 << y);
        if dark {
            self.rows[y] |= row;
            self.cols[x] |= col;
        } else {
            self.rows[y] &= !row;
            self.cols[x] &= !col;
        }
    }

    fn of(code: &QrCode) -> Bits {
        let size = code.size() as usize;
        let mut bits = Bits::new(size);
        for y in 0..size {
            for x in 0..size {
                if code.get_module(x as i32, y as i32) {
                    bits.set(x, y, true);
                }
            }
        }
        bits
    }
}

/// Whether mask `mask` flips module (x, y) (ISO/IEC 18004 table 10, as qrcodegen writes it).
fn flips(mask: u8, x: usize, y: usize) -> bool {
    match mask {
        0 => (x + y).is_multiple_of(2),
        1 => y.is_multiple_of(2),
        2 => x.is_multiple_of(3),
        3 => (x + y).is_multiple_of(3),
        4 => (x / 3 + y / 2).is_multiple_of(2),
        5 => x * y % 2 + x * y % 3 == 0,
        6 => (x * y % 2 + x * y % 3).is_multiple_of(2),
        _ => ((x + y) % 2 + x * y % 3).is_multiple_of(2),
    }
}

/// The function modules of a code of `version` (finder patterns with separators, timing,
/// alignment patterns, format and version information): the ones a mask leaves alone.
fn function_modules(version: u8) -> Bits {
    let size = usize::from(version) * 4 + 17;
    let mut f = Bits::new(size);
    let s = size as i32;
    let mut mark = |x: i32, y: i32| {
        if (0..s).contains(&x) && (0..s).contains(&y) {
            f.set(x as usize, y as usize, true);
        }
    };
    for i in 0..s {
        mark(6, i);
        mark(i, 6);
    }
    for (cx, cy) in [(3, 3), (s - 4, 3), (3, s - 4)] {
        for dy in -4..=4 {
            for dx in -4..=4 {
                mark(cx + dx, cy + dy);
            }
        }
    }
    let align = alignment_positions(version, s);
    let last = align.len().saturating_sub(1);
    for (i, &ax) in align.iter().enumerate() {
        for (j, &ay) in align.iter().enumerate() {
            // The three corners with finder patterns get none.
            let corner = (i == 0 && (j == 0 || j == last)) || (i == last && j == 0);
            if !corner {
                for dy in -2..=2 {
                    for dx in -2..=2 {
                        mark(ax + dx, ay + dy);
                    }
                }
            }
        }
    }
    for (x, y) in format_positions(size) {
        mark(x as i32, y as i32);
    }
    mark(8, s - 8);
    if version >= 7 {
        for i in 0..18 {
            mark(s - 11 + i % 3, i / 3);
            mark(i / 3, s - 11 + i % 3);
        }
    }
    f
}

fn alignment_positions(version: u8, size: i32) -> Vec<i32> {
    if version == 1 {
        return Vec::new();
    }
    let v = i32::from(version);
    let count = v / 7 + 2;
    let step = if version == 32 {
        26
    } else {
        (v * 4 + count * 2 + 1) / (count * 2 - 2) * 2
    };
    let mut positions: Vec<i32> = (0..count - 1).map(|i| size - 7 - i * step).collect();
    positions.push(6);
    positions.reverse();
    positions
}

/// Where bit `i` of the 15 format bits goes, both copies: `[first copy, second copy]`.
fn format_positions(size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..15).flat_map(move |i| format_bit_positions(size, i))
}

fn format_bit_positions(size: usize, i: usize) -> [(usize, usize); 2] {
    let first = match i {
        0..=5 => (8, i),
        6 => (8, 7),
        7 => (8, 8),
        8 => (7, 8),
        _ => (14 - i, 8),
    };
    let second = if i < 8 {
        (size - 1 - i, 8)
    } else {
        (8, size - 15 + i)
    };
    [first, second]
}

/// The 15 format bits: error correction level and mask, with their BCH code, XOR-masked.
fn format_bits(ecl: QrCodeEcc, mask: u8) -> u32 {
    let level: u32 = match ecl {
        QrCodeEcc::Low => 1,
        QrCodeEcc::Medium => 0,
        QrCodeEcc::Quartile => 3,
        QrCodeEcc::High => 2,
    };
    let data = level << 3 | u32::from(mask);
    let mut rem = data;
    for _ in 0..10 {
        rem = (rem << 1) ^ ((rem >> 9) * 0x537);
    }
    (data << 10 | rem) ^ 0x5412
}

/// Rows and columns of each mask's pattern, for every side up to [`MAX_SIZE`] (the pattern
/// depends on the position only). Made once per process.
fn patterns() -> &'static [Bits; 8] {
    static PATTERNS: std::sync::OnceLock<[Bits; 8]> = std::sync::OnceLock::new();
    PATTERNS.get_or_init(|| {
        std::array::from_fn(|mask| {
            let mut bits = Bits::new(MAX_SIZE);
            for y in 0..MAX_SIZE {
                for x in 0..MAX_SIZE {
                    if flips(mask as u8, x, y) {
                        bits.set(x, y, true);
                    }
                }
            }
            bits
        })
    })
}

/// `unmasked` (the data as placed, before any mask) under `mask`, with its format bits.
fn masked(unmasked: &Bits, data: &Bits, ecl: QrCodeEcc, mask: u8) -> Bits {
    let pattern = &patterns()[usize::from(mask)];
    let mut out = unmasked.clone();
    for i in 0..out.size {
        out.rows[i] ^= pattern.rows[i] & data.rows[i];
        out.cols[i] ^= pattern.cols[i] & data.cols[i];
    }
    let bits = format_bits(ecl, mask);
    for i in 0..15 {
        for (x, y) in format_bit_positions(out.size, i) {
            out.set(x, y, (bits >> i) & 1 != 0);
        }
    }
    out
}

/// Rules 1 (runs of five or more) and 3 (finder-like patterns) along one row or column, as
/// qrcodegen counts them: the line's runs, alternating from light (the first may be empty),
/// with light border added to the first and last light runs; a finder-like pattern is
/// 1:1:3:1:1 dark-light-dark-light-dark with four times as much light on one side, counted
/// at the end of each light run.
fn line_penalty(line: u128, size: usize) -> i32 {
    let mut runs = [0i32; MAX_SIZE + 2];
    let mut count = 0;
    let mut penalty = 0;
    let (mut x, mut dark) = (0, false);
    while x < size {
        let same = if dark { line } else { !line } >> x;
        let run = (same.trailing_ones() as usize).min(size - x);
        if run >= 5 {
            penalty += PENALTY_N1 + (run as i32 - 5);
        }
        runs[count] = run as i32;
        count += 1;
        x += run;
        dark = !dark;
    }
    if !dark {
        // The line ended on a dark run: the border is a light run of its own.
        count += 1;
    }
    let border = size as i32;
    runs[0] += border;
    runs[count - 1] += border;
    let finder_like: i32 = (6..count)
        .step_by(2)
        .map(|i| {
            let r = &runs[i - 6..=i];
            let n = r[5];
            let core = n > 0 && r[4] == n && r[3] == n * 3 && r[2] == n && r[1] == n;
            i32::from(core && r[6] >= n * 4 && r[0] >= n)
                + i32::from(core && r[0] >= n * 4 && r[6] >= n)
        })
        .sum();
    penalty + finder_like * PENALTY_N3
}

/// qrcodegen's penalty score, the same number, from bits; `None` as soon as it reaches
/// `bound` (a later mask wins only with a lower score).
fn penalty(code: &Bits, bound: i32) -> Option<i32> {
    let size = code.size;
    // Rule 4: dark modules away from half.
    let dark: i32 = code.rows.iter().map(|r| r.count_ones() as i32).sum();
    let total = (size * size) as i32;
    let mut score = (((dark * 20 - total * 10).abs() + total - 1) / total - 1) * PENALTY_N4;
    // Rule 2: 2×2 blocks of one colour.
    let left_of_last = (1u128 << (size - 1)) - 1;
    for y in 0..size - 1 {
        let (a, b) = (code.rows[y], code.rows[y + 1]);
        let same_down = !(a ^ b);
        let blocks = same_down & (same_down >> 1) & !(a ^ (a >> 1)) & left_of_last;
        score += blocks.count_ones() as i32 * PENALTY_N2;
    }
    for i in 0..size {
        if score >= bound {
            return None;
        }
        score += line_penalty(code.rows[i], size) + line_penalty(code.cols[i], size);
    }
    (score < bound).then_some(score)
}

/// The mask (0–7) qrcodegen would choose for the code it drew as `under_mask_0` (mask 0):
/// the first of the lowest penalty. `None` for a code wider than [`MAX_SIZE`].
pub fn best_mask(under_mask_0: &QrCode) -> Option<u8> {
    if under_mask_0.mask().value() != 0 || under_mask_0.size() as usize > MAX_SIZE {
        return None;
    }
    let placed = Bits::of(under_mask_0);
    let function = function_modules(under_mask_0.version().value());
    let size = placed.size;
    let all = if size == 128 {
        u128::MAX
    } else {
        (1u128 << size) - 1
    };
    let mut data = Bits::new(size);
    let mut unmasked = placed.clone();
    let mask0 = &patterns()[0];
    for i in 0..size {
        data.rows[i] = !function.rows[i] & all;
        data.cols[i] = !function.cols[i] & all;
        unmasked.rows[i] ^= mask0.rows[i] & data.rows[i];
        unmasked.cols[i] ^= mask0.cols[i] & data.cols[i];
    }
    let ecl = under_mask_0.error_correction_level();
    let mut best: Option<(i32, u8)> = None;
    for mask in 0..8u8 {
        let bound = best.map_or(i32::MAX, |(score, _)| score);
        if let Some(score) = penalty(&masked(&unmasked, &data, ecl, mask), bound) {
            best = Some((score, mask));
        }
    }
    best.map(|(_, mask)| mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qrcodegen::{Mask, QrSegment, Version};

    fn segments(shc: &str) -> Vec<QrSegment> {
        let at = shc.rfind('/').map(|i| i + 1).unwrap_or(0);
        vec![
            QrSegment::make_bytes(&shc.as_bytes()[..at]),
            QrSegment::make_numeric(&shc[at..]),
        ]
    }

    fn encode(segs: &[QrSegment], ecl: QrCodeEcc, mask: Option<Mask>) -> QrCode {
        QrCode::encode_segments_advanced(segs, ecl, Version::MIN, Version::new(27), mask, false)
            .expect("fits")
    }

    /// Digits that look like a card: pseudo-random, reproducible.
    fn digits(n: usize, seed: u64) -> String {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                char::from(b'0' + ((state >> 33) % 10) as u8)
            })
            .collect()
    }

    #[test]
    fn each_mask_derived_from_mask_0_is_the_code_qrcodegen_draws_under_it() {
        // Every version up to 27, so the function modules (alignment, version bits) and
        // the format bits are checked everywhere they differ.
        for (i, ecl) in [QrCodeEcc::Low, QrCodeEcc::Medium, QrCodeEcc::High]
            .into_iter()
            .enumerate()
        {
            let mut last_version = 0;
            for len in (10..3000).step_by(23) {
                let segs = segments(&format!("shc:/{}", digits(len, (len + i) as u64)));
                let Ok(code0) = QrCode::encode_segments_advanced(
                    &segs,
                    ecl,
                    Version::MIN,
                    Version::new(27),
                    Some(Mask::new(0)),
                    false,
                ) else {
                    break;
                };
                let version = code0.version().value();
                if version == last_version {
                    continue;
                }
                last_version = version;
                let placed = Bits::of(&code0);
                let function = function_modules(version);
                let all = (1u128 << placed.size) - 1;
                let mut data = Bits::new(placed.size);
                let mut unmasked = placed.clone();
                for y in 0..placed.size {
                    data.rows[y] = !function.rows[y] & all;
                    data.cols[y] = !function.cols[y] & all;
                    unmasked.rows[y] ^= patterns()[0].rows[y] & data.rows[y];
                    unmasked.cols[y] ^= patterns()[0].cols[y] & data.cols[y];
                }
                for mask in 0..8 {
                    let expected = Bits::of(&encode(&segs, ecl, Some(Mask::new(mask))));
                    let derived = masked(&unmasked, &data, ecl, mask);
                    assert_eq!(derived, expected, "version {version}, mask {mask}");
                }
            }
            assert!(last_version >= 22, "versions up to {last_version} only");
        }
    }

    #[test]
    fn the_chosen_mask_is_qrcodegens_choice() {
        let mut masks_seen = [false; 8];
        for seed in 0..300u64 {
            let len = 20 + (seed as usize * 37) % 2700;
            let segs = segments(&format!("shc:/{}", digits(len, seed)));
            let auto = encode(&segs, QrCodeEcc::Low, None);
            let code0 = encode(&segs, QrCodeEcc::Low, Some(Mask::new(0)));
            let chosen = best_mask(&code0).expect("scored");
            assert_eq!(chosen, auto.mask().value(), "seed {seed}, {len} digits");
            masks_seen[usize::from(chosen)] = true;
        }
        assert!(
            masks_seen.iter().filter(|&&s| s).count() >= 6,
            "{masks_seen:?}"
        );
    }

    #[test]
    fn a_code_not_drawn_under_mask_0_or_too_wide_is_not_scored() {
        let segs = segments(&format!("shc:/{}", digits(100, 1)));
        assert_eq!(
            best_mask(&encode(&segs, QrCodeEcc::Low, Some(Mask::new(3)))),
            None
        );
        let wide = QrCode::encode_segments_advanced(
            &segments(&format!("shc:/{}", digits(4000, 2))),
            QrCodeEcc::Low,
            Version::new(28),
            Version::new(40),
            Some(Mask::new(0)),
            false,
        )
        .expect("fits");
        assert_eq!(best_mask(&wide), None);
    }
}
