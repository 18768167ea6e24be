//! The `sweep` command line: run a spec's command over its space, resume it,
//! report on it, plot it, export it; shard it over a Slurm cluster and
//! collect the shards. Parsing only; the work is in the library.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{CommandFactory, Parser, Subcommand};
use sweep::command::Persistent;
use sweep::output::{counted, shell_path};
use sweep::slurm::{self, ArrayJob, Cluster, JobOptions, Limits, Shard, SubmissionLog, SubmittedArray};
use sweep::store::SyncPolicy;
use sweep::{eprintln, println};
use sweep::{execute, plot, CommandOptions, Header, Results, RunOptions, Selection, Spec, Stop};

/// Parameter-space studies on a thread pool, with resumable results.
#[derive(Debug, Parser)]
#[command(name = "sweep", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--format`'s list, parsed whole by [`charts::Format::list`]: clap reads
/// a field spelled `Vec<_>` as repeated values, which this alias avoids.
type Formats = Vec<charts::Format>;

#[derive(Debug, Subcommand)]
enum Command {
    /// Run (or resume) the sweep described by a RON spec.
    Run(RunArgs),
    /// Plot a results file: one varying axis gives a scatter plot, two a
    /// heatmap and a 3D surface.
    Plot {
        /// Results file (JSON Lines) written by `sweep run`.
        results: PathBuf,
        /// Chart to write, used as given (default: the results path with
        /// `.png`); its extension picks the format unless --format is
        /// given, and must not contradict it. With two varying axes,
        /// `-heatmap` and `-surface` are added to its name.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Field to plot when values are JSON objects.
        #[arg(long)]
        value_key: Option<String>,
        /// Formats to write, comma-separated: png, svg, pdf (default: the
        /// one --output's extension names, PNG without --output). Formats
        /// other than --output's own are written beside it with their own
        /// extension.
        #[arg(long, value_name = "png,svg,pdf", value_parser = charts::Format::list)]
        format: Option<Formats>,
    },
    /// Count the points of a results file that are done, failed and missing.
    Status {
        /// Results file (JSON Lines) written by `sweep run`.
        results: PathBuf,
        /// Attempts after which a failed point counts as given up (default:
        /// the spec's `max_attempts`, as `run` uses it, else 3).
        #[arg(long, value_name = "N")]
        max_attempts: Option<u32>,
        /// Also list every record in file order with its provenance, one
        /// tab-separated line each (like GNU parallel's joblog).
        #[arg(long, conflicts_with = "json")]
        records: bool,
        /// Print one JSON object for scripts: counts, and every failed
        /// point with its provenance and whether it is given up.
        #[arg(long)]
        json: bool,
    },
    /// Make a damaged results file usable again: lines that do not parse,
    /// records of another sweep and records of points outside the sweep's
    /// space move to `<results>.rejected.jsonl`; every valid record stays,
    /// in order.
    Repair {
        /// Results file (JSON Lines) written by `sweep run`.
        results: PathBuf,
        /// The spec the file was written from, used only when the header
        /// line itself is damaged; refused if it is another sweep's.
        #[arg(long)]
        spec: Option<PathBuf>,
    },
    /// Write the latest record of each point as CSV (records of points not
    /// in the space, `status`'s outside, are left out and counted on stderr).
    Export {
        /// Results file (JSON Lines) written by `sweep run`.
        results: PathBuf,
        /// CSV file to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Write (and optionally submit) a Slurm array job: one task per shard,
    /// each running `sweep run SPEC --shard K/N`.
    Slurm(Box<SlurmArgs>),
    /// Merge the shard files of a sweep into its results file and list the
    /// points still missing or failed, with their shard (fails if any).
    Collect(CollectArgs),
    /// Print the completion script for SHELL on standard output, e.g.
    /// `sweep completions bash > ~/.local/share/bash-completion/completions/sweep`.
    Completions {
        /// The shell the script is for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Sweep spec (RON): space, command template and settings.
    spec: PathBuf,
    /// Worker threads (default: the spec's, else one per CPU).
    #[arg(long)]
    workers: Option<usize>,
    /// Points per task handed to a worker (default: the spec's, else 1).
    #[arg(long)]
    chunk_size: Option<usize>,
    /// Per-point time limit in seconds; the command is killed past it.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Results file (default: the spec's `output`, else `<spec name>.jsonl`).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Recompute points whose latest result is a failure (those that have
    /// not used up their attempts).
    #[arg(long)]
    retry_failed: bool,
    /// Attempts a point gets across all runs of the results file; after
    /// that it is given up (default: the spec's, else 3).
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,
    /// Retry a failed point up to N times within this run, after a back-off
    /// of 1 s, 2 s, 4 s... (default: the spec's, else 0); capped by
    /// --max-attempts.
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
    /// Back-off before the first retry within a run; doubled for each next.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    retry_delay: f64,
    /// Most bytes a black box may print on stdout (default 1 MiB); past it
    /// the command is killed and its point fails. Only the last this many
    /// bytes of stderr are kept.
    #[arg(long, value_name = "BYTES")]
    max_output: Option<usize>,
    /// After SIGINT, SIGTERM, SIGHUP or SIGUSR1, how long the points in flight may
    /// finish before their commands are killed.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    grace: f64,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    progress_every: f64,
    /// Do not draw the progress bar on a terminal: print the progress lines
    /// that logs get (every --progress-every) instead.
    #[arg(long)]
    no_progress: bool,
    /// Compute only the first N points of the space (of the shard, with
    /// --shard), e.g. to try a huge sweep; rerun with a larger N to go on.
    #[arg(long, value_name = "N", conflicts_with = "sample")]
    limit: Option<usize>,
    /// Compute only N points of the space (of the shard, with --shard)
    /// drawn at random, one at a time as the run goes: memory does not grow
    /// with N or the space. The same --seed draws the same points, and a
    /// larger N draws them first, then more.
    #[arg(long, value_name = "N")]
    sample: Option<usize>,
    /// Seed of --sample.
    #[arg(long, value_name = "S", default_value_t = 0, requires = "sample")]
    seed: u64,
    /// When records are flushed to the disk: `record` (after each one),
    /// `exit` (at the end only), or every SECS seconds. Records always reach
    /// the OS at once and survive the process being killed; this bounds
    /// what a power cut can lose.
    #[arg(long, value_name = "record|exit|SECS", default_value = "1")]
    sync: SyncPolicy,
    /// Start the command once per worker and exchange one line per point:
    /// the point as a JSON object on its stdin, its value as one line on its
    /// stdout. The spec must say `persistent: true` too: the mode is part
    /// of the sweep's identity, which status, repair, collect and slurm
    /// read from the spec. Give it a --timeout: a black box that never
    /// answers stalls the run for ever without one.
    #[arg(long)]
    persistent: bool,
    /// Compute only shard K of N (the points whose index is K modulo N),
    /// into `<output stem>.shard-K-of-N.jsonl`.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
}

#[derive(Debug, clap::Args)]
struct SlurmArgs {
    /// Sweep spec (RON): space, command template and settings.
    spec: PathBuf,
    /// Number of shards N, one array task each (default when resubmitting:
    /// the recorded count), below the cluster's MaxJobCount. Points already
    /// done in shard files of another count are reused, not recomputed.
    #[arg(long, value_name = "N")]
    tasks: Option<usize>,
    /// Results file (default: the spec's `output`, else `<spec name>.jsonl`);
    /// shard files and the submission state file are written beside it.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Where to write the sbatch script (default: `<spec name>.sbatch`); a
    /// submission numbers its script, `<name>.<n>.sbatch`, and keeps it.
    #[arg(long)]
    script: Option<PathBuf>,
    /// Submit the script with sbatch and print the job id on stdout.
    #[arg(long)]
    submit: bool,
    /// Submit only the shards with missing or failed points (failed ones
    /// are computed again), with the options recorded at the last
    /// submission unless given again; implies --submit.
    #[arg(long)]
    resubmit: bool,
    /// Submit even though jobs of this sweep are still pending or running
    /// (their shards may then be computed twice).
    #[arg(long)]
    force: bool,
    /// Attempts a point gets across all runs before it is given up and no
    /// longer resubmitted (default: recorded, else the spec's, else 3).
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,
    #[command(flatten)]
    job: JobArgs,
}

/// sbatch options of `sweep slurm`; all are recorded in the submission state
/// file and reused by `--resubmit` unless given again.
#[derive(Debug, clap::Args)]
struct JobArgs {
    /// Run at most M tasks at once (`--array=...%M`).
    #[arg(long, value_name = "M")]
    throttle: Option<usize>,
    /// CPUs per task (default 1); each shard runs this many workers.
    #[arg(long, value_name = "C")]
    cpus_per_task: Option<usize>,
    /// Slurm partition (default: the cluster's default).
    #[arg(long)]
    partition: Option<String>,
    /// Time limit per task, in any sbatch format, e.g. 2:00:00.
    #[arg(long)]
    time: Option<String>,
    /// Account to charge (`sbatch --account`).
    #[arg(long)]
    account: Option<String>,
    /// Memory per node, e.g. 4G (`sbatch --mem`).
    #[arg(long, conflicts_with = "mem_per_cpu")]
    mem: Option<String>,
    /// Memory per CPU, e.g. 1G (`sbatch --mem-per-cpu`).
    #[arg(long)]
    mem_per_cpu: Option<String>,
    /// Quality of service (`sbatch --qos`).
    #[arg(long)]
    qos: Option<String>,
    /// Required node features (`sbatch --constraint`).
    #[arg(long)]
    constraint: Option<String>,
    /// Generic resources per task, e.g. gpu:1 (`sbatch --gres`).
    #[arg(long)]
    gres: Option<String>,
    /// Mail events, e.g. END,FAIL (`sbatch --mail-type`).
    #[arg(long)]
    mail_type: Option<String>,
    /// Mail recipient (`sbatch --mail-user`).
    #[arg(long)]
    mail_user: Option<String>,
    /// Ask each task to stop cleanly this many seconds before its time limit
    /// (SIGUSR1; default 120, 0 for never), so that what it computed is saved.
    #[arg(long, value_name = "SECS")]
    grace: Option<u64>,
    /// Seconds between the progress lines (done/total, rate, ETA) each
    /// task writes to its log (default 30).
    #[arg(long, value_name = "SECS")]
    progress_every: Option<u64>,
    /// Any other sbatch option, one word each, e.g. --sbatch=--exclusive
    /// --sbatch=--nice=10 (repeatable; replaces the recorded list).
    #[arg(long = "sbatch", value_name = "OPTION", allow_hyphen_values = true)]
    sbatch: Vec<String>,
    /// Directory for the tasks' logs, `<job name>-<job id>_<task>.out`
    /// (default: slurm-logs); requeued tasks append to theirs.
    #[arg(long)]
    log_dir: Option<PathBuf>,
}

impl JobArgs {
    fn options(self) -> JobOptions {
        JobOptions {
            throttle: self.throttle,
            cpus_per_task: self.cpus_per_task,
            partition: self.partition,
            time: self.time,
            account: self.account,
            mem: self.mem,
            mem_per_cpu: self.mem_per_cpu,
            qos: self.qos,
            constraint: self.constraint,
            gres: self.gres,
            mail_type: self.mail_type,
            mail_user: self.mail_user,
            grace_secs: self.grace,
            progress_every_secs: self.progress_every,
            sbatch_args: self.sbatch,
            log_dir: self.log_dir,
        }
    }
}

#[derive(Debug, clap::Args)]
struct CollectArgs {
    /// Sweep spec (RON) the shards were run from.
    spec: PathBuf,
    /// Number of shards N (default: found from the shard files' names).
    #[arg(long, value_name = "N")]
    tasks: Option<usize>,
    /// Results file to write (default: the spec's `output`, else
    /// `<spec name>.jsonl`); the shard files are read from beside it.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Attempts after which a failed point counts as given up (default:
    /// the recorded submission's, else the spec's, else 3).
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,
}

sweep::fail_writes_to_closed_stdout!();

fn main() -> ExitCode {
    let cli = match sweep::exit::parse_args::<Cli>("sweep") {
        Ok(cli) => cli,
        Err(code) => return code.into(),
    };
    let outcome = dispatch(cli).and_then(|()| match sweep::output::stdout_failed() {
        Some(reason) => Err(anyhow::anyhow!("cannot write to standard output: {reason}")),
        None => Ok(()),
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = sweep::ExitCode::of(&error);
            match code {
                // Outcomes, not errors: their message says what happened.
                sweep::ExitCode::Stopped(_) | sweep::ExitCode::Incomplete => eprintln!("sweep: {error:#}"),
                _ => eprintln!("sweep: error: {error:#}"),
            }
            code.into()
        }
    }
}

/// Returns a [`sweep::exit::Usage`] error (exit status 2): the command
/// line or the spec asks for something impossible.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(sweep::exit::Usage(format!($($arg)*)).into())
    };
}

