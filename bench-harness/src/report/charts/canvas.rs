//! The drawing half of the charts: a [`Figure`] (title, axes, caption and
//! a stack of [`Layer`]s) rendered to a PNG with a consistent style.

use super::axis::Axis;
use super::vector::{Recorder, Recording};
use super::{MeasuredSeries, HEIGHT, WIDTH};
use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::element::ComposedElement;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::OnceLock;

/// Okabe–Ito colours: distinguishable with colour-vision deficiencies, and
/// together with the marker shapes still apart in greyscale print.
pub(super) const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];
/// Colour of ideal-scaling reference lines.
pub(super) const IDEAL_GRAY: RGBColor = RGBColor(120, 120, 120);
const CORES_GRAY: RGBColor = RGBColor(90, 90, 90);
const CAPTION_COLOR: RGBColor = RGBColor(60, 60, 60);
const OVERSUBSCRIBED_SHADE: RGBColor = RGBColor(242, 242, 242);

// Sizes in pixels, chosen so that the 1600-pixel-wide image printed one
// column wide (about 3.3 in) keeps text near 8 pt.
const TITLE_SIZE: u32 = 44;
const AXIS_LABEL_SIZE: u32 = 34;
const TICK_SIZE: u32 = 29;
const LEGEND_SIZE: u32 = 27;
const CAPTION_SIZE: u32 = 25;
const MARKER_RADIUS: i32 = 9;
const LINE_WIDTH: u32 = 3;
/// Half width of the caps on confidence bars.
const ERROR_CAP: i32 = 9;
/// Width of a line sample in the legend (its column is a little wider).
const LEGEND_SAMPLE_WIDTH: i32 = 48;
const LEGEND_COLUMN_WIDTH: u32 = 72;

/// Marker shapes, cycled per series so series differ in more than colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

impl Marker {
    /// Outline of the marker around (0, 0), in pixels; circles are 20-gons
    /// so that every marker is the same kind of element.
    fn corners(self) -> Vec<Pixel> {
        let r = MARKER_RADIUS;
        match self {
            Marker::Circle => (0..20)
                .map(|i| {
                    let angle = f64::from(i) * std::f64::consts::TAU / 20.0;
                    let radius = f64::from(r);
                    let x = (radius * angle.cos()).round() as i32;
                    let y = (radius * angle.sin()).round() as i32;
                    (x, y)
                })
                .collect(),
            Marker::Square => {
                let h = r * 4 / 5;
                vec![(-h, -h), (h, -h), (h, h), (-h, h)]
            }
            Marker::Triangle => vec![(0, -r - 2), (r + 1, r - 1), (-r - 1, r - 1)],
            Marker::Diamond => vec![(0, -r - 2), (r + 1, 0), (0, r + 2), (-r - 1, 0)],
        }
    }
}

/// Colour and marker of the `index`-th measured series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SeriesStyle {
    pub(super) color: RGBColor,
    pub(super) marker: Marker,
}

impl SeriesStyle {
    pub(super) fn nth(index: usize) -> Self {
        const MARKERS: [Marker; 4] = [Marker::Circle, Marker::Square, Marker::Triangle, Marker::Diamond];
        Self { color: PALETTE[index % PALETTE.len()], marker: MARKERS[index % MARKERS.len()] }
    }
}

/// How a line is drawn, on the plot and as its legend sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum LineKind {
    /// Joins measured points.
    Data,
    /// A fitted model: dashed.
    Fit,
    /// An ideal-scaling reference: thinner.
    Ideal,
    /// The core-count marker: thin and dashed.
    Cores,
}

impl LineKind {
    fn style(self, color: RGBColor) -> ShapeStyle {
        match self {
            LineKind::Data | LineKind::Fit => color.stroke_width(LINE_WIDTH),
            LineKind::Ideal | LineKind::Cores => color.stroke_width(2),
        }
    }
}

