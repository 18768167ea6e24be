//! The functions an experiment maps over its inputs.
//!
//! Every workload computes the seed tutorial's `f(x) = x²` (so all backends can
//! be checked against each other) and differs in what it costs: sleeping,
//! spinning the CPU, touching memory, or running an external program.

use std::fmt;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sweep::command::RunError;

/// Skewed task durations are capped at this multiple of their mean, so a
/// single draw from the heavy tail cannot make a run arbitrarily long.
const SKEW_CAP_FACTOR: f64 = 50.0;

/// What one task does for one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Workload {
    /// `Sleep(duration_us: 2000)`: sleep, then return x² — the seed's
    /// `time.sleep(2)`, scaled down. Idle, so it scales past the core count.
    Sleep {
        /// Sleep length per input, in microseconds.
        duration_us: u64,
    },
    /// `Spin(duration_us: 200)`: keep one core busy for the given time.
    Spin {
        /// Busy time per input, in microseconds.
        duration_us: u64,
    },
    /// `SpinIters(iterations: 100000)`: a fixed amount of arithmetic, whose
    /// time depends on the CPU rather than on a clock.
    SpinIters {
        /// Loop iterations per input.
        iterations: u64,
    },
    /// `Square`: just x², so nearly all measured time is scheduling overhead.
    Square,
    /// `Skewed(mean_us: 200, shape: 1.5)`: spin for a Pareto-distributed time
    /// with the given mean; the time is a fixed function of the input's index,
    /// so every backend sees the same imbalance. Smaller `shape` = heavier tail.
    Skewed {
        /// Mean busy time per input, in microseconds.
        mean_us: u64,
        /// Pareto shape (tail index), greater than 1 so the mean exists.
        shape: f64,
    },
    /// `MemoryBound(bytes: 1048576)`: fill and sum a fresh buffer of this
    /// size per input, so the memory bus rather than the cores limits speedup.
    MemoryBound {
        /// Buffer size per input, in bytes.
        bytes: usize,
    },
    /// `Command(program: "sh", args: ["-c", "echo {x}"])`: run an external
    /// program once per input, `{x}` in the arguments replaced by the input.
    /// Its standard output, if it is a number, is the result.
    /// `timeout_s: Some(30.0)` kills a run that takes longer (its whole
    /// process group) and fails it.
    Command {
        /// Program to run (looked up on `PATH`).
        program: String,
        /// Arguments; every `{x}` is replaced by the input value.
        args: Vec<String>,
        /// Longest one run may take, in seconds; none by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_s: Option<f64>,
    },
    /// `Named("mandelbrot-rows")`: a function of your own, registered under
    /// this name with [`crate::custom::Registry::workload`] in a bench of yours.
    Named(String),
}

/// One run's function of an input's index and value: what a backend maps.
/// Shared (`Arc`) and `'static`, so pools that need owned tasks can hold it.
pub type Task = Arc<dyn Fn(usize, f64) -> Result<f64, WorkloadError> + Send + Sync>;

/// A task that could not compute its result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    /// The external program could not be started.
    #[error("cannot run command `{command}`: {reason}")]
    Spawn {
        /// The command line.
        command: String,
        /// The operating system's reason.
        reason: String,
    },
    /// A `Named` workload was run without the registry that defines it.
    #[error("workload {name:?} is not registered here; it is defined by a bench of your own")]
    Unregistered {
        /// The name in the configuration.
        name: String,
    },
    /// The external program's standard output is not a number.
    #[error("command `{command}` (input x = {input}) printed {output:?}, which is not a number")]
    NotANumber {
        /// The command line, `{x}` substituted.
        command: String,
        /// The input value.
        input: f64,
        /// Its standard output, trimmed (at most 200 characters).
        output: String,
    },
    /// The external program ran longer than its `timeout_s` and was killed.
    #[error("command `{command}` (input x = {input}) took longer than its timeout of {seconds} s and was killed")]
    TimedOut {
        /// The command line, `{x}` substituted.
        command: String,
        /// The input value.
        input: f64,
        /// The configured timeout.
        seconds: f64,
    },
    /// The external program was killed because the harness is stopping.
    #[error("command `{command}` (input x = {input}) was killed: the harness is stopping")]
    Stopped {
        /// The command line, `{x}` substituted.
        command: String,
        /// The input value.
        input: f64,
    },
    /// The external program ran and failed.
    #[error("command `{command}` failed with {status}{stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status, as the OS describes it.
        status: String,
        /// Its standard error, prefixed with `: `, or empty.
        stderr: String,
    },
}

