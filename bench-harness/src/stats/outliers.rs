//! Outlier classification by Tukey's fences.

use super::order::{quantile_sorted, sorted_copy};
use serde::{Deserialize, Serialize};

/// Counts of samples outside Tukey's fences. Outliers are reported, never
/// removed: a slow repetition is a real observation (a page fault, a
/// migration) that the median already discounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outliers {
    /// Number of samples classified.
    pub n: usize,
    /// Below `Q1 − 3·IQR`.
    pub low_severe: usize,
    /// In `[Q1 − 3·IQR, Q1 − 1.5·IQR)`.
    pub low_mild: usize,
    /// In `(Q3 + 1.5·IQR, Q3 + 3·IQR]`.
    pub high_mild: usize,
    /// Above `Q3 + 3·IQR`.
    pub high_severe: usize,
    /// Positions (in the input order, ascending) of every outlier.
    pub indices: Vec<usize>,
}

impl Outliers {
    /// Number of outliers of any kind.
    pub fn total(&self) -> usize {
        self.low_severe + self.low_mild + self.high_mild + self.high_severe
    }

    /// A one-line human description, e.g.
    /// `"3 of 20 samples (15.0%) are outliers: 1 low severe, 2 high mild"`.
    pub fn describe(&self) -> String {
        let total = self.total();
        if total == 0 {
            return format!("no outliers among {} samples", self.n);
        }
        let kinds: Vec<String> = [
            (self.low_severe, "low severe"),
            (self.low_mild, "low mild"),
            (self.high_mild, "high mild"),
            (self.high_severe, "high severe"),
        ]
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, kind)| format!("{count} {kind}"))
        .collect();
        let percent = 100.0 * total as f64 / self.n as f64;
        let verb = if total == 1 { "is an outlier" } else { "are outliers" };
        format!("{total} of {} samples ({percent:.1}%) {verb}: {}", self.n, kinds.join(", "))
    }
}

/// Classifies samples by Tukey's fences: mild beyond 1.5 IQR from the
/// quartiles, severe beyond 3 IQR. Non-finite samples count as severe on
/// their side (NaN as high) so that a broken measurement is never hidden.
pub fn classify_outliers(samples: &[f64]) -> Outliers {
    let mut outliers = Outliers { n: samples.len(), ..Outliers::default() };
    let finite: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    let sorted = sorted_copy(&finite);
    let (Some(q1), Some(q3)) = (quantile_sorted(&sorted, 0.25), quantile_sorted(&sorted, 0.75)) else {
        // No finite sample: each one is broken, hence severe.
        for (index, x) in samples.iter().enumerate() {
            if *x == f64::NEG_INFINITY {
                outliers.low_severe += 1;
            } else {
                outliers.high_severe += 1;
            }
            outliers.indices.push(index);
        }
        return outliers;
    };
    let iqr = q3 - q1;
    for (index, &x) in samples.iter().enumerate() {
        let bucket = if x < q1 - 3.0 * iqr {
            &mut outliers.low_severe
        } else if x < q1 - 1.5 * iqr {
            &mut outliers.low_mild
        } else if x > q3 + 3.0 * iqr || x.is_nan() {
            &mut outliers.high_severe
        } else if x > q3 + 1.5 * iqr {
            &mut outliers.high_mild
        } else {
            continue;
        };
        *bucket += 1;
        outliers.indices.push(index);
    }
    outliers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tukey_fences_find_planted_outliers_without_dropping_samples() {
        let mut samples: Vec<f64> = (0..=8).map(|i| 10.0 + f64::from(i) * 0.5).collect();
        samples.extend([-5.0, 4.0, 22.0, 24.0, 40.0]);
        // Over all 14 samples Q1 = 10.625 and Q3 = 13.875 (IQR 3.25), so the
        // fences are 0.875 / 5.75 below and 18.75 / 23.625 above.
        let outliers = classify_outliers(&samples);
        assert_eq!(outliers.low_severe, 1, "-5");
        assert_eq!(outliers.low_mild, 1, "4");
        assert_eq!(outliers.high_mild, 1, "22");
        assert_eq!(outliers.high_severe, 2, "24 and 40");
        assert_eq!(outliers.total(), 5);
        assert_eq!(outliers.indices, vec![9, 10, 11, 12, 13]);
        assert_eq!(outliers.n, samples.len());
        assert_eq!(
            outliers.describe(),
            "5 of 14 samples (35.7%) are outliers: 1 low severe, 1 low mild, 1 high mild, 2 high severe"
        );
        let clean = classify_outliers(&[1.0, 1.1, 0.9, 1.0, 1.05, 0.95]);
        assert_eq!(clean.total(), 0);
        assert_eq!(clean.describe(), "no outliers among 6 samples");
    }

    #[test]
    fn tukey_counts_nan_as_severe() {
        let outliers = classify_outliers(&[1.0, 1.0, 1.0, f64::NAN]);
        assert_eq!(outliers.high_severe, 1);
        assert_eq!(outliers.indices, vec![3]);
    }
}
