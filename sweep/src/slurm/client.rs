//! The Slurm client tools (sbatch, squeue, scancel): running them and
//! reading their output.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::SlurmError;

/// A Slurm job id, as sbatch prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
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

impl QueuedTask {
    /// Whether this line is array task `task` of `job`, alone or in a
    /// pending range.
    pub fn is_task(&self, job: JobId, task: usize) -> bool {
        array_task_ranges(&self.id)
            .is_some_and(|(of, ranges)| of == job && ranges.iter().any(|&(start, end)| (start..=end).contains(&task)))
    }
}

/// The job and task ranges of an array-task id as squeue and sacct print
/// it: `12_3`, or a pending range such as `12_[4-6,9%2]`; `None` for a job
/// that is no array task.
fn array_task_ranges(id: &str) -> Option<(JobId, Vec<(usize, usize)>)> {
    let (job, tasks) = id.trim().split_once('_')?;
    let job = job.parse().map(JobId).ok()?;
    let tasks = tasks.trim_start_matches('[').trim_end_matches(']');
    let tasks = tasks.split('%').next().unwrap_or_default();
    let ranges = tasks
        .split(',')
        .filter_map(|part| match part.split_once('-') {
            Some((start, end)) => start.parse::<usize>().ok().zip(end.parse::<usize>().ok()),
            None => part.parse::<usize>().ok().map(|task| (task, task)),
        })
        .collect();
    Some((job, ranges))
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

/// The value of `key` in `scontrol show config` output (`Key = Value`
/// lines), if present.
pub fn parse_config_value<'a>(config: &'a str, key: &str) -> Option<&'a str> {
    config.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == key).then(|| value.trim())
    })
}

/// What Slurm's accounting says about one array task: a line of
/// `sacct --noheader --parsable2 --allocations --format=JobID,State,ExitCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskAccount {
    /// The array job.
    pub job: JobId,
    /// The array task id.
    pub task: usize,
    /// The state, e.g. `COMPLETED`, `TIMEOUT`, `CANCELLED by 0`,
    /// `OUT_OF_MEMORY`, `NODE_FAIL`, `PENDING`.
    pub state: String,
    /// `exit code:signal`, as sacct prints it, e.g. `0:15`.
    pub exit_code: String,
}