/// One thing drawn on the plot, bottom to top in [`Figure::layers`] order.
pub(super) enum Layer<'a> {
    /// Shades the oversubscribed region beyond this many cores and
    /// draws a dashed line at its edge, explained in the legend.
    Cores(usize),
    /// A reference or model line, with a legend entry.
    Line { label: String, points: Vec<(f64, f64)>, kind: LineKind, color: RGBColor },
    /// Measured points with confidence bars, joined by a line; points beyond
    /// `max_cores` workers get open markers.
    Measured { series: &'a MeasuredSeries, style: SeriesStyle, max_cores: Option<usize> },
    /// A legend entry that explains open markers.
    OversubscribedKey,
}

/// A whole chart, ready to render.
pub(super) struct Figure<'a> {
    pub(super) title: &'a str,
    /// Caller's small print (machine, workload), first line under the plot.
    pub(super) caption: &'a str,
    /// Further small print: how to read the chart.
    pub(super) notes: Vec<String>,
    pub(super) x: Axis,
    pub(super) y: Axis,
    pub(super) layers: Vec<Layer<'a>>,
}

type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// Renders `figure` to `path`, as PNG, SVG or PDF by the file's extension.
/// The vector formats draw exactly what the PNG shows (see [`super::vector`]).
pub(super) fn render(path: &Path, figure: &Figure<'_>) -> Result<()> {
    ensure_fonts()?;
    let context = || format!("drawing chart '{}' to {}", figure.title, path.display());
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    match extension.as_str() {
        "png" => {
            let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
            draw_figure(&root, figure).with_context(context)?;
            root.present().with_context(context)?;
        }
        "svg" | "pdf" => {
            let mut recording = Recording::new((WIDTH, HEIGHT));
            draw_figure(&Recorder::new(&mut recording).into_drawing_area(), figure).with_context(context)?;
            let bytes = if extension == "svg" {
                recording.to_svg(figure.title).into_bytes()
            } else {
                recording.to_pdf(figure.title, PDF_POINTS_PER_PIXEL)
            };
            std::fs::write(path, bytes).with_context(context)?;
        }
        _ => anyhow::bail!("cannot draw chart '{}' to {}: use .png, .svg or .pdf", figure.title, path.display()),
    }
    Ok(())
}

/// PDF page scale: 1600 pixels become 5.33 in (384 pt), so the text sizes
/// above print at 6–10 pt when the page is included at its natural size.
const PDF_POINTS_PER_PIXEL: f64 = 0.24;

/// Draws `figure` on `root`, any plotters backend.
fn draw_figure<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure<'_>) -> Result<()> {
    root.fill(&WHITE).map_err(plot_error)?;

    // Small print first: its height decides how much room the plot gets.
    let caption_font = ("sans-serif", CAPTION_SIZE).into_font().color(&CAPTION_COLOR);
    let mut lines = Vec::new();
    for text in std::iter::once(figure.caption).chain(figure.notes.iter().map(String::as_str)) {
        lines.extend(wrap(root, text, &caption_font, WIDTH - 80)?);
    }
    let line_height = CAPTION_SIZE as i32 + 9;
    let caption_height = line_height * lines.len() as i32 + 20;
    let (plot_area, caption_area) = root.split_vertically(HEIGHT as i32 - caption_height);
    for (index, line) in lines.iter().enumerate() {
        caption_area.draw_text(line, &caption_font, (40, 4 + line_height * index as i32)).map_err(plot_error)?;
    }

    // The style goes in the constructor: `FontDesc::style` keeps the regular face.
    let title_font = ("sans-serif", TITLE_SIZE, FontStyle::Bold).into_font();
    let mut plot = ChartBuilder::on(&plot_area)
        .caption(figure.title, title_font)
        .margin_top(16)
        .margin_right(56)
        .margin_left(24)
        .x_label_area_size(100)
        .y_label_area_size(130)
        .build_cartesian_2d(figure.x.clone(), figure.y.clone())
        .map_err(plot_error)?;
    plot.configure_mesh()
        .x_desc(figure.x.label.as_str())
        .y_desc(figure.y.label.as_str())
        .axis_desc_style(("sans-serif", AXIS_LABEL_SIZE))
        .label_style(("sans-serif", TICK_SIZE))
        .bold_line_style(RGBColor(212, 212, 212).stroke_width(1))
        .light_line_style(RGBColor(238, 238, 238).stroke_width(1))
        .axis_style(BLACK.stroke_width(2))
        .draw()
        .map_err(plot_error)?;

    let mut legend = Legend::default();
    for layer in &figure.layers {
        draw_layer(&mut plot, &mut legend, &figure.x, &figure.y, layer).map_err(plot_error)?;
    }
    if legend.entries > 0 {
        plot.configure_series_labels()
            .position(legend.emptiest_corner())
            .label_font(("sans-serif", LEGEND_SIZE))
            .background_style(WHITE.mix(0.92))
            .border_style(RGBColor(160, 160, 160))
            .margin(16)
            .legend_area_size(LEGEND_COLUMN_WIDTH)
            .draw()
            .map_err(plot_error)?;
    }
    Ok(())
}

