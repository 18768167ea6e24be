//! The command line of `bench-harness`, shared by the binary and by
//! benches of your own, each with its [`Registry`] of workloads and
//! backends: [`main_with`] is the one entry point.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::comparison::compare_dirs;
use crate::config::{ConfigError, Plan};
use crate::custom::Registry;
use crate::machine::Machine;
use crate::measure::{cells, Sample};
use crate::preflight::{self, format_duration, CONFIRM_ABOVE};
use crate::redraw::{redraw, RedrawOptions};
use crate::report::charts::TooMuchText;
use crate::report::charts::{self, Canvas, Format};
use crate::run::{
    preflight, prepare_directories, previous, run_all, select, total_runs, OutputLock, Previous, RunOptions,
};
use anyhow::Context;
use clap::{CommandFactory, Parser};
use indicatif::{ProgressBar, ProgressStyle};
use sweep::exit::Usage;
use sweep::output::counted;
// Never panicking on a closed or hung-up stderr or stdout: see sweep::output.
use sweep::{eprintln, println};

/// Exit status of a run stopped by a signal: 128 + its number, as shells
/// report a death by it and as `sweep` exits (130 for Ctrl-C).
fn interrupted_status() -> u8 {
    // SIGINT's number, 2 on every platform, when no signal was recorded.
    sweep::ExitCode::Stopped(sweep::signals::last_number().unwrap_or(2)).status()
}

/// The thread that acts on stop signals while a run is checked and
/// measured: it calls `on_signal` once per signal. Dropped, it ends and the
/// handlers are removed, so neither is left behind by [`main_with`].
struct Watcher {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Dropped after the thread is joined (fields drop after `drop`): it
    /// closes the pipe the thread reads.
    _handlers: sweep::signals::Handlers,
}

impl Watcher {
    fn start(mut on_signal: impl FnMut() + Send + 'static) -> anyhow::Result<Watcher> {
        let handlers = sweep::signals::install().context("installing the stop-signal handlers")?;
        let done = Arc::new(AtomicBool::new(false));
        let finished = Arc::clone(&done);
        let thread = std::thread::Builder::new().name("signals".to_owned()).spawn(move || {
            let mut seen = sweep::signals::requests();
            while let Ok(now) = sweep::signals::wait(seen) {
                if finished.load(Ordering::SeqCst) {
                    return;
                }
                for _ in seen..now {
                    on_signal();
                }
                seen = now;
            }
        })?;
        Ok(Watcher { done, thread: Some(thread), _handlers: handlers })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        sweep::signals::wake();
        if let Some(thread) = self.thread.take() {
            // A panic in it was already printed; the run's outcome stands.
            let _ = thread.join();
        }
    }
}

