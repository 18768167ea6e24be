//! The submission state file of a sweep: which array jobs were submitted,
//! when, with which options and shard count. It lies beside the results,
//! `<results stem>.slurm.json`, so that `--resubmit` can reuse the options
//! and find the sweep's jobs in the queue, and `collect` can ask Slurm's
//! accounting what became of them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::options::JobOptions;
use super::{JobId, Shard};
use crate::fingerprint::Fingerprint;
use crate::store::Header;

/// Version of the state file's layout.
pub const STATE_FORMAT: u32 = 1;

/// One array job of a submission (a submission has several when the shard
/// count exceeds the cluster's MaxArraySize).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedArray {
    /// The job id sbatch returned.
    pub job: JobId,
    /// The `--array` specification, e.g. `0-3%2`.
    pub array: String,
    /// Shard index of array task 0.
    pub first_shard: usize,
    /// The shard indices this job computes, ascending.
    pub shards: Vec<usize>,
    /// The script it was submitted from (kept, never overwritten).
    pub script: PathBuf,
}

impl SubmittedArray {
    /// The array task of this job that computes `shard`, if any.
    pub fn task_of(&self, shard: usize) -> Option<usize> {
        self.shards.binary_search(&shard).ok().map(|_| shard - self.first_shard)
    }
}

/// One `sweep slurm --submit` or `--resubmit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// When, as UTC `YYYY-MM-DDTHH:MM:SSZ`.
    pub submitted_at: String,
    /// The shard count `N` of this submission.
    pub shard_count: usize,
    /// Whether this was a `--resubmit` of the incomplete shards.
    pub resubmit: bool,
    /// The options the jobs were submitted with (recorded options merged
    /// with the command line's, for a resubmission).
    pub options: JobOptions,
    /// The `--max-attempts` given to the tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// The array jobs, one unless split for MaxArraySize.
    pub jobs: Vec<SubmittedArray>,
    /// The sweep (space and command) it computed: its shard `K` of `N` is
    /// another set of points than that of a sweep refined since. Absent in
    /// logs written before it was recorded, whose submissions are all of
    /// the log's `fingerprint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Fingerprint>,
}

/// Every submission of one sweep, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionLog {
    /// The state file's format version (`STATE_FORMAT`), checked on load.
    pub format: u32,
    /// The sweep of the latest submission (space and command).
    pub fingerprint: Fingerprint,
    /// The command every submission computed ([`Header::record_identity`]):
    /// what makes the log this sweep's, as it makes a results file the
    /// sweep's; the space may have been refined or narrowed between
    /// submissions. Absent in logs written before it was recorded, which
    /// only the sweep `fingerprint` tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Fingerprint>,
    /// The submissions, oldest first.
    pub submissions: Vec<Submission>,
}

/// Problems with the state file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("{path}: {reason}")]
    Io {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        reason: std::io::Error,
    },
    /// Writing failed (the old state, if any, is intact).
    #[error("cannot record the submission in {path}: {reason}")]
    Write {
        /// The state file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is not a state file this version understands.
    #[error("{path} is not a readable submission state file ({reason}); move it aside to start afresh")]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The state file belongs to another sweep.
    #[error(
        "{path} records submissions of another sweep (fingerprint {found}, this spec's is {expected}): the \
         command changed; use another --output, or move the file aside"
    )]
    DifferentSweep {
        /// The state file.
        path: PathBuf,
        /// Its fingerprint.
        found: Fingerprint,
        /// The spec's.
        expected: Fingerprint,
    },
}

impl SubmissionLog {
    /// The state file of the sweep whose results go to `output`:
    /// `results.jsonl` → `results.slurm.json`.
    pub fn path_for(output: &Path) -> PathBuf {
        let stem = match output.extension() {
            Some(ext) if ext == "jsonl" => output.with_extension(""),
            _ => output.to_path_buf(),
        };
        let mut name = stem.into_os_string();
        name.push(".slurm.json");
        PathBuf::from(name)
    }

    /// An empty log for the sweep `header`.
    pub fn new(header: &Header) -> Self {
        SubmissionLog {
            format: STATE_FORMAT,
            fingerprint: header.fingerprint,
            command: Some(header.record_identity()),
            submissions: Vec::new(),
        }
    }

