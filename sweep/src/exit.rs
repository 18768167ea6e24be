//! The exit status of every `sweep` subcommand, in one place: a pipeline
//! (`make`, CI, `sbatch --dependency=afterok`) acts on it.
//!
//! | status      | meaning                                                          |
//! |-------------|------------------------------------------------------------------|
//! | 0           | done: every point of the run has a value (or the command worked) |
//! | 1           | the command could not be carried out: an I/O error, a results file held by another run, a Slurm tool that failed |
//! | 2           | bad input: command line, spec, a file named that does not exist or is not this sweep's, or results `plot` cannot draw as asked |
//! | 3           | incomplete: some points failed or were given up (`run`), or have no value (`collect`, and `plot` when none has) |
//! | 128 + N     | stopped by signal N (SIGHUP 129, SIGINT 130, SIGTERM 143, SIGUSR1 138): what was computed is saved; run it again to resume |
//!
//! Errors are classified by type ([`ExitCode::of`]): a subcommand returns
//! [`Usage`], [`Incomplete`] or [`Stopped`] for outcomes that are not plain
//! failures, and the library's own error types say what they are.

use std::fmt;

use crate::command::TemplateError;
use crate::plot::PlotError;
use crate::slurm::{CollectError, SlurmError, StateError};
use crate::space::SpaceError;
use crate::spec::SpecError;
use crate::store::StoreError;

/// How a `sweep` subcommand ended, as its process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything asked for was done.
    Done,
    /// The command could not be carried out (I/O, a lock held, a tool failed).
    Failure,
    /// The command line, the spec or an input file is unusable.
    BadInput,
    /// The command ran, but some points failed, were given up, or have no
    /// value.
    Incomplete,
    /// Stopped by this signal number; records computed so far are saved.
    Stopped(i32),
}

impl ExitCode {
    /// The process exit status: 0, 1, 2, 3, or 128 + the signal.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweep::ExitCode;
    /// assert_eq!(ExitCode::Incomplete.status(), 3);
    /// assert_eq!(ExitCode::Stopped(15).status(), 143);
    /// ```
    pub fn status(self) -> u8 {
        match self {
            ExitCode::Done => 0,
            ExitCode::Failure => 1,
            ExitCode::BadInput => 2,
            ExitCode::Incomplete => 3,
            // Signal numbers are below 128; anything else still must not read as success.
            ExitCode::Stopped(signal) => u8::try_from(128 + signal).ok().filter(|_| signal > 0).unwrap_or(1),
        }
    }

    /// What an error that ended a subcommand means for its exit status.
    pub fn of(error: &anyhow::Error) -> ExitCode {
        for cause in error.chain() {
            if let Some(stopped) = cause.downcast_ref::<Stopped>() {
                return ExitCode::Stopped(stopped.signal);
            }
            if cause.is::<Incomplete>() {
                return ExitCode::Incomplete;
            }
            if cause.is::<Usage>() || cause.is::<SpecError>() || cause.is::<SpaceError>() || cause.is::<TemplateError>()
            {
                return ExitCode::BadInput;
            }
            if let Some(error) = cause.downcast_ref::<StoreError>() {
                return ExitCode::of_store(error);
            }
            if let Some(error) = cause.downcast_ref::<SlurmError>() {
                return ExitCode::of_slurm(error);
            }
            if let Some(error) = cause.downcast_ref::<StateError>() {
                return match error {
                    // A submission log of another sweep, or not one at all.
                    StateError::DifferentSweep { .. } | StateError::Corrupt { .. } => ExitCode::BadInput,
                    StateError::Io { .. } | StateError::Write { .. } => ExitCode::Failure,
                };
            }
            if let Some(error) = cause.downcast_ref::<PlotError>() {
                return match error {
                    // The sweep is not done: no point has a value yet.
                    PlotError::NoData => ExitCode::Incomplete,
                    // Values or axes this chart cannot show, or a chart
                    // path naming a results file: the arguments' fault.
                    PlotError::Unsupported(_) | PlotError::Refused(_) => ExitCode::BadInput,
                    PlotError::Write { .. } | PlotError::Drawing { .. } => ExitCode::Failure,
                };
            }
            // Its `Store` and `Shard` variants are transparent: their
            // `source()` is the wrapped error's source, so the wrapped error
            // itself never shows up in the chain and is classified here.
            if let Some(error) = cause.downcast_ref::<CollectError>() {
                return match error {
                    CollectError::Store(error) => ExitCode::of_store(error),
                    CollectError::Shard(error) => ExitCode::of_slurm(error),
                    // Neither a results file nor a shard file: a wrong
                    // path or count, as when `--tasks` is not given.
                    CollectError::NoShardFiles { .. } => ExitCode::BadInput,
                    CollectError::WouldLoseDone { .. } | CollectError::ShardRunning { .. } => ExitCode::Failure,
                };
            }
        }
        ExitCode::Failure
    }