impl Workload {
    /// Checks values that serde cannot: a skew shape that has a mean, a
    /// non-empty program name, a buffer of at least one word.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Workload::Skewed { mean_us, shape } => {
                if !(shape.is_finite() && *shape > 1.0) {
                    return Err(format!(
                        "Skewed `shape` must be greater than 1 (the mean is infinite otherwise), got {shape:?}"
                    ));
                }
                if *mean_us == 0 {
                    return Err("Skewed `mean_us` must be at least 1".to_owned());
                }
            }
            Workload::MemoryBound { bytes } if *bytes < 8 => {
                return Err(format!("MemoryBound `bytes` must be at least 8, got {bytes}"));
            }
            Workload::Command { program, .. } if program.trim().is_empty() => {
                return Err("Command `program` must not be empty".to_owned());
            }
            Workload::Named(name) if name.trim().is_empty() => {
                return Err("a `Named` workload needs a name".to_owned());
            }
            Workload::Command { timeout_s: Some(seconds), .. } if timeout_limit(*seconds).is_none() => {
                return Err(format!(
                    // `{:?}`: the shortest digits that give the value back, in
                    // exponent form when large (`1e300`, not 301 digits).
                    "Command `timeout_s` must be a positive number of seconds (at most {MAX_TIMEOUT_S:e}), got \
                     {seconds:?}"
                ));
            }
            Workload::Command { args, .. } => {
                for arg in args {
                    if let Some(placeholder) = unknown_placeholder(arg) {
                        return Err(format!(
                            "Command argument {arg:?} contains the placeholder {placeholder}; only {{x}} (the input) \
                             is replaced"
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether every input keeps a core busy for its whole time, so that p
    /// workers on c cores cannot run faster than `min(p, c)` times the
    /// sequential loop. `Sleep` idles: the seed tutorial's sleeping tasks
    /// legitimately reach S ≈ 10 with 16 workers on 2 cores. A command or a
    /// registered function is the user's code and may wait just as well (a
    /// sleep, the disk, the network), so neither is held to the cores.
    pub fn is_cpu_bound(&self) -> bool {
        match self {
            Workload::Spin { .. }
            | Workload::SpinIters { .. }
            | Workload::Square
            | Workload::Skewed { .. }
            | Workload::MemoryBound { .. } => true,
            Workload::Sleep { .. } | Workload::Command { .. } | Workload::Named(_) => false,
        }
    }

    /// Whether the result depends only on the input, so backends can be
    /// checked against the sequential reference (external commands may not be).
    pub fn is_deterministic(&self) -> bool {
        !matches!(self, Workload::Command { .. })
    }

    /// This workload as a [`Task`].
    pub fn task(&self) -> Task {
        let workload = self.clone();
        Arc::new(move |index, x| workload.run(index, x))
    }

    /// Computes the result for the input `x` at position `index`.
    pub fn run(&self, index: usize, x: f64) -> Result<f64, WorkloadError> {
        match self {
            Workload::Sleep { duration_us } => {
                std::thread::sleep(Duration::from_micros(*duration_us));
            }
            Workload::Spin { duration_us } => spin_for(Duration::from_micros(*duration_us)),
            Workload::SpinIters { iterations } => {
                black_box(spin_iterations(*iterations));
            }
            Workload::Square => {}
            Workload::Skewed { mean_us, shape } => {
                let micros = skewed_duration_us(index, *mean_us as f64, *shape);
                spin_for(Duration::from_secs_f64(micros / 1e6));
            }
            Workload::MemoryBound { bytes } => {
                black_box(stream_buffer(*bytes, index));
            }
            Workload::Command { program, args, timeout_s } => {
                return run_command(program, args, timeout_s.and_then(timeout_limit), x)
            }
            Workload::Named(name) => return Err(WorkloadError::Unregistered { name: name.clone() }),
        }
        Ok(black_box(x) * x)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workload::Sleep { duration_us } => write!(f, "sleep {duration_us} µs per input"),
            Workload::Spin { duration_us } => write!(f, "busy-spin {duration_us} µs per input"),
            Workload::SpinIters { iterations } => {
                write!(f, "{iterations} arithmetic iterations per input")
            }
            Workload::Square => f.write_str("x² only (no work: pure scheduling overhead)"),
            Workload::Skewed { mean_us, shape } => {
                write!(f, "busy-spin for a Pareto time (mean {mean_us} µs, shape {shape}) per input")
            }
            Workload::MemoryBound { bytes } => {
                write!(f, "fill and sum a {bytes}-byte buffer per input")
            }
            Workload::Command { program, args, timeout_s } => {
                write!(f, "run `{}` per input", command_line(program, args))?;
                match timeout_s {
                    Some(seconds) => write!(f, " (timeout {seconds} s)"),
                    None => Ok(()),
                }
            }
            Workload::Named(name) => write!(f, "{name}"),
        }
    }
}

/// Busy-waits on the calling thread for `duration`.
fn spin_for(duration: Duration) {
    let start = Instant::now();
    let mut counter = 0u64;
    while start.elapsed() < duration {
        // Some work between clock reads so the loop is not all syscalls.
        counter = black_box(spin_iterations(64).wrapping_add(counter));
    }
    black_box(counter);
}

/// A dependent chain of integer arithmetic the optimizer cannot remove.
fn spin_iterations(iterations: u64) -> u64 {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..iterations {
        state = black_box(state.rotate_left(5) ^ i).wrapping_mul(0x2545_F491_4F6C_DD1D);
    }
    state
}

/// Writes then sums a buffer of about `bytes` bytes; `seed` varies its content.
fn stream_buffer(bytes: usize, seed: usize) -> u64 {
    let words = (bytes / 8).max(1);
    let buffer: Vec<u64> = (0..words as u64).map(|i| i ^ seed as u64).collect();
    buffer.iter().fold(0u64, |sum, &w| sum.wrapping_add(w))
}

/// The busy time of the `index`-th input of a `Skewed` workload, in
/// microseconds: a Pareto draw with the given mean and shape, computed from a
/// hash of the index (so it is the same on every run and every backend).
pub fn skewed_duration_us(index: usize, mean_us: f64, shape: f64) -> f64 {
    // Uniform in (0, 1]: the top 53 bits of a SplitMix64 hash, never zero.
    let uniform = ((splitmix64(index as u64) >> 11) + 1) as f64 / (1u64 << 53) as f64;
    // Pareto with minimum x_m has mean x_m * shape / (shape - 1).
    let minimum = mean_us * (shape - 1.0) / shape;
    (minimum * uniform.powf(-1.0 / shape)).min(mean_us * SKEW_CAP_FACTOR)
}

/// SplitMix64: a well-mixed 64-bit hash of `x`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The first `{name}` in `arg` other than `{x}`, if any.
fn unknown_placeholder(arg: &str) -> Option<&str> {
    let mut rest = arg;
    while let Some(start) = rest.find('{') {
        let tail = &rest[start..];
        let end = tail.find('}')?;
        let placeholder = &tail[..=end];
        let name = &placeholder[1..placeholder.len() - 1];
        if placeholder != "{x}" && !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Some(placeholder);
        }
        rest = &tail[1..];
    }
    None
}

fn command_line(program: &str, args: &[String]) -> String {
    std::iter::once(program).chain(args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
}

/// Raised for good by [`kill_running_commands`]; every external command
/// watches it.
///
/// Every command leads a process group of its own (sweep's runner puts it
/// there): a terminal's Ctrl-C (which signals the whole foreground group)
/// does not reach it, so the harness decides. While measuring it lets the
/// current run finish; before that, and at a second Ctrl-C, it ends them
/// with [`kill_running_commands`] and exits. A timeout kills the whole
/// group, so nothing a command started in the background outlives it. On
/// Linux the runner's guardian also kills the groups of commands still
/// running when the harness exits, however it exits.
static STOP_COMMANDS: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

fn stop_commands() -> &'static Arc<AtomicBool> {
    STOP_COMMANDS.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Kills every external command running now, with what each started, and
/// any started from now on (the harness is about to exit).
pub fn kill_running_commands() {
    stop_commands().store(true, Ordering::SeqCst);
}

/// A number never needs more characters than this; an external command
/// that prints more is refused without its output being kept in memory.
const MAX_COMMAND_OUTPUT: usize = 4096;

/// The largest `timeout_s` accepted: about 31 years, far below where a
/// `Duration` overflows.
const MAX_TIMEOUT_S: f64 = 1e9;

/// `seconds` as a timeout, if it is one (finite, positive, not absurd).
fn timeout_limit(seconds: f64) -> Option<Duration> {
    (seconds > 0.0 && seconds <= MAX_TIMEOUT_S).then(|| Duration::from_secs_f64(seconds))
}

/// Runs `program` with `{x}` substituted, through sweep's command runner;
/// the result is its standard output parsed as a finite number (anything
/// else is an error naming input and output). At most
/// [`MAX_COMMAND_OUTPUT`] bytes of stdout are accepted, and the last as
/// many of stderr kept. With a `timeout`, a run still going then is killed
/// with its process group and fails.
fn run_command(program: &str, args: &[String], timeout: Option<Duration>, x: f64) -> Result<f64, WorkloadError> {
    let value = x.to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("{x}", &value)).collect();
    let command = command_line(program, &args);
    let argv: Vec<String> = std::iter::once(program.to_owned()).chain(args).collect();
    let options =
        sweep::CommandOptions { timeout, capture_limit: MAX_COMMAND_OUTPUT, cancel: Some(Arc::clone(stop_commands())) };
    let shown = |text: &str, too_long: bool| {
        let mut shown: String = text.chars().take(200).collect();
        if too_long || shown.len() < text.len() {
            shown.push('…');
        }
        if too_long {
            shown.push_str(&format!(" (more than {MAX_COMMAND_OUTPUT} bytes)"));
        }
        shown
    };
    let spawn_error = |reason: String| WorkloadError::Spawn { command: command.clone(), reason };
    let output = match sweep::command::run(&argv, &options) {
        Ok(output) => output,
        Err(RunError::Empty) => return Err(spawn_error("the command is empty".to_owned())),
        Err(RunError::Start(error) | RunError::Wait(error)) => return Err(spawn_error(error.to_string())),
        Err(RunError::TimedOut(limit)) => {
            return Err(WorkloadError::TimedOut { command, input: x, seconds: limit.as_secs_f64() })
        }
        Err(RunError::Cancelled) => return Err(WorkloadError::Stopped { command, input: x }),
        Err(RunError::Overflowed { start, .. }) => {
            let output = shown(String::from_utf8_lossy(&start).trim(), true);
            return Err(WorkloadError::NotANumber { command, input: x, output });
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(WorkloadError::Failed {
            command,
            status: output.status.to_string(),
            stderr: if stderr.is_empty() { String::new() } else { format!(": {stderr}") },
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = stdout.trim();
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(WorkloadError::NotANumber { command, input: x, output: shown(text, false) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn every_cheap_workload_computes_the_square() {
        let workloads = [
            Workload::Square,
            Workload::Sleep { duration_us: 1 },
            Workload::Spin { duration_us: 1 },
            Workload::SpinIters { iterations: 10 },
            Workload::Skewed { mean_us: 1, shape: 2.0 },
            Workload::MemoryBound { bytes: 64 },
        ];
        for workload in &workloads {
            assert_eq!(workload.run(3, -1.5), Ok(2.25), "{workload:?}");
        }
    }

    #[test]
    fn spin_takes_at_least_its_duration() {
        let start = Instant::now();
        Workload::Spin { duration_us: 2_000 }.run(0, 1.0).unwrap();
        assert!(start.elapsed() >= Duration::from_micros(2_000));
    }

    #[test]
    fn skewed_durations_are_deterministic_heavy_tailed_and_capped() {
        let draws: Vec<f64> = (0..20_000).map(|i| skewed_duration_us(i, 100.0, 1.5)).collect();
        let again: Vec<f64> = (0..20_000).map(|i| skewed_duration_us(i, 100.0, 1.5)).collect();
        assert_eq!(draws, again);
        let minimum = 100.0 * 0.5 / 1.5;
        assert!(draws.iter().all(|&d| d >= minimum - 1e-9 && d <= 100.0 * SKEW_CAP_FACTOR));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        // The cap trims a little of the mean; the tail keeps it near 100.
        assert!((80.0..110.0).contains(&mean), "mean {mean}");
        let mut sorted = draws.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        assert!(median < mean, "heavy tail: median {median} < mean {mean}");
    }

    #[test]
    fn validate_refuses_shapes_without_a_mean_and_empty_programs() {
        assert!(Workload::Skewed { mean_us: 10, shape: 1.0 }.validate().is_err());
        assert!(Workload::Skewed { mean_us: 10, shape: 1.2 }.validate().is_ok());
        let empty = Workload::Command { program: " ".into(), args: vec![], timeout_s: None };
        assert!(empty.validate().is_err());
        assert!(Workload::MemoryBound { bytes: 4 }.validate().is_err());
    }

    /// `timeout_s: Some(1e300)` was echoed in its refusal as 301 digits.
    #[test]
    fn a_refused_number_is_echoed_short_not_in_hundreds_of_digits() {
        let timeout =
            |seconds: f64| Workload::Command { program: "echo".into(), args: vec![], timeout_s: Some(seconds) };
        let skewed = Workload::Skewed { mean_us: 10, shape: -1e300 };
        for (workload, echoed) in [(timeout(1e300), "got 1e300"), (timeout(-2.5), "got -2.5"), (skewed, "got -1e300")] {
            let message = workload.validate().unwrap_err();
            assert!(message.ends_with(echoed) && message.len() < 160, "{message}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn command_substitutes_x_and_parses_its_output() {
        let echo =
            Workload::Command { program: "sh".into(), args: vec!["-c".into(), "echo {x}".into()], timeout_s: None };
        assert_eq!(echo.run(0, -0.5), Ok(-0.5));
    }

    #[cfg(unix)]
    #[test]
    fn failing_command_names_the_command_and_status() {
        let failing =
            Workload::Command { program: "sh".into(), args: vec!["-c".into(), "exit 3".into()], timeout_s: None };
        let message = failing.run(0, 1.0).unwrap_err().to_string();
        assert!(message.contains("sh -c exit 3"), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn non_numeric_output_is_an_error_naming_input_and_output() {
        let typo = Workload::Command { program: "echo".into(), args: vec!["{y}".into()], timeout_s: None };
        let error = typo.run(0, 2.5).unwrap_err().to_string();
        assert_eq!(error, "command `echo {y}` (input x = 2.5) printed \"{y}\", which is not a number");
        assert!(typo.validate().unwrap_err().contains("placeholder {y}; only {x}"));
        let nan = Workload::Command { program: "echo".into(), args: vec!["NaN".into()], timeout_s: None };
        assert!(matches!(nan.run(0, 1.0), Err(WorkloadError::NotANumber { .. })));
        let inf = Workload::Command { program: "echo".into(), args: vec!["-inf".into()], timeout_s: None };
        assert!(matches!(inf.run(0, 1.0), Err(WorkloadError::NotANumber { .. })), "not a finite number");
        // Braces that are not placeholders (shell, awk) are fine.
        let awk = Workload::Command {
            program: "sh".into(),
            args: vec!["-c".into(), "awk '{ print {x} }'".into()],
            timeout_s: None,
        };
        assert!(awk.validate().is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_command_past_its_timeout_is_killed_with_what_it_started() {
        let slow = Workload::Command {
            program: "sh".into(),
            args: vec!["-c".into(), "sleep 29.8765 & sleep 29.8765; echo {x}".into()],
            timeout_s: Some(0.2),
        };
        assert!(slow.validate().is_ok());
        let start = Instant::now();
        let error = slow.run(0, 1.5).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10), "waited for the command: {:?}", start.elapsed());
        assert_eq!(
            error.to_string(),
            "command `sh -c sleep 29.8765 & sleep 29.8765; echo 1.5` (input x = 1.5) took longer than its timeout \
             of 0.2 s and was killed"
        );
        // Neither sleep outlives the kill.
        let mut left = String::new();
        for _ in 0..100 {
            let found = Command::new("pgrep").args(["-f", "sleep 29.8765"]).output();
            left = found.map(|out| String::from_utf8_lossy(&out.stdout).into_owned()).unwrap_or_default();
            if left.trim().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(left.trim().is_empty(), "still running: {left}");
        let quick = Workload::Command { program: "echo".into(), args: vec!["{x}".into()], timeout_s: Some(5.0) };
        assert_eq!(quick.run(0, 2.0), Ok(2.0));
        assert_eq!(quick.to_string(), "run `echo {x}` per input (timeout 5 s)");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_background_job_left_behind_neither_delays_nor_outlives_its_command() {
        // The job holds stdout open; waiting for the pipe to close would
        // take its 29 seconds.
        let leaves = Workload::Command {
            program: "sh".into(),
            args: vec!["-c".into(), "sleep 29.8764 & echo {x}".into()],
            timeout_s: None,
        };
        let start = Instant::now();
        assert_eq!(leaves.run(0, 4.0), Ok(4.0));
        assert!(start.elapsed() < Duration::from_secs(10), "waited for the job: {:?}", start.elapsed());
        let mut left = String::new();
        for _ in 0..100 {
            let found = Command::new("pgrep").args(["-f", "sleep 29.8764"]).output();
            left = found.map(|out| String::from_utf8_lossy(&out.stdout).into_owned()).unwrap_or_default();
            if left.trim().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(left.trim().is_empty(), "still running: {left}");
    }

    #[test]
    fn a_timeout_that_is_not_a_positive_number_of_seconds_is_refused() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            let command = Workload::Command { program: "true".into(), args: vec![], timeout_s: Some(bad) };
            let message = command.validate().unwrap_err();
            assert!(message.contains("`timeout_s` must be a positive number of seconds"), "{bad}: {message}");
        }
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let missing = Workload::Command { program: "parsweep-no-such-program".into(), args: vec![], timeout_s: None };
        let error = missing.run(0, 1.0).unwrap_err();
        assert!(matches!(error, WorkloadError::Spawn { .. }), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn endless_output_is_refused_without_being_kept() {
        // A megabyte of digits: it would parse (as inf), and a gigabyte would fill memory.
        let flood = Workload::Command {
            program: "sh".into(),
            args: vec!["-c".into(), "head -c 1000000 /dev/zero | tr '\\0' 1; echo 'to stderr' >&2".into()],
            timeout_s: None,
        };
        let error = flood.run(0, 1.0).unwrap_err().to_string();
        assert!(error.ends_with("… (more than 4096 bytes)\", which is not a number"), "{error}");
        assert!(error.len() < 600, "only the start of the output is shown: {error}");
        // Stderr is drained too: a program that floods it still finishes.
        let noisy = Workload::Command {
            program: "sh".into(),
            args: vec!["-c".into(), "head -c 1000000 /dev/zero >&2; echo 7".into()],
            timeout_s: None,
        };
        assert_eq!(noisy.run(0, 1.0), Ok(7.0));
    }
}
