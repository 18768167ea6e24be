//! The Slurm client tools (sbatch, squeue, scancel): running them and
//! reading their output.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::SlurmError;

/// A Slurm job id, as sbatch prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobId(pub u64);

impl JobId {
    /// The id of one array task, `JOB_TASK`, as scancel and squeue take it.
    pub fn task(&self, task: usize) -> String {
        format!("{}_{task}", self.0)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Reads the job id from sbatch's output: `Submitted batch job 123`
/// (optionally `... on cluster X`), or `123` / `123;cluster` from
/// `sbatch --parsable`.
pub fn parse_submission(stdout: &str) -> Result<JobId, SlurmError> {
    let unparsable = || SlurmError::UnparsableSubmission(stdout.to_string());
    let line = stdout.lines().map(str::trim).find(|line| !line.is_empty()).ok_or_else(unparsable)?;
    let id = match line.strip_prefix("Submitted batch job ") {
        Some(rest) => rest.split_whitespace().next().unwrap_or(""),
        None => line.split(';').next().unwrap_or(""),
    };
    id.parse().map(JobId).map_err(|_| unparsable())
}

/// One line of `squeue --noheader --format='%i %T'`: an array task (or a
/// pending range of them, e.g. `12_[2-3%1]`) and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedTask {
    /// The job or array-task id as squeue prints it.
    pub id: String,
    /// The state, e.g. `PENDING`, `RUNNING`, `COMPLETING`.
    pub state: String,
}

/// Parses `squeue --noheader --format='%i %T'` output; blank lines skipped.
pub fn parse_squeue(stdout: &str) -> Vec<QueuedTask> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let id = fields.next()?;
            let state = fields.next().unwrap_or("UNKNOWN");
            Some(QueuedTask { id: id.to_string(), state: state.to_string() })
        })
        .collect()
}

/// Calls `poll` every `interval` until it reports no queued tasks, or fails
/// with [`SlurmError::WaitTimedOut`] after `timeout`.
///
/// `poll` is a parameter so the loop can be tested without a cluster; in
/// use it is `|| cluster.queued_tasks(job)`. We poll rather than `sbatch --wait`,
/// which checks only every few tens of seconds.
pub fn poll_until_empty(
    job: JobId,
    interval: Duration,
    timeout: Duration,
    mut poll: impl FnMut() -> Result<Vec<QueuedTask>, SlurmError>,
) -> Result<(), SlurmError> {
    let start = Instant::now();
    loop {
        let queued = poll()?;
        if queued.is_empty() {
            return Ok(());
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(SlurmError::WaitTimedOut { job, remaining: queued.len(), waited });
        }
        std::thread::sleep(interval.min(timeout - waited));
    }
}

/// The Slurm client tools of one cluster.
///
/// [`Cluster::from_env`] uses whatever the tools find themselves
/// (`SLURM_CONF`, else the installed configuration); [`Cluster::with_conf`]
/// points them at a given `slurm.conf`, which lets one process talk to
/// several clusters, e.g. private test clusters.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    conf: Option<PathBuf>,
}

impl Cluster {
    /// The cluster the environment selects.
    pub fn from_env() -> Self {
        Cluster { conf: None }
    }

    /// The cluster described by the `slurm.conf` at `conf`.
    pub fn with_conf(conf: impl Into<PathBuf>) -> Self {
        Cluster { conf: Some(conf.into()) }
    }