    fn of_store(error: &StoreError) -> ExitCode {
        match error {
            StoreError::Io { .. } | StoreError::Locked { .. } => ExitCode::Failure,
            // A file that is not this sweep's results, not results at all, or
            // not there: the arguments named the wrong path.
            _ => ExitCode::BadInput,
        }
    }

    fn of_slurm(error: &SlurmError) -> ExitCode {
        match error {
            SlurmError::Command { .. } | SlurmError::UnparsableSubmission(_) | SlurmError::WaitTimedOut { .. } => {
                ExitCode::Failure
            }
            _ => ExitCode::BadInput,
        }
    }
}

/// Parses the process's arguments as `C`, the one way both binaries do:
/// or else prints what clap has to say and returns the status to end
/// with. A usage error is bad input (2); `--help` and `--version` are
/// answers, not errors (0), but an answer that could not be written
/// (`--help > /dev/full`) is a failure (1), named after `program`.
pub fn parse_args<C: clap::Parser>(program: &str) -> Result<C, ExitCode> {
    C::try_parse().map_err(|error| {
        let printed = error.print();
        if error.use_stderr() {
            return ExitCode::BadInput;
        }
        match printed {
            Ok(()) => ExitCode::Done,
            Err(reason) => {
                let reason = crate::output::stdout_error(&reason);
                crate::eprintln!("{program}: error: cannot write to standard output: {reason}");
                ExitCode::Failure
            }
        }
    })
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.status())
    }
}

/// Bad input named by a subcommand itself, e.g. `--workers 0`.
#[derive(Debug)]
pub struct Usage(pub String);

/// Some points have no value: the command worked, the sweep is not done.
#[derive(Debug)]
pub struct Incomplete(pub String);

/// A run stopped on a signal: not an error, but not a success either.
#[derive(Debug)]
pub struct Stopped {
    /// What was done and how to resume.
    pub message: String,
    /// The signal's number.
    pub signal: i32,
}

macro_rules! message_error {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.message())
            }
        }
        impl std::error::Error for $name {}
    )*};
}

impl Usage {
    fn message(&self) -> &str {
        &self.0
    }
}

impl Incomplete {
    fn message(&self) -> &str {
        &self.0
    }
}

impl Stopped {
    fn message(&self) -> &str {
        &self.message
    }
}

message_error!(Usage, Incomplete, Stopped);

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn errors_map_to_their_codes() {
        let code = |error: anyhow::Error| ExitCode::of(&error).status();
        assert_eq!(code(Usage("--workers must be at least 1".into()).into()), 2);
        assert_eq!(code(Incomplete("3 points failed".into()).into()), 3);
        assert_eq!(code(Stopped { message: String::new(), signal: 15 }.into()), 143);
        assert_eq!(code(Stopped { message: String::new(), signal: 10 }.into()), 138);
        let locked = StoreError::Locked { path: PathBuf::from("r.jsonl"), holder: "pid 1".into(), also: "" };
        assert_eq!(code(locked.into()), 1);
        let foreign = StoreError::MissingHeader { path: PathBuf::from("notes.txt") };
        assert_eq!(code(anyhow::Error::from(foreign).context("opening")), 2, "found under a context");
        assert_eq!(code(SlurmError::MalformedShard("1-4".into()).into()), 2);
        assert_eq!(code(SlurmError::Command { command: "sbatch".into(), detail: "down".into() }.into()), 1);
        assert_eq!(code(anyhow::anyhow!("disk full")), 1);
        // Through `collect`'s transparent wrapper, the same as unwrapped.
        let other = StoreError::MissingHeader { path: PathBuf::from("notes.txt") };
        assert_eq!(code(CollectError::from(other).into()), 2);
        let held = StoreError::Locked { path: PathBuf::from("r.jsonl"), holder: "pid 1".into(), also: "" };
        assert_eq!(code(CollectError::from(held).into()), 1);
        let log = StateError::Corrupt { path: PathBuf::from("r.slurm.json"), reason: "EOF".into() };
        assert_eq!(code(anyhow::Error::from(log).context("loading the submission log")), 2);
        let unwritable = StateError::Write { path: PathBuf::from("r.slurm.json"), reason: "disk full".into() };
        assert_eq!(code(unwritable.into()), 1);
        assert_eq!(code(anyhow::Error::from(PlotError::NoData).context("cannot plot r.jsonl")), 3);
        assert_eq!(code(PlotError::Unsupported("three varying axes".into()).into()), 2);
        let write = PlotError::Write { path: PathBuf::from("r.png"), reason: "disk full".into() };
        assert_eq!(code(write.into()), 1);
        assert_eq!(ExitCode::Done.status(), 0);
    }
}
