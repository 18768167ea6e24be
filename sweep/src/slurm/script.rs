//! sbatch array scripts: the `--array` specification and the script text.

use std::fmt;
use std::path::PathBuf;

use super::SlurmError;

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

/// Everything needed to write an sbatch array script for a sharded sweep.
#[derive(Debug, Clone)]
pub struct ArrayJob {
    /// The Slurm job name (`%x` in log file names).
    pub job_name: String,
    /// The array tasks in the script's `--array` line; each task id is a
    /// shard index.
    pub array: ArraySpec,
    /// The number of shards `N` every task passes to `--shard`.
    pub shard_count: usize,
    /// CPUs per array task; also the `--workers` of each shard's run.
    pub cpus_per_task: usize,
    /// `--partition`, if not the cluster's default.
    pub partition: Option<String>,
    /// `--time` limit per task, in any format sbatch accepts.
    pub time_limit: Option<String>,
    /// Directory for the tasks' logs, `%x-%A_%a.out`.
    pub log_dir: PathBuf,
    /// Directory the tasks run in (relative paths in the spec resolve here).
    pub working_dir: PathBuf,
    /// The `sweep` executable the tasks run.
    pub sweep_program: PathBuf,
    /// The sweep specification file.
    pub spec_path: PathBuf,
    /// Results file passed to `sweep run --output` (each task writes its
    /// shard's file beside it); `None` keeps the spec's own.
    pub output: Option<PathBuf>,
    /// Pass `--retry-failed`, so that points whose latest record is a
    /// failure are computed again (used when resubmitting).
    pub retry_failed: bool,
}

impl ArrayJob {
    /// The sbatch script text. Fails if a value would break a `#SBATCH`
    /// line (sbatch does not unquote directive values reliably).
    pub fn render(&self) -> Result<String, SlurmError> {
        let log = self.log_dir.join("%x-%A_%a.out");
        let mut directives = vec![
            ("--job-name", self.job_name.clone()),
            ("--array", self.array.to_string()),
            ("--ntasks", "1".to_string()),
            ("--cpus-per-task", self.cpus_per_task.to_string()),
            ("--output", log.display().to_string()),
            ("--chdir", self.working_dir.display().to_string()),
        ];
        if let Some(partition) = &self.partition {
            directives.push(("--partition", partition.clone()));
        }
        if let Some(time) = &self.time_limit {
            directives.push(("--time", time.clone()));
        }

        let mut script = String::from("#!/bin/bash\n");
        script.push_str(&format!(
            "# Written by `sweep slurm`: array task K computes shard K of {} of {}.\n",
            self.shard_count,
            self.spec_path.display()
        ));
        for (option, value) in directives {
            check_directive(option, &value)?;
            script.push_str(&format!("#SBATCH {option}={value}\n"));
        }
        script.push_str("set -euo pipefail\n");
        let mut command = vec![
            "exec".to_string(),
            shell_quote(&self.sweep_program.display().to_string()),
            "run".to_string(),
            shell_quote(&self.spec_path.display().to_string()),
            "--shard".to_string(),
            format!("\"$SLURM_ARRAY_TASK_ID/{}\"", self.shard_count),
            "--workers".to_string(),
            self.cpus_per_task.to_string(),
            // Logs are files, not terminals; a progress bar would only add noise.
            "--no-progress".to_string(),
        ];
        if let Some(output) = &self.output {
            command.push("--output".to_string());
            command.push(shell_quote(&output.display().to_string()));
        }
        if self.retry_failed {
            command.push("--retry-failed".to_string());
        }
        script.push_str(&command.join(" "));
        script.push('\n');
        Ok(script)
    }
}

/// Rejects values that would split or corrupt an `#SBATCH` line.
fn check_directive(option: &'static str, value: &str) -> Result<(), SlurmError> {
    let unsafe_char = |c: char| c.is_whitespace() || c == '"' || c == '\'' || c.is_control();
    if value.is_empty() || value.contains(unsafe_char) {
        return Err(SlurmError::UnsafeDirective { option, value: value.to_string() });
    }
    Ok(())
}

/// Quotes `word` for a POSIX shell, leaving plain words readable.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
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
    fn array_spec_rejects_empty_and_unknown_tasks() {
        assert!(matches!(ArraySpec::all(0, None), Err(SlurmError::EmptyArray)));
        assert!(matches!(ArraySpec::only(vec![1, 4], 4, None), Err(SlurmError::TaskOutOfRange { task: 4, count: 4 })));
    }

    fn job() -> ArrayJob {
        ArrayJob {
            job_name: "sweep-demo".into(),
            array: ArraySpec::all(4, Some(2)).unwrap(),
            shard_count: 4,
            cpus_per_task: 3,
            partition: None,
            time_limit: None,
            log_dir: "/scratch/logs".into(),
            working_dir: "/home/me/study".into(),
            sweep_program: "/opt/bin/sweep".into(),
            spec_path: "/home/me/study/demo.ron".into(),
            output: None,
            retry_failed: false,
        }
    }

    #[test]
    fn script_has_the_exact_directives_and_command() {
        let script = job().render().unwrap();
        let expected = "\
#!/bin/bash
# Written by `sweep slurm`: array task K computes shard K of 4 of /home/me/study/demo.ron.
#SBATCH --job-name=sweep-demo
#SBATCH --array=0-3%2
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=3
#SBATCH --output=/scratch/logs/%x-%A_%a.out
#SBATCH --chdir=/home/me/study
set -euo pipefail
exec /opt/bin/sweep run /home/me/study/demo.ron --shard \"$SLURM_ARRAY_TASK_ID/4\" --workers 3 --no-progress
";
        assert_eq!(script, expected);
    }

    #[test]
    fn script_adds_partition_and_time_and_quotes_odd_paths() {
        let mut job = job();
        job.partition = Some("short".into());
        job.time_limit = Some("01:30:00".into());
        job.spec_path = "/home/me/my study/it's.ron".into();
        let script = job.render().unwrap();
        assert!(script.contains("\n#SBATCH --partition=short\n"), "{script}");
        assert!(script.contains("\n#SBATCH --time=01:30:00\n"), "{script}");
        assert!(script.contains("run '/home/me/my study/it'\\''s.ron' --shard"), "{script}");
    }

    #[test]
    fn script_passes_output_and_retry_to_every_task() {
        let mut job = job();
        job.output = Some("out/sq.jsonl".into());
        job.retry_failed = true;
        let script = job.render().unwrap();
        let last = script.lines().last().unwrap_or_default();
        assert!(last.ends_with("--workers 3 --no-progress --output out/sq.jsonl --retry-failed"), "{last}");
    }

    #[test]
    fn script_refuses_values_that_break_directives() {
        let mut job = job();
        job.partition = Some("short\n#SBATCH --mem=1T".into());
        let err = job.render().unwrap_err();
        assert!(matches!(err, SlurmError::UnsafeDirective { option: "--partition", .. }), "{err}");
        let mut job = self::job();
        job.log_dir = "/my logs".into();
        assert!(job.render().is_err());
    }
}
