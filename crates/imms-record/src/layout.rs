//! Lays the record out on US Letter pages as a display list (text runs, rules, QR codes)
//! plus its logical structure (headings, paragraphs, tables, the QR figure) in reading order.
//! Renderers draw the list; the tagged one turns the structure into the PDF's tag tree.

use std::sync::Arc;

use crate::fonts::metrics;
use crate::input::{Dose, DoseSource, RecordInput};
use crate::qr::QrMatrix;
use crate::text::{self, Words};
use crate::Lang;

pub const PAGE_W: f32 = 612.0;
pub const PAGE_H: f32 = 792.0;
pub const MARGIN: f32 = 42.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Content stops here; the footer lives below.
const BOTTOM: f32 = PAGE_H - MARGIN - 22.0;
/// 40 mm, the size the SMART Health Cards spec sizes version-22 codes for.
pub const QR_SIDE: f32 = 40.0 / 25.4 * 72.0;

const BODY: f32 = 9.5;
const SMALL: f32 = 8.5;
const CELL_PAD: f32 = 3.0;

/// Why a piece of the page is not part of the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    /// Repeated table headers, "(continued)" lines.
    Pagination,
    /// Footer with page numbers.
    Footer,
    /// Rules and shading.
    Layout,
}

#[derive(Clone)]
pub enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
        artifact: Option<Artifact>,
    },
    /// A filled (gray level 0..1) or stroked rectangle; always a layout artifact.
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: f32,
        stroke: bool,
    },
    Qr {
        x: f32,
        y: f32,
        side: f32,
        matrix: Arc<QrMatrix>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpId {
    pub page: usize,
    pub index: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Heading(u16, String),
    P,
    Table,
    THead,
    TBody,
    Tr,
    Th,
    Td,
    Figure(String),
    Caption,
    Section,
}

#[derive(Debug, Clone)]
pub enum Node {
    Group(Kind, Vec<Node>),
    Leaf(OpId),
}

pub struct Laid {
    pub pages: Vec<Vec<Op>>,
    pub structure: Vec<Node>,
    pub title: String,
    pub lang: Lang,
}

/// The text a font can draw: characters outside DejaVu's coverage become "?" (a PDF/UA file
/// may not show a glyph it cannot name).
fn drawable(s: &str) -> String {
    let m = metrics(false);
    s.chars()
        .map(|c| if c == ' ' || m.covers(c) { c } else { '?' })
        .collect()
}

/// Greedy line breaking at spaces; a word wider than the line is cut where it must be.
pub fn wrap(text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
    let m = metrics(bold);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if m.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if m.width(word, size) <= width {
            line = word.to_string();
        } else {
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if m.width(&next, size) > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = next;
                }
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

struct Writer {
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Writer {
    fn push(&mut self, op: Op) -> OpId {
        let page = self.pages.len() - 1;
        let ops = &mut self.pages[page];
        ops.push(op);
        OpId {
            page,
            index: ops.len() - 1,
        }
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    fn fits(&self, height: f32) -> bool {
        self.y + height <= BOTTOM
    }

    fn text(
        &mut self,
        x: f32,
        baseline: f32,
        size: f32,
        bold: bool,
        text: &str,
        artifact: Option<Artifact>,
    ) -> OpId {
        self.push(Op::Text {
            x,
            y: baseline,
            size,
            bold,
            text: text.to_string(),
            artifact,
        })
    }

    /// Wrapped lines at the cursor, breaking pages between lines; returns the leaves.
    fn lines(&mut self, x: f32, width: f32, size: f32, bold: bool, text: &str) -> Vec<Node> {
        let leading = size * 1.3;
        wrap(&drawable(text), width, size, bold)
            .into_iter()
            .map(|line| {
                if !self.fits(leading) {
                    self.new_page();
                }
                self.y += leading;
                Node::Leaf(self.text(x, self.y - size * 0.28, size, bold, &line, None))
            })
            .collect()
    }

    fn paragraph(&mut self, text: &str, size: f32, bold: bool) -> Node {
        let leaves = self.lines(MARGIN, CONTENT_W, size, bold, text);
        self.y += size * 0.5;
        Node::Group(Kind::P, leaves)
    }

    fn heading(&mut self, level: u16, text: &str, size: f32) -> Node {
        // Keep a heading with at least a few lines of what follows.
        if !self.fits(size * 1.6 + 48.0) {
            self.new_page();
        }
        self.y += size * 0.4;
        let leaves = self.lines(MARGIN, CONTENT_W, size, true, text);
        self.y += size * 0.3;
        Node::Group(Kind::Heading(level, text.to_string()), leaves)
    }
}

/// A table: a heading shown again as "(continued)" and the header row repeated (both as
/// pagination artifacts) on every page it spans.
struct Table<'a> {
    heading: Option<(u16, String)>,
    columns: &'a [(&'a str, f32)],
    rows: Vec<Vec<String>>,
    continued: &'a str,
}

fn header_row(w: &mut Writer, t: &Table, artifact: bool) -> Vec<Node> {
    let widths: Vec<f32> = t.columns.iter().map(|c| c.1).collect();
    let cells: Vec<Vec<String>> = t
        .columns
        .iter()
        .zip(&widths)
        .map(|((h, _), cw)| wrap(h, cw - 2.0 * CELL_PAD, SMALL, true))
        .collect();
    let lines = cells.iter().map(Vec::len).max().unwrap_or(1) as f32;
    let height = lines * SMALL * 1.25 + 2.0 * CELL_PAD;
    w.push(Op::Rect {
        x: MARGIN,
        y: w.y,
        w: CONTENT_W,
        h: height,
        gray: 0.9,
        stroke: false,
    });
    let mut x = MARGIN;
    let mut nodes = Vec::new();
    for (cell, cw) in cells.iter().zip(&widths) {
        let mut leaves = Vec::new();
        for (i, line) in cell.iter().enumerate() {
            let baseline = w.y + CELL_PAD + (i as f32 + 1.0) * SMALL * 1.25 - SMALL * 0.28;
            let art = artifact.then_some(Artifact::Pagination);
            leaves.push(Node::Leaf(w.text(
                x + CELL_PAD,
                baseline,
                SMALL,
                true,
                line,
                art,
            )));
        }
        nodes.push(Node::Group(Kind::Th, leaves));
        x += cw;
    }
    w.y += height;
    nodes
}

fn table(w: &mut Writer, t: Table) -> Vec<Node> {
    let mut out = Vec::new();
    let widths: Vec<f32> = t.columns.iter().map(|c| c.1).collect();
    let wrapped: Vec<Vec<Vec<String>>> = t
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(&widths)
                .map(|(cell, cw)| wrap(&drawable(cell), cw - 2.0 * CELL_PAD, SMALL, false))
                .collect()
        })
        .collect();
    let row_height = |cells: &Vec<Vec<String>>| {
        cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * SMALL * 1.25 + 2.0 * CELL_PAD
    };
    let first = wrapped.first().map(row_height).unwrap_or(0.0);
    if let Some((level, text)) = &t.heading {
        // The heading, the header row and the first row stay together.
        if !w.fits(BODY * 2.0 + 30.0 + first) {
            w.new_page();
        }
        out.push(w.heading(*level, text, if *level == 2 { 13.0 } else { 10.5 }));
    } else if !w.fits(30.0 + first) {
        w.new_page();
    }
    let head = header_row(w, &t, false);
    let mut body = Vec::new();
    for cells in &wrapped {
        let h = row_height(cells);
        if !w.fits(h) {
            w.new_page();
            if let Some((_, text)) = &t.heading {
                w.y += SMALL * 1.4;
                let label = format!("{text} ({})", t.continued);
                w.text(
                    MARGIN,
                    w.y - 2.0,
                    SMALL,
                    true,
                    &drawable(&label),
                    Some(Artifact::Pagination),
                );
                w.y += 3.0;
            }
            header_row(w, &t, true);
        }
        let mut x = MARGIN;
        let mut tds = Vec::new();
        for (cell, cw) in cells.iter().zip(&widths) {
            let mut leaves = Vec::new();
            for (i, line) in cell.iter().enumerate() {
                if line.is_empty() {
                    continue;
                }
                let baseline = w.y + CELL_PAD + (i as f32 + 1.0) * SMALL * 1.25 - SMALL * 0.28;
                leaves.push(Node::Leaf(w.text(
                    x + CELL_PAD,
                    baseline,
                    SMALL,
                    false,
                    line,
                    None,
                )));
            }
            tds.push(Node::Group(Kind::Td, leaves));
            x += cw;
        }
        w.y += h;
        w.push(Op::Rect {
            x: MARGIN,
            y: w.y - 0.25,
            w: CONTENT_W,
            h: 0.5,
            gray: 0.75,
            stroke: false,
        });
        body.push(Node::Group(Kind::Tr, tds));
    }
    w.y += BODY;
    out.push(Node::Group(
        Kind::Table,
        vec![
            Node::Group(Kind::THead, vec![Node::Group(Kind::Tr, head)]),
            Node::Group(Kind::TBody, body),
        ],
    ));
    out
}

