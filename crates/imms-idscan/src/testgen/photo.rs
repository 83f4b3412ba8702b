//! Phone photos of a card's back, made in memory: a PDF417 (or QR) symbol printed on a card,
//! the card laid on a table and photographed at an angle, in poor light, with blur, sensor
//! noise, glare, JPEG artefacts and an EXIF orientation tag.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{GrayImage, ImageEncoder, Luma};
use rand::Rng;
use rxing::common::BitMatrix;
use rxing::{BarcodeFormat, EncodeHints, Writer};

use crate::geometry::{apply, homography};

/// How a photo is taken. [`Degradation::clean`] is a flat, sharp, well-lit shot.
#[derive(Debug, Clone, PartialEq)]
pub struct Degradation {
    /// Photo width in pixels (height is 3/4 of it).
    pub photo_width: u32,
    /// Card width as a fraction of the photo width.
    pub card_frac: f32,
    /// In-plane rotation of the card, degrees (180 = upside down).
    pub angle_deg: f32,
    /// Perspective: corner displacement as a fraction of the card width.
    pub perspective: f32,
    /// Defocus: box-blur radius as a fraction of one barcode module, applied twice (≈ Gaussian).
    pub blur: f32,
    /// Sensor noise amplitude in grey levels.
    pub noise: f32,
    /// Glare strength, 0–1.
    pub glare: f32,
    /// Brightness factor, 1 = good light.
    pub light: f32,
    /// JPEG quality; 0 writes a PNG.
    pub jpeg_quality: u8,
    /// EXIF orientation written into the file (1, 3, 6 or 8); the pixels are stored turned so
    /// that honouring the tag shows the scene upright.
    pub exif_orientation: u8,
    /// Write RGB with a colour cast instead of grey.
    pub colour: bool,
}

impl Degradation {
    pub fn clean(photo_width: u32) -> Self {
        Degradation {
            photo_width,
            card_frac: 0.8,
            angle_deg: 0.0,
            perspective: 0.0,
            blur: 0.0,
            noise: 0.0,
            glare: 0.0,
            light: 1.0,
            jpeg_quality: 92,
            exif_orientation: 1,
            colour: false,
        }
    }

    /// A kitchen-table photo: any of the troubles above, in amounts a person still calls
    /// "a photo of my license".
    pub fn random(rng: &mut impl Rng) -> Self {
        let turn: f32 = match rng.gen_range(0..20) {
            0..=11 => 0.0,
            12..=15 => 180.0,
            16..=17 => 90.0,
            _ => 270.0,
        };
        Degradation {
            photo_width: [2000, 2400, 3000, 3000, 4000, 4000][rng.gen_range(0..6)],
            card_frac: rng.gen_range(0.5..0.9),
            angle_deg: turn + rng.gen_range(-12.0..12.0),
            perspective: rng.gen_range(0.0..0.10),
            blur: rng.gen_range(0.0..0.45),
            noise: rng.gen_range(0.0..14.0),
            glare: if rng.gen_bool(0.4) {
                rng.gen_range(0.2..0.6)
            } else {
                0.0
            },
            light: rng.gen_range(0.45..1.0),
            jpeg_quality: rng.gen_range(55..=95),
            exif_orientation: [1, 1, 1, 1, 1, 6, 8, 3][rng.gen_range(0..8)],
            colour: rng.gen_bool(0.5),
        }
    }
}

/// A PDF417 symbol for `text` (error correction level 5, as cards use), one pixel per module.
pub fn pdf417_symbol(text: &str) -> GrayImage {
    // Cards print 10-17 data columns, giving the familiar tall symbol.
    let hints = EncodeHints {
        ErrorCorrection: Some("5".into()),
        Margin: Some("0".into()),
        Pdf417Dimensions: Some(rxing::pdf417::encoder::Dimensions::new(10, 17, 3, 90)),
        ..EncodeHints::default()
    };
    let m = rxing::pdf417::PDF417Writer
        .encode_with_hints(text, &BarcodeFormat::PDF_417, 0, 0, &hints)
        .expect("PDF417 encodes any Latin-1 text");
    to_image(&m)
}

/// A QR code for `text`, one pixel per module.
pub fn qr_symbol(text: &str) -> GrayImage {
    let m = rxing::qrcode::QRCodeWriter
        .encode(text, &BarcodeFormat::QR_CODE, 0, 0)
        .expect("QR encodes short text");
    to_image(&m)
}

fn to_image(m: &BitMatrix) -> GrayImage {
    GrayImage::from_fn(m.getWidth(), m.getHeight(), |x, y| {
        Luma([if m.get(x, y) { 0 } else { 255 }])
    })
}

