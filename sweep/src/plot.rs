//! Charts of sweep results: a scatter-and-line plot for one varying axis, a
//! heatmap and a 3D surface for two. Each is written as PNG, SVG or PDF, as
//! its file's extension says, in the style the bench harness draws in: the
//! shared `charts` crate's font (the embedded DejaVu, no system fonts
//! needed), palette and renderer.

mod targets;

use targets::sibling;
pub use targets::{targets, Target};

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::point::Value;
pub use crate::spec::Labels;
use crate::store::{refuse_to_replace_results, write_atomically, Results, StoreError};
use charts::{Backend, Format, FONT};
use plotters::coord::ranged1d::{BoldPoints, DefaultFormatting, KeyPointHint, LightPoints, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

const SIZE: (u32, u32) = (1200, 900);

/// Values of `f` along one axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Coordinate name of the axis.
    pub axis: String,
    /// Name of the plotted value.
    pub value: String,
    /// `(coordinate, value)` pairs; drawn in increasing coordinate order.
    pub points: Vec<(f64, f64)>,
    /// Put the coordinate on a logarithmic axis (all coordinates must be
    /// positive), e.g. for a `Logspace`.
    pub log_axis: bool,
    /// Coordinates of points that failed: marked on the axis, in the legend.
    pub failed: Vec<f64>,
    /// Every coordinate of the axis, computed or not: the x range covers
    /// them, and those neither in `points` nor in `failed` are marked as not
    /// computed. May be empty (then the range is that of the points).
    pub domain: Vec<f64>,
}

/// Values of `f` on a rectangular grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid2 {
    /// Name of the horizontal axis.
    pub x_axis: String,
    /// Name of the other axis.
    pub y_axis: String,
    /// Name of the plotted value.
    pub value: String,
    /// Coordinates along `x_axis`, increasing.
    pub xs: Vec<f64>,
    /// Coordinates along `y_axis`, increasing.
    pub ys: Vec<f64>,
    /// `values[i * ys.len() + j]` is `f(xs[i], ys[j])`; `None` where the
    /// point is missing or failed.
    pub values: Vec<Option<f64>>,
    /// Same layout as `values`: `true` where the point failed (drawn apart
    /// from points not computed); may be empty when none failed.
    pub failed: Vec<bool>,
    /// Same layout as `values`: `true` where the cell is no point of the
    /// sweep (off the diagonal of a zip), left blank rather than counted as
    /// not computed; may be empty when every cell is a point.
    pub outside: Vec<bool>,
    /// Draw `x_axis` on a logarithmic scale (cells of equal width in
    /// log space, as a `Logspace`'s points are spaced); all `xs` must be
    /// positive.
    pub x_log: bool,
    /// The same for `y_axis`.
    pub y_log: bool,
}

/// A cell of a [`Grid2`]: `(i, j)` for `(xs[i], ys[j])`.
type Cell = (usize, usize);

impl Grid2 {
    fn at(&self, i: usize, j: usize) -> Option<f64> {
        self.values.get(i * self.ys.len() + j).copied().flatten()
    }

    fn failed_at(&self, i: usize, j: usize) -> bool {
        self.failed.get(i * self.ys.len() + j).copied().unwrap_or(false)
    }

    fn outside_at(&self, i: usize, j: usize) -> bool {
        self.outside.get(i * self.ys.len() + j).copied().unwrap_or(false)
    }

    /// The cells of failed points, and those of points without a value
    /// that did not fail (not computed), as `(i, j)`.
    fn holes(&self) -> (Vec<Cell>, Vec<Cell>) {
        let cells = (0..self.xs.len()).flat_map(|i| (0..self.ys.len()).map(move |j| (i, j)));
        let failed = cells.clone().filter(|&(i, j)| self.failed_at(i, j)).collect();
        let missing = cells
            .filter(|&(i, j)| self.at(i, j).is_none() && !self.failed_at(i, j) && !self.outside_at(i, j))
            .collect();
        (failed, missing)
    }

    fn value_range(&self) -> Option<(f64, f64)> {
        bounds(self.values.iter().flatten().copied())
    }
}

/// Why a chart cannot be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Nothing to draw.
    #[error("no successful points to plot")]
    NoData,
    /// The chart shape does not fit the data.
    #[error("{0}")]
    Unsupported(String),
    /// The chart could not be written.
    #[error("cannot write the chart {path}: {reason}")]
    Write {
        /// The chart being written.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The chart's path names a results file, which is not replaced.
    #[error("cannot write the chart")]
    Refused(#[source] StoreError),
    /// plotters failed (font, file, encoding).
    #[error("drawing {path}: {message}")]
    Drawing {
        /// The chart being written.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
}

/// The format a chart's path names by its extension.
fn format_of(path: &Path) -> Result<Format, PlotError> {
    Format::from_path(path).map_err(|error| PlotError::Unsupported(error.to_string()))
}

/// Draws a chart with `draw` and writes it to `path` in `format`:
/// atomically (complete or absent, never truncated) where `path` is or
/// will be a regular file; straight into it where it is a device or a pipe
/// (`/dev/stdout`), which a rename would replace.
fn save<T>(
    path: &Path,
    format: Format,
    title: &str,
    draw: impl FnOnce(&DrawingArea<Backend<'_>, Shift>) -> Result<T, PlotError>,
) -> Result<T, PlotError> {
    /// The drawing's own error, or the renderer's, which gets the path here.
    enum Failure {
        Plot(PlotError),
        Chart(charts::Error),
    }
    impl From<charts::Error> for Failure {
        fn from(error: charts::Error) -> Self {
            Failure::Chart(error)
        }
    }
    refuse_to_replace_results(path, "chart", &[]).map_err(PlotError::Refused)?;
    let title = title.replace('\n', " — ");
    let (drawn, bytes) = charts::render(format, SIZE, &title, |root| draw(root).map_err(Failure::Plot)).map_err(
        |failure| match failure {
            Failure::Plot(error) => error,
            Failure::Chart(error) => PlotError::Drawing { path: path.to_owned(), message: error.to_string() },
        },
    )?;
    let failed = |reason: String| PlotError::Write { path: path.to_owned(), reason };
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut out| std::io::Write::write_all(&mut out, &bytes))
            .map_err(|e| failed(e.to_string()))?;
    } else {
        write_atomically(path, |out| std::io::Write::write_all(out, &bytes)).map_err(|e| failed(io_reason(e)))?;
    }
    Ok(drawn)
}

/// The innermost reason of a store error, for a message that names the
/// chart rather than its temporary file.
fn io_reason(error: StoreError) -> String {
    match error {
        StoreError::Io { reason, .. } => reason.to_string(),
        other => other.to_string(),
    }
}

fn drawing_error(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> PlotError + '_ {
    move |e| PlotError::Drawing { path: path.to_owned(), message: e.to_string() }
}

fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Widens `[lo, hi]` by `fraction` of its span (or by 1 when flat) so
/// markers do not sit on the frame.
fn padded((lo, hi): (f64, f64), fraction: f64) -> std::ops::Range<f64> {
    let span = hi - lo;
    let pad = if span > 0.0 { span * fraction } else { lo.abs().max(1.0) * 0.5 };
    (lo - pad)..(hi + pad)
}

/// A linear axis as plotters draws it. plotters finds its ticks from the
/// drawn span `end - start`: an infinite span (values near ±DBL_MAX) makes
/// it loop forever, and a span below `f64::EPSILON` (values near 1e-300)
/// gets a single tick. Outside a safe band of spans the axis is drawn in
/// units of a power of ten, and its ticks are labelled with the values they
/// stand for.
#[derive(Debug, Clone, PartialEq)]
struct Linear {
    /// The value one drawn unit stands for: 1, or a power of ten.
    unit: f64,
    /// The drawn range, in units.
    range: std::ops::Range<f64>,
    /// Every value on the axis is a whole number (a `Range`): ticks are
    /// whole numbers too.
    integer: bool,
    /// How many tick labels to ask plotters for.
    ticks: usize,
    /// How every tick of the axis is written.
    format: TickFormat,
}

impl Linear {
    /// An axis over `[lo, hi]` widened by `fraction` of its span (see
    /// [`padded`]); `lo` and `hi` are finite.
    fn covering((lo, hi): (f64, f64), fraction: f64, integer: bool) -> Linear {
        let safe = |range: &std::ops::Range<f64>| (1e-12..=1e300).contains(&(range.end - range.start));
        let plain = padded((lo, hi), fraction);
        let (unit, range) = if safe(&plain) {
            (1.0, plain)
        } else {
            // Halves: their difference cannot overflow.
            let half = hi / 2.0 - lo / 2.0;
            let magnitude = if half > 0.0 { half } else { lo.abs() };
            let unit = 10f64.powi((magnitude.log10().floor() as i32).clamp(-307, 307));
            (unit, padded((lo / unit, hi / unit), fraction))
        };
        let mut axis = Linear { unit, range, integer, ticks: 10, format: TickFormat::Fixed(0) };
        axis.ticks = axis.most_ticks();
        axis.format = TickFormat::of(&axis.values());
        // Long labels (many significant digits) get fewer ticks, so they do
        // not run into each other along a horizontal axis.
        let widest = axis.values().iter().map(|&v| axis.format.write(v).chars().count()).max().unwrap_or(1);
        let fitting = (MAX_LABEL_CHARS / (widest + 2)).max(2);
        if fitting < axis.ticks {
            axis.ticks = fitting;
            axis.format = TickFormat::of(&axis.values());
        }
        axis
    }

    /// The values of the ticks plotters draws for this axis.
    fn values(&self) -> Vec<f64> {
        let ranged: RangedCoordf64 = self.range.clone().into();
        ranged.key_points(self.ticks).into_iter().filter_map(|drawn| self.value(drawn)).collect()
    }

    /// The value a tick drawn at `drawn` stands for, if it gets a label:
    /// float noise at zero (a tick at 1e-17 on an axis from -1 to 1) is 0,
    /// and whole-number axes label whole numbers only.
    fn value(&self, drawn: f64) -> Option<f64> {
        let span = self.range.end - self.range.start;
        let value = if drawn.abs() < span * 1e-9 { 0.0 } else { drawn * self.unit };
        // A tick past ±DBL_MAX stands for no value a point can have.
        if !value.is_finite() {
            return None;
        }
        if self.integer && (value - value.round()).abs() > 1e-9 * value.abs().max(1.0) {
            return None;
        }
        Some(value)
    }

    /// Where `value` is drawn.
    fn at(&self, value: f64) -> f64 {
        value / self.unit
    }

    /// The most tick labels to ask plotters for: whole-number axes get no
    /// more than they have whole numbers, so no step falls below 1.
    fn most_ticks(&self) -> usize {
        let (lo, hi) = (self.range.start * self.unit, self.range.end * self.unit);
        if self.integer && (hi - lo).is_finite() {
            ((hi.floor() - lo.ceil()) as usize + 1).clamp(2, 10)
        } else {
            10
        }
    }

    /// The most tick labels to ask plotters for.
    fn labels(&self) -> usize {
        self.ticks
    }

    /// About how many pixels the widest tick label takes at the label font.
    fn widest(&self) -> i32 {
        let chars = self.values().iter().map(|&v| self.format.write(v).chars().count()).max().unwrap_or(1);
        chars as i32 * LABEL_CHAR_PX
    }

    /// The label of the tick drawn at `drawn`: the value it stands for, in
    /// the axis's one format.
    fn label(&self, drawn: &f64) -> String {
        self.value(*drawn).map(|value| self.format.write(value)).unwrap_or_default()
    }
}

/// About the width of a digit of a tick label (DejaVu Sans at 22 px).
const LABEL_CHAR_PX: i32 = 14;

/// The most characters the tick labels of one axis take together, about
/// what fits along a chart's horizontal axis at the label font.
const MAX_LABEL_CHARS: usize = 70;

/// How the tick labels of one axis are written: all in one format, with
/// as many digits as the step between ticks needs (not the magnitude of
/// the values), so ticks at 100000, 100005, 100010 read so, not 1.0e5 each.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TickFormat {
    /// Fixed point with this many decimals.
    Fixed(usize),
    /// Scientific, with this many decimals in the mantissa.
    Scientific(usize),
}

impl TickFormat {
    /// The shortest format that writes every value of `ticks` exactly
    /// enough to tell it from its neighbours: fixed point unless its
    /// labels would be much longer than scientific ones (values far from
    /// 1 on a step of the same order).
    fn of(ticks: &[f64]) -> TickFormat {
        let largest = ticks.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let step = ticks.windows(2).map(|w| (w[1] - w[0]).abs()).filter(|d| *d > 0.0).fold(f64::INFINITY, f64::min);
        if largest == 0.0 || !largest.is_finite() {
            return TickFormat::Fixed(0);
        }
        // The digits a tick needs: down to the step's leading digit, or
        // down to 3 significant digits for a single tick.
        let finest = if step.is_finite() { step } else { largest / 100.0 };
        let exact = |format: TickFormat| {
            let mut seen = HashSet::new();
            ticks.iter().all(|&v| {
                let text = format.write(v);
                let read: f64 = text.parse().unwrap_or(f64::NAN);
                read.is_finite()
                    && (read - v).abs() <= (finest * 1e-2).max(v.abs() * 2.0 * f64::EPSILON)
                    && seen.insert(text)
            })
        };
        let fixed = (0..=20).map(TickFormat::Fixed).find(|&f| exact(f));
        let scientific = (0..=16).map(TickFormat::Scientific).find(|&f| exact(f)).unwrap_or(TickFormat::Scientific(16));
        let width = |format: TickFormat| ticks.iter().map(|&v| format.write(v).chars().count()).max().unwrap_or(0);
        match fixed {
            Some(fixed) if width(fixed) <= 8 || width(fixed) <= width(scientific) => fixed,
            _ => scientific,
        }
    }

