//! The `sweep` command line: run a spec's command over its space, resume it,
//! report on it, plot it, export it; shard it over a Slurm cluster and
//! collect the shards. Parsing only; the work is in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use sweep::slurm::{self, ArrayJob, ArraySpec, Shard};
use sweep::store::SyncPolicy;
use sweep::{execute, plot, CommandOptions, Header, Results, RunOptions, Selection, Spec, Stop};

/// `eprintln!` that never panics: messages to a closed stderr (`sweep run …
/// 2>&1 | head`, a log collector that died) are dropped. std's panics on a
/// failed write, which would kill a run mid-way (or, in the monitor thread,
/// silently end progress lines and the grace period of a stop). Defined
/// under std's name so every message in this file goes through it.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Parameter-space studies on a thread pool, with resumable results.
#[derive(Debug, Parser)]
#[command(name = "sweep", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run (or resume) the sweep described by a RON spec.
    Run(RunArgs),
    /// Plot a results file: one varying axis gives a scatter plot, two a
    /// heatmap and a 3D surface.
    Plot {
        /// Results file (JSON Lines) written by `sweep run`.
        results: PathBuf,
        /// PNG to write (default: the results path with `.png`); with two
        /// varying axes, `-heatmap` and `-surface` are added to its name.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Field to plot when values are JSON objects.
        #[arg(long)]
        value_key: Option<String>,
    },
    /// Count the points of a results file that are done, failed and missing.
    Status {
        /// Results file (JSON Lines) written by `sweep run`.
        results: PathBuf,
        /// Attempts after which a failed point counts as given up.
        #[arg(long, value_name = "N", default_value_t = sweep::store::DEFAULT_MAX_ATTEMPTS)]
        max_attempts: u32,
        /// Also list every record in file order with its provenance, one
        /// tab-separated line each (like GNU parallel's joblog).
        #[arg(long)]
        records: bool,
    },
    /// Make a damaged results file usable again: lines that do not parse and
    /// records of points outside the sweep's space move to
    /// `<results>.rejected.jsonl`; every valid record stays, in order.
    Repair {
        /// Results file (JSON Lines) written by `sweep run`.
        results: PathBuf,
        /// The spec the file was written from, used only when the header
        /// line itself is damaged.
        #[arg(long)]
        spec: Option<PathBuf>,
    },
    /// Write the latest record of each point as CSV.
    Export {
        /// Results file (JSON Lines) written by `sweep run`.
        results: PathBuf,
        /// CSV file to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Write (and optionally submit) a Slurm array job: one task per shard,
    /// each running `sweep run SPEC --shard K/N`.
    Slurm(SlurmArgs),
    /// Merge the shard files of a sweep into its results file and list the
    /// points still missing or failed, with their shard (fails if any).
    Collect(CollectArgs),
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
    /// After SIGINT, SIGTERM or SIGUSR1, how long the points in flight may
    /// finish before their commands are killed.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    grace: f64,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    progress_every: f64,
    /// Do not draw the progress bar.
    #[arg(long)]
    no_progress: bool,
    /// When records are flushed to the disk: `record` (after each one),
    /// `exit` (at the end only), or every SECS seconds. Records always reach
    /// the OS at once and survive the process being killed; this bounds
    /// what a power cut can lose.
    #[arg(long, value_name = "record|exit|SECS", default_value = "1")]
    sync: SyncPolicy,
    /// Compute only shard K of N (the points whose index is K modulo N),
    /// into `<output stem>.shard-K-of-N.jsonl`.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
}

#[derive(Debug, clap::Args)]
struct SlurmArgs {
    /// Sweep spec (RON): space, command template and settings.
    spec: PathBuf,
    /// Number of shards N, one array task each.
    #[arg(long, value_name = "N")]
    tasks: usize,
    /// Run at most M tasks at once (`--array=...%M`).
    #[arg(long, value_name = "M")]
    throttle: Option<usize>,
    /// Slurm partition (default: the cluster's default).
    #[arg(long)]
    partition: Option<String>,
    /// Time limit per task, in any sbatch format, e.g. 2:00:00.
    #[arg(long)]
    time: Option<String>,
    /// CPUs per task; each shard runs this many workers.
    #[arg(long, value_name = "C", default_value_t = 1)]
    cpus_per_task: usize,
    /// Results file (default: the spec's `output`, else `<spec name>.jsonl`);
    /// shard files are written beside it.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Where to write the sbatch script (default: `<spec name>.sbatch`).
    #[arg(long)]
    script: Option<PathBuf>,
    /// Directory for the tasks' logs, `<job name>-<job id>_<task>.out`.
    #[arg(long, default_value = "slurm-logs")]
    log_dir: PathBuf,
    /// Submit the script with sbatch and print the job id on stdout.
    #[arg(long)]
    submit: bool,
    /// Submit only the shards with missing or failed points (failed ones
    /// are computed again); implies --submit.
    #[arg(long)]
    resubmit: bool,
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
}

