//! Finding and decoding the PDF417 barcode in a photo, with rxing.
//!
//! A phone photo is large, skewed, unevenly lit and sometimes upside down. Decoding is tried on
//! a short ladder of prepared pictures, cheapest first, until one reads or the time budget is
//! spent: the picture is first straightened by its measured slant (module `deskew`; rxing's
//! PDF417 detector itself tries all four quarter turns but loses rows slanting more than a few
//! degrees), then tried at several scales, contrast-stretched, with second guesses at the
//! angle (±2.5°), and with a global instead of a local threshold. If no PDF417 reads but a QR code does, the photo shows
//! the wrong barcode and the scan says so.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use image::imageops;
use image::GrayImage;
use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::pdf417::PDF417Reader;
use rxing::qrcode::QRCodeReader;
use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8LuminanceSource, Reader};

use crate::{deskew, ScanError};

/// What was on the photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A PDF417 symbol and its text.
    Pdf417(String),
    /// No PDF417, but another kind of barcode (e.g. a QR code).
    OtherBarcode,
    /// Nothing readable.
    Nothing,
}

#[derive(Debug, Clone, Copy)]
enum Binarizer {
    Hybrid,
    Global,
}

#[derive(Debug, Clone, Copy)]
struct Attempt {
    /// Longest side after scaling (0 = as is).
    max_side: u32,
    binarizer: Binarizer,
    stretch: bool,
    /// Degrees added to the measured slant correction (a second guess at the angle).
    nudge: f32,
}

const fn a(max_side: u32, binarizer: Binarizer, stretch: bool, nudge: f32) -> Attempt {
    Attempt {
        max_side,
        binarizer,
        stretch,
        nudge,
    }
}

/// The ladder, cheapest and most often right first.
const LADDER: &[Attempt] = &[
    a(1600, Binarizer::Hybrid, false, 0.0),
    a(1200, Binarizer::Hybrid, true, 0.0),
    a(2400, Binarizer::Hybrid, false, 0.0),
    a(1600, Binarizer::Hybrid, false, 2.5),
    a(1600, Binarizer::Hybrid, false, -2.5),
    a(1000, Binarizer::Hybrid, false, 0.0),
    a(3200, Binarizer::Hybrid, false, 0.0),
    a(800, Binarizer::Hybrid, true, 0.0),
    a(1600, Binarizer::Global, false, 0.0),
];

/// Attempts that always run, whatever the budget.
const ALWAYS: usize = 2;

/// Slants smaller than this are left alone.
const MIN_SLANT: f32 = 1.0;

/// Number of rungs on the ladder (for tuning tools).
#[doc(hidden)]
pub fn ladder_len() -> usize {
    LADDER.len()
}

/// Runs one rung of the ladder alone (for tuning tools).
#[doc(hidden)]
pub fn try_rung(gray: &GrayImage, i: usize) -> Option<String> {
    let slant = slant(gray);
    let img = prepare(gray, &LADDER[i], slant);
    decode(&img, LADDER[i].binarizer, BarcodeFormat::PDF_417)
}

/// The measured slant of the picture's edges, in degrees.
#[doc(hidden)]
pub fn slant(gray: &GrayImage) -> f32 {
    let (angle, _coherence) = deskew::dominant_angle(&scale(gray, 1000));
    angle
}

fn prepare(gray: &GrayImage, step: &Attempt, slant: f32) -> GrayImage {
    let mut img = scale(gray, step.max_side);
    let turn = slant + step.nudge;
    if turn.abs() >= MIN_SLANT {
        img = deskew::rotate(&img, -turn, mean(&img));
    }
    if step.stretch {
        img = stretch(&img);
    }
    img
}

/// Looks for a PDF417 symbol in `gray` for at most `budget`.
pub fn find(gray: &GrayImage, budget: Duration) -> Found {
    find_traced(gray, budget).0
}

