//! Parameter-space studies on the parsweep pool.
//!
//! Describe the points ([`Space`]: linspace, logspace, lists, integer
//! ranges, grids, zips), evaluate a Rust closure or an external command at
//! each of them on a [`pool::ThreadPool`], and keep the results in an
//! append-only JSON Lines file that a rerun resumes ([`store`]). Plot them
//! with [`plot`].
//!
//! Modules form layers, and data flows one way: [`spec`] → [`space`] →
//! [`runner`] → [`store`] → [`plot`]. A results file has one writer at a
//! time (an `flock`), holds values bit for bit, and survives its writer
//! being killed at any moment; [`store::repair`] recovers a damaged one.
//! A run retries failures up to a cap ([`RunOptions::max_attempts`]) and
//! stops gracefully on request ([`Stop`], SIGINT/SIGTERM/SIGHUP/SIGUSR1).
//! Split a sweep into shards and run them as a Slurm array job with
//! [`slurm`]. A black box can run once per point ([`execute`]) or start
//! once per worker and take one point per line ([`command::Persistent`]).
//! Every subcommand of the CLI ends with an [`ExitCode`].
//!
//! ```no_run
//! use sweep::{Header, RunOptions, Space, Task};
//!
//! let space = Space::linspace("x", -1.0, 1.0, 20);
//! let header = Header::new(space, Task::Closure("x squared".into()));
//! let evaluate = |p: &sweep::Point| {
//!     let x = p.f64("x").ok_or("no x")?;
//!     Ok(serde_json::json!(x * x))
//! };
//! let (summary, _warnings) =
//!     sweep::run_to_file("square.jsonl".as_ref(), &header, evaluate, &RunOptions::default())?;
//! println!("{} points computed, {} skipped", summary.computed, summary.skipped);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod command;
pub mod exit;
pub mod fingerprint;
mod hash;
pub mod output;
pub mod plot;
pub mod point;
pub mod runner;
pub mod signals;
pub mod slurm;
pub mod space;
pub mod spec;
pub mod store;

pub use command::{execute, run_command, CommandOptions, CommandTemplate, Evaluation, Exit};
pub use exit::ExitCode;
pub use fingerprint::Fingerprint;
pub use point::{Point, PointId, Value};
pub use runner::{
    run, run_collect, run_evaluations, run_evaluations_to_file, run_to_file, RunOptions, RunSummary, Selection, Stop,
};
pub use space::{Space, SpaceError, SpaceIndex};
pub use spec::{Labels, Spec, SpecError, Task};
pub use store::{Header, Record, Results, ResultsWriter, Status};
