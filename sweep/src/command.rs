//! External black boxes: an argv template with `{name}` placeholders, run
//! once per point without a shell; its stdout is the point's value.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::point::Point;

#[cfg(target_os = "linux")]
mod guardian;
#[cfg(target_os = "linux")]
mod orphans;
mod persistent;

#[cfg(target_os = "linux")]
pub use orphans::Orphans;
pub use persistent::Persistent;

/// Elsewhere nothing is adopted: spawning registers nothing, and there is
/// nothing to reap.
#[cfg(not(target_os = "linux"))]
mod orphans {
    pub(super) struct Own;

    pub(super) fn spawn(command: &mut std::process::Command) -> std::io::Result<(std::process::Child, Own)> {
        command.spawn().map(|child| (child, Own))
    }

    pub(super) fn reap_exited() {}
}

/// How many bytes of a failing command's stderr go into the error message.
const STDERR_TAIL_BYTES: usize = 600;

/// Why a command template is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// The argv list is empty.
    #[error("the command is empty; give at least the program, e.g. [\"./sim\", \"--x\", \"{{x}}\"]")]
    Empty,
    /// A placeholder names no coordinate of the space.
    #[error("argument {argument:?} uses placeholder {{{name}}}, but the space only has {known:?} (write {{{{ or }}}} for a literal brace)")]
    UnknownPlaceholder {
        /// The template argument containing it.
        argument: String,
        /// The unknown name.
        name: String,
        /// Coordinate names of the space.
        known: Vec<String>,
    },
    /// The program (the first argument, without placeholders) is not an
    /// executable file, nor the name of one on `PATH`.
    #[error("program {program:?} {problem}: every point would fail; check the spec's command")]
    ProgramNotFound {
        /// The program as the spec gives it.
        program: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A regular file this user may execute (by its mode bits; on other
/// platforms, any regular file).
fn is_executable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// One piece of a template argument.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Coordinate(String),
}

/// An argv list whose arguments may contain `{name}` placeholders.
///
/// `{name}` is replaced by the point's coordinate `name`; `{{` and `}}` are
/// literal braces; any other brace is kept as is, so programs such as
/// `awk 'BEGIN { print 2 * {x} }'` need no escaping. A `{identifier}` that is
/// not a coordinate is an error (it is almost always a typo).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandTemplate {
    arguments: Vec<Vec<Piece>>,
}

impl CommandTemplate {
    /// Parses `argv`, checking placeholders against the coordinate `names`.
    pub fn new(argv: &[String], names: &[String]) -> Result<Self, TemplateError> {
        if argv.is_empty() {
            return Err(TemplateError::Empty);
        }
        let arguments = argv.iter().map(|argument| parse_argument(argument, names)).collect::<Result<_, _>>()?;
        Ok(CommandTemplate { arguments })
    }

    /// Checks that the program exists and is executable, as `execvp` would
    /// find it (a name without `/` is looked up on `PATH`), so that a typo
    /// is refused before any point is started and recorded as failed. A
    /// program chosen by a placeholder is checked per point, when it runs.
    pub fn check_program(&self) -> Result<(), TemplateError> {
        let [Piece::Literal(program)] = self.arguments[0].as_slice() else { return Ok(()) };
        let not_found = |problem: String| Err(TemplateError::ProgramNotFound { program: program.clone(), problem });
        if program.contains('/') {
            return match std::fs::metadata(program) {
                Ok(meta) if is_executable(&meta) => Ok(()),
                Ok(_) => not_found("is not an executable file".to_owned()),
                Err(error) => not_found(format!("cannot be run: {error}")),
            };
        }
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        let found = std::env::split_paths(&path)
            .any(|dir| std::fs::metadata(dir.join(program)).is_ok_and(|meta| is_executable(&meta)));
        if found {
            Ok(())
        } else {
            not_found("is not found: no executable of that name on PATH".to_owned())
        }
    }

    /// Whether any argument names a coordinate.
    pub fn has_placeholders(&self) -> bool {
        self.arguments.iter().flatten().any(|piece| matches!(piece, Piece::Coordinate(_)))
    }

