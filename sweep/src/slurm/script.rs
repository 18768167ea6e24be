//! sbatch array scripts: the `--array` specification and the script text.

use std::fmt;
use std::path::{Path, PathBuf};

use super::options::{check_word, JobOptions};
use super::SlurmError;
use crate::output::{shell_path, shell_word};

/// The `--array` value of an sbatch job: which task ids run, and how many
/// may run at once. Displays in Slurm's syntax, runs of consecutive ids
/// compressed: `0-3%2`, `1,3`, `0-2,5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArraySpec {
    /// Sorted, without duplicates, never empty.
    tasks: Vec<usize>,
    throttle: Option<usize>,
}

impl ArraySpec {
    /// Every task `0..count`, at most `throttle` running at once.
    pub fn all(count: usize, throttle: Option<usize>) -> Result<Self, SlurmError> {
        Self::only((0..count).collect(), count, throttle)
    }

    /// Just the given tasks (any order, duplicates ignored), each of which
    /// must be below `count`: used to resubmit incomplete shards.
    pub fn only(mut tasks: Vec<usize>, count: usize, throttle: Option<usize>) -> Result<Self, SlurmError> {
        tasks.sort_unstable();
        tasks.dedup();
        if tasks.is_empty() {
            return Err(SlurmError::EmptyArray);
        }
        if let Some(&task) = tasks.iter().find(|&&task| task >= count) {
            return Err(SlurmError::TaskOutOfRange { task, count });
        }
        // A throttle of 0 would hold every task forever; treat it as none.
        let throttle = throttle.filter(|&limit| limit > 0);
        Ok(ArraySpec { tasks, throttle })
    }

    /// The task ids, ascending.
    pub fn tasks(&self) -> &[usize] {
        &self.tasks
    }
}

impl fmt::Display for ArraySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut runs = Vec::new();
        let mut start = self.tasks[0];
        let mut end = start;
        for &task in &self.tasks[1..] {
            if task == end + 1 {
                end = task;
            } else {
                runs.push((start, end));
                start = task;
                end = task;
            }
        }
        runs.push((start, end));
        let text: Vec<String> = runs
            .into_iter()
            .map(|(start, end)| match end - start {
                0 => start.to_string(),
                // Two ids read better as a list than as a range.
                1 => format!("{start},{end}"),
                _ => format!("{start}-{end}"),
            })
            .collect();
        write!(f, "{}", text.join(","))?;
        if let Some(limit) = self.throttle {
            write!(f, "%{limit}")?;
        }
        Ok(())
    }
}

/// Cuts the shards to run into array jobs whose task ids stay below the
/// cluster's `max_array_size` (Slurm's MaxArraySize: the largest task id is
/// one less). Returns `(first_shard, array)` pairs, ascending: task `T` of
/// an array computes shard `first_shard + T`. `shards` must not be empty.
pub fn split_arrays(
    shards: &[usize],
    max_array_size: usize,
    throttle: Option<usize>,
) -> Result<Vec<(usize, ArraySpec)>, SlurmError> {
    let window = max_array_size.max(1);
    let mut windows: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut sorted = shards.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for shard in sorted {
        let first = shard / window * window;
        match windows.last_mut() {
            Some((start, tasks)) if *start == first => tasks.push(shard - first),
            _ => windows.push((first, vec![shard - first])),
        }
    }
    if windows.is_empty() {
        return Err(SlurmError::EmptyArray);
    }
    windows.into_iter().map(|(first, tasks)| Ok((first, ArraySpec::only(tasks, window, throttle)?))).collect()
}

/// The Slurm job name of the sweep of the spec at `spec`: `sweep-` and the
/// spec's file stem, with every character but ASCII letters, digits, `-`,
/// `_` and `.` made `_`. It goes in an `#SBATCH` line, which cannot hold a
/// space or a quote, and into every log's file name (`%x`).
pub fn job_name(spec: &Path) -> String {
    let stem = spec.file_stem().map_or("sweep".into(), |stem| stem.to_string_lossy());
    let safe = |c: char| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' };
    format!("sweep-{}", stem.chars().map(safe).collect::<String>())
}

