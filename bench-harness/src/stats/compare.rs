//! Comparing two sets of timings of the same cell (two revisions, two
//! machines, pinned against not): the ratio of their medians with a bootstrap
//! interval, and the Mann–Whitney U test of whether one tends to be slower.
//!
//! Both are rank- or median-based, so a few outlying repetitions (timing
//! noise is one-sided) move them little, unlike a t-test on means.

use serde::{Deserialize, Serialize};

use super::order::all_finite;
use super::scaling::{speedup, Estimate};

/// The outcome of comparing a candidate's timings with a baseline's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `median(candidate) / median(baseline)` with a 95 % bootstrap
    /// interval: below 1 the candidate is faster.
    pub ratio: Estimate,
    /// The rank test of the two sets.
    pub test: MannWhitney,
}

impl Comparison {
    /// Whether the difference is significant at level `alpha` *and* the
    /// ratio's interval excludes 1 (both must agree before a report calls a
    /// cell faster or slower).
    pub fn is_significant(&self, alpha: f64) -> bool {
        self.test.p_value < alpha && (self.ratio.ci_high < 1.0 || self.ratio.ci_low > 1.0)
    }
}

/// How a Mann–Whitney p-value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PValueMethod {
    /// The exact permutation distribution of U: for small samples, with
    /// or without ties.
    Exact,
    /// The normal approximation with tie and continuity corrections.
    Normal,
}

/// The Mann–Whitney U test (Wilcoxon rank-sum) of two independent samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U of the first (baseline) sample: the number of pairs in which its
    /// value is the larger, ties counting one half.
    pub u: f64,
    /// Two-sided p-value of "neither sample tends to be larger".
    pub p_value: f64,
    /// How `p_value` was computed.
    pub method: PValueMethod,
}

/// Largest size of the smaller sample for which the exact distribution is
/// used (when there are no ties); beyond it the normal approximation is
/// accurate to well under the precision anyone reads a p-value at.
const EXACT_MAX_SMALLER: usize = 20;

/// Largest total size for which tied samples get the exact permutation
/// distribution. Ties make the normal approximation worst exactly where
/// samples are small (up to 0.19 off at n = 10), and the distribution of
/// the tied rank sum is cheap there: `O((m + n)³ · min(m, n))` steps.
const EXACT_TIED_MAX_TOTAL: usize = 40;

/// Two-sided Mann–Whitney U test of `a` against `b`.
///
/// Exact when the smaller sample has at most 20 values and there are no
/// ties, or there are ties and at most 40 values in all: then the p-value
/// is the share of the `C(m + n, m)` ways to split the pooled (mid)ranks
/// whose U lies at least as far from `mn/2` as the observed one.
/// Otherwise the normal approximation with the tie-corrected variance and a
/// continuity correction (the conventions of R's `wilcox.test` and SciPy's
/// `mannwhitneyu`). `None` when either sample is empty or non-finite.
///
/// ```
/// use bench_harness::stats::compare::{mann_whitney_u, PValueMethod};
/// let males = [19.0, 22.0, 16.0, 29.0, 24.0];
/// let females = [20.0, 11.0, 17.0, 12.0];
/// let test = mann_whitney_u(&males, &females).unwrap();
/// assert_eq!(test.u, 17.0);
/// assert_eq!(test.method, PValueMethod::Exact);
/// assert!((test.p_value - 1.0 / 9.0).abs() < 1e-12);
/// ```
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    if a.is_empty() || b.is_empty() || !all_finite(a) || !all_finite(b) {
        return None;
    }
    let (m, n) = (a.len(), b.len());
    let (ranks, ties) = midranks(a.iter().chain(b).copied().collect());
    let rank_sum_a: f64 = ranks[..m].iter().sum();
    let u = rank_sum_a - (m * (m + 1)) as f64 / 2.0;
    let total = (m * n) as f64;
    if ties.is_empty() && m.min(n) <= EXACT_MAX_SMALLER {
        let p_value = exact_two_sided(u, m, n);
        return Some(MannWhitney { u, p_value, method: PValueMethod::Exact });
    }
    if !ties.is_empty() && m + n <= EXACT_TIED_MAX_TOTAL {
        let p_value = exact_tied_two_sided(&ranks, m, u);
        return Some(MannWhitney { u, p_value, method: PValueMethod::Exact });
    }
    let count = (m + n) as f64;
    let tie_term: f64 = ties.iter().map(|&t| (t * t * t - t) as f64).sum::<f64>() / (count * (count - 1.0));
    let variance = total / 12.0 * ((count + 1.0) - tie_term);
    let p_value = if variance <= 0.0 {
        // Every value equal: no evidence of any difference.
        1.0
    } else {
        let distance = ((u - total / 2.0).abs() - 0.5).max(0.0);
        (erfc(distance / variance.sqrt() / std::f64::consts::SQRT_2)).min(1.0)
    };
    Some(MannWhitney { u, p_value, method: PValueMethod::Normal })
}

