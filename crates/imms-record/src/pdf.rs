//! The tagged renderer: the display list drawn with krilla, its structure written as the
//! PDF's tag tree, checked against PDF/UA-1 by krilla's validator on export.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU16;
use std::sync::OnceLock;

use krilla::color::rgb;
use krilla::configure::{Accessibility, ConfigurationBuilder};
use krilla::destination::XyzDestination;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, LineCap, Stroke};
use krilla::surface::Surface;
use krilla::tagging::{
    Artifact as KArtifact, ArtifactType, ContentTag, Identifier, SpanTag, TableHeaderScope, Tag,
    TagGroup, TagKind, TagTree,
};
use krilla::text::Font;
use krilla::{Document, SerializeSettings};

use crate::fonts;
use crate::layout::{Artifact, Kind, Laid, Node, Op, OpId, PAGE_H, PAGE_W};
use crate::{Lang, RecordError};

fn fill(gray: f32) -> Fill {
    let v = (gray.clamp(0.0, 1.0) * 255.0).round() as u8;
    Fill {
        paint: rgb::Color::new(v, v, v).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

fn artifact(a: Artifact) -> ContentTag<'static> {
    let kind = match a {
        Artifact::Pagination => ArtifactType::PaginationOther,
        Artifact::Footer => ArtifactType::Footer,
        Artifact::Layout => ArtifactType::Layout,
    };
    ContentTag::Artifact(KArtifact::with_kind(kind))
}

fn draw(surface: &mut Surface, op: &Op, regular: &Font, bold: &Font) -> Option<Identifier> {
    match op {
        Op::Text {
            x,
            y,
            size,
            bold: b,
            text,
            artifact: a,
        } => {
            let tag = match a {
                Some(a) => artifact(*a),
                None => ContentTag::Span(SpanTag::empty()),
            };
            let id = surface.start_tagged(tag);
            surface.set_fill(Some(fill(0.0)));
            let font = if *b { bold } else { regular };
            surface.draw_glyphs(
                Point::from_xy(*x, *y),
                &fonts::metrics(*b).glyphs(text),
                font.clone(),
                text,
                *size,
                false,
            );
            surface.end_tagged();
            a.is_none().then_some(id)
        }
        Op::Rect {
            x,
            y,
            w,
            h,
            gray,
            stroke,
        } => {
            let mut pb = PathBuilder::new();
            pb.push_rect(Rect::from_xywh(*x, *y, *w, *h)?);
            let path = pb.finish()?;
            surface.start_tagged(artifact(Artifact::Layout));
            if *stroke {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: rgb::Color::new(90, 90, 90).into(),
                    width: 0.75,
                    ..Default::default()
                }));
            } else {
                surface.set_stroke(None);
                surface.set_fill(Some(fill(*gray)));
            }
            surface.draw_path(&path);
            surface.set_stroke(None);
            surface.end_tagged();
            None
        }
        Op::Qr { x, y, side, matrix } => {
            // Dark modules merged into rectangles, each drawn as a horizontal line as thick as
            // the rectangle is tall (butt ends: exactly its area). Two points a rectangle
            // instead of a closed outline's four halve the content stream, whose DEFLATE was
            // most of the QR code's cost. Module units (small integers keep it short), one path
            // per thickness, with a quiet zone of four modules inside `side`.
            let module = side / (matrix.size as f32 + 8.0);
            let mut by_height: BTreeMap<usize, PathBuilder> = BTreeMap::new();
            for (mx, my, w, h) in crate::qr::rectangles(matrix) {
                let pb = by_height.entry(h).or_default();
                pb.move_to(mx as f32, my as f32);
                pb.line_to((mx + w) as f32, my as f32);
            }
            let id = surface.start_tagged(ContentTag::Other);
            surface.set_fill(None);
            for (h, pb) in by_height {
                let Some(path) = pb.finish() else { continue };
                let h = h as f32;
                // Lines through the middle of their rectangles: shifted down half a thickness.
                surface.push_transform(&Transform::from_row(
                    module,
                    0.0,
                    0.0,
                    module,
                    x + 4.0 * module,
                    y + (4.0 + h / 2.0) * module,
                ));
                surface.set_stroke(Some(Stroke {
                    paint: rgb::Color::black().into(),
                    width: h,
                    line_cap: LineCap::Butt,
                    ..Default::default()
                }));
                surface.draw_path(&path);
                surface.pop();
            }
            surface.set_stroke(None);
            surface.end_tagged();
            Some(id)
        }
    }
}

