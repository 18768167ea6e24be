//! Statistics on raw timing samples: robust summaries, bootstrap confidence
//! intervals, outlier classification, parallel-scaling metrics and
//! Amdahl / Universal Scalability Law fits.
//!
//! Everything here is a pure function of plain data. Randomised procedures
//! (the bootstrap) take an explicit seed and use a small built-in generator,
//! so a report regenerated from the same samples is bit-for-bit identical.
//!
//! Submodules, re-exported here: [`summary`] (quantiles, from the private
//! `order` module, and [`Summary`]),
//! [`outliers`] (Tukey fences), [`scaling`] (speedup, efficiency,
//! Karp–Flatt, overhead), [`models`] (Amdahl / USL fits) and [`compare`]
//! (two runs of one cell: ratio of medians, Mann–Whitney U); [`precision`]
//! prints a figure with its interval to the digits the interval supports.

mod bootstrap;
pub mod compare;
pub mod models;
mod order;
pub mod outliers;
pub mod precision;
pub mod scaling;
pub mod summary;

pub use models::{fit, Fit, FitError, Model, Parameter, Peak};
pub use outliers::{classify_outliers, Outliers};
pub use scaling::{efficiency, karp_flatt, overhead_per_task_ns, speedup, Estimate};
pub use summary::{median, quantile, quantile_sorted, summarize, Summary};

/// Whether `actual` lies within `tolerance` of `expected`: how the tests of
/// every statistics module compare a computed number with a known one.
#[cfg(test)]
fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance
}