/// Midranks (1-based, ties sharing their mean rank) of `values`, in their
/// original order, and the sizes of the tie groups larger than one.
fn midranks(values: Vec<f64>) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) share ranks start+1..=end.
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = mean_rank;
        }
        if end - start > 1 {
            ties.push(end - start);
        }
        start = end;
    }
    (ranks, ties)
}

/// Exact two-sided p-value of U for sample sizes `m` and `n` without ties:
/// twice the smaller tail probability, capped at 1.
fn exact_two_sided(u: f64, m: usize, n: usize) -> f64 {
    let counts = u_distribution(m, n);
    let total: f64 = counts.iter().sum();
    // U is an integer without ties; the distribution is symmetric about mn/2.
    let u = u.round() as usize;
    let lower = u.min(m * n - u);
    let tail: f64 = counts[..=lower].iter().sum();
    (2.0 * tail / total).min(1.0)
}

/// Exact two-sided p-value of U with ties, from the permutation
/// distribution of the first sample's rank sum over the pooled midranks
/// `ranks` (the first `m` of them belong to the first sample).
///
/// Doubled midranks are integers, so a subset-sum count over them is exact:
/// `counts[k][t]` is the number of `k`-subsets whose doubled ranks sum to
/// `t`. With ties the distribution need not be symmetric, so both tails
/// are taken as "at least as far from the centre `mn/2`".
fn exact_tied_two_sided(ranks: &[f64], m: usize, u: f64) -> f64 {
    let doubled: Vec<usize> = ranks.iter().map(|r| (2.0 * r).round() as usize).collect();
    let largest_sum: usize = doubled.iter().sum();
    let mut counts = vec![vec![0.0f64; largest_sum + 1]; m + 1];
    counts[0][0] = 1.0;
    for (taken, &rank) in doubled.iter().enumerate() {
        // Downwards in k so that each rank is used at most once per subset.
        for k in (1..=m.min(taken + 1)).rev() {
            let (fewer, more) = counts.split_at_mut(k);
            for (target, &ways) in more[0][rank..].iter_mut().zip(&fewer[k - 1]) {
                *target += ways;
            }
        }
    }
    let n = ranks.len() - m;
    // U = R − m(m + 1)/2, so in doubled units 2U = T − m(m + 1).
    let centre = (m * n) as f64;
    let observed = (2.0 * u - centre).abs();
    let (mut extreme, mut total) = (0.0, 0.0);
    for (sum, &ways) in counts[m].iter().enumerate() {
        if ways == 0.0 {
            continue;
        }
        total += ways;
        let doubled_u = sum as f64 - (m * (m + 1)) as f64;
        // Doubled U values are integers: a tolerance of a half decides ties exactly.
        if (doubled_u - centre).abs() >= observed - 0.5 {
            extreme += ways;
        }
    }
    (extreme / total).min(1.0)
}

/// `counts[u]`: how many of the C(m + n, m) arrangements give U = u. Built
/// with the recurrence on the largest value (it either belongs to the first
/// sample, adding `n'` to U, or to the second), one sample size at a time.
fn u_distribution(m: usize, n: usize) -> Vec<f64> {
    // table[j][u] for the current i = sizes (i, j).
    let mut table: Vec<Vec<f64>> = (0..=n).map(|_| vec![1.0]).collect();
    for i in 1..=m {
        let mut next: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
        next.push(vec![1.0]);
        for j in 1..=n {
            let mut row = vec![0.0; i * j + 1];
            // Largest value in sample 1: it beats all j of sample 2.
            for (u, &ways) in table[j].iter().enumerate() {
                row[u + j] += ways;
            }
            // Largest value in sample 2: U unchanged.
            for (u, &ways) in next[j - 1].iter().enumerate() {
                row[u] += ways;
            }
            next.push(row);
        }
        table = next;
    }
    table.swap_remove(n)
}

/// The complementary error function, to a relative error below 1.2e-7
/// (Numerical Recipes' Chebyshev fit): ample for a p-value.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * poly.exp();
    if x >= 0.0 {
        value
    } else {
        2.0 - value
    }
}

/// `median(candidate) / median(baseline)` with a 95 % percentile-bootstrap
/// interval (each set resampled independently, `resamples` times, from
/// `seed`). `None` when either set is empty or non-finite or the baseline's
/// median is not positive.
pub fn ratio_of_medians(baseline: &[f64], candidate: &[f64], resamples: usize, seed: u64) -> Option<Estimate> {
    // `speedup(t1, tp)` is median(t1) / median(tp): the same ratio.
    speedup(candidate, baseline, resamples, seed)
}