/// Lets `sweep status … | head` end quietly: with SIGPIPE at its default,
/// a closed pipe ends the process instead of making `println!` panic.
/// Only for the commands that print results; `run` keeps ignoring it so a
/// closed log pipe never takes a running sweep down.
fn die_quietly_on_closed_pipes() {
    #[cfg(unix)]
    // SAFETY: signal(2) with SIG_DFL installs no handler; it is called
    // before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    if matches!(
        cli.command,
        Command::Status { .. } | Command::Export { .. } | Command::Plot { .. } | Command::Completions { .. }
    ) {
        die_quietly_on_closed_pipes();
    }
    match cli.command {
        Command::Run(args) => run(args),
        Command::Repair { results, spec } => repair(&results, spec.as_deref()),
        Command::Plot { results, output, value_key, format } => {
            let targets = plot::targets(&results, output.as_deref(), format.as_deref())?;
            let loaded = load(&results)?;
            say_left_out(&loaded, &results, "chart");
            let mut listed = Vec::new();
            let specs = loaded.header.spec_candidates(&results);
            for mut target in targets {
                target.specs.clone_from(&specs);
                for path in plot::plot_results_as(&loaded, value_key.as_deref(), &target)
                    .with_context(|| format!("cannot plot {}", results.display()))?
                {
                    // A chart written into a stream (-o /dev/stdout) is not followed by its name there.
                    if path.is_file() {
                        println!("{}", path.display());
                        listed.push(path.display().to_string());
                    }
                }
            }
            // Still a failure (the list is the answer a script reads), but
            // the charts are there: said, so that nobody takes them for lost.
            match sweep::output::stdout_failed() {
                Some(reason) => Err(anyhow::anyhow!(
                    "cannot write to standard output: {reason}; the charts were written ({}), only their list \
                     could not be printed",
                    listed.join(", ")
                )),
                None => Ok(()),
            }
        }
        Command::Status { results, max_attempts, records, json } => status(&results, max_attempts, records, json),
        Command::Slurm(args) => slurm_job(*args),
        Command::Collect(args) => collect(args),
        Command::Completions { shell } => {
            // Generated whole, then written: clap_complete panics on a failed
            // write, and a full disk must be an error (status 1), not a panic.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "sweep", &mut script);
            let mut stdout = std::io::stdout().lock();
            std::io::Write::write_all(&mut stdout, &script).and_then(|()| std::io::Write::flush(&mut stdout)).map_err(
                |e| {
                    anyhow::anyhow!(
                        "cannot write the completion script to standard output: {}",
                        sweep::output::stdout_error(&e)
                    )
                },
            )
        }
        Command::Export { results, output } => {
            let loaded = load(&results)?;
            if let Some(path) = &output {
                let specs = loaded.header.spec_candidates(&results);
                sweep::store::refuse_to_replace_results(path, "CSV export", &specs)?;
            }
            say_left_out(&loaded, &results, "CSV");
            match output {
                // Written beside and renamed: a full disk never leaves a
                // truncated or empty CSV where a good one was.
                Some(path) => sweep::store::write_atomically(&path, |out| {
                    loaded.write_csv(out).map_err(|e| std::io::Error::other(e.to_string()))
                })?,
                None => loaded.write_csv(std::io::stdout().lock()).map_err(|e| {
                    anyhow::anyhow!("cannot write the CSV to standard output: {}", sweep::output::stdout_error(&e))
                })?,
            }
            Ok(())
        }
    }
}