fn or_dash(words: &Words, s: Option<&str>) -> String {
    match s.map(str::trim) {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => words.not_reported.to_string(),
    }
}

/// Doses grouped by vaccine group (groups in order of their first dose), each in date order.
fn grouped(doses: &[Dose]) -> Vec<(String, Vec<&Dose>)> {
    let mut sorted: Vec<&Dose> = doses.iter().collect();
    sorted.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.cvx.cmp(&b.cvx)));
    let mut groups: Vec<(String, Vec<&Dose>)> = Vec::new();
    for d in sorted {
        let names: Vec<&str> = if d.groups.is_empty() {
            vec![""]
        } else {
            d.groups.iter().map(String::as_str).collect()
        };
        for name in names {
            match groups.iter_mut().find(|(g, _)| g == name) {
                Some((_, list)) => list.push(d),
                None => groups.push((name.to_string(), vec![d])),
            }
        }
    }
    groups
}

pub struct Header<'a> {
    pub authority: &'a str,
    pub issued_on: chrono::NaiveDate,
    pub guide_url: &'a str,
}

/// The whole record laid out; `qrs` are the SMART Health Card's QR codes (one per chunk).
pub fn lay_out(input: &RecordInput, lang: Lang, header: &Header, qrs: Vec<Arc<QrMatrix>>) -> Laid {
    let words = text::words(lang);
    let mut w = Writer {
        pages: Vec::new(),
        y: MARGIN,
    };
    w.new_page();
    let mut root = Vec::new();
    let name = input.name.display();
    let single_qr = qrs.len() == 1;
    let side_w = if single_qr {
        CONTENT_W - QR_SIDE - 18.0
    } else {
        CONTENT_W
    };

    // Header block, beside the QR code when there is one.
    let top = w.y;
    let authority = w.lines(MARGIN, side_w, 11.0, true, header.authority);
    root.push(Node::Group(Kind::P, authority));
    w.y += 4.0;
    let title = w.lines(MARGIN, side_w, 18.0, true, words.title);
    root.push(Node::Group(
        Kind::Heading(1, words.title.to_string()),
        title,
    ));
    w.y += 6.0;
    let facts = [
        (words.name, name.clone()),
        (words.birth_date, text::date(lang, input.birth_date)),
        (words.issued_on, text::date(lang, header.issued_on)),
        (words.record_id, input.record_id.clone()),
    ];
    let label_w = facts
        .iter()
        .map(|(l, _)| metrics(true).width(&format!("{l}:"), BODY + 1.0))
        .fold(0.0, f32::max)
        + 8.0;
    for (label, value) in facts {
        let start = w.y;
        let mut leaves = vec![];
        w.y += (BODY + 1.0) * 1.3;
        leaves.push(Node::Leaf(w.text(
            MARGIN,
            w.y - 3.0,
            BODY + 1.0,
            true,
            &format!("{label}:"),
            None,
        )));
        w.y = start;
        leaves.extend(w.lines(
            MARGIN + label_w,
            side_w - label_w,
            BODY + 1.0,
            false,
            &value,
        ));
        root.push(Node::Group(Kind::P, leaves));
    }
    if single_qr {
        let x = PAGE_W - MARGIN - QR_SIDE;
        let id = w.push(Op::Qr {
            x,
            y: top,
            side: QR_SIDE,
            matrix: qrs[0].clone(),
        });
        let mut caption = Vec::new();
        let mut cy = top + QR_SIDE + 4.0;
        for line in wrap(words.qr_caption, QR_SIDE + 10.0, 7.0, false) {
            cy += 8.5;
            caption.push(Node::Leaf(w.text(
                x - 5.0,
                cy - 2.0,
                7.0,
                false,
                &line,
                None,
            )));
        }
        root.push(Node::Group(
            Kind::Figure(words.qr_alt.to_string()),
            vec![Node::Leaf(id)],
        ));
        root.push(Node::Group(Kind::Caption, caption));
        w.y = w.y.max(cy + 6.0);
    } else if !qrs.is_empty() {
        w.y += 10.0;
        let count = qrs.len();
        let per_row = ((CONTENT_W + 16.0) / (QR_SIDE + 16.0)).floor().max(1.0) as usize;
        for (i, matrix) in qrs.into_iter().enumerate() {
            let col = i % per_row;
            if col == 0 && i > 0 {
                w.y += QR_SIDE + 22.0;
            }
            if !w.fits(QR_SIDE + 20.0) {
                w.new_page();
            }
            let x = MARGIN + col as f32 * (QR_SIDE + 16.0);
            let alt = format!(
                "{} ({} {} {} {})",
                words.qr_alt,
                words.qr_part,
                i + 1,
                words.of,
                count
            );
            let id = w.push(Op::Qr {
                x,
                y: w.y,
                side: QR_SIDE,
                matrix,
            });
            root.push(Node::Group(Kind::Figure(alt), vec![Node::Leaf(id)]));
            let label = format!("{} {} {} {}", words.qr_part, i + 1, words.of, count);
            let leaf = w.text(x, w.y + QR_SIDE + 11.0, 7.5, false, &label, None);
            root.push(Node::Group(Kind::Caption, vec![Node::Leaf(leaf)]));
        }
        w.y += QR_SIDE + 18.0;
        let caption = w.lines(MARGIN, CONTENT_W, 7.5, false, words.qr_caption);
        root.push(Node::Group(Kind::P, caption));
        w.y += 6.0;
    }

    // How to read this record, in a ruled box.
    w.y += 4.0;
    let box_top = w.y;
    let first_page = w.pages.len();
    let mut sect = vec![w.heading(2, words.how_to_read, 11.0)];
    sect.push(w.paragraph(words.how_to_read_body, SMALL, false));
    sect.push(w.paragraph(words.corrections, SMALL, false));
    sect.push(w.paragraph(words.other_states, SMALL, false));
    sect.push(w.paragraph(
        &format!("{} {}", words.guide, header.guide_url),
        SMALL,
        false,
    ));
    if w.pages.len() == first_page {
        w.push(Op::Rect {
            x: MARGIN - 6.0,
            y: box_top - 2.0,
            w: CONTENT_W + 12.0,
            h: w.y - box_top,
            gray: 0.4,
            stroke: true,
        });
    }
    root.push(Node::Group(Kind::Section, sect));
    w.y += 8.0;

    // Doses by vaccine group.
    let mut doses_sect = vec![w.heading(2, words.doses, 13.0)];
    if input.doses.is_empty() {
        doses_sect.push(w.paragraph(words.no_doses, BODY, false));
    }
    let dose_cols: [(&str, f32); 7] = [
        (words.col_vaccine, 140.0),
        (words.col_date, 62.0),
        (words.col_dose, 34.0),
        (words.col_manufacturer, 92.0),
        (words.col_lot, 58.0),
        (words.col_facility, 96.0),
        (words.col_type, 46.0),
    ];
    for (group, doses) in grouped(&input.doses) {
        let rows = doses
            .iter()
            .map(|d| {
                vec![
                    format!("{} (CVX {})", d.vaccine.trim(), d.cvx.trim()),
                    text::date(lang, d.date),
                    d.dose_number
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| words.not_reported.into()),
                    or_dash(words, d.manufacturer.as_deref().or(d.mvx.as_deref())),
                    or_dash(words, d.lot.as_deref()),
                    or_dash(words, Some(&d.facility)),
                    match d.source {
                        DoseSource::Administered => words.given.to_string(),
                        DoseSource::Historical => words.historical.to_string(),
                    },
                ]
            })
            .collect();
        let label = text::group_label(lang, &group);
        let nodes = table(
            &mut w,
            Table {
                heading: Some((3, label)),
                columns: &dose_cols,
                rows,
                continued: words.continued,
            },
        );
        doses_sect.push(Node::Group(Kind::Section, nodes));
    }
    root.push(Node::Group(Kind::Section, doses_sect));

    if !input.refusals.is_empty() {
        let mut refusals: Vec<_> = input.refusals.iter().collect();
        refusals.sort_by_key(|r| r.date);
        let mut sect = vec![
            w.heading(2, words.refusals, 13.0),
            w.paragraph(words.refusals_intro, SMALL, false),
        ];
        let cols: [(&str, f32); 3] = [
            (words.col_vaccine, 260.0),
            (words.col_date, 80.0),
            (words.col_facility, CONTENT_W - 340.0),
        ];
        let rows = refusals
            .iter()
            .map(|r| {
                let label = text::group_label(lang, &r.group);
                vec![
                    format!("{label}: {} (CVX {})", r.vaccine.trim(), r.cvx.trim()),
                    text::date(lang, r.date),
                    or_dash(words, Some(&r.facility)),
                ]
            })
            .collect();
        sect.extend(table(
            &mut w,
            Table {
                heading: None,
                columns: &cols,
                rows,
                continued: words.continued,
            },
        ));
        root.push(Node::Group(Kind::Section, sect));
    }
    if !input.immunities.is_empty() {
        let mut sect = vec![
            w.heading(2, words.immunity, 13.0),
            w.paragraph(words.immunity_intro, SMALL, false),
        ];
        let cols: [(&str, f32); 3] = [
            (words.col_immunity, 260.0),
            (words.col_date, 80.0),
            (words.col_facility, CONTENT_W - 340.0),
        ];
        let rows = input
            .immunities
            .iter()
            .map(|i| {
                vec![
                    i.description.clone(),
                    i.date
                        .map(|d| text::date(lang, d))
                        .unwrap_or_else(|| words.not_reported.into()),
                    or_dash(words, Some(&i.facility)),
                ]
            })
            .collect();
        sect.extend(table(
            &mut w,
            Table {
                heading: None,
                columns: &cols,
                rows,
                continued: words.continued,
            },
        ));
        root.push(Node::Group(Kind::Section, sect));
    }

    // Footers, now that the page count is known.
    let count = w.pages.len();
    let footer_left = drawable(&format!(
        "{} · {} · {}",
        words.title,
        name,
        text::date(lang, header.issued_on)
    ));
    let footer_left = wrap(&footer_left, CONTENT_W - 90.0, 7.5, false)
        .into_iter()
        .next()
        .unwrap_or_default();
    for (i, ops) in w.pages.iter_mut().enumerate() {
        let y = PAGE_H - MARGIN + 4.0;
        let number = format!("{} {} {} {}", words.page, i + 1, words.of, count);
        let nw = metrics(false).width(&number, 7.5);
        ops.push(Op::Rect {
            x: MARGIN,
            y: y - 12.0,
            w: CONTENT_W,
            h: 0.5,
            gray: 0.6,
            stroke: false,
        });
        ops.push(Op::Text {
            x: MARGIN,
            y,
            size: 7.5,
            bold: false,
            text: footer_left.clone(),
            artifact: Some(Artifact::Footer),
        });
        ops.push(Op::Text {
            x: PAGE_W - MARGIN - nw,
            y,
            size: 7.5,
            bold: false,
            text: number,
            artifact: Some(Artifact::Footer),
        });
    }
    Laid {
        pages: w.pages,
        structure: root,
        title: format!("{} – {}", words.title, name),
        lang,
    }
}
