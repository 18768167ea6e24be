//! Vector output: a plotters [`DrawingBackend`] that records what a chart
//! draws as paths, then writes it as SVG or PDF.
//!
//! Text is converted to glyph outlines from the embedded DejaVu Sans (as
//! matplotlib's default `svg.fonttype = "path"` does), so a figure looks the
//! same on every reader's machine, whatever fonts it has, and a PDF needs
//! no font embedding. Glyphs are placed exactly where the PNG backend puts
//! them (plotters' layout box, baseline at half the font size), so the
//! three formats of a chart agree.
//!
//! Both writers are small and dependency-free apart from `ab_glyph` (the
//! outlines) and `flate2` (the PDF's compressed content stream), which the
//! PNG path already builds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use ab_glyph::{Font, FontRef, OutlineCurve, ScaleFont};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle, FontTransform,
};

/// A point in pixels, y downwards (the PNG's coordinates).
type Point = (f64, f64);

/// One piece of a path.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Segment {
    Move(Point),
    Line(Point),
    Quad(Point, Point),
    Cubic(Point, Point, Point),
    Close,
}

/// `path` with every point mapped by `m`.
#[cfg(test)]
fn transformed<'a>(path: &'a [Segment], m: &Matrix) -> impl Iterator<Item = Segment> + 'a {
    let m = *m;
    path.iter().map(move |segment| match *segment {
        Segment::Move(p) => Segment::Move(apply(&m, p)),
        Segment::Line(p) => Segment::Line(apply(&m, p)),
        Segment::Quad(a, b) => Segment::Quad(apply(&m, a), apply(&m, b)),
        Segment::Cubic(a, b, c) => Segment::Cubic(apply(&m, a), apply(&m, b), apply(&m, c)),
        Segment::Close => Segment::Close,
    })
}

/// An sRGB colour with its opacity.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Paint {
    rgb: (u8, u8, u8),
    alpha: f64,
}

impl From<BackendColor> for Paint {
    fn from(color: BackendColor) -> Self {
        Self { rgb: color.rgb, alpha: color.alpha.clamp(0.0, 1.0) }
    }
}

/// A glyph of one of the embedded faces: (bold, glyph id).
type GlyphKey = (bool, u16);

/// An affine map `[a, b, c, d, e, f]`: `x' = a·x + c·y + e`,
/// `y' = b·x + d·y + f` (SVG's `matrix()` order).
type Matrix = [f64; 6];

#[cfg(test)]
fn apply(m: &Matrix, (x, y): Point) -> Point {
    (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
}

/// One drawn shape.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    /// A filled area (non-zero winding).
    Fill { path: Vec<Segment>, color: Paint },
    /// A stroked line.
    Stroke { path: Vec<Segment>, color: Paint, width: f64 },
    /// A line of text: glyph outlines (in [`Recording::glyphs`], font units)
    /// placed by a matrix each, filled.
    Text { glyphs: Vec<(GlyphKey, Matrix)>, color: Paint },
}

/// Everything a chart drew, in order, in pixels; written out by
/// [`Recording::to_svg`] and [`Recording::to_pdf`].
pub(crate) struct Recording {
    size: (u32, u32),
    items: Vec<Item>,
    /// Each glyph used, once, in font units (y up): an SVG defines it once
    /// and places it by reference, which keeps the file small.
    glyphs: std::collections::BTreeMap<GlyphKey, Vec<Segment>>,
}

/// The plotters backend that fills a [`Recording`].
pub(crate) struct Recorder<'a> {
    recording: &'a mut Recording,
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(recording: &'a mut Recording) -> Self {
        Self { recording }
    }
}

/// Never produced: recording cannot fail. Plotters needs an error type.
#[derive(Debug)]
pub(crate) struct NoError;

impl std::fmt::Display for NoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("vector recording failed")
    }
}

impl std::error::Error for NoError {}

type DrawResult = Result<(), DrawingErrorKind<NoError>>;