    /// The argv for one point.
    pub fn render(&self, point: &Point) -> Vec<String> {
        self.arguments
            .iter()
            .map(|pieces| {
                pieces
                    .iter()
                    .map(|piece| match piece {
                        Piece::Literal(text) => text.clone(),
                        // Names were checked against the space in `new`.
                        Piece::Coordinate(name) => point.get(name).map(ToString::to_string).unwrap_or_default(),
                    })
                    .collect()
            })
            .collect()
    }
}

/// Whether `text` can be named by a `{placeholder}`: letters, digits and
/// `_`. A spec's axis names must be such names (see [`crate::Spec`]), so
/// that no axis is left out of its command unnoticed.
pub(crate) fn is_identifier(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn parse_argument(argument: &str, names: &[String]) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = argument;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") || rest.starts_with("}}") {
            literal.push(c);
            rest = &rest[2..];
            continue;
        }
        if c == '{' {
            if let Some(end) = rest.find('}') {
                let name = &rest[1..end];
                if is_identifier(name) {
                    if !names.iter().any(|n| n == name) {
                        return Err(TemplateError::UnknownPlaceholder {
                            argument: argument.to_owned(),
                            name: name.to_owned(),
                            known: names.to_vec(),
                        });
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Coordinate(name.to_owned()));
                    rest = &rest[end + 1..];
                    continue;
                }
            }
        }
        literal.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !literal.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// Default cap on a black box's captured stdout, and on the stderr tail
/// kept for error messages: 1 MiB each.
pub const DEFAULT_CAPTURE_LIMIT: usize = 1 << 20;

/// How to run black boxes.
#[derive(Debug, Clone)]
pub struct CommandOptions {
    /// Per-point time limit; the command's process group is killed past it.
    pub timeout: Option<Duration>,
    /// Most bytes of stdout kept; a command printing more is killed and its
    /// point fails saying so. Of stderr only the last this many bytes are
    /// kept (it is read to the end, so a chatty command never blocks).
    pub capture_limit: usize,
    /// Set to kill running commands (their whole process groups) at once,
    /// e.g. when a stopped sweep's grace period ends.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for CommandOptions {
    fn default() -> Self {
        CommandOptions { timeout: None, capture_limit: DEFAULT_CAPTURE_LIMIT, cancel: None }
    }
}

/// How a black box's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Exit {
    /// Its exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

impl Exit {
    fn of(status: ExitStatus) -> Exit {
        #[cfg(unix)]
        let signal = std::os::unix::process::ExitStatusExt::signal(&status);
        #[cfg(not(unix))]
        let signal = None;
        Exit { code: status.code(), signal }
    }
}

/// The outcome of evaluating one point, and how its process ended when it
/// was an external command.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The value, or why there is none.
    pub outcome: Result<serde_json::Value, String>,
    /// How the black box's process ended (`None` for closures, or when it
    /// could not start).
    pub exit: Option<Exit>,
}

impl From<Result<serde_json::Value, String>> for Evaluation {
    fn from(outcome: Result<serde_json::Value, String>) -> Self {
        Evaluation { outcome, exit: None }
    }
}

/// Runs `argv` (no shell) and parses its stdout as the value: a number or
/// any JSON value (surrounding whitespace ignored).
///
/// Fails, with a message meant for the results file, when the program cannot
/// start, exits unsuccessfully (status and the tail of stderr), prints
/// something unparsable or more than [`DEFAULT_CAPTURE_LIMIT`], or runs past
/// `timeout` — in which case it is killed together with anything it
/// started.
pub fn run_command(argv: &[String], timeout: Option<Duration>) -> Result<serde_json::Value, String> {
    let options = CommandOptions { timeout, ..CommandOptions::default() };
    execute(argv, &options).map_or_else(|| Err("the command was cancelled".to_owned()), |e| e.outcome)
}

