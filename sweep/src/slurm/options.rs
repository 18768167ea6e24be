//! The sbatch options of a sweep's array jobs, as recorded in its
//! submission state file and written into its scripts.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::SlurmError;

/// How many seconds before its time limit a task is asked to stop, when
/// nothing else is said: long enough for the points in flight of a typical
/// sweep to finish and be written. Slurm may send the signal up to a minute
/// early, never late.
pub const DEFAULT_GRACE_SECS: u64 = 120;

/// sbatch options the array script manages itself; passing them through
/// would break the script (task numbering, logs, graceful ends).
const MANAGED: [&str; 7] = ["--array", "--output", "--error", "--open-mode", "--signal", "--chdir", "--job-name"];

/// The sbatch options of a sweep: what `sweep slurm` was told, recorded so
/// that a resubmission reuses them. `None` means "not given": the cluster's
/// default, or for the few with a default of their own, that default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobOptions {
    /// At most this many array tasks at once (`--array=...%M`).
    pub throttle: Option<usize>,
    /// CPUs per task, each shard running that many workers (default 1).
    pub cpus_per_task: Option<usize>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`, the time limit of each task.
    pub time: Option<String>,
    /// `--account` to charge.
    pub account: Option<String>,
    /// `--mem`, memory per node.
    pub mem: Option<String>,
    /// `--mem-per-cpu` (excludes `--mem`).
    pub mem_per_cpu: Option<String>,
    /// `--qos`.
    pub qos: Option<String>,
    /// `--constraint`, node features.
    pub constraint: Option<String>,
    /// `--gres`, generic resources such as GPUs.
    pub gres: Option<String>,
    /// `--mail-type`, e.g. `END,FAIL`.
    pub mail_type: Option<String>,
    /// `--mail-user`.
    pub mail_user: Option<String>,
    /// Seconds before the time limit at which `sweep run` is asked (SIGUSR1)
    /// to stop cleanly (default [`DEFAULT_GRACE_SECS`]; 0 asks for nothing).
    pub grace_secs: Option<u64>,
    /// Seconds between the progress lines each task writes to its log
    /// (default: `sweep run`'s, 30).
    pub progress_every_secs: Option<u64>,
    /// Any other sbatch options, each one word such as `--exclusive` or
    /// `--nice=10`, written as `#SBATCH` lines in this order.
    pub sbatch_args: Vec<String>,
    /// Directory of the tasks' logs (default `slurm-logs`).
    pub log_dir: Option<PathBuf>,
}

impl JobOptions {
    /// These options with every option given in `newer` taking precedence:
    /// how a resubmission combines the recorded options with its command
    /// line. `--mem` and `--mem-per-cpu` replace each other, and a new
    /// pass-through list replaces the old one whole.
    pub fn overridden_by(&self, newer: &JobOptions) -> JobOptions {
        let mut merged = self.clone();
        fn take<T: Clone>(slot: &mut Option<T>, newer: &Option<T>) {
            if newer.is_some() {
                slot.clone_from(newer);
            }
        }
        take(&mut merged.throttle, &newer.throttle);
        take(&mut merged.cpus_per_task, &newer.cpus_per_task);
        take(&mut merged.partition, &newer.partition);
        take(&mut merged.time, &newer.time);
        take(&mut merged.account, &newer.account);
        if newer.mem.is_some() || newer.mem_per_cpu.is_some() {
            merged.mem.clone_from(&newer.mem);
            merged.mem_per_cpu.clone_from(&newer.mem_per_cpu);
        }
        take(&mut merged.qos, &newer.qos);
        take(&mut merged.constraint, &newer.constraint);
        take(&mut merged.gres, &newer.gres);
        take(&mut merged.mail_type, &newer.mail_type);
        take(&mut merged.mail_user, &newer.mail_user);
        take(&mut merged.grace_secs, &newer.grace_secs);
        take(&mut merged.progress_every_secs, &newer.progress_every_secs);
        take(&mut merged.log_dir, &newer.log_dir);
        if !newer.sbatch_args.is_empty() {
            merged.sbatch_args.clone_from(&newer.sbatch_args);
        }
        merged
    }

