//! The tagged renderer: the display list drawn with krilla, its structure written as the
//! PDF's tag tree, checked against PDF/UA-1 by krilla's validator on export.

use std::collections::HashMap;
use std::num::NonZeroU16;
use std::sync::{Arc, OnceLock};

use krilla::color::rgb;
use krilla::configure::{Accessibility, ConfigurationBuilder};
use krilla::destination::XyzDestination;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::{BitsPerComponent, CustomImage, Image, ImageColorspace};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::tagging::{
    Artifact as KArtifact, ArtifactType, ContentTag, Identifier, SpanTag, TableHeaderScope, Tag,
    TagGroup, TagKind, TagTree,
};
use krilla::text::Font;
use krilla::{Document, SerializeSettings};

use crate::fonts;
use crate::layout::{Artifact, Kind, Laid, Node, Op, OpId, PAGE_H, PAGE_W};
use crate::qr::QrMatrix;
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
            // The modules as a grey picture, scaled to the code's size inside a quiet zone of
            // four modules. As vector strokes the code was a 40 KB content stream whose DEFLATE
            // was most of the render time; the picture's long runs compress at once.
            let module = side / (matrix.size as f32 + 8.0);
            let image = Image::from_custom(QrImage::of(matrix), false).ok()?;
            let drawn = module * matrix.size as f32;
            let id = surface.start_tagged(ContentTag::Other);
            surface.push_transform(&Transform::from_translate(
                x + 4.0 * module,
                y + 4.0 * module,
            ));
            surface.draw_image(image, Size::from_wh(drawn, drawn)?);
            surface.pop();
            surface.end_tagged();
            Some(id)
        }
    }
}

/// Pixels a module in the QR picture. A viewer that shows a picture enlarged less than four
/// times smooths it (poppler does), which blurred one-pixel modules past what a scanner reads
/// at 200 dpi; at four pixels a module, screens and 200 dpi prints shrink it instead (sharp
/// edges, like the strokes were), and larger prints enlarge it so little that edges stay sharp.
const QR_PIXELS_PER_MODULE: usize = 2;

/// A QR matrix as an 8-bit grey image for krilla: black for dark modules, white otherwise.
#[derive(Clone, Hash)]
struct QrImage {
    side: u32,
    pixels: Arc<Vec<u8>>,
}

impl QrImage {
    fn of(matrix: &QrMatrix) -> QrImage {
        let k = QR_PIXELS_PER_MODULE;
        let side = matrix.size * k;
        let mut pixels = Vec::with_capacity(side * side);
        for row in matrix.dark.chunks(matrix.size.max(1)) {
            let start = pixels.len();
            for &dark in row {
                pixels.extend_from_slice(&[if dark { 0 } else { 255 }; QR_PIXELS_PER_MODULE]);
            }
            for _ in 1..k {
                pixels.extend_from_within(start..start + side);
            }
        }
        QrImage {
            side: side as u32,
            pixels: Arc::new(pixels),
        }
    }
}

impl CustomImage for QrImage {
    fn color_channel(&self) -> &[u8] {
        &self.pixels
    }

    fn alpha_channel(&self) -> Option<&[u8]> {
        None
    }

    fn bits_per_component(&self) -> BitsPerComponent {
        BitsPerComponent::Eight
    }

    fn size(&self) -> (u32, u32) {
        (self.side, self.side)
    }

    fn icc_profile(&self) -> Option<&[u8]> {
        None
    }

    fn color_space(&self) -> ImageColorspace {
        ImageColorspace::Luma
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
