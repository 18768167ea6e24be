//! The command line of `bench-harness`, shared by the binary and by
//! benches of your own ([`crate::custom::Registry::main`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::config::Plan;
use crate::custom::Registry;
use crate::machine::Machine;
use crate::measure::cells;
use crate::run::{run_all, select, total_runs};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Measure speedup, efficiency and scheduling overhead of parallel maps.
///
/// Each experiment in the RON file maps a workload over its inputs on every
/// listed backend (Sequential, this project's Pool and PoolCollect, StdScope, Rayon), for
/// each worker count and chunk size, with warm-up runs and timed
/// repetitions, and writes to DIR/<experiment>/ (see --out):
///
///   speedup.png, efficiency.png, backends.png  (with two or more worker counts)
///   overhead.png                               (with two or more fixed chunk sizes)
///   samples.csv    one row per timed repetition
///   results.json   machine, configuration, samples and statistics
///   summary.md     tables (median [95% CI], speedup, efficiency, overhead),
///                  Amdahl/USL fits, warnings, machine
///
/// The experiment file (RON) lists experiments; every field is checked and
/// an error names the file, line and column:
///
///   (experiments: [(
///       name: "spin",                        // also the report directory
///       description: Some("One sentence."),  // optional
///       workload: Spin(duration_us: 500),    // or Sleep(duration_us: ..),
///           // SpinIters(iterations: ..), Square, Skewed(mean_us: .., shape: ..),
///           // MemoryBound(bytes: ..), Command(program: "..", args: ["{x}"])
///       inputs: Count(200),                  // or Linspace(start: -1.0, end: 1.0,
///                                            //    count: 20), Values([0.5, 2.0])
///       workers: [1, 2, 4],                  // more than the cores is allowed
///       chunk_sizes: [Fixed(1), Auto],       // Pool and Rayon; default [Auto]
///       repetitions: 10,                     // timed runs per cell
///       warmup: 1,                           // untimed runs per cell; default 1
///       backends: [Sequential, Pool, PoolCollect, StdScope, Rayon],  // Sequential required
///   )])
///
/// Workloads and backends of your own (`Named("…")`) run from a bench of
/// yours: see bench_harness::custom and the README.
///
/// Build with --release: timings from a debug build are not representative.
#[derive(Debug, Parser)]
#[command(name = "bench-harness", version, verbatim_doc_comment)]
struct Cli {
    /// The experiment file (RON); see configs/*.ron for examples.
    #[arg(default_value = "configs/quick.ron")]
    config: PathBuf,

    /// List the experiments in the file, with their size, and exit.
    #[arg(long)]
    list: bool,

    /// Run only the experiment with this name (repeat to run several).
    #[arg(long, value_name = "NAME")]
    only: Vec<String>,

    /// Directory the reports are written to, one subdirectory per experiment.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,

    /// Passed by `cargo bench` to benches with `harness = false`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Parses the process's arguments and runs them with `registry`'s
/// workloads and backends; the exit code to return from `main`.
pub fn main_with(registry: Registry) -> ExitCode {
    match run(Cli::parse(), &registry) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, registry: &Registry) -> anyhow::Result<()> {
    if cli.config.is_relative() && !cli.config.exists() {
        if let Ok(dir) = std::env::current_dir() {
            // `cargo bench` runs a bench in its package's directory, not the
            // one it was called from.
            anyhow::bail!(
                "cannot read {}: no such file in {} (relative paths start there)",
                cli.config.display(),
                dir.display()
            );
        }
    }
    let plan = Plan::load(&cli.config)?;
    registry.check_plan(&plan).map_err(|message| anyhow::anyhow!("{}: {message}", cli.config.display()))?;
    let experiments = select(&plan, &cli.only)?;
    if cli.list {
        for experiment in &experiments {
            println!(
                "{}\t{}; {}; workers {:?}; {} cells × {} runs",
                experiment.name,
                experiment.workload,
                experiment.inputs,
                experiment.workers.as_slice(),
                cells(experiment).len(),
                experiment.warmup + experiment.repetitions.get(),
            );
            if let Some(description) = &experiment.description {
                println!("\t{description}");
            }
        }
        return Ok(());
    }

    let machine = Machine::detect();
    if machine.build_profile == "debug" {
        eprintln!("warning: this is a debug build; timings are not representative (use --release)");
    }
    eprintln!("{}", machine.caption());
    let started = Instant::now();
    let progress = ProgressBar::new(total_runs(&experiments)).with_style(
        ProgressStyle::with_template("{elapsed:>4} [{wide_bar}] {pos}/{len} runs, eta {eta}  {msg}")?
            .progress_chars("=> "),
    );
    let dirs = run_all(&experiments, registry, &machine, &cli.out, &progress);
    progress.finish_and_clear();
    let dirs = dirs?;
    eprintln!(
        "{} experiment(s) in {:.1} s; reports in {}",
        dirs.len(),
        started.elapsed().as_secs_f64(),
        cli.out.display()
    );
    Ok(())
}