    /// CPUs per task, 1 unless given.
    pub fn cpus(&self) -> usize {
        self.cpus_per_task.unwrap_or(1)
    }

    /// Seconds of warning before the time limit: as given, else
    /// [`DEFAULT_GRACE_SECS`], or a quarter of a `--time` shorter than twice
    /// that (a 1-minute task is warned 15 s before its end, not at once).
    pub fn grace(&self) -> u64 {
        match (self.grace_secs, self.time.as_deref().and_then(time_limit_secs)) {
            (Some(grace), _) => grace,
            (None, Some(limit)) if limit < 2 * DEFAULT_GRACE_SECS => (limit / 4).max(1),
            (None, _) => DEFAULT_GRACE_SECS,
        }
    }

    /// The log directory, `slurm-logs` unless given.
    pub fn log_dir(&self) -> PathBuf {
        self.log_dir.clone().unwrap_or_else(|| PathBuf::from("slurm-logs"))
    }

    /// Checks what sbatch would only reject later, or worse, misread: zero
    /// CPUs, both memory options, values that would break an `#SBATCH`
    /// line, and pass-through options that are not options or that the
    /// script manages itself.
    pub fn validate(&self) -> Result<(), SlurmError> {
        if let Some(time) = self.time.as_deref() {
            let unlimited = ["UNLIMITED", "INFINITE"].iter().any(|word| time.eq_ignore_ascii_case(word));
            if time_limit_secs(time).is_none() && !unlimited {
                return Err(SlurmError::InvalidOption {
                    option: "--time".into(),
                    reason: format!(
                        "{time:?} is no Slurm time limit; give minutes (30), MM:SS, HH:MM:SS, D-HH, D-HH:MM or \
                         D-HH:MM:SS (1-12:00:00), or UNLIMITED"
                    ),
                });
            }
        }
        if self.progress_every_secs == Some(0) {
            return Err(SlurmError::InvalidOption {
                option: "--progress-every".into(),
                reason: "must be at least 1 second".into(),
            });
        }
        if let (Some(grace), Some(time)) = (self.grace_secs, self.time.as_deref()) {
            if let Some(limit) = time_limit_secs(time).filter(|&limit| grace > 0 && grace >= limit) {
                return Err(SlurmError::InvalidOption {
                    option: "--grace".into(),
                    reason: format!(
                        "{grace} s is not less than the time limit --time {time} ({limit} s): every task would be \
                         asked to stop as soon as it starts"
                    ),
                });
            }
        }
        if self.cpus_per_task == Some(0) {
            return Err(SlurmError::InvalidOption {
                option: "--cpus-per-task".into(),
                reason: "must be at least 1".into(),
            });
        }
        if self.mem.is_some() && self.mem_per_cpu.is_some() {
            return Err(SlurmError::InvalidOption {
                option: "--mem".into(),
                reason: "give either --mem or --mem-per-cpu, not both (sbatch refuses the pair)".into(),
            });
        }
        for (option, value) in self.valued_directives() {
            check_word(option, &value)?;
        }
        for arg in &self.sbatch_args {
            check_word("--sbatch", arg)?;
            if !arg.starts_with('-') {
                return Err(SlurmError::InvalidOption {
                    option: "--sbatch".into(),
                    reason: format!("{arg:?} is not an sbatch option (it must start with '-', e.g. --exclusive)"),
                });
            }
            let name = arg.split('=').next().unwrap_or(arg);
            if let Some(managed) = MANAGED.iter().find(|managed| **managed == name) {
                return Err(SlurmError::InvalidOption {
                    option: "--sbatch".into(),
                    reason: format!("{managed} is set by `sweep slurm` itself and cannot be passed through"),
                });
            }
        }
        Ok(())
    }

    /// The `#SBATCH` lines these options add, in a fixed order: the named
    /// options, then the pass-through ones. `--array`, `--output` and the
    /// other managed options are not among them.
    pub fn directives(&self) -> Vec<String> {
        let mut lines: Vec<String> =
            self.valued_directives().into_iter().map(|(option, value)| format!("{option}={value}")).collect();
        if self.grace() > 0 {
            // B: signals only the batch shell, which `exec`s `sweep run`.
            lines.push(format!("--signal=B:USR1@{}", self.grace()));
        }
        lines.extend(self.sbatch_args.iter().cloned());
        lines
    }