/// Everything needed to write an sbatch array script for a sharded sweep.
#[derive(Debug, Clone)]
pub struct ArrayJob {
    /// The Slurm job name (`%x` in log file names).
    pub job_name: String,
    /// The array tasks in the script's `--array` line; task `T` computes
    /// shard `first_shard + T`.
    pub array: ArraySpec,
    /// Shard index of array task 0: arrays longer than the cluster's
    /// MaxArraySize are split into several jobs, each starting at 0.
    pub first_shard: usize,
    /// The number of shards `N` every task passes to `--shard`.
    pub shard_count: usize,
    /// The sbatch options (CPUs, time, account, ...) and log directory.
    pub options: JobOptions,
    /// Directory for the tasks' logs, `%x-%A_%a.out`, absolute.
    pub log_dir: PathBuf,
    /// Directory the tasks run in (relative paths in the spec resolve
    /// here), absolute: where `sweep slurm` runs, and sbatch with it.
    pub working_dir: PathBuf,
    /// The `sweep` executable the tasks run.
    pub sweep_program: PathBuf,
    /// The sweep specification file.
    pub spec_path: PathBuf,
    /// Results file passed to `sweep run --output` (each task writes its
    /// shard's file beside it); `None` keeps the spec's own.
    pub output: Option<PathBuf>,
    /// Further arguments for every task's `sweep run`, e.g.
    /// `--retry-failed` when resubmitting.
    pub run_args: Vec<String>,
}

impl ArrayJob {
    /// The sbatch script text. Fails if a value would break a `#SBATCH`
    /// line (sbatch does not unquote directive values reliably).
    pub fn render(&self) -> Result<String, SlurmError> {
        self.options.validate()?;
        let (log, relative) = self.log_path()?;
        let mut directives = vec![
            format!("--job-name={}", self.job_name),
            format!("--array={}", self.array),
            "--ntasks=1".to_string(),
            format!("--cpus-per-task={}", self.options.cpus()),
            format!("--output={log}"),
            // A requeued task appends to its log instead of truncating it.
            "--open-mode=append".to_string(),
        ];
        check_word("--job-name", &self.job_name)?;
        directives.extend(self.options.directives());

        let mut script = String::from("#!/bin/bash\n");
        script.push_str(&format!(
            "# Written by `sweep slurm`: array task T computes shard {}T of {} of {}.\n",
            if self.first_shard == 0 { String::new() } else { format!("{} + ", self.first_shard) },
            self.shard_count,
            self.spec_path.display()
        ));
        if relative {
            script.push_str(&format!(
                "# Submit from {}: the log path is relative to the directory sbatch runs in.\n",
                self.working_dir.display()
            ));
        }
        for directive in directives {
            script.push_str(&format!("#SBATCH {directive}\n"));
        }
        script.push_str("set -euo pipefail\n");
        // Not `#SBATCH --chdir`: a directive cannot hold a space, a
        // quoted word can.
        script.push_str(&format!("cd {}\n", shell_path(&self.working_dir)));
        let shard = if self.first_shard == 0 {
            format!("\"$SLURM_ARRAY_TASK_ID/{}\"", self.shard_count)
        } else {
            format!("\"$((SLURM_ARRAY_TASK_ID + {}))/{}\"", self.first_shard, self.shard_count)
        };
        // `exec`: the batch shell becomes `sweep run`, so the warning signal
        // (`--signal=B:...`) and Slurm's SIGTERM at the limit reach it.
        let mut command = vec![
            "exec".to_string(),
            shell_path(&self.sweep_program),
            "run".to_string(),
            shell_path(&self.spec_path),
            "--shard".to_string(),
            shard,
            "--workers".to_string(),
            self.options.cpus().to_string(),
        ];
        if let Some(every) = self.options.progress_every_secs {
            command.push("--progress-every".to_string());
            command.push(every.to_string());
        }
        if let Some(output) = &self.output {
            command.push("--output".to_string());
            command.push(shell_path(output));
        }
        command.extend(self.run_args.iter().map(|arg| shell_word(arg)));
        script.push_str(&command.join(" "));
        script.push('\n');
        Ok(script)
    }