/// Runs `argv` like [`run_command`], with explicit limits, reporting how
/// the process ended. Returns `None` when `options.cancel` was set while it
/// ran: the command was killed and its point is not evaluated.
///
/// The command runs in a process group of its own, so that a timeout, a
/// cancel or an oversized output kills everything it started. On Linux it
/// is also killed (SIGKILL) if the thread that started it dies, and a
/// guardian process kills its whole group if this process dies, e.g. when
/// `sweep` itself is killed with SIGKILL, so nothing it forked outlives
/// the sweep either. On Linux, when the command exits, whatever it left
/// running in its group is killed too (it would hold the pipes open, and
/// this call would wait for it past any time limit). A descendant that
/// leaves the group (`setsid`) is out of reach of all this, and one that
/// keeps stdout or stderr open delays the point until it closes them, the
/// time limit passes (the point times out) or the run is cancelled; a
/// caller that holds an [`Orphans`] (Linux) adopts the ones that escaped and
/// kills them when it drops it. While it holds it, descendants adopted that
/// have exited (the killed leftovers of the group too) are reaped each time
/// a command ends, so they do not pile up as zombies during a run.
pub fn execute(argv: &[String], options: &CommandOptions) -> Option<Evaluation> {
    let program = argv.first().map_or("", String::as_str);
    let failed = |message: String| Some(Evaluation { outcome: Err(message), exit: None });
    let output = match run(argv, options) {
        Ok(output) => output,
        Err(RunError::Cancelled) => return None,
        Err(RunError::Empty) => return failed("empty command".to_owned()),
        Err(RunError::Start(e)) => return failed(format!("cannot start {program:?}: {e}")),
        Err(RunError::Wait(e)) => return failed(format!("waiting for {program:?}: {e}")),
        Err(RunError::TimedOut(limit)) => {
            return failed(format!("timed out after {:.3} s; the command was killed", limit.as_secs_f64()))
        }
        Err(RunError::Overflowed { limit, .. }) => {
            return failed(format!(
                "the command printed more than {} on stdout, the capture limit; it was killed (raise the \
                 limit with --max-output if the value really is that large)",
                bytes(limit)
            ))
        }
    };
    let exit = Some(Exit::of(output.status));
    if !output.status.success() {
        let message = failure_message(program, &output.status.to_string(), &output.stderr);
        return Some(Evaluation { outcome: Err(message), exit });
    }
    Some(Evaluation { outcome: parse_value(&String::from_utf8_lossy(&output.stdout)), exit })
}

/// What a command that ran to its end left: how it ended and what it
/// printed (stdout whole, stderr's last bytes, both within the capture
/// limit).
#[derive(Debug)]
pub struct Output {
    /// How it exited.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// The end of its standard error.
    pub stderr: Vec<u8>,
}

/// Why [`run`] has no [`Output`].
#[derive(Debug)]
pub enum RunError {
    /// The argv list is empty.
    Empty,
    /// The program could not be started.
    Start(std::io::Error),
    /// Waiting for it failed; it was killed.
    Wait(std::io::Error),
    /// It ran past this time limit and was killed with its group.
    TimedOut(Duration),
    /// It printed more than `limit` bytes on stdout and was killed.
    Overflowed {
        /// The capture limit.
        limit: usize,
        /// The first `limit` bytes it printed.
        start: Vec<u8>,
    },
    /// `options.cancel` was set while it ran; it was killed.
    Cancelled,
}

