//! The record's figures, in one run: a 20-dose record with its SMART Health Card QR code,
//! made with the record's renderer (krilla: tagged PDF/UA-1, fonts subset) and with printpdf
//! 0.7 (untagged, fonts subset by allsorts) drawing the same laid-out pages; and the card
//! alone (FHIR bundle, DEFLATE, ES256 signature, `shc:/` numeric form).
//!
//!     cargo build --release --manifest-path crates/imms-record/compare/Cargo.toml
//!     taskset -c 0 crates/imms-record/compare/target/release/imms-record-compare [ROUNDS] [DOSES]
//!
//! Rounds alternate the order of the libraries so a loaded machine weighs on both alike.
//! With OUT_DIR_PDF set, writes both PDFs there to look at (pdffonts, pdftotext, pdfinfo).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use imms_record::layout::{self, Laid, Op, PAGE_H, PAGE_W};
use imms_record::{fonts, pdf, qr, Issuer, Lang};

#[path = "../../sample/input.rs"]
mod input;
use input::sample;

/// The same display list drawn with printpdf 0.7 (no tags: printpdf has no structure tree).
fn render_printpdf(laid: &Laid) -> Vec<u8> {
    use printpdf::{
        path::PaintMode, Color, ColorBits, ColorSpace, Greyscale, Image, ImageTransform,
        ImageXObject, Mm, PdfDocument, Point, Pt, Px, Rect,
    };
    let w = Mm::from(Pt(PAGE_W));
    let h = Mm::from(Pt(PAGE_H));
    let (doc, first_page, first_layer) = PdfDocument::new(laid.title.as_str(), w, h, "record");
    let regular = doc.add_external_font(fonts::REGULAR).expect("font");
    let bold = doc.add_external_font(fonts::BOLD).expect("font");
    let gray = |g: f32| Color::Greyscale(Greyscale::new(g, None));
    let at = |x: f32, y: f32| Point::new(Mm::from(Pt(x)), Mm::from(Pt(PAGE_H - y)));
    for (i, ops) in laid.pages.iter().enumerate() {
        let (page, layer) = if i == 0 {
            (first_page, first_layer)
        } else {
            doc.add_page(w, h, "record")
        };
        let layer = doc.get_page(page).get_layer(layer);
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold: b,
                    text,
                    ..
                } => {
                    layer.set_fill_color(gray(0.0));
                    let font = if *b { &bold } else { &regular };
                    layer.use_text(
                        text.as_str(),
                        *size,
                        Mm::from(Pt(*x)),
                        Mm::from(Pt(PAGE_H - *y)),
                        font,
                    );
                }
                Op::Rect {
                    x,
                    y,
                    w,
                    h,
                    gray: g,
                    stroke,
                } => {
                    let ll = at(*x, *y + *h);
                    let ur = at(*x + *w, *y);
                    let mut rect = Rect::new(ll.x.into(), ll.y.into(), ur.x.into(), ur.y.into());
                    if *stroke {
                        layer.set_outline_color(gray(90.0 / 255.0));
                        layer.set_outline_thickness(0.75);
                        rect = rect.with_mode(PaintMode::Stroke);
                    } else {
                        layer.set_fill_color(gray(*g));
                        rect = rect.with_mode(PaintMode::Fill);
                    }
                    layer.add_rect(rect);
                }
                Op::Qr { x, y, side, matrix } => {
                    // The same picture as the record's renderer draws: one grey pixel a
                    // module, scaled to the module size, inside a quiet zone of four.
                    let module = side / (matrix.size as f32 + 8.0);
                    let image = Image::from(ImageXObject {
                        width: Px(matrix.size),
                        height: Px(matrix.size),
                        color_space: ColorSpace::Greyscale,
                        bits_per_component: ColorBits::Bit8,
                        interpolate: false,
                        image_data: matrix
                            .dark
                            .iter()
                            .map(|&d| if d { 0 } else { 255 })
                            .collect(),
                        image_filter: None,
                        smask: None,
                        clipping_bbox: None,
                    });
                    let bottom = at(*x + 4.0 * module, *y + (4.0 + matrix.size as f32) * module);
                    image.add_to_layer(
                        layer.clone(),
                        ImageTransform {
                            translate_x: Some(bottom.x.into()),
                            translate_y: Some(bottom.y.into()),
                            dpi: Some(72.0 / module),
                            ..Default::default()
                        },
                    );
                }
            }
        }
    }
    doc.save_to_bytes().expect("printpdf")
}

/// Wall-clock times, and the CPU time of this thread (what the work costs on one core, not
/// counting the time other processes of a loaded machine held the core).
struct Series(Vec<Duration>, Vec<Duration>);

impl Series {
    fn new() -> Series {
        Series(vec![], vec![])
    }

    fn ms(&mut self, q: f64) -> f64 {
        quantile(&mut self.0, q)
    }

