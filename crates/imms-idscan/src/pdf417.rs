//! Finding and decoding the PDF417 barcode in a photo, with rxing.
//!
//! A phone photo is large, skewed, unevenly lit and sometimes upside down. Decoding is tried on
//! a short ladder of prepared pictures, cheapest first, until one reads or the time budget is
//! spent. First the densest patch of edges is cropped (module `locate`), straightened by its
//! measured slant (module `deskew`; rxing's PDF417 detector itself tries all four quarter
//! turns but loses rows slanting more than a few degrees), its converging bars made parallel
//! and its sloping rows levelled (perspective). Then the whole photo and the crop are tried at
//! several scales, contrast-stretched, with second guesses at the angle (±2.5°), and with a
//! global instead of a local threshold. The order comes from the `ladder` example's greedy
//! cover over a seeded corpus. If no PDF417 reads but a QR code does, the photo shows
//! the wrong barcode and the scan says so.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use image::imageops;
use image::GrayImage;
use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::pdf417::PDF417Reader;
use rxing::qrcode::QRCodeReader;
use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8LuminanceSource, Reader};

use crate::{deskew, locate, ScanError};

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
    /// Work on the crop around the densest edges (module `locate`) instead of the whole photo.
    crop: bool,
    /// Longest side after scaling (0 = as is).
    max_side: u32,
    binarizer: Binarizer,
    stretch: bool,
    /// Degrees added to the measured slant correction (a second guess at the angle).
    nudge: f32,
    /// Undo perspective after straightening (make converging bars parallel).
    rectify: bool,
}

const fn rect(max_side: u32, nudge: f32) -> Attempt {
    Attempt {
        rectify: true,
        ..a(CROP, max_side, false, nudge)
    }
}

const fn a(crop: bool, max_side: u32, stretch: bool, nudge: f32) -> Attempt {
    Attempt {
        crop,
        max_side,
        binarizer: Binarizer::Hybrid,
        stretch,
        nudge,
        rectify: false,
    }
}

const fn global(crop: bool, max_side: u32) -> Attempt {
    Attempt {
        binarizer: Binarizer::Global,
        ..a(crop, max_side, false, 0.0)
    }
}

const WHOLE: bool = false;
const CROP: bool = true;

/// The ladder, cheapest and most often right first.
const LADDER: &[Attempt] = &[
    rect(1600, 0.0),
    rect(1600, -2.5),
    rect(1600, 2.5),
    a(WHOLE, 1600, false, 0.0),
    a(CROP, 1600, false, 2.5),
    a(CROP, 1600, false, -2.5),
    a(WHOLE, 3200, false, 0.0),
    rect(2400, 0.0),
    a(WHOLE, 1600, false, 2.5),
    a(WHOLE, 1600, false, -2.5),
    a(CROP, 1200, true, 0.0),
    a(WHOLE, 1200, true, 0.0),
    a(WHOLE, 2400, false, 0.0),
    a(CROP, 2400, false, 0.0),
    a(WHOLE, 1000, false, 0.0),
    global(CROP, 1600),
    global(WHOLE, 1600),
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
    let mut search = Search::new(gray);
    let (img, slant) = search.get(LADDER[i].crop)?;
    let img = prepare(img, &LADDER[i], slant);
    decode(&img, LADDER[i].binarizer, BarcodeFormat::PDF_417)
}

/// The measured slant of the picture's edges, in degrees.
#[doc(hidden)]
pub fn slant(gray: &GrayImage) -> f32 {
    slant_and_coherence(gray).0
}

/// [`slant`] and the share of edge strength along it ([`deskew::dominant_angle`]), measured
/// on a copy at most 1000 pixels on its longest side.
fn slant_and_coherence(gray: &GrayImage) -> (f32, f32) {
    deskew::dominant_angle(&scale(gray, 1000))
}

/// One photo's barcode search: the whole photo and the crop around the barcode, each with
/// its slant, made on first use, and how far up the ladder the search has gone (so it can
/// be stopped after the quick rungs and taken up again where it stopped).
pub struct Search<'a> {
    whole: &'a GrayImage,
    whole_slant: Option<f32>,
    /// The crop, its slant and the share of its edges along that slant.
    crop: Option<Option<(GrayImage, f32, f32)>>,
    /// The first rung of the ladder not tried yet.
    next_rung: usize,
}

impl<'a> Search<'a> {
    pub fn new(whole: &'a GrayImage) -> Self {
        Search {
            whole,
            whole_slant: None,
            crop: None,
            next_rung: 0,
        }
    }

    fn get(&mut self, crop: bool) -> Option<(&GrayImage, f32)> {
        if !crop {
            let s = *self.whole_slant.get_or_insert_with(|| slant(self.whole));
            return Some((self.whole, s));
        }
        self.crop().map(|(img, s, _)| (img, s))
    }

