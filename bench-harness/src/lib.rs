//! The parsweep experiment harness: RON-configured speedup and overhead
//! experiments on this project's pool and its peers, or on your own code
//! ([`custom`]), with charts (PNG, SVG, PDF), raw samples, a Markdown
//! summary and LaTeX/pgfplots output.
//!
//! Data flows one way, like hyperfine's; each stage's output is a plain
//! value a test can build by hand:
//!
//! 1. [`config`]: the RON file → a validated [`config::Plan`];
//! 2. [`measure`] (on [`backend`]s running [`workload`]s): each experiment →
//!    raw [`measure::Sample`]s, all kept;
//! 3. [`analysis`] (formulas in [`stats`]): samples → per-cell summaries,
//!    speedups, overheads and model fits;
//! 4. [`report`]: the [`report::ExperimentReport`] and its outputs, one
//!    [`report::Exporter`] per format: charts (PNG, SVG, PDF), `samples.csv`,
//!    `results.json`, `summary.md`, `summary.tex` and pgfplots `.dat`.
//!
//! Saved results are used again by [`redraw`] (`report DIR…`: restyled
//! figures, several machines in one figure) and [`comparison`] (`compare A
//! B`, with the statistics of [`stats::compare`]).
//!
//! [`run`] strings the stages together for the command line ([`cli`],
//! shared by the `bench-harness` binary and benches of your own),
//! after [`preflight`] checked everything it can before measuring;
//! [`machine`] records where the samples were taken and how loaded the
//! machine was.
//!
//! # Layers
//!
//! The modules form layers, and a module imports only modules below it
//! (`tests/layering.rs` reads the sources and fails on an import that
//! points up), lowest first:
//!
//! 1. model: [`workload`], [`config`], [`custom`] (the [`custom::Registry`]
//!    of your workloads and backends, a value passed down), [`machine`];
//! 2. engine: [`backend`], [`measure`] (its [`measure::Sample`]s are the
//!    raw data), [`preflight`];
//! 3. statistics: [`stats`], then [`analysis`];
//! 4. outputs: [`report`] (the exporters and charts);
//! 5. commands: [`run`] (measure, then write), [`redraw`] (`report`),
//!    [`comparison`] (`compare`);
//! 6. [`cli`], whose [`cli::main_with`] is the one entry point (of the
//!    binary and of benches of your own).

pub mod analysis;
pub mod backend;
pub mod cli;
pub mod comparison;
pub mod config;
pub mod custom;
pub mod machine;
pub mod measure;
pub mod preflight;
pub mod redraw;
pub mod report;
pub mod run;
pub mod stats;
#[cfg(test)]
mod testing;
pub mod workload;
