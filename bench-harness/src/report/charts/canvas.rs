//! The drawing half of the charts: a [`Figure`] (title, axes, caption and
//! a stack of [`Layer`]s) rendered to a PNG with a consistent style.

use super::axis::Axis;
use super::{Canvas, MeasuredSeries};
use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::element::ComposedElement;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;

// The palette, the font and the renderer are shared with `sweep plot`.
use ::charts::{Format, PALETTE};

/// Colour of ideal-scaling reference lines.
pub(super) const IDEAL_GRAY: RGBColor = RGBColor(120, 120, 120);
const CORES_GRAY: RGBColor = RGBColor(90, 90, 90);
const CAPTION_COLOR: RGBColor = RGBColor(60, 60, 60);
const OVERSUBSCRIBED_SHADE: RGBColor = RGBColor(242, 242, 242);
/// Colour of the legend's frame (tests look for it in the image).
pub(super) const LEGEND_BORDER: RGBColor = RGBColor(150, 150, 150);

// Sizes in pixels, chosen so that the 1600-pixel-wide image printed one
// column wide (about 3.3 in) keeps text near 8 pt.
const TITLE_SIZE: u32 = 44;
const AXIS_LABEL_SIZE: u32 = 34;
const TICK_SIZE: u32 = 29;
const LEGEND_SIZE: u32 = 27;
const CAPTION_SIZE: u32 = 25;
const MARKER_RADIUS: i32 = 9;
const LINE_WIDTH: u32 = 3;
/// Width of a line sample in the legend (its column is a little wider).
const LEGEND_SAMPLE_WIDTH: i32 = 48;
const LEGEND_COLUMN_WIDTH: i32 = 72;

/// Marker shapes, cycled per series so series differ in more than colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    TriangleDown,
    Pentagon,
}

impl Marker {
    /// Outline of the marker around (0, 0), in pixels; circles are 20-gons
    /// so that every marker is the same kind of element.
    fn corners(self, r: i32) -> Vec<Pixel> {
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
            Marker::TriangleDown => vec![(0, r + 2), (r + 1, -r + 1), (-r - 1, -r + 1)],
            Marker::Pentagon => (0..5)
                .map(|i| {
                    let angle = f64::from(i) * std::f64::consts::TAU / 5.0 - std::f64::consts::FRAC_PI_2;
                    let radius = f64::from(r + 1);
                    ((radius * angle.cos()).round() as i32, (radius * angle.sin()).round() as i32)
                })
                .collect(),
        }
    }
}

/// Colour and marker of a measured series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SeriesStyle {
    pub(super) color: RGBColor,
    pub(super) marker: Marker,
}

impl SeriesStyle {
    /// The palette's `color`-th colour and the `marker`-th marker shape (both wrap around).
    pub(super) fn new(color: usize, marker: usize) -> Self {
        const MARKERS: [Marker; 6] =
            [Marker::Circle, Marker::Square, Marker::Triangle, Marker::Diamond, Marker::TriangleDown, Marker::Pentagon];
        Self { color: PALETTE[color % PALETTE.len()], marker: MARKERS[marker % MARKERS.len()] }
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
    /// Widths shrink with the canvas, as text does ([`Canvas::stroke`]).
    fn style(self, color: RGBColor, canvas: Canvas) -> ShapeStyle {
        match self {
            LineKind::Data | LineKind::Fit => color.stroke_width(canvas.stroke(LINE_WIDTH)),
            LineKind::Ideal | LineKind::Cores => color.stroke_width(canvas.stroke(2)),
        }
    }
}

/// One thing drawn on the plot, bottom to top in [`Figure::layers`] order.
pub(super) enum Layer<'a> {
    /// Shades the oversubscribed region beyond `cores` and draws a dashed
    /// line at its edge, explained in the legend by `label`.
    Cores { cores: usize, label: String },
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
    /// Size in pixels and text scale.
    pub(super) canvas: Canvas,
}

type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// A pixel rectangle of a rendered chart: left, top, right, bottom (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelBox {
    /// Leftmost column.
    pub left: i32,
    /// Topmost row.
    pub top: i32,
    /// Rightmost column.
    pub right: i32,
    /// Bottom row.
    pub bottom: i32,
}

impl PixelBox {
    /// Whether the pixel `(x, y)` lies inside (or on the edge of) the box.
    pub fn contains(&self, (x, y): (i32, i32)) -> bool {
        x >= self.left && x <= self.right && y >= self.top && y <= self.bottom
    }
}