/// Compares `candidate` timings with `baseline` ones: the ratio of medians
/// (with its interval) and the Mann–Whitney test.
pub fn compare(baseline: &[f64], candidate: &[f64], resamples: usize, seed: u64) -> Option<Comparison> {
    Some(Comparison {
        ratio: ratio_of_medians(baseline, candidate, resamples, seed)?,
        test: mann_whitney_u(baseline, candidate)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::bootstrap::{noise, SplitMix64};
    use crate::stats::close;

    /// SciPy's documented example (`scipy.stats.mannwhitneyu`): U = 17,
    /// exact p = 1/9, asymptotic p = 0.11134688653314041.
    #[test]
    fn textbook_example_matches_scipy() {
        let males = [19.0, 22.0, 16.0, 29.0, 24.0];
        let females = [20.0, 11.0, 17.0, 12.0];
        let exact = mann_whitney_u(&males, &females).unwrap();
        assert_eq!(exact.u, 17.0);
        assert_eq!(exact.method, PValueMethod::Exact);
        assert!(close(exact.p_value, 1.0 / 9.0, 1e-12), "{}", exact.p_value);
        // U of the other sample is mn − U, and the two-sided p is the same.
        let swapped = mann_whitney_u(&females, &males).unwrap();
        assert_eq!(swapped.u, 20.0 - 17.0);
        assert!(close(swapped.p_value, exact.p_value, 1e-12));
    }

    #[test]
    fn normal_approximation_matches_scipy_and_corrects_for_ties() {
        // SciPy's asymptotic p for the same example, through the formula used here.
        let z = (((17.0f64 - 10.0).abs() - 0.5) / (20.0f64 * 10.0 / 12.0).sqrt()) / std::f64::consts::SQRT_2;
        assert!(close(erfc(z), 0.111_346_886_533_140_41, 1e-7));
        // 48 tied values, beyond exact enumeration; hand-computed with the
        // tie correction: a = [1, 2, 2, 3] × 6, b = [2, 3, 4, 5] × 6.
        // Midranks: 1→3.5 (×6), 2→15.5 (×18), 3→30.5 (×12), 4→39.5, 5→45.5 (×6 each).
        // R_a = 6·3.5 + 12·15.5 + 6·30.5 = 390, U = 390 − 300 = 90; Σ(t³ − t) = 8160;
        // var = 576/12 · (49 − 8160/(48·47)); z = (|90 − 288| − 0.5)/√var.
        let a: Vec<f64> = [1.0, 2.0, 2.0, 3.0].repeat(6);
        let b: Vec<f64> = [2.0, 3.0, 4.0, 5.0].repeat(6);
        let test = mann_whitney_u(&a, &b).unwrap();
        assert_eq!(test.u, 90.0);
        assert_eq!(test.method, PValueMethod::Normal);
        let variance = 576.0 / 12.0 * (49.0 - 8160.0 / (48.0 * 47.0));
        let expected = erfc((197.5 / f64::sqrt(variance)) / std::f64::consts::SQRT_2);
        assert!(close(test.p_value, expected, 1e-12), "{} vs {expected}", test.p_value);
    }

    /// The two-sided permutation p-value by brute force: every split of the
    /// pooled values, U counted pair by pair (ties one half).
    fn brute_force_p(a: &[f64], b: &[f64]) -> f64 {
        let u = |x: &[f64], y: &[f64]| -> f64 {
            x.iter()
                .flat_map(|p| {
                    y.iter().map(move |q| {
                        if p > q {
                            1.0
                        } else if p == q {
                            0.5
                        } else {
                            0.0
                        }
                    })
                })
                .sum()
        };
        let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
        let centre = (a.len() * b.len()) as f64 / 2.0;
        let observed = (u(a, b) - centre).abs();
        let (mut extreme, mut total) = (0u64, 0u64);
        for mask in 0u32..1 << pooled.len() {
            if mask.count_ones() as usize != a.len() {
                continue;
            }
            let pick = |in_a: bool| -> Vec<f64> {
                pooled.iter().enumerate().filter(|(i, _)| (mask >> i & 1 == 1) == in_a).map(|(_, v)| *v).collect()
            };
            let (x, y) = (pick(true), pick(false));
            total += 1;
            extreme += u64::from((u(&x, &y) - centre).abs() >= observed);
        }
        extreme as f64 / total as f64
    }

    #[test]
    fn small_tied_samples_get_the_exact_permutation_p_value() {
        // The normal approximation gives 0.1367 here; the permutation p is 0.2 (14 of 70 splits).
        let test = mann_whitney_u(&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!((test.u, test.method), (2.5, PValueMethod::Exact));
        assert!(close(test.p_value, 0.2, 1e-12), "{}", test.p_value);
        let mut rng = SplitMix64::new(17);
        for case in 0..40 {
            // Timings rounded to a coarse clock: 2 to 10 values each, many ties.
            let m = 2 + rng.below(9);
            let n = 2 + rng.below(9).min(16 - m);
            let a: Vec<f64> = (0..m).map(|_| rng.below(4) as f64).collect();
            let b: Vec<f64> = (0..n).map(|_| 1.0 + rng.below(4) as f64).collect();
            let test = mann_whitney_u(&a, &b).unwrap();
            let expected = brute_force_p(&a, &b);
            assert!(close(test.p_value, expected, 1e-12), "case {case}: {a:?} {b:?}: {} vs {expected}", test.p_value);
        }
        // Every value tied: each split is as extreme as the observed one.
        assert_eq!(mann_whitney_u(&[2.0; 5], &[2.0; 5]).unwrap().p_value, 1.0);
    }

    #[test]
    fn exact_distribution_counts_every_arrangement() {
        // C(9, 4) = 126 arrangements, symmetric about mn/2 = 10.
        let counts = u_distribution(4, 5);
        assert_eq!(counts.len(), 21);
        assert_eq!(counts.iter().sum::<f64>(), 126.0);
        for u in 0..=20 {
            assert_eq!(counts[u], counts[20 - u]);
        }
        assert_eq!((counts[0], counts[1], counts[2]), (1.0, 1.0, 2.0));
        // Complete separation of 5 vs 5: p = 2 / C(10, 5) = 2/252.
        let low: Vec<f64> = (0..5).map(f64::from).collect();
        let high: Vec<f64> = (10..15).map(f64::from).collect();
        let test = mann_whitney_u(&low, &high).unwrap();
        assert_eq!(test.u, 0.0);
        assert!(close(test.p_value, 2.0 / 252.0, 1e-15));
    }

    fn timings(rng: &mut SplitMix64, n: usize, centre: f64) -> Vec<f64> {
        (0..n).map(|_| centre + noise(rng, 0.02 * centre).abs()).collect()
    }

    #[test]
    fn a_shifted_distribution_is_detected() {
        let mut rng = SplitMix64::new(3);
        let baseline = timings(&mut rng, 30, 1.0e-3);
        let slower = timings(&mut rng, 30, 1.1e-3);
        let comparison = compare(&baseline, &slower, 2_000, 1).unwrap();
        assert!(comparison.test.p_value < 1e-6, "{:?}", comparison);
        assert!(comparison.ratio.value > 1.05 && comparison.ratio.value < 1.15, "{:?}", comparison);
        assert!(comparison.ratio.ci_low > 1.0);
        assert!(comparison.is_significant(0.01));
        // Small samples too: 5 against 5, fully separated.
        let comparison = compare(&baseline[..5], &slower[..5], 2_000, 1).unwrap();
        assert_eq!(comparison.test.method, PValueMethod::Exact);
        assert!(comparison.test.p_value < 0.01, "{:?}", comparison);
    }

    #[test]
    fn identical_distributions_are_not_flagged() {
        let mut rng = SplitMix64::new(5);
        let mut flagged = 0;
        for _ in 0..100 {
            let a = timings(&mut rng, 20, 1.0e-3);
            let b = timings(&mut rng, 20, 1.0e-3);
            let comparison = compare(&a, &b, 200, 1).unwrap();
            assert!(comparison.ratio.ci_low <= comparison.ratio.ci_high);
            flagged += usize::from(comparison.is_significant(0.05));
        }
        // Expected ≈ 5 false positives at α = 0.05 (fewer: both criteria must agree).
        assert!(flagged <= 12, "{flagged} of 100 identical pairs flagged");
        // The same samples: no difference at all.
        let a = timings(&mut rng, 20, 1.0e-3);
        let same = compare(&a, &a, 500, 1).unwrap();
        assert_eq!(same.ratio.value, 1.0);
        assert!(same.test.p_value > 0.99);
        assert!(!same.is_significant(0.05));
    }

    #[test]
    fn degenerate_inputs() {
        assert!(mann_whitney_u(&[], &[1.0]).is_none());
        assert!(mann_whitney_u(&[f64::NAN], &[1.0]).is_none());
        assert!(compare(&[1.0], &[f64::INFINITY], 10, 1).is_none());
        assert!(ratio_of_medians(&[0.0], &[1.0], 10, 1).is_none());
        let all_equal = mann_whitney_u(&[2.0; 25], &[2.0; 25]).unwrap();
        assert_eq!((all_equal.u, all_equal.p_value), (312.5, 1.0));
        assert!(close(erfc(0.0), 1.0, 1e-7));
        assert!(close(erfc(-1.0), 1.842_700_792_949_715, 1e-6));
    }
}