/// Measure speedup, efficiency and scheduling overhead of parallel maps.
///
/// Each experiment in the RON file maps a workload over its inputs on every
/// listed backend (Sequential, this project's Pool and PoolCollect, StdScope, Rayon), for
/// each worker count and chunk size, with warm-up runs and timed
/// repetitions, and writes to DIR/<experiment>/ (see --out):
///
///   speedup, efficiency, backends  (.png .svg .pdf; two or more worker counts)
///   overhead                       (.png .svg .pdf; two or more fixed chunk sizes)
///   samples.csv    one row per timed repetition
///   results.json   machine, configuration, samples and statistics
///   summary.md     tables (median [95% CI], speedup, efficiency, overhead),
///                  Amdahl/USL (or Gustafson) fits, warnings, machine
///   summary.tex    booktabs table and \newcommand macros for LaTeX
///   *.dat          each chart's data for pgfplots
///
/// The experiment file (RON) lists experiments; every field is checked and
/// an error names the file, line and column:
///
///   (experiments: [(
///       name: "spin",                        // also the report directory
///       description: Some("One sentence."),  // optional
///       workload: Spin(duration_us: 500),    // or Sleep(duration_us: ..),
///           // SpinIters(iterations: ..), Square, Skewed(mean_us: .., shape: ..),
///           // MemoryBound(bytes: ..), Command(program: "..", args: ["{x}"],
///           //    timeout_s: Some(30.0)) (timeout optional)
///       inputs: Count(200),                  // or Linspace(start: -1.0, end: 1.0,
///                                            //    count: 20), Values([0.5, 2.0]),
///                                            //    PerWorker(100) (weak scaling)
///       workers: [1, 2, 4],                  // more than the cores is allowed
///       chunk_sizes: [Fixed(1), Auto],       // Pool and Rayon; default [Auto]
///       repetitions: 10,                     // timed runs per cell
///       warmup: 1,                           // untimed runs per cell; default 1
///       backends: [Sequential, Pool, PoolCollect, StdScope, Rayon],  // Sequential required
///       pinning: None,                       // or Cores, Spread: pin worker threads
///       fit_max_workers: Some(2),            // fit Amdahl/USL over p <= this; default: the cores
///   )])
///
/// Workloads and backends of your own (`Named("…")`) run from a bench of
/// yours: see bench_harness::custom and the README.
///
/// Before measuring anything, the harness checks that --out is writable,
/// that the inputs fit in memory, and that every workload runs on its first
/// inputs (a Command must print a number), and prints an estimated duration;
/// runs estimated above 10 minutes need --yes.
///
/// Samples are appended to samples.csv as they are taken. Ctrl-C (SIGINT),
/// SIGTERM, SIGHUP or SIGUSR1 finishes the current run, writes a report
/// marked interrupted, and exits with status 128 + the signal (130 for
/// Ctrl-C); a second one exits at once. A signal ignored at the start (as
/// under nohup) stays ignored. --resume DIR measures only what is missing.
/// A rerun keeps the complete report it replaces in
/// DIR/.previous/<experiment>/ until it completes.
///
/// Exit status: 0 done; 1 could not be carried out; 2 bad input (the
/// experiment file, or the command line); 128 + N stopped by signal N.
///
/// Build with --release: timings from a debug build are not representative.
#[derive(Debug, Parser)]
#[command(name = "bench-harness", version, verbatim_doc_comment, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The experiment file (RON); see configs/*.ron for examples.
    #[arg(default_value = "configs/quick.ron")]
    config: PathBuf,

    /// List the experiments in the file, with their size, and exit.
    #[arg(long)]
    list: bool,

    /// Run only the experiment with this name (repeat to run several).
    #[arg(long, value_name = "NAME")]
    only: Vec<String>,

    /// Directory the reports are written to, one subdirectory per experiment
    /// (reports/latest is ignored by git; the committed example is reports/example).
    #[arg(long, value_name = "DIR", default_value = "reports/latest")]
    out: PathBuf,

    /// Continue the interrupted run in DIR: complete experiments are kept,
    /// an interrupted one keeps its samples and measures only the missing
    /// repetitions.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    resume: Option<PathBuf>,

    /// Start even when the run is estimated to take more than 10 minutes,
    /// or would replace the complete report of a differently defined
    /// experiment of the same name in the output directory.
    #[arg(long, short = 'y')]
    yes: bool,

    /// Passed by `cargo bench` to benches with `harness = false`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Commands that do not measure: on saved results, or for the shell.
///
/// A first argument that names one of them is that command (clap tries
/// subcommands before CONFIG); an experiment file with such a name runs as
/// `./report`, `./completions`, or after an option (`--list completions`).
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Redraw every chart and table from saved results.json, without
    /// measuring: restyle a figure for a paper, or draw runs of one
    /// experiment on several machines together (machines-speedup.*).
    Report {
        /// Report directories (with a results.json), or directories of them
        /// (a run's --out); several runs of one experiment are drawn together.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Write here, one subdirectory per experiment, instead of over
        /// each report (needed to draw several machines together).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Figure formats, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "png,svg,pdf")]
        format: Vec<Format>,
        /// Chart width in pixels.
        #[arg(long, default_value_t = charts::WIDTH)]
        width: u32,
        /// Chart height in pixels.
        #[arg(long, default_value_t = charts::HEIGHT)]
        height: u32,
        /// Multiplies every text size (e.g. 1.4 for a figure printed small).
        #[arg(long, default_value_t = 1.0)]
        font_scale: f64,
        /// Leave out the small print under the plot (workload, machine,
        /// notes): for a figure whose LaTeX caption says it.
        #[arg(long)]
        no_small_print: bool,
    },
    /// Compare two saved runs (two revisions, two machines, pinned or not)
    /// cell by cell: ratio of medians B/A with a bootstrap interval,
    /// Mann–Whitney p-value, overlaid speedup charts, a Markdown table.
    Compare {
        /// The baseline: a report directory or a run's --out.
        a: PathBuf,
        /// The candidate, compared against A.
        b: PathBuf,
        /// Where comparison.md and the charts go (ignored by git; beside
        /// reports/latest, not in it, where an experiment named `compare`
        /// has its report). Never an experiment's report directory.
        #[arg(long, value_name = "DIR", default_value = "reports/compare")]
        out: PathBuf,
        /// Names of A and B in tables and legends, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "A,B", value_name = "A,B")]
        names: Vec<String>,
        /// Figure formats, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "png,svg,pdf")]
        format: Vec<Format>,
        /// Smallest difference of medians worth a verdict (`2%` or `0.02`):
        /// a significant difference below it is reported as "same".
        #[arg(long, default_value = "2%")]
        threshold: crate::comparison::Threshold,
    },
    /// Print the completion script for SHELL on standard output, e.g.
    /// `bench-harness completions bash > ~/.local/share/bash-completion/completions/bench-harness`.
    Completions {
        /// The shell the script is for.
        shell: clap_complete::Shell,
    },
}

