//! The robust summary of one set of samples (the order statistics it
//! rests on are in `order`, re-exported here).

use super::bootstrap::{median_in_place, percentile_interval, resample_into, SplitMix64};
use super::order::{all_finite, sorted_copy};
pub use super::order::{median, quantile, quantile_sorted};
use serde::{Deserialize, Serialize};

/// Descriptive statistics of one set of samples (typically wall times in
/// seconds), centred on the median because timing noise is one-sided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Sample median.
    pub median: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 denominator; 0 for a single sample).
    pub std_dev: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Lower end of the 95 % percentile-bootstrap interval of the median.
    pub ci_low: f64,
    /// Upper end of the 95 % percentile-bootstrap interval of the median.
    pub ci_high: f64,
}

/// Summarises `samples`, with a 95 % percentile-bootstrap confidence
/// interval of the median from `resamples` resamples drawn with `seed`.
///
/// Returns `None` for empty input or when any sample is NaN or infinite.
/// With `resamples == 0` the interval collapses onto the median.
pub fn summarize(samples: &[f64], resamples: usize, seed: u64) -> Option<Summary> {
    if samples.is_empty() || !all_finite(samples) {
        return None;
    }
    let sorted = sorted_copy(samples);
    let n = sorted.len();
    let median = quantile_sorted(&sorted, 0.5)?;
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let std_dev = if n > 1 {
        let squares: f64 = sorted.iter().map(|x| (x - mean).powi(2)).sum();
        (squares / (n - 1) as f64).sqrt()
    } else {
        0.0
    };

    let mut rng = SplitMix64::new(seed);
    let mut buffer = Vec::with_capacity(n);
    let replicates = (0..resamples)
        .map(|_| {
            resample_into(&sorted, &mut rng, &mut buffer);
            median_in_place(&mut buffer)
        })
        .collect();
    let (ci_low, ci_high) = percentile_interval(replicates, median);

    Some(Summary { n, median, mean, std_dev, min: sorted[0], max: sorted[n - 1], ci_low, ci_high })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::bootstrap::{noise, SplitMix64};
    use crate::stats::close;

    #[test]
    fn median_and_quantiles_match_hand_computation() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let data = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&data, 0.25), Some(2.0));
        assert_eq!(quantile(&data, 0.1), Some(1.4));
        assert_eq!(quantile(&data, 0.0), Some(1.0));
        assert_eq!(quantile(&data, 1.0), Some(5.0));
    }

    #[test]
    fn summary_reports_moments_and_rejects_bad_input() {
        let summary = summarize(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], 200, 1).unwrap();
        assert_eq!(summary.n, 8);
        assert_eq!(summary.median, 4.5);
        assert_eq!(summary.mean, 5.0);
        assert!(close(summary.std_dev, (32.0f64 / 7.0).sqrt(), 1e-12));
        assert_eq!((summary.min, summary.max), (2.0, 9.0));
        assert!(summarize(&[], 100, 1).is_none());
        assert!(summarize(&[1.0, f64::NAN], 100, 1).is_none());
        let single = summarize(&[3.0], 50, 1).unwrap();
        assert_eq!((single.std_dev, single.ci_low, single.ci_high), (0.0, 3.0, 3.0));
    }

    #[test]
    fn bootstrap_interval_brackets_median_narrows_and_is_reproducible() {
        let mut rng = SplitMix64::new(42);
        let draw = |rng: &mut SplitMix64, n: usize| -> Vec<f64> { (0..n).map(|_| 1.0 + noise(rng, 0.1)).collect() };
        let small = draw(&mut rng, 10);
        let large = draw(&mut rng, 400);
        let small_summary = summarize(&small, 500, 7).unwrap();
        let large_summary = summarize(&large, 500, 7).unwrap();
        for summary in [small_summary, large_summary] {
            assert!(summary.ci_low <= summary.median && summary.median <= summary.ci_high);
            assert!(summary.ci_low < summary.ci_high);
        }
        let width = |s: Summary| s.ci_high - s.ci_low;
        assert!(width(large_summary) < width(small_summary) / 2.0);
        assert_eq!(summarize(&small, 500, 7), Some(small_summary));
        assert_ne!(summarize(&small, 500, 8), Some(small_summary));
    }
}