    fn write(self, value: f64) -> String {
        let text = match self {
            // Zero has no exponent to share with its neighbours: "0", not
            // "0.0e0". In fixed point it has their decimals ("0.0" beside
            // "-0.5"), like every tick of the axis.
            TickFormat::Scientific(_) if value == 0.0 => return "0".to_owned(),
            TickFormat::Fixed(decimals) => format!("{value:.decimals$}"),
            TickFormat::Scientific(decimals) => format!("{value:.decimals$e}"),
        };
        // A value that rounds to zero is no negative number.
        if text.starts_with('-') && text.trim_start_matches('-').chars().all(|c| matches!(c, '0' | '.')) {
            text[1..].to_owned()
        } else {
            text
        }
    }
}

/// Whether every value is a whole number (a `Range` axis, or a `List` of
/// whole numbers): its ticks are whole numbers too.
fn whole(values: impl IntoIterator<Item = f64>) -> bool {
    let mut any = false;
    values.into_iter().all(|v| {
        any = true;
        v.fract() == 0.0 && v.abs() < 1e15
    }) && any
}

/// Perceptually uniform colour for `t` in `[0, 1]` (matplotlib's viridis,
/// sampled at nine stops and interpolated linearly).
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let scaled = t * (STOPS.len() - 1) as f64;
    let i = (scaled.floor() as usize).min(STOPS.len() - 2);
    let f = scaled - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Tick label text: few significant digits, no float noise.
fn tick(v: &f64) -> String {
    let v = *v;
    let magnitude = v.abs();
    if magnitude != 0.0 && !(1e-3..1e5).contains(&magnitude) {
        format!("{v:.1e}")
    } else {
        let text = format!("{v:.4}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".to_owned()
        } else {
            text.to_owned()
        }
    }
}

/// The title's font size, the size of a notice line below it, and the
/// smallest size an axis name is shrunk to before it is shortened.
const TITLE_FONT: u32 = 36;
const NOTICE_FONT: u32 = 28;
const SMALLEST_FONT: u32 = 16;

/// Draws `title` centred at the top of `area` and returns the area below
/// it, and the lines as set. Its first line is bold; a line after a line
/// break (a partial sweep's notice, "22 of 33 points, 11 failed") stands
/// on a line of its own in the regular face. A line too wide for the chart
/// is set smaller, down to 24 pixels, and then wrapped at spaces: no part
/// of the title is cut off.
fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<Titled<DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let available = area.dim_in_pixel().0 as i32 - 40;
    let mut lines = Vec::new();
    for (n, line) in title.split('\n').enumerate() {
        let (largest, style) = if n == 0 { (TITLE_FONT, FontStyle::Bold) } else { (NOTICE_FONT, FontStyle::Normal) };
        let width = |text: &str, size: u32| -> Result<i32, DrawingAreaErrorKind<DB::ErrorType>> {
            Ok(area.estimate_text_size(text, &(FONT, size, style).into_font().color(&BLACK))?.0 as i32)
        };
        let mut size = largest;
        while size > SMALLEST_FONT + 8 && width(line, size)? > available {
            size -= 2;
        }
        // Still too wide: wrapped at spaces, each piece as wide as fits.
        let mut current = String::new();
        for word in line.split(' ') {
            let longer = if current.is_empty() { word.to_owned() } else { format!("{current} {word}") };
            if !current.is_empty() && width(&longer, size)? > available {
                lines.push(TitleLine { text: std::mem::replace(&mut current, word.to_owned()), size, style });
            } else {
                current = longer;
            }
        }
        lines.push(TitleLine { text: current, size, style });
    }
    let centre = area.dim_in_pixel().0 as i32 / 2;
    let mut y = 12;
    for line in &lines {
        let font = (FONT, line.size, line.style).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
        area.draw_text(&line.text, &font, (centre, y))?;
        y += line.size as i32 * 5 / 4;
    }
    Ok((area.split_vertically(y + 8).1, lines))
}

/// The area below a title, and the title's lines as set.
type Titled<DB> = (DrawingArea<DB, Shift>, Vec<TitleLine>);

/// One line of a chart's title as drawn.
#[derive(Clone)]
struct TitleLine {
    text: String,
    size: u32,
    style: FontStyle,
}

/// `text` set at the largest size from `largest` down to SMALLEST_FONT
/// at which it fits `available` pixels, shortened in the middle ("…") if
/// it fits at none: an axis name is never cut off at the image's edge.
fn fitted<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    largest: u32,
    available: i32,
) -> Result<(String, u32), DrawingAreaErrorKind<DB::ErrorType>> {
    let width = |text: &str, size: u32| -> Result<i32, DrawingAreaErrorKind<DB::ErrorType>> {
        Ok(area.estimate_text_size(text, &(FONT, size).into_font().color(&BLACK))?.0 as i32)
    };
    let mut size = largest;
    while size > SMALLEST_FONT && width(text, size)? > available {
        size -= 1;
    }
    let mut shown = text.to_owned();
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 8 && width(&shown, size)? > available {
        keep -= 2;
        let head: String = chars[..keep / 2].iter().collect();
        let tail: String = chars[chars.len() - keep / 2..].iter().collect();
        shown = format!("{head}…{tail}");
    }
    Ok((shown, size))
}

/// `text` set to fit `available` pixels in at most `max_lines` lines: on
/// one line at the largest size from `largest` down to a readable 20
/// pixels, else wrapped (at spaces, and after the `_` of a long name)
/// onto two or more lines at the largest size that fits, down to
/// SMALLEST_FONT; shortened in the middle by [`fitted`] if nothing fits.
/// An axis name is never cut off at the image's edge.
fn wrapped<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    largest: u32,
    available: i32,
    max_lines: usize,
) -> Result<(Vec<String>, u32), DrawingAreaErrorKind<DB::ErrorType>> {
    let width = |text: &str, size: u32| -> Result<i32, DrawingAreaErrorKind<DB::ErrorType>> {
        Ok(area.estimate_text_size(text, &(FONT, size).into_font().color(&BLACK))?.0 as i32)
    };
    // Pieces that may start a line: a word, or the part of a word after a `_`.
    let mut pieces: Vec<String> = Vec::new();
    for (n, word) in text.split(' ').enumerate() {
        for (m, part) in word.split_inclusive('_').enumerate() {
            let space = if n > 0 && m == 0 { " " } else { "" };
            pieces.push(format!("{space}{part}"));
        }
    }
    for lines in 1..=max_lines.max(1) {
        let smallest = if lines == 1 { 20.min(largest) } else { SMALLEST_FONT };
        for size in (smallest..=largest).rev() {
            let mut set: Vec<String> = Vec::new();
            let mut current = String::new();
            for piece in &pieces {
                let longer = format!("{current}{piece}");
                if !current.is_empty() && width(&longer, size)? > available {
                    set.push(std::mem::take(&mut current));
                    current = piece.trim_start().to_owned();
                } else {
                    current = longer;
                }
            }
            set.push(current);
            let mut fits = set.len() <= lines;
            for line in &set {
                fits = fits && width(line, size)? <= available;
            }
            if fits {
                return Ok((set, size));
            }
        }
    }
    let (shown, size) = fitted(area, text, SMALLEST_FONT, available)?;
    Ok((vec![shown], size))
}

/// Scatter plot of `curve` joined by a line, written to `path` (PNG, SVG
/// or PDF, by its extension).
pub fn line_plot(curve: &Curve, labels: &Labels, path: &Path) -> Result<(), PlotError> {
    draw_line_plot(curve, labels, path, format_of(path)?).map(drop)
}

/// Where a chart's parts landed, in pixels of the image: what tests check
/// the picture against.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    /// The plot area.
    plot: PixelBox,
    /// The legend's frame, if the chart has a legend.
    legend: Option<PixelBox>,
    /// The centre of every data marker.
    data: Vec<(i32, i32)>,
    /// The boxes of the texts a surface places itself, by what they are:
    /// "x ticks", "y ticks" (the grid's axes' tick labels), "x name", "y name".
    texts: Vec<(&'static str, PixelBox)>,
}

/// A rectangle of pixels, edges included.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PixelBox {
    left: i32,
    top: i32,
    right: i32,
    bottom: i32,
}

impl PixelBox {
    /// Whether this box and `other`, each grown by `pad` pixels, share a pixel.
    fn overlaps(&self, other: &PixelBox, pad: i32) -> bool {
        self.left - pad <= other.right
            && other.left - pad <= self.right
            && self.top - pad <= other.bottom
            && other.top - pad <= self.bottom
    }

    #[cfg(test)]
    fn contains(&self, (x, y): (i32, i32)) -> bool {
        (self.left..=self.right).contains(&x) && (self.top..=self.bottom).contains(&y)
    }

    fn of<DB: DrawingBackend, CT: CoordTranslate>(area: &DrawingArea<DB, CT>) -> PixelBox {
        let (x, y) = area.get_pixel_range();
        PixelBox { left: x.start, top: y.start, right: x.end - 1, bottom: y.end - 1 }
    }
}

fn draw_line_plot(curve: &Curve, labels: &Labels, path: &Path, format: Format) -> Result<Layout, PlotError> {
    let err = drawing_error(path);
    let mut points = curve.points.clone();
    points.retain(|(x, y)| x.is_finite() && y.is_finite());
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    if points.is_empty() {
        return Err(PlotError::NoData);
    }
    let missing = not_computed(curve);
    let x_range = x_extent(curve).ok_or(PlotError::NoData)?;
    let y_range = bounds(points.iter().map(|p| p.1)).ok_or(PlotError::NoData)?;
    let value_label = labels.value.clone().unwrap_or_else(|| curve.value.clone());
    let axis_label = labels.axis(&curve.axis);
    let title = labels.title.clone().unwrap_or_else(|| format!("{value_label} as a function of {axis_label}"));

    if curve.log_axis && x_range.0 <= 0.0 {
        return Err(PlotError::Unsupported(format!(
            "axis {:?} has values ≤ 0 and cannot be drawn on a logarithmic scale",
            curve.axis
        )));
    }
    let y_axis = Linear::covering(y_range, 0.06, false);
    let x_axis = line_x_axis(curve, x_range, &points, axis_label);
    let drawn: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x, y_axis.at(y))).collect();
    // The line stops at points without a value: it would claim values there.
    let gaps: Vec<f64> = missing.iter().chain(&curve.failed).copied().filter(|x| x.is_finite()).collect();
    let mut entries = Vec::new();
    if runs(&points, &gaps).iter().any(|run| run.len() > 1) {
        entries.push(Entry { sample: Sample::Line(charts::PALETTE[0]), label: "linear interpolation".into() });
    }
    let label = format!("evaluated points (n = {})", points.len());
    entries.push(Entry { sample: Sample::Dot(charts::PALETTE[0]), label });
    if !missing.is_empty() {
        entries.push(Entry { sample: Sample::Ring(GREY), label: format!("not computed (n = {})", missing.len()) });
    }
    if !curve.failed.is_empty() {
        let label = format!("failed points (n = {})", curve.failed.len());
        entries.push(Entry { sample: Sample::Cross(RED), label });
    }
    let curve_data = CurveData { points: &drawn, failed: &curve.failed, missing: &missing, gaps: &gaps };

    save(path, format, &title, |root| {
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (below, _) = titled(root, &title).map_err(|e| err(&e))?;
        let rows = legend_rows(root, &entries, SIZE.0 as i32 - 60).map_err(|e| err(&e))?;
        let (upper, band) = below.split_vertically(below.dim_in_pixel().1 as i32 - legend_height(rows.len()));
        // The value's name runs along the y axis: as long as the plot is high.
        let y_room = upper.dim_in_pixel().1 as i32 - 110;
        let (value_label, desc_size) = fitted(&upper, &value_label, 28, y_room).map_err(|e| err(&e))?;
        let x_widest = x_axis.widest;
        let builder = || {
            let mut builder = ChartBuilder::on(&upper);
            // The style goes in the constructor: `FontDesc::style` keeps the
            // regular face in the PNG (and only the vector formats went bold).
            builder
                .margin(30)
                .margin_top(10)
                .margin_bottom(0)
                // Room for the widest labels: the last x tick's half
                // reaches past the plot, the y ticks stand left of it.
                .margin_right(30.max(x_widest / 2 + 10))
                .x_label_area_size(80)
                .y_label_area_size(110.max(y_axis.widest() + 50));
            builder
        };
        let y_format = |v: &f64| y_axis.label(v);
        // The two scales are different coordinate types, hence two calls.
        let x_axis = &x_axis;
        let scaled = |xs: &[f64]| xs.iter().map(|&x| (x_axis.at)(x)).collect::<Vec<_>>();
        let (points, failed, missing, gaps) = (
            curve_data.points.iter().map(|&(x, y)| ((x_axis.at)(x), y)).collect::<Vec<_>>(),
            scaled(curve_data.failed),
            scaled(curve_data.missing),
            scaled(curve_data.gaps),
        );
        let chart = builder().build_cartesian_2d(x_axis.range.clone(), y_axis.range.clone()).map_err(|e| err(&e))?;
        let axes = Axes {
            x_label: &x_axis.label,
            y_label: &value_label,
            x_labels: x_axis.labels,
            y_labels: y_axis.labels(),
            desc_size,
        };
        let data = CurveData { points: &points, failed: &failed, missing: &missing, gaps: &gaps };
        let (plot, data) = draw_curve(chart, data, axes, &x_axis.format, &y_format).map_err(|e| err(&e))?;
        let centre = (plot.left + plot.right) / 2;
        let legend = draw_legend(&band, &entries, &rows, centre).map_err(|e| err(&e))?;
        Ok(Layout { plot, legend: Some(legend), data, texts: Vec::new() })
    })
}

