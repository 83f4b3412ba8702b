//! Image intake: the uploaded bytes become one upright grayscale picture, or a refusal.
//!
//! Order matters for safety: the byte size is checked first, the type is sniffed from the
//! magic bytes (never trusted from a file name), the dimensions are read from the header, and
//! only then is anything decoded. A decompression bomb (a small file declaring a huge
//! picture) is refused from its header in microseconds, before any pixel buffer exists.
//! EXIF orientation (JPEG, PNG, WebP) is applied so a phone photo taken sideways is upright.
//! The decoded colour buffer is zeroed before it is freed. A JPEG in YCbCr or grey (what
//! phones write) is decoded straight to its luma channel: the chroma is never upsampled nor
//! converted to RGB, which is most of the work on a colour photo.

use std::io::Cursor;
use std::time::Duration;

use image::{DynamicImage, GrayImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use zeroize::Zeroize;

use crate::ScanError;

/// Limits on what a scan accepts and how long it searches. `Limits::default()` suits a phone
/// photo: 15 MiB, 50 megapixels, 2 s of barcode search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// Largest picture accepted, in pixels (width × height from the header).
    pub max_pixels: u64,
    /// Wall-clock budget for finding the barcode once the image is decoded. The first,
    /// cheapest attempts always run, so a tiny budget still reads a clean photo.
    pub time_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 15 * 1024 * 1024,
            max_pixels: 50_000_000,
            time_budget: Duration::from_millis(2000),
        }
    }
}

/// Image types recognised from their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
}

impl Format {
    fn image_format(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::Webp => ImageFormat::WebP,
        }
    }
}

/// Checks the byte size and recognises the type from the magic bytes.
pub fn sniff(bytes: &[u8], limits: &Limits) -> Result<Format, ScanError> {
    if bytes.is_empty() {
        return Err(ScanError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(ScanError::TooLarge {
            what: format!("{} bytes, limit {}", bytes.len(), limits.max_bytes),
        });
    }
    let at = |r: std::ops::Range<usize>| bytes.get(r).unwrap_or(&[]);
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if at(0..4) == b"RIFF" && at(8..12) == b"WEBP" {
        return Ok(Format::Webp);
    }
    let kind = if at(4..8) == b"ftyp" {
        match at(8..12) {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"hevm" | b"hevs"
            | b"mif1" | b"msf1" => "HEIC",
            b"avif" | b"avis" => "AVIF",
            _ => "a video or ISO media file",
        }
    } else if bytes.starts_with(b"GIF8") {
        "GIF"
    } else if bytes.starts_with(b"%PDF") {
        "PDF"
    } else if bytes.starts_with(b"BM") {
        "BMP"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "TIFF"
    } else {
        "not a picture"
    };
    Err(ScanError::UnsupportedFormat(kind.into()))
}

/// Reads the picture's size from its header only (nothing is decoded).
pub fn dimensions(bytes: &[u8], limits: &Limits) -> Result<(u32, u32), ScanError> {
    let format = sniff(bytes, limits)?;
    let decoder = decoder(bytes, format, limits)?;
    let dims = decoder.dimensions();
    check_dimensions(dims, limits)?;
    Ok(dims)
}

/// Decodes `bytes` into an upright grayscale picture.
pub fn decode_gray(bytes: &[u8], limits: &Limits) -> Result<GrayImage, ScanError> {
    let format = sniff(bytes, limits)?;
    if format == Format::Jpeg && !jpeg_has_end(bytes) {
        // The JPEG decoder would fill a cut-off file with grey and carry on.
        return Err(ScanError::CorruptImage);
    }
    let mut decoder = decoder(bytes, format, limits)?;
    check_dimensions(decoder.dimensions(), limits)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let luma = match format {
        Format::Jpeg => jpeg_luma(bytes, decoder.dimensions())?,
        _ => None,
    };
    let gray = match luma {
        Some(gray) => gray,
        None => {
            let colour = DynamicImage::from_decoder(decoder).map_err(from_image_error)?;
            let gray = colour.to_luma8();
            colour.into_bytes().zeroize();
            gray
        }
    };
    let mut upright = DynamicImage::ImageLuma8(gray);
    upright.apply_orientation(orientation);
    Ok(upright.into_luma8())
}

/// The luma channel of a YCbCr or grey JPEG of (at most) the given size; `None` for another
/// colour model (CMYK, RGB), which goes through the general path.
fn jpeg_luma(bytes: &[u8], (w, h): (u32, u32)) -> Result<Option<GrayImage>, ScanError> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        .set_max_width(w as usize)
        .set_max_height(h as usize);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|_| ScanError::CorruptImage)?;
    if !matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::YCbCr | ColorSpace::Luma)
    ) {
        return Ok(None);
    }
    let mut pixels = decoder.decode().map_err(|_| ScanError::CorruptImage)?;
    let (dw, dh) = decoder.dimensions().ok_or(ScanError::CorruptImage)?;
    if decoder.output_colorspace() != Some(ColorSpace::Luma) || (dw as u32, dh as u32) != (w, h) {
        pixels.zeroize();
        return Ok(None);
    }
    GrayImage::from_raw(w, h, pixels)
        .map(Some)
        .ok_or(ScanError::CorruptImage)
}