/// Where things landed on a rendered chart, for tests that check the image.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The plotting area (inside the axes).
    pub plot: PixelBox,
    /// The legend's frame, if the chart has a legend.
    pub legend: Option<PixelBox>,
    /// Pixel centres of every measured point and both ends of its error bar.
    pub data: Vec<(i32, i32)>,
}

/// One legend entry: its sample glyph and text.
struct LegendEntry {
    label: String,
    glyph: Glyph,
}

const LEGEND_PADDING: i32 = 12;
/// Gap between the legend's columns, in pixels.
const LEGEND_COLUMN_GAP: i32 = 28;

/// The widths of the legend's columns: as many columns as fit `available`
/// pixels, entries filled row by row, each column as wide as its widest entry.
fn legend_columns(widths: &[u32], available: i32, canvas: Canvas) -> Vec<i32> {
    let gap = canvas.gap(LEGEND_COLUMN_GAP);
    let entry = |width: u32| width as i32 + canvas.gap(LEGEND_COLUMN_WIDTH) + gap;
    for columns in (1..=widths.len().max(1)).rev() {
        let mut column_widths = vec![0; columns];
        for (index, &width) in widths.iter().enumerate() {
            let column = index % columns;
            column_widths[column] = column_widths[column].max(entry(width));
        }
        if column_widths.iter().sum::<i32>() - gap <= available || columns == 1 {
            return column_widths;
        }
    }
    vec![0]
}

/// Renders `figure` to a PNG at `path`. The legend sits in its own band
/// between the plot and the small print, so it can never hide data.
///
/// The file's extension picks the format: PNG, or SVG and PDF, which draw
/// exactly what the PNG shows (see [`::charts::render`]); the layout is the same.
pub(super) fn render(path: &Path, figure: &Figure<'_>) -> Result<Layout> {
    let error = match render_sized(path, figure, figure.canvas) {
        Ok(layout) => return Ok(layout),
        Err(error) => error,
    };
    // At the default size, small print that leaves the plot too little room
    // (many warnings, several machines' records) makes the chart taller
    // rather than fail the whole report; any other size stands (`report
    // --height` asks for exactly that size).
    match error.downcast_ref::<TooMuchText>() {
        Some(text) if figure.canvas == Canvas::default() && text.needed <= 10_000 => {
            render_sized(path, figure, Canvas { height: text.needed, ..figure.canvas })
        }
        _ => Err(error),
    }
}

/// The small print and legend leave the plot less than 2/5 of the height.
/// At a size or text scale the user chose, that choice is to blame: bad
/// input, as the binary classifies it.
#[derive(Debug, thiserror::Error)]
#[error(
    "the chart's text leaves only {plot} of its {height} pixels for the plot: make it taller, the text smaller \
     (font scale), or leave out the small print"
)]
pub struct TooMuchText {
    plot: i32,
    height: u32,
    /// A height at which the plot gets its room.
    needed: u32,
}

/// [`render`] at the size and text scale of `canvas`.
fn render_sized(path: &Path, figure: &Figure<'_>, canvas: Canvas) -> Result<Layout> {
    let context = || format!("drawing chart '{}' to {}", figure.title, path.display());
    let format = Format::from_path(path).with_context(|| format!("cannot draw chart '{}'", figure.title))?;
    let (layout, bytes) =
        ::charts::render(format, (canvas.width, canvas.height), figure.title, |root| draw_figure(root, figure, canvas))
            .with_context(context)?;
    std::fs::write(path, bytes).with_context(context)?;
    Ok(layout)
}

