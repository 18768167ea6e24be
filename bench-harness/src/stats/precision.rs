//! A figure with its interval, printed to the precision the interval
//! supports: the one rule every table of a report rounds by. The raw files
//! (`samples.csv`, `results.json`, pgfplots data) keep full precision.
//!
//! The rule is the Particle Data Group's: the uncertainty is the distance
//! from the value to the nearer end of its interval (the farther one when
//! the value sits on an end); it keeps two significant digits when its
//! leading digits are below 355, one otherwise, and the value and both ends
//! are rounded to that decimal place. `12.3 [12.1, 12.6]` but `3 [0, 13]`:
//! no digit is printed that the interval says nothing about.

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
/// ```
pub fn interval(value: f64, low: f64, high: f64) -> String {
    let decimals = decimals(value, low, high);
    format!("{} [{}, {}]", fixed(value, decimals), fixed(low, decimals), fixed(high, decimals))
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
/// ```
pub fn seconds_interval(value: f64, low: f64, high: f64) -> String {
    let (scale, unit) = interval_time_unit(value, low, high);
    format!("{} {unit}", interval(value * scale, low * scale, high * scale))
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
/// ```
pub fn rounded(value: f64, low: f64, high: f64) -> String {
    fixed(value, decimals(value, low, high))
}

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
    let decimals = decimals(value * 100.0, low * 100.0, high * 100.0);
    format!("{} [{}, {}]%", fixed(value * 100.0, decimals), fixed(low * 100.0, decimals), fixed(high * 100.0, decimals))
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

/// Decimal places the interval supports (see the module docs); three
/// significant digits of `value` when the interval is empty or not finite.
fn decimals(value: f64, low: f64, high: f64) -> usize {
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
    (-place).clamp(0.0, 12.0) as usize
}

/// `x` with `decimals` decimal places; never `-0`. A magnitude of 10^9
/// or more (an interval reaching absurd values) in exponent form with
/// three significant digits, not hundreds of digits.
fn fixed(x: f64, decimals: usize) -> String {
    if x.abs() >= 1e9 && x.is_finite() {
        return format!("{x:.2e}");
    }
    let text = format!("{x:.decimals$}");
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
}
