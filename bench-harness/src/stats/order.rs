//! Order statistics: quantiles of sorted and unsorted samples. The lowest
//! layer of the statistics, which the summary, the bootstrap and the
//! scaling metrics all read.

/// The `q`-quantile (`q` in `[0, 1]`, clamped) of already **sorted** data,
/// interpolating linearly between order statistics (Hyndman & Fan type 7,
/// the default of R and NumPy). Returns `None` for empty data.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = q.clamp(0.0, 1.0) * last as f64;
    let below = h.floor() as usize;
    let above = (below + 1).min(last);
    let weight = h - below as f64;
    Some(sorted[below] + weight * (sorted[above] - sorted[below]))
}

/// The `q`-quantile of unsorted samples; see [`quantile_sorted`].
pub fn quantile(samples: &[f64], q: f64) -> Option<f64> {
    quantile_sorted(&sorted_copy(samples), q)
}

/// The median of unsorted samples (`None` when empty).
pub fn median(samples: &[f64]) -> Option<f64> {
    quantile(samples, 0.5)
}

pub(crate) fn sorted_copy(samples: &[f64]) -> Vec<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

pub(crate) fn all_finite(samples: &[f64]) -> bool {
    samples.iter().all(|x| x.is_finite())
}