/// Draws `figure` on `root`, any plotters backend.
fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure<'_>,
    canvas: Canvas,
) -> Result<Layout> {
    root.fill(&WHITE).map_err(plot_error)?;
    let (width, height) = (canvas.width, canvas.height);
    let text = |size: u32| canvas.text(size);
    let legend_size = text(LEGEND_SIZE);
    let gap = |pixels: i32| canvas.gap(pixels);
    let (legend_padding, column_width) = (gap(LEGEND_PADDING), gap(LEGEND_COLUMN_WIDTH));
    let legend_row_height = legend_size as i32 + gap(12);

    // Small print first: its height decides how much room the plot gets.
    let caption_font = ("sans-serif", text(CAPTION_SIZE)).into_font().color(&CAPTION_COLOR);
    let mut lines = Vec::new();
    let small_print = std::iter::once(figure.caption).chain(figure.notes.iter().map(String::as_str));
    for text in small_print.filter(|_| canvas.small_print) {
        lines.extend(wrap(root, text, &caption_font, width.saturating_sub(gap(80) as u32))?);
    }
    let line_height = text(CAPTION_SIZE) as i32 + gap(9);
    let caption_height = line_height * lines.len() as i32 + gap(20);

    let mut entries: Vec<LegendEntry> = figure.layers.iter().filter_map(legend_entry).collect();
    let legend_font: TextStyle<'_> = ("sans-serif", legend_size).into_font().color(&BLACK);
    let available = width as i32 - gap(40) - 2 * legend_padding;
    let measure = |text: &str| {
        root.estimate_text_size(text, &legend_font)
            .map(|(width, _)| width)
            .map_err(|error| anyhow::anyhow!("measuring legend text: {error}"))
    };
    // A label wider than the chart is cut short with an ellipsis (the
    // summary has it whole).
    let widest_label = (available - column_width - gap(LEGEND_COLUMN_GAP)).max(0) as u32;
    for entry in &mut entries {
        if measure(&entry.label)? > widest_label {
            let mut label = entry.label.clone();
            while !label.is_empty() && measure(&format!("{label}…"))? > widest_label {
                label.pop();
            }
            entry.label = format!("{}…", label.trim_end());
        }
    }
    let widths = entries.iter().map(|entry| measure(&entry.label)).collect::<Result<Vec<u32>>>()?;
    let column_widths = legend_columns(&widths, available, canvas);
    let columns = column_widths.len();
    let rows = entries.len().div_ceil(columns) as i32;
    let legend_height = if entries.is_empty() { 0 } else { rows * legend_row_height + 2 * legend_padding + gap(20) };

    let plot_height = height as i32 - caption_height - legend_height;
    if plot_height < height as i32 * 2 / 5 {
        let text_height = (caption_height + legend_height).max(0) as u32;
        // Room for a plot of the default proportions, and at least its 2/5.
        let needed = (text_height + super::HEIGHT * 11 / 20).max((text_height * 5).div_ceil(3) + 1);
        return Err(TooMuchText { plot: plot_height.max(0), height, needed }.into());
    }
    let (plot_area, below) = root.split_vertically(plot_height);
    let (legend_area, caption_area) = below.split_vertically(legend_height);
    for (index, line) in lines.iter().enumerate() {
        caption_area
            .draw_text(line, &caption_font, (gap(40), gap(4) + line_height * index as i32))
            .map_err(plot_error)?;
    }

    // The style goes in the constructor: `FontDesc::style` keeps the regular face.
    let title_font = ("sans-serif", text(TITLE_SIZE), FontStyle::Bold).into_font();
    let mut plot = ChartBuilder::on(&plot_area)
        .caption(figure.title, title_font)
        .margin_top(gap(16))
        .margin_right(gap(56))
        .margin_left(gap(24))
        .x_label_area_size(text(100))
        .y_label_area_size(text(130))
        .build_cartesian_2d(figure.x.clone(), figure.y.clone())
        .map_err(plot_error)?;
    plot.configure_mesh()
        .x_desc(figure.x.label.as_str())
        .y_desc(figure.y.label.as_str())
        .axis_desc_style(("sans-serif", text(AXIS_LABEL_SIZE)))
        .label_style(("sans-serif", text(TICK_SIZE)))
        .bold_line_style(RGBColor(212, 212, 212).stroke_width(1))
        .light_line_style(RGBColor(238, 238, 238).stroke_width(1))
        .axis_style(BLACK.stroke_width(canvas.stroke(2)))
        .draw()
        .map_err(plot_error)?;

    let mut data = Vec::new();
    for layer in &figure.layers {
        draw_layer(&mut plot, &figure.x, &figure.y, layer, canvas).map_err(plot_error)?;
        if let Layer::Measured { series, .. } = layer {
            for point in &series.points {
                for value in [point.y, point.ci_low, point.ci_high] {
                    data.push(plot.backend_coord(&(figure.x.at(point.x), figure.y.at(value))));
                }
            }
        }
    }
    let (x_pixels, y_pixels) = plot.plotting_area().get_pixel_range();
    let plot_box =
        PixelBox { left: x_pixels.start, top: y_pixels.start, right: x_pixels.end - 1, bottom: y_pixels.end - 1 };

    let legend = if entries.is_empty() {
        None
    } else {
        let (offset_x, offset_y) = legend_area.get_base_pixel();
        let width = column_widths.iter().sum::<i32>() - gap(LEGEND_COLUMN_GAP) + 2 * legend_padding;
        // Centred under the plot, as far as the image's width allows.
        let centred = (plot_box.left + plot_box.right) / 2 - width / 2;
        let left = centred.min(canvas.width as i32 - gap(12) - width).max(gap(8));
        let top = gap(8);
        let frame = [(left, top), (left + width, top + rows * legend_row_height + 2 * legend_padding)];
        legend_area.draw(&Rectangle::new(frame, LEGEND_BORDER.stroke_width(1))).map_err(plot_error)?;
        for (index, entry) in entries.iter().enumerate() {
            let (row, column) = ((index / columns) as i32, (index % columns) as i32);
            let x = left + legend_padding + column_widths[..column as usize].iter().sum::<i32>();
            let y = top + legend_padding + row * legend_row_height + legend_row_height / 2;
            legend_area.draw(&entry.glyph.in_legend::<DB>((x, y), canvas)).map_err(plot_error)?;
            let text_at = (x + column_width, y - legend_size as i32 / 2 - 2);
            legend_area.draw_text(&entry.label, &legend_font, text_at).map_err(plot_error)?;
        }
        Some(PixelBox {
            left: offset_x + frame[0].0,
            top: offset_y + frame[0].1,
            right: offset_x + frame[1].0,
            bottom: offset_y + frame[1].1,
        })
    };
    Ok(Layout { plot: plot_box, legend, data })
}

