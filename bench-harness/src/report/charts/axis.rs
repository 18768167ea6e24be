//! Chart axes: linear, log₂ and log₁₀ scales with hand-picked ticks.
//!
//! A logarithmic axis is drawn as a linear axis of `log(value)` ("plot
//! space"), so tick positions and labels are fully ours: plotters' own log
//! axis labels only decades, which reads badly for 1, 2, 4, 8, 16 workers.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

/// How data values map onto an axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scale {
    Linear,
    Log2,
    Log10,
}

/// One axis, with everything needed to draw it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Axis {
    pub(super) scale: Scale,
    /// Axis title, with units.
    pub(super) label: String,
    /// Visible range, in plot space.
    pub(super) visible: (f64, f64),
    /// Labelled ticks, in plot space.
    pub(super) ticks: Vec<f64>,
    /// Unlabelled minor grid lines, in plot space.
    pub(super) minor: Vec<f64>,
}

impl Axis {
    /// Linear axis over `range` with "nice" ticks (1, 2, 2.5, 5 × 10^k).
    pub(super) fn linear(label: &str, range: (f64, f64)) -> Self {
        let (low, high) = if range.1 > range.0 { range } else { (range.0 - 0.5, range.0 + 0.5) };
        let step = nice_step((high - low) / 8.0);
        let first = (low / step).ceil() as i64;
        let last = (high / step + 1e-9).floor() as i64;
        Self {
            scale: Scale::Linear,
            label: label.to_string(),
            visible: (low, high),
            ticks: (first..=last).map(|i| i as f64 * step).collect(),
            minor: Vec::new(),
        }
    }

    /// Base-2 log axis (workers, chunk sizes) over positive `range`, with
    /// power-of-two ticks thinned to at most 13 labels and a little
    /// padding so markers at the ends are not cut.
    pub(super) fn log2(label: &str, range: (f64, f64)) -> Self {
        let (low, high) = (range.0.log2(), range.1.log2());
        let padding = ((high - low) * 0.04).max(0.25);
        let (low, high) = (low - padding, high + padding);
        let exponents = (low.ceil() as i64)..=(high.floor() as i64);
        let stride = (exponents.clone().count() / 14 + 1) as i64;
        Self {
            scale: Scale::Log2,
            label: label.to_string(),
            visible: (low, high),
            ticks: exponents.clone().filter(|e| e.rem_euclid(stride) == 0).map(|e| e as f64).collect(),
            minor: exponents.map(|e| e as f64).collect(),
        }
    }

    /// Base-10 log axis over positive `range`: decade ticks when it spans
    /// many decades, 1-2-5, 1-2-3-5 or every integer multiple when it spans
    /// few, so there are always at least a few labels; minor lines at every
    /// multiple while they stay distinguishable. The labels always bracket
    /// the data: when the chosen set stops short of an end of `range`, the
    /// nearest integer multiple of a power of ten beyond that end is
    /// labelled too (and shown), so no data sit above the top label or
    /// below the bottom one.
    pub(super) fn log10(label: &str, range: (f64, f64)) -> Self {
        let low_value = range.0.max(f64::MIN_POSITIVE);
        let (data_low, data_high) = (low_value.log10(), range.1.max(low_value).log10());
        // At least a factor of two, so some multiples of a power of ten show.
        let missing = (2f64.log10() - (data_high - data_low)).max(0.0);
        let padding = ((data_high - data_low) * 0.05).max(0.02) + missing / 2.0;
        let (mut low, mut high) = (data_low - padding, data_high + padding);
        let multiples = |factors: &[f64], low: f64, high: f64| -> Vec<f64> {
            ((low.floor() as i32)..=(high.ceil() as i32))
                .flat_map(|decade| factors.iter().map(move |f| (f * 10f64.powi(decade)).log10()))
                .filter(|position| *position >= low && *position <= high)
                .collect()
        };
        let every: Vec<f64> = (1..=9).map(f64::from).collect();
        // About five labels read best, and never fewer than three when a
        // denser set has them (two decade labels leave a reader guessing the
        // rest of the axis); on a tie the sparser set wins.
        let candidates: Vec<Vec<f64>> = [&[1.0][..], &[1.0, 2.0, 5.0], &[1.0, 2.0, 3.0, 5.0], &every]
            .iter()
            .map(|factors| multiples(factors, low, high))
            .collect();
        let enough = |minimum: usize| {
            candidates
                .iter()
                .filter(|ticks| ticks.len() >= minimum)
                .min_by_key(|ticks| ticks.len().abs_diff(5))
                .cloned()
        };
        let mut ticks = enough(3).or_else(|| enough(2)).unwrap_or_else(|| multiples(&every, low, high));
        // Rounding of log10 must not make a tick at the data's end look short of it.
        const SLACK: f64 = 1e-9;
        // A bracketing label closer to its neighbour than half the usual
        // gap between labels printed on top of it (an overhead axis of
        // decades read "100" over "70", "1e6" against "2e6"): then the
        // next decade beyond is labelled instead, as far from its neighbour
        // as the decades are from each other.
        let gaps: Vec<f64> = ticks.windows(2).map(|pair| pair[1] - pair[0]).collect();
        let usual_gap = if gaps.is_empty() { 0.0 } else { gaps.iter().sum::<f64>() / gaps.len() as f64 };
        let crowded =
            |tick: f64, neighbour: Option<&f64>| neighbour.is_some_and(|n| (tick - n).abs() < usual_gap / 2.0);
        if !ticks.last().is_some_and(|&top| top >= data_high - SLACK) {
            let mut above = nearest_multiple(data_high, true);
            if crowded(above, ticks.last()) {
                above = (data_high - SLACK).ceil().max(above);
            }
            ticks.push(above);
            high = high.max(above + 0.01);
        }
        if !ticks.first().is_some_and(|&bottom| bottom <= data_low + SLACK) {
            let mut below = nearest_multiple(data_low, false);
            if crowded(below, ticks.first()) {
                below = (data_low + SLACK).floor().min(below);
            }
            ticks.insert(0, below);
            low = low.min(below - 0.01);
        }
        let minor = if high - low <= 6.0 { multiples(&every, low, high) } else { Vec::new() };
        Self { scale: Scale::Log10, label: label.to_string(), visible: (low, high), ticks, minor }
    }