/// Runs a command that does not measure.
fn subcommand(command: Command) -> anyhow::Result<Finished> {
    match command {
        Command::Report { dirs, out, format, width, height, font_scale, no_small_print } => {
            let canvas = Canvas { width, height, font_scale, small_print: !no_small_print };
            let options = RedrawOptions { out, formats: format, canvas };
            let written = redraw(&dirs, &options)?;
            eprintln!("redrew {} from saved results", counted(written.len(), "file"));
        }
        Command::Compare { a, b, out, names, format, threshold } => {
            let [name_a, name_b] = names.as_slice() else {
                return Err(Usage(format!(
                    "--names takes two names, A's and B's, separated by a comma; got {}",
                    names.len()
                ))
                .into());
            };
            if name_a == name_b {
                return Err(Usage(format!("--names: A and B need different names, got {name_a:?} twice")).into());
            }
            // Markdown characters are escaped in comparison.md, but a line
            // break would end its table row wherever it is.
            if let Some(name) = [name_a, name_b].into_iter().find(|name| name.chars().any(char::is_control)) {
                return Err(Usage(format!(
                    "--names: {name:?} holds a control character (a line break?): each name must be one line of text"
                ))
                .into());
            }
            let names = (name_a.as_str(), name_b.as_str());
            let (markdown, _) = compare_dirs(&a, &b, names, &out, &format, threshold)?;
            println!("{markdown}");
            eprintln!("wrote {}", out.join("comparison.md").display());
        }
        Command::Completions { shell } => {
            // Generated whole, then written: clap_complete panics on a failed
            // write, and a full disk must be an error, not a panic.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "bench-harness", &mut script);
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&script).and_then(|()| stdout.flush()).map_err(|e| {
                anyhow::anyhow!(
                    "cannot write the completion script to standard output: {}",
                    sweep::output::stdout_error(&e)
                )
            })?;
        }
    }
    Ok(Finished::Complete)
}

/// Parses the process's arguments and runs them with `registry`'s
/// workloads and backends; the exit code to return from `main`.
pub fn main_with(registry: Registry) -> ExitCode {
    let cli = match sweep::exit::parse_args::<Cli>("bench-harness") {
        Ok(cli) => cli,
        Err(code) => return code.into(),
    };
    let outcome = run(cli, &registry).and_then(|finished| match sweep::output::stdout_failed() {
        Some(reason) => Err(anyhow::anyhow!("cannot write to standard output: {reason}")),
        None => Ok(finished),
    });
    match outcome {
        Ok(Finished::Complete) => ExitCode::SUCCESS,
        Ok(Finished::Interrupted) => ExitCode::from(interrupted_status()),
        Err(error) => {
            eprintln!("error: {error:#}");
            exit_code(&error).into()
        }
    }
}

/// The exit status of an error, by its type as `sweep` classifies its own
/// (see `sweep::exit`): a refused experiment file or an argument this
/// program checks itself ([`Usage`]), or a chart size and text scale the
/// text does not fit ([`TooMuchText`]), is bad input (2); anything else could
/// not be carried out (1).
fn exit_code(error: &anyhow::Error) -> sweep::ExitCode {
    if error.chain().any(|cause| cause.is::<ConfigError>() || cause.is::<TooMuchText>()) {
        sweep::ExitCode::BadInput
    } else {
        sweep::ExitCode::of(error)
    }
}

enum Finished {
    Complete,
    Interrupted,
}

