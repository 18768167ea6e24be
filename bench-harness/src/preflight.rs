//! Everything checkable before the first measurement: the output directory
//! is writable, the experiment's data fits in memory, its workload runs
//! (an external command is found and prints a number), and how long the
//! whole run will take.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::Experiment;
use crate::custom::Registry;
use crate::measure::cells;
use crate::workload::Workload;

/// Runs estimated above this need `--yes`.
pub const CONFIRM_ABOVE: Duration = Duration::from_secs(10 * 60);

/// Bytes of inputs and results held at once per input: the inputs, the
/// sequential reference, the current run's results and a backend's buffer.
const BYTES_PER_INPUT: u64 = 4 * 8;

/// A probe of the workload runs on at most this many inputs...
const PROBE_INPUTS: usize = 1_000;
/// ...or until it has run this long.
const PROBE_BUDGET: Duration = Duration::from_millis(200);

/// Creates `dir` if needed and checks that a file can be written in it.
pub fn check_writable(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    let probe = tempfile::Builder::new()
        .prefix(".bench-harness-write-test")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in the output directory {}", dir.display()))?;
    drop(probe);
    Ok(())
}

/// Memory the experiment needs at once, in bytes (saturating).
pub fn memory_needed(experiment: &Experiment) -> u64 {
    let most_workers = experiment.workers.as_slice().iter().copied().max().unwrap_or(1);
    let inputs = (experiment.inputs.len_for(most_workers) as u64).saturating_mul(BYTES_PER_INPUT);
    let per_task = match experiment.workload {
        Workload::MemoryBound { bytes } => {
            let threads = experiment.workers.as_slice().iter().copied().max().unwrap_or(1) as u64;
            (bytes as u64).saturating_mul(threads)
        }
        _ => 0,
    };
    inputs.saturating_add(per_task)
}

/// Memory available to new allocations (`MemAvailable` of `/proc/meminfo`), if known.
pub fn memory_available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Refuses an experiment whose inputs, results and buffers cannot fit in
/// `available` bytes (or in the address space, when `available` is unknown).
pub fn check_memory(experiment: &Experiment, available: Option<u64>) -> Result<(), String> {
    let needed = memory_needed(experiment);
    let limit = available.unwrap_or(isize::MAX as u64);
    if needed <= limit {
        return Ok(());
    }
    // Weak scaling: the largest run has the most inputs.
    let most_workers = experiment.workers.as_slice().iter().copied().max().unwrap_or(1);
    let inputs = experiment.inputs.len_for(most_workers);
    let what = match experiment.workload {
        Workload::MemoryBound { bytes } => format!(
            "{inputs} inputs and {} buffers of {}",
            experiment.workers.as_slice().iter().max().unwrap_or(&1),
            format_bytes(bytes as u64)
        ),
        // `len_for` saturates: say what was asked for, not u64::MAX.
        _ if experiment.inputs.is_weak() => {
            format!("{} inputs per worker × {most_workers} workers", experiment.inputs.len())
        }
        _ => format!("{inputs} inputs"),
    };
    let have = available
        .map_or_else(|| "the address space allows".to_owned(), |a| format!("{} is available", format_bytes(a)));
    // For MemoryBound the buffers dominate: fewer inputs would not help.
    let remedy = match experiment.workload {
        Workload::MemoryBound { .. } => "use a smaller MemoryBound `bytes` or fewer workers",
        _ => "use fewer inputs",
    };
    Err(format!(
        "experiment {:?}: {what} need about {} of memory, but only {have}; {remedy}",
        experiment.name.as_str(),
        format_bytes(needed)
    ))
}