fn group(
    kind: &Kind,
    children: &[Node],
    ids: &mut HashMap<(usize, usize), Identifier>,
) -> Option<TagGroup> {
    let tag: TagKind = match kind {
        Kind::Heading(level, title) => Tag::Hn(
            NonZeroU16::new(*level).unwrap_or(NonZeroU16::MIN),
            Some(title.clone()),
        )
        .into(),
        Kind::P => Tag::P.into(),
        Kind::Table => Tag::Table.into(),
        Kind::THead => Tag::THead.into(),
        Kind::TBody => Tag::TBody.into(),
        Kind::Tr => Tag::TR.into(),
        Kind::Th => Tag::TH(TableHeaderScope::Column).into(),
        Kind::Td => Tag::TD.into(),
        Kind::Figure(alt) => Tag::Figure(Some(alt.clone())).into(),
        Kind::Caption => Tag::Caption.into(),
        Kind::Section => Tag::Section.into(),
    };
    let mut g = TagGroup::new(tag);
    for child in children {
        match child {
            Node::Leaf(OpId { page, index }) => {
                if let Some(id) = ids.remove(&(*page, *index)) {
                    g.push(id);
                }
            }
            Node::Group(k, c) => {
                if let Some(sub) = group(k, c, ids) {
                    g.push(sub);
                }
            }
        }
    }
    // Table cells stay even when empty, so columns line up for assistive technology.
    let keep_empty = matches!(kind, Kind::Td | Kind::Th);
    (keep_empty || !g.children.is_empty()).then_some(g)
}

fn headings(nodes: &[Node], out: &mut Vec<(u16, String, OpId)>) {
    for node in nodes {
        if let Node::Group(kind, children) = node {
            if let Kind::Heading(level, title) = kind {
                if let Some(Node::Leaf(id)) = children.first() {
                    out.push((*level, title.clone(), *id));
                }
            }
            headings(children, out);
        }
    }
}

/// Bookmarks from the headings (PDF/UA asks for them): sections under the title, vaccine
/// groups under their section.
fn outline(laid: &Laid) -> Outline {
    let mut list = Vec::new();
    headings(&laid.structure, &mut list);
    let mut outline = Outline::new();
    let mut sections: Vec<OutlineNode> = Vec::new();
    let mut top: Option<OutlineNode> = None;
    for (level, title, id) in list {
        let y = match laid.pages[id.page][id.index] {
            Op::Text { y, size, .. } => (y - size * 1.2).max(0.0),
            _ => 0.0,
        };
        let node = OutlineNode::new(title, XyzDestination::new(id.page, Point::from_xy(0.0, y)));
        match level {
            1 => top = Some(node),
            2 => sections.push(node),
            _ => match sections.last_mut() {
                Some(parent) => parent.push_child(node),
                None => sections.push(node),
            },
        }
    }
    match top {
        Some(mut t) => {
            for s in sections {
                t.push_child(s);
            }
            outline.push_child(t.with_open(true));
        }
        None => sections.into_iter().for_each(|s| outline.push_child(s)),
    }
    outline
}

/// One of the two embedded fonts as krilla draws it, read once per process (krilla parses its
/// tables when it is made) and shared by every record after.
fn font(bold: bool) -> Result<Font, RecordError> {
    static REGULAR: OnceLock<Option<Font>> = OnceLock::new();
    static BOLD: OnceLock<Option<Font>> = OnceLock::new();
    let (cell, data) = if bold {
        (&BOLD, fonts::BOLD)
    } else {
        (&REGULAR, fonts::REGULAR)
    };
    cell.get_or_init(|| Font::new(data.into(), 0))
        .clone()
        .ok_or_else(|| RecordError::Pdf(format!("the embedded font (bold: {bold}) does not load")))
}

pub fn render(laid: &Laid) -> Result<Vec<u8>, RecordError> {
    let configuration = ConfigurationBuilder::new()
        .with_accessibility_validator(Accessibility::UA1)
        .finish()
        .map_err(|e| RecordError::Pdf(format!("{e:?}")))?;
    let settings = SerializeSettings {
        configuration,
        enable_tagging: true,
        ..Default::default()
    };
    let regular = font(false)?;
    let bold = font(true)?;
    let mut doc = Document::new_with(settings);
    let mut ids = HashMap::new();
    for (p, ops) in laid.pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| RecordError::Pdf("page size".into()))?;
        let mut page = doc.start_page_with(settings);
        let mut surface = page.surface();
        for (i, op) in ops.iter().enumerate() {
            if let Some(id) = draw(&mut surface, op, &regular, &bold) {
                ids.insert((p, i), id);
            }
        }
        surface.finish();
        page.finish();
    }
    let lang = match laid.lang {
        Lang::En => "en-US",
        Lang::Es => "es-US",
    };
    let mut tree = TagTree::new().with_lang(Some(lang.to_string()));
    for node in &laid.structure {
        match node {
            Node::Group(k, c) => {
                if let Some(g) = group(k, c, &mut ids) {
                    tree.push(g);
                }
            }
            Node::Leaf(OpId { page, index }) => {
                if let Some(id) = ids.remove(&(*page, *index)) {
                    tree.push(id);
                }
            }
        }
    }
    if !ids.is_empty() {
        return Err(RecordError::Pdf(format!(
            "{} pieces of content outside the structure",
            ids.len()
        )));
    }
    doc.set_tag_tree(tree);
    doc.set_outline(outline(laid));
    doc.set_metadata(
        Metadata::new()
            .title(laid.title.clone())
            .language(lang.to_string())
            .creator("imms".to_string()),
    );
    doc.finish().map_err(|e| RecordError::Pdf(format!("{e:?}")))
}