/// Loads a results file, printing any tolerated problems.
fn load(path: &Path) -> anyhow::Result<Results> {
    let results = Results::load(path)?;
    for warning in &results.warnings {
        eprintln!("sweep: warning: {warning}");
    }
    Ok(results)
}

/// Says how many records `export` or `plot` leaves out: those of points
/// not in the header's space, which `status` counts as `outside`.
fn say_left_out(results: &Results, path: &Path, what: &str) {
    let outside = results.outside().len();
    if outside > 0 {
        let records = if outside == 1 { "record" } else { "records" };
        eprintln!(
            "sweep: {outside} {records} of points not in this space left out of the {what} (`sweep status {}` \
             counts them as outside; they stay in the file, and a run whose space includes their points again \
             reuses them)",
            shell_path(path)
        );
    }
}

/// How `run` evaluates a point: through a persistent black box or a fresh one.
type Evaluate = dyn Fn(&sweep::Point) -> Option<sweep::Evaluation> + Send + Sync;

fn run(args: RunArgs) -> anyhow::Result<()> {
    let spec = Spec::load(&args.spec)?;
    let workers = match args.workers.or(spec.workers) {
        Some(0) => usage!("--workers must be at least 1"),
        Some(n) => n,
        None => RunOptions::default().workers,
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if workers > sweep::runner::max_workers() {
        usage!(
            "{} is more than this machine can use: the limit is {} (64 per core, {}); black boxes that wait on \
             I/O rarely gain from more than a few per core",
            counted(workers, "worker"),
            sweep::runner::max_workers(),
            counted(cores, "core")
        );
    }
    if workers > cores {
        eprintln!(
            "sweep: warning: {} on {}; CPU-bound commands will only slow each other down",
            counted(workers, "worker"),
            counted(cores, "core")
        );
    }
    let chunk_size = match args.chunk_size.or(spec.chunk_size) {
        Some(0) => usage!("--chunk-size must be at least 1"),
        other => other.unwrap_or(1),
    };
    // Every duration flag is read this one way: a finite number of seconds
    // (`inf` would be a wait that never ends: a retry or a stop that hangs
    // the run), positive where zero means nothing; a huge finite one means
    // practically never, as documented for each.
    let seconds = |value: f64, flag: &str, positive: bool| -> anyhow::Result<Duration> {
        if !value.is_finite() || value < 0.0 || (positive && value == 0.0) {
            let sign = if positive { "positive" } else { "non-negative" };
            usage!("{flag} must be a finite, {sign} number of seconds, not {value}");
        }
        Ok(sweep::store::practically_never_past(value))
    };
    let timeout = args.timeout.or(spec.timeout_secs).map(|t| seconds(t, "--timeout", true)).transpose()?;
    let grace = seconds(args.grace, "--grace", false)?;
    let retry_delay = seconds(args.retry_delay, "--retry-delay", false)?;
    let progress_every = seconds(args.progress_every, "--progress-every", false)?.max(Duration::from_millis(100));
    let max_attempts = match args.max_attempts.or(spec.max_attempts) {
        Some(0) => usage!("--max-attempts must be at least 1"),
        other => other.unwrap_or(sweep::store::DEFAULT_MAX_ATTEMPTS),
    };
    let capture_limit = match args.max_output.or(spec.max_output) {
        Some(0) => usage!("--max-output must be at least 1 byte"),
        other => other.unwrap_or(sweep::command::DEFAULT_CAPTURE_LIMIT),
    };
    let mut output = args.output.clone().unwrap_or_else(|| spec.default_output(&args.spec));
    let template = spec.template()?;
    template.check_program()?;
    let header = Header::for_spec(&spec, &args.spec);
    let mut selection = Selection::All;
    let mut scope = String::new();
    if let Some(shard) = args.shard {
        // The name given must be a file's even though a shard's is derived
        // from it (`x.jsonl/` would lose its slash on the way).
        sweep::store::check_results_names(&output)?;
        output = shard.results_path(&output);
        selection = Selection::Stride { offset: shard.index(), step: shard.count() };
        scope = format!(" (shard {shard})");
    }
    // Before anything is computed: a name whose lock or side file cannot
    // be created is the name's fault.
    sweep::store::check_results_names(&output)?;
    let (offset, step) = match selection {
        Selection::Stride { offset, step } => (offset, step),
        _ => (0, 1),
    };
    // What is said is what runs: a --limit or --sample beyond the space
    // (or shard) takes all of it.
    let fewer = |count: usize, flag: &str| match selection.count(header.space.len()) {
        there if there < count => (there, format!(": all there are, fewer than {flag} {count}")),
        _ => (count, String::new()),
    };
    if let Some(count) = args.limit {
        let (taken, note) = fewer(count, "--limit");
        scope.push_str(&format!(" (the first {}{note})", counted(taken, "point")));
        selection = Selection::Prefix { offset, step, count };
    } else if let Some(count) = args.sample {
        let (drawn, note) = fewer(count, "--sample");
        scope.push_str(&format!(" ({} drawn with seed {}{note})", counted(drawn, "point"), args.seed));
        selection = selection.sample(count, args.seed);
    }
    let stop = Stop::on_signals().context("installing the SIGINT/SIGTERM/SIGHUP/SIGUSR1 handlers")?;
    // Descendants of black boxes that left their process group (setsid,
    // daemons) are adopted, and killed when this function returns.
    #[cfg(target_os = "linux")]
    let _orphans = sweep::command::Orphans::adopt();
    let options = RunOptions {
        workers,
        chunk_size: Some(chunk_size),
        progress: true,
        bar: !args.no_progress,
        progress_every,
        retry_failed: args.retry_failed,
        max_attempts,
        retries: args.retries.or(spec.retries).unwrap_or(0),
        retry_delay,
        selection,
        sync: args.sync,
        stop: stop.clone(),
        grace,
    };
    eprintln!("sweep: {}{scope} on {} → {}", spec.space, counted(workers, "worker"), output.display());
    let command_options = CommandOptions { timeout, capture_limit, cancel: Some(stop.cancelled()) };
    let persistent = spec.persistent;
    if args.persistent && template.has_placeholders() {
        usage!("{}: {}", args.spec.display(), sweep::spec::PERSISTENT_PLACEHOLDERS);
    }
    // One-shot and persistent runs of a command compute different things,
    // so the mode is part of the sweep's identity; `status`, `repair`,
    // `collect` and `slurm` know it only from the spec, which must then
    // say it: the flag may only confirm it.
    if args.persistent && !spec.persistent {
        usage!(
            "--persistent: {} does not say `persistent: true`; write it in the spec instead: whether the command \
             runs persistent is part of the sweep's identity (its records are another sweep's than one-shot \
             ones), which `status`, `repair`, `collect` and `slurm` read from the spec",
            args.spec.display()
        );
    }
    // Repeated trials of one command (an axis `rep`) are a use of this,
    // a forgotten placeholder the likelier one.
    if !persistent && !template.has_placeholders() {
        eprintln!(
            "sweep: warning: the command names no axis (no {{placeholder}}), so every point runs the same \
             command; fine for repeated trials, else name an axis in it, e.g. {{{}}}",
            spec.space.names().first().map_or("x", String::as_str)
        );
    }
    // A one-shot command ends, and its end is its answer; a persistent one
    // is only waited on, with nothing but a time limit to end the wait.
    if persistent && timeout.is_none() {
        eprintln!(
            "sweep: warning: no time limit: a persistent black box that never answers a point (or leaves its \
             reply unflushed) stalls the run for ever; set `timeout_secs` in the spec, or --timeout SECS"
        );
    }
    // Ended below, after the run, whatever its outcome: no black box
    // outlives it.
    let black_boxes = Arc::new(Persistent::new(spec.command.clone(), command_options.clone()));
    let evaluate: Box<Evaluate> = if persistent {
        let black_boxes = Arc::clone(&black_boxes);
        Box::new(move |point: &sweep::Point| black_boxes.evaluate(point))
    } else {
        Box::new(move |point: &sweep::Point| execute(&template.render(point), &command_options))
    };
    // Opened here rather than through `run_evaluations_to_file` so that what
    // reading the file found (a torn line, a reused space) is said up front.
    let (mut writer, existing) =
        sweep::ResultsWriter::open_with(&output, &header, options.sync).map_err(|error| match error {
            // `run` is the subcommand whose --output picks the file it locks.
            sweep::store::StoreError::Locked { path, holder, .. } => {
                sweep::store::StoreError::Locked { path, holder, also: ", or choose another --output" }
            }
            other => other,
        })?;
    for warning in &existing.warnings {
        eprintln!("sweep: warning: {warning}");
    }
    let resume = existing.resume(options.retry_failed, max_attempts);
    let summary = sweep::run_evaluations(&header.space, evaluate, &resume, &options, |record| {
        writer.append(&record).map_err(Into::into)
    });
    black_boxes.shutdown();
    // Flush what was written even when the run failed part-way.
    let closed = writer.close();
    let summary = summary?;
    closed?;
    // A failed point skipped is no point done: each kind is counted apart.
    let mut skipped = format!("{} already done", summary.skipped - summary.skipped_given_up - summary.skipped_failed);
    if summary.skipped_failed > 0 {
        skipped.push_str(&format!(", {} failed before and not retried", summary.skipped_failed));
    }
    if summary.skipped_given_up > 0 {
        skipped.push_str(&format!(", {} given up before", summary.skipped_given_up));
    }
    eprintln!(
        "sweep: {} computed ({} failed{}), {skipped}, in {:.2} s",
        summary.computed,
        summary.failed,
        if summary.attempts > summary.computed {
            format!(", {} in all", counted(summary.attempts, "attempt"))
        } else {
            String::new()
        },
        summary.elapsed.as_secs_f64()
    );
    if summary.stopped {
        return Err(sweep::exit::Stopped {
            message: format!(
                "stopped by {}: {} done in this run, {} abandoned in flight; every record is flushed to {}. Run \
                 the same command again to resume",
                stop.reason(),
                counted(summary.computed, "point"),
                summary.interrupted,
                output.display()
            ),
            signal: sweep::signals::last_number().unwrap_or(0),
        }
        .into());
    }
    let results = sweep::Results::load(&output)?;
    let counts = results.status_with(max_attempts);
    let selected = options.selection.membership(header.space.len());
    let failed_here = results.latest().iter().filter(|r| !r.is_ok() && selected(r.index)).count();
    if counts.given_up > 0 {
        eprintln!(
            "sweep: {} failed {} and {} given up; raise --max-attempts to try them again",
            counted(counts.given_up, "point"),
            counted(max_attempts, "time"),
            if counts.given_up == 1 { "is" } else { "are" }
        );
    }
    if counts.failed > counts.given_up {
        eprintln!(
            "sweep: see the failures with `sweep status {}`; rerun with --retry-failed to recompute them",
            shell_path(&output)
        );
    }
    if failed_here > 0 {
        let which = match (failed_here, summary.selected) {
            (_, 1) => "the 1 point of this run has no value (it failed)".to_owned(),
            (1, all) => format!("1 of the {all} points of this run has no value (it failed)"),
            (failed, all) => format!("{failed} of the {all} points of this run have no value (they failed)"),
        };
        return Err(
            sweep::exit::Incomplete(format!("{which}; exit status {}", sweep::ExitCode::Incomplete.status())).into()
        );
    }
    Ok(())
}

/// The attempts a point gets before it is given up, as `run` decides it:
/// `given`, else the `max_attempts` of the spec the file at `path` was
/// written from (when it is still there and still that sweep's, see
/// [`spec_of`]), else the default; with where it came from, for messages.
fn max_attempts_of(results: &Results, path: &Path, given: Option<u32>) -> anyhow::Result<(u32, String)> {
    if let Some(given) = given {
        if given == 0 {
            usage!("--max-attempts must be at least 1");
        }
        return Ok((given, "--max-attempts".to_owned()));
    }
    let default = sweep::store::DEFAULT_MAX_ATTEMPTS;
    Ok(match spec_of(results, path) {
        SpecOf::Found(spec, spec_path) => match spec.max_attempts {
            Some(cap) => (cap, format!("max_attempts of {}", spec_path.display())),
            None => (default, "the default".to_owned()),
        },
        SpecOf::NotThisSweep(spec_path) => (
            default,
            format!(
                "the default: {} is not this sweep's spec now (its space, command or `persistent` differs from \
                 the file's header), so its settings are not used",
                spec_path.display()
            ),
        ),
        SpecOf::Missing => (default, "the default".to_owned()),
    })
}

/// The spec a results file was written from, as [`spec_of`] finds it.
enum SpecOf {
    /// Found, with the sweep's fingerprint.
    Found(Box<Spec>, PathBuf),
    /// A spec is there but describes another sweep (edited since, or
    /// another study's): its settings are not this file's.
    NotThisSweep(PathBuf),
    /// None to be found.
    Missing,
}

/// Finds the spec the results file at `path` was written from: the
/// header's `spec_path` (as `run` was given it) taken from the results
/// file's directory, else a spec of that name beside it, else the path
/// taken from the current directory. A spec counts only when it gives the
/// file's sweep fingerprint (same space, same command).
fn spec_of(results: &Results, path: &Path) -> SpecOf {
    let header = &results.header;
    // From the results file's directory first, then by name beside it:
    // another study's spec of the same sweep in the directory `status` runs
    // in may set another `max_attempts`.
    let mut other = None;
    for candidate in header.spec_candidates(path) {
        // A spec read from a stream (`sweep run /dev/stdin`) is gone: reading
        // that path again would wait on this command's own input.
        if !std::fs::metadata(&candidate).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(spec) = Spec::load(&candidate) else { continue };
        if Header::for_spec(&spec, &candidate).fingerprint == header.fingerprint {
            return SpecOf::Found(Box::new(spec), candidate);
        }
        other.get_or_insert(candidate);
    }
    other.map_or(SpecOf::Missing, SpecOf::NotThisSweep)
}

fn status(path: &Path, max_attempts: Option<u32>, all_records: bool, json: bool) -> anyhow::Result<()> {
    let results = if json { Results::load(path)? } else { load(path)? };
    let header = &results.header;
    let (max_attempts, cap_source) = max_attempts_of(&results, path, max_attempts)?;
    let counts = results.status_with(max_attempts);
    let failures = results.failures(max_attempts);
    if json {
        let failures: Vec<serde_json::Value> = failures
            .iter()
            .map(|failure| {
                let record = failure.record;
                serde_json::json!({
                    "index": record.index,
                    "id": record.id,
                    "point": record.point,
                    "error": record.outcome.as_ref().err(),
                    "attempts": failure.attempts,
                    "given_up": failure.given_up,
                    "provenance": record.provenance,
                })
            })
            .collect();
        let report = serde_json::json!({
            "results": path,
            "spec": header.spec_path,
            "fingerprint": header.fingerprint,
            "space": header.space.to_string(),
            "max_attempts": max_attempts,
            "max_attempts_from": cap_source,
            "total": counts.total,
            "done": counts.done,
            "failed": counts.failed,
            "given_up": counts.given_up,
            "missing": counts.missing,
            "outside": counts.outside,
            "untagged": results.untagged,
            "warnings": results.warnings,
            "failures": failures,
        });
        println!("{report}");
        return Ok(());
    }
    println!("results:     {}", path.display());
    if let Some(spec) = &header.spec_path {
        println!("spec:        {}", spec.display());
    }
    println!("fingerprint: {}", header.fingerprint);
    println!("space:       {}", header.space);
    println!("done:        {}", counts.done);
    println!(
        "failed:      {} ({} given up: failed at least {max_attempts} times, {cap_source})",
        counts.failed, counts.given_up
    );
    println!("missing:     {}", counts.missing);
    if counts.outside > 0 {
        println!(
            "outside:     {} of points not in this space (not counted above; this sweep's command computed \
             them, so they stay, and a run whose space includes their points again reuses them)",
            counted(counts.outside, "record"),
        );
    }
    if results.untagged > 0 {
        println!(
            "untagged:    {} written before records carried their sweep's identity (file format {}); taken \
             as this sweep's, as the file's header says",
            counted(results.untagged, "record"),
            header.format
        );
    }
    const SHOWN: usize = 5;
    for failure in failures.iter().take(SHOWN) {
        let record = failure.record;
        if let Err(message) = &record.outcome {
            let state = if failure.given_up { ", given up" } else { "" };
            println!(
                "  failed {} (attempt {}{state}{}): {message}",
                record.point,
                failure.attempts,
                provenance(record)
            );
        }
    }
    if failures.len() > SHOWN {
        println!("  … and {} more", failures.len() - SHOWN);
    }
    if all_records {
        println!("index\tattempt\thost\tstarted\tseconds\texit\tslurm\tpoint\toutcome");
        for record in &results.records {
            let p = record.provenance.as_ref();
            let exit = p.and_then(|p| p.exit).map_or(String::new(), |e| match (e.code, e.signal) {
                (Some(code), _) => code.to_string(),
                (None, Some(signal)) => format!("signal {signal}"),
                _ => String::new(),
            });
            let slurm = p.and_then(|p| p.slurm_job.clone()).map_or(String::new(), |job| {
                p.and_then(|p| p.slurm_task.as_ref()).map_or(job.clone(), |task| format!("{job}_{task}"))
            });
            let outcome = match &record.outcome {
                Ok(value) => value.to_string(),
                Err(error) => format!("failed: {}", error.replace(['\t', '\n'], " ")),
            };
            println!(
                "{}\t{}\t{}\t{}\t{:.3}\t{exit}\t{slurm}\t{}\t{outcome}",
                record.index,
                record.attempt,
                p.map_or("", |p| p.host.as_str()),
                p.map_or("", |p| p.started.as_str()),
                record.duration_ms / 1e3,
                record.point
            );
        }
    }
    Ok(())
}

/// `, on node7 at 2026-11-25T13:50:01.123Z, exit 3, Slurm 1234_5` for status lines.
fn provenance(record: &sweep::Record) -> String {
    let Some(p) = &record.provenance else { return String::new() };
    let mut text = format!(", on {} at {}", p.host, p.started);
    if let Some(exit) = p.exit {
        match (exit.code, exit.signal) {
            (Some(code), _) => text.push_str(&format!(", exit {code}")),
            (None, Some(signal)) => text.push_str(&format!(", killed by signal {signal}")),
            _ => {}
        }
    }
    if let Some(job) = &p.slurm_job {
        text.push_str(&format!(", Slurm job {job}"));
        if let Some(task) = &p.slurm_task {
            text.push_str(&format!("_{task}"));
        }
    }
    text
}

/// `sweep repair`: moves bad lines and foreign records aside.
fn repair(path: &Path, spec: Option<&Path>) -> anyhow::Result<()> {
    sweep::store::check_results_names(path)?;
    let header = match spec {
        Some(spec_path) => Some(Header::for_spec(&Spec::load(spec_path)?, spec_path)),
        None => None,
    };
    let report = sweep::store::repair(path, header.as_ref().zip(spec))?;
    if report.was_clean() {
        let all = if report.kept == 1 { "its one record is" } else { "all its records are" };
        eprintln!("sweep: {} needs no repair: {all} valid ({})", path.display(), counted(report.kept, "record"));
        return Ok(());
    }
    for problem in report.problems.iter().take(10) {
        eprintln!("sweep: {}:{problem}", path.display());
    }
    if report.problems.len() > 10 {
        eprintln!("sweep: … and {} more", report.problems.len() - 10);
    }
    let foreign = match report.foreign {
        0 => String::new(),
        n => format!(", {} of another sweep", counted(n, "record")),
    };
    let kept_outside = match report.kept_outside {
        0 => String::new(),
        n => format!(" ({n} of points outside the space, which this sweep's command computed)"),
    };
    let outside = match report.outside {
        0 => String::new(),
        n => format!(" and {} of points outside the space without a sweep identity", counted(n, "record")),
    };
    eprintln!(
        "sweep: repaired {}: kept {}{kept_outside}; moved {}{foreign}{outside} to {}",
        path.display(),
        counted(report.kept, "record"),
        counted(report.unparsable, "unparsable line"),
        report.side_file.display()
    );
    Ok(())
}

/// Why another process cannot read the spec at `path` as this one does,
/// if it cannot: it is no regular file (a pipe, a FIFO: read once, by
/// this process), or it is reached through a name of this process's own
/// descriptors (`/dev/stdin`, `/dev/fd/N`, `/proc/self/fd/N`, `<(…)`),
/// which name something else in every other process, even when they now
/// lead to a file (`< spec.ron`).
fn read_through_this_process(path: &Path) -> Option<&'static str> {
    let mut current = path.to_owned();
    // As many hops as the kernel follows before ELOOP.
    for _ in 0..40 {
        let parent = match current.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let here = std::fs::canonicalize(parent).ok()?.join(current.file_name()?);
        if here.starts_with("/dev") || here.starts_with("/proc") {
            return Some("read through this process's own input or descriptors (/dev/stdin, /dev/fd/N, /proc/…)");
        }
        match std::fs::read_link(&here) {
            Ok(target) => current = here.parent().map_or(target.clone(), |parent| parent.join(target)),
            Err(_) => break,
        }
    }
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => Some("no regular file (a pipe or FIFO is read once, by this process)"),
        _ => None,
    }
}