    fn crop(&mut self) -> Option<(&GrayImage, f32, f32)> {
        let whole = self.whole;
        self.crop
            .get_or_insert_with(|| {
                let small = scale(whole, 1000);
                let f = whole.width() as f32 / small.width() as f32;
                let (x, y, w, h) = locate::densest_region(&small)?;
                let px = |v: u32| (v as f32 * f) as u32;
                let (x, y) = (px(x).min(whole.width() - 1), px(y).min(whole.height() - 1));
                let w = px(w).min(whole.width() - x).max(1);
                let h = px(h).min(whole.height() - y).max(1);
                let img = imageops::crop_imm(whole, x, y, w, h).to_image();
                let (s, coherence) = slant_and_coherence(&img);
                Some((img, s, coherence))
            })
            .as_ref()
            .map(|(img, s, c)| (img, *s, *c))
    }

    /// Whether the densest patch of edges looks like a barcode's: most of its edge strength
    /// along one direction (bars), as a PDF417's is and a page of print is not.
    pub fn looks_like_barcode(&mut self) -> bool {
        self.crop().is_some_and(|c| c.2 >= BARCODE_COHERENCE)
    }
}

/// See [`Search::looks_like_barcode`]. Measured on the crop of generated photos: a card's
/// barcode 0.07–0.56 (four in five at 0.30 or more), a passport page 0.05–0.32 (one in forty
/// above 0.30). Only the order of the searches depends on it: a passport taken for a barcode
/// costs the two quick rungs, a card taken for print the passport search.
const BARCODE_COHERENCE: f32 = 0.30;

fn prepare(img: &GrayImage, step: &Attempt, slant: f32) -> GrayImage {
    let mut img = scale(img, step.max_side);
    let turn = slant + step.nudge;
    if turn.abs() >= MIN_SLANT {
        img = deskew::rotate(&img, -turn, mean(&img));
    }
    if step.rectify {
        let fill = mean(&img);
        if let Some(r) = deskew::rectify(&img, fill) {
            img = r;
        }
        if let Some(r) = deskew::level_rows(&img, fill) {
            img = r;
        }
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
    find_in(&mut Search::new(gray), budget)
}

/// [`find_traced`], taking up `search` where it stopped.
pub fn find_in(search: &mut Search<'_>, budget: Duration) -> (Found, Option<usize>) {
    if let Some((text, i)) = climb(search, LADDER.len(), budget) {
        return (Found::Pdf417(text), Some(i));
    }
    // Nothing: is it the wrong kind of barcode?
    if decode(
        &scale(search.whole, 1000),
        Binarizer::Hybrid,
        BarcodeFormat::QR_CODE,
    )
    .is_some()
    {
        return (Found::OtherBarcode, None);
    }
    (Found::Nothing, None)
}

/// The text of the PDF417 symbol if one of the first, always-tried rungs of the ladder reads
/// it (most cards); the rest of the ladder is left for [`find_in`] on the same search.
pub fn read_quick(search: &mut Search<'_>) -> Option<String> {
    climb(search, ALWAYS, Duration::MAX).map(|(text, _)| text)
}

/// Tries the rungs from the first not yet tried up to `until`, while the budget lasts (the
/// first [`ALWAYS`] rungs whatever the budget).
fn climb(search: &mut Search<'_>, until: usize, budget: Duration) -> Option<(String, usize)> {
    let started = Instant::now();
    let longest = search.whole.width().max(search.whole.height());
    while search.next_rung < until.min(LADDER.len()) {
        let i = search.next_rung;
        search.next_rung += 1;
        let step = &LADDER[i];
        if i >= ALWAYS && started.elapsed() >= budget {
            break;
        }
        if !step.crop && i > 0 && step.max_side > 1600 && longest <= 1600 {
            continue; // the picture is no bigger than what the first attempt saw
        }
        let Some((img, slant)) = search.get(step.crop) else {
            continue;
        };
        if step.nudge != 0.0 && slant.abs() < MIN_SLANT {
            continue; // straight already; nudges are for correcting a measured slant
        }
        let img = prepare(img, step, slant);
        if let Some(text) = decode(&img, step.binarizer, BarcodeFormat::PDF_417) {
            return Some((text, i));
        }
    }
    None
}

fn mean(img: &GrayImage) -> u8 {
    let n = img.as_raw().len().max(1) as u64;
    (img.as_raw().iter().map(|&p| u64::from(p)).sum::<u64>() / n) as u8
}

/// Reads the barcode text, or says why not.
pub fn read(search: &mut Search<'_>, budget: Duration) -> Result<String, ScanError> {
    match find_in(search, budget).0 {
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
    crate::shrink::resize(img, nw, nh)
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