    fn valued_directives(&self) -> Vec<(&'static str, String)> {
        let named = [
            ("--partition", &self.partition),
            ("--time", &self.time),
            ("--account", &self.account),
            ("--mem", &self.mem),
            ("--mem-per-cpu", &self.mem_per_cpu),
            ("--qos", &self.qos),
            ("--constraint", &self.constraint),
            ("--gres", &self.gres),
            ("--mail-type", &self.mail_type),
            ("--mail-user", &self.mail_user),
        ];
        named.into_iter().filter_map(|(option, value)| Some((option, value.clone()?))).collect()
    }
}

/// A `--time` value in seconds, in any of sbatch's formats: `M`, `M:S`,
/// `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`. `None` for anything else
/// (`UNLIMITED`, typos: sbatch will judge those).
pub fn time_limit_secs(time: &str) -> Option<u64> {
    let number = |text: &str| text.parse::<u64>().ok();
    let (days, clock) = match time.split_once('-') {
        Some((days, clock)) => (Some(number(days)?), clock),
        None => (None, time),
    };
    let parts: Vec<u64> = clock.split(':').map(number).collect::<Option<_>>()?;
    let secs = match (days, parts.as_slice()) {
        (None, [m]) => m * 60,
        (None, [m, s]) => m * 60 + s,
        (None, [h, m, s]) | (Some(_), [h, m, s]) => h * 3600 + m * 60 + s,
        (Some(_), [h]) => h * 3600,
        (Some(_), [h, m]) => h * 3600 + m * 60,
        _ => return None,
    };
    Some(days.unwrap_or(0) * 86_400 + secs)
}