/// Runs `argv` as [`execute`] does, with the same process-group, timeout,
/// capture, cancel and clean-up rules, and returns what it printed instead
/// of reading it as a value: for callers with their own idea of a result
/// and their own error messages.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use sweep::command::{run, CommandOptions};
/// let output = run(&["echo".to_owned(), "7".to_owned()], &CommandOptions::default()).unwrap();
/// assert!(output.status.success());
/// assert_eq!(output.stdout, b"7\n");
/// # }
/// ```
pub fn run(argv: &[String], options: &CommandOptions) -> Result<Output, RunError> {
    let Some((program, arguments)) = argv.split_first() else { return Err(RunError::Empty) };
    let mut command = Command::new(program);
    command.args(arguments).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(unix)]
    // A group of its own lets a kill reach grandchildren too (`sh -c`
    // forks); otherwise they would keep the pipes open after the kill.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    #[cfg(target_os = "linux")]
    die_with_parent(&mut command);
    let started = Instant::now();
    // Registered as ours, so no reaping of orphans takes its exit status,
    // until `own` is dropped below, once `wait` has reaped it.
    let (mut child, own) = orphans::spawn(&mut command).map_err(RunError::Start)?;
    // The child leads a group of its own, named by its pid.
    #[cfg(target_os = "linux")]
    let group = libc::pid_t::try_from(child.id()).unwrap_or(0);
    #[cfg(target_os = "linux")]
    guardian::watch(group);
    let overflow = Arc::new(AtomicBool::new(false));
    let stdout = drain(child.stdout.take(), options.capture_limit, Some(Arc::clone(&overflow)));
    let stderr = drain(child.stderr.take(), options.capture_limit, None);
    let ending = wait(&mut child, options, &overflow);
    #[cfg(target_os = "linux")]
    guardian::release(group);
    // A descendant that left the group (`setsid sim &`) can hold the pipes
    // open long after the command ended: its output is waited for only
    // within the command's time limit and until a cancel, never past them
    // (a run would hang on it, deaf to --timeout and to SIGTERM). Readers
    // still blocked then are left to end with the pipe.
    let ending = match ending {
        Ending::Exited(status) => {
            let deadline = options.timeout.map(|limit| (started + limit, limit));
            match wait_for_output(&[&stdout, &stderr], deadline, options.cancel.as_deref()) {
                Ok(()) => Ending::Exited(status),
                Err(ending) => ending,
            }
        }
        other => {
            // Killed: what it printed matters little, so wait briefly.
            let brief = (Instant::now() + Duration::from_millis(100), Duration::ZERO);
            let _ = wait_for_output(&[&stdout, &stderr], Some(brief), None);
            other
        }
    };
    let stdout = stdout.try_recv().unwrap_or_default();
    let stderr = stderr.try_recv().unwrap_or_default();
    // The child was reaped by `wait`; what it left behind and was adopted
    // is reaped now if it has exited (a leftover that its group's kill has
    // not finished off yet, at the next command's end).
    drop(own);
    orphans::reap_exited();
    match ending {
        Ending::Exited(status) => Ok(Output { status, stdout, stderr }),
        Ending::Cancelled => Err(RunError::Cancelled),
        Ending::WaitFailed(e) => Err(RunError::Wait(e)),
        Ending::TimedOut(limit) => Err(RunError::TimedOut(limit)),
        Ending::Overflowed => Err(RunError::Overflowed { limit: options.capture_limit, start: stdout }),
    }
}

/// `command `sim` failed (exit status: 3); stderr: …the last 600 bytes`.
fn failure_message(program: &str, how: &str, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let trimmed = text.trim_end();
    let tail_start = trimmed.len().saturating_sub(STDERR_TAIL_BYTES);
    let tail_start = (tail_start..=trimmed.len()).find(|i| trimmed.is_char_boundary(*i)).unwrap_or(trimmed.len());
    let ellipsis = if tail_start > 0 { "…" } else { "" };
    if trimmed.is_empty() {
        format!("command `{program}` failed ({how}) with no output on stderr")
    } else {
        format!("command `{program}` failed ({how}); stderr: {ellipsis}{}", &trimmed[tail_start..])
    }
}

/// `1 MiB`, `640 KiB`, `12 bytes`.
fn bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// Asks the kernel to SIGKILL the child when the thread that spawned it
/// dies (`sweep` killed, even by SIGKILL), so black boxes are not orphaned.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and only
    // calls async-signal-safe functions (prctl, getppid, kill); it
    // allocates nothing and touches no lock.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        });
    }
}

/// Parses a command's stdout: one number or JSON value.
pub fn parse_value(stdout: &str) -> Result<serde_json::Value, String> {
    let text = stdout.trim();
    if text.is_empty() {
        return Err("the command printed nothing on stdout (expected a number or a JSON value)".into());
    }
    serde_json::from_str(text).map_err(|_| {
        let shown: String = text.chars().take(200).collect();
        format!("stdout is not a number or a JSON value: {shown:?}")
    })
}