fn pt((x, y): BackendCoord) -> Point {
    (f64::from(x), f64::from(y))
}

fn visible(color: &BackendColor) -> bool {
    color.alpha > 0.0
}

impl Recording {
    pub(crate) fn new(size: (u32, u32)) -> Self {
        Self { size, items: Vec::new(), glyphs: std::collections::BTreeMap::new() }
    }
}

impl Recorder<'_> {
    fn stroke(&mut self, points: impl IntoIterator<Item = Point>, color: BackendColor, width: u32, close: bool) {
        let mut path: Vec<Segment> = Vec::new();
        for point in points {
            path.push(if path.is_empty() { Segment::Move(point) } else { Segment::Line(point) });
        }
        if path.len() < 2 || !visible(&color) {
            return;
        }
        if close {
            path.push(Segment::Close);
        }
        self.recording.items.push(Item::Stroke { path, color: color.into(), width: f64::from(width.max(1)) });
    }

    fn fill(&mut self, path: Vec<Segment>, color: BackendColor) {
        if path.len() > 1 && visible(&color) {
            self.recording.items.push(Item::Fill { path, color: color.into() });
        }
    }
}

/// A closed circle of four cubic arcs.
fn circle((cx, cy): Point, r: f64) -> Vec<Segment> {
    const K: f64 = 0.552_284_749_8;
    let k = K * r;
    vec![
        Segment::Move((cx + r, cy)),
        Segment::Cubic((cx + r, cy + k), (cx + k, cy + r), (cx, cy + r)),
        Segment::Cubic((cx - k, cy + r), (cx - r, cy + k), (cx - r, cy)),
        Segment::Cubic((cx - r, cy - k), (cx - k, cy - r), (cx, cy - r)),
        Segment::Cubic((cx + k, cy - r), (cx + r, cy - k), (cx + r, cy)),
        Segment::Close,
    ]
}

fn rectangle((x0, y0): Point, (x1, y1): Point) -> Vec<Segment> {
    vec![
        Segment::Move((x0, y0)),
        Segment::Line((x1, y0)),
        Segment::Line((x1, y1)),
        Segment::Line((x0, y1)),
        Segment::Close,
    ]
}

/// The embedded font plotters was given for this style (see `ensure_fonts`).
fn font_for(style: FontStyle) -> FontRef<'static> {
    let bytes = match style {
        FontStyle::Bold => dejavu::sans::bold(),
        _ => dejavu::sans::regular(),
    };
    // The same bytes were parsed when registering them with plotters, and
    // rendering does not start unless that succeeded.
    FontRef::try_from_slice(bytes).expect("the embedded DejaVu Sans parses")
}