    fn cpu_ms(&mut self, q: f64) -> f64 {
        quantile(&mut self.1, q)
    }
}

fn quantile(v: &mut [Duration], q: f64) -> f64 {
    v.sort();
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i].as_secs_f64() * 1e3
}

fn time<T>(series: &mut Series, f: impl FnOnce() -> T) -> T {
    let cpu = cpu_time::ThreadTime::now();
    let t = Instant::now();
    let out = std::hint::black_box(f());
    series.0.push(t.elapsed());
    series.1.push(cpu.elapsed());
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let doses: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = Issuer::load_or_create(
        dir.path(),
        "State Department of Health",
        "https://imms.example.gov",
    )
    .expect("issuer");
    let input = sample(doses);
    let today = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
    let guide_url = issuer.guide_url();
    let header = layout::Header {
        authority: issuer.name(),
        issued_on: today,
        guide_url: &guide_url,
    };
    // Both libraries draw the same record: the card, its QR code(s), the pages laid out.
    let laid_for = |issuer: &Issuer| {
        let qrs = issuer
            .shc(&input)
            .expect("card")
            .iter()
            .map(|s| qr::encode(s).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()
            .expect("qr");
        layout::lay_out(&input, Lang::En, &header, qrs)
    };

    let (mut card, mut krilla_full, mut printpdf_full) =
        (Series::new(), Series::new(), Series::new());
    let (mut krilla_render, mut printpdf_render) = (Series::new(), Series::new());
    let (mut qr_encode, mut lay_out) = (Series::new(), Series::new());
    let (mut krilla_size, mut printpdf_size, mut card_len) = (0, 0, 0);
    // Warm-up, untimed.
    for _ in 0..5 {
        let _ = issuer.pdf(&input, Lang::En, today);
        let _ = render_printpdf(&laid_for(&issuer));
    }
    for round in 0..rounds {
        let strings = time(&mut card, || issuer.shc(&input).expect("card"));
        card_len = strings.iter().map(String::len).sum();
        let qrs = time(&mut qr_encode, || {
            strings
                .iter()
                .map(|s| qr::encode(s).map(Arc::new))
                .collect::<Result<Vec<_>, _>>()
                .expect("qr")
        });
        time(&mut lay_out, || {
            layout::lay_out(&input, Lang::En, &header, qrs)
        });
        let mut krilla = || {
            let bytes = time(&mut krilla_full, || {
                issuer.pdf(&input, Lang::En, today).expect("pdf")
            });
            krilla_size = bytes.len();
            let laid = laid_for(&issuer);
            time(&mut krilla_render, || pdf::render(&laid).expect("pdf"));
            bytes
        };
        let mut printpdf = || {
            let bytes = time(&mut printpdf_full, || render_printpdf(&laid_for(&issuer)));
            printpdf_size = bytes.len();
            let laid = laid_for(&issuer);
            time(&mut printpdf_render, || render_printpdf(&laid));
            bytes
        };
        if std::env::var_os("ONLY_KRILLA").is_some() {
            krilla();
            continue;
        }
        let (k, p) = if round % 2 == 0 {
            let k = krilla();
            (k, printpdf())
        } else {
            let p = printpdf();
            (krilla(), p)
        };
        if round == 0 {
            if let Some(out) = std::env::var_os("OUT_DIR_PDF") {
                let out = std::path::Path::new(&out);
                std::fs::write(out.join("krilla.pdf"), &k).expect("write");
                std::fs::write(out.join("printpdf.pdf"), &p).expect("write");
            }
        }
    }
    println!(
        "{rounds} rounds, {doses} doses, {} page(s)",
        laid_for(&issuer).pages.len()
    );
    println!("| what | median | p90 | median CPU | p90 CPU | PDF size |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let row = |what: &str, s: &mut Series, size: Option<usize>| {
        if s.0.is_empty() {
            return;
        }
        println!(
            "| {what} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
            s.ms(0.5),
            s.ms(0.9),
            s.cpu_ms(0.5),
            s.cpu_ms(0.9),
            size.map(|b| format!("{:.1} KB", b as f64 / 1024.0))
                .unwrap_or_else(|| "–".into())
        );
    };
    row(
        "record, krilla (card + QR + layout + tagged PDF)",
        &mut krilla_full,
        Some(krilla_size),
    );
    row(
        "record, printpdf 0.7 (card + QR + layout + PDF)",
        &mut printpdf_full,
        Some(printpdf_size),
    );
    row("render only, krilla", &mut krilla_render, None);
    row("render only, printpdf 0.7", &mut printpdf_render, None);
    row(
        "SMART Health Card: bundle, DEFLATE, ES256, shc:/",
        &mut card,
        None,
    );
    row(
        "QR code(s) of the card (qrcodegen; mask scored on bits)",
        &mut qr_encode,
        None,
    );
    row("layout (line breaking, pagination)", &mut lay_out, None);
    println!("card: {card_len} characters of shc:/ text");
}