fn list(experiments: &[&crate::config::Experiment]) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let available = preflight::memory_available();
    let mut total = std::time::Duration::ZERO;
    let mut unknown = Vec::new();
    for experiment in experiments {
        let estimate = match preflight::nominal_seconds_per_input(&experiment.workload) {
            Some(per_input) => {
                let estimate = preflight::estimate(experiment, per_input, cores);
                total = total.saturating_add(estimate);
                preflight::about(estimate)
            }
            None => {
                unknown.push(experiment.name.as_str());
                "duration known once its workload has run (an external command or your own code)".to_owned()
            }
        };
        println!(
            "{}\t{}; {}; workers {}; pinning {}; {} cells × {} runs; {estimate}",
            experiment.name,
            experiment.workload,
            experiment.inputs,
            experiment.workers.as_slice().iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            experiment.pinning,
            cells(experiment).len(),
            u64::from(experiment.warmup) + u64::from(experiment.repetitions.get()),
        );
        if let Some(description) = &experiment.description {
            println!("\t{description}");
        }
        if let Err(refusal) = preflight::check_memory(experiment, available) {
            println!("\tcannot run: {refusal}");
        }
    }
    let more = if unknown.is_empty() {
        String::new()
    } else {
        format!(" plus {} (their cost only a run tells)", unknown.join(", "))
    };
    println!(
        "estimated total: {}{more} (nominal task costs; a run measures the real ones before it starts)",
        preflight::about(total)
    );
}