/// The x axis of a line plot as drawn: a log axis is drawn as the decimal
/// logarithm of its values on a linear scale and labelled by
/// [`log_labels`], as on a heatmap, not by plotters' log scale, whose
/// ticks are inexact (9.999999999999999e-6).
struct LineX {
    at: Box<dyn Fn(f64) -> f64>,
    range: std::ops::Range<f64>,
    format: Box<dyn Fn(&f64) -> String>,
    labels: usize,
    label: String,
    /// About how many pixels the widest tick label takes.
    widest: i32,
}

/// The x axis of `curve`, whose values with a value are `points` and
/// which spans `x_range` (positive on a log axis).
fn line_x_axis(curve: &Curve, x_range: (f64, f64), points: &[(f64, f64)], label: String) -> LineX {
    if curve.log_axis {
        let (lo, hi) = (x_range.0.log10(), x_range.1.log10());
        let format = log_labels(&[lo, hi]);
        // Pad by a ratio (1.25), not a difference.
        let range = if hi > lo { (lo - 0.1)..(hi + 0.1) } else { (lo - 0.5)..(hi + 0.5) };
        let label = format!("{label} (log scale)");
        // The last tick's label reaches past the plot by half its width.
        let ticks: RangedCoordf64 = range.clone().into();
        let widest = ticks.key_points(10).iter().map(|v| format(v).chars().count()).max().unwrap_or(0);
        let widest = widest as i32 * LABEL_CHAR_PX;
        return LineX { at: Box::new(f64::log10), range, format, labels: 10, label, widest };
    }
    let integer = whole(curve.domain.iter().chain(points.iter().map(|p| &p.0)).copied());
    let axis = Linear::covering(x_range, 0.04, integer);
    let (range, labels, widest) = (axis.range.clone(), axis.labels(), axis.widest());
    let scale = axis.clone();
    LineX { at: Box::new(move |x| scale.at(x)), range, format: Box::new(move |v| axis.label(v)), labels, label, widest }
}

/// The x range of a line plot: every coordinate of the axis, computed or
/// not, so a partial sweep shows where its missing points lie.
fn x_extent(curve: &Curve) -> Option<(f64, f64)> {
    let points = curve.points.iter().map(|p| p.0);
    bounds(points.chain(curve.failed.iter().copied()).chain(curve.domain.iter().copied()).filter(|x| x.is_finite()))
}

/// The coordinates of `curve.domain` that neither have a value nor failed.
fn not_computed(curve: &Curve) -> Vec<f64> {
    let known = |x: &f64| curve.points.iter().map(|p| p.0).chain(curve.failed.iter().copied()).any(|k| k == *x);
    curve.domain.iter().copied().filter(|x| x.is_finite() && !known(x)).collect()
}

/// What a line plot draws, in drawn coordinates.
#[derive(Clone, Copy)]
struct CurveData<'a> {
    /// The points with a value, in increasing x.
    points: &'a [(f64, f64)],
    /// Where points failed: crosses on the bottom edge.
    failed: &'a [f64],
    /// Where points are not computed: rings on the bottom edge.
    missing: &'a [f64],
    /// Where the line stops: between two points with one of these between.
    gaps: &'a [f64],
}

/// The names of a line plot's axes and how many ticks to ask for.
struct Axes<'a> {
    x_label: &'a str,
    y_label: &'a str,
    x_labels: usize,
    y_labels: usize,
    /// The font size of the axis names.
    desc_size: u32,
}

const GREY: RGBColor = RGBColor(150, 150, 150);
const RED: RGBColor = RGBColor(214, 39, 40);

/// The runs of `points` (sorted by x) with no gap between neighbours.
fn runs<'a>(points: &'a [(f64, f64)], gaps: &[f64]) -> Vec<&'a [(f64, f64)]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=points.len() {
        let split = i == points.len() || gaps.iter().any(|&g| points[i - 1].0 < g && g < points[i].0);
        if split {
            runs.push(&points[start..i]);
            start = i;
        }
    }
    runs
}

/// Draws the mesh, the line and the markers on a prepared chart; returns
/// the plot area and where the markers landed.
fn draw_curve<'a, DB: DrawingBackend + 'a, X>(
    mut chart: ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    CurveData { points, failed, missing, gaps }: CurveData<'_>,
    Axes { x_label, y_label, x_labels, y_labels, desc_size }: Axes<'_>,
    x_format: &dyn Fn(&f64) -> String,
    y_format: &dyn Fn(&f64) -> String,
) -> Result<(PixelBox, Markers), DrawingAreaErrorKind<DB::ErrorType>>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .axis_desc_style((FONT, desc_size))
        .label_style((FONT, 22))
        .x_labels(x_labels)
        .y_labels(y_labels)
        .x_label_formatter(x_format)
        .y_label_formatter(y_format)
        .light_line_style(BLACK.mix(0.05))
        .bold_line_style(BLACK.mix(0.15))
        .draw()?;
    let line_colour = charts::PALETTE[0];
    for run in runs(points, gaps) {
        chart.draw_series(LineSeries::new(run.iter().copied(), line_colour.mix(0.5).stroke_width(2)))?;
    }
    chart.draw_series(points.iter().map(|&(x, y)| Circle::new((x, y), 7, line_colour.filled())))?;
    let bottom = chart.y_range().start;
    // Hollow grey circles on the bottom edge: points of the sweep with no
    // value yet (the heatmap's grey cells); red crosses: failed points.
    chart.draw_series(missing.iter().map(|&x| Circle::new((x, bottom), 7, GREY.stroke_width(2))))?;
    chart.draw_series(failed.iter().map(|&x| Cross::new((x, bottom), 9, RED.stroke_width(3))))?;
    let data = points.iter().map(|p| chart.backend_coord(p)).collect();
    Ok((PixelBox::of(chart.plotting_area()), data))
}

/// The pixel centres of a chart's data markers.
type Markers = Vec<(i32, i32)>;

/// One row of a legend: (entry index, width in pixels) for each entry.
type LegendRow = Vec<(usize, i32)>;

/// A legend entry: its sample and its text.
struct Entry {
    sample: Sample,
    label: String,
}

/// The sample drawn beside a legend entry's text.
#[derive(Clone, Copy)]
enum Sample {
    /// The interpolation line.
    Line(RGBColor),
    /// A filled circle.
    Dot(RGBColor),
    /// A hollow circle.
    Ring(RGBColor),
    /// A cross.
    Cross(RGBColor),
    /// A filled square (a heatmap cell).
    Square(RGBColor),
}

const LEGEND_FONT: u32 = 22;
const LEGEND_ROW: i32 = 34;
const LEGEND_PADDING: i32 = 12;
/// The width of an entry's sample column, and the gap between entries.
const LEGEND_SAMPLE: i32 = 40;
const LEGEND_GAP: i32 = 36;
const LEGEND_BORDER: RGBColor = RGBColor(150, 150, 150);

/// The legend's entries in rows that fit `available` pixels: each row is a
/// list of (entry, width).
fn legend_rows<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    available: i32,
) -> Result<Vec<LegendRow>, DrawingAreaErrorKind<DB::ErrorType>> {
    let font = (FONT, LEGEND_FONT).into_font().color(&BLACK);
    let mut rows: Vec<Vec<(usize, i32)>> = Vec::new();
    let mut used = 0;
    for (index, entry) in entries.iter().enumerate() {
        let width = LEGEND_SAMPLE + area.estimate_text_size(&entry.label, &font)?.0 as i32;
        match rows.last_mut() {
            Some(row) if used + LEGEND_GAP + width <= available - 2 * LEGEND_PADDING => {
                row.push((index, width));
                used += LEGEND_GAP + width;
            }
            _ => {
                rows.push(vec![(index, width)]);
                used = width;
            }
        }
    }
    Ok(rows)
}

/// The height of the band below a chart that holds a legend of `rows` rows.
fn legend_height(rows: usize) -> i32 {
    rows as i32 * LEGEND_ROW + 2 * LEGEND_PADDING + 24
}

/// Draws the legend in `band` (below the plot, where it covers no data),
/// centred on the image column `centre`; returns its frame in image pixels.
fn draw_legend<DB: DrawingBackend>(
    band: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    rows: &[Vec<(usize, i32)>],
    centre: i32,
) -> Result<PixelBox, DrawingAreaErrorKind<DB::ErrorType>> {
    let (base_x, base_y) = band.get_base_pixel();
    let band_width = band.dim_in_pixel().0 as i32;
    let row_width =
        |row: &Vec<(usize, i32)>| row.iter().map(|e| e.1).sum::<i32>() + LEGEND_GAP * (row.len() as i32 - 1);
    let width = rows.iter().map(row_width).max().unwrap_or(0) + 2 * LEGEND_PADDING;
    let left = (centre - base_x - width / 2).clamp(0, (band_width - width - 1).max(0));
    let top = 8;
    let height = rows.len() as i32 * LEGEND_ROW + 2 * LEGEND_PADDING;
    band.draw(&Rectangle::new([(left, top), (left + width, top + height)], LEGEND_BORDER.stroke_width(1)))?;
    let font = (FONT, LEGEND_FONT).into_font().color(&BLACK);
    for (r, row) in rows.iter().enumerate() {
        let y = top + LEGEND_PADDING + r as i32 * LEGEND_ROW + LEGEND_ROW / 2;
        let mut x = left + LEGEND_PADDING + (width - 2 * LEGEND_PADDING - row_width(row)) / 2;
        for &(index, entry_width) in row {
            let entry = &entries[index];
            match entry.sample {
                Sample::Line(c) => {
                    band.draw(&PathElement::new(vec![(x, y), (x + 30, y)], c.mix(0.5).stroke_width(2)))?
                }
                Sample::Dot(c) => band.draw(&Circle::new((x + 15, y), 7, c.filled()))?,
                Sample::Ring(c) => band.draw(&Circle::new((x + 15, y), 7, c.stroke_width(2)))?,
                Sample::Cross(c) => band.draw(&Cross::new((x + 15, y), 7, c.stroke_width(3)))?,
                Sample::Square(c) => band.draw(&Rectangle::new([(x + 7, y - 8), (x + 23, y + 8)], c.filled()))?,
            }
            band.draw_text(&entry.label, &font, (x + LEGEND_SAMPLE, y - LEGEND_FONT as i32 / 2 + 1))?;
            x += entry_width + LEGEND_GAP;
        }
    }
    Ok(PixelBox { left: base_x + left, top: base_y + top, right: base_x + left + width, bottom: base_y + top + height })
}

/// Cell edges for centres `cs`: midpoints between neighbours, extended by
/// half a step at both ends.
fn cell_edges(cs: &[f64]) -> Vec<f64> {
    match cs {
        [] => Vec::new(),
        [only] => vec![only - 0.5, only + 0.5],
        _ => {
            let mut edges = Vec::with_capacity(cs.len() + 1);
            edges.push(cs[0] - (cs[1] - cs[0]) / 2.0);
            edges.extend(cs.windows(2).map(|w| (w[0] + w[1]) / 2.0));
            let n = cs.len();
            edges.push(cs[n - 1] + (cs[n - 1] - cs[n - 2]) / 2.0);
            edges
        }
    }
}

/// One axis of a [`Grid2`] as drawn: coordinates where the chart puts
/// them (a log axis is drawn as the decimal logarithm of its values on a
/// linear scale, so a `Logspace`'s cells are equally wide), the formatter
/// that labels them with the values they stand for, and the axis title.
struct DrawnAxis {
    at: Vec<f64>,
    format: Box<dyn Fn(&f64) -> String>,
    label: String,
    /// How many tick labels to ask plotters for.
    labels: usize,
    /// About how many pixels the widest tick label takes.
    widest: i32,
}

impl DrawnAxis {
    fn new(name: &str, values: &[f64], log: bool, labels: &Labels) -> Result<Self, PlotError> {
        let label = labels.axis(name);
        if !log {
            let ends = bounds(values.iter().copied()).unwrap_or((0.0, 1.0));
            let axis = Linear::covering(ends, 0.0, whole(values.iter().copied()));
            let at = values.iter().map(|&v| axis.at(v)).collect();
            let (labels, widest) = (axis.labels(), axis.widest());
            return Ok(DrawnAxis { at, format: Box::new(move |v| axis.label(v)), label, labels, widest });
        }
        if values.iter().any(|&v| v <= 0.0) {
            return Err(PlotError::Unsupported(format!(
                "axis {name:?} has values ≤ 0 and cannot be drawn on a logarithmic scale"
            )));
        }
        let at: Vec<f64> = values.iter().map(|v| v.log10()).collect();
        let format = log_labels(&at);
        Ok(DrawnAxis { at, format, label: format!("{label} (log scale)"), labels: 10, widest: LOG_WIDEST })
    }
}

/// About the widest tick label of a log axis: "2.51×10⁻³⁰⁰".
const LOG_WIDEST: i32 = 8 * LABEL_CHAR_PX;