/// Waits until every reader in `readers` has sent what it read, the
/// `deadline` passes (`Err(TimedOut(limit))`) or `cancel` is set
/// (`Err(Cancelled)`). A reader that has finished is not waited for again.
fn wait_for_output(
    readers: &[&PipeReader],
    deadline: Option<(Instant, Duration)>,
    cancel: Option<&AtomicBool>,
) -> Result<(), Ending> {
    for reader in readers {
        loop {
            if reader.ready() {
                break;
            }
            if cancel.is_some_and(|c| c.load(Ordering::Acquire)) {
                return Err(Ending::Cancelled);
            }
            let left = match deadline {
                Some((at, limit)) => match at.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Err(Ending::TimedOut(limit)),
                },
                None => Duration::MAX,
            };
            reader.wait(left.min(FLAG_CHECK_PERIOD));
        }
    }
    Ok(())
}

/// What a pipe's reader thread sends when the pipe ends: the bytes kept.
struct PipeReader {
    received: std::cell::RefCell<Option<Vec<u8>>>,
    channel: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl PipeReader {
    /// Whether the reader has sent its bytes (taken into `received`).
    fn ready(&self) -> bool {
        let mut received = self.received.borrow_mut();
        if received.is_none() {
            *received = self.channel.try_recv().ok();
        }
        received.is_some()
    }

    /// Sleeps until the reader sends its bytes, or for `period`.
    fn wait(&self, period: Duration) {
        let mut received = self.received.borrow_mut();
        if received.is_none() {
            *received = self.channel.recv_timeout(period).ok();
        }
    }

    /// The bytes, if the reader has sent them (a reader left blocked on a
    /// pipe that a stray descendant holds has not).
    fn try_recv(&self) -> Option<Vec<u8>> {
        self.ready();
        self.received.borrow_mut().take()
    }
}

/// Reads a pipe to its end on a helper thread, so neither pipe can fill up
/// and block the child while we wait on the other.
///
/// Keeps at most `limit` bytes. With `overflow` (stdout), reading stops
/// past the limit and the flag is raised, so the waiter kills the command;
/// without it (stderr), reading goes on and only the last `limit` bytes are
/// kept.
fn drain(pipe: Option<impl Read + Send + 'static>, limit: usize, overflow: Option<Arc<AtomicBool>>) -> PipeReader {
    let (sender, channel) = std::sync::mpsc::channel();
    // The reader is not joined: it ends when the pipe does, and its bytes
    // come back through the channel (or are dropped if nobody waits).
    drop(thread::spawn(move || {
        let _ = sender.send(read_pipe(pipe, limit, overflow));
    }));
    PipeReader { received: std::cell::RefCell::new(None), channel }
}

/// [`drain`]'s reading, on its thread.
fn read_pipe(pipe: Option<impl Read>, limit: usize, overflow: Option<Arc<AtomicBool>>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else { return kept };
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        // A read error just ends the output; the exit status still counts.
        let n = match pipe.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        kept.extend_from_slice(&buffer[..n]);
        if kept.len() > limit {
            match &overflow {
                Some(flag) => {
                    flag.store(true, Ordering::Release);
                    kept.truncate(limit);
                    break;
                }
                None => {
                    let excess = kept.len() - limit;
                    kept.drain(..excess);
                }
            }
        }
    }
    kept
}

/// How waiting for a command ended.
enum Ending {
    Exited(ExitStatus),
    TimedOut(Duration),
    Overflowed,
    Cancelled,
    WaitFailed(std::io::Error),
}

/// How often a waiting command's cancel and overflow flags are looked at:
/// they are plain flags, which nothing can wait on.
const FLAG_CHECK_PERIOD: Duration = Duration::from_millis(20);