/// Parses `sacct --noheader --parsable2 --allocations
/// --format=JobID,State,ExitCode` output. Pending ranges such as
/// `12_[4-6,9%2]` become one entry per task; lines of jobs that are not
/// array tasks are skipped.
pub fn parse_sacct(stdout: &str) -> Vec<TaskAccount> {
    let mut accounts = Vec::new();
    for line in stdout.lines() {
        let mut fields = line.split('|');
        let (Some(id), Some(state), Some(exit_code)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Some((job, ranges)) = array_task_ranges(id) else { continue };
        for (start, end) in ranges {
            for task in start..=end {
                accounts.push(TaskAccount {
                    job,
                    task,
                    state: state.trim().to_string(),
                    exit_code: exit_code.trim().to_string(),
                });
            }
        }
    }
    accounts
}

impl TaskAccount {
    /// Whether the task ran out of time: Slurm's warning signal (SIGUSR1,
    /// sent `--grace` seconds before the limit) stopped it cleanly, which
    /// Slurm records as FAILED with exit status 138 (128 + 10; some
    /// versions print it as `10:0`), or Slurm killed it at the limit
    /// (TIMEOUT).
    pub fn ran_out_of_time(&self) -> bool {
        const SIGUSR1: &str = "10";
        const STOPPED_BY_SIGUSR1: &str = "138";
        let (code, signal) = self.exit_code.split_once(':').unwrap_or((self.exit_code.as_str(), "0"));
        self.state.starts_with("TIMEOUT")
            || (self.state.starts_with("FAILED")
                && (code == STOPPED_BY_SIGUSR1 || code == SIGUSR1 || signal == SIGUSR1))
    }

    /// What happened to the task, for `sweep collect`: its state and exit
    /// code, and in plain words why it stopped when it ran out of time
    /// after computing `points` points.
    pub fn describe(&self, points: usize) -> String {
        let task = self.job.task(self.task);
        if !self.is_final() {
            return format!("task {task} is still {} (collect again once it has ended)", self.state);
        }
        if !self.ran_out_of_time() {
            // `sweep run`'s own exit statuses (see `crate::exit`, above this module).
            let meaning = match self.exit_code.split(':').next() {
                Some("2") if self.state.starts_with("FAILED") => " (bad input: see the task's log)",
                Some("3") if self.state.starts_with("FAILED") => " (some of its points failed)",
                _ => "",
            };
            return format!("task {task} {}, exit code {}{meaning}", self.state, self.exit_code);
        }
        if self.state.starts_with("TIMEOUT") {
            format!(
                "task {task} was killed at its time limit after computing {points} points ({} {}); resubmit with \
                 a longer --time (and a larger --grace, so that it stops cleanly)",
                self.state, self.exit_code
            )
        } else {
            format!(
                "task {task} stopped at its time limit after computing {points} points (cleanly, on Slurm's warning \
                 signal; recorded as {} {}); resubmit with a longer --time",
                self.state, self.exit_code
            )
        }
    }

    /// Whether Slurm is done with the task (not pending nor running).
    pub fn is_final(&self) -> bool {
        !["PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED"].iter().any(|s| self.state.starts_with(s))
    }
}

/// Asks accounting (`poll`) about the array tasks `wanted` until it knows
/// the final state of each, at most `tries` times `interval` apart, and
/// returns its last answer. Accounting lags the queue: a task that has
/// just left squeue may be missing from sacct, or still RUNNING there,
/// for a moment.
pub fn settled_accounting(
    wanted: &[(JobId, usize)],
    tries: usize,
    interval: Duration,
    mut poll: impl FnMut() -> Result<Vec<TaskAccount>, String>,
) -> Result<Vec<TaskAccount>, String> {
    let mut accounts = poll()?;
    for _ in 1..tries {
        let settled = wanted.iter().all(|&(job, task)| {
            accounts.iter().any(|account| account.job == job && account.task == task && account.is_final())
        });
        if settled {
            break;
        }
        std::thread::sleep(interval);
        accounts = poll()?;
    }
    Ok(accounts)
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

/// A cluster's limits on what one submission may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// MaxArraySize: array task ids must be below it.
    pub max_array_size: usize,
    /// MaxJobCount: slurmctld refuses a job that would bring the jobs it
    /// holds to this many, and counts each array task as one job.
    pub max_job_count: usize,
}

impl Limits {
    /// Slurm's defaults, for when the cluster cannot be asked.
    pub const DEFAULT: Limits = Limits { max_array_size: 1001, max_job_count: 10_000 };

    /// The most array tasks one submission can have: all its arrays are
    /// queued together, and slurmctld refuses a job once the jobs it holds
    /// would reach MaxJobCount; so one fewer, on an otherwise empty cluster.
    pub fn max_tasks(&self) -> usize {
        self.max_job_count.saturating_sub(1)
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

    /// Submits `script` with sbatch and returns the new job's id; with
    /// `after`, the job starts only once that one has ended
    /// (`--dependency=afterany:JOB`).
    pub fn submit(&self, script: &Path, after: Option<JobId>) -> Result<JobId, SlurmError> {
        let mut sbatch = self.command("sbatch");
        if let Some(job) = after {
            sbatch.arg(format!("--dependency=afterany:{job}"));
        }
        parse_submission(&run_tool(sbatch.arg(script))?)
    }

    /// The cluster's limits on array jobs, from `scontrol show config`.
    pub fn limits(&self) -> Result<Limits, SlurmError> {
        let config = run_tool(self.command("scontrol").args(["show", "config"]))?;
        let value = |key: &str| {
            let value = parse_config_value(&config, key).ok_or_else(|| SlurmError::Command {
                command: "scontrol show config".into(),
                detail: format!("no {key} in its output"),
            })?;
            value.parse().map_err(|_| SlurmError::Command {
                command: "scontrol show config".into(),
                detail: format!("{key} {value:?} is not a number"),
            })
        };
        Ok(Limits { max_array_size: value("MaxArraySize")?, max_job_count: value("MaxJobCount")? })
    }

    /// The tasks of any of `jobs` that squeue still lists (pending, running,
    /// completing...). Ids squeue has forgotten count as finished.
    pub fn active_tasks(&self, jobs: &[JobId]) -> Result<Vec<QueuedTask>, SlurmError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = jobs.iter().map(ToString::to_string).collect();
        let mut squeue = self.command("squeue");
        squeue.args(["--noheader", "--array", "--format=%i %T", "--jobs"]).arg(list.join(","));
        match run_tool(&mut squeue) {
            Ok(stdout) => Ok(parse_squeue(&stdout)),
            // One forgotten id makes squeue reject the whole list: ask
            // about each job alone.
            Err(SlurmError::Command { detail, .. }) if detail.contains("Invalid job id") && jobs.len() > 1 => {
                let mut tasks = Vec::new();
                for &job in jobs {
                    tasks.extend(self.queued_tasks(job)?);
                }
                Ok(tasks)
            }
            Err(SlurmError::Command { detail, .. }) if detail.contains("Invalid job id") => Ok(Vec::new()),
            Err(err) => Err(err),
        }
    }

    /// What Slurm's accounting (sacct) knows of the array tasks of `jobs`,
    /// or why it cannot be asked: not installed, or accounting disabled.
    pub fn accounting(&self, jobs: &[JobId]) -> Result<Vec<TaskAccount>, String> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = jobs.iter().map(ToString::to_string).collect();
        let mut sacct = self.command("sacct");
        sacct
            .args(["--noheader", "--parsable2", "--allocations", "--format=JobID,State,ExitCode", "--jobs"])
            .arg(list.join(","));
        match run_tool(&mut sacct) {
            Ok(stdout) => Ok(parse_sacct(&stdout)),
            Err(SlurmError::Command { detail, .. }) => Err(detail),
            Err(other) => Err(other.to_string()),
        }
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
        assert!(tasks[0].is_task(JobId(12), 3) && !tasks[0].is_task(JobId(12), 0) && !tasks[0].is_task(JobId(13), 2));
        assert!(tasks[1].is_task(JobId(12), 0) && !tasks[1].is_task(JobId(12), 1));
        assert!(!parse_squeue("12 RUNNING")[0].is_task(JobId(12), 0), "no array task");
    }

    #[test]
    fn config_values_are_found_by_key() {
        let config =
            "Configuration data as of 2026-11-25T13:41:29\nMaxArraySize            = 1001\nMaxJobCount = 10000\n";
        assert_eq!(parse_config_value(config, "MaxArraySize"), Some("1001"));
        assert_eq!(parse_config_value(config, "MaxJobCount"), Some("10000"));
        assert_eq!(parse_config_value(config, "MaxArray"), None);
    }

    #[test]
    fn sacct_lines_become_task_states() {
        let out = "12_0|COMPLETED|0:0\n12_1|CANCELLED by 0|0:15\n12_3|TIMEOUT|0:0\n12_[4-5,7%2]|PENDING|0:0\n13|FAILED|1:0\nbad\n";
        let accounts = parse_sacct(out);
        let seen: Vec<(u64, usize, &str, &str)> =
            accounts.iter().map(|a| (a.job.0, a.task, a.state.as_str(), a.exit_code.as_str())).collect();
        assert_eq!(
            seen,
            [
                (12, 0, "COMPLETED", "0:0"),
                (12, 1, "CANCELLED by 0", "0:15"),
                (12, 3, "TIMEOUT", "0:0"),
                (12, 4, "PENDING", "0:0"),
                (12, 5, "PENDING", "0:0"),
                (12, 7, "PENDING", "0:0"),
            ]
        );
    }

    #[test]
    fn time_limits_are_named_whatever_slurm_records() {
        let account = |state: &str, exit_code: &str| TaskAccount {
            job: JobId(236),
            task: 0,
            state: state.into(),
            exit_code: exit_code.into(),
        };
        for (state, code) in [("FAILED", "138:0"), ("FAILED", "10:0"), ("TIMEOUT", "0:0")] {
            let text = account(state, code).describe(17);
            assert!(text.starts_with("task 236_0 "), "{text}");
            assert!(text.contains("time limit after computing 17 points"), "{text}");
            assert!(text.contains("resubmit with a longer --time"), "{text}");
        }
        assert!(account("TIMEOUT", "0:0").describe(1).contains("killed"));
        assert_eq!(
            account("FAILED", "3:0").describe(5),
            "task 236_0 FAILED, exit code 3:0 (some of its points failed)"
        );
        for (state, code) in [("FAILED", "1:0"), ("CANCELLED by 0", "0:15"), ("COMPLETED", "0:0")] {
            let text = account(state, code).describe(2);
            assert_eq!(text, format!("task 236_0 {state}, exit code {code}"));
        }
        assert_eq!(
            account("PENDING", "0:0").describe(0),
            "task 236_0 is still PENDING (collect again once it has ended)"
        );
    }

    #[test]
    fn accounting_is_asked_again_until_it_knows_every_task() {
        let wanted = [(JobId(9), 0), (JobId(9), 1)];
        let mut replies = vec![
            parse_sacct("9_0|COMPLETED|0:0\n"),
            parse_sacct("9_0|COMPLETED|0:0\n9_1|RUNNING|0:0\n"),
            parse_sacct("9_0|COMPLETED|0:0\n9_1|COMPLETED|0:0\n"),
        ]
        .into_iter();
        let mut calls = 0;
        let accounts = settled_accounting(&wanted, 10, Duration::ZERO, || {
            calls += 1;
            Ok(replies.next().unwrap_or_default())
        });
        assert_eq!(calls, 3);
        assert_eq!(accounts.map(|a| a.len()), Ok(2));
        // Bounded: accounting that never hears of a task is asked `tries` times.
        let mut calls = 0;
        let accounts = settled_accounting(&wanted, 4, Duration::ZERO, || {
            calls += 1;
            Ok(Vec::new())
        });
        assert_eq!((calls, accounts), (4, Ok(Vec::new())));
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