/// The tick labels of a log axis drawn as the decimal logarithms `drawn`
/// of its values on a linear scale (every chart's log axes: heatmaps,
/// surfaces, line plots). Over a decade or more, only the decades are
/// labelled (the other ticks stand for values like 316.2278); within one,
/// every tick is.
fn log_labels(drawn: &[f64]) -> Box<dyn Fn(&f64) -> String> {
    let (lo, hi) = bounds(drawn.iter().copied()).unwrap_or((0.0, 0.0));
    let write = log_tick(10f64.powf(lo), 10f64.powf(hi));
    if hi - lo >= 1.0 {
        Box::new(move |v: &f64| if (v - v.round()).abs() < 1e-9 { write(10f64.powf(v.round())) } else { String::new() })
    } else {
        Box::new(move |v: &f64| write(10f64.powf(*v)))
    }
}

/// The tick text of a log axis over `[lo, hi]`: plain numbers when every
/// tick reads well so, else powers of ten for all (not 10000 beside 10⁵):
/// `10⁻⁶`, and `3.16×10⁻⁷` between decades. A value within float noise of
/// a decade is that decade (`10f64.powf(-5.0)` need not be 1e-5 exactly).
fn log_tick(lo: f64, hi: f64) -> impl Fn(f64) -> String {
    let plain = lo >= 1e-3 && hi < 1e5;
    move |v| {
        if !(v.is_finite() && v > 0.0) {
            return tick(&v);
        }
        if plain {
            // Three significant digits, as between decades below: a tick
            // between decades is 10^(k/n), never a round number
            // (125.8925 read in full).
            let scale = 10f64.powf(2.0 - v.log10().floor());
            return tick(&((v * scale).round() / scale));
        }
        let mut exponent = v.log10().floor();
        // Three significant digits; a mantissa that rounds up to 10 is the next decade.
        let mut mantissa = (v / 10f64.powf(exponent) * 100.0).round() / 100.0;
        if mantissa >= 10.0 {
            mantissa /= 10.0;
            exponent += 1.0;
        }
        let power = format!("10{}", superscript(exponent as i32));
        if mantissa == 1.0 {
            power
        } else {
            format!("{}×{power}", tick(&mantissa))
        }
    }
}

/// `n` in superscript digits (DejaVu Sans, the charts' font, has them).
fn superscript(n: i32) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits = n.unsigned_abs().to_string();
    let digits = digits.bytes().map(|d| DIGITS[usize::from(d - b'0')]);
    (n < 0).then_some('⁻').into_iter().chain(digits).collect()
}

/// Grey of the cells of points not computed.
const MISSING: RGBColor = RGBColor(200, 200, 200);
/// The smallest heatmap cell drawn, in pixels.
const MIN_CELL: i32 = 5;

/// Where a drawn value falls between the drawn ends of the values `lo..hi`,
/// 0 to 1; the middle (0.5) when all values are equal, so a constant field
/// is not drawn in the colour of the lowest value of some range.
fn shading(axis: &Linear, (lo, hi): (f64, f64)) -> impl Fn(f64) -> f64 {
    let (lo, hi) = (axis.at(lo), axis.at(hi));
    move |drawn| if hi > lo { (drawn - lo) / (hi - lo) } else { 0.5 }
}

/// The light grid lines a 3D chart draws between two ticks, at most.
const LIGHT_LINES: usize = 4;

/// The value scale over the values `lo..hi` drawn on `axis` (a colour bar,
/// a surface's vertical axis), with its ticks: those of `axis`, or, when
/// every value is `lo`, one tick at that value. The padding around a single
/// value holds no values a tick could name, and a tick without a label
/// reads as a value nobody can tell.
fn value_scale(axis: &Linear, (lo, hi): (f64, f64)) -> ValueScale {
    let drawn: RangedCoordf64 = axis.range.clone().into();
    let bold = if lo == hi { vec![axis.at(lo)] } else { drawn.key_points(BoldPoints(axis.labels())) };
    let light = drawn.key_points(LightPoints::new(axis.labels(), axis.labels() * LIGHT_LINES));
    ValueScale { drawn, bold, light }
}

/// A linear scale whose ticks are given, not found by plotters. Not
/// plotters' `WithKeyPoints`: it has no f64 label formatter, and none can
/// be added to it outside plotters.
#[derive(Clone)]
struct ValueScale {
    drawn: RangedCoordf64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for ValueScale {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.drawn.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.drawn.range()
    }
}

/// The tick labels of [`value_scale`]: those of `axis`, or the one value
/// exactly (not rounded to the step of an axis it has no use for).
fn value_labels(axis: &Linear, (lo, hi): (f64, f64)) -> impl Fn(&f64) -> String + '_ {
    move |drawn| if lo == hi { format!("{lo}") } else { axis.label(drawn) }
}

/// Heatmap of `grid` with a colour bar; missing points are grey.
pub fn heatmap(grid: &Grid2, labels: &Labels, path: &Path) -> Result<(), PlotError> {
    draw_heatmap(grid, labels, path, format_of(path)?).map(drop)
}

fn draw_heatmap(grid: &Grid2, labels: &Labels, path: &Path, format: Format) -> Result<Layout, PlotError> {
    let err = drawing_error(path);
    let (lo, hi) = grid.value_range().ok_or(PlotError::NoData)?;
    let values = Linear::covering((lo, hi), 0.0, false);
    let shade = shading(&values, (lo, hi));
    let colour = |v: f64| viridis(shade(values.at(v)));
    let x = DrawnAxis::new(&grid.x_axis, &grid.xs, grid.x_log, labels)?;
    let y = DrawnAxis::new(&grid.y_axis, &grid.ys, grid.y_log, labels)?;
    let x_edges = cell_edges(&x.at);
    let y_edges = cell_edges(&y.at);
    let (x_first, x_last) = (x_edges[0], x_edges[x_edges.len() - 1]);
    let (y_first, y_last) = (y_edges[0], y_edges[y_edges.len() - 1]);
    let value_label = labels.value.clone().unwrap_or_else(|| grid.value.clone());
    let (x_label, y_label) = (x.label.clone(), y.label.clone());
    let title = labels.title.clone().unwrap_or_else(|| {
        format!("{value_label} over ({}, {})", labels.axis(&grid.x_axis), labels.axis(&grid.y_axis))
    });

    save(path, format, &title, |root| {
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (root, _) = titled(&root.margin(0, 0, 0, 15), &title).map_err(|e| err(&e))?;
        let (failed_cells, missing_cells) = grid.holes();
        let mut entries = Vec::new();
        for (holes, fill, what) in [(&failed_cells, RED, "failed"), (&missing_cells, MISSING, "not computed")] {
            if !holes.is_empty() {
                entries.push(Entry { sample: Sample::Square(fill), label: format!("{what} ({})", holes.len()) });
            }
        }
        let rows = legend_rows(&root, &entries, SIZE.0 as i32 - 60).map_err(|e| err(&e))?;
        let band_height = if entries.is_empty() { 0 } else { legend_height(rows.len()) };
        let (upper, band) = root.split_vertically(root.dim_in_pixel().1 as i32 - band_height);
        let (main, bar) = upper.split_horizontally(SIZE.0 - 230);
        // Axis names as long as their axes (the colour bar's runs along it).
        let (y_label, desc_size) =
            fitted(&main, &y_label, 28, main.dim_in_pixel().1 as i32 - 140).map_err(|e| err(&e))?;
        let bar_room = bar.dim_in_pixel().1 as i32 - 130;
        let value_label = if lo == hi { format!("{value_label} (every value is {lo})") } else { value_label.clone() };
        let (value_label, bar_size) = fitted(&bar, &value_label, 26, bar_room).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&main)
            .margin(20)
            .margin_right(20.max(x.widest / 2 + 5))
            .x_label_area_size(80)
            .y_label_area_size(110.max(y.widest + 50))
            .build_cartesian_2d(x_first..x_last, y_first..y_last)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&x_label)
            .y_desc(&y_label)
            .axis_desc_style((FONT, desc_size))
            .label_style((FONT, 22))
            .x_labels(x.labels)
            .y_labels(y.labels)
            .x_label_formatter(&x.format)
            .y_label_formatter(&y.format)
            .draw()
            .map_err(|e| err(&e))?;
        // Cells under MIN_CELL pixels are drawn as squares of MIN_CELL
        // around their centre: a few computed points of a huge grid stay
        // visible. Not-computed cells go first, so nothing covers a value.
        let plot = PixelBox::of(chart.plotting_area());
        let tiny = (plot.right - plot.left) < MIN_CELL * grid.xs.len() as i32
            || (plot.bottom - plot.top) < MIN_CELL * grid.ys.len() as i32;
        let pixels = chart.as_coord_spec().clone();
        let cell = |i: usize, j: usize, fill: RGBColor| {
            let centre = ((x_edges[i] + x_edges[i + 1]) / 2.0, (y_edges[j] + y_edges[j + 1]) / 2.0);
            let r = MIN_CELL / 2;
            if tiny {
                EmptyElement::at(centre) + Rectangle::new([(-r, -r), (r, r)], fill.filled())
            } else {
                let corners = [(x_edges[i], y_edges[j]), (x_edges[i + 1], y_edges[j + 1])];
                let (a, b) = (pixels.translate(&corners[0]), pixels.translate(&corners[1]));
                let c = pixels.translate(&centre);
                EmptyElement::at(centre)
                    + Rectangle::new([(a.0 - c.0, a.1 - c.1), (b.0 - c.0, b.1 - c.1)], fill.filled())
            }
        };
        let cells = || (0..grid.xs.len()).flat_map(|i| (0..grid.ys.len()).map(move |j| (i, j)));
        if grid.outside.iter().all(|o| !o) && !missing_cells.is_empty() {
            // Grey under the whole grid: one rectangle, not one per cell.
            chart
                .draw_series([Rectangle::new([(x_first, y_first), (x_last, y_last)], MISSING.filled())])
                .map_err(|e| err(&e))?;
        } else {
            chart.draw_series(missing_cells.iter().map(|&(i, j)| cell(i, j, MISSING))).map_err(|e| err(&e))?;
        }
        chart
            .draw_series(cells().filter_map(|(i, j)| Some(cell(i, j, colour(grid.at(i, j)?)))))
            .map_err(|e| err(&e))?;
        chart.draw_series(failed_cells.iter().map(|&(i, j)| cell(i, j, RED))).map_err(|e| err(&e))?;
        let legend = if entries.is_empty() {
            None
        } else {
            Some(draw_legend(&band, &entries, &rows, (plot.left + plot.right) / 2).map_err(|e| err(&e))?)
        };
        let data = cells()
            .filter(|&(i, j)| grid.at(i, j).is_some())
            .map(|(i, j)| pixels.translate(&((x_edges[i] + x_edges[i + 1]) / 2.0, (y_edges[j] + y_edges[j + 1]) / 2.0)))
            .collect();

        // Colour bar: a thin chart whose y axis is the value scale.
        let mut bar_chart = ChartBuilder::on(&bar)
            .margin_top(20)
            .margin_bottom(100)
            .margin_right(10)
            .y_label_area_size(0)
            .right_y_label_area_size(120)
            .build_cartesian_2d(0.0..1.0, value_scale(&values, (lo, hi)))
            .map_err(|e| err(&e))?;
        bar_chart
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc(&value_label)
            .axis_desc_style((FONT, bar_size))
            .label_style((FONT, 20))
            .y_labels(values.labels())
            .y_label_formatter(&value_labels(&values, (lo, hi)))
            .draw()
            .map_err(|e| err(&e))?;
        const STEPS: usize = 256;
        let (start, span) = (values.range.start, values.range.end - values.range.start);
        bar_chart
            .draw_series((0..STEPS).map(|k| {
                let v0 = start + span * k as f64 / STEPS as f64;
                let v1 = start + span * (k + 1) as f64 / STEPS as f64;
                Rectangle::new([(0.0, v0), (1.0, v1)], viridis(shade((v0 + v1) / 2.0)).filled())
            }))
            .map_err(|e| err(&e))?;
        Ok(Layout { plot, legend, data, texts: Vec::new() })
    })
}

/// 3D surface of `grid` (value vertical), coloured by value. Cells with a
/// missing or failed corner are left out: the surface shows its holes
/// rather than inventing values. Points with a value that are no corner of
/// a drawn cell (a sampled or zipped sweep has few or none of those cells)
/// are drawn as dots in their colour, failed points as red crosses on the
/// floor, and a legend counts them and the points not computed.
pub fn surface(grid: &Grid2, labels: &Labels, path: &Path) -> Result<(), PlotError> {
    draw_surface(grid, labels, path, format_of(path)?).map(drop)
}

/// The font sizes of a surface's tick labels and axis names, the least
/// room kept between a text and the image's edge, and between two texts
/// (twice that between an axis's name and tick labels).
const TICK_FONT: u32 = 18;
const AXIS_FONT: u32 = 26;
const EDGE: i32 = 12;
const GAP: i32 = 12;

/// The tick labels of a surface's floor axes as plotters asks for them
/// (through the axes' formatters, the x axis's first): each one's box,
/// from the pixel of its tick, so that a label that would overprint one
/// of the other axis is left out.
struct TickLabels<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    placed: std::cell::RefCell<Vec<(&'static str, PixelBox)>>,
}