/// `sweep slurm`: writes the array script(s), submitting them if asked, and
/// records each submission in the sweep's state file.
fn slurm_job(args: SlurmArgs) -> anyhow::Result<()> {
    if let Some(what) = read_through_this_process(&args.spec) {
        usage!(
            "{} is {what}: the array tasks run `sweep run {}` on the compute nodes, where it names nothing \
             that holds this spec. Save the spec to a file and give its path",
            args.spec.display(),
            shell_path(&args.spec)
        );
    }
    let spec = Spec::load(&args.spec)?;
    // The tasks run from this directory, so a program given as a path is
    // checked exactly; a bare name is looked up on the nodes' PATH, which
    // may differ from this machine's: only a warning.
    match spec.template()?.check_program() {
        Err(sweep::command::TemplateError::ProgramNotFound { program, problem }) if !program.contains('/') => {
            eprintln!("sweep: warning: program {program:?} {problem} on this machine; the tasks will fail unless the compute nodes have it")
        }
        checked => checked?,
    }
    let header = Header::for_spec(&spec, &args.spec);
    let output = args.output.clone().unwrap_or_else(|| spec.default_output(&args.spec));
    let state_path = SubmissionLog::path_for(&output);
    // The state file's names are shorter than those derived from the
    // results file: checked with them.
    sweep::store::check_results_names(&output)?;
    let submitting = args.submit || args.resubmit;
    // One submitter at a time: two could both find the queue empty and
    // both submit.
    let _submitting = if submitting {
        match sweep::store::ResultsLock::acquire(&state_path) {
            Ok(lock) => Some(lock),
            Err(sweep::store::StoreError::Locked { holder, .. }) => {
                bail!("another `sweep slurm` ({holder}) is submitting this sweep right now; wait for it to finish")
            }
            Err(err) => return Err(err.into()),
        }
    } else {
        None
    };
    let mut log = SubmissionLog::load(&state_path, &header)?.unwrap_or_else(|| SubmissionLog::new(&header));
    let cluster = Cluster::from_env();

    // One sweep, one set of jobs: two jobs on one shard compute its points
    // twice (and fight over its file).
    if submitting {
        let active = cluster.active_tasks(&log.job_ids())?;
        if !active.is_empty() {
            let listed: Vec<String> = active.iter().take(6).map(|t| format!("{} {}", t.id, t.state)).collect();
            let more = if active.len() > 6 { format!(" and {} more", active.len() - 6) } else { String::new() };
            if !args.force {
                bail!(
                    "jobs of this sweep are still in the queue ({}{more}, recorded in {}); wait for them to end, \
                     cancel them with scancel, or pass --force to submit anyway",
                    listed.join(", "),
                    state_path.display()
                );
            }
            eprintln!("sweep: warning: --force: submitting while {}{more} still queued", listed.join(", "));
        }
    }

    // Options: what was recorded, overridden by what is given now.
    let given = args.job.options();
    let recorded = if args.resubmit { log.latest().cloned() } else { None };
    if args.resubmit && recorded.is_none() {
        eprintln!(
            "sweep: warning: no submission recorded in {}; resubmitting with the options given here only",
            state_path.display()
        );
    }
    let options = match &recorded {
        Some(submission) => submission.options.overridden_by(&given),
        None => given,
    };
    options.validate()?;
    if let (None, Some(time)) = (options.grace_secs, &options.time) {
        if options.grace() != slurm::DEFAULT_GRACE_SECS {
            eprintln!(
                "sweep: with --time {time}, tasks are asked to stop {} s before their limit (--grace to choose)",
                options.grace()
            );
        }
    }
    if options.throttle == Some(0) {
        usage!("--throttle must be at least 1");
    }
    let max_attempts = match args.max_attempts.or(recorded.as_ref().and_then(|s| s.max_attempts)).or(spec.max_attempts)
    {
        Some(0) => usage!("--max-attempts must be at least 1"),
        other => other.unwrap_or(sweep::store::DEFAULT_MAX_ATTEMPTS),
    };
    let mut count = match (args.tasks, &recorded) {
        (Some(0), _) => usage!("--tasks must be at least 1"),
        (Some(count), _) => count,
        (None, Some(submission)) => submission.shard_count,
        (None, None) => usage!("--tasks N is required (no submission of this sweep is recorded)"),
    };
    let total = header.space.len();
    if count > total {
        eprintln!(
            "sweep: the sweep has {total} points: --tasks {count} reduced to {total} (more tasks would have \
             nothing to compute)"
        );
        count = total.max(1);
    }
    // The widest shard's name: its index has the most digits.
    sweep::store::check_results_names(&Shard::new(count - 1, count)?.results_path(&output))?;
    let (limits, assumed) = match cluster.limits() {
        Ok(limits) => (limits, ""),
        Err(err) if !submitting => {
            let Limits { max_array_size, max_job_count } = Limits::DEFAULT;
            eprintln!(
                "sweep: warning: assuming Slurm's defaults MaxArraySize {max_array_size} and MaxJobCount \
                 {max_job_count} ({err})"
            );
            (Limits::DEFAULT, ", Slurm's default")
        }
        Err(err) => return Err(err.into()),
    };
    // A resubmit submits only the shards with points left: those are the
    // array tasks that count against MaxJobCount, not the shard count (a
    // sweep of 20000 shards run by hand may have 3 left). Read-only, so it
    // comes before the seeding below: nothing is written before a refusal.
    // (Seeding copies records between shard files; it changes no point's
    // record, so the shards to retry are the same after it.)
    let to_retry = if args.resubmit {
        let collection = slurm::collect(&output, count, &header)?;
        let given_up = collection.gaps.iter().filter(|gap| gap.is_given_up(max_attempts)).count();
        if given_up > 0 {
            eprintln!(
                "sweep: {given_up} points failed {max_attempts} times and are given up, not resubmitted \
                 (see them with `sweep collect {}`; raise --max-attempts to try them again)",
                shell_path(&args.spec)
            );
        }
        let to_retry = collection.shards_to_retry(max_attempts);
        if to_retry.is_empty() {
            eprintln!("sweep: no shard of {count} has points left to compute; nothing to resubmit");
            return Ok(());
        }
        Some(to_retry)
    } else {
        None
    };
    let tasks = to_retry.as_ref().map_or(count, slurm::Shards::len);
    // Refused before anything is written: sbatch would fail (or sleep and
    // retry) partway through the arrays, and a count this large could not
    // even be listed.
    if tasks > limits.max_tasks() {
        let what = match &to_retry {
            Some(_) => format!("--resubmit: {tasks} of the {count} shards have points left"),
            None => format!("--tasks {count}"),
        };
        // MaxJobCount 0 or 1 holds no array task at all: "use --tasks 0 or
        // fewer" named a count that is itself refused.
        if limits.max_tasks() == 0 {
            usage!(
                "{what}: Slurm cannot hold any array task: slurmctld holds fewer than MaxJobCount ({}{assumed}) \
                 jobs at once, each array task counting as one",
                limits.max_job_count
            );
        }
        usage!(
            "{what}: Slurm cannot hold that many array tasks: slurmctld holds fewer than MaxJobCount \
             ({}{assumed}) jobs at once, each array task counting as one; use --tasks {} or fewer",
            limits.max_job_count,
            limits.max_tasks()
        );
    }

    // Points done in shard files of any count (or in the merged results) are
    // copied into this count's shard files: no task computes them again. Only
    // for a submission: a preview writes nothing but its script, so that
    // trying counts leaves no shard files of them behind (which `collect`
    // could not choose between).
    if submitting {
        let seeded = slurm::seed_shards(&output, count, &header)?;
        if seeded.values > 0 {
            eprintln!("sweep: {} points already computed are reused in the {count} shard files", seeded.values);
        }
        if seeded.failures > 0 {
            eprintln!("sweep: {} failed points are carried over with their attempt counts", seeded.failures);
        }
    }
    let shards: Vec<usize> = match to_retry {
        // Bounded: fewer than MaxJobCount here.
        Some(to_retry) => to_retry.iter().map(|shard| shard.index()).collect(),
        None => (0..count).collect(),
    };

    let max_array_size = limits.max_array_size;
    let arrays = slurm::split_arrays(&shards, max_array_size, options.throttle)?;
    if arrays.len() > 1 {
        eprintln!(
            "sweep: {count} shards exceed the cluster's MaxArraySize {max_array_size}: {} array jobs{}",
            arrays.len(),
            if options.throttle.is_some() { ", each starting after the previous one ends" } else { "" }
        );
    }

    // Tasks start in another process, maybe on another machine: every path
    // in the script is absolute, and the log directory must exist when the
    // job is submitted (sbatch does not create it, and a task cannot start
    // without it); a preview tells whoever submits its script to create it.
    let cwd = std::env::current_dir().context("finding the current directory")?;
    let log_dir = cwd.join(options.log_dir());
    if submitting {
        std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    }
    // In this directory, named as the results file is (`study.v1.ron` →
    // `study.v1.sbatch`), so specs differing past a dot get a script each.
    let base_script = args.script.clone().unwrap_or_else(|| {
        let name = args.spec.file_name().map_or_else(|| PathBuf::from("sweep"), PathBuf::from);
        sweep::spec::renamed_for(&name, "ron", "sbatch")
    });
    // A submission's scripts are kept: number them, never overwriting one.
    let mut number = log.submissions.len() + 1;
    while submitting && script_path(&base_script, Some(number), 1).exists() {
        number += 1;
    }
    // Failed points are tried again, up to --max-attempts in all: a task
    // killed by Slurm fails the points it had in flight.
    let run_args = vec!["--retry-failed".to_string(), "--max-attempts".to_string(), max_attempts.to_string()];
    let program = std::env::current_exe().context("finding the sweep executable")?;
    let mut submission = slurm::Submission {
        submitted_at: slurm::utc_now(),
        shard_count: count,
        resubmit: args.resubmit,
        options: options.clone(),
        max_attempts: Some(max_attempts),
        jobs: Vec::new(),
        sweep: Some(header.fingerprint),
    };
    // Scripts are written over older scripts, never over results.
    for part in 1..=arrays.len() {
        sweep::store::refuse_to_replace_results(
            &script_path(&base_script, submitting.then_some(number), part),
            "sbatch script",
            std::slice::from_ref(&args.spec),
        )?;
    }
    let mut previous = None;
    for (part, (first_shard, array)) in arrays.into_iter().enumerate() {
        let job = ArrayJob {
            job_name: slurm::job_name(&args.spec),
            array,
            first_shard,
            shard_count: count,
            options: options.clone(),
            log_dir: log_dir.clone(),
            working_dir: cwd.clone(),
            sweep_program: program.clone(),
            spec_path: cwd.join(&args.spec),
            output: args.output.clone(),
            run_args: run_args.clone(),
        };
        let path = script_path(&base_script, submitting.then_some(number), part + 1);
        std::fs::write(&path, job.render()?).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("sweep: wrote {} (array {} of {count} shards)", path.display(), job.array);
        if !submitting {
            continue;
        }
        let after = if options.throttle.is_some() { previous } else { None };
        let id = match cluster.submit(&path, after) {
            Ok(id) => id,
            Err(err) => {
                // Record what did go in, so a resubmit knows of those jobs.
                if !submission.jobs.is_empty() {
                    log.submissions.push(submission);
                    log.save(&state_path)?;
                }
                return Err(err.into());
            }
        };
        previous = Some(id);
        let shards = job.array.tasks().iter().map(|task| task + first_shard).collect();
        submission.jobs.push(SubmittedArray {
            job: id,
            array: job.array.to_string(),
            first_shard,
            shards,
            script: path,
        });
        println!("{id}");
    }
    if !submitting {
        eprintln!(
            "sweep: a preview: nothing else was written. Submit with --submit, which first copies the points \
             already computed into the {count} shard files and creates {}; submitted by hand, the script needs \
             `mkdir -p {}` first, and its tasks compute again any point done only in other files",
            log_dir.display(),
            log_dir.display()
        );
    } else {
        let ids: Vec<String> = submission.jobs.iter().map(|job| job.job.to_string()).collect();
        log.submissions.push(submission);
        log.save(&state_path)?;
        eprintln!(
            "sweep: submitted job {}; logs in {}; recorded in {}; when it is done: sweep collect {}",
            ids.join(", "),
            log_dir.display(),
            state_path.display(),
            shell_path(&args.spec)
        );
    }
    Ok(())
}

