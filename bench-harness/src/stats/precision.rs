//! A figure with its interval, printed to the precision the interval
//! supports: the one rule every table of a report rounds by. The raw files
//! (`samples.csv`, `results.json`, pgfplots data) keep full precision.
//!
//! The rule is the Particle Data Group's: the uncertainty is the distance
//! from the value to the nearer end of its interval (the farther one when
//! the value sits on an end); it keeps two significant digits when its
//! leading digits are below 355, one otherwise, and the value and both ends
//! are rounded to that decimal place. `12.3 [12.1, 12.6]` but `3 [0, 13]`:
//! no digit is printed that the interval says nothing about. The place may
//! be the tens or hundreds: `620 [510, 690]`, `500 [100, 900]`. A value
//! quoted with a standard error (a fitted parameter) is the interval
//! `value ± error`, rounded by the same rule ([`plus_minus`]).

/// `value [low, high]` in plain numbers, to the precision the interval supports.
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::interval;
/// assert_eq!(interval(2.0031, 1.9912, 2.0104), "2.003 [1.991, 2.010]");
/// assert_eq!(interval(0.8312, 0.6105, 1.0207), "0.83 [0.61, 1.02]");
/// // No interval: three significant digits.
/// assert_eq!(interval(4.0, 4.0, 4.0), "4.00 [4.00, 4.00]");
/// // An uncertainty of tens or hundreds rounds the value itself, not just its decimals.
/// assert_eq!(interval(624.0, 510.0, 687.0), "620 [510, 690]");
/// assert_eq!(interval(537.2, 121.9, 914.4), "500 [100, 900]");
/// ```
pub fn interval(value: f64, low: f64, high: f64) -> String {
    let place = place(value, low, high);
    format!("{} [{}, {}]", fixed(value, place), fixed(low, place), fixed(high, place))
}

/// [`interval`] for a quantity that lies in `[min, max]` (a serial
/// fraction in [0, 1]) whose interval reaches outside it: the ends are cut
/// to the range, the digits are those the whole interval supports (cut, it
/// would look narrower than it is).
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::interval_within;
/// assert_eq!(interval_within(0.0028, -0.0006, 0.0100, 0.0, 1.0), "0.0028 [0.0000, 0.0100]");
/// assert_eq!(interval_within(0.003, -0.002, 0.010, 0.0, 1.0), "0.003 [0.000, 0.010]");
/// ```
pub fn interval_within(value: f64, low: f64, high: f64, min: f64, max: f64) -> String {
    let place = place(value, low, high);
    format!("{} [{}, {}]", fixed(value, place), fixed(low.clamp(min, max), place), fixed(high.clamp(min, max), place))
}

/// `value [low, high] unit` for times in seconds, in the unit (s, ms, µs,
/// ns) of the largest magnitude among the three, to the precision the
/// interval supports.
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::seconds_interval;
/// // An overhead whose interval spans two decades keeps one decimal of µs, not three digits.
/// assert_eq!(seconds_interval(3.512e-6, 146e-9, 12.7e-6), "3.5 [0.1, 12.7] µs");
/// assert_eq!(seconds_interval(0.501_23, 0.500_11, 0.502_37), "501.2 [500.1, 502.4] ms");
/// assert_eq!(seconds_interval(0.5372, 0.3219, 0.9144), "540 [320, 910] ms");
/// ```
pub fn seconds_interval(value: f64, low: f64, high: f64) -> String {
    let (scale, unit) = interval_time_unit(value, low, high);
    format!("{} {unit}", interval(value * scale, low * scale, high * scale))
}