/// The legend entry of a layer, if it has one.
fn legend_entry(layer: &Layer<'_>) -> Option<LegendEntry> {
    match layer {
        Layer::Cores { label, .. } => Some(LegendEntry {
            label: label.clone(),
            glyph: Glyph { marker: None, filled: true, color: CORES_GRAY, line: Some(LineKind::Cores) },
        }),
        // A line without a label is a guide to another layer's entry.
        Layer::Line { label, points, kind, color } => (!points.is_empty() && !label.is_empty()).then(|| LegendEntry {
            label: label.clone(),
            glyph: Glyph { marker: None, filled: true, color: *color, line: Some(*kind) },
        }),
        Layer::Measured { series, style, .. } => Some(LegendEntry {
            label: series.label.clone(),
            glyph: Glyph { marker: Some(style.marker), filled: true, color: style.color, line: Some(LineKind::Data) },
        }),
        Layer::OversubscribedKey => Some(LegendEntry {
            label: "open marker: more workers than cores".to_owned(),
            glyph: Glyph { marker: Some(Marker::Circle), filled: false, color: CORES_GRAY, line: None },
        }),
    }
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
    x: &Axis,
    y: &Axis,
    layer: &Layer<'_>,
    canvas: Canvas,
) -> Result<()> {
    match layer {
        Layer::Cores { cores, .. } => draw_cores(plot, x, y, *cores, canvas),
        Layer::Line { points, kind, color, .. } => draw_line(plot, x, y, points, *kind, *color, canvas),
        Layer::Measured { series, style, max_cores } => draw_measured(plot, x, y, series, *style, *max_cores, canvas),
        Layer::OversubscribedKey => Ok(()),
    }
}

fn draw_line<'a, DB: DrawingBackend + 'a>(
    plot: &mut Plot<'a, DB>,
    x: &Axis,
    y: &Axis,
    points: &[(f64, f64)],
    kind: LineKind,
    color: RGBColor,
    canvas: Canvas,
) -> Result<()> {
    let style = kind.style(color, canvas);
    let plotted = points.iter().map(|&(px, py)| (x.at(px), y.at(py)));
    if kind == LineKind::Fit {
        plot.draw_series(DashedLineSeries::new(plotted, 16, 10, style))
    } else {
        plot.draw_series(LineSeries::new(plotted, style))
    }
    .map_err(plot_error)?;
    Ok(())
}