    /// Reads the state file at `path` for the sweep `header`; `None` if
    /// there is none. A file of another command is an error, never silently
    /// replaced; one of the same command over another space is the sweep's
    /// (its jobs write the same shard files), and is then the log of
    /// `header`'s space, its older submissions kept as of theirs.
    pub fn load(path: &Path, header: &Header) -> Result<Option<Self>, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(reason) => return Err(StateError::Io { path: path.to_owned(), reason }),
        };
        let mut log: SubmissionLog = serde_json::from_str(&text)
            .map_err(|err| StateError::Corrupt { path: path.to_owned(), reason: err.to_string() })?;
        if log.format != STATE_FORMAT {
            return Err(StateError::Corrupt {
                path: path.to_owned(),
                reason: format!("format {} where {STATE_FORMAT} is expected", log.format),
            });
        }
        let same_command = log.command == Some(header.record_identity());
        if log.fingerprint != header.fingerprint && !same_command {
            return Err(StateError::DifferentSweep {
                path: path.to_owned(),
                found: log.fingerprint,
                expected: header.fingerprint,
            });
        }
        for submission in &mut log.submissions {
            submission.sweep.get_or_insert(log.fingerprint);
        }
        log.fingerprint = header.fingerprint;
        log.command = Some(header.record_identity());
        Ok(Some(log))
    }

    /// Writes the log to `path` atomically: a temporary file beside it,
    /// fsynced, then renamed over it, so a crash leaves the old or the new
    /// state, never a torn one.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|err| StateError::Corrupt { path: path.to_owned(), reason: err.to_string() })?;
        crate::store::write_atomically(path, |out| writeln!(out, "{text}"))
            .map_err(|err| StateError::Write { path: path.to_owned(), reason: err.to_string() })
    }

    /// The latest submission, if any.
    pub fn latest(&self) -> Option<&Submission> {
        self.submissions.last()
    }

    /// Every job id ever submitted for the sweep, oldest first.
    pub fn job_ids(&self) -> Vec<JobId> {
        self.submissions.iter().flat_map(|s| s.jobs.iter().map(|job| job.job)).collect()
    }

    /// The latest array task that was to compute `shard` (of the latest
    /// submission's shard count, and of the log's sweep: a submission
    /// over another space computed other points): `(job, task)`.
    pub fn latest_task_of(&self, shard: Shard) -> Option<(JobId, usize)> {
        self.submissions
            .iter()
            .rev()
            .take_while(|s| s.shard_count == shard.count() && s.sweep.is_none_or(|sweep| sweep == self.fingerprint))
            .flat_map(|s| s.jobs.iter())
            .find_map(|job| Some((job.job, job.task_of(shard.index())?)))
    }
}

/// Now, as UTC `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    utc_timestamp(secs)
}