    /// sbatch's `--output` for the tasks' logs, and whether it is relative:
    /// absolute where an `#SBATCH` line can hold it; else, when only the
    /// working directory above the log directory has a space, relative to
    /// it, which is where the job starts (sbatch's own directory, as
    /// `sweep slurm --submit` runs it). Refused naming `--log-dir`, the
    /// option that chooses it, when neither will do.
    fn log_path(&self) -> Result<(String, bool), SlurmError> {
        const PATTERN: &str = "%x-%A_%a.out";
        let absolute = self.log_dir.join(PATTERN).display().to_string();
        if check_word("--output", &absolute).is_ok() {
            return Ok((absolute, false));
        }
        let relative = self.log_dir.strip_prefix(&self.working_dir).map(|dir| dir.join(PATTERN).display().to_string());
        match relative {
            Ok(relative) if check_word("--output", &relative).is_ok() => Ok((relative, true)),
            _ => Err(SlurmError::UnsafeDirective {
                option: "--log-dir".to_string(),
                value: self.log_dir.display().to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_spec_renders_slurm_syntax() {
        assert_eq!(ArraySpec::all(4, Some(2)).unwrap().to_string(), "0-3%2");
        assert_eq!(ArraySpec::all(4, None).unwrap().to_string(), "0-3");
        assert_eq!(ArraySpec::all(1, None).unwrap().to_string(), "0");
        assert_eq!(ArraySpec::only(vec![3, 1], 4, None).unwrap().to_string(), "1,3");
        assert_eq!(ArraySpec::only(vec![5, 0, 2, 1, 1, 7, 8, 9], 10, Some(3)).unwrap().to_string(), "0-2,5,7-9%3");
        assert_eq!(ArraySpec::only(vec![2, 3], 4, None).unwrap().to_string(), "2,3");
        assert_eq!(ArraySpec::all(3, Some(0)).unwrap().to_string(), "0-2");
    }

    #[test]
    fn arrays_beyond_max_array_size_are_split() {
        let shards: Vec<usize> = (0..2500).collect();
        let arrays = split_arrays(&shards, 1001, Some(5)).unwrap();
        let rendered: Vec<(usize, String)> = arrays.iter().map(|(first, a)| (*first, a.to_string())).collect();
        assert_eq!(rendered, [(0, "0-1000%5".into()), (1001, "0-1000%5".into()), (2002, "0-497%5".into())]);
        let some = split_arrays(&[3, 1500, 1001, 7], 1001, None).unwrap();
        let rendered: Vec<(usize, String)> = some.iter().map(|(first, a)| (*first, a.to_string())).collect();
        assert_eq!(rendered, [(0, "3,7".into()), (1001, "0,499".into())]);
        assert_eq!(split_arrays(&[0, 1, 2], 1001, None).unwrap().len(), 1);
        assert!(matches!(split_arrays(&[], 1001, None), Err(SlurmError::EmptyArray)));
    }

    #[test]
    fn array_spec_rejects_empty_and_unknown_tasks() {
        assert!(matches!(ArraySpec::all(0, None), Err(SlurmError::EmptyArray)));
        assert!(matches!(ArraySpec::only(vec![1, 4], 4, None), Err(SlurmError::TaskOutOfRange { task: 4, count: 4 })));
    }

    fn job() -> ArrayJob {
        ArrayJob {
            job_name: "sweep-demo".into(),
            array: ArraySpec::all(4, Some(2)).unwrap(),
            first_shard: 0,
            shard_count: 4,
            options: JobOptions { cpus_per_task: Some(3), grace_secs: Some(0), ..JobOptions::default() },
            log_dir: "/scratch/logs".into(),
            working_dir: "/home/me/study".into(),
            sweep_program: "/opt/bin/sweep".into(),
            spec_path: "/home/me/study/demo.ron".into(),
            output: None,
            run_args: Vec::new(),
        }
    }

    #[test]
    fn script_has_the_exact_directives_and_command() {
        let script = job().render().unwrap();
        let expected = "\
#!/bin/bash
# Written by `sweep slurm`: array task T computes shard T of 4 of /home/me/study/demo.ron.
#SBATCH --job-name=sweep-demo
#SBATCH --array=0-3%2
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=3
#SBATCH --output=/scratch/logs/%x-%A_%a.out
#SBATCH --open-mode=append
set -euo pipefail
cd /home/me/study
exec /opt/bin/sweep run /home/me/study/demo.ron --shard \"$SLURM_ARRAY_TASK_ID/4\" --workers 3
";
        assert_eq!(script, expected);
    }

    #[test]
    fn script_adds_options_and_quotes_odd_paths() {
        let mut job = job();
        job.options.partition = Some("short".into());
        job.options.time = Some("01:30:00".into());
        job.options.account = Some("proj".into());
        job.options.grace_secs = Some(90);
        job.options.sbatch_args = vec!["--exclusive".into()];
        job.spec_path = "/home/me/my study/it's.ron".into();
        let script = job.render().unwrap();
        let tail = "#SBATCH --partition=short\n#SBATCH --time=01:30:00\n#SBATCH --account=proj\n\
                    #SBATCH --signal=B:USR1@90\n#SBATCH --exclusive\nset -euo pipefail\n";
        assert!(script.contains(tail), "{script}");
        assert!(script.contains("run '/home/me/my study/it'\\''s.ron' --shard"), "{script}");
    }

    #[test]
    fn split_arrays_offset_their_shards() {
        let mut job = job();
        job.first_shard = 1001;
        job.shard_count = 1500;
        job.array = ArraySpec::all(499, None).unwrap();
        let script = job.render().unwrap();
        assert!(script.contains("--shard \"$((SLURM_ARRAY_TASK_ID + 1001))/1500\""), "{script}");
        assert!(script.contains("array task T computes shard 1001 + T of 1500"), "{script}");
    }

    #[test]
    fn script_passes_output_and_run_arguments_to_every_task() {
        let mut job = job();
        job.output = Some("out/sq.jsonl".into());
        job.run_args = vec!["--retry-failed".into(), "--max-attempts".into(), "3".into()];
        let script = job.render().unwrap();
        let last = script.lines().last().unwrap_or_default();
        assert!(last.ends_with("--workers 3 --output out/sq.jsonl --retry-failed --max-attempts 3"), "{last}");
    }

    #[test]
    fn script_refuses_values_that_break_directives() {
        let mut job = job();
        job.options.partition = Some("short\n#SBATCH --mem=1T".into());
        let err = job.render().unwrap_err();
        assert!(matches!(&err, SlurmError::UnsafeDirective { option, .. } if option == "--partition"), "{err}");
        let mut job = self::job();
        job.log_dir = "/my logs".into();
        let err = job.render().unwrap_err();
        assert!(matches!(&err, SlurmError::UnsafeDirective { option, .. } if option == "--log-dir"), "{err}");
    }

    /// The referee's C: from a directory whose path has a space, and a
    /// spec named `s p€c.ron`, every script was refused, naming sbatch's
    /// `--output`, `--chdir` and `--job-name`, which `sweep slurm` has not
    /// (its `--output` is the results file).
    #[test]
    fn a_working_directory_and_a_spec_with_spaces_are_fine() {
        assert_eq!(job_name(Path::new("/tmp/we ird/s p€c.ron")), "sweep-s_p_c");
        assert_eq!(job_name(Path::new("sq-1.v2.ron")), "sweep-sq-1.v2");
        let mut job = job();
        job.job_name = job_name(Path::new("s p€c.ron"));
        job.working_dir = "/tmp/we ird".into();
        job.log_dir = "/tmp/we ird/slurm-logs".into();
        job.spec_path = "/tmp/we ird/s p€c.ron".into();
        let script = job.render().unwrap_or_else(|e| panic!("{e}"));
        assert!(script.contains("\n#SBATCH --job-name=sweep-s_p_c\n"), "{script}");
        assert!(script.contains("\n#SBATCH --output=slurm-logs/%x-%A_%a.out\n"), "{script}");
        assert!(script.contains("# Submit from /tmp/we ird: the log path is relative"), "{script}");
        assert!(script.contains("\ncd '/tmp/we ird'\nexec /opt/bin/sweep run '/tmp/we ird/s p€c.ron' "), "{script}");
        assert!(!script.contains("--chdir"), "{script}");
        // Logs elsewhere without a space stay absolute; with one, or in a
        // directory with one below the working directory, --log-dir is named.
        job.log_dir = "/scratch/logs".into();
        assert!(job.render().unwrap_or_default().contains("\n#SBATCH --output=/scratch/logs/%x-%A_%a.out\n"));
        for log_dir in ["/tmp/we ird/my logs", "/scratch/my logs"] {
            job.log_dir = log_dir.into();
            let err = job.render().map(|_| ()).unwrap_err().to_string();
            assert!(err.starts_with(&format!("--log-dir value {log_dir:?}")), "{err}");
        }
    }
}