/// The script of submission `number` (none: not submitted), array `part`
/// (from 1): `s.sbatch`, `s.3.sbatch`, `s.3.part2.sbatch`.
fn script_path(base: &Path, number: Option<usize>, part: usize) -> PathBuf {
    let extension = base.extension().map(|ext| ext.to_string_lossy().into_owned());
    let mut name = base.with_extension("").into_os_string();
    if let Some(number) = number {
        name.push(format!(".{number}"));
    }
    if part > 1 {
        name.push(format!(".part{part}"));
    }
    if let Some(extension) = extension {
        name.push(format!(".{extension}"));
    }
    PathBuf::from(name)
}

/// `sweep collect`: merges the shard files into the results file and
/// reports the gaps, with what Slurm says of their tasks.
fn collect(args: CollectArgs) -> anyhow::Result<()> {
    let spec = Spec::load(&args.spec)?;
    let output = args.output.unwrap_or_else(|| spec.default_output(&args.spec));
    sweep::store::check_results_names(&output)?;
    let header = Header::for_spec(&spec, &args.spec);
    let state_path = SubmissionLog::path_for(&output);
    // Merging needs no record of the submissions; only the report on the
    // tasks does, so a damaged state file is a warning here.
    let log = SubmissionLog::load(&state_path, &header).unwrap_or_else(|err| {
        eprintln!("sweep: warning: {err}");
        None
    });
    // Checked before anything is merged: a refused command writes nothing.
    let max_attempts = match args.max_attempts.or(log.as_ref().and_then(|l| l.latest()?.max_attempts)) {
        Some(0) => usage!("--max-attempts must be at least 1"),
        other => other.or(spec.max_attempts).unwrap_or(sweep::store::DEFAULT_MAX_ATTEMPTS),
    };
    let count = match (args.tasks, log.as_ref().and_then(SubmissionLog::latest)) {
        (Some(0), _) => usage!("--tasks must be at least 1"),
        (Some(count), _) => count,
        (None, Some(submission)) => submission.shard_count,
        (None, None) => match slurm::shard_counts_on_disk(&output)
            .with_context(|| format!("looking for shard files of {}", output.display()))?[..]
        {
            [] => usage!(
                "no shard files of {} (`*.shard-K-of-N.jsonl` beside it) found; run the shards first, \
                 e.g. with `sweep slurm {} --tasks N --submit`",
                output.display(),
                shell_path(&args.spec)
            ),
            [count] => count,
            ref counts => usage!(
                "shard files for several shard counts ({}) lie beside {}; pick one with --tasks",
                counts.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                output.display()
            ),
        },
    };
    // No run may append to the results file while it is merged and
    // replaced, nor to a shard file while it is read; the locks go as soon
    // as the merge is written, before Slurm is asked anything: tasks of a
    // job still queued start meanwhile, and would find their files locked.
    let collection = {
        let _lock = sweep::store::ResultsLock::acquire(&output)?;
        let _shard_locks = slurm::lock_shards(&output)?;
        let collection = slurm::collect(&output, count, &header)?;
        warn_of_collection(&collection, &output);
        slurm::write_merged(&output, &header, &collection)?;
        collection
    };
    let outside = collection.outside().len();
    if outside > 0 {
        eprintln!("sweep: {outside} records of points no longer in the space are kept in {}, unused", output.display());
    }
    for gap in &collection.gaps {
        if gap.is_given_up(max_attempts) {
            println!("{gap} (given up after {} attempts)", gap.attempts);
        } else {
            println!("{gap}");
        }
    }
    let unlisted = collection.missing_unlisted();
    if unlisted > 0 {
        eprintln!(
            "sweep: {unlisted} more points without a record are not listed (the first {} are)",
            collection.missing - unlisted
        );
    }
    let given_up = collection.gaps.iter().filter(|gap| gap.is_given_up(max_attempts)).count();
    let failed = collection.failed();
    let total = header.space.len();
    eprintln!(
        "sweep: merged {} into {}: {} done, {failed} failed, {} missing of {total} points",
        sweep::output::counted(count, "shard"),
        output.display(),
        collection.records.len() - failed,
        collection.missing,
    );
    if collection.is_complete() {
        return Ok(());
    }
    let incomplete = collection.incomplete_shards();
    let queued = report_task_states(&log, &state_path, &incomplete, &collection.records);
    let to_retry = collection.shards_to_retry(max_attempts);
    let advice = if queued {
        // A resubmit now would be refused, and compute what they will.
        "some of their tasks are still in Slurm's queue: run `sweep collect` again once they have ended".to_owned()
    } else if to_retry.is_empty() {
        format!(
            "all {given_up} failed {} and are given up; raise --max-attempts to try them again",
            sweep::output::counted(max_attempts, "time")
        )
    } else if log.as_ref().and_then(SubmissionLog::latest).is_none() {
        // Shards run by hand: no submission says how many tasks there were.
        format!("rerun them with `sweep slurm {} --tasks {count} --resubmit`", shell_path(&args.spec))
    } else {
        format!("rerun them with `sweep slurm {} --resubmit`", shell_path(&args.spec))
    };
    let given_up_note = if given_up > 0 { format!(", {given_up} given up") } else { String::new() };
    Err(sweep::exit::Incomplete(format!(
        "{} of {total} points have no value (shards {incomplete}{given_up_note}); {advice}",
        failed + collection.missing,
    ))
    .into())
}