impl<DB: DrawingBackend> TickLabels<'_, DB> {
    /// `text`, the label of the tick at pixel `tick` of `axis`, or nothing
    /// where it would overprint a label of the other axis. plotters sets a
    /// floor axis's label centred below its tick, 10 pixels down (twice its
    /// 5-pixel tick).
    fn place(&self, axis: &'static str, tick: (i32, i32), text: String) -> String {
        if text.is_empty() {
            return text;
        }
        let font = (FONT, TICK_FONT).into_font().color(&BLACK);
        let (width, height) = self
            .area
            .estimate_text_size(&text, &font)
            .map_or((text.chars().count() as i32 * LABEL_CHAR_PX, TICK_FONT as i32), |(w, h)| (w as i32, h as i32));
        let left = tick.0 - width / 2;
        let label = PixelBox { left, top: tick.1 + 10, right: left + width, bottom: tick.1 + 10 + height };
        let mut placed = self.placed.borrow_mut();
        if placed.iter().any(|(other, b)| *other != axis && b.overlaps(&label, GAP / 2)) {
            return String::new();
        }
        placed.push((axis, label));
        text
    }
}

/// Whether cell `(i, j)` (corners `(i, j)` to `(i + 1, j + 1)`) of `grid`
/// has a value at its four corners, so the surface covers it.
fn complete_cell(grid: &Grid2, i: usize, j: usize) -> bool {
    i + 1 < grid.xs.len()
        && j + 1 < grid.ys.len()
        && [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)].iter().all(|&(a, b)| grid.at(a, b).is_some())
}

/// The points of `grid` with a value that are a corner of no complete
/// cell: the surface alone would not show them.
fn isolated(grid: &Grid2) -> Vec<Cell> {
    let cells = (0..grid.xs.len()).flat_map(|i| (0..grid.ys.len()).map(move |j| (i, j)));
    cells
        .filter(|&(i, j)| grid.at(i, j).is_some())
        .filter(|&(i, j)| {
            let around =
                [(i.checked_sub(1), j.checked_sub(1)), (Some(i), j.checked_sub(1)), (i.checked_sub(1), Some(j))];
            !complete_cell(grid, i, j)
                && around.iter().all(|&(a, b)| !matches!((a, b), (Some(a), Some(b)) if complete_cell(grid, a, b)))
        })
        .collect()
}

fn draw_surface(grid: &Grid2, labels: &Labels, path: &Path, format: Format) -> Result<Layout, PlotError> {
    let err = drawing_error(path);
    if grid.xs.len() < 2 || grid.ys.len() < 2 {
        return Err(PlotError::Unsupported("a surface needs at least 2 values on each axis".into()));
    }
    let (value_lo, value_hi) = grid.value_range().ok_or(PlotError::NoData)?;
    let values = Linear::covering((value_lo, value_hi), 0.0, false);
    let shade = shading(&values, (value_lo, value_hi));
    let (lo, span) = (values.range.start, values.range.end - values.range.start);
    let value_label = labels.value.clone().unwrap_or_else(|| grid.value.clone());
    let x = DrawnAxis::new(&grid.x_axis, &grid.xs, grid.x_log, labels)?;
    let y = DrawnAxis::new(&grid.y_axis, &grid.ys, grid.y_log, labels)?;
    let (x_label, y_label) = (x.label.clone(), y.label.clone());
    let title = labels.title.clone().unwrap_or_else(|| {
        format!("{value_label} over ({}, {})", labels.axis(&grid.x_axis), labels.axis(&grid.y_axis))
    });
    let x_range = (x.at[0], x.at[x.at.len() - 1]);
    let y_range = (y.at[0], y.at[y.at.len() - 1]);

    let dots = isolated(grid);
    let (failed_cells, missing_cells) = grid.holes();
    let mut entries = Vec::new();
    if !dots.is_empty() {
        let label = format!("points no surface cell covers (n = {})", dots.len());
        entries.push(Entry { sample: Sample::Dot(charts::PALETTE[0]), label });
    }
    if !failed_cells.is_empty() {
        entries.push(Entry { sample: Sample::Cross(RED), label: format!("failed (n = {})", failed_cells.len()) });
    }
    if !missing_cells.is_empty() {
        let label = format!("not computed (n = {}, not drawn)", missing_cells.len());
        entries.push(Entry { sample: Sample::Square(MISSING), label });
    }

    save(path, format, &title, |root| {
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let rows = legend_rows(root, &entries, SIZE.0 as i32 - 60).map_err(|e| err(&e))?;
        let band_height = if entries.is_empty() { 0 } else { legend_height(rows.len()) };
        let (below, _) = titled(root, &title).map_err(|e| err(&e))?;
        let (upper, band) = below.split_vertically(below.dim_in_pixel().1 as i32 - band_height);
        // The value's name stands above the value axis, left of the box.
        let (value_label, value_size) = fitted(&upper, &value_label, 26, SIZE.0 as i32 / 2).map_err(|e| err(&e))?;
        // plotters' 3D charts are y-up: the grid's y axis goes along plotters' z.
        let mut chart = ChartBuilder::on(&upper)
            .margin(40)
            .build_cartesian_3d(x_range.0..x_range.1, value_scale(&values, (value_lo, value_hi)), y_range.0..y_range.1)
            .map_err(|e| err(&e))?;
        chart.with_projection(|mut p| {
            p.pitch = 0.45;
            p.yaw = 0.6;
            p.scale = 0.75;
            p.into_matrix()
        });
        // Where the tick labels of the floor's axes land, to keep those of
        // the two axes apart where the axes meet, at the front corner: both
        // end there, and plotters draws each end's label on the same spot.
        let pixels = chart.as_coord_spec().clone();
        let front = [(x_range.0, y_range.0), (x_range.0, y_range.1), (x_range.1, y_range.0), (x_range.1, y_range.1)]
            .into_iter()
            .max_by_key(|&(a, b)| pixels.translate(&(a, lo, b)).1)
            .unwrap_or((x_range.1, y_range.1));
        let ticks = TickLabels { area: &upper, placed: std::cell::RefCell::new(Vec::new()) };
        let x_ticks = |v: &f64| ticks.place("x ticks", pixels.translate(&(*v, lo, front.1)), (x.format)(v));
        let y_ticks = |v: &f64| ticks.place("y ticks", pixels.translate(&(front.0, lo, *v)), (y.format)(v));
        chart
            .configure_axes()
            .label_style((FONT, TICK_FONT))
            .x_labels(x.labels)
            .y_labels(values.labels())
            .z_labels(y.labels)
            .x_formatter(&x_ticks)
            .y_formatter(&value_labels(&values, (value_lo, value_hi)))
            .z_formatter(&y_ticks)
            .light_grid_style(BLACK.mix(0.08))
            .max_light_lines(LIGHT_LINES)
            .draw()
            .map_err(|e| err(&e))?;
        let style = |v: &f64| viridis(shade(*v)).mix(0.95).filled();
        let (xs, ys) = (&x.at, &y.at);
        // One quad per cell whose four corners have values, drawn far to
        // near so nearer cells cover farther ones.
        let quads = (0..xs.len() - 1).flat_map(|i| (0..ys.len() - 1).map(move |j| (i, j))).filter_map(|(i, j)| {
            let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let values: Vec<f64> =
                corners.iter().map(|&(a, b)| Some(values.at(grid.at(a, b)?))).collect::<Option<_>>()?;
            let mean = values.iter().sum::<f64>() / 4.0;
            let points = corners.iter().zip(&values).map(|(&(a, b), v)| (xs[a], *v, ys[b])).collect::<Vec<_>>();
            Some(Polygon::new(points, style(&mean)))
        });
        chart.draw_series(quads).map_err(|e| err(&e))?;
        // Wire frame on top so the shape reads in print; broken at holes.
        let segments = (0..xs.len())
            .flat_map(|i| (0..ys.len()).map(move |j| (i, j)))
            .flat_map(|(i, j)| [((i, j), (i + 1, j)), ((i, j), (i, j + 1))])
            .filter(|&(_, (c, d))| c < xs.len() && d < ys.len())
            .filter_map(|((a, b), (c, d))| {
                let (from, to) = (values.at(grid.at(a, b)?), values.at(grid.at(c, d)?));
                Some(PathElement::new(vec![(xs[a], from, ys[b]), (xs[c], to, ys[d])], BLACK.mix(0.35)))
            });
        chart.draw_series(segments).map_err(|e| err(&e))?;
        let at = |(i, j): Cell| (xs[i], values.at(grid.at(i, j).unwrap_or(lo)), ys[j]);
        chart
            .draw_series(dots.iter().map(|&(i, j)| {
                let v = values.at(grid.at(i, j).unwrap_or(lo));
                Circle::new(at((i, j)), 7, viridis(shade(v)).filled())
            }))
            .map_err(|e| err(&e))?;
        chart
            .draw_series(dots.iter().map(|&(i, j)| Circle::new(at((i, j)), 7, BLACK.mix(0.6).stroke_width(1))))
            .map_err(|e| err(&e))?;
        let floor = |(i, j): Cell| (xs[i], lo, ys[j]);
        chart
            .draw_series(failed_cells.iter().map(|&cell| Cross::new(floor(cell), 7, RED.stroke_width(3))))
            .map_err(|e| err(&e))?;
        let data = dots.iter().map(|&cell| pixels.translate(&at(cell))).collect();
        chart
            .draw_series([Text::new(
                value_label.clone(),
                (x_range.0, lo + span * 1.12, y_range.1),
                (FONT, value_size).into_font().color(&BLACK),
            )])
            .map_err(|e| err(&e))?;
        // The floor axes' names (3D axes have no descriptions), set in the
        // room their tick labels leave, wrapped or shrunk to stay inside
        // the image and off each other.
        let mut texts = ticks.placed.into_inner();
        let (base_x, base_y) = upper.get_base_pixel();
        let bottom = base_y + upper.dim_in_pixel().1 as i32 - 4;
        let right = SIZE.0 as i32 - EDGE;
        let line = |size: u32| size as i32 * 5 / 4;
        // The y axis's name: right of its tick labels, from its middle down.
        let middle = pixels.translate(&(front.0, lo, (y_range.0 + y_range.1) / 2.0));
        let top = middle.1 + 10;
        let room = |texts: &[(&str, PixelBox)], top: i32, height: i32, from: i32| {
            texts.iter().filter(|(_, b)| b.bottom >= top && b.top <= top + height).fold(from, |at, (_, b)| {
                if b.right >= at - 2 * GAP && b.left <= right {
                    at.max(b.right + 2 * GAP)
                } else {
                    at
                }
            })
        };
        let left = room(&texts, top, 3 * line(AXIS_FONT), middle.0 + 20);
        let (lines, size) = wrapped(&upper, &y_label, AXIS_FONT, right - left, 3).map_err(|e| err(&e))?;
        let mut name = PixelBox { left, top, right: left, bottom: top + lines.len() as i32 * line(size) };
        for (n, text) in lines.iter().enumerate() {
            let font = (FONT, size).into_font().color(&BLACK);
            name.right = name.right.max(left + upper.estimate_text_size(text, &font).map_err(|e| err(&e))?.0 as i32);
            let at = (left - base_x, top + n as i32 * line(size) - base_y);
            upper.draw_text(text, &font, at).map_err(|e| err(&e))?;
        }
        texts.push(("y name", name));
        // The x axis's name: below its tick labels, centred under the axis,
        // left of whatever stands right of it at that height.
        let top =
            texts.iter().filter(|(axis, _)| *axis == "x ticks").map(|(_, b)| b.bottom).max().unwrap_or(middle.1) + GAP;
        let most = ((bottom - top) / line(AXIS_FONT)).clamp(1, 3) as usize;
        let height = most as i32 * line(AXIS_FONT);
        let limit = texts
            .iter()
            .filter(|(axis, b)| axis.starts_with('y') && b.bottom >= top && b.top <= top + height)
            .map(|(_, b)| b.left - GAP)
            .min()
            .unwrap_or(right)
            .min(right);
        let (lines, size) = wrapped(&upper, &x_label, AXIS_FONT, limit - EDGE, most).map_err(|e| err(&e))?;
        let centre = pixels.translate(&((x_range.0 + x_range.1) / 2.0, lo, front.1)).0;
        for (n, text) in lines.iter().enumerate() {
            let font = (FONT, size).into_font().color(&BLACK);
            let width = upper.estimate_text_size(text, &font).map_err(|e| err(&e))?.0 as i32;
            let left = (centre - width / 2).min(limit - width).max(EDGE);
            let top = top + n as i32 * line(size);
            upper.draw_text(text, &font, (left - base_x, top - base_y)).map_err(|e| err(&e))?;
            texts.push(("x name", PixelBox { left, top, right: left + width, bottom: top + line(size) }));
        }
        let plot = PixelBox::of(chart.plotting_area());
        let legend = if entries.is_empty() {
            None
        } else {
            Some(draw_legend(&band, &entries, &rows, SIZE.0 as i32 / 2).map_err(|e| err(&e))?)
        };
        Ok(Layout { plot, legend, data, texts })
    })
}

/// Reads the plotted number out of a record value: the value itself, or its
/// field `key` (`None` when the value is no object or lacks it).
fn numeric(value: &serde_json::Value, key: Option<&str>) -> Option<f64> {
    match (value, key) {
        (serde_json::Value::Object(object), Some(key)) => object.get(key).and_then(serde_json::Value::as_f64),
        (serde_json::Value::Object(_), None) | (_, Some(_)) => None,
        (other, None) => other.as_f64(),
    }
}