    /// A command for `program` (a Slurm client tool) aimed at this cluster.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        if let Some(conf) = &self.conf {
            command.env("SLURM_CONF", conf);
        }
        command
    }

    /// Submits `script` with sbatch and returns the new job's id.
    pub fn submit(&self, script: &Path) -> Result<JobId, SlurmError> {
        parse_submission(&run_tool(self.command("sbatch").arg(script))?)
    }

    /// The tasks of `job` that squeue still lists (pending, running or
    /// completing); empty once the whole job has left the queue.
    pub fn queued_tasks(&self, job: JobId) -> Result<Vec<QueuedTask>, SlurmError> {
        let stdout =
            run_tool(self.command("squeue").args(["--noheader", "--format=%i %T", "--jobs"]).arg(job.to_string()));
        match stdout {
            Ok(stdout) => Ok(parse_squeue(&stdout)),
            // squeue rejects ids it has already forgotten (MinJobAge after
            // the job ended): the job is done.
            Err(SlurmError::Command { detail, .. }) if detail.contains("Invalid job id") => Ok(Vec::new()),
            Err(err) => Err(err),
        }
    }

    /// Polls squeue every `interval` until `job` has left the queue.
    pub fn wait_until_finished(&self, job: JobId, interval: Duration, timeout: Duration) -> Result<(), SlurmError> {
        poll_until_empty(job, interval, timeout, || self.queued_tasks(job))
    }

    /// Cancels a job or one array task (`JOB_TASK`, see [`JobId::task`]).
    pub fn cancel(&self, id: &str) -> Result<(), SlurmError> {
        run_tool(self.command("scancel").arg(id)).map(|_| ())
    }
}

/// Runs `command`, returning its stdout, or an error with its stderr.
fn run_tool(command: &mut Command) -> Result<String, SlurmError> {
    let line = format!("{command:?}").replace('"', "");
    let output =
        command.output().map_err(|err| SlurmError::Command { command: line.clone(), detail: err.to_string() })?;
    if !output.status.success() {
        return Err(SlurmError::Command {
            command: line,
            detail: format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_output_yields_the_job_id() {
        assert_eq!(parse_submission("Submitted batch job 123\n").unwrap(), JobId(123));
        assert_eq!(parse_submission("Submitted batch job 77 on cluster big\n").unwrap(), JobId(77));
        assert_eq!(parse_submission("4242;big\n").unwrap(), JobId(4242));
        assert_eq!(parse_submission("\n9\n").unwrap(), JobId(9));
        for bad in ["", "sbatch: error: Batch job submission failed", "Submitted batch job x"] {
            assert!(parse_submission(bad).is_err(), "{bad:?}");
        }
        assert_eq!(JobId(12).task(3), "12_3");
    }

    #[test]
    fn squeue_lines_become_tasks() {
        let tasks = parse_squeue("12_[2-3%1] PENDING\n12_0 RUNNING\n\n12_1 COMPLETING\n");
        let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        let states: Vec<&str> = tasks.iter().map(|t| t.state.as_str()).collect();
        assert_eq!(ids, ["12_[2-3%1]", "12_0", "12_1"]);
        assert_eq!(states, ["PENDING", "RUNNING", "COMPLETING"]);
        assert!(parse_squeue("").is_empty());
    }

    #[test]
    fn polling_stops_when_the_queue_empties() {
        let mut replies =
            vec![parse_squeue("5_0 RUNNING\n5_1 RUNNING"), parse_squeue("5_1 RUNNING"), Vec::new()].into_iter();
        let mut calls = 0;
        poll_until_empty(JobId(5), Duration::ZERO, Duration::from_secs(5), || {
            calls += 1;
            Ok(replies.next().expect("polled after the queue emptied"))
        })
        .unwrap();
        assert_eq!(calls, 3);
    }

    #[test]
    fn polling_gives_up_after_the_timeout() {
        let err = poll_until_empty(JobId(6), Duration::from_millis(1), Duration::from_millis(20), || {
            Ok(parse_squeue("6_0 RUNNING"))
        })
        .unwrap_err();
        assert!(matches!(err, SlurmError::WaitTimedOut { job: JobId(6), remaining: 1, .. }), "{err}");
    }

    #[test]
    fn polling_passes_squeue_failures_on() {
        let err = poll_until_empty(JobId(7), Duration::ZERO, Duration::from_secs(1), || {
            Err(SlurmError::Command { command: "squeue".into(), detail: "connection refused".into() })
        })
        .unwrap_err();
        assert!(err.to_string().contains("connection refused"));
    }
}