/// Rejects values that would split or corrupt an `#SBATCH` line: sbatch
/// does not unquote directive values reliably.
pub(crate) fn check_word(option: &str, value: &str) -> Result<(), SlurmError> {
    let unsafe_char = |c: char| c.is_whitespace() || c == '"' || c == '\'' || c.is_control();
    if value.is_empty() || value.contains(unsafe_char) {
        return Err(SlurmError::UnsafeDirective { option: option.to_string(), value: value.to_string() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(text: &str) -> Option<String> {
        Some(text.to_string())
    }

    #[test]
    fn directives_come_in_a_fixed_order_with_the_grace_signal() {
        let options = JobOptions {
            account: some("proj42"),
            mem_per_cpu: some("2G"),
            qos: some("short"),
            constraint: some("skylake&ib"),
            gres: some("gpu:1"),
            mail_type: some("END,FAIL"),
            mail_user: some("me@example.org"),
            time: some("0:10:00"),
            grace_secs: Some(30),
            sbatch_args: vec!["--exclusive".into(), "--nice=10".into()],
            ..JobOptions::default()
        };
        options.validate().unwrap();
        assert_eq!(
            options.directives(),
            [
                "--time=0:10:00",
                "--account=proj42",
                "--mem-per-cpu=2G",
                "--qos=short",
                "--constraint=skylake&ib",
                "--gres=gpu:1",
                "--mail-type=END,FAIL",
                "--mail-user=me@example.org",
                "--signal=B:USR1@30",
                "--exclusive",
                "--nice=10",
            ]
        );
        let quiet = JobOptions { grace_secs: Some(0), ..JobOptions::default() };
        assert!(quiet.directives().is_empty());
        assert_eq!(JobOptions::default().directives(), [format!("--signal=B:USR1@{DEFAULT_GRACE_SECS}")]);
    }

    #[test]
    fn time_limits_parse_in_every_sbatch_format() {
        for (text, secs) in [
            ("30", 1800),
            ("1", 60),
            ("5:30", 330),
            ("1:00:00", 3600),
            ("2-0", 172_800),
            ("1-2:03", 93_780),
            ("1-02:03:04", 93_784),
        ] {
            assert_eq!(time_limit_secs(text), Some(secs), "{text}");
        }
        for text in ["", "UNLIMITED", "1:2:3:4", "x", "-1", "1-"] {
            assert_eq!(time_limit_secs(text), None, "{text}");
        }
    }

    #[test]
    fn a_time_limit_in_no_sbatch_format_is_refused_naming_the_formats() {
        for time in ["garbage", "1:2:3:4", "1-", "-1", "1h", "1-2:3:4:5", ""] {
            let options = JobOptions { time: some(time), ..JobOptions::default() };
            let message = options.validate().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains("--time") && message.contains("D-HH:MM:SS"), "{time:?}: {message}");
        }
        for time in ["30", "5:30", "1:00:00", "2-0", "1-2:03", "1-02:03:04", "UNLIMITED", "infinite"] {
            let options = JobOptions { time: some(time), ..JobOptions::default() };
            assert!(options.validate().is_ok(), "{time:?}");
        }
    }

    #[test]
    fn short_time_limits_get_a_proportionate_warning() {
        let short = JobOptions { time: some("1"), ..JobOptions::default() };
        assert_eq!(short.grace(), 15);
        assert!(short.directives().contains(&"--signal=B:USR1@15".to_string()));
        let long = JobOptions { time: some("2:00:00"), ..JobOptions::default() };
        assert_eq!(long.grace(), DEFAULT_GRACE_SECS);
        let explicit = JobOptions { time: some("1"), grace_secs: Some(50), ..JobOptions::default() };
        assert_eq!(explicit.grace(), 50);
        explicit.validate().unwrap();
        let too_long = JobOptions { time: some("1"), grace_secs: Some(60), ..JobOptions::default() };
        assert!(too_long.validate().unwrap_err().to_string().contains("not less than the time limit"));
        JobOptions { time: some("1"), grace_secs: Some(0), ..JobOptions::default() }.validate().unwrap();
    }

    #[test]
    fn newer_options_override_recorded_ones() {
        let recorded = JobOptions {
            throttle: Some(2),
            time: some("1:00:00"),
            mem: some("4G"),
            sbatch_args: vec!["--exclusive".into()],
            account: some("a"),
            ..JobOptions::default()
        };
        let newer = JobOptions { time: some("2:00:00"), mem_per_cpu: some("1G"), ..JobOptions::default() };
        let merged = recorded.overridden_by(&newer);
        assert_eq!(merged.throttle, Some(2));
        assert_eq!(merged.account, some("a"));
        assert_eq!(merged.time, some("2:00:00"));
        assert_eq!((merged.mem, merged.mem_per_cpu), (None, some("1G")));
        assert_eq!(merged.sbatch_args, ["--exclusive"]);
        assert_eq!(recorded.overridden_by(&JobOptions::default()), recorded);
    }

    #[test]
    fn bad_options_are_refused_with_a_reason() {
        let check = |options: JobOptions| options.validate().map(|()| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(check(JobOptions { cpus_per_task: Some(0), ..Default::default() }).contains("at least 1"));
        assert!(
            check(JobOptions { mem: some("1G"), mem_per_cpu: some("1G"), ..Default::default() }).contains("not both")
        );
        assert!(check(JobOptions { account: some("a b"), ..Default::default() }).contains("--account"));
        assert!(check(JobOptions { qos: some("x\n#SBATCH --mem=1T"), ..Default::default() }).contains("--qos"));
        assert!(check(JobOptions { sbatch_args: vec!["exclusive".into()], ..Default::default() })
            .contains("must start with '-'"));
        assert!(check(JobOptions { sbatch_args: vec!["--array=0-9".into()], ..Default::default() })
            .contains("--array is set by `sweep slurm`"));
        assert!(check(JobOptions { sbatch_args: vec!["--open-mode=truncate".into()], ..Default::default() })
            .contains("--open-mode"));
        assert!(check(JobOptions { sbatch_args: vec!["--nice=10".into()], ..Default::default() }).is_empty());
    }

    #[test]
    fn options_round_trip_through_json_and_tolerate_missing_fields() {
        let options = JobOptions { gres: some("gpu:2"), sbatch_args: vec!["-x".into()], ..JobOptions::default() };
        let text = serde_json::to_string(&options).unwrap();
        assert_eq!(serde_json::from_str::<JobOptions>(&text).unwrap(), options);
        let sparse: JobOptions = serde_json::from_str(r#"{"time": "5"}"#).unwrap();
        assert_eq!(sparse, JobOptions { time: some("5"), ..JobOptions::default() });
    }
}
