//! Deterministic bootstrap machinery: a tiny seeded generator, resampling
//! with replacement and percentile intervals.
//!
//! Owning the generator (rather than using the `rand` crate) keeps results
//! bit-for-bit reproducible across dependency upgrades.

use super::order::quantile_sorted;

/// Confidence level of every interval computed in [`crate::stats`].
pub(super) const CONFIDENCE: f64 = 0.95;

/// SplitMix64: a tiny, well-mixed 64-bit generator whose statistical
/// quality is ample for bootstrap index draws.
pub(super) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(super) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index in `0..n` (`n > 0`). Uses the multiply-high mapping,
    /// whose bias (< n / 2^64) is far below anything a bootstrap can notice.
    pub(super) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Fills `out` with a resample (with replacement) of `samples`.
pub(super) fn resample_into(samples: &[f64], rng: &mut SplitMix64, out: &mut Vec<f64>) {
    out.clear();
    out.extend((0..samples.len()).map(|_| samples[rng.below(samples.len())]));
}

/// Median of `buffer`, sorting it in place (the bootstrap's hot path, where
/// a fresh allocation per resample would dominate).
pub(super) fn median_in_place(buffer: &mut [f64]) -> f64 {
    buffer.sort_by(f64::total_cmp);
    quantile_sorted(buffer, 0.5).unwrap_or(f64::NAN)
}

/// Percentile interval of bootstrap replicates: the central [`CONFIDENCE`]
/// mass. Falls back to `point` when there are no replicates.
pub(super) fn percentile_interval(mut replicates: Vec<f64>, point: f64) -> (f64, f64) {
    replicates.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    match (quantile_sorted(&replicates, tail), quantile_sorted(&replicates, 1.0 - tail)) {
        (Some(low), Some(high)) => (low, high),
        _ => (point, point),
    }
}

/// Deterministic, roughly normal noise (a sum of twelve uniforms) with
/// standard deviation `scale`, for synthetic test data.
#[cfg(test)]
pub(super) fn noise(rng: &mut SplitMix64, scale: f64) -> f64 {
    let uniform_sum: f64 = (0..12).map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).sum();
    (uniform_sum - 6.0) * scale
}