fn run(cli: Cli, registry: &Registry) -> anyhow::Result<Finished> {
    if let Some(command) = cli.command {
        return subcommand(command);
    }
    if cli.config.is_relative() && !cli.config.exists() {
        if let Ok(dir) = std::env::current_dir() {
            // `cargo bench` runs a bench in its package's directory, not the
            // one it was called from.
            return Err(Usage(format!(
                "cannot read {}: no such file in {} (relative paths start there)",
                cli.config.display(),
                dir.display()
            ))
            .into());
        }
    }
    let plan = Plan::load(&cli.config)?;
    // Before the registry's check: the file is wrong whatever is registered.
    crate::report::latex::check_macro_names(&plan.experiments).map_err(|clash| ConfigError::Invalid {
        path: cli.config.clone(),
        message: format!(
            "{clash}, so a paper that inputs both summaries would read one's numbers under the other's names; \
             rename one of them"
        ),
    })?;
    registry.check_plan(&plan).map_err(|message| ConfigError::Invalid { path: cli.config.clone(), message })?;
    let experiments = select(&plan, &cli.only)?;
    if cli.list {
        list(&experiments);
        return Ok(Finished::Complete);
    }

    let options = match &cli.resume {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(Usage(format!("--resume {}: no such directory", dir.display())).into());
            }
            let foreign = crate::run::foreign_experiments(&plan, dir);
            if !foreign.is_empty() {
                return Err(Usage(format!(
                    "--resume {}: it holds {} {} that {} does not define; give the experiment file \
                     that started the run (bench-harness CONFIG --resume DIR)",
                    dir.display(),
                    if foreign.len() == 1 { "experiment" } else { "experiments" },
                    foreign.join(", "),
                    cli.config.display()
                ))
                .into());
            }
            RunOptions { out_dir: dir.clone(), resume: true, config: Some(cli.config.clone()) }
        }
        None => {
            crate::run::check_nothing_lost(&experiments, &cli.out, &cli.config, cli.yes)?;
            RunOptions { out_dir: cli.out.clone(), resume: false, config: Some(cli.config.clone()) }
        }
    };
    let neighbours = crate::redraw::neighbours(&plan, &options.out_dir);
    crate::report::latex::check_macro_names(experiments.iter().copied().chain(&neighbours)).map_err(|clash| {
        Usage(format!(
            "{clash}: {} holds the report of {} from another experiment file, and a paper that inputs both \
             summaries would read one's numbers under the other's names; choose another --out, or rename one \
             (nothing was measured)",
            options.out_dir.display(),
            neighbours.iter().map(|e| format!("{:?}", e.name.as_str())).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let mut machine = Machine::detect();
    machine.code_revision = registry.revision().map(str::to_owned);
    if machine.build_profile == "debug" {
        eprintln!("warning: this is a debug build; timings are not representative (use --release)");
    }
    eprintln!("{}", machine.caption());

    // What an earlier run left, for --resume; complete experiments are kept as they are.
    let mut work: Vec<(&crate::config::Experiment, Vec<Sample>)> = Vec::new();
    for &experiment in &experiments {
        if !options.resume {
            work.push((experiment, Vec::new()));
            continue;
        }
        match previous(experiment, &machine, &options.out_dir.join(experiment.name.as_str()))? {
            Previous::Complete(_) => eprintln!("{}: complete in {}, kept", experiment.name, options.out_dir.display()),
            Previous::Partial(samples) => {
                eprintln!("{}: resuming with {} already measured", experiment.name, counted(samples.len(), "sample"));
                work.push((experiment, samples));
            }
            Previous::Nothing => work.push((experiment, Vec::new())),
        }
    }
    let pending: Vec<(&crate::config::Experiment, &[Sample])> =
        work.iter().map(|(e, done)| (*e, done.as_slice())).collect();
    // A stop signal (see `sweep::signals`) during the checks ends their
    // commands and the harness; once measuring, it finishes the current run
    // and writes a partial report (commands lead their own process groups,
    // so the terminal's signal does not reach them: the harness decides).
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let writing = Arc::new(Mutex::new(()));
    let (flag, phase, report) = (Arc::clone(&stop), Arc::clone(&measuring), Arc::clone(&writing));
    let (names, out_dir): (Vec<String>, _) =
        (experiments.iter().map(|e| e.name.as_str().to_owned()).collect(), options.out_dir.clone());
    let _watcher = Watcher::start(move || {
        if !phase.load(Ordering::SeqCst) {
            crate::workload::kill_running_commands();
            eprintln!("\ninterrupted during the checks, before any measurement");
            std::process::exit(i32::from(interrupted_status()));
        }
        if flag.swap(true, Ordering::SeqCst) {
            // A second signal: leave now; every sample is already on disk,
            // and a report being written is finished first (a moment), so
            // none is left half written.
            crate::workload::kill_running_commands();
            let _finished = report.lock().unwrap_or_else(PoisonError::into_inner);
            // The progress bar is left mid-line: end the line and make sure
            // the cursor shows.
            let show_cursor = if std::io::IsTerminal::is_terminal(&std::io::stderr()) { "\x1b[?25h" } else { "" };
            eprintln!(
                "{show_cursor}\ninterrupted again: exiting now (samples.csv has every sample; no report is left half \
                 written)"
            );
            for kept in crate::run::kept_reports(names.iter().map(String::as_str), &out_dir) {
                eprintln!("the previous complete report is kept in {}/ until the run completes", kept.display());
            }
            std::process::exit(i32::from(interrupted_status()));
        }
        eprintln!("\ninterrupted: finishing the current run, then writing a partial report (Ctrl-C again to quit now)");
    })?;
    let estimate = preflight(&pending, registry, &machine)?;
    if estimate > CONFIRM_ABOVE && !cli.yes {
        anyhow::bail!(
            "the run is estimated to take {} (more than {}); pass --yes to start it, \
             or use fewer inputs, worker counts or repetitions",
            preflight::about(estimate),
            format_duration(CONFIRM_ABOVE)
        );
    }
    // Only now is anything created.
    crate::preflight::check_writable(&options.out_dir)?;
    let _lock = OutputLock::acquire(&options.out_dir)?;
    if options.resume {
        crate::run::discard_replaced_reports(&experiments, &options.out_dir)?;
    } else {
        // Again, under the lock: another run may have been interrupted meanwhile.
        crate::run::check_nothing_lost(&experiments, &options.out_dir, &cli.config, cli.yes)?;
    }
    prepare_directories(&pending, &options.out_dir)?;
    eprintln!(
        "checked: {} writable, inputs fit in memory, workloads run; estimated duration {}",
        options.out_dir.display(),
        preflight::about(estimate)
    );

    measuring.store(true, Ordering::SeqCst);

    let started = Instant::now();
    let progress = ProgressBar::new(total_runs(&pending)).with_style(
        ProgressStyle::with_template("{elapsed:>4} [{wide_bar}] {pos}/{len} runs, eta {eta}  {msg}")?
            .progress_chars("=> "),
    );
    let summary = run_all(work, registry, &machine, &options, &stop, &writing, &progress);
    progress.finish_and_clear();
    let summary = summary?;
    if summary.interrupted {
        // The same selection: without it, --resume would also run the experiments left out.
        let only: String = cli.only.iter().map(|name| format!(" --only {name}")).collect();
        eprintln!(
            "interrupted after {:.1} s; the reports cover what was measured. To finish: bench-harness {}{only} \
             --resume {}",
            started.elapsed().as_secs_f64(),
            cli.config.display(),
            options.out_dir.display()
        );
        for kept in crate::run::kept_reports(experiments.iter().map(|e| e.name.as_str()), &options.out_dir) {
            eprintln!("the previous complete report is kept in {}/ until then", kept.display());
        }
        return Ok(Finished::Interrupted);
    }
    for comparison in &summary.pinning {
        eprintln!("{comparison}");
    }
    eprintln!(
        "{} in {:.1} s; reports in {}",
        counted(summary.dirs.len(), "experiment"),
        started.elapsed().as_secs_f64(),
        options.out_dir.display()
    );
    Ok(Finished::Complete)
}
