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
}