/// A card's back at `module_px` pixels per module: light background, lines of "print", and the
/// symbol across most of the card's width.
pub fn card_back(symbol: &GrayImage, module_px: u32, rng: &mut impl Rng) -> GrayImage {
    let bw = symbol.width() * module_px;
    let bh = symbol.height() * module_px;
    let cw = (bw as f32 / 0.86) as u32;
    let ch = ((cw as f32 * 0.63) as u32).max((bh as f32 / 0.6) as u32);
    let paper = rng.gen_range(215..=245u8);
    let ink = rng.gen_range(10..=45u8);
    let mut card = GrayImage::from_pixel(cw, ch, Luma([paper]));
    // Lines of small print above the symbol.
    let line_h = (ch / 30).max(2);
    let mut y = ch / 14;
    while y + line_h < ch - bh - ch / 10 {
        let len = rng.gen_range(cw / 4..cw * 3 / 4);
        for yy in y..y + line_h {
            for xx in cw / 14..(cw / 14 + len).min(cw) {
                if (xx / line_h) % 3 != 2 {
                    card.put_pixel(xx, yy, Luma([ink.saturating_add(60)]));
                }
            }
        }
        y += line_h * 2;
    }
    let x0 = (cw - bw) / 2;
    let y0 = ch - bh - ch / 14;
    for (x, y, p) in symbol.enumerate_pixels() {
        let v = if p.0[0] < 128 { ink } else { paper };
        for dy in 0..module_px {
            for dx in 0..module_px {
                card.put_pixel(x0 + x * module_px + dx, y0 + y * module_px + dy, Luma([v]));
            }
        }
    }
    card
}

/// Photographs `symbol` printed on a card, as encoded file bytes (JPEG or PNG).
pub fn photo_of_symbol(symbol: &GrayImage, d: &Degradation, rng: &mut impl Rng) -> Vec<u8> {
    // Print the card at about the resolution the photo will see it, so sampling is ~1:1.
    let px_per_module = d.photo_width as f32 * d.card_frac * 0.86 / symbol.width() as f32;
    let module_px = (px_per_module.round() as u32).clamp(1, 8);
    let card = card_back(symbol, module_px, rng);
    let mut scene = photograph(&card, d, rng);
    let r = (d.blur * px_per_module).round() as u32;
    for _ in 0..2 {
        box_blur(&mut scene, r);
    }
    add_noise(&mut scene, d.noise, rng);
    encode(scene, d)
}

/// Lays `card` on a table and photographs it (grey scene, upright; sharp and noiseless: see
/// [`photo_of_symbol`] for those).
pub fn photograph(card: &GrayImage, d: &Degradation, rng: &mut impl Rng) -> GrayImage {
    let w = d.photo_width;
    let h = w * 3 / 4;
    let (cw, ch) = (card.width() as f32, card.height() as f32);
    let angle = d.angle_deg.to_radians();
    let (s, c) = angle.sin_cos();
    // Fit the rotated card inside the photo.
    let mut scale = d.card_frac * w as f32 / cw;
    let bbox_w = (cw * c.abs() + ch * s.abs()) * scale;
    let bbox_h = (cw * s.abs() + ch * c.abs()) * scale;
    let fit = (0.92 * w as f32 / bbox_w)
        .min(0.92 * h as f32 / bbox_h)
        .min(1.0);
    scale *= fit * (1.0 - d.perspective);
    let cx = w as f32 / 2.0 + rng.gen_range(-0.03..0.03) * w as f32;
    let cy = h as f32 / 2.0 + rng.gen_range(-0.03..0.03) * h as f32;
    let jitter = d.perspective * cw * scale;
    let corners_card = [(0.0, 0.0), (cw, 0.0), (cw, ch), (0.0, ch)];
    let corners_photo: Vec<(f32, f32)> = corners_card
        .iter()
        .map(|&(u, v)| {
            let (x, y) = ((u - cw / 2.0) * scale, (v - ch / 2.0) * scale);
            (
                cx + x * c - y * s + rng.gen_range(-1.0..=1.0) * jitter,
                cy + x * s + y * c + rng.gen_range(-1.0..=1.0) * jitter,
            )
        })
        .collect();
    let to_card = homography(&corners_photo, &corners_card);

    let table = rng.gen_range(40.0..130.0f32);
    let grad = rng.gen_range(-40.0..40.0f32);
    let (gx, gy) = (rng.gen_range(0.0..w as f32), rng.gen_range(0.0..h as f32));
    let glare_r = rng.gen_range(0.08..0.2) * w as f32;
    let mut scene = GrayImage::new(w, h);
    for (x, y, p) in scene.enumerate_pixels_mut() {
        let (xf, yf) = (x as f32 + 0.5, y as f32 + 0.5);
        let (u, v) = apply(&to_card, xf, yf);
        let mut val = if u >= 0.0 && v >= 0.0 && u < cw - 1.0 && v < ch - 1.0 {
            bilinear(card, u, v)
        } else {
            table + grad * (xf / w as f32 - 0.5)
        };
        // Uneven light: a gradient across the photo, then the overall level.
        val *= d.light * (1.0 - 0.25 * (yf / h as f32));
        if d.glare > 0.0 {
            let d2 = ((xf - gx).powi(2) + (yf - gy).powi(2)) / (glare_r * glare_r);
            val += (255.0 - val) * d.glare * (-d2).exp();
        }
        p.0[0] = val.clamp(0.0, 255.0) as u8;
    }
    scene
}