/// Runs the workload on the first inputs, sequentially, and returns the
/// mean seconds per input. An external command runs at least once, on the
/// first input; a failure, or output that is not a number, is an error
/// naming the input and output.
pub fn probe(experiment: &Experiment, registry: &Registry) -> anyhow::Result<f64> {
    // A built-in task that takes longer than the whole probe (Sleep or
    // Spin of minutes) cannot fail: its nominal cost is the estimate, so
    // `--yes` is asked for before, not after, a first input of hours.
    if let Some(nominal) = nominal_seconds_per_input(&experiment.workload) {
        if nominal > PROBE_BUDGET.as_secs_f64() {
            return Ok(nominal);
        }
    }
    let failed = || format!("experiment {:?}: the workload fails on its first inputs", experiment.name.as_str());
    // A workload of your own may have a setup that needs every input;
    // the built-in ones run on an input at a time.
    let task = match &experiment.workload {
        Workload::Named(_) => registry.task(&experiment.workload, &experiment.inputs.values()).with_context(failed)?,
        builtin => builtin.task(),
    };
    let started = Instant::now();
    let mut runs = 0;
    for index in 0..experiment.inputs.len().min(PROBE_INPUTS) {
        let Some(x) = experiment.inputs.get(index) else { break };
        let fails = || format!("experiment {:?}: the workload fails on input #{index}", experiment.name.as_str());
        // A workload of your own may panic: an error naming the input, not an abort.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(index, x)))
            .map_err(|_| anyhow::anyhow!("it panicked (the message is above)"))
            .with_context(fails)?
            .with_context(fails)?;
        runs += 1;
        if started.elapsed() >= PROBE_BUDGET {
            break;
        }
    }
    Ok(started.elapsed().as_secs_f64() / f64::from(runs.max(1)))
}

/// A nominal cost per input, without running anything (for `--list`);
/// `None` for an external command, whose cost only a run can tell.
pub fn nominal_seconds_per_input(workload: &Workload) -> Option<f64> {
    Some(match workload {
        Workload::Sleep { duration_us } | Workload::Spin { duration_us } => *duration_us as f64 * 1e-6,
        Workload::Skewed { mean_us, .. } => *mean_us as f64 * 1e-6,
        Workload::SpinIters { iterations } => *iterations as f64 * 1e-9,
        Workload::Square => 2e-9,
        Workload::MemoryBound { bytes } => *bytes as f64 / 4e9,
        Workload::Command { .. } | Workload::Named(_) => return None,
    })
}

/// Estimated wall time of the whole experiment, warm-up included, from the
/// cost of one input: a run on `p` workers takes the sequential time over
/// `p` (sleeping tasks) or over `min(p, cores)` (tasks that need a core),
/// plus a scheduling cost per input.
pub fn estimate(experiment: &Experiment, seconds_per_input: f64, cores: usize) -> Duration {
    /// Scheduling cost per input of a parallel map (generous).
    const OVERHEAD_PER_INPUT_S: f64 = 200e-9;
    let n = |workers| experiment.inputs.len_for(workers) as f64;
    let sequential = n(1) * seconds_per_input;
    let sleeps = matches!(experiment.workload, Workload::Sleep { .. });
    let runs_per_cell = f64::from(experiment.warmup) + f64::from(experiment.repetitions.get());
    let total: f64 = cells(experiment)
        .iter()
        .map(|cell| {
            if !cell.backend.is_parallel() {
                return sequential;
            }
            let parallel = if sleeps { cell.workers } else { cell.workers.min(cores.max(1)) } as f64;
            // Weak scaling: p workers get p times the inputs.
            n(cell.workers) * seconds_per_input / parallel + n(cell.workers) * OVERHEAD_PER_INPUT_S
        })
        .sum::<f64>()
        * runs_per_cell;
    Duration::try_from_secs_f64(total).unwrap_or(Duration::MAX)
}

/// An estimate in words: "about 3 min 02 s", or "more than 30 years"
/// (never "about more than ...").
pub fn about(estimate: Duration) -> String {
    let text = format_duration(estimate);
    if text.starts_with("more than") {
        text
    } else {
        format!("about {text}")
    }
}

/// `1 h 05 min`, `3 min 20 s`, `12.5 s`.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if duration == Duration::MAX || seconds >= 1e9 {
        "more than 30 years".to_owned()
    } else if seconds >= 3600.0 {
        let minutes = (seconds / 60.0).round() as u64;
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    } else if seconds >= 60.0 {
        let whole = seconds.round() as u64;
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        format!("{seconds:.1} s")
    }
}