    /// Data value → plot-space coordinate. Non-positive values on a log
    /// axis (a confidence bound reaching below zero) go to the axis floor.
    pub(super) fn at(&self, value: f64) -> f64 {
        match self.scale {
            Scale::Linear => value,
            Scale::Log2 if value > 0.0 => value.log2(),
            Scale::Log10 if value > 0.0 => value.log10(),
            Scale::Log2 | Scale::Log10 => self.visible.0,
        }
    }

    /// Tick label for a plot-space coordinate, in data units.
    pub(super) fn tick_label(&self, position: f64) -> String {
        match self.scale {
            Scale::Linear => format_number(position),
            Scale::Log2 => format_number(position.exp2()),
            Scale::Log10 => format_number(10f64.powf(position)),
        }
    }
}

/// Plotters draws an [`Axis`] directly: plot-space values map linearly to
/// pixels, and our ticks are its grid and label positions.
impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let (low, high) = self.visible;
        let fraction = (value - low) / (high - low);
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.visible.0..self.visible.1
    }
}

impl ValueFormatter<f64> for Axis {
    fn format_ext(&self, value: &f64) -> String {
        self.tick_label(*value)
    }
}

/// In plot space, the integer multiple of a power of ten (`d × 10^k`,
/// d = 1..=9) nearest to the plot-space `position`: the smallest at or
/// above it when `up`, else the largest at or below it.
fn nearest_multiple(position: f64, up: bool) -> f64 {
    let decade = position.floor();
    let mantissa = 10f64.powf(position - decade);
    // The tolerance keeps 10^log10(200) = 200.00000000000003 at 200.
    let digit = if up { (mantissa - 1e-9).ceil() } else { (mantissa + 1e-9).floor().max(1.0) };
    (digit * 10f64.powf(decade)).log10()
}