/// `secs` since the Unix epoch as UTC `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_timestamp(secs: u64) -> String {
    let (year, month, day) = crate::store::civil_from_days((secs / 86_400) as i64);
    let rest = secs % 86_400;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission(count: usize, jobs: Vec<SubmittedArray>) -> Submission {
        Submission {
            submitted_at: utc_timestamp(0),
            shard_count: count,
            resubmit: false,
            options: JobOptions { time: Some("5".into()), ..JobOptions::default() },
            max_attempts: Some(3),
            jobs,
            sweep: None,
        }
    }

    fn array(job: u64, first_shard: usize, shards: Vec<usize>) -> SubmittedArray {
        SubmittedArray { job: JobId(job), array: String::new(), first_shard, shards, script: "s.sbatch".into() }
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_795_615_289), "2026-11-25T14:01:29Z");
        assert_eq!(utc_now().len(), 20);
    }

    #[test]
    fn state_file_sits_beside_the_results() {
        assert_eq!(SubmissionLog::path_for(Path::new("out/r.jsonl")), Path::new("out/r.slurm.json"));
        assert_eq!(SubmissionLog::path_for(Path::new("r.json")), Path::new("r.json.slurm.json"));
    }

    /// `echo {k}` (or `command`) for k in `0..end`.
    fn header(end: i64, command: &str) -> Header {
        let task = crate::spec::Task::Command(vec![command.into(), "{k}".into()]);
        Header::new(crate::space::Space::range("k", 0, end), task)
    }

    #[test]
    fn log_round_trips_atomically_and_refuses_other_sweeps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.slurm.json");
        let sweep = header(4, "echo");
        assert!(SubmissionLog::load(&path, &sweep).unwrap().is_none());
        let mut log = SubmissionLog::new(&sweep);
        log.submissions.push(submission(4, vec![array(10, 0, vec![0, 1, 2, 3])]));
        log.save(&path).unwrap();
        log.submissions.push(submission(4, vec![array(11, 0, vec![1])]));
        log.save(&path).unwrap();
        let loaded = SubmissionLog::load(&path, &sweep).unwrap().unwrap();
        assert!(loaded.submissions.iter().all(|s| s.sweep == Some(sweep.fingerprint)));
        assert_eq!(loaded.submissions.len(), 2);
        assert_eq!(loaded.job_ids(), [JobId(10), JobId(11)]);
        // No temporary files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let err = SubmissionLog::load(&path, &header(4, "printf")).unwrap_err().to_string();
        assert!(err.contains("another sweep"), "{err}");
        std::fs::write(&path, "{\"format\": 1,").unwrap();
        let err = SubmissionLog::load(&path, &sweep).unwrap_err().to_string();
        assert!(err.contains("not a readable submission state file"), "{err}");
    }

    /// The same command over a refined space is the same sweep: its log
    /// is read, but the tasks of the old space's submissions computed
    /// other points than the same shards of the new one. A log written
    /// before it recorded the command tells only its whole sweep.
    #[test]
    fn a_refined_space_keeps_the_log_but_not_its_tasks_shards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.slurm.json");
        let (narrow, wide) = (header(4, "echo"), header(8, "echo"));
        let mut log = SubmissionLog::new(&narrow);
        log.submissions
            .push(Submission { sweep: Some(narrow.fingerprint), ..submission(2, vec![array(10, 0, vec![0, 1])]) });
        log.save(&path).unwrap();
        let mut refined = SubmissionLog::load(&path, &wide).unwrap().unwrap();
        assert_eq!(refined.job_ids(), [JobId(10)], "its jobs write the same shard files");
        assert_eq!(refined.latest().map(|s| s.shard_count), Some(2));
        assert_eq!(refined.latest_task_of(Shard::new(1, 2).unwrap()), None);
        refined
            .submissions
            .push(Submission { sweep: Some(wide.fingerprint), ..submission(2, vec![array(11, 0, vec![1])]) });
        refined.save(&path).unwrap();
        let again = SubmissionLog::load(&path, &wide).unwrap().unwrap();
        assert_eq!(again.latest_task_of(Shard::new(1, 2).unwrap()), Some((JobId(11), 1)));
        assert_eq!(again.latest_task_of(Shard::new(0, 2).unwrap()), None, "job 10's shard 0 was narrow's");

        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut old = value.clone();
        old.as_object_mut().unwrap().remove("command");
        for submission in old["submissions"].as_array_mut().unwrap() {
            submission.as_object_mut().unwrap().remove("sweep");
        }
        std::fs::write(&path, serde_json::to_string(&old).unwrap()).unwrap();
        let err = SubmissionLog::load(&path, &narrow).unwrap_err().to_string();
        assert!(err.contains("another sweep"), "{err}");
        let old = SubmissionLog::load(&path, &wide).unwrap().unwrap();
        assert_eq!(old.latest_task_of(Shard::new(0, 2).unwrap()), Some((JobId(10), 0)), "all of its own sweep");
    }

    #[test]
    fn latest_task_of_a_shard_follows_resubmissions_and_splits() {
        let mut log = SubmissionLog::new(&header(6, "echo"));
        log.submissions.push(submission(6, vec![array(20, 0, vec![0, 1, 2, 3]), array(21, 4, vec![4, 5])]));
        log.submissions.push(submission(6, vec![array(22, 0, vec![1, 5])]));
        let shard = |k| Shard::new(k, 6).unwrap();
        assert_eq!(log.latest_task_of(shard(0)), Some((JobId(20), 0)));
        assert_eq!(log.latest_task_of(shard(1)), Some((JobId(22), 1)));
        assert_eq!(log.latest_task_of(shard(4)), Some((JobId(21), 0)));
        assert_eq!(log.latest_task_of(shard(5)), Some((JobId(22), 5)));
        // A shard count of an older submission is not looked up.
        assert_eq!(log.latest_task_of(Shard::new(0, 4).unwrap()), None);
    }
}