/// Why a sweep has nothing to plot: no successful point, or successful
/// points none of whose values (or fields `key`) is a finite number.
fn not_numbers(results: &Results, key: Option<&str>) -> PlotError {
    let values: Vec<&serde_json::Value> =
        results.latest().into_iter().filter_map(|r| r.outcome.as_ref().ok()).collect();
    let Some(example) = values.first() else {
        return PlotError::NoData;
    };
    let (what, example) = match key {
        Some(key) => (format!("field {key:?} of its values"), example.get(key).unwrap_or(example)),
        None => ("values".to_owned(), *example),
    };
    let mut shown = example.to_string();
    if shown.chars().count() > 40 {
        shown = shown.chars().take(40).collect::<String>() + "…";
    }
    let hint = if key.is_none() { "; for JSON objects, choose a numeric field with --value-key" } else { "" };
    PlotError::Unsupported(format!(
        "nothing to plot: the sweep has {} successful points, but none of its {what} is a finite number (e.g. {shown}){hint}",
        values.len()
    ))
}

/// Refuses a `--value-key` that does not fit the values, with one message
/// for every mix: objects need a key, plain values refuse one, and a mix of
/// both is named as such.
fn check_value_key(results: &Results, key: Option<&str>) -> Result<(), PlotError> {
    let values: Vec<&serde_json::Value> =
        results.latest().into_iter().filter_map(|r| r.outcome.as_ref().ok()).collect();
    let objects: Vec<&serde_json::Map<String, serde_json::Value>> =
        values.iter().filter_map(|v| v.as_object()).collect();
    let mut fields: Vec<&str> = objects.iter().flat_map(|o| o.keys().map(String::as_str)).collect();
    fields.sort_unstable();
    fields.dedup();
    let plain = values.len() - objects.len();
    let mix = || {
        format!(
            "values are JSON objects at {} (fields: {}) and plain values at {plain}",
            crate::output::counted(objects.len(), "point"),
            fields.join(", ")
        )
    };
    match key {
        None if objects.is_empty() => Ok(()),
        None if plain == 0 => Err(PlotError::Unsupported(format!(
            "values are JSON objects; choose the field to plot with --value-key (one of: {})",
            fields.join(", ")
        ))),
        None => Err(PlotError::Unsupported(format!(
            "{}; choose an object field to plot with --value-key (the points with plain values are then left out)",
            mix()
        ))),
        Some(key) if objects.is_empty() => {
            Err(PlotError::Unsupported(format!("--value-key {key} was given, but no value is a JSON object")))
        }
        Some(key) if !fields.contains(&key) => Err(PlotError::Unsupported(format!(
            "--value-key {key}: no value has that field (fields: {})",
            fields.join(", ")
        ))),
        Some(_) => Ok(()),
    }
}

/// Plots a results file: one varying axis → `<output>` (scatter + line);
/// two → `<stem>-heatmap.<ext>` and `<stem>-surface.<ext>`, in the format
/// `output`'s extension names (see [`line_plot`]). Returns the files
/// written. The axes come from the sweep's space, not from the records, so
/// a partial sweep is drawn over its whole domain with its holes; axes with
/// a single value are fixed and named in the title.
pub fn plot_results(results: &Results, value_key: Option<&str>, output: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let target = Target { path: output.to_owned(), format: format_of(output)?, specs: Vec::new() };
    plot_results_as(results, value_key, &target)
}

/// [`plot_results`] into `target`: its path as given, in its format
/// (see [`targets`]); with two varying axes, `-heatmap` and `-surface`
/// are added to its name, with the format's extension.
pub fn plot_results_as(results: &Results, value_key: Option<&str>, target: &Target) -> Result<Vec<PathBuf>, PlotError> {
    let (output, format) = (target.path.as_path(), target.format);
    check_value_key(results, value_key)?;
    let mut samples = Vec::new();
    for record in results.latest() {
        if let Ok(value) = &record.outcome {
            if let Some(v) = numeric(value, value_key).filter(|v| v.is_finite()) {
                samples.push((&record.point, v));
            }
        }
    }
    if samples.is_empty() {
        return Err(not_numbers(results, value_key));
    }
    let space = &results.header.space;
    // Drawing lists the space's every point and every value of its axes:
    // refused before that for a space too large to draw (a 10^12-point grid
    // would be an abort on a failed allocation of terabytes).
    let total = space.len();
    if total > MAX_DRAWN {
        return Err(too_large(format!("its space has {total} points")));
    }
    let names = space.names();
    let mut varying = Vec::new();
    let mut fixed = Vec::new();
    for name in &names {
        let values = space.axis_values(name).unwrap_or_default();
        let mut seen = HashSet::new();
        let distinct: Vec<&Value> = values.iter().filter(|v| seen.insert(v.to_string())).take(2).collect();
        if let [only] = distinct.as_slice() {
            fixed.push(format!("{} = {only}", results.header.labels.axis(name)));
        } else {
            if values.iter().any(|v| v.as_f64().is_none()) {
                return Err(PlotError::Unsupported(format!("axis {name:?} has non-numeric values")));
            }
            varying.push(name.clone());
        }
    }
    let value_name = value_key.unwrap_or("value").to_owned();
    let mut labels = results.header.labels.clone();
    let failed: Vec<&crate::point::Point> =
        results.latest().into_iter().filter(|r| !r.is_ok()).map(|r| &r.point).collect();
    let value_label = labels.value.clone().unwrap_or(value_name.clone());
    let mut title = labels.title.clone().unwrap_or_else(|| {
        let base = match varying.as_slice() {
            [] | [_] => {
                let axis = varying.first().unwrap_or(&names[0]);
                format!("{value_label} as a function of {}", labels.axis(axis))
            }
            [x, y] => format!("{value_label} over ({}, {})", labels.axis(x), labels.axis(y)),
            more => format!("{value_label} over {}", more.join(", ")),
        };
        if fixed.is_empty() {
            base
        } else {
            format!("{base} ({})", fixed.join(", "))
        }
    });
    // A partial sweep says so: the chart is not the whole picture.
    let total = results.header.space.len();
    if samples.len() < total {
        let failures = if failed.is_empty() { String::new() } else { format!(", {} failed", failed.len()) };
        // On a line of its own: a long title never pushes it off the chart.
        title.push_str(&format!("\n{} of {total} points{failures}", samples.len()));
    }
    labels.title = Some(title);
    match varying.as_slice() {
        [] | [_] => {
            let axis = varying.first().cloned().unwrap_or_else(|| names[0].clone());
            let curve = curve_of(space, axis, &samples, &failed, value_name);
            refuse_to_replace_results(output, "chart", &target.specs).map_err(PlotError::Refused)?;
            draw_line_plot(&curve, &labels, output, format)?;
            Ok(vec![output.to_owned()])
        }
        [x_axis, y_axis] => {
            let distinct = |name: &str| {
                let mut vs: Vec<f64> =
                    space.axis_values(name).unwrap_or_default().iter().filter_map(Value::as_f64).collect();
                vs.sort_by(f64::total_cmp);
                vs.dedup();
                vs.len()
            };
            let (columns, rows) = (distinct(x_axis), distinct(y_axis));
            if columns.checked_mul(rows).is_none_or(|cells| cells > MAX_DRAWN) {
                return Err(too_large(format!("its heatmap has {columns} × {rows} cells")));
            }
            if targets::is_stream(output) {
                return Err(PlotError::Unsupported(format!(
                    "-o {} is a device or pipe, which takes one chart, and two varying axes make two (a heatmap \
                     and a surface); give a file name",
                    output.display()
                )));
            }
            let grid = grid_of(space, x_axis, y_axis, &samples, &failed, value_name);
            let heatmap_path = sibling(output, "heatmap", format);
            let surface_path = sibling(output, "surface", format);
            // Both looked at before either is drawn: a refusal writes neither.
            for (path, what) in [(&heatmap_path, "the heatmap"), (&surface_path, "the surface")] {
                // Named after the -o given, which is what to shorten.
                crate::store::check_written_names(output, path, what).map_err(PlotError::Refused)?;
                refuse_to_replace_results(path, "chart", &target.specs).map_err(PlotError::Refused)?;
            }
            draw_heatmap(&grid, &labels, &heatmap_path, format)?;
            draw_surface(&grid, &labels, &surface_path, format)?;
            Ok(vec![heatmap_path, surface_path])
        }
        more => Err(PlotError::Unsupported(format!(
            "can plot 1 or 2 varying axes, but {} vary ({}); fix the others in a sub-sweep",
            more.len(),
            more.join(", ")
        ))),
    }
}

/// The most points (or heatmap cells) a chart is drawn with: far more than
/// a chart has pixels.
const MAX_DRAWN: usize = 1 << 24;

fn too_large(what: String) -> PlotError {
    PlotError::Unsupported(format!(
        "cannot draw this sweep: {what}, more than a chart can show ({MAX_DRAWN}); plot a sweep of a smaller \
         space with the same command (its spec reuses every point computed), or export the values"
    ))
}

/// The curve of a sweep with one varying axis: the computed points, the
/// failed ones, and the whole axis of the space (a `Logspace` is drawn on a
/// log scale, as on a heatmap).
fn curve_of(
    space: &crate::space::Space,
    axis: String,
    samples: &[(&crate::point::Point, f64)],
    failed: &[&crate::point::Point],
    value_name: String,
) -> Curve {
    let points = samples.iter().filter_map(|(p, v)| Some((p.f64(&axis)?, *v))).collect();
    let failed = failed.iter().filter_map(|p| p.f64(&axis)).collect();
    let log_axis = space.is_logarithmic(&axis);
    let domain = space.axis_values(&axis).unwrap_or_default().iter().filter_map(Value::as_f64).collect();
    Curve { axis, value: value_name, points, log_axis, failed, domain }
}

