//! The record PDF as its readers get it: the text pdftotext extracts (persons of several
//! shapes, both languages), what pdfinfo and pdffonts report about tagging and fonts.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use imms_record::layout::{self, Op};
use imms_record::{pdf, qr, Issuer, Lang, RecordInput};

struct Made {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn issuer(dir: &std::path::Path) -> Issuer {
    Issuer::load_or_create(
        dir,
        "State Department of Health",
        "https://imms.example.gov/",
    )
    .expect("issuer")
}

fn make(input: &RecordInput, lang: Lang) -> Made {
    let dir = tempfile::tempdir().expect("temp dir");
    let pdf = issuer(dir.path())
        .pdf(input, lang, date("2026-11-25"))
        .expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let path = dir.path().join("record.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    Made { _dir: dir, path }
}

fn pages(info: &str) -> usize {
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Pages line")
}

/// Collapses runs of spaces so layout columns compare as words.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_person_with_no_doses_gets_a_record_that_says_so() {
    let made = make(&person(&["Ana"], "Torres"), Lang::En);
    let text = squeeze(&pdftotext(&made.path));
    for want in [
        "State Department of Health",
        "Official Immunization Record",
        "Name: Ana Torres",
        "Date of birth: Jul 14, 1988",
        "Date of issue: Nov 25, 2026",
        "Record ID: 1042",
        "How to read this record",
        "No vaccine doses have been reported to the registry for this person.",
        "local health department",
        "another state",
        "https://imms.example.gov/guide",
        "Page 1 of 1",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(!text.contains("Vaccines declined"));
}

#[test]
fn one_dose_shows_every_column() {
    let made = make(&one_dose(), Lang::En);
    let text = squeeze(&pdftotext(&made.path));
    for want in [
        "Diphtheria, tetanus, whooping cough (DTaP)",
        "Vaccine Date Dose Manufacturer Lot Reported by Type",
        "Tdap (CVX 115) Mar 5, 2023 1 Sanofi Pasteur TD9921 Riverside Family Clinic Given",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn sixty_doses_span_pages_with_headers_repeated_and_numbered() {
    let made = make(&many_doses(60), Lang::En);
    let info = tool("pdfinfo", &[&made.path.display().to_string()]);
    let n = pages(&info);
    assert!(n >= 2, "60 doses on {n} page(s)");
    let text = pdftotext(&made.path);
    let per_page: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(per_page.len(), n);
    for (i, page) in per_page.iter().enumerate() {
        let page = squeeze(page);
        assert!(
            page.contains(&format!("Page {} of {n}", i + 1)),
            "page {}: {page}",
            i + 1
        );
        if i > 0 {
            assert!(
                page.contains("Vaccine Date Dose Manufacturer Lot Reported by Type"),
                "no table header on page {}: {page}",
                i + 1
            );
        }
    }
    let all = squeeze(&text);
    // Every dose is there, once: 60 distinct lots.
    for i in 0..60 {
        let lot = format!("L{:05}", 31 * i + 7);
        assert_eq!(all.matches(&lot).count(), 1, "lot {lot}");
    }
    for group in [
        "Influenza (flu)",
        "Hepatitis B",
        "Measles, mumps, rubella (MMR)",
        "COVID-19",
    ] {
        assert!(all.contains(group), "{group}");
    }
    assert!(all.contains("History"));
}

#[test]
fn refusals_and_immunity_have_their_own_sections_and_are_not_doses() {
    let made = make(&with_refusal_and_immunity(), Lang::En);
    let text = squeeze(&pdftotext(&made.path));
    let declined = text.find("Vaccines declined").expect("refusals section");
    let immunity = text.find("Evidence of immunity").expect("immunity section");
    let doses = text.find("Vaccines given").expect("doses section");
    assert!(doses < declined && declined < immunity);
    assert!(text.contains(
        "Human papillomavirus (HPV): HPV, quadrivalent (CVX 62) Oct 2, 2019 Lakeside Pediatrics"
    ));
    assert!(text.contains("History of varicella infection Apr 20, 1995 Lakeside Pediatrics"));
    // Only the one Tdap dose is in the dose tables.
    let dose_part = &text[doses..declined];
    assert!(!dose_part.contains("HPV"));
}

#[test]
fn accented_and_very_long_names_print_whole() {
    let mut p = person(&["José", "María"], "Núñez-Ibáñez");
    p.name.suffix = Some("Jr.".into());
    let made = make(&p, Lang::Es);
    let text = squeeze(&pdftotext(&made.path));
    assert!(
        text.contains("Nombre: José María Núñez-Ibáñez Jr."),
        "{text}"
    );
    assert!(text.contains("Registro Oficial de Vacunación"));
    assert!(text.contains("Fecha de nacimiento: 14 jul 1988"));
    assert!(text.contains("Cómo leer este registro"));
    assert!(text.contains("Página 1 de 1"));

    let long_given = [
        "Maximiliana",
        "Guadalupe",
        "Esperanza",
        "Concepción",
        "Inmaculada",
    ];
    let long = person(
        &long_given,
        "Fernández de Córdoba y Villalobos-Santisteban Ruiz-Gallardón",
    );
    let made = make(&long, Lang::En);
    let raw = squeeze(&pdftotext_raw(&made.path));
    for part in long_given.iter().chain(
        [
            "Fernández",
            "Córdoba",
            "Villalobos-Santisteban",
            "Ruiz-Gallardón",
        ]
        .iter(),
    ) {
        assert!(raw.contains(part), "{part} missing: {raw}");
    }
}

#[test]
fn spanish_record_has_spanish_tables() {
    let made = make(&with_refusal_and_immunity(), Lang::Es);
    let text = squeeze(&pdftotext(&made.path));
    for want in [
        "Vacunas puestas",
        "Difteria, tétanos, tos ferina (DTaP)",
        "Vacuna Fecha Dosis Fabricante Lote Informada por Tipo",
        "5 mar 2023",
        "Puesta",
        "Vacunas rechazadas",
        "Prueba de inmunidad",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn pdf_is_tagged_with_title_language_and_embedded_fonts() {
    for (lang, code, title) in [
        (
            Lang::En,
            "en-US",
            "Official Immunization Record – Jordan Lee Whitaker",
        ),
        (
            Lang::Es,
            "es-US",
            "Registro Oficial de Vacunación – Jordan Lee Whitaker",
        ),
    ] {
        let made = make(&many_doses(20), lang);
        let file = made.path.display().to_string();
        let info = tool("pdfinfo", &[&file]);
        assert!(
            info.lines()
                .any(|l| l.starts_with("Tagged:") && l.ends_with("yes")),
            "{info}"
        );
        assert!(
            info.lines()
                .any(|l| l.starts_with("Title:") && l.contains(title)),
            "{info}"
        );
        assert!(
            info.lines()
                .any(|l| l.starts_with("Page size:") && l.contains("612 x 792")),
            "{info}"
        );
        let raw = std::fs::read(&made.path).expect("read");
        let raw = String::from_utf8_lossy(&raw);
        assert!(
            raw.contains(&format!("/Lang({code})"))
                && raw.contains(&format!("<rdf:li>{code}</rdf:li>")),
            "no document language {code}"
        );
        assert!(raw.contains("pdfuaid:part"), "no PDF/UA identification");
        let fonts = tool("pdffonts", &[&file]);
        let rows: Vec<&str> = fonts
            .lines()
            .skip(2)
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(!rows.is_empty(), "{fonts}");
        for row in rows {
            // Columns: name type encoding emb sub uni object ID.
            let cols: Vec<&str> = row.split_whitespace().collect();
            let emb = cols[cols.len() - 5];
            assert_eq!(emb, "yes", "font not embedded: {row}");
            assert!(row.contains("DejaVuSansCondensed"), "{row}");
        }
        let structure = tool("pdfinfo", &["-struct", &file]);
        for tag in ["Table", "TH", "TD", "H1", "Figure", "Caption"] {
            assert!(
                structure.contains(tag),
                "no {tag} in the structure tree:\n{structure}"
            );
        }
    }
}

/// The QR code as printed is its matrix, module for module: the code's square rasterised at
/// 600 dpi (about 8 pixels a module), each module's centre dark exactly where the matrix is,
/// and the four-module quiet zone light. Stricter than a decoder, whose error correction
/// would hide a few wrong modules.
#[test]
fn the_printed_qr_code_is_its_matrix_module_for_module() {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer = issuer(dir.path());
    let input = many_doses(20);
    let card = issuer.shc(&input).expect("card");
    assert_eq!(card.len(), 1, "one QR code for 20 doses");
    let matrix = Arc::new(qr::encode(&card[0]).expect("qr"));
    let guide_url = issuer.guide_url();
    let header = layout::Header {
        authority: issuer.name(),
        issued_on: date("2026-11-25"),
        guide_url: &guide_url,
    };
    let laid = layout::lay_out(&input, Lang::En, &header, vec![matrix.clone()]);
    let (x, y, side) = laid.pages[0]
        .iter()
        .find_map(|op| match op {
            Op::Qr { x, y, side, .. } => Some((*x, *y, *side)),
            _ => None,
        })
        .expect("a QR code on page 1");
    let path = dir.path().join("record.pdf");
    std::fs::write(&path, pdf::render(&laid).expect("pdf")).expect("write pdf");

    let px = |pt: f32| pt * 600.0 / 72.0;
    let (left, top, width) = (px(x) as usize, px(y) as usize, px(side) as usize + 2);
    let prefix = dir.path().join("qr");
    tool(
        "pdftoppm",
        &[
            "-r",
            "600",
            "-gray",
            "-singlefile",
            "-x",
            &left.to_string(),
            "-y",
            &top.to_string(),
            "-W",
            &width.to_string(),
            "-H",
            &width.to_string(),
            &path.display().to_string(),
            &prefix.display().to_string(),
        ],
    );
    let pgm = std::fs::read(prefix.with_extension("pgm")).expect("pdftoppm's image");
    let header: Vec<&[u8]> = pgm.splitn(5, |b| b.is_ascii_whitespace()).collect();
    assert_eq!(header[0], b"P5", "a binary PGM");
    let number = |b: &[u8]| -> usize {
        std::str::from_utf8(b)
            .expect("ascii")
            .parse()
            .expect("number")
    };
    let (w, h) = (number(header[1]), number(header[2]));
    let pixels = header[4];
    assert_eq!(pixels.len(), w * h);

    let module = side / (matrix.size as f32 + 8.0);
    let dark_at = |mx: i32, my: i32| {
        let cx = px(x + (4.0 + mx as f32 + 0.5) * module) as usize - left;
        let cy = px(y + (4.0 + my as f32 + 0.5) * module) as usize - top;
        pixels[cy * w + cx] < 128
    };
    let size = matrix.size as i32;
    for my in -4..size + 4 {
        for mx in -4..size + 4 {
            let inside = (0..size).contains(&mx) && (0..size).contains(&my);
            let expected = inside && matrix.is_dark(mx as usize, my as usize);
            assert_eq!(dark_at(mx, my), expected, "module ({mx}, {my})");
        }
    }
}