#[cfg(test)]
thread_local! {
    /// How many times `wait` looked at its command on this thread: the
    /// tests count them to check that an exit is noticed when it happens.
    static WAKE_UPS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Waits for the child to exit, killing its group when the time limit
/// passes, stdout overflows or the run is cancelled.
///
/// On Linux it sleeps on a pidfd, which the kernel wakes the moment the
/// child exits; only the flags are checked periodically. Elsewhere, or on
/// a kernel without pidfds, it polls with short, growing pauses.
fn wait(child: &mut Child, options: &CommandOptions, overflow: &AtomicBool) -> Ending {
    let started = Instant::now();
    let exit_signal = ExitSignal::open(child);
    let mut pause = Duration::from_millis(1);
    loop {
        #[cfg(test)]
        WAKE_UPS.with(|count| count.set(count.get() + 1));
        // Whatever the black box left running in its group (`sim &` that
        // it did not wait for) ends with it: it would hold the pipes open,
        // and this call would wait for it past any time limit.
        if has_exited(child) {
            kill_group(child);
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                // A command that printed too much and then exited still failed.
                return if overflow.load(Ordering::Acquire) { Ending::Overflowed } else { Ending::Exited(status) };
            }
            Ok(None) => {}
            Err(e) => {
                kill_tree(child);
                return Ending::WaitFailed(e);
            }
        }
        let ending = if overflow.load(Ordering::Acquire) {
            Some(Ending::Overflowed)
        } else if options.cancel.as_ref().is_some_and(|c| c.load(Ordering::Acquire)) {
            Some(Ending::Cancelled)
        } else {
            options.timeout.filter(|limit| started.elapsed() >= *limit).map(Ending::TimedOut)
        };
        if let Some(ending) = ending {
            kill_tree(child);
            return ending;
        }
        let left = options.timeout.map_or(Duration::MAX, |limit| limit.saturating_sub(started.elapsed()));
        match &exit_signal {
            Some(signal) => signal.wait(left.min(FLAG_CHECK_PERIOD)),
            None => {
                // Short pauses first so quick commands are noticed quickly.
                thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(25));
            }
        }
    }
}

/// Something to sleep on that wakes up when the child exits.
#[cfg(target_os = "linux")]
struct ExitSignal(std::os::fd::OwnedFd);