impl DrawingBackend for Recorder<'_> {
    type ErrorType = NoError;

    fn get_size(&self) -> (u32, u32) {
        self.recording.size
    }

    fn ensure_prepared(&mut self) -> DrawResult {
        Ok(())
    }

    fn present(&mut self) -> DrawResult {
        Ok(())
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> DrawResult {
        let (x, y) = pt(point);
        self.fill(rectangle((x, y), (x + 1.0, y + 1.0)), color);
        Ok(())
    }

    fn draw_line<S: BackendStyle>(&mut self, from: BackendCoord, to: BackendCoord, style: &S) -> DrawResult {
        self.stroke([pt(from), pt(to)], style.color(), style.stroke_width(), false);
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> DrawResult {
        let (low, high) = (pt(upper_left), pt(bottom_right));
        if fill {
            // The bitmap backend fills both corner pixels inclusively.
            self.fill(rectangle(low, (high.0 + 1.0, high.1 + 1.0)), style.color());
        } else {
            let corners = [low, (high.0, low.1), high, (low.0, high.1)];
            self.stroke(corners, style.color(), style.stroke_width(), true);
        }
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, path: I, style: &S) -> DrawResult {
        self.stroke(path.into_iter().map(pt), style.color(), style.stroke_width(), false);
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(&mut self, center: BackendCoord, radius: u32, style: &S, fill: bool) -> DrawResult {
        let path = circle(pt(center), f64::from(radius));
        if fill {
            self.fill(path, style.color());
        } else if visible(&style.color()) {
            let width = f64::from(style.stroke_width().max(1));
            self.recording.items.push(Item::Stroke { path, color: style.color().into(), width });
        }
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> DrawResult {
        let mut path: Vec<Segment> = Vec::new();
        for point in vert.into_iter().map(pt) {
            path.push(if path.is_empty() { Segment::Move(point) } else { Segment::Line(point) });
        }
        path.push(Segment::Close);
        self.fill(path, style.color());
        Ok(())
    }

    fn draw_text<TStyle: BackendTextStyle>(&mut self, text: &str, style: &TStyle, pos: BackendCoord) -> DrawResult {
        let color = style.color();
        if !visible(&color) {
            return Ok(());
        }
        // Placement exactly as plotters' default (pixel) implementation.
        let ((min_x, min_y), (max_x, max_y)) =
            style.layout_box(text).map_err(|error| DrawingErrorKind::FontError(Box::new(error)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        // Text space (x right, y down, from the layout box's corner) to
        // pixels: plotters' rotation, then the anchor point.
        let (r11, r12, r21, r22) = match style.transform() {
            FontTransform::None => (1.0, 0.0, 0.0, 1.0),
            FontTransform::Rotate90 => (0.0, -1.0, 1.0, 0.0),
            FontTransform::Rotate180 => (-1.0, 0.0, 0.0, -1.0),
            FontTransform::Rotate270 => (0.0, 1.0, -1.0, 0.0),
        };
        let origin = pt(pos);

        let size = style.size();
        let bold = matches!(style.style(), FontStyle::Bold);
        let font = font_for(style.style());
        let scaled = font.as_scaled(size as f32);
        let (h_scale, v_scale) = (f64::from(scaled.h_scale_factor()), f64::from(scaled.v_scale_factor()));
        // plotters' ab_glyph renderer puts the baseline at half the size.
        let baseline = size / 2.0;
        let mut pen = 0.0f64;
        let mut previous = None;
        let mut glyphs = Vec::new();
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(previous) = previous {
                pen += f64::from(scaled.kern(previous, id));
            }
            previous = Some(id);
            let key = (bold, id.0);
            if let std::collections::btree_map::Entry::Vacant(slot) = self.recording.glyphs.entry(key) {
                if let Some(outline) = font.outline(id) {
                    slot.insert(outline_path(&outline));
                }
            }
            if self.recording.glyphs.get(&key).is_some_and(|path| !path.is_empty()) {
                // Font units (y up) → text space: scale, flip, move to the pen.
                let (tu, tv) = (pen + f64::from(dx - min_x), baseline + f64::from(dy - min_y));
                let matrix = [
                    r11 * h_scale,
                    r21 * h_scale,
                    -r12 * v_scale,
                    -r22 * v_scale,
                    r11 * tu + r12 * tv + origin.0,
                    r21 * tu + r22 * tv + origin.1,
                ];
                glyphs.push((key, matrix));
            }
            pen += f64::from(scaled.h_advance(id));
        }
        if !glyphs.is_empty() {
            self.recording.items.push(Item::Text { glyphs, color: color.into() });
        }
        Ok(())
    }
}

/// A glyph's outline as a closed path per contour, in font units.
fn outline_path(outline: &ab_glyph::Outline) -> Vec<Segment> {
    let point = |p: ab_glyph::Point| (f64::from(p.x), f64::from(p.y));
    let mut path = Vec::new();
    let mut current: Option<ab_glyph::Point> = None;
    for curve in &outline.curves {
        let (start, end) = match *curve {
            OutlineCurve::Line(a, b) => (a, b),
            OutlineCurve::Quad(a, _, c) => (a, c),
            OutlineCurve::Cubic(a, _, _, d) => (a, d),
        };
        if current != Some(start) {
            if current.is_some() {
                path.push(Segment::Close);
            }
            path.push(Segment::Move(point(start)));
        }
        path.push(match *curve {
            OutlineCurve::Line(_, b) => Segment::Line(point(b)),
            OutlineCurve::Quad(_, b, c) => Segment::Quad(point(b), point(c)),
            OutlineCurve::Cubic(_, b, c, d) => Segment::Cubic(point(b), point(c), point(d)),
        });
        current = Some(end);
    }
    if current.is_some() {
        path.push(Segment::Close);
    }
    path
}

/// A coordinate with at most two decimals and no trailing zeros.
fn num(value: f64) -> String {
    let text = format!("{:.2}", value);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

fn hex(color: &Paint) -> String {
    let (r, g, b) = color.rgb;
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Recording {
    /// The drawing as a standalone SVG document titled `title`.
    pub(crate) fn to_svg(&self, title: &str) -> String {
        let (width, height) = self.size;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
             width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n<title>{}</title>",
            escape_xml(title)
        );
        // Every glyph once, in font units; text places them by reference.
        if !self.glyphs.is_empty() {
            svg.push_str("<defs>\n");
            for (&(bold, id), path) in &self.glyphs {
                let _ = writeln!(svg, "<path id=\"{}\" d=\"{}\"/>", glyph_id(bold, id), svg_path(path));
            }
            svg.push_str("</defs>\n");
        }
        for item in &self.items {
            let (path, paint) = match item {
                Item::Text { glyphs, color } => {
                    let opacity = if color.alpha < 1.0 {
                        format!(" fill-opacity=\"{}\"", num(color.alpha))
                    } else {
                        String::new()
                    };
                    let _ = writeln!(svg, "<g fill=\"{}\"{opacity}>", hex(color));
                    for ((bold, id), m) in glyphs {
                        let _ = writeln!(
                            svg,
                            "<use xlink:href=\"#{}\" transform=\"matrix({} {} {} {} {} {})\"/>",
                            glyph_id(*bold, *id),
                            fine(m[0]),
                            fine(m[1]),
                            fine(m[2]),
                            fine(m[3]),
                            num(m[4]),
                            num(m[5])
                        );
                    }
                    svg.push_str("</g>\n");
                    continue;
                }
                Item::Fill { path, color } => {
                    let opacity = if color.alpha < 1.0 {
                        format!(" fill-opacity=\"{}\"", num(color.alpha))
                    } else {
                        String::new()
                    };
                    (path, format!("fill=\"{}\"{opacity}", hex(color)))
                }
                Item::Stroke { path, color, width } => {
                    let opacity = if color.alpha < 1.0 {
                        format!(" stroke-opacity=\"{}\"", num(color.alpha))
                    } else {
                        String::new()
                    };
                    (
                        path,
                        format!(
                            "fill=\"none\" stroke=\"{}\"{opacity} stroke-width=\"{}\" stroke-linejoin=\"round\"",
                            hex(color),
                            num(*width)
                        ),
                    )
                }
            };
            let _ = writeln!(svg, "<path d=\"{}\" {paint}/>", svg_path(path));
        }
        svg.push_str("</svg>\n");
        svg
    }

    /// The drawing as a one-page PDF titled `title`, `points_per_pixel`
    /// points (1/72 in) to a pixel.
    pub(crate) fn to_pdf(&self, title: &str, points_per_pixel: f64) -> Vec<u8> {
        let (width, height) = (f64::from(self.size.0), f64::from(self.size.1));
        let mut alphas: Vec<u32> = Vec::new();
        let mut content = String::new();
        // Pixels to points, y flipped: everything below is in pixels.
        let _ = writeln!(
            content,
            "{} 0 0 {} 0 {} cm 1 j",
            num(points_per_pixel),
            num(-points_per_pixel),
            num(height * points_per_pixel)
        );
        let mut state_alpha = 1000;
        // Each glyph is a form XObject drawn wherever the text uses it (its
        // outline once per file, like the SVG's <defs>).
        let glyph_names: BTreeMap<GlyphKey, usize> = self.glyphs.keys().enumerate().map(|(i, k)| (*k, i)).collect();
        let no_path = Vec::new();
        for item in &self.items {
            let (path, color) = match item {
                Item::Fill { path, color } | Item::Stroke { path, color, .. } => (path, color),
                Item::Text { color, .. } => (&no_path, color),
            };
            let alpha = (color.alpha * 1000.0).round() as u32;
            if alpha != state_alpha {
                if !alphas.contains(&alpha) {
                    alphas.push(alpha);
                }
                let _ = writeln!(content, "/A{alpha} gs");
                state_alpha = alpha;
            }
            let (r, g, b) = color.rgb;
            let rgb =
                format!("{} {} {}", num(f64::from(r) / 255.0), num(f64::from(g) / 255.0), num(f64::from(b) / 255.0));
            match item {
                Item::Fill { .. } => {
                    let _ = writeln!(content, "{rgb} rg {} f", pdf_path(path));
                }
                Item::Text { glyphs, .. } => {
                    let _ = writeln!(content, "{rgb} rg");
                    for (key, m) in glyphs {
                        let _ = writeln!(
                            content,
                            "q {} {} {} {} {} {} cm /G{} Do Q",
                            fine(m[0]),
                            fine(m[1]),
                            fine(m[2]),
                            fine(m[3]),
                            num(m[4]),
                            num(m[5]),
                            glyph_names[key]
                        );
                    }
                }
                Item::Stroke { width, .. } => {
                    let _ = writeln!(content, "{rgb} RG {} w {} S", num(*width), pdf_path(path));
                }
            }
        }
        let stream = compress(content.as_bytes());

        let states: String = alphas
            .iter()
            .map(|a| format!("/A{a} << /Type /ExtGState /ca {0} /CA {0} >> ", num(f64::from(*a) / 1000.0)))
            .collect();
        // Objects 1–5 (catalog, pages, page, content, info), then the glyphs.
        let first_glyph = 6;
        let forms: String = (0..self.glyphs.len()).map(|i| format!("/G{i} {} 0 R ", first_glyph + i)).collect();
        let mut objects: Vec<Vec<u8>> = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Contents 4 0 R \
                 /Resources << /ExtGState << {states}>> /XObject << {forms}>> >> >>",
                num(width * points_per_pixel),
                num(height * points_per_pixel)
            )
            .into_bytes(),
            flate_stream("", &stream),
            format!("<< /Title {} /Producer (parsweep) >>", pdf_string(title)).into_bytes(),
        ];
        for path in self.glyphs.values() {
            let points = path.iter().flat_map(|segment| match *segment {
                Segment::Move(p) | Segment::Line(p) => vec![p],
                Segment::Quad(a, b) => vec![a, b],
                Segment::Cubic(a, b, c) => vec![a, b, c],
                Segment::Close => vec![],
            });
            let (x0, y0, x1, y1) = points.fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |(x0, y0, x1, y1), (x, y)| {
                (x0.min(x), y0.min(y), x1.max(x), y1.max(y))
            });
            let outline = compress(format!("{} f", pdf_path(path)).as_bytes());
            let bbox = format!(
                "/Type /XObject /Subtype /Form /BBox [{} {} {} {}] ",
                num(x0.floor()),
                num(y0.floor()),
                num(x1.ceil()),
                num(y1.ceil())
            );
            objects.push(flate_stream(&bbox, &outline));
        }

        let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let mut offsets = Vec::new();
        for (index, object) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
            pdf.extend_from_slice(object);
            pdf.extend_from_slice(b"\nendobj\n");
        }
        let xref = pdf.len();
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for offset in offsets {
            let _ = writeln!(table, "{offset:010} 00000 n ");
        }
        let _ = write!(
            table,
            "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        );
        pdf.extend_from_slice(table.as_bytes());
        pdf
    }
}

/// `data` deflated (zlib), for a `/FlateDecode` stream.
fn compress(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// A stream object: `<< {entries}/Length n /Filter /FlateDecode >>` and the bytes.
fn flate_stream(entries: &str, compressed: &[u8]) -> Vec<u8> {
    let mut object = format!("<< {entries}/Length {} /Filter /FlateDecode >>\nstream\n", compressed.len()).into_bytes();
    object.extend_from_slice(compressed);
    object.extend_from_slice(b"\nendstream");
    object
}

#[cfg(test)]
impl Recording {
    /// The outlines of a line of text, in pixels (what the glyph
    /// references draw).
    fn text_path(&self, glyphs: &[(GlyphKey, Matrix)]) -> Vec<Segment> {
        glyphs.iter().filter_map(|(key, m)| Some(transformed(self.glyphs.get(key)?, m))).flatten().collect()
    }
}

/// The SVG id of a glyph.
fn glyph_id(bold: bool, id: u16) -> String {
    format!("{}{id}", if bold { "gb" } else { "g" })
}

/// A matrix coefficient: glyph scales are small numbers, kept to six decimals.
fn fine(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

fn svg_path(path: &[Segment]) -> String {
    let mut d = String::new();
    for segment in path {
        let _ = match *segment {
            Segment::Move((x, y)) => write!(d, "M{} {}", num(x), num(y)),
            Segment::Line((x, y)) => write!(d, "L{} {}", num(x), num(y)),
            Segment::Quad(a, b) => write!(d, "Q{} {} {} {}", num(a.0), num(a.1), num(b.0), num(b.1)),
            Segment::Cubic(a, b, c) => {
                write!(d, "C{} {} {} {} {} {}", num(a.0), num(a.1), num(b.0), num(b.1), num(c.0), num(c.1))
            }
            Segment::Close => write!(d, "Z"),
        };
    }
    d
}

fn pdf_path(path: &[Segment]) -> String {
    let mut ops = String::new();
    // PDF has no quadratic curves: each becomes the cubic of the same
    // shape, which needs the point it starts from.
    let mut current = (0.0, 0.0);
    let mut start = (0.0, 0.0);
    for segment in path {
        let _ = match *segment {
            Segment::Move((x, y)) => {
                (current, start) = ((x, y), (x, y));
                write!(ops, "{} {} m ", num(x), num(y))
            }
            Segment::Line((x, y)) => {
                current = (x, y);
                write!(ops, "{} {} l ", num(x), num(y))
            }
            Segment::Quad(b, c) => {
                let control = |from: Point| (from.0 + 2.0 / 3.0 * (b.0 - from.0), from.1 + 2.0 / 3.0 * (b.1 - from.1));
                let (c1, c2) = (control(current), control(c));
                current = c;
                write!(ops, "{} {} {} {} {} {} c ", num(c1.0), num(c1.1), num(c2.0), num(c2.1), num(c.0), num(c.1))
            }
            Segment::Cubic(a, b, c) => {
                current = c;
                write!(ops, "{} {} {} {} {} {} c ", num(a.0), num(a.1), num(b.0), num(b.1), num(c.0), num(c.1))
            }
            Segment::Close => {
                current = start;
                write!(ops, "h ")
            }
        };
    }
    ops.trim_end().to_owned()
}

/// A PDF text string: UTF-16BE with a byte-order mark, hex-encoded, so
/// any title (µ, ², ×) survives.
fn pdf_string(text: &str) -> String {
    let mut hex = String::from("<FEFF");
    for unit in text.encode_utf16() {
        let _ = write!(hex, "{unit:04X}");
    }
    hex.push('>');
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drawn(draw: impl FnOnce(&DrawingArea<Recorder<'_>, plotters::coord::Shift>)) -> Recording {
        crate::ensure_fonts().unwrap();
        let mut recording = Recording::new((200, 100));
        draw(&Recorder::new(&mut recording).into_drawing_area());
        recording
    }

    #[test]
    fn text_becomes_outlines_in_the_layout_box() {
        let backend = drawn(|root| {
            root.draw_text("Hg", &("sans-serif", 40).into_font().color(&BLACK), (10, 20)).unwrap();
        });
        let svg = backend.to_svg("t");
        assert!(!svg.contains("<text"), "text must be paths: {svg}");
        let [Item::Text { glyphs, .. }] = backend.items.as_slice() else { panic!("one text item per text") };
        assert_eq!(backend.glyphs.len(), 2, "H and g, each defined once");
        let path = backend.text_path(glyphs);
        // Two glyphs: H has one contour, g two; every contour closed.
        let moves = path.iter().filter(|s| matches!(s, Segment::Move(_))).count();
        assert_eq!(moves, 3);
        assert_eq!(path.iter().filter(|s| matches!(s, Segment::Close)).count(), 3);
        let xs = path.iter().filter_map(|s| if let Segment::Line(p) | Segment::Move(p) = s { Some(*p) } else { None });
        let (left, right, top, bottom) = xs.fold((f64::MAX, f64::MIN, f64::MAX, f64::MIN), |(l, r, t, b), (x, y)| {
            (l.min(x), r.max(x), t.min(y), b.max(y))
        });
        // Anchored top-left at (10, 20), baseline at half the size (y = 40);
        // H's stem starts at its left bearing, a few pixels right of 10.
        assert!((10.0..16.0).contains(&left), "{left}");
        assert!(right > 40.0 && right < 70.0, "{right}");
        assert!((top - 40.0 + 0.73 * 40.0 / 1.164).abs() < 2.0, "cap height above the baseline: {top}");
        assert!(bottom > 40.0 && bottom < 52.0, "g's descender below the baseline: {bottom}");
    }

    #[test]
    fn pdf_is_well_formed_and_svg_keeps_colours_and_opacity() {
        let backend = drawn(|root| {
            root.fill(&WHITE).unwrap();
            root.draw(&PathElement::new(
                vec![(0, 0), (100, 50)],
                ShapeStyle { color: RGBColor(0, 114, 178).to_rgba(), filled: false, stroke_width: 3 },
            ))
            .unwrap();
            root.draw(&Rectangle::new([(5, 5), (20, 20)], WHITE.mix(0.5).filled())).unwrap();
            root.draw(&Circle::new((50, 50), 5, BLACK.filled())).unwrap();
            root.draw_text("µs ×2", &("sans-serif", 20).into_font().color(&BLACK), (1, 1)).unwrap();
        });
        let svg = backend.to_svg("a <b> & c");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<title>a &lt;b&gt; &amp; c</title>"));
        assert!(svg.contains("stroke=\"#0072b2\" stroke-width=\"3\""));
        assert!(svg.contains("fill-opacity=\"0.5\""));
        let pdf = backend.to_pdf("µs", 0.5);
        assert!(pdf.starts_with(b"%PDF-1.4"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/MediaBox [0 0 100 50]"));
        assert!(text.contains("/A500 << /Type /ExtGState /ca 0.5 /CA 0.5 >>"));
        assert!(text.contains("/Title <FEFF00B50073>"));
        // Every xref offset points at its object (offsets count bytes; the
        // compressed stream is binary, so search the bytes, not the text).
        let find = |needle: &[u8]| pdf.windows(needle.len()).rposition(|w| w == needle).unwrap();
        let xref = find(b"\nxref\n") + 1;
        let tail = String::from_utf8_lossy(&pdf[xref..]).into_owned();
        let startxref: usize = tail.lines().skip_while(|l| *l != "startxref").nth(1).unwrap().parse().unwrap();
        assert_eq!(startxref, xref);
        for (index, line) in tail.lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(pdf[offset..].starts_with(format!("{} 0 obj", index + 1).as_bytes()), "object {}", index + 1);
        }
    }
}