/// `12.3 GB` (decimal units).
pub fn format_bytes(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::experiment;

    #[test]
    fn a_trillion_inputs_are_refused_without_allocating() {
        let huge = experiment(
            "(experiments: [(name: \"huge\", workload: Square, inputs: Count(1000000000000), workers: [1, 2], \
             repetitions: 1, backends: [Sequential, Pool])])",
        );
        assert_eq!(huge.inputs.len(), 1_000_000_000_000);
        let error = check_memory(&huge, Some(16_000_000_000)).unwrap_err();
        assert_eq!(
            error,
            "experiment \"huge\": 1000000000000 inputs need about 32.0 TB of memory, but only 16.0 GB is available; \
             use fewer inputs"
        );
        assert!(check_memory(&huge, None).is_ok(), "32 TB fits the address space; the machine decides");
        let small = experiment(
            "(experiments: [(name: \"s\", workload: MemoryBound(bytes: 1000000000), inputs: Count(10), \
             workers: [1, 64], repetitions: 1, backends: [Sequential, Pool])])",
        );
        let error = check_memory(&small, Some(16_000_000_000)).unwrap_err();
        assert!(error.contains("10 inputs and 64 buffers of 1.0 GB need about 64.0 GB"), "{error}");
        // PerWorker sizes that overflow are refused with the sizes as written.
        let weak = experiment(
            "(experiments: [(name: \"w\", workload: Square, inputs: PerWorker(4611686018427387904), \
             workers: [1, 4], repetitions: 1, backends: [Sequential, Pool])])",
        );
        let error = check_memory(&weak, None).unwrap_err();
        assert!(
            error.starts_with("experiment \"w\": 4611686018427387904 inputs per worker × 4 workers need"),
            "{error}"
        );
    }

    #[test]
    fn the_estimate_follows_workers_cores_and_repetitions() {
        let spin = experiment(
            "(experiments: [(name: \"s\", workload: Spin(duration_us: 1000), inputs: Count(1000), \
             workers: [1, 2, 4], repetitions: 9, warmup: 1, backends: [Sequential, StdScope])])",
        );
        // Sequential 1 s; std-scope 1 s, 0.5 s, 0.5 s (2 cores) plus 0.2 ms of overhead each; 10 runs per cell.
        let estimate = estimate(&spin, 1e-3, 2).as_secs_f64();
        assert!((estimate - 10.0 * (1.0 + 1.0 + 0.5 + 0.5 + 3.0 * 2e-4)).abs() < 1e-9, "{estimate}");
        assert_eq!(format_duration(Duration::from_secs(3 * 3600 + 5 * 60)), "3 h 05 min");
        assert_eq!(format_duration(Duration::from_secs(200)), "3 min 20 s");
        assert_eq!(format_duration(Duration::MAX), "more than 30 years");
        assert_eq!(about(Duration::MAX), "more than 30 years");
        assert_eq!(about(Duration::from_secs(61)), "about 1 min 01 s");
    }

    #[cfg(unix)]
    #[test]
    fn a_command_is_run_once_before_anything_is_measured() {
        let config = |program: &str, args: &str| {
            experiment(&format!(
                "(experiments: [(name: \"c\", workload: Command(program: {program:?}, args: {args}), \
                 inputs: Values([1.5, 2.0]), workers: [1], repetitions: 1, backends: [Sequential])])"
            ))
        };
        assert!(probe(&config("sh", r#"["-c", "echo {x}"]"#), &Registry::new()).is_ok());
        let missing = format!("{:#}", probe(&config("parsweep-no-such-program", "[]"), &Registry::new()).unwrap_err());
        assert!(missing.contains("on input #0") && missing.contains("cannot run command"), "{missing}");
        let words = format!("{:#}", probe(&config("echo", r#"["done"]"#), &Registry::new()).unwrap_err());
        assert!(words.contains("(input x = 1.5) printed \"done\", which is not a number"), "{words}");
    }

    #[test]
    fn a_built_in_task_longer_than_the_probe_is_estimated_without_running_it() {
        let hours = experiment(
            "(experiments: [(name: \"h\", workload: Spin(duration_us: 3000000), inputs: Count(2), \
             workers: [1], repetitions: 1, backends: [Sequential])])",
        );
        let started = Instant::now();
        assert_eq!(probe(&hours, &Registry::new()).unwrap(), 3.0, "nominal: 3 s per input");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn an_unwritable_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let error = format!("{:#}", check_writable(&file.join("reports")).unwrap_err());
        assert!(error.starts_with("cannot create the output directory"), "{error}");
        check_writable(&dir.path().join("new/reports")).unwrap();
    }
}
