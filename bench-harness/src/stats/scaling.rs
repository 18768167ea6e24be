//! Parallel-scaling metrics derived from timings: speedup with its
//! bootstrap interval, efficiency, Karp–Flatt serial fraction, overhead.

use super::bootstrap::{median_in_place, percentile_interval, resample_into, SplitMix64};
use super::order::{all_finite, quantile_sorted, sorted_copy};
use serde::{Deserialize, Serialize};

/// A point estimate with a 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The point estimate.
    pub value: f64,
    /// Lower end of the interval.
    pub ci_low: f64,
    /// Upper end of the interval.
    pub ci_high: f64,
}

/// Speedup `S = median(T1) / median(Tp)` from sequential times `t1` and
/// parallel times `tp`, with a 95 % percentile-bootstrap interval that
/// resamples both sets independently (they come from separate runs).
///
/// Returns `None` when either set is empty or non-finite, or when a median
/// of `tp` is not positive (no meaningful ratio).
pub fn speedup(t1: &[f64], tp: &[f64], resamples: usize, seed: u64) -> Option<Estimate> {
    if t1.is_empty() || tp.is_empty() || !all_finite(t1) || !all_finite(tp) {
        return None;
    }
    // Sorted copies make the replicates independent of sample order.
    let (t1, tp) = (sorted_copy(t1), sorted_copy(tp));
    let value = quantile_sorted(&t1, 0.5)? / positive(quantile_sorted(&tp, 0.5)?)?;
    let mut rng = SplitMix64::new(seed);
    let (mut buffer_1, mut buffer_p) = (Vec::new(), Vec::new());
    let replicates = (0..resamples)
        .filter_map(|_| {
            resample_into(&t1, &mut rng, &mut buffer_1);
            resample_into(&tp, &mut rng, &mut buffer_p);
            let denominator = positive(median_in_place(&mut buffer_p))?;
            Some(median_in_place(&mut buffer_1) / denominator)
        })
        .collect();
    let (ci_low, ci_high) = percentile_interval(replicates, value);
    Some(Estimate { value, ci_low, ci_high })
}

fn positive(x: f64) -> Option<f64> {
    (x > 0.0).then_some(x)
}

/// Parallel efficiency `S / p` (1 is perfect scaling). `None` for `p == 0`.
pub fn efficiency(speedup: f64, workers: usize) -> Option<f64> {
    (workers > 0).then(|| speedup / workers as f64)
}

/// Karp–Flatt experimentally determined serial fraction
/// `e = (1/S − 1/p) / (1 − 1/p)`. For a program that obeys Amdahl's law
/// exactly this is its serial fraction at every `p`; growth of `e` with `p`
/// points at overhead rather than inherent serial work.
///
/// `None` for `p <= 1` (undefined) or a non-positive / non-finite speedup.
pub fn karp_flatt(speedup: f64, workers: usize) -> Option<f64> {
    if workers <= 1 || !speedup.is_finite() || speedup <= 0.0 {
        return None;
    }
    let inverse_p = 1.0 / workers as f64;
    Some((1.0 / speedup - inverse_p) / (1.0 - inverse_p))
}

/// Parallel overhead per task in nanoseconds: the time `Tp` takes beyond a
/// perfect split of `T1` over `p` workers, `(Tp − T1/p) / tasks`, with times
/// in seconds. Negative values mean superlinear effects (e.g. cache).
///
/// `None` when `workers` or `tasks` is zero or a time is non-finite.
pub fn overhead_per_task_ns(t1_s: f64, tp_s: f64, workers: usize, tasks: usize) -> Option<f64> {
    if workers == 0 || tasks == 0 || !t1_s.is_finite() || !tp_s.is_finite() {
        return None;
    }
    Some((tp_s - t1_s / workers as f64) / tasks as f64 * 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::close;
    use crate::stats::Model;

    #[test]
    fn speedup_ratio_of_medians_with_bracketing_interval() {
        let t1 = [4.0, 4.1, 3.9, 4.05, 3.95];
        let tp = [1.0, 1.02, 0.98, 1.01, 0.99];
        let estimate = speedup(&t1, &tp, 500, 3).unwrap();
        assert_eq!(estimate.value, 4.0);
        assert!(estimate.ci_low <= 4.0 && 4.0 <= estimate.ci_high);
        assert!(estimate.ci_low > 3.7 && estimate.ci_high < 4.3);
        assert!(speedup(&t1, &[], 10, 3).is_none());
        assert!(speedup(&t1, &[0.0], 10, 3).is_none());
    }

    #[test]
    fn derived_metrics() {
        assert_eq!(efficiency(6.0, 8), Some(0.75));
        assert_eq!(efficiency(1.0, 0), None);
        let overhead = overhead_per_task_ns(8.0, 2.5, 4, 1_000_000).unwrap();
        assert!(close(overhead, 500.0, 1e-9));
        assert_eq!(overhead_per_task_ns(1.0, 1.0, 4, 0), None);
    }

    #[test]
    fn karp_flatt_recovers_amdahl_serial_fraction() {
        for &s in &[0.0, 0.1, 0.35] {
            for p in [2usize, 4, 16, 64] {
                let speedup = Model::Amdahl.speedup(&[s], p as f64);
                assert!(close(karp_flatt(speedup, p).unwrap(), s, 1e-12));
            }
        }
        assert_eq!(karp_flatt(1.0, 1), None);
        assert_eq!(karp_flatt(0.0, 4), None);
    }
}