#[cfg(target_os = "linux")]
impl ExitSignal {
    /// A pidfd for the child; `None` where the kernel has none (before
    /// 5.3) or refuses it, and the caller polls instead.
    fn open(child: &Child) -> Option<ExitSignal> {
        use std::os::fd::FromRawFd;
        let pid = libc::pid_t::try_from(child.id()).ok()?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new
        // descriptor or -1; the child is not reaped yet (we hold it), so
        // `pid` still names it.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let fd = libc::c_int::try_from(fd).ok().filter(|fd| *fd >= 0)?;
        // SAFETY: `fd` was just returned by pidfd_open, so it is open and
        // owned by nothing else.
        Some(ExitSignal(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    /// Sleeps until the child exits or `limit` passes (a signal may end
    /// it earlier; the caller looks again either way).
    fn wait(&self, limit: Duration) {
        use std::os::fd::AsRawFd;
        // Rounded up, so a wait shorter than a millisecond does not spin.
        let millis = limit.as_nanos().div_ceil(1_000_000);
        let timeout = libc::c_int::try_from(millis).unwrap_or(libc::c_int::MAX);
        let mut poll = libc::pollfd { fd: self.0.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: `poll` is one valid pollfd, and the count says one.
        unsafe {
            libc::poll(&mut poll, 1, timeout);
        }
    }
}

/// Without pidfds, `wait` polls.
#[cfg(not(target_os = "linux"))]
struct ExitSignal;

#[cfg(not(target_os = "linux"))]
impl ExitSignal {
    fn open(_child: &Child) -> Option<ExitSignal> {
        None
    }

    fn wait(&self, _limit: Duration) {}
}

/// Kills the child and, on Unix, its whole process group; then reaps it.
fn kill_tree(child: &mut Child) {
    kill_group(child);
    // Errors mean the child is already gone, which is what we want.
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGKILLs the child's process group. Only before the child is reaped:
/// until then its pid, which names the group, cannot be reused.
fn kill_group(child: &Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
        // addresses the group created for this child by `process_group(0)`.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Whether the child has exited, without reaping it (so its group can
/// still be addressed safely).
#[cfg(target_os = "linux")]
fn has_exited(child: &Child) -> bool {
    let pid: libc::id_t = child.id();
    // SAFETY: `info` is a valid siginfo_t for waitid to fill; WNOWAIT leaves
    // the child waitable, so `Child::try_wait` still reaps it.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) == 0
            && info.si_pid() != 0
    }
}

/// Without `waitid(WNOWAIT)`, leftovers in the group are not hunted down.
#[cfg(not(target_os = "linux"))]
fn has_exited(_child: &Child) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::Value;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn argv(list: &[&str]) -> Vec<String> {
        names(list)
    }

    #[test]
    fn placeholders_are_substituted_and_other_braces_kept() {
        let template =
            CommandTemplate::new(&argv(&["awk", "BEGIN { print {a} * {x} }", "--tag={{x}}"]), &names(&["a", "x"]));
        let point = Point::new(vec![("a".into(), Value::Int(-1)), ("x".into(), Value::Float(0.5))]);
        let rendered = template.map(|t| t.render(&point));
        assert_eq!(rendered, Ok(argv(&["awk", "BEGIN { print -1 * 0.5 }", "--tag={x}"])));
    }

    #[test]
    fn unknown_placeholders_are_rejected() {
        let error = CommandTemplate::new(&argv(&["sim", "--y={y}"]), &names(&["x"]));
        assert!(matches!(error, Err(TemplateError::UnknownPlaceholder { ref name, .. }) if name == "y"));
        assert_eq!(CommandTemplate::new(&[], &names(&["x"])), Err(TemplateError::Empty));
    }

    #[test]
    fn stdout_numbers_and_json_are_values() {
        assert_eq!(parse_value(" 0.25\n"), Ok(serde_json::json!(0.25)));
        assert_eq!(parse_value("{\"f\": 1}"), Ok(serde_json::json!({"f": 1})));
        assert!(parse_value("").is_err());
        assert!(parse_value("nan").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn failures_carry_status_and_stderr() {
        let result = run_command(&argv(&["sh", "-c", "echo boom >&2; exit 3"]), None);
        let message = result.err().unwrap_or_default();
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(message.contains("boom"), "{message}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_exit_wakes_the_waiter_at_once() {
        // A few milliseconds: polling with pauses from 1 ms up looks at it
        // about five times; a waiter woken by the exit looks once on start,
        // once on the exit, and once per flag-check period in between.
        let started = Instant::now();
        WAKE_UPS.with(|count| count.set(0));
        let output = run(&argv(&["sleep", "0.01"]), &CommandOptions::default());
        let elapsed = started.elapsed();
        assert!(output.is_ok_and(|output| output.status.success()));
        let wake_ups = WAKE_UPS.with(std::cell::Cell::get);
        let periods = (elapsed.as_secs_f64() / FLAG_CHECK_PERIOD.as_secs_f64()).floor() as u32;
        assert!(wake_ups <= 2 + periods, "{wake_ups} wake-ups in {elapsed:?}");
    }

    #[cfg(unix)]
    #[test]
    fn run_reports_each_way_a_command_can_end_without_output() {
        let options = |timeout, capture_limit| CommandOptions { timeout, capture_limit, cancel: None };
        let slow = run(&argv(&["sh", "-c", "sleep 5"]), &options(Some(Duration::from_millis(50)), 64));
        assert!(matches!(slow, Err(RunError::TimedOut(limit)) if limit == Duration::from_millis(50)), "{slow:?}");
        let flood = run(&argv(&["sh", "-c", "head -c 100000 /dev/zero"]), &options(None, 64));
        assert!(matches!(flood, Err(RunError::Overflowed { limit: 64, ref start }) if start == &[0; 64]), "{flood:?}");
        let missing = run(&argv(&["parsweep-no-such-program"]), &options(None, 64));
        assert!(matches!(missing, Err(RunError::Start(_))), "{missing:?}");
        let cancel = Arc::new(AtomicBool::new(true));
        let options = CommandOptions { cancel: Some(cancel), ..CommandOptions::default() };
        assert!(matches!(run(&argv(&["sleep", "5"]), &options), Err(RunError::Cancelled)));
    }

    #[cfg(unix)]
    #[test]
    fn timeouts_kill_the_whole_process_tree() {
        let started = Instant::now();
        let result = run_command(&argv(&["sh", "-c", "sleep 5; echo 1"]), Some(Duration::from_millis(100)));
        assert!(result.err().unwrap_or_default().contains("timed out"));
        // Returning early proves the grandchild `sleep` no longer holds the pipes.
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    }
}