fn draw_measured<'a, DB: DrawingBackend + 'a>(
    plot: &mut Plot<'a, DB>,
    x: &Axis,
    y: &Axis,
    series: &MeasuredSeries,
    style: SeriesStyle,
    max_cores: Option<usize>,
    canvas: Canvas,
) -> Result<()> {
    let radius = marker_radius(canvas);
    let mut points = series.points.clone();
    points.sort_by(|a, b| a.x.total_cmp(&b.x));
    let oversubscribed = |workers: f64| max_cores.is_some_and(|cores| workers > cores as f64);
    let color = style.color;

    plot.draw_series(LineSeries::new(
        points.iter().map(|point| (x.at(point.x), y.at(point.y))),
        LineKind::Data.style(color, canvas),
    ))
    .map_err(plot_error)?;

    let bar = color.stroke_width(canvas.stroke(2));
    plot.draw_series(points.iter().map(|point| {
        let at = x.at(point.x);
        PathElement::new(vec![(at, y.at(point.ci_low)), (at, y.at(point.ci_high))], bar)
    }))
    .map_err(plot_error)?;
    let cap_positions =
        points.iter().flat_map(|point| [point.ci_low, point.ci_high].map(|end| (x.at(point.x), y.at(end))));
    plot.draw_series(
        cap_positions.map(|end| EmptyElement::at(end) + PathElement::new(vec![(-radius, 0), (radius, 0)], bar)),
    )
    .map_err(plot_error)?;

    let glyph = move |filled| Glyph { marker: Some(style.marker), filled, color, line: None };
    plot.draw_series(points.iter().map(|point| {
        glyph(!oversubscribed(point.x)).at((x.at(point.x), y.at(point.y)), LEGEND_SAMPLE_WIDTH / 2, canvas)
    }))
    .map_err(plot_error)?;
    Ok(())
}

fn draw_cores<'a, DB: DrawingBackend + 'a>(
    plot: &mut Plot<'a, DB>,
    x: &Axis,
    y: &Axis,
    cores: usize,
    canvas: Canvas,
) -> Result<()> {
    let edge = x.at(cores as f64);
    let (bottom, top) = y.visible;
    if edge < x.visible.1 {
        plot.draw_series(std::iter::once(Rectangle::new(
            [(edge, bottom), (x.visible.1, top)],
            OVERSUBSCRIBED_SHADE.filled(),
        )))
        .map_err(plot_error)?;
    }
    plot.draw_series(DashedLineSeries::new(
        [(edge, bottom), (edge, top)],
        10,
        8,
        LineKind::Cores.style(CORES_GRAY, canvas),
    ))
    .map_err(plot_error)?;
    Ok(())
}

/// The legend text of the core-count marker.
pub(super) fn cores_label(cores: usize, shaded: bool) -> String {
    let noun = if cores == 1 { "core" } else { "cores" };
    if shaded {
        format!("{cores} {noun}; shaded: more workers than cores")
    } else {
        format!("{cores} {noun}")
    }
}

/// Plotters' errors are generic over the backend; keep their text only.
fn plot_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("plotting failed: {error}")
}

/// The radius of markers (and half width of error-bar caps) on `canvas`,
/// shrunk with its text: default-sized markers swamped a 400 × 300 legend.
fn marker_radius(canvas: Canvas) -> i32 {
    canvas.gap(MARKER_RADIUS).max(3)
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
    fn in_legend<DB: DrawingBackend>(self, (x, y): Pixel, canvas: Canvas) -> GlyphElement<Pixel, DB> {
        self.at((x + canvas.gap(LEGEND_COLUMN_WIDTH) / 2, y), canvas.gap(LEGEND_SAMPLE_WIDTH) / 2, canvas)
    }

    /// The glyph anchored at `at`, sized for `canvas`. Every glyph has the
    /// same parts (two line pieces, a filled shape, its outline); unused
    /// parts are transparent.
    fn at<DB: DrawingBackend, C>(self, at: C, half: i32, canvas: Canvas) -> GlyphElement<C, DB> {
        let radius = marker_radius(canvas);
        let invisible = TRANSPARENT.stroke_width(1);
        let (left_end, right_start, line_style) = match self.line {
            None => ((-half, 0), (half, 0), invisible),
            // A gap in the middle reads as "dashed" at legend size.
            Some(kind @ (LineKind::Fit | LineKind::Cores)) => {
                let gap = canvas.gap(5).max(2);
                ((-gap, 0), (gap, 0), kind.style(self.color, canvas))
            }
            Some(kind) => ((0, 0), (0, 0), kind.style(self.color, canvas)),
        };
        let (outline, fill, corners) = match self.marker {
            None => (invisible, invisible, vec![(0, 0); 3]),
            // Open markers get a white core so a line through them is hidden.
            Some(shape) if !self.filled => {
                (self.color.stroke_width(canvas.stroke(3)), WHITE.filled(), shape.corners(radius))
            }
            Some(shape) => (self.color.stroke_width(canvas.stroke(2)), self.color.filled(), shape.corners(radius)),
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