fn main() -> ExitCode {
    match dispatch(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<Stopped>() {
            Some(stopped) => {
                eprintln!("sweep: {stopped}");
                ExitCode::from(stopped.status)
            }
            None => {
                eprintln!("sweep: error: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// A run that stopped on request: not an error, but not a success either
/// (the exit status is 128 + the signal, as if it had killed the process).
#[derive(Debug)]
struct Stopped {
    message: String,
    status: u8,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Stopped {}

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
    if matches!(cli.command, Command::Status { .. } | Command::Export { .. } | Command::Plot { .. }) {
        die_quietly_on_closed_pipes();
    }
    match cli.command {
        Command::Run(args) => run(args),
        Command::Repair { results, spec } => repair(&results, spec.as_deref()),
        Command::Plot { results, output, value_key } => {
            let loaded = load(&results)?;
            let output = output.unwrap_or_else(|| results.with_extension("png"));
            for path in plot::plot_results(&loaded, value_key.as_deref(), &output)
                .with_context(|| format!("cannot plot {}", results.display()))?
            {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::Status { results, max_attempts, records } => status(&results, max_attempts, records),
        Command::Slurm(args) => slurm_job(args),
        Command::Collect(args) => collect(args),
        Command::Export { results, output } => {
            let loaded = load(&results)?;
            match output {
                // Written beside and renamed: a full disk never leaves a
                // truncated or empty CSV where a good one was.
                Some(path) => sweep::store::write_atomically(&path, |out| {
                    loaded.write_csv(out).map_err(|e| std::io::Error::other(e.to_string()))
                })?,
                None => loaded
                    .write_csv(std::io::stdout().lock())
                    .map_err(|e| anyhow::anyhow!("cannot write the CSV to standard output: {e}"))?,
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

fn run(args: RunArgs) -> anyhow::Result<()> {
    let spec = Spec::load(&args.spec)?;
    let workers = match args.workers.or(spec.workers) {
        Some(0) => bail!("--workers must be at least 1"),
        Some(n) => n,
        None => RunOptions::default().workers,
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if workers > sweep::runner::max_workers() {
        bail!(
            "{workers} workers is more than this machine can use: the limit is {} (64 per core, {cores} cores); \
             black boxes that wait on I/O rarely gain from more than a few per core",
            sweep::runner::max_workers()
        );
    }
    if workers > cores {
        eprintln!(
            "sweep: warning: {workers} workers on {cores} cores; CPU-bound commands will only slow each other down"
        );
    }
    let chunk_size = match args.chunk_size.or(spec.chunk_size) {
        Some(0) => bail!("--chunk-size must be at least 1"),
        other => other.unwrap_or(1),
    };
    let timeout = match args.timeout.or(spec.timeout_secs) {
        Some(t) if !(t.is_finite() && t > 0.0) => bail!("--timeout must be a positive number of seconds, not {t}"),
        other => other.map(sweep::store::practically_never_past),
    };
    let seconds = |value: f64, flag: &str| -> anyhow::Result<Duration> {
        if value.is_nan() || value < 0.0 {
            bail!("{flag} must be a non-negative number of seconds, not {value}");
        }
        Ok(sweep::store::practically_never_past(value))
    };
    let grace = seconds(args.grace, "--grace")?;
    let progress_every = seconds(args.progress_every, "--progress-every")?.max(Duration::from_millis(100));
    let max_attempts = match args.max_attempts.or(spec.max_attempts) {
        Some(0) => bail!("--max-attempts must be at least 1"),
        other => other.unwrap_or(sweep::store::DEFAULT_MAX_ATTEMPTS),
    };
    let capture_limit = match args.max_output.or(spec.max_output) {
        Some(0) => bail!("--max-output must be at least 1 byte"),
        other => other.unwrap_or(sweep::command::DEFAULT_CAPTURE_LIMIT),
    };
    let mut output = args.output.clone().unwrap_or_else(|| spec.default_output(&args.spec));
    let template = spec.template()?;
    let header = Header::for_spec(&spec, &args.spec);
    let mut selection = Selection::All;
    let mut scope = String::new();
    if let Some(shard) = args.shard {
        output = shard.results_path(&output);
        selection = Selection::Stride { offset: shard.index(), step: shard.count() };
        scope = format!(" (shard {shard})");
    }
    let stop = Stop::on_signals().context("installing the SIGINT/SIGTERM/SIGUSR1 handlers")?;
    let options = RunOptions {
        workers,
        chunk_size: Some(chunk_size),
        progress: !args.no_progress,
        progress_every,
        retry_failed: args.retry_failed,
        max_attempts,
        retries: args.retries.or(spec.retries).unwrap_or(0),
        retry_delay: seconds(args.retry_delay, "--retry-delay")?,
        selection,
        sync: args.sync,
        stop: stop.clone(),
        grace,
    };
    eprintln!("sweep: {}{scope} on {workers} workers → {}", spec.space, output.display());
    let command_options = CommandOptions { timeout, capture_limit, cancel: Some(stop.cancelled()) };
    let evaluate = move |point: &sweep::Point| execute(&template.render(point), &command_options);
    // Opened here rather than through `run_evaluations_to_file` so that what
    // reading the file found (a torn line, a reused space) is said up front.
    let (mut writer, existing) = sweep::ResultsWriter::open_with(&output, &header, options.sync)?;
    for warning in &existing.warnings {
        eprintln!("sweep: warning: {warning}");
    }
    let resume = existing.resume(options.retry_failed, max_attempts);
    let summary = sweep::run_evaluations(&header.space, evaluate, &resume, &options, |record| {
        writer.append(&record).map_err(Into::into)
    });
    // Flush what was written even when the run failed part-way.
    let closed = writer.close();
    let summary = summary?;
    closed?;
    eprintln!(
        "sweep: {} computed ({} failed{}), {} already done, in {:.2} s",
        summary.computed,
        summary.failed,
        if summary.attempts > summary.computed {
            format!(", {} attempts in all", summary.attempts)
        } else {
            String::new()
        },
        summary.skipped,
        summary.elapsed.as_secs_f64()
    );
    if summary.stopped {
        return Err(Stopped {
            message: format!(
                "stopped by {}: {} points done in this run, {} abandoned in flight; every record is flushed to \
                 {}. Run the same command again to resume",
                stop.reason(),
                summary.computed,
                summary.interrupted,
                output.display()
            ),
            status: sweep::signals::exit_status(),
        }
        .into());
    }
    let counts = sweep::Results::load(&output).map(|r| r.status_with(max_attempts))?;
    if counts.given_up > 0 {
        eprintln!(
            "sweep: {} points failed {max_attempts} times and are given up; raise --max-attempts to try them again",
            counts.given_up
        );
    }
    if counts.failed > counts.given_up {
        eprintln!(
            "sweep: see the failures with `sweep status {}`; rerun with --retry-failed to recompute them",
            output.display()
        );
    }
    Ok(())
}

fn status(path: &Path, max_attempts: u32, all_records: bool) -> anyhow::Result<()> {
    let results = load(path)?;
    let header = &results.header;
    let counts = results.status_with(max_attempts);
    println!("results:     {}", path.display());
    if let Some(spec) = &header.spec_path {
        println!("spec:        {}", spec.display());
    }
    println!("fingerprint: {}", header.fingerprint);
    println!("space:       {}", header.space);
    println!("done:        {}", counts.done);
    println!("failed:      {} ({} given up after {max_attempts} attempts)", counts.failed, counts.given_up);
    println!("missing:     {}", counts.missing);
    if counts.outside > 0 {
        println!(
            "outside:     {} records of points not in this space (not counted above; `sweep repair {}` moves \
             them aside)",
            counts.outside,
            path.display()
        );
    }
    const SHOWN: usize = 5;
    let failures: Vec<_> = results.latest().into_iter().filter(|r| !r.is_ok()).collect();
    for record in failures.iter().take(SHOWN) {
        if let Err(message) = &record.outcome {
            println!("  failed {} (attempt {}{}): {message}", record.point, record.attempt, provenance(record));
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
    let header = match spec {
        Some(spec_path) => Some(Header::for_spec(&Spec::load(spec_path)?, spec_path)),
        None => None,
    };
    let report = sweep::store::repair(path, header.as_ref())?;
    if report.was_clean() {
        eprintln!("sweep: {} needs no repair: all {} records are valid", path.display(), report.kept);
        return Ok(());
    }
    for problem in report.problems.iter().take(10) {
        eprintln!("sweep: {}:{problem}", path.display());
    }
    eprintln!(
        "sweep: repaired {}: kept {} records; moved {} unparsable lines and {} records of points outside the space \
         to {}",
        path.display(),
        report.kept,
        report.unparsable,
        report.outside,
        report.side_file.display()
    );
    Ok(())
}

/// `sweep slurm`: writes the array script, submitting it if asked.
fn slurm_job(args: SlurmArgs) -> anyhow::Result<()> {
    let spec = Spec::load(&args.spec)?;
    if args.tasks == 0 {
        bail!("--tasks must be at least 1");
    }
    if args.cpus_per_task == 0 {
        bail!("--cpus-per-task must be at least 1");
    }
    let output = args.output.clone().unwrap_or_else(|| spec.default_output(&args.spec));
    let array = if args.resubmit {
        let collection = slurm::collect(&output, args.tasks, &Header::for_spec(&spec, &args.spec))?;
        let incomplete = collection.incomplete_shards();
        if incomplete.is_empty() {
            eprintln!("sweep: all {} shards are complete; nothing to resubmit", args.tasks);
            return Ok(());
        }
        ArraySpec::only(incomplete, args.tasks, args.throttle)?
    } else {
        ArraySpec::all(args.tasks, args.throttle)?
    };

    // Tasks start in another process, maybe on another machine: every path
    // in the script is absolute, and the log directory must exist up front
    // (sbatch does not create it, and a task cannot start without it).
    let cwd = std::env::current_dir().context("finding the current directory")?;
    let log_dir = cwd.join(&args.log_dir);
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let stem = args.spec.file_stem().map_or("sweep".into(), |stem| stem.to_string_lossy());
    let job = ArrayJob {
        job_name: format!("sweep-{stem}"),
        array,
        shard_count: args.tasks,
        cpus_per_task: args.cpus_per_task,
        partition: args.partition,
        time_limit: args.time,
        log_dir,
        working_dir: cwd.clone(),
        sweep_program: std::env::current_exe().context("finding the sweep executable")?,
        spec_path: cwd.join(&args.spec),
        output: args.output,
        retry_failed: args.resubmit,
    };
    let script_path = args.script.unwrap_or_else(|| PathBuf::from(format!("{stem}.sbatch")));
    std::fs::write(&script_path, job.render()?).with_context(|| format!("writing {}", script_path.display()))?;
    eprintln!("sweep: wrote {} (array {} of {} shards)", script_path.display(), job.array, args.tasks);
    if args.submit || args.resubmit {
        let id = slurm::Cluster::from_env().submit(&script_path)?;
        eprintln!(
            "sweep: submitted job {id}; logs in {}; when it is done: sweep collect {}",
            job.log_dir.display(),
            args.spec.display()
        );
        println!("{id}");
    } else {
        eprintln!("sweep: submit it with: sbatch {}", script_path.display());
    }
    Ok(())
}

/// `sweep collect`: merges the shard files and reports the gaps.
fn collect(args: CollectArgs) -> anyhow::Result<()> {
    let spec = Spec::load(&args.spec)?;
    let output = args.output.unwrap_or_else(|| spec.default_output(&args.spec));
    let count = match args.tasks {
        Some(0) => bail!("--tasks must be at least 1"),
        Some(count) => count,
        None => match slurm::shard_counts_on_disk(&output)
            .with_context(|| format!("looking for shard files of {}", output.display()))?[..]
        {
            [] => bail!(
                "no shard files of {} (`*.shard-K-of-N.jsonl` beside it) found; run the shards first, \
                 e.g. with `sweep slurm {} --tasks N --submit`",
                output.display(),
                args.spec.display()
            ),
            [count] => count,
            ref counts => bail!(
                "shard files for several shard counts {counts:?} lie beside {}; pick one with --tasks",
                output.display()
            ),
        },
    };
    let header = Header::for_spec(&spec, &args.spec);
    let collection = slurm::collect(&output, count, &header)?;
    for warning in &collection.warnings {
        eprintln!("sweep: warning: {warning}");
    }
    for shard in &collection.absent_files {
        eprintln!(
            "sweep: warning: shard {shard} has no results file ({}); did its task run?",
            shard.results_path(&output).display()
        );
    }
    slurm::write_merged(&output, &header, &collection.records)?;
    for gap in &collection.gaps {
        println!("{gap}");
    }
    let failed = collection.gaps.iter().filter(|gap| gap.reason != slurm::GapReason::Missing).count();
    let total = header.space.len();
    eprintln!(
        "sweep: merged {count} shards into {}: {} done, {failed} failed, {} missing of {total} points",
        output.display(),
        collection.records.len() - failed,
        collection.gaps.len() - failed,
    );
    if !collection.is_complete() {
        let shards: Vec<String> = collection.incomplete_shards().iter().map(ToString::to_string).collect();
        bail!(
            "{} of {total} points have no value (shards {}); rerun them with `sweep slurm {} --tasks {count} --resubmit`",
            collection.gaps.len(),
            shards.join(", "),
            args.spec.display()
        );
    }
    Ok(())
}