/// A complete JPEG has its end-of-image marker (FF D9) at the end, or, when a phone appends
/// a trailer or a second image, at the end of that: within the last 64 KiB either way.
/// Entropy-coded data never holds FF D9, so a file cut short has none there.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64 * 1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

fn decoder<'a>(
    bytes: &'a [u8],
    format: Format,
    limits: &Limits,
) -> Result<impl ImageDecoder + 'a, ScanError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    let mut l = image::Limits::default();
    // Enough for the largest accepted picture in RGBA at 16 bits, and no more.
    l.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(1 << 20));
    reader.limits(l);
    reader.into_decoder().map_err(from_image_error)
}

fn check_dimensions((w, h): (u32, u32), limits: &Limits) -> Result<(), ScanError> {
    if w == 0 || h == 0 {
        return Err(ScanError::CorruptImage);
    }
    let pixels = u64::from(w) * u64::from(h);
    if pixels > limits.max_pixels {
        return Err(ScanError::TooLarge {
            what: format!(
                "{w}x{h} pixels, limit {} megapixels",
                limits.max_pixels / 1_000_000
            ),
        });
    }
    Ok(())
}

fn from_image_error(e: ImageError) -> ScanError {
    match e {
        ImageError::Limits(_) => ScanError::TooLarge {
            what: "the picture needs more memory than allowed".into(),
        },
        ImageError::Unsupported(u) => ScanError::UnsupportedFormat(u.to_string()),
        _ => ScanError::CorruptImage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::png::PngEncoder;
    use image::ImageEncoder;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let px = vec![200u8; (w * h) as usize];
        PngEncoder::new(&mut out)
            .write_image(&px, w, h, image::ExtendedColorType::L8)
            .unwrap();
        out
    }

    /// A PNG whose header claims `w` x `h` but that has almost no data: a decompression bomb
    /// as far as a header-only check is concerned.
    fn png_claiming(w: u32, h: u32) -> Vec<u8> {
        let mut p = png(1, 1);
        // IHDR data starts at byte 16: width, height (big endian); then fix the CRC.
        p[16..20].copy_from_slice(&w.to_be_bytes());
        p[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&p[12..29]);
        p[29..33].copy_from_slice(&crc.to_be_bytes());
        p
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn decodes_png() {
        let g = decode_gray(&png(30, 20), &Limits::default()).unwrap();
        assert_eq!(g.dimensions(), (30, 20));
        assert_eq!(g.get_pixel(3, 3).0[0], 200);
    }

    #[test]
    fn refusals() {
        let l = Limits::default();
        assert_eq!(decode_gray(b"", &l), Err(ScanError::Empty));
        assert!(matches!(
            decode_gray(b"hello", &l),
            Err(ScanError::UnsupportedFormat(_))
        ));
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert_eq!(
            decode_gray(heic, &l),
            Err(ScanError::UnsupportedFormat("HEIC".into()))
        );
        assert!(ScanError::UnsupportedFormat("HEIC".into())
            .to_string()
            .contains("please upload a JPEG or PNG"));
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            decode_gray(&png(5, 5), &small),
            Err(ScanError::TooLarge { .. })
        ));
        // Truncated: a PNG cut in half.
        let p = png(64, 64);
        assert_eq!(
            decode_gray(&p[..p.len() / 2], &l),
            Err(ScanError::CorruptImage)
        );
        // Lies about its type: JPEG magic, PNG body.
        let mut liar = vec![0xFF, 0xD8, 0xFF];
        liar.extend_from_slice(&p);
        assert_eq!(decode_gray(&liar, &l), Err(ScanError::CorruptImage));
    }

    #[test]
    fn decompression_bomb_refused_from_header() {
        let bomb = png_claiming(100_000, 100_000);
        let started = std::time::Instant::now();
        let e = decode_gray(&bomb, &Limits::default());
        assert!(matches!(e, Err(ScanError::TooLarge { .. })), "{e:?}");
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(
            decode_gray(&png_claiming(0, 10), &Limits::default()),
            Err(ScanError::CorruptImage)
        );
    }
}
