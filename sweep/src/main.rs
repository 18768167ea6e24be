//! The `sweep` command line: run a spec's command over its space, resume it,
//! report on it, plot it, export it; shard it over a Slurm cluster and
//! collect the shards. Parsing only; the work is in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use sweep::slurm::{self, ArrayJob, Cluster, JobOptions, Shard, SubmissionLog, SubmittedArray};
use sweep::{plot, run_command, Header, Results, RunOptions, Selection, Spec, Task};

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
    /// Recompute points whose latest result is a failure.
    #[arg(long)]
    retry_failed: bool,
    /// Do not draw the progress bar.
    #[arg(long)]
    no_progress: bool,
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
    /// the recorded count). Points already done in shard files of another
    /// count are reused, not recomputed.
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
}

fn main() -> ExitCode {
    match dispatch(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sweep: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Plot { results, output, value_key } => {
            let loaded = load(&results)?;
            let output = output.unwrap_or_else(|| results.with_extension("png"));
            for path in plot::plot_results(&loaded, value_key.as_deref(), &output)? {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::Status { results } => status(&results),
        Command::Slurm(args) => slurm_job(args),
        Command::Collect(args) => collect(args),
        Command::Export { results, output } => {
            let loaded = load(&results)?;
            match output {
                Some(path) => {
                    let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                    loaded.write_csv(file)?;
                }
                None => loaded.write_csv(std::io::stdout().lock())?,
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
    let chunk_size = match args.chunk_size.or(spec.chunk_size) {
        Some(0) => bail!("--chunk-size must be at least 1"),
        other => other.unwrap_or(1),
    };
    let timeout = match args.timeout.or(spec.timeout_secs) {
        Some(t) if !(t.is_finite() && t > 0.0) => bail!("--timeout must be a positive number of seconds, not {t}"),
        other => other.map(Duration::from_secs_f64),
    };
    let mut output = args.output.clone().unwrap_or_else(|| spec.default_output(&args.spec));
    let template = spec.template()?;
    let header = sweep_header(&spec, &args.spec);
    let mut selection = Selection::All;
    let mut scope = String::new();
    if let Some(shard) = args.shard {
        output = shard.results_path(&output);
        selection = Selection::Filter(Arc::new(move |index| shard.contains(index)));
        scope = format!(" (shard {shard})");
    }
    let options = RunOptions {
        workers,
        chunk_size: Some(chunk_size),
        progress: !args.no_progress,
        retry_failed: args.retry_failed,
        selection,
    };
    eprintln!("sweep: {}{scope} on {workers} workers → {}", spec.space, output.display());
    let evaluate = move |point: &sweep::Point| run_command(&template.render(point), timeout);
    let (summary, warnings) = sweep::run_to_file(&output, &header, evaluate, &options)?;
    for warning in warnings {
        eprintln!("sweep: warning: {warning}");
    }
    eprintln!(
        "sweep: {} computed ({} failed), {} already done, in {:.2} s",
        summary.computed,
        summary.failed,
        summary.skipped,
        summary.elapsed.as_secs_f64()
    );
    if summary.failed > 0 {
        eprintln!(
            "sweep: see the failures with `sweep status {}`; rerun with --retry-failed to recompute them",
            output.display()
        );
    }
    Ok(())
}

fn status(path: &Path) -> anyhow::Result<()> {
    let results = load(path)?;
    let header = &results.header;
    let counts = results.status();
    println!("results:     {}", path.display());
    if let Some(spec) = &header.spec_path {
        println!("spec:        {}", spec.display());
    }
    println!("fingerprint: {}", header.fingerprint);
    println!("space:       {}", header.space);
    println!("done:        {}", counts.done);
    println!("failed:      {}", counts.failed);
    println!("missing:     {}", counts.missing);
    const SHOWN: usize = 5;
    let failures: Vec<_> = results.latest().into_iter().filter(|r| !r.is_ok()).collect();
    for record in failures.iter().take(SHOWN) {
        if let Err(message) = &record.outcome {
            println!("  failed {}: {message}", record.point);
        }
    }
    if failures.len() > SHOWN {
        println!("  … and {} more", failures.len() - SHOWN);
    }
    Ok(())
}

/// The header of a spec's results files (whole sweep and shards alike).
fn sweep_header(spec: &Spec, spec_path: &Path) -> Header {
    let mut header = Header::new(spec.space.clone(), Task::Command(spec.command.clone()));
    header.spec_path = Some(spec_path.to_owned());
    header.labels = spec.labels.clone();
    header
}

/// `sweep slurm`: writes the array script(s), submitting them if asked, and
/// records each submission in the sweep's state file.
fn slurm_job(args: SlurmArgs) -> anyhow::Result<()> {
    let spec = Spec::load(&args.spec)?;
    let header = sweep_header(&spec, &args.spec);
    let output = args.output.clone().unwrap_or_else(|| spec.default_output(&args.spec));
    let state_path = SubmissionLog::path_for(&output);
    let mut log =
        SubmissionLog::load(&state_path, header.fingerprint)?.unwrap_or_else(|| SubmissionLog::new(header.fingerprint));
    let submitting = args.submit || args.resubmit;
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
    if options.throttle == Some(0) {
        bail!("--throttle must be at least 1");
    }
    let mut count = match (args.tasks, &recorded) {
        (Some(0), _) => bail!("--tasks must be at least 1"),
        (Some(count), _) => count,
        (None, Some(submission)) => submission.shard_count,
        (None, None) => bail!("--tasks N is required (no submission of this sweep is recorded)"),
    };
    let total = header.space.len();
    if count > total {
        eprintln!(
            "sweep: the sweep has {total} points: --tasks {count} reduced to {total} (more tasks would have \
             nothing to compute)"
        );
        count = total.max(1);
    }

    // Points done in shard files of any count (or in the merged results) are
    // copied into this count's shard files: no task computes them again.
    let reused = slurm::seed_shards(&output, count, &header)?;
    if reused > 0 {
        eprintln!("sweep: {reused} points already computed are reused in the {count} shard files");
    }
    let shards: Vec<usize> = if args.resubmit {
        let collection = slurm::collect(&output, count, &header)?;
        let incomplete = collection.incomplete_shards();
        if incomplete.is_empty() {
            eprintln!("sweep: all {count} shards are complete; nothing to resubmit");
            return Ok(());
        }
        incomplete
    } else {
        (0..count).collect()
    };

    let max_array_size = match cluster.max_array_size() {
        Ok(size) => size,
        Err(err) if !submitting => {
            eprintln!("sweep: warning: assuming MaxArraySize 1001, Slurm's default ({err})");
            1001
        }
        Err(err) => return Err(err.into()),
    };
    let arrays = slurm::split_arrays(&shards, max_array_size, options.throttle)?;
    if arrays.len() > 1 {
        eprintln!(
            "sweep: {count} shards exceed the cluster's MaxArraySize {max_array_size}: {} array jobs{}",
            arrays.len(),
            if options.throttle.is_some() { ", each starting after the previous one ends" } else { "" }
        );
    }

    // Tasks start in another process, maybe on another machine: every path
    // in the script is absolute, and the log directory must exist up front
    // (sbatch does not create it, and a task cannot start without it).
    let cwd = std::env::current_dir().context("finding the current directory")?;
    let log_dir = cwd.join(options.log_dir());
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let stem = args.spec.file_stem().map_or("sweep".into(), |stem| stem.to_string_lossy());
    let base_script = args.script.clone().unwrap_or_else(|| PathBuf::from(format!("{stem}.sbatch")));
    // A submission's scripts are kept: number them, never overwriting one.
    let mut number = log.submissions.len() + 1;
    while submitting && script_path(&base_script, Some(number), 1).exists() {
        number += 1;
    }
    let mut run_args = Vec::new();
    if args.resubmit {
        run_args.push("--retry-failed".to_string());
    }
    let program = std::env::current_exe().context("finding the sweep executable")?;
    let mut submission = slurm::Submission {
        submitted_at: slurm::utc_now(),
        shard_count: count,
        resubmit: args.resubmit,
        options: options.clone(),
        max_attempts: None,
        jobs: Vec::new(),
    };
    let mut previous = None;
    for (part, (first_shard, array)) in arrays.into_iter().enumerate() {
        let job = ArrayJob {
            job_name: format!("sweep-{stem}"),
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
            eprintln!("sweep: submit it with: sbatch {}", path.display());
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
    if submitting {
        let ids: Vec<String> = submission.jobs.iter().map(|job| job.job.to_string()).collect();
        log.submissions.push(submission);
        log.save(&state_path)?;
        eprintln!(
            "sweep: submitted job {}; logs in {}; recorded in {}; when it is done: sweep collect {}",
            ids.join(", "),
            log_dir.display(),
            state_path.display(),
            args.spec.display()
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
    let header = sweep_header(&spec, &args.spec);
    let state_path = SubmissionLog::path_for(&output);
    let log = SubmissionLog::load(&state_path, header.fingerprint)?;
    let count = match (args.tasks, log.as_ref().and_then(SubmissionLog::latest)) {
        (Some(0), _) => bail!("--tasks must be at least 1"),
        (Some(count), _) => count,
        (None, Some(submission)) => submission.shard_count,
        (None, None) => match slurm::shard_counts_on_disk(&output)
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
                "shard files for several shard counts ({}) lie beside {}; pick one with --tasks",
                counts.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                output.display()
            ),
        },
    };
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
    slurm::write_merged(&output, &header, &collection.records, collection.done_in_output)?;
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
    if collection.is_complete() {
        return Ok(());
    }
    let incomplete = collection.incomplete_shards();
    report_task_states(&log, &state_path, count, &incomplete);
    let shards: Vec<String> = incomplete.iter().map(ToString::to_string).collect();
    bail!(
        "{} of {total} points have no value (shards {}); rerun them with `sweep slurm {} --resubmit`",
        collection.gaps.len(),
        shards.join(", "),
        args.spec.display()
    )
}

/// Says, for each incomplete shard, what Slurm's accounting knows of the
/// latest task that was to compute it (state and exit code), or plainly why
/// that cannot be said.
fn report_task_states(log: &Option<SubmissionLog>, state_path: &Path, count: usize, incomplete: &[usize]) {
    let Some(log) = log else {
        eprintln!(
            "sweep: no submission of this sweep is recorded ({} does not exist), so the states of its Slurm \
             tasks are unknown",
            state_path.display()
        );
        return;
    };
    let tasks: Vec<(usize, Option<(slurm::JobId, usize)>)> = incomplete
        .iter()
        .map(|&index| (index, Shard::new(index, count).ok().and_then(|shard| log.latest_task_of(shard))))
        .collect();
    let mut jobs: Vec<slurm::JobId> = tasks.iter().filter_map(|(_, task)| task.map(|(job, _)| job)).collect();
    jobs.sort_unstable();
    jobs.dedup();
    let accounts = match Cluster::from_env().accounting(&jobs) {
        Ok(accounts) => accounts,
        Err(reason) => {
            eprintln!(
                "sweep: Slurm accounting is not available here, so why shards {} are incomplete is unknown \
                 (sacct: {reason})",
                incomplete.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            );
            return;
        }
    };
    for (index, task) in tasks {
        let line = match task {
            None => format!("shard {index}/{count}: no recorded submission of {count} shards ran it"),
            Some((job, task)) => match accounts.iter().find(|a| a.job == job && a.task == task) {
                Some(account) => format!(
                    "shard {index}/{count}: task {} {}, exit code {}",
                    job.task(task),
                    account.state,
                    account.exit_code
                ),
                None => format!("shard {index}/{count}: task {} unknown to Slurm's accounting", job.task(task)),
            },
        };
        eprintln!("sweep: {line}");
    }
}