/// Sensor noise: triangular, `amplitude` grey levels either way.
pub fn add_noise(scene: &mut GrayImage, amplitude: f32, rng: &mut impl Rng) {
    if amplitude > 0.0 {
        for p in scene.iter_mut() {
            let n = (rng.gen::<f32>() + rng.gen::<f32>() - 1.0) * amplitude;
            *p = (f32::from(*p) + n).clamp(0.0, 255.0) as u8;
        }
    }
}

/// Encodes the upright `scene` as the phone would store it (turned per the EXIF tag).
pub fn encode(scene: GrayImage, d: &Degradation) -> Vec<u8> {
    let stored = match d.exif_orientation {
        3 => image::imageops::rotate180(&scene),
        6 => image::imageops::rotate270(&scene),
        8 => image::imageops::rotate90(&scene),
        _ => scene,
    };
    let (w, h) = stored.dimensions();
    let (bytes, colour) = if d.colour {
        let rgb: Vec<u8> = stored
            .as_raw()
            .iter()
            .flat_map(|&v| {
                let v = f32::from(v);
                [v as u8, (v * 0.96) as u8, (v * 0.88) as u8]
            })
            .collect();
        (rgb, image::ExtendedColorType::Rgb8)
    } else {
        (stored.into_raw(), image::ExtendedColorType::L8)
    };
    let mut out = Cursor::new(Vec::new());
    if d.jpeg_quality == 0 {
        let mut enc = PngEncoder::new(&mut out);
        if d.exif_orientation != 1 {
            let _ = enc.set_exif_metadata(exif_orientation(d.exif_orientation));
        }
        enc.write_image(&bytes, w, h, colour).expect("PNG encodes");
    } else {
        let mut enc = JpegEncoder::new_with_quality(&mut out, d.jpeg_quality);
        if d.exif_orientation != 1 {
            let _ = enc.set_exif_metadata(exif_orientation(d.exif_orientation));
        }
        enc.write_image(&bytes, w, h, colour).expect("JPEG encodes");
    }
    out.into_inner()
}

/// A minimal little-endian TIFF/EXIF block holding only the Orientation tag.
pub fn exif_orientation(o: u8) -> Vec<u8> {
    let mut e = b"II*\0\x08\0\0\0".to_vec();
    e.extend_from_slice(&1u16.to_le_bytes()); // one entry
    e.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    e.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    e.extend_from_slice(&1u32.to_le_bytes()); // count
    e.extend_from_slice(&[o, 0, 0, 0]); // value
    e.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    e
}

fn bilinear(img: &GrayImage, u: f32, v: f32) -> f32 {
    let (x0, y0) = (u.floor() as u32, v.floor() as u32);
    let (fx, fy) = (u - x0 as f32, v - y0 as f32);
    let p = |x: u32, y: u32| f32::from(img.get_pixel(x, y).0[0]);
    let top = p(x0, y0) * (1.0 - fx) + p(x0 + 1, y0) * fx;
    let bottom = p(x0, y0 + 1) * (1.0 - fx) + p(x0 + 1, y0 + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Horizontal then vertical running-sum box blur.
pub fn box_blur(img: &mut GrayImage, r: u32) {
    if r == 0 {
        return;
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    let r = r as usize;
    let buf = img.as_mut();
    let mut line = vec![0u8; w.max(h)];
    let mut pass =
        |len: usize, count: usize, idx: &dyn Fn(usize, usize) -> usize, buf: &mut [u8]| {
            for k in 0..count {
                for (i, l) in line.iter_mut().enumerate().take(len) {
                    *l = buf[idx(k, i)];
                }
                let mut sum: u32 = 0;
                let mut n: u32 = 0;
                for l in line.iter().take(r.min(len)) {
                    sum += u32::from(*l);
                    n += 1;
                }
                for i in 0..len {
                    if i + r < len {
                        sum += u32::from(line[i + r]);
                        n += 1;
                    }
                    if i > r {
                        sum -= u32::from(line[i - r - 1]);
                        n -= 1;
                    }
                    buf[idx(k, i)] = (sum / n) as u8;
                }
            }
        };
    pass(w, h, &|row, i| row * w + i, buf);
    pass(h, w, &|col, i| i * w + col, buf);
}
