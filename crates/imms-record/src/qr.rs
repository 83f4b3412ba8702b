//! QR codes for `shc:/` strings: the prefix in byte mode, the digits in numeric mode (as the
//! SMART Health Cards spec asks), version 22 at most so a 40 mm print scans.

use qrcodegen::{Mask, QrCode, QrCodeEcc, QrSegment, Version};

use crate::RecordError;

mod mask;

/// The modules of one QR code: `size` × `size`, `true` for dark.
pub struct QrMatrix {
    pub size: usize,
    pub dark: Vec<bool>,
}

impl QrMatrix {
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark.get(y * self.size + x).copied().unwrap_or(false)
    }
}

/// The dark modules as few rectangles `(x, y, width, height)` in module units: runs of a row,
/// each merged with the same run in the rows below it. Together they cover exactly the dark
/// modules, each once.
pub fn rectangles(matrix: &QrMatrix) -> Vec<(usize, usize, usize, usize)> {
    let size = matrix.size;
    let mut done = Vec::new();
    // Rectangles still growing downwards, `(start, end, top, height)`, in the order of `start`.
    let mut open: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut next = Vec::new();
    let close =
        |(start, end, top, height): (usize, usize, usize, usize)| (start, top, end - start, height);
    for y in 0..=size {
        let mut k = 0;
        let mut x = 0;
        while y < size && x < size {
            if !matrix.is_dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < size && matrix.is_dark(x, y) {
                x += 1;
            }
            // Runs above that start further left cannot grow into this row any more.
            while k < open.len() && open[k].0 < start {
                done.push(close(open[k]));
                k += 1;
            }
            match open.get(k) {
                Some(&(s, e, top, height)) if (s, e) == (start, x) => {
                    next.push((start, x, top, height + 1));
                    k += 1;
                }
                _ => next.push((start, x, y, 1)),
            }
        }
        done.extend(open[k..].iter().copied().map(close));
        std::mem::swap(&mut open, &mut next);
        next.clear();
    }
    done
}

pub fn encode(shc: &str) -> Result<QrMatrix, RecordError> {
    let digits_at = shc
        .rfind('/')
        .map(|i| i + 1)
        .ok_or_else(|| RecordError::Card("not an shc:/ string".into()))?;
    let (prefix, digits) = shc.split_at(digits_at);
    let segments = vec![
        QrSegment::make_bytes(prefix.as_bytes()),
        QrSegment::make_numeric(digits),
    ];
    // Level L is what the spec sizes version 22 for; a shorter card gets a higher level free.
    let draw = |mask: Option<Mask>| {
        QrCode::encode_segments_advanced(
            &segments,
            QrCodeEcc::Low,
            Version::MIN,
            Version::new(22),
            mask,
            true,
        )
        .map_err(|_| RecordError::Card("the card does not fit a version-22 QR code".into()))
    };
    // The mask qrcodegen would choose, found sooner (see `mask`): drawn under mask 0, scored,
    // then drawn by qrcodegen under the mask with the lowest penalty.
    let under_mask_0 = draw(Some(Mask::new(0)))?;
    let code = match mask::best_mask(&under_mask_0) {
        Some(0) => under_mask_0,
        Some(best) => draw(Some(Mask::new(best)))?,
        None => draw(None)?,
    };
    let size = code.size() as usize;
    let mut dark = Vec::with_capacity(size * size);
    for y in 0..size {
        for x in 0..size {
            dark.push(code.get_module(x as i32, y as i32));
        }
    }
    Ok(QrMatrix { size, dark })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_module_for_module_the_one_qrcodegen_chooses_itself() {
        let mut state = 7u64;
        for (prefix, digits) in [
            ("shc:/", 40),
            ("shc:/", 700),
            ("shc:/", 2300),
            ("shc:/1/2/", 1150),
            ("shc:/2/2/", 1100),
        ] {
            let digits: String = (0..digits)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    char::from(b'0' + ((state >> 33) % 10) as u8)
                })
                .collect();
            let ours = encode(&format!("{prefix}{digits}")).expect("ours");
            let theirs = QrCode::encode_segments_advanced(
                &[
                    QrSegment::make_bytes(prefix.as_bytes()),
                    QrSegment::make_numeric(&digits),
                ],
                QrCodeEcc::Low,
                Version::MIN,
                Version::new(22),
                None,
                true,
            )
            .expect("qrcodegen");
            assert_eq!(ours.size, theirs.size() as usize);
            for y in 0..ours.size {
                for x in 0..ours.size {
                    assert_eq!(
                        ours.is_dark(x, y),
                        theirs.get_module(x as i32, y as i32),
                        "{prefix} {} digits: module ({x}, {y})",
                        digits.len()
                    );
                }
            }
        }
    }

    #[test]
    fn rectangles_cover_exactly_the_dark_modules() {
        let shc = format!("shc:/{}", "5676295953265460346029".repeat(40));
        let m = encode(&shc).expect("qr");
        let mut covered = vec![0u8; m.size * m.size];
        let rects = rectangles(&m);
        for (x, y, w, h) in &rects {
            for yy in *y..y + h {
                for xx in *x..x + w {
                    covered[yy * m.size + xx] += 1;
                }
            }
        }
        for (i, dark) in m.dark.iter().enumerate() {
            assert_eq!(covered[i], u8::from(*dark), "module {i}");
        }
        let runs: usize = (0..m.size)
            .map(|y| {
                (0..m.size)
                    .filter(|&x| m.is_dark(x, y) && (x == 0 || !m.is_dark(x - 1, y)))
                    .count()
            })
            .sum();
        assert!(
            rects.len() < runs,
            "{} rectangles for {runs} runs",
            rects.len()
        );
    }
}
