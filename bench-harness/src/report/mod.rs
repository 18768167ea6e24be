//! Report rendering: charts (PNG) for experiment results.

pub mod charts;