/// Prints the problems `collect` tolerated in the files beside `output`,
/// and the shards without a file.
fn warn_of_collection(collection: &slurm::Collection, output: &Path) {
    for warning in &collection.warnings {
        eprintln!("sweep: warning: {warning}");
    }
    let absent = &collection.absent_files;
    for shard in absent.iter().take(slurm::MISSING_LISTED) {
        eprintln!(
            "sweep: warning: shard {shard} has no results file ({}); did its task run?",
            shard.results_path(output).display()
        );
    }
    if absent.len() > slurm::MISSING_LISTED {
        eprintln!(
            "sweep: warning: {} more shards have no results file (the first {} are listed)",
            absent.len() - slurm::MISSING_LISTED,
            slurm::MISSING_LISTED
        );
    }
}

/// Says, for each of the first [`slurm::MISSING_LISTED`] incomplete shards,
/// what Slurm's accounting knows of the latest task that was to compute it
/// (state and exit code), or that it is still in the queue (pending tasks
/// may not be in accounting yet), or plainly why that cannot be said.
/// Returns whether any of those tasks has not ended yet.
fn report_task_states(
    log: &Option<SubmissionLog>,
    state_path: &Path,
    incomplete: &slurm::Shards,
    records: &[sweep::Record],
) -> bool {
    let Some(log) = log else {
        eprintln!(
            "sweep: no readable record of this sweep's submissions ({}), so the states of its Slurm tasks are \
             unknown",
            state_path.display()
        );
        return false;
    };
    let tasks: Vec<(Shard, Option<(slurm::JobId, usize)>)> =
        incomplete.iter().take(slurm::MISSING_LISTED).map(|shard| (shard, log.latest_task_of(shard))).collect();
    let mut jobs: Vec<slurm::JobId> = tasks.iter().filter_map(|(_, task)| task.map(|(job, _)| job)).collect();
    jobs.sort_unstable();
    jobs.dedup();
    let wanted: Vec<(slurm::JobId, usize)> = tasks.iter().filter_map(|(_, task)| *task).collect();
    let cluster = Cluster::from_env();
    // Accounting lags the queue by a few seconds: ask again, briefly, for
    // tasks it does not know the end of yet.
    let accounts = match slurm::settled_accounting(&wanted, 6, Duration::from_millis(500), || cluster.accounting(&jobs))
    {
        Ok(accounts) => accounts,
        Err(reason) => {
            eprintln!(
                "sweep: Slurm accounting is not available here, so why shards {incomplete} are incomplete is \
                 unknown (sacct: {reason})"
            );
            return false;
        }
    };
    let account_of = |job: slurm::JobId, task: usize| accounts.iter().find(|a| a.job == job && a.task == task);
    // Only asked when accounting does not know a task: one squeue call.
    let unknown = tasks.iter().any(|(_, task)| task.is_some_and(|(job, task)| account_of(job, task).is_none()));
    let queue = if unknown { cluster.active_tasks(&jobs).unwrap_or_default() } else { Vec::new() };
    let mut still_queued = false;
    // Counted once for all the tasks, not once per task: there may be a
    // thousand tasks and millions of records.
    let mut computed: HashMap<(&str, &str), usize> = HashMap::new();
    for provenance in records.iter().filter_map(|r| r.provenance.as_ref()) {
        if let (Some(job), Some(task)) = (&provenance.slurm_job, &provenance.slurm_task) {
            *computed.entry((job.as_str(), task.as_str())).or_default() += 1;
        }
    }
    for (shard, task) in tasks {
        let count = shard.count();
        let line = match task {
            None => format!("shard {shard}: no recorded submission of {count} shards ran it"),
            Some((job, task)) => match account_of(job, task) {
                Some(account) => {
                    still_queued |= !account.is_final();
                    let (job, task) = (job.to_string(), task.to_string());
                    let points = computed.get(&(job.as_str(), task.as_str())).copied().unwrap_or(0);
                    format!("shard {shard}: {}", account.describe(points))
                }
                None => match queue.iter().find(|queued| queued.is_task(job, task)) {
                    Some(queued) => {
                        still_queued = true;
                        format!(
                            "shard {shard}: task {} is still {} in Slurm's queue (collect again once it has ended)",
                            job.task(task),
                            queued.state
                        )
                    }
                    None => format!(
                        "shard {shard}: task {} unknown to Slurm's accounting (it can lag a few seconds behind \
                         the queue: run `sweep collect` again in a moment)",
                        job.task(task)
                    ),
                },
            },
        };
        eprintln!("sweep: {line}");
    }
    if incomplete.len() > slurm::MISSING_LISTED {
        eprintln!(
            "sweep: {} more incomplete shards are not described (the first {} are)",
            incomplete.len() - slurm::MISSING_LISTED,
            slurm::MISSING_LISTED
        );
    }
    still_queued
}