/// Registers the embedded DejaVu fonts with plotters, once per process:
/// the build has no fontconfig, so without this no text renders at all.
pub(super) fn ensure_fonts() -> Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            for (style, bytes) in
                [(FontStyle::Normal, dejavu::sans::regular()), (FontStyle::Bold, dejavu::sans::bold())]
            {
                plotters::style::register_font("sans-serif", style, bytes)
                    .map_err(|_| "the embedded DejaVu Sans font could not be parsed".to_string())?;
            }
            Ok(())
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// Greedy word wrap of `text` into lines at most `width` pixels wide.
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    font: &TextStyle<'_>,
    width: u32,
) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        let (candidate_width, _) = area
            .estimate_text_size(&candidate, font)
            .map_err(|error| anyhow::anyhow!("measuring caption text: {error}"))?;
        if candidate_width > width && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    Ok(lines)
}

fn draw_layer<'a, DB: DrawingBackend + 'a>(
    plot: &mut Plot<'a, DB>,
    legend: &mut Legend,
    x: &Axis,
    y: &Axis,
    layer: &Layer<'_>,
) -> Result<()> {
    match layer {
        Layer::Cores(cores) => {
            draw_cores(plot, x, y, *cores)?;
            legend.entries += 1;
            // The line counts as data, lightly: a legend rather covers
            // nothing, but the line is better than a measurement.
            let line = x.fraction(*cores as f64);
            legend.occupied.extend((0..=4).map(|step| (line, f64::from(step) / 4.0)));
            Ok(())
        }
        Layer::Line { label, points, kind, color } => {
            let line = Glyph { marker: None, filled: true, color: *color, line: Some(*kind) };
            draw_line(plot, x, y, label, points, line)?;
            legend.entries += 1;
            points.iter().for_each(|&point| legend.occupy(x, y, point));
            Ok(())
        }
        Layer::Measured { series, style, max_cores } => {
            draw_measured(plot, x, y, series, *style, *max_cores)?;
            legend.entries += 1;
            for point in &series.points {
                for value in [point.y, point.ci_low, point.ci_high] {
                    legend.occupy(x, y, (point.x, value));
                }
            }
            Ok(())
        }
        Layer::OversubscribedKey => {
            let sample = Glyph { marker: Some(Marker::Circle), filled: false, color: CORES_GRAY, line: None };
            // An empty series that exists only for its legend entry.
            plot.draw_series(std::iter::empty::<EmptyElement<(f64, f64), DB>>())
                .map_err(plot_error)?
                .label("open marker: more workers than cores")
                .legend(move |at| sample.in_legend(at));
            legend.entries += 1;
            Ok(())
        }
    }
}

fn draw_line<'a, DB: DrawingBackend + 'a>(
    plot: &mut Plot<'a, DB>,
    x: &Axis,
    y: &Axis,
    label: &str,
    points: &[(f64, f64)],
    sample: Glyph,
) -> Result<()> {
    let kind = sample.line.unwrap_or(LineKind::Data);
    let style = kind.style(sample.color);
    let plotted = points.iter().map(|&(px, py)| (x.at(px), y.at(py)));
    let annotation = if kind == LineKind::Fit {
        plot.draw_series(DashedLineSeries::new(plotted, 16, 10, style))
    } else {
        plot.draw_series(LineSeries::new(plotted, style))
    }
    .map_err(plot_error)?;
    annotation.label(label).legend(move |at| sample.in_legend(at));
    Ok(())
}

