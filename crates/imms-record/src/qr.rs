//! QR codes for `shc:/` strings: the prefix in byte mode, the digits in numeric mode (as the
//! SMART Health Cards spec asks), version 22 at most so a 40 mm print scans.

use qrcodegen::{QrCode, QrCodeEcc, QrSegment, Version};

use crate::RecordError;

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
    use std::collections::BTreeMap;
    let mut done = Vec::new();
    // (start, end) of a run → (top row, height) of the rectangle still growing downwards.
    let mut open: BTreeMap<(usize, usize), (usize, usize)> = BTreeMap::new();
    for y in 0..=matrix.size {
        let mut next = BTreeMap::new();
        let mut x = 0;
        while y < matrix.size && x < matrix.size {
            if !matrix.is_dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < matrix.size && matrix.is_dark(x, y) {
                x += 1;
            }
            let grown = match open.remove(&(start, x)) {
                Some((top, height)) => (top, height + 1),
                None => (y, 1),
            };
            next.insert((start, x), grown);
        }
        done.extend(
            open.into_iter()
                .map(|((start, end), (top, height))| (start, top, end - start, height)),
        );
        open = next;
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
    let code = QrCode::encode_segments_advanced(
        &segments,
        QrCodeEcc::Low,
        Version::MIN,
        Version::new(22),
        None,
        true,
    )
    .map_err(|_| RecordError::Card("the card does not fit a version-22 QR code".into()))?;
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