/// The grid of a sweep with two varying axes: every value of the space's
/// axes, computed or not, so a partial sweep shows its whole domain; cells
/// hold the plotted values, failures are marked, and cells that are no
/// point of the space (off a zip's diagonal) are marked outside.
fn grid_of(
    space: &crate::space::Space,
    x_axis: &str,
    y_axis: &str,
    samples: &[(&crate::point::Point, f64)],
    failed: &[&crate::point::Point],
    value_name: String,
) -> Grid2 {
    // Every value of the space's axes, computed or not.
    let axis_values = |name: &str| {
        let mut vs: Vec<f64> = space.axis_values(name).unwrap_or_default().iter().filter_map(Value::as_f64).collect();
        vs.sort_by(f64::total_cmp);
        vs.dedup();
        vs
    };
    let (xs, ys) = (axis_values(x_axis), axis_values(y_axis));
    let cell = |p: &crate::point::Point| {
        let (x, y) = (p.f64(x_axis)?, p.f64(y_axis)?);
        let i = xs.binary_search_by(|a| a.total_cmp(&x)).ok()?;
        let j = ys.binary_search_by(|a| a.total_cmp(&y)).ok()?;
        Some(i * ys.len() + j)
    };
    let mut values = vec![None; xs.len() * ys.len()];
    for (p, v) in samples {
        if let Some(k) = cell(p) {
            values[k] = Some(*v);
        }
    }
    // Cells that are points of the space: all of a grid's, only the
    // diagonal of a zip's.
    let mut outside = vec![true; xs.len() * ys.len()];
    for point in space.iter() {
        if let Some(k) = cell(&point) {
            outside[k] = false;
        }
    }
    let mut failed_cells = vec![false; xs.len() * ys.len()];
    for p in failed {
        if let Some(k) = cell(p) {
            failed_cells[k] = true;
        }
    }
    Grid2 {
        x_axis: x_axis.to_owned(),
        y_axis: y_axis.to_owned(),
        value: value_name,
        xs,
        ys,
        values,
        failed: failed_cells,
        outside,
        x_log: space.is_logarithmic(x_axis),
        y_log: space.is_logarithmic(y_axis),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_runs_dark_to_bright() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(&0.30000000000000004), "0.3");
        assert_eq!(tick(&-0.0), "0");
        assert_eq!(tick(&2.0), "2");
        assert_eq!(tick(&123456.0), "1.2e5");
        assert_eq!(tick(&1e-300), "1.0e-300", "no absolute cut-off to 0");
    }

    /// A 8 × 7 grid with 8 values in one corner and 2 failures.
    fn partial_grid() -> Results {
        use crate::point::Point;
        use crate::store::{Header, Record};
        let space = crate::space::Space::grid([
            crate::space::Space::linspace("x", 0.0, 7.0, 8),
            crate::space::Space::range("y", 0, 7),
        ]);
        let header = Header::new(space.clone(), crate::spec::Task::Closure("x + y".into()));
        let at = |x: f64, y: i64| {
            let point = Point::new(vec![("x".into(), Value::Float(x)), ("y".into(), Value::Int(y))]);
            let index = crate::space::SpaceIndex::new(&space).index_of(&point).unwrap_or(usize::MAX);
            (index, point)
        };
        let mut records = Vec::new();
        for (x, y) in [(0.0, 0), (0.0, 1), (1.0, 0), (1.0, 1), (2.0, 0), (2.0, 1), (3.0, 0), (3.0, 1)] {
            let (index, point) = at(x, y);
            records.push(Record::new(index, point, Ok(serde_json::json!(x + y as f64)), 1.0));
        }
        for (x, y) in [(0.0, 2), (1.0, 2)] {
            let (index, point) = at(x, y);
            records.push(Record::new(index, point, Err("boom".into()), 1.0));
        }
        Results { header, records, warnings: Vec::new(), untagged: 0 }
    }

    #[test]
    fn a_partial_heatmap_covers_the_whole_space() {
        let results = partial_grid();
        let latest = results.latest();
        let samples: Vec<_> =
            latest.iter().filter_map(|r| Some((&r.point, r.outcome.as_ref().ok()?.as_f64()?))).collect();
        let failed: Vec<_> = latest.iter().filter(|r| !r.is_ok()).map(|r| &r.point).collect();
        let grid = grid_of(&results.header.space, "x", "y", &samples, &failed, "v".into());
        assert_eq!((grid.xs.len(), grid.ys.len()), (8, 7), "the axes come from the space");
        let (failed, missing) = grid.holes();
        assert_eq!((failed.len(), missing.len()), (2, 56 - 8 - 2));

        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let written = plot_results(&results, None, &dir.path().join("p.png")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written.len(), 2);
    }

    #[test]
    fn a_surface_draws_as_dots_the_points_no_cell_covers() {
        let results = partial_grid();
        let latest = results.latest();
        let samples: Vec<_> =
            latest.iter().filter_map(|r| Some((&r.point, r.outcome.as_ref().ok()?.as_f64()?))).collect();
        let mut grid = grid_of(&results.header.space, "x", "y", &samples, &[], "v".into());
        assert!(isolated(&grid).is_empty(), "the 4 × 2 corner block is a surface");
        // A lone value, and a row of values one row apart from the block.
        grid.values[6 * 7 + 5] = Some(1.0);
        grid.values[3] = Some(1.0);
        grid.values[7 + 3] = Some(1.0);
        assert_eq!(isolated(&grid), [(0, 3), (1, 3), (6, 5)]);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("s.png");
        let layout = draw_surface(&grid, &Labels::default(), &path, Format::Png).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(layout.data.len(), 3);
        assert!(layout.legend.is_some_and(|legend| legend.top > layout.plot.top));
    }

    /// The tester's lg.ron: a long title and value name were cut off at
    /// both edges, and with them the notice "22 of 33 points, 11 failed".
    #[test]
    fn long_titles_and_value_names_fit_and_keep_the_notice() {
        let long = "A very long title that goes on and on about rates and modes and everything else in the whole \
                    world of sweeps";
        let value = "throughput in operations per second (millions of them, measured carefully and often)";
        let title = format!("{long}\n8 of 56 points, 2 failed");
        let (lines, _) = charts::render(charts::Format::Png, SIZE, "t", |root| {
            titled(root, &title)
                .map(|(_, lines)| lines.into_iter().map(|l| (l.text, l.size)).collect::<Vec<_>>())
                .map_err(|e| Box::<dyn std::error::Error>::from(e.to_string()))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(lines.len() >= 3, "wrapped: {lines:?}");
        assert_eq!(lines.last().map(|l| l.0.as_str()), Some("8 of 56 points, 2 failed"), "{lines:?}");
        let words = lines[..lines.len() - 1].iter().map(|l| l.0.as_str()).collect::<Vec<_>>().join(" ");
        assert_eq!(words, long, "every word of the title is drawn");
        let ((shown, size), _) = charts::render(charts::Format::Png, SIZE, "t", |root| {
            fitted(root, value, 26, 600).map_err(|e| Box::<dyn std::error::Error>::from(e.to_string()))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(shown == value && (SMALLEST_FONT..26).contains(&size), "{shown} at {size}");

        // The charts themselves: nothing dark at the image's left and right
        // edges (where clipped text was), on every chart of the sweep.
        let mut results = partial_grid();
        results.header.labels.title = Some(long.to_owned());
        results.header.labels.value = Some(value.to_owned());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for path in plot_results(&results, None, &dir.path().join("p.png")).unwrap_or_else(|e| panic!("{e}")) {
            let edges: Vec<(i32, i32)> =
                (0..SIZE.1 as i32).flat_map(|y| [(0, y), (2, y), (1197, y), (1199, y)]).collect();
            let dark = colours(&path, &edges).into_iter().filter(|c| c.iter().all(|&v| v < 128)).count();
            assert_eq!(dark, 0, "{}", path.display());
        }
    }

    /// A results file of `space` whose every point has the value
    /// `value(point)`, or fails where it gives `None`.
    fn results_of(space: crate::space::Space, value: impl Fn(&crate::point::Point) -> Option<f64>) -> Results {
        use crate::store::{Header, Record};
        let header = Header::new(space.clone(), crate::spec::Task::Closure("f".into()));
        let records = space
            .iter()
            .enumerate()
            .map(|(index, point)| {
                let outcome = value(&point).map(|v| serde_json::json!(v)).ok_or_else(|| "boom".to_owned());
                Record::new(index, point, outcome, 1.0)
            })
            .collect();
        Results { header, records, warnings: Vec::new(), untagged: 0 }
    }

    /// The referee's surfaces: the name of the y axis ran off the image's
    /// right edge ("batch size (samples per step, bef"), and where the floor
    /// axes meet, the last tick label of one ("100006", "100", "2") was
    /// drawn on the last of the other ("1e0", "1.0", "3") and on the name of
    /// the x axis. Now the names wrap or shrink to stay inside the image,
    /// and no label of a floor axis touches one of the other or a name.
    #[test]
    fn surface_axis_names_fit_and_floor_tick_labels_keep_apart() {
        use crate::space::Space;
        let long = "learning_rate_of_the_optimizer_in_the_inner_loop_very_long";
        let mut referee = results_of(
            Space::grid([Space::logspace(long, -5.0, 0.0, 6), Space::range("batch", 100000, 100007)]),
            |p| {
                let (rate, batch) = (p.f64(long)?, p.f64("batch")?);
                (batch != 100003.0).then(|| rate.ln() * batch / 1000.0)
            },
        );
        referee.header.labels.axes.insert("batch".into(), "batch size (samples per step, before accumulation)".into());
        let zip = results_of(Space::zip([Space::linspace("a", 0.0, 1.0, 5), Space::logspace("b", 0.0, 2.0, 5)]), |p| {
            p.f64("a")
        });
        let small = results_of(Space::grid([Space::range("x", 0, 4), Space::range("y", 0, 3)]), |p| {
            Some(p.f64("x")? * p.f64("y")?)
        });
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (name, results) in [("referee", &referee), ("zip", &zip), ("small", &small)] {
            let written =
                plot_results(results, None, &dir.path().join(format!("{name}.png"))).unwrap_or_else(|e| panic!("{e}"));
            for path in &written {
                let edges: Vec<(i32, i32)> =
                    (0..SIZE.1 as i32).flat_map(|y| [(0, y), (2, y), (1197, y), (1199, y)]).collect();
                let dark = colours(path, &edges).into_iter().filter(|c| c.iter().all(|&v| v < 128)).count();
                assert_eq!(dark, 0, "text cut at the edge of {}", path.display());
            }
            let latest = results.latest();
            let samples: Vec<_> =
                latest.iter().filter_map(|r| Some((&r.point, r.outcome.as_ref().ok()?.as_f64()?))).collect();
            let failed: Vec<_> = latest.iter().filter(|r| !r.is_ok()).map(|r| &r.point).collect();
            let names = results.header.space.names();
            let grid = grid_of(&results.header.space, &names[0], &names[1], &samples, &failed, "value".into());
            let path = dir.path().join(format!("{name}-layout.png"));
            let layout = draw_surface(&grid, &results.header.labels, &path, Format::Png)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let texts = &layout.texts;
            for kind in ["x ticks", "y ticks", "x name", "y name"] {
                assert!(texts.iter().any(|(k, _)| *k == kind), "{name}: no {kind} in {texts:?}");
            }
            for (axis, b) in texts {
                assert!(
                    b.left >= 0 && b.top >= 0 && b.right < SIZE.0 as i32 && b.bottom < SIZE.1 as i32,
                    "{name}: a text of axis {axis} leaves the image: {b:?}"
                );
                for (other, c) in texts {
                    assert!(
                        other == axis || !b.overlaps(c, 0),
                        "{name}: texts of axes {axis} and {other} meet: {b:?} {c:?}"
                    );
                }
            }
        }
    }

    /// The tester's cst.ron: every value 5 was drawn in the colour bar's
    /// bottom colour, on a bar from 2.5 to 7.5 that named no 5.
    #[test]
    fn a_constant_field_is_drawn_in_the_middle_colour_and_named() {
        let mut grid = grid_of(
            &crate::space::Space::grid([crate::space::Space::range("i", 0, 4), crate::space::Space::range("j", 0, 3)]),
            "i",
            "j",
            &[],
            &[],
            "v".into(),
        );
        grid.values = vec![Some(5.0); 12];
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("c.png");
        let layout = draw_heatmap(&grid, &Labels::default(), &path, Format::Png).unwrap_or_else(|e| panic!("{e}"));
        let middle = viridis(0.5);
        assert!(colours(&path, &layout.data).iter().all(|&c| c == [middle.0, middle.1, middle.2]));
        // One tick, at the value, labelled with it exactly: no tick marks
        // without a label beside it (they read as values nobody can tell).
        for value in [5.0, 1e-320, 123456.789, -0.37] {
            let bar = Linear::covering((value, value), 0.0, false);
            let ticks = value_scale(&bar, (value, value)).key_points(BoldPoints(bar.labels()));
            let labels: Vec<String> = ticks.iter().map(value_labels(&bar, (value, value))).collect();
            assert_eq!(labels, [format!("{value}")]);
            assert_eq!(ticks, [bar.at(value)]);
        }
        // A field that varies keeps its axis's ticks, each labelled.
        let bar = Linear::covering((-2.0, 0.0), 0.0, false);
        let ticks = value_scale(&bar, (-2.0, 0.0)).key_points(BoldPoints(bar.labels()));
        let labels: Vec<String> = ticks.iter().map(value_labels(&bar, (-2.0, 0.0))).collect();
        assert!(labels.len() > 2 && labels.iter().all(|l| !l.is_empty()), "{labels:?}");
    }

    #[test]
    fn a_zips_heatmap_leaves_cells_that_are_no_points_blank() {
        let space = crate::space::Space::zip([
            crate::space::Space::range("i", 0, 4),
            crate::space::Space::list("x", [0.5, 1.5, 2.5, 3.5]),
        ]);
        let grid = grid_of(&space, "i", "x", &[], &[], "v".into());
        let (failed, missing) = grid.holes();
        assert_eq!((failed.len(), missing.len()), (0, 4), "only the diagonal is the sweep's");
    }

    #[test]
    fn mixed_values_get_one_message() {
        let mut results = partial_grid();
        results.records[0].outcome = Ok(serde_json::json!({"f": 1.0, "g": 2.0}));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("p.png");
        let message = plot_results(&results, None, &output).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("JSON objects at 1 point (fields: f, g) and plain values at 7"), "{message}");
        assert!(message.contains("--value-key"), "{message}");
        // With a key, the objects' field is plotted, whatever the order of the records.
        results.records.swap(0, 5);
        assert!(plot_results(&results, Some("f"), &output).is_ok());
        let message = plot_results(&results, Some("h"), &output).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("no value has that field (fields: f, g)"), "{message}");
    }

    #[test]
    fn a_partial_line_plot_spans_the_whole_axis() {
        // The tester's l2.ron: x = List([1.0, 2.0, 3.0]), header + 2 records kept.
        use crate::point::Point;
        let space = crate::space::Space::list("x", [1.0, 2.0, 3.0]);
        let at = |x: f64| Point::new(vec![("x".into(), Value::Float(x))]);
        let (one, two) = (at(1.0), at(2.0));
        let curve = curve_of(&space, "x".into(), &[(&one, 1.0), (&two, 2.0)], &[], "v".into());
        assert_eq!(x_extent(&curve), Some((1.0, 3.0)), "x = 3 is part of the sweep");
        assert_eq!(not_computed(&curve), vec![3.0]);
        // A failed point is marked as failed, not as not computed.
        let three = at(3.0);
        let curve = curve_of(&space, "x".into(), &[(&one, 1.0)], &[&three], "v".into());
        assert_eq!((x_extent(&curve), not_computed(&curve)), (Some((1.0, 3.0)), vec![2.0]));

        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("l.png");
        line_plot(&curve, &Labels::default(), &path).unwrap_or_else(|e| panic!("{e}"));
        assert!(path.is_file());
    }

    #[test]
    fn logspace_axes_are_drawn_with_cells_of_equal_width() {
        // The tester's heat.ron: y = Logspace(0, 3, 4) = 1, 10, 100, 1000.
        let space = crate::space::Space::grid([
            crate::space::Space::linspace("x", 0.0, 1.0, 10),
            crate::space::Space::logspace("y", 0.0, 3.0, 4),
        ]);
        let grid = grid_of(&space, "x", "y", &[], &[], "v".into());
        assert_eq!((grid.x_log, grid.y_log), (false, true));
        let labels = Labels::default();
        let y = DrawnAxis::new("y", &grid.ys, grid.y_log, &labels).unwrap_or_else(|e| panic!("{e}"));
        let edges = cell_edges(&y.at);
        let widths: Vec<f64> = edges.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(widths.len(), 4);
        assert!(widths.iter().all(|w| (w - 1.0).abs() < 1e-9), "one decade per cell: {widths:?}");
        assert_eq!(((y.format)(&2.0), (y.format)(&2.5)), ("100".to_owned(), String::new()));
        assert!(y.label.contains("log scale"), "{}", y.label);
        // The line plot decides its scale the same way.
        let line = crate::space::Space::logspace("y", 0.0, 3.0, 4);
        assert!(curve_of(&line, "y".into(), &[], &[], "v".into()).log_axis);
        // A log axis with a value ≤ 0 is refused, not drawn wrong.
        assert!(DrawnAxis::new("y", &[0.0, 1.0], true, &labels).is_err());
    }

    /// The tester's yr.ron, one.ron and p.ron: offset values got one label
    /// for every tick ("1.0e5", "1.0e12", "1"), and an axis to 300000 read
    /// "0, 50000, 1.0e5, 1.5e5".
    #[test]
    fn ticks_have_the_digits_their_step_needs() {
        let distinct = |labels: &[String]| labels.iter().collect::<HashSet<_>>().len() == labels.len();
        let seeds = tick_labels(&Linear::covering((100000.0, 100011.0), 0.04, true));
        assert!(seeds.len() >= 4 && distinct(&seeds) && seeds.contains(&"100000".to_owned()), "{seeds:?}");
        let tripled = tick_labels(&Linear::covering((300000.0, 300033.0), 0.06, false));
        assert!(tripled.len() >= 4 && distinct(&tripled) && tripled.contains(&"300030".to_owned()), "{tripled:?}");
        let huge = tick_labels(&Linear::covering((1e12, 1e12 + 29.0), 0.04, true));
        assert!(huge.len() >= 2 && distinct(&huge) && huge.contains(&"1000000000010".to_owned()), "{huge:?}");
        let nearly_one = tick_labels(&Linear::covering((1.0000000000001, 1.00000000000014), 0.06, false));
        assert!(nearly_one.len() >= 2 && distinct(&nearly_one), "{nearly_one:?}");
        assert!(nearly_one.contains(&"1.00000000000012".to_owned()), "{nearly_one:?}");
        // One format along the axis, whatever the magnitude of each tick.
        let wide = tick_labels(&Linear::covering((0.0, 300000.0), 0.04, true));
        assert!(wide.contains(&"100000".to_owned()) && !wide.iter().any(|l| l.contains('e')), "{wide:?}");
        let tiny = tick_labels(&Linear::covering((0.0, 3e-7), 0.04, false));
        assert!(tiny.iter().skip(1).all(|l| l.contains("e-")) && distinct(&tiny), "{tiny:?}");
        // A log axis past 1e5 is in powers of ten throughout.
        let decades = log_tick(1.0, 1e6);
        assert_eq!([decades(1.0), decades(1e4), decades(1e5), decades(3.1622e5)], ["10⁰", "10⁴", "10⁵", "3.16×10⁵"]);
    }

    /// The referee's lr.ron, `Logspace(-6, 0, 25)`: the line plot's x ticks
    /// were plotters' inexact log-scale key points written in full
    /// ("1e-6, 9.999999999999999e-6, 9.9999999999999e-5, 1e-3", the two
    /// long ones run into one), and decades read "1e0". Now they are the
    /// decades, each once.
    #[test]
    fn a_line_plots_log_axis_is_labelled_with_exact_decades() {
        let space = crate::space::Space::logspace("lr", -6.0, 0.0, 25);
        let points: Vec<crate::point::Point> = space.iter().collect();
        let values: Vec<(&crate::point::Point, f64)> = points.iter().map(|p| (p, 1.0)).collect();
        let curve = curve_of(&space, "lr".into(), &values, &[], "v".into());
        let x_range = x_extent(&curve).unwrap_or_else(|| panic!("no extent"));
        let axis = line_x_axis(&curve, x_range, &curve.points, "lr".into());
        let ticks: RangedCoordf64 = axis.range.clone().into();
        let labels: Vec<String> =
            ticks.key_points(axis.labels).iter().map(|v| (axis.format)(v)).filter(|l| !l.is_empty()).collect();
        assert_eq!(labels, ["10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰"]);
        // Within a decade every tick is labelled, and the margin makes room
        // for the last one ("3.98×10⁻⁶" was cut at the image's edge).
        let space = crate::space::Space::logspace("lr", -6.0, -5.5, 6);
        let points: Vec<crate::point::Point> = space.iter().collect();
        let values: Vec<(&crate::point::Point, f64)> = points.iter().map(|p| (p, 1.0)).collect();
        let curve = curve_of(&space, "lr".into(), &values, &[], "v".into());
        let narrow = line_x_axis(&curve, x_extent(&curve).unwrap_or((1.0, 1.0)), &curve.points, "lr".into());
        let ticks: RangedCoordf64 = narrow.range.clone().into();
        let labels: Vec<String> = ticks.key_points(narrow.labels).iter().map(|v| (narrow.format)(v)).collect();
        assert!(labels.contains(&"2×10⁻⁶".to_owned()) && labels.contains(&"1.26×10⁻⁶".to_owned()), "{labels:?}");
        assert!(narrow.widest >= 9 * LABEL_CHAR_PX, "{}", narrow.widest);
        // plotters' key points on a log scale, as the line plot drew them.
        let write = log_tick(1e-6, 1.0);
        assert_eq!([write(9.999999999999999e-6), write(9.9999999999999e-5), write(1e-3)], ["10⁻⁵", "10⁻⁴", "10⁻³"]);
        // Plain numbers between decades: three significant digits too
        // (Logspace(2, 2.3) read 79.4328, 125.8925, 199.5262).
        let write = log_tick(79.4, 199.6);
        let labels = [10f64.powf(1.9), 10f64.powf(2.1), 10f64.powf(2.3), 10f64.powf(2.0)];
        assert_eq!(labels.map(write), ["79.4", "126", "200", "100"]);
    }

    /// The labels plotters' own tick search gives `axis`.
    /// The paraboloid's axes read `-0.5  0  0.5`: zero was written
    /// without the decimals of its neighbours.
    #[test]
    fn every_tick_of_an_axis_has_its_number_of_decimals_zero_too() {
        let decimals = |label: &String| label.split_once('.').map_or(0, |(_, fraction)| fraction.len());
        for (ends, fraction, integer, zero) in [
            ((-1.0, 1.0), 0.0, false, "0.0"),
            ((-1.0, 1.0), 0.06, false, "0.0"),
            ((-0.05, 0.3), 0.0, false, "0.00"),
            ((-3.0, 3.0), 0.04, true, "0"),
        ] {
            let labels = tick_labels(&Linear::covering(ends, fraction, integer));
            assert!(labels.contains(&zero.to_owned()), "{ends:?}: {labels:?}");
            assert!(labels.iter().all(|l| decimals(l) == decimals(&labels[0])), "{ends:?}: {labels:?}");
        }
    }

    fn tick_labels(axis: &Linear) -> Vec<String> {
        let ranged: RangedCoordf64 = axis.range.clone().into();
        ranged.key_points(axis.labels()).iter().map(|v| axis.label(v)).filter(|l| !l.is_empty()).collect()
    }

    #[test]
    fn axes_get_readable_ticks_at_the_ends_of_the_doubles() {
        // A span past DBL_MAX: plotters' tick search looped forever on it.
        for ends in [(1.0, f64::MAX), (-1.7e308, 1e308), (-f64::MAX, f64::MAX), (f64::MAX, f64::MAX)] {
            let axis = Linear::covering(ends, 0.06, false);
            assert!((axis.range.end - axis.range.start).is_finite(), "{ends:?}: {axis:?}");
            let labels = tick_labels(&axis);
            assert!(labels.len() >= 2 && !labels.iter().any(|l| l.contains("inf")), "{ends:?}: {labels:?}");
        }
        // A span below f64::EPSILON got a single tick ("0").
        let labels = tick_labels(&Linear::covering((0.0, 1e-300), 0.04, false));
        assert!(labels.len() >= 3 && labels.contains(&"1e-300".to_owned()), "{labels:?}");
        // Whole-number axes get whole-number ticks only.
        let labels = tick_labels(&Linear::covering((0.0, 4.0), 0.04, whole([0.0, 1.0, 2.0, 3.0, 4.0])));
        assert_eq!(labels, ["0", "1", "2", "3", "4"]);
        // Float noise at zero reads 0.
        assert_eq!(Linear::covering((-1.0, 1.0), 0.0, false).label(&1e-17), "0.0");
        // A colour bar up to DBL_MAX: its midpoints overflowed to inf, which
        // shaded the whole bar in the colour of the lowest value.
        let bar = Linear::covering((0.0, f64::MAX), 0.0, false);
        let shade = shading(&bar, (0.0, f64::MAX));
        let middle = (bar.range.start + bar.range.end) / 2.0;
        assert_eq!((shade(bar.at(0.0)), shade(bar.at(f64::MAX))), (0.0, 1.0));
        assert!((shade(middle) - 0.5).abs() < 1e-9, "{}", shade(middle));
        let labels = tick_labels(&bar);
        assert!(labels.len() >= 4 && labels[0] == "0", "{labels:?}");
    }

    #[test]
    fn the_line_stops_at_points_without_a_value() {
        let points = [(0.0, 0.0), (1.0, 1.0), (2.0, 4.0), (4.0, 16.0), (8.0, 64.0), (9.0, 81.0)];
        let runs = runs(&points, &[3.0, 5.0, 6.0, 7.0]);
        assert_eq!(runs, [&points[..3], &points[3..4], &points[4..]]);
    }

    #[test]
    fn the_legend_of_a_line_plot_covers_no_data() {
        // A peak in the middle of the range, where the legend used to sit.
        let points: Vec<(f64, f64)> = (0..21).map(|k| -1.0 + 0.1 * k as f64).map(|x| (x, 1.0 - x * x)).collect();
        let domain = points.iter().map(|p| p.0).chain([1.1]).collect();
        let curve = Curve { axis: "x".into(), value: "v".into(), points, log_axis: false, failed: vec![-1.1], domain };
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("peak.png");
        let layout = draw_line_plot(&curve, &Labels::default(), &path, Format::Png).unwrap_or_else(|e| panic!("{e}"));
        let legend = layout.legend.unwrap_or_else(|| panic!("a legend"));
        assert_eq!(layout.data.len(), 21);
        assert!(legend.top > layout.plot.bottom, "below the plot: {legend:?}, {:?}", layout.plot);
        for &point in &layout.data {
            assert!(layout.plot.contains(point) && !legend.contains(point), "{point:?} under {legend:?}");
        }
        // The image itself: the frame where reported, markers where reported.
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap_or_else(|e| panic!("{e}"));
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap_or_else(|e| panic!("{e}"));
        let channels = info.color_type.samples();
        let pixel = |(x, y): (i32, i32)| {
            let at = (y as usize * info.width as usize + x as usize) * channels;
            [pixels[at], pixels[at + 1], pixels[at + 2]]
        };
        let frame = [LEGEND_BORDER.0, LEGEND_BORDER.1, LEGEND_BORDER.2];
        assert_eq!((pixel((legend.left, legend.top)), pixel((legend.right, legend.bottom))), (frame, frame));
        let marker = [charts::PALETTE[0].0, charts::PALETTE[0].1, charts::PALETTE[0].2];
        for &point in &layout.data {
            assert_eq!(pixel(point), marker, "the marker at {point:?} is drawn and uncovered");
        }
    }

    /// The RGB colour of each of `at`'s pixels in the PNG at `path`.
    fn colours(path: &Path, at: &[(i32, i32)]) -> Vec<[u8; 3]> {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{e}"));
        let mut reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap_or_else(|e| panic!("{e}"));
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap_or_else(|e| panic!("{e}"));
        let channels = info.color_type.samples();
        at.iter()
            .map(|&(x, y)| {
                let i = (y as usize * info.width as usize + x as usize) * channels;
                [pixels[i], pixels[i + 1], pixels[i + 2]]
            })
            .collect()
    }

    /// A 1000 × 1000 grid with three values: cells under a pixel, and the
    /// grey of the cells not computed was painted over the values.
    #[test]
    fn the_few_computed_cells_of_a_huge_grid_stay_visible() {
        let axis: Vec<f64> = (0..1000).map(f64::from).collect();
        let mut values = vec![None; 1000 * 1000];
        for (k, (i, j)) in [(200, 300), (500, 500), (800, 100)].into_iter().enumerate() {
            values[i * 1000 + j] = Some(k as f64);
        }
        let grid = Grid2 {
            x_axis: "x".into(),
            y_axis: "y".into(),
            value: "v".into(),
            xs: axis.clone(),
            ys: axis,
            values,
            failed: Vec::new(),
            outside: Vec::new(),
            x_log: false,
            y_log: false,
        };
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("huge.png");
        let layout = draw_heatmap(&grid, &Labels::default(), &path, Format::Png).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(layout.data.len(), 3);
        let legend = layout.legend.unwrap_or_else(|| panic!("a legend for the cells not computed"));
        assert!(legend.top > layout.plot.bottom, "below the plot: {legend:?}");
        // Each value in its colour, on a square of MIN_CELL pixels.
        let expected: Vec<[u8; 3]> = [0.0, 0.5, 1.0].iter().map(|&t| viridis(t)).map(|c| [c.0, c.1, c.2]).collect();
        for offset in [(0, 0), (-1, -1), (1, 1)] {
            let at: Vec<(i32, i32)> = layout.data.iter().map(|&(x, y)| (x + offset.0, y + offset.1)).collect();
            assert_eq!(colours(&path, &at), expected, "at {offset:?} from the centres {:?}", layout.data);
        }
    }

    #[test]
    fn cell_edges_surround_centres() {
        assert_eq!(cell_edges(&[0.0, 1.0, 3.0]), vec![-0.5, 0.5, 2.0, 4.0]);
    }
}