fn draw_measured<'a, DB: DrawingBackend + 'a>(
    plot: &mut Plot<'a, DB>,
    x: &Axis,
    y: &Axis,
    series: &MeasuredSeries,
    style: SeriesStyle,
    max_cores: Option<usize>,
) -> Result<()> {
    let mut points = series.points.clone();
    points.sort_by(|a, b| a.x.total_cmp(&b.x));
    let oversubscribed = |workers: f64| max_cores.is_some_and(|cores| workers > cores as f64);
    let color = style.color;

    plot.draw_series(LineSeries::new(
        points.iter().map(|point| (x.at(point.x), y.at(point.y))),
        LineKind::Data.style(color),
    ))
    .map_err(plot_error)?;

    let bar = color.stroke_width(2);
    plot.draw_series(points.iter().map(|point| {
        let at = x.at(point.x);
        PathElement::new(vec![(at, y.at(point.ci_low)), (at, y.at(point.ci_high))], bar)
    }))
    .map_err(plot_error)?;
    let cap_positions =
        points.iter().flat_map(|point| [point.ci_low, point.ci_high].map(|end| (x.at(point.x), y.at(end))));
    plot.draw_series(
        cap_positions.map(|end| EmptyElement::at(end) + PathElement::new(vec![(-ERROR_CAP, 0), (ERROR_CAP, 0)], bar)),
    )
    .map_err(plot_error)?;

    let glyph = move |filled| Glyph { marker: Some(style.marker), filled, color, line: None };
    plot.draw_series(points.iter().map(|point| glyph(!oversubscribed(point.x)).at((x.at(point.x), y.at(point.y)))))
        .map_err(plot_error)?
        .label(series.label.as_str())
        .legend(move |at| Glyph { line: Some(LineKind::Data), ..glyph(true) }.in_legend(at));
    Ok(())
}

fn draw_cores<'a, DB: DrawingBackend + 'a>(plot: &mut Plot<'a, DB>, x: &Axis, y: &Axis, cores: usize) -> Result<()> {
    let edge = x.at(cores as f64);
    let (bottom, top) = y.visible;
    if edge < x.visible.1 {
        plot.draw_series(std::iter::once(Rectangle::new(
            [(edge, bottom), (x.visible.1, top)],
            OVERSUBSCRIBED_SHADE.filled(),
        )))
        .map_err(plot_error)?;
    }
    let shaded = edge < x.visible.1;
    let label = match (cores, shaded) {
        (1, false) => "1 core".to_string(),
        (1, true) => "1 core; shaded: more workers than cores".to_string(),
        (_, false) => format!("{cores} cores"),
        (_, true) => format!("{cores} cores; shaded: more workers than cores"),
    };
    let sample = Glyph { marker: None, filled: true, color: CORES_GRAY, line: Some(LineKind::Cores) };
    plot.draw_series(DashedLineSeries::new([(edge, bottom), (edge, top)], 10, 8, LineKind::Cores.style(CORES_GRAY)))
        .map_err(plot_error)?
        .label(label)
        .legend(move |at| sample.in_legend(at));
    Ok(())
}

/// Plotters' errors are generic over the backend; keep their text only.
fn plot_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("plotting failed: {error}")
}

/// Where the data lies, so the legend can go where it hides the least.
#[derive(Debug, Default)]
struct Legend {
    entries: usize,
    /// Drawn positions as 0–1 fractions of the plot, y upwards.
    occupied: Vec<(f64, f64)>,
}

impl Legend {
    fn occupy(&mut self, x: &Axis, y: &Axis, value: (f64, f64)) {
        self.occupied.push((x.fraction(value.0), y.fraction(value.1)));
    }