/// The smallest of 1, 2, 2.5, 5 × 10^k that is at least `rough`.
fn nice_step(rough: f64) -> f64 {
    let magnitude = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= rough * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// At most three significant digits and no trailing zeros; scientific
/// notation only outside 0.001–999 999, where plain digits get hard to count.
fn format_number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude < 1e-12 {
        return "0".to_string();
    }
    if !(1e-3..1e6).contains(&magnitude) {
        return format!("{value:.0e}");
    }
    let decimals = (2 - magnitude.log10().floor() as i32).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(axis: &Axis) -> Vec<String> {
        axis.ticks.iter().map(|&tick| axis.tick_label(tick)).collect()
    }

    #[test]
    fn worker_axis_labels_powers_of_two_as_integers() {
        let axis = Axis::log2("workers", (1.0, 16.0));
        assert_eq!(labels(&axis), ["1", "2", "4", "8", "16"]);
        assert!(axis.visible.0 < 0.0 && axis.visible.1 > 4.0, "ends are padded");
        assert_eq!(axis.at(8.0), 3.0);
    }

    #[test]
    fn wide_log2_axis_thins_its_labels() {
        let axis = Axis::log2("chunk size", (1.0, 65536.0));
        assert!(axis.ticks.len() <= 13, "{:?}", labels(&axis));
        assert_eq!(axis.minor.len(), 17);
        assert!(labels(&axis).contains(&"1".to_string()));
    }

    #[test]
    fn log10_axis_picks_enough_readable_ticks() {
        let wide = Axis::log10("ns", (3.0, 40_000.0));
        assert_eq!(labels(&wide), ["3", "10", "100", "1000", "10000", "40000"]);
        let narrow = Axis::log10("s", (0.6, 4.0));
        assert_eq!(labels(&narrow), ["0.6", "1", "2", "3", "4"]);
        let milliseconds = Axis::log10("ms", (100.0, 800.0));
        assert_eq!(labels(&milliseconds), ["100", "200", "300", "500", "800"]);
        let tiny = Axis::log10("s", (1.0, 1.05));
        assert!(tiny.ticks.len() >= 2, "{:?}", labels(&tiny));
    }

    #[test]
    fn linear_axis_uses_nice_steps() {
        let axis = Axis::linear("speedup", (0.0, 17.5));
        assert_eq!(labels(&axis), ["0", "2.5", "5", "7.5", "10", "12.5", "15", "17.5"]);
        assert_eq!(Axis::linear("e", (0.0, 1.15)).tick_label(0.2), "0.2");
    }

    #[test]
    fn numbers_are_short_and_exact_enough() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(1536.0), "1536");
        assert_eq!(format_number(12.345), "12.3");
        assert_eq!(format_number(1e7), "1e7");
        assert_eq!(format_number(2e-5), "2e-5");
    }

    #[test]
    fn a_log_axis_over_a_few_decades_gets_at_least_three_labels() {
        // 20 ns to 5 µs: decades alone would label only 100 and 1000.
        let axis = Axis::log10("ns", (20.0, 5000.0));
        let labels: Vec<String> = axis.ticks.iter().map(|&t| axis.tick_label(t)).collect();
        assert!(labels.len() >= 3, "{labels:?}");
        assert!(labels.contains(&"20".to_owned()) && labels.contains(&"5000".to_owned()), "{labels:?}");
        // Many decades keep decade labels only.
        assert_eq!(Axis::log10("ns", (1.0, 1e8)).ticks.len(), 9);
    }

    #[test]
    fn log_axis_labels_bracket_the_data() {
        // backends.png of the committed example: 20 to 80 ms labelled 20, 30, 50 only.
        let times = Axis::log10("ms", (20.0, 79.3));
        assert_eq!(labels(&times), ["20", "30", "50", "80"]);
        assert!(times.visible.1 >= 80f64.log10(), "the added label is shown");
        // An ideal line three decades below measured times at 120-190 ms.
        let ideal = Axis::log10("ms", (0.19, 190.0));
        let (first, last) = (ideal.ticks[0], *ideal.ticks.last().unwrap());
        assert!(first <= 0.19f64.log10() && last >= 190f64.log10(), "{:?}", labels(&ideal));
        for (low, high) in [(3.0, 40_000.0), (0.6, 4.0), (1.0, 1.05), (20.0, 5000.0), (1.0, 1e8), (7.1, 7.3)] {
            let axis = Axis::log10("x", (low, high));
            let (first, last) = (axis.ticks[0], *axis.ticks.last().unwrap());
            assert!(first <= low.log10() + 1e-9 && last >= high.log10() - 1e-9, "{low}..{high}: {:?}", labels(&axis));
            assert!(axis.visible.0 <= first && last <= axis.visible.1, "{low}..{high}: labels outside the axis");
        }
        assert_eq!(nearest_multiple(200f64.log10(), true), 200f64.log10());
        assert_eq!(nearest_multiple(201f64.log10(), true), 300f64.log10());
        assert_eq!(nearest_multiple(0.19f64.log10(), false), 0.1f64.log10());
        assert_eq!(nearest_multiple(950f64.log10(), true), 3.0);
    }

    /// The overhead chart of a spin workload on a busy machine: 70 ns to
    /// 1.2 ms drew "70" under "100" and "2e6" over "1e6", touching.
    #[test]
    fn bracketing_labels_keep_their_distance_from_the_others() {
        for (low, high) in [(70.0, 1.2e6), (3.0, 40_000.0), (20.0, 79.3), (0.19, 190.0), (1.0, 1e8), (7.1, 7.3)] {
            let axis = Axis::log10("ns", (low, high));
            let gaps: Vec<f64> = axis.ticks.windows(2).map(|pair| pair[1] - pair[0]).collect();
            let usual = gaps.iter().sum::<f64>() / gaps.len() as f64;
            assert!(gaps.iter().all(|gap| *gap >= usual / 3.0), "{low}..{high}: {:?}", labels(&axis));
            let (first, last) = (axis.ticks[0], *axis.ticks.last().unwrap());
            assert!(first <= low.log10() + 1e-9 && last >= high.log10() - 1e-9, "{low}..{high}: {:?}", labels(&axis));
        }
        assert_eq!(labels(&Axis::log10("ns", (70.0, 1.2e6))), ["10", "100", "1000", "10000", "100000", "1e6", "1e7"]);
    }

    #[test]
    fn log_axis_puts_nonpositive_values_on_the_floor() {
        let axis = Axis::log10("ns", (10.0, 1000.0));
        assert_eq!(axis.at(-3.0), axis.visible.0);
    }
}
