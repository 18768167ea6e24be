//! Sharded sweeps on a Slurm cluster.
//!
//! A sweep of `P` points is cut into `N` *shards*: shard `K` owns the points
//! whose index `i` (position in the space's enumeration order) satisfies
//! `i % N == K`. The partition is deterministic, needs no coordination, and
//! keeps shard sizes within one point of each other; interleaving also
//! spreads slow corners of a grid over all shards instead of one.
//!
//! `sweep slurm` renders an sbatch *array* script with one array task per
//! shard; each task runs `sweep run SPEC --shard $SLURM_ARRAY_TASK_ID/N` and
//! writes its own results file ([`Shard::results_path`]), so tasks never
//! share a file and each shard resumes independently. `sweep collect` merges
//! the shard files and reports what is missing.
//!
//! Most of this module is pure and testable without a cluster: shard
//! arithmetic ([`Shard`]), array specifications and script text
//! ([`ArraySpec`], [`ArrayJob`]), reading Slurm's output
//! ([`parse_submission`], [`parse_squeue`]) and merging shard files
//! ([`collect`]). [`Cluster`] is the thin layer that runs the Slurm client
//! tools (sbatch, squeue, scancel).

mod client;
mod collect;
mod options;
mod script;
mod shard;
mod submission;

pub use client::{
    parse_config_value, parse_sacct, parse_squeue, parse_submission, poll_until_empty, settled_accounting, Cluster,
    JobId, Limits, QueuedTask, TaskAccount,
};
pub use collect::{
    collect, gather, lock_shards, seed_shards, write_merged, CollectError, Collection, Gap, GapReason, Gathered,
    Seeded, Shards, MISSING_LISTED,
};
pub use options::{time_limit_secs, JobOptions, DEFAULT_GRACE_SECS};
pub use script::{job_name, split_arrays, ArrayJob, ArraySpec};
pub use shard::{shard_counts_on_disk, shards_on_disk, Shard};
pub use submission::{utc_now, utc_timestamp, StateError, Submission, SubmissionLog, SubmittedArray};

use std::time::Duration;

/// Errors from shard parsing, script rendering and the Slurm client tools.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// A shard was not written as `K/N` with two non-negative integers.
    #[error("invalid shard {0:?}: expected K/N, e.g. 0/4 (shard K of N, counting from 0)")]
    MalformedShard(String),
    /// A shard count of zero leaves nowhere to put the points.
    #[error("invalid shard {0:?}: the shard count N must be at least 1")]
    ZeroShards(String),
    /// The shard index must be below the shard count.
    #[error("invalid shard {index}/{count}: K must be less than N (shards are numbered 0..{count})")]
    ShardOutOfRange {
        /// The requested shard index `K`.
        index: usize,
        /// The shard count `N`.
        count: usize,
    },
    /// An array job with no tasks cannot be submitted.
    #[error("the array job has no tasks to run")]
    EmptyArray,
    /// An array task id that is not one of the sweep's shards.
    #[error("array task {task} does not exist: the sweep has {count} shards (0..{count})")]
    TaskOutOfRange {
        /// The offending task id.
        task: usize,
        /// The number of shards.
        count: usize,
    },
    /// A value that would break an `#SBATCH` line (whitespace, quotes).
    #[error(
        "{option} value {value:?} cannot go in an #SBATCH line: it must not be empty nor contain whitespace or quotes"
    )]
    UnsafeDirective {
        /// The sbatch option, e.g. `--partition`.
        option: String,
        /// The rejected value.
        value: String,
    },
    /// An option value sbatch would refuse, or that would break the script.
    #[error("{option}: {reason}")]
    InvalidOption {
        /// The option, e.g. `--mem`.
        option: String,
        /// What is wrong with it.
        reason: String,
    },
    /// sbatch printed something other than a job id.
    #[error("could not find a job id in sbatch's output {0:?}")]
    UnparsableSubmission(String),
    /// A Slurm client tool could not be started or failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line that failed.
        command: String,
        /// Why: the spawn error, or the exit status and stderr.
        detail: String,
    },
    /// The job was still queued or running when the wait gave up.
    #[error("job {job} still has {remaining} task(s) queued or running after {waited:?}")]
    WaitTimedOut {
        /// The job being waited for.
        job: JobId,
        /// How many of its tasks squeue still listed.
        remaining: usize,
        /// How long the wait lasted.
        waited: Duration,
    },
}