/// [`find`], also saying which rung of the ladder read the symbol (for tuning).
pub fn find_traced(gray: &GrayImage, budget: Duration) -> (Found, Option<usize>) {
    let started = Instant::now();
    let slant = slant(gray);
    let longest = gray.width().max(gray.height());
    for (i, step) in LADDER.iter().enumerate() {
        if i >= ALWAYS && started.elapsed() >= budget {
            break;
        }
        if i > 0 && step.max_side > 1600 && longest <= 1600 {
            continue; // the picture is no bigger than what the first attempt saw
        }
        if step.nudge != 0.0 && slant.abs() < MIN_SLANT {
            continue; // straight already; nudges are for correcting a measured slant
        }
        let img = prepare(gray, step, slant);
        if let Some(text) = decode(&img, step.binarizer, BarcodeFormat::PDF_417) {
            return (Found::Pdf417(text), Some(i));
        }
    }
    // Nothing: is it the wrong kind of barcode?
    if decode(
        &scale(gray, 1000),
        Binarizer::Hybrid,
        BarcodeFormat::QR_CODE,
    )
    .is_some()
    {
        return (Found::OtherBarcode, None);
    }
    (Found::Nothing, None)
}

fn mean(img: &GrayImage) -> u8 {
    let n = img.as_raw().len().max(1) as u64;
    (img.as_raw().iter().map(|&p| u64::from(p)).sum::<u64>() / n) as u8
}

/// Reads the barcode text, or says why not.
pub fn read(gray: &GrayImage, budget: Duration) -> Result<String, ScanError> {
    match find(gray, budget) {
        Found::Pdf417(t) => Ok(t),
        Found::OtherBarcode => Err(ScanError::NotAamva),
        Found::Nothing => Err(ScanError::NoBarcode),
    }
}

fn decode(img: &GrayImage, binarizer: Binarizer, format: BarcodeFormat) -> Option<String> {
    let (w, h) = img.dimensions();
    let source = Luma8LuminanceSource::new(img.as_raw().clone(), w, h).ok()?;
    let hints = DecodeHints {
        TryHarder: Some(true),
        PossibleFormats: Some(HashSet::from([format])),
        ..DecodeHints::default()
    };
    let result = match (binarizer, format) {
        (Binarizer::Hybrid, BarcodeFormat::PDF_417) => PDF417Reader
            .decode_with_hints(&mut BinaryBitmap::new(HybridBinarizer::new(source)), &hints),
        (Binarizer::Global, BarcodeFormat::PDF_417) => PDF417Reader.decode_with_hints(
            &mut BinaryBitmap::new(GlobalHistogramBinarizer::new(source)),
            &hints,
        ),
        _ => QRCodeReader
            .decode_with_hints(&mut BinaryBitmap::new(HybridBinarizer::new(source)), &hints),
    };
    result.ok().map(|r| r.getText().to_owned())
}

/// Downscales so the longest side is at most `max_side` (area averaging, fast).
fn scale(img: &GrayImage, max_side: u32) -> GrayImage {
    let (w, h) = img.dimensions();
    let longest = w.max(h);
    if max_side == 0 || longest <= max_side {
        return img.clone();
    }
    let f = f64::from(max_side) / f64::from(longest);
    let nw = ((f64::from(w) * f).round() as u32).max(1);
    let nh = ((f64::from(h) * f).round() as u32).max(1);
    imageops::thumbnail(img, nw, nh)
}

/// Stretches contrast so the 2nd and 98th percentiles become black and white (helps in poor
/// light and under glare).
fn stretch(img: &GrayImage) -> GrayImage {
    let mut hist = [0u64; 256];
    for p in img.as_raw() {
        hist[*p as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let pct = |q: f64| {
        let target = (total as f64 * q) as u64;
        let mut acc = 0;
        for (v, n) in hist.iter().enumerate() {
            acc += n;
            if acc > target {
                return v as i32;
            }
        }
        255
    };
    let (lo, hi) = (pct(0.02), pct(0.98));
    if hi - lo < 8 {
        return img.clone();
    }
    let mut out = img.clone();
    for p in out.iter_mut() {
        *p = (((i32::from(*p) - lo) * 255) / (hi - lo)).clamp(0, 255) as u8;
    }
    out
}
