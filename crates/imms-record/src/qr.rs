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