/// [`seconds_interval`] in a unit chosen for a whole table column (see
/// [`column_time_unit`]) instead of the unit of this row's own magnitude.
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::{column_time_unit, seconds_interval_in};
/// let unit = column_time_unit([(0.6e-3, 0.2e-3, 1.0e-3)]);
/// assert_eq!(seconds_interval_in(0.6e-3, 0.2e-3, 1.0e-3, unit), "0.6 [0.2, 1.0] ms");
/// ```
pub fn seconds_interval_in(value: f64, low: f64, high: f64, (scale, unit): (f64, &'static str)) -> String {
    format!("{} {unit}", interval(value * scale, low * scale, high * scale))
}

/// The unit of a table column of times, each row a `(value, low, high)`:
/// that of the geometric middle of the rows' magnitudes (each row's largest
/// finite one, what [`seconds_interval`] picks a row's unit by), as a
/// chart's time axis picks its unit, so that no row is far from one to
/// three digits before the point. Each row in the unit of its own
/// magnitude put `0.60 [0.47, 1.13] ms` above `600 [200, 1000] µs` in one
/// column.
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::column_time_unit;
/// assert_eq!(column_time_unit([(0.6e-3, 0.5e-3, 0.7e-3), (2e-3, 1.9e-3, 2.1e-3)]).1, "ms");
/// assert_eq!(column_time_unit([(0.0, -20e-6, 20e-6)]).1, "µs");
/// assert_eq!(column_time_unit([]).1, "s");
/// ```
pub fn column_time_unit(rows: impl IntoIterator<Item = (f64, f64, f64)>) -> (f64, &'static str) {
    let magnitudes: Vec<f64> = rows
        .into_iter()
        .map(|(value, low, high)| {
            [value, low, high].iter().map(|x| x.abs()).filter(|x| x.is_finite()).fold(0.0, f64::max)
        })
        .filter(|x| *x > 0.0)
        .collect();
    if magnitudes.is_empty() {
        return time_unit(1.0);
    }
    let smallest = magnitudes.iter().copied().fold(f64::INFINITY, f64::min);
    let largest = magnitudes.iter().copied().fold(0.0, f64::max);
    time_unit((smallest * largest).sqrt())
}

/// `value` alone, rounded as [`interval`] rounds it: for a figure quoted
/// without its interval (a LaTeX macro), never to more digits than the
/// table beside it.
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::rounded;
/// assert_eq!(rounded(2.0031, 1.9912, 2.0104), "2.003");
/// assert_eq!(rounded(537.2, 121.9, 914.4), "500");
/// ```
pub fn rounded(value: f64, low: f64, high: f64) -> String {
    fixed(value, place(value, low, high))
}

/// `value` (above `threshold`) with the fewest decimals at which it, and
/// every number that rounds to it, is above `threshold` (`1.014`, not
/// `1.01`, against 1.005): for a flag that rests on that comparison, where
/// the value rounded by its interval would not show it (a median of
/// `1.014` is `1.0 [0.4, 1.6]`, which reads as no excess over 1.005).
/// This is the comparison's number, not an estimate to quote: the estimate
/// is still printed by [`interval`]. A value not above `threshold` is
/// printed as `alone` does.
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::shown_above;
/// assert_eq!(shown_above(1.014, 1.005), "1.014");
/// assert_eq!(shown_above(101.4, 100.5), "101.4");
/// assert_eq!(shown_above(2.38, 2.01), "2.4");
/// assert_eq!(shown_above(1.00504, 1.005), "1.00504");
/// ```
pub fn shown_above(value: f64, threshold: f64) -> String {
    (0..=12_i32)
        .map(|decimals| (format!("{value:.*}", decimals.unsigned_abs() as usize), 0.5 * 10f64.powi(-decimals)))
        // Compared with a margin: `1.01 − 0.005` computes as 1.0050000000000001.
        .find(|(shown, half)| {
            shown.parse::<f64>().is_ok_and(|shown| shown - half > threshold + 1e-12 * threshold.abs())
        })
        .map_or_else(|| alone(value), |(shown, _)| shown)
}

/// `value ± error` for an estimate with a standard error (a fitted
/// parameter): the interval `[value − error, value + error]` rounded by the
/// module's rule, the error to the same place. Without a usable error, or
/// with one below 10⁻⁴ of the value (exact data, where it is rounding
/// noise), the value alone to three significant digits, as [`interval`]
/// prints a figure with an empty interval.
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::plus_minus;
/// assert_eq!(plus_minus(0.579_04, Some(0.1512)), "0.58 ± 0.15");
/// assert_eq!(plus_minus(1475.3, Some(337.2)), "1480 ± 340");
/// assert_eq!(plus_minus(148.2, Some(34.1)), "148 ± 34");
/// assert_eq!(plus_minus(0.1, None), "0.100");
/// // A parameter fitted exactly at its bound: no digits of rounding noise.
/// assert_eq!(plus_minus(0.0, Some(3.1e-15)), "0.00");
/// assert_eq!(plus_minus(1e-16, Some(4.2e-14)), plus_minus(0.0, None));
/// ```
pub fn plus_minus(value: f64, error: Option<f64>) -> String {
    match usable_error(value, error) {
        Some(error) => {
            let place = place(value, value - error, value + error);
            format!("{} ± {}", fixed(value, place), fixed(error, place))
        }
        None => alone(value),
    }
}

/// A value without a usable error, to three significant digits; one
/// within rounding noise of 0 is 0 (not twelve zero decimals).
fn alone(value: f64) -> String {
    let value = if value.abs() <= ABSOLUTE_NOISE { 0.0 } else { value };
    rounded(value, value, value)
}

/// `value` alone, rounded as [`plus_minus`] rounds it: for an estimate
/// quoted without its error (a LaTeX macro beside a table that gives it).
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::plus_minus_rounded;
/// assert_eq!(plus_minus_rounded(0.579_04, Some(0.1512)), "0.58");
/// assert_eq!(plus_minus_rounded(0.000_018_09, Some(0.000_000_33)), "0.00001809");
/// ```
pub fn plus_minus_rounded(value: f64, error: Option<f64>) -> String {
    match usable_error(value, error) {
        Some(error) => rounded(value, value - error, value + error),
        None => alone(value),
    }
}

/// The error [`plus_minus`] prints: finite, positive and above rounding
/// noise, which is relative to the value and, for a value at or near 0
/// (a fit's parameter at its bound, fitted exactly), absolute: such a fit
/// printed `s = 0.000000000000 ± 0.000000000000`.
fn usable_error(value: f64, error: Option<f64>) -> Option<f64> {
    error.filter(|&error| error.is_finite() && error > value.abs() * 1e-4 && error > ABSOLUTE_NOISE)
}

/// Below this, an error is the arithmetic's rounding, not the data's
/// scatter: every quantity quoted with an error (a serial fraction, a
/// contention or coherency coefficient, a speedup, a worker count) is
/// orders of magnitude above it where it means anything.
const ABSOLUTE_NOISE: f64 = 1e-9;

/// A time alone and its unit, rounded and scaled as [`seconds_interval`]
/// prints them.
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::seconds_rounded;
/// assert_eq!(seconds_rounded(0.501_23, 0.500_11, 0.502_37), ("501.2".to_owned(), "ms"));
/// ```
pub fn seconds_rounded(value: f64, low: f64, high: f64) -> (String, &'static str) {
    let (scale, unit) = interval_time_unit(value, low, high);
    (rounded(value * scale, low * scale, high * scale), unit)
}

/// The unit of the largest finite magnitude among a time and its interval.
fn interval_time_unit(value: f64, low: f64, high: f64) -> (f64, &'static str) {
    let largest = [value, low, high].iter().map(|x| x.abs()).filter(|x| x.is_finite()).fold(0.0, f64::max);
    time_unit(largest)
}

/// `value [low, high]%` for fractions (efficiency 0.98 → `98 [96, 100]%`).
///
/// # Examples
///
/// ```
/// use bench_harness::stats::precision::percent_interval;
/// assert_eq!(percent_interval(0.9812, 0.9634, 1.0021), "98.1 [96.3, 100.2]%");
/// ```
pub fn percent_interval(value: f64, low: f64, high: f64) -> String {
    let place = place(value * 100.0, low * 100.0, high * 100.0);
    format!("{} [{}, {}]%", fixed(value * 100.0, place), fixed(low * 100.0, place), fixed(high * 100.0, place))
}

/// Multiplier and name of the time unit that shows `seconds` with one to
/// three digits before the point: the unit of every table and chart.
pub(crate) fn time_unit(seconds: f64) -> (f64, &'static str) {
    if seconds >= 1.0 {
        (1.0, "s")
    } else if seconds >= 1e-3 {
        (1e3, "ms")
    } else if seconds >= 1e-6 {
        (1e6, "µs")
    } else {
        (1e9, "ns")
    }
}

/// The power of ten of the last digit the interval supports (see the module
/// docs): −2 for hundredths, 1 for tens; three significant digits of `value`
/// when the interval is empty or not finite. Never below −12.
fn place(value: f64, low: f64, high: f64) -> i32 {
    let distances = [value - low, high - value];
    let uncertainty = if distances.iter().all(|d| d.is_finite() && *d > 0.0) {
        distances[0].min(distances[1])
    } else {
        distances.iter().copied().filter(|d| d.is_finite() && *d > 0.0).fold(0.0, f64::max)
    };
    let place = if uncertainty > 0.0 {
        let exponent = uncertainty.log10().floor();
        let leading = uncertainty / 10f64.powf(exponent);
        // 1.00–3.54: two significant digits; 3.55–9.99: one.
        if leading < 3.55 {
            exponent - 1.0
        } else {
            exponent
        }
    } else {
        let magnitude = value.abs();
        if magnitude > 0.0 && magnitude.is_finite() {
            magnitude.log10().floor() - 2.0
        } else {
            -2.0
        }
    };
    place.clamp(-12.0, 9.0) as i32
}

/// `x` rounded to the digit at `10^place`: decimals for a negative place,
/// the value itself rounded to tens, hundreds, ... for a positive one
/// (`624` at place 1 is `620`); never `-0`. A magnitude of 10^9 or more (an
/// interval reaching absurd values) in exponent form with three
/// significant digits, not hundreds of digits.
fn fixed(x: f64, place: i32) -> String {
    if x.abs() >= 1e9 && x.is_finite() {
        return format!("{x:.2e}");
    }
    let text = if place > 0 {
        let unit = 10f64.powi(place);
        format!("{:.0}", (x / unit).round() * unit)
    } else {
        let decimals = place.unsigned_abs() as usize;
        format!("{x:.decimals$}")
    };
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_decides_the_digits() {
        // The referee's case: overhead per task with an interval of [146 ns, 12.7 µs].
        assert_eq!(seconds_interval(1.234_567e-6, 146e-9, 12.7e-6), "1.2 [0.1, 12.7] µs");
        // A tight interval keeps more digits than three significant ones.
        assert_eq!(seconds_interval(0.123_456_7, 0.123_401, 0.123_512), "123.46 [123.40, 123.51] ms");
        // Leading digits 355 and above: one significant digit of the uncertainty.
        assert_eq!(interval(12.34, 11.8, 13.0), "12.3 [11.8, 13.0]");
        assert_eq!(interval(12.34, 7.1, 20.0), "12 [7, 20]");
        // The value on an end of its interval: the other end decides.
        assert_eq!(interval(1.0, 1.0, 1.0314), "1.000 [1.000, 1.031]");
        assert_eq!(interval(-0.0004, -0.31, 0.52), "0.00 [-0.31, 0.52]");
        assert_eq!(percent_interval(1.0, 0.995, 1.005), "100.0 [99.5, 100.5]%");
        assert_eq!(interval(f64::NAN, 1.0, 2.0), "NaN [1.00, 2.00]");
        assert_eq!(interval(9.7e-6, 8.3e-6, 1e300), "0.0000097 [0.0000083, 1.00e300]");
    }

    #[test]
    fn an_uncertainty_of_tens_or_hundreds_rounds_the_value_itself() {
        // The referee's cases: the committed backends summary and the public API.
        assert_eq!(interval(624.0, 510.0, 687.0), "620 [510, 690]");
        assert_eq!(interval(271.0, 191.0, 353.0), "270 [190, 350]");
        assert_eq!(interval(97.0, 15.0, 162.0), "100 [20, 160]");
        assert_eq!(interval(537.2, 121.9, 914.4), "500 [100, 900]");
        assert_eq!(seconds_interval(0.5372, 0.3219, 0.9144), "540 [320, 910] ms");
        assert_eq!(seconds_interval(624e-9, 510e-9, 687e-9), "620 [510, 690] ns");
        assert_eq!(rounded(537.2, 121.9, 914.4), "500");
        assert_eq!(seconds_rounded(0.5372, 0.3219, 0.9144), ("540".to_owned(), "ms"));
        assert_eq!(percent_interval(0.5, 0.1, 3.1), "50 [10, 310]%");
        // Rounding to tens never prints "-0" nor a trailing ".0".
        assert_eq!(interval(-3.0, -80.0, 60.0), "0 [-80, 60]");
        assert_eq!(interval(12_345.0, 12_345.0, 12_345.0), "12300 [12300, 12300]");
        // Exponent form stays for magnitudes of 10^9 and more.
        assert_eq!(interval(2.5e9, 1.1e9, 3.9e9), "2.50e9 [1.10e9, 3.90e9]");
    }

    #[test]
    fn a_value_with_a_standard_error_follows_the_same_rule() {
        assert_eq!(plus_minus(1475.3, Some(337.2)), "1480 ± 340");
        assert_eq!(plus_minus(1475.3, Some(637.2)), "1500 ± 600");
        assert_eq!(plus_minus(0.579_04, Some(0.1512)), "0.58 ± 0.15");
        assert_eq!(plus_minus(0.100_34, Some(0.003_12)), "0.1003 ± 0.0031");
        assert_eq!(plus_minus(0.100_34, Some(0.006_12)), "0.100 ± 0.006");
        // Leading digits 355 and above: one significant digit of the error.
        assert_eq!(plus_minus(0.027_04, Some(0.0261)), "0.027 ± 0.026");
        assert_eq!(plus_minus(0.027_04, Some(0.0461)), "0.03 ± 0.05");
        // A parameter below 5e-5 keeps its digits.
        assert_eq!(plus_minus(0.000_018_09, Some(0.000_000_33)), "0.00001809 ± 0.00000033");
        assert_eq!(plus_minus(0.000_018_09, Some(0.000_000_53)), "0.0000181 ± 0.0000005");
        assert_eq!(plus_minus_rounded(0.000_018_09, Some(0.000_000_33)), "0.00001809");
        assert_eq!(plus_minus_rounded(1475.3, Some(337.2)), "1480");
        // No error, or rounding noise on exact data: three significant digits.
        assert_eq!(plus_minus(0.1, Some(1e-15)), "0.100");
        assert_eq!(plus_minus(0.1, Some(f64::NAN)), "0.100");
        assert_eq!(plus_minus_rounded(0.1, None), "0.100");
        assert_eq!(plus_minus(-1e-17, Some(0.4251)), "0.0 ± 0.4");
    }
}