    /// The plot corner whose legend-sized box covers the fewest data.
    fn emptiest_corner(&self) -> SeriesLabelPosition {
        let width = 0.5;
        let height = (0.065 * self.entries as f64 + 0.05).min(0.9);
        let corners = [
            (SeriesLabelPosition::UpperLeft, (0.0, 1.0 - height), (width, 1.0)),
            (SeriesLabelPosition::UpperRight, (1.0 - width, 1.0 - height), (1.0, 1.0)),
            (SeriesLabelPosition::LowerRight, (1.0 - width, 0.0), (1.0, height)),
            (SeriesLabelPosition::LowerLeft, (0.0, 0.0), (width, height)),
        ];
        let covered = |low: (f64, f64), high: (f64, f64)| {
            self.occupied.iter().filter(|(x, y)| *x >= low.0 && *x <= high.0 && *y >= low.1 && *y <= high.1).count()
        };
        // `min_by_key` keeps the first of equals, so upper left wins ties.
        corners
            .into_iter()
            .min_by_key(|(_, low, high)| covered(*low, *high))
            .map_or(SeriesLabelPosition::UpperLeft, |(corner, _, _)| corner)
    }
}

/// Pixel offsets from an element's anchor.
type Pixel = (i32, i32);

/// The concrete element [`Glyph::at`] builds. Legends need a concrete type:
/// a boxed `DynElement` would have to outlive the whole backend.
type GlyphElement<C, DB> = ComposedElement<
    C,
    DB,
    PathElement<Pixel>,
    ComposedElement<Pixel, DB, ComposedElement<Pixel, DB, PathElement<Pixel>, Polygon<Pixel>>, PathElement<Pixel>>,
>;

/// What to draw at one spot: a marker and/or a short line sample. The same
/// description gives data markers (at chart coordinates) and legend samples
/// (at pixel coordinates), so the two always match.
#[derive(Debug, Clone, Copy)]
struct Glyph {
    marker: Option<Marker>,
    /// Open (outline only) markers flag oversubscribed points.
    filled: bool,
    color: RGBColor,
    line: Option<LineKind>,
}

impl Glyph {
    /// The glyph as a legend sample: plotters hands over the left end of
    /// the sample column, and the glyph is centred in that column.
    fn in_legend<DB: DrawingBackend>(self, (x, y): Pixel) -> GlyphElement<Pixel, DB> {
        self.at((x + LEGEND_COLUMN_WIDTH as i32 / 2, y))
    }

    /// The glyph anchored at `at`. Every glyph has the same parts (two line
    /// pieces, a filled shape, its outline); unused parts are transparent.
    fn at<DB: DrawingBackend, C>(self, at: C) -> GlyphElement<C, DB> {
        let invisible = TRANSPARENT.stroke_width(1);
        let half = LEGEND_SAMPLE_WIDTH / 2;
        let (left_end, right_start, line_style) = match self.line {
            None => ((-half, 0), (half, 0), invisible),
            // A gap in the middle reads as "dashed" at legend size.
            Some(kind @ (LineKind::Fit | LineKind::Cores)) => ((-5, 0), (5, 0), kind.style(self.color)),
            Some(kind) => ((0, 0), (0, 0), kind.style(self.color)),
        };
        let (outline, fill, corners) = match self.marker {
            None => (invisible, invisible, vec![(0, 0); 3]),
            // Open markers get a white core so a line through them is hidden.
            Some(shape) if !self.filled => (self.color.stroke_width(3), WHITE.filled(), shape.corners()),
            Some(shape) => (self.color.stroke_width(2), self.color.filled(), shape.corners()),
        };
        let mut closed = corners.clone();
        closed.push(corners[0]);
        EmptyElement::at(at)
            + PathElement::new(vec![(-half, 0), left_end], line_style)
            + PathElement::new(vec![right_start, (half, 0)], line_style)
            + Polygon::new(corners, fill)
            + PathElement::new(closed, outline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_avoids_the_corner_with_data() {
        let x = Axis::linear("x", (0.0, 10.0));
        let y = Axis::linear("y", (0.0, 10.0));
        let mut legend = Legend { entries: 2, ..Legend::default() };
        // Data along the top edge only.
        (0..=10).for_each(|i| legend.occupy(&x, &y, (f64::from(i), 9.5)));
        assert!(matches!(legend.emptiest_corner(), SeriesLabelPosition::LowerRight));
        // A diagonal from lower left to upper right leaves upper left free.
        let mut diagonal = Legend { entries: 2, ..Legend::default() };
        (0..=10).for_each(|i| diagonal.occupy(&x, &y, (f64::from(i), f64::from(i))));
        assert!(matches!(diagonal.emptiest_corner(), SeriesLabelPosition::UpperLeft));
    }
}
