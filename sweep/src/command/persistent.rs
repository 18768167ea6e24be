//! Black boxes that start once: each worker keeps one process and
//! exchanges one line per point with it, the point as a JSON object on its
//! stdin, the value as one line on its stdout.
//!
//! A process that crashes, runs past the time limit, answers something
//! that is not a value or prints more than the capture limit fails its
//! point and is replaced by a fresh one for the next point, so one bad
//! point never poisons the next.
//!
//! Lines carry no request id, so a reply is attributed by order alone, and
//! an extra line would shift every later value onto the wrong point. What
//! shows a line is not the current point's reply: it came with another
//! line in one read, it was waiting before the point was sent, or (Linux)
//! it arrived while the point still sat unread in the black box's stdin
//! (a late second line for the point before, from a box still busy with
//! it). Each fails the point and restarts the process. A stray line that
//! arrives after the black box has begun to read the point cannot be told
//! from its reply; the reply that follows it usually arrives before the box
//! has read the next point, and is then caught there.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::{bytes, failure_message, parse_value, CommandOptions, Evaluation, Exit};
use crate::point::Point;

/// How long a process whose stdin was closed at the end of a run may take
/// to exit on its own before its group is killed.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// How much of a persistent black box's stderr is kept for messages.
const STDERR_KEEP_BYTES: usize = 16 * 1024;

/// How often a wait for a reply looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(25);

/// Persistent black boxes for one run: at most one process per worker
/// busy at a time, idle ones kept for the next point.
///
/// Dropping it (or [`Persistent::shutdown`]) ends every idle process:
/// stdin is closed, and whatever has not exited after half a second is
/// killed with its whole process group.
///
/// # Examples
///
/// ```no_run
/// use sweep::command::{CommandOptions, Persistent};
/// use sweep::{Point, Value};
///
/// let python = Persistent::new(vec!["python3".into(), "blackbox.py".into()], CommandOptions::default());
/// let point = Point::new(vec![("x".into(), Value::Float(0.5))]);
/// let evaluation = python.evaluate(&point); // writes {"x":0.5}, reads one line
/// python.shutdown();
/// ```
pub struct Persistent {
    argv: Vec<String>,
    options: CommandOptions,
    idle: Mutex<Vec<Process>>,
}

impl Persistent {
    /// Black boxes running `argv` (no placeholders: points come on stdin),
    /// with the time limit, capture limit and cancel flag of `options`.
    pub fn new(argv: Vec<String>, options: CommandOptions) -> Self {
        Persistent { argv, options, idle: Mutex::new(Vec::new()) }
    }

    /// Evaluates `point` in an idle process, starting one if none is idle.
    /// Returns `None` when the run's cancel flag was set meanwhile: the
    /// process was killed and the point is not evaluated.
    pub fn evaluate(&self, point: &Point) -> Option<Evaluation> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut process = match idle {
            Some(process) => process,
            None => match Process::start(&self.argv, self.options.capture_limit) {
                Ok(process) => process,
                Err(message) => return Some(Evaluation { outcome: Err(message), exit: None }),
            },
        };
        let (evaluation, healthy) = process.exchange(point, &self.argv[0], &self.options);
        if healthy {
            self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(process);
        } else {
            // Killed and reaped with its group (see `Process::drop`).
            drop(process);
        }
        // Its descendants that this process adopted and that have exited.
        super::orphans::reap_exited();
        evaluation
    }

    /// Ends the idle processes (see the type's docs); a later point would
    /// start a new one.
    pub fn shutdown(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        // Closing every stdin first lets them all exit at once.
        let closing: Vec<Process> = idle.into_iter().map(Process::close_stdin).collect();
        let deadline = Instant::now() + EXIT_GRACE;
        for process in closing {
            process.end(deadline);
        }
    }
}

impl Drop for Persistent {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What the stdout reader hands over.
enum Reply {
    /// The lines one read completed (at least one), newlines stripped.
    Lines(Vec<Vec<u8>>),
    /// A line longer than the capture limit (reading stopped).
    TooLong,
    /// stdout reached its end (or failed): the process is gone.
    Closed,
}

/// One running black box.
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<Reply>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: thread::JoinHandle<()>,
    /// Its process group (named by its pid); 0 when unknown.
    #[cfg(target_os = "linux")]
    group: libc::pid_t,
    /// Set once reaped: the group may no longer be signalled.
    reaped: Option<ExitStatus>,
    /// Registers the child as ours (it is reaped by its `Child`) until the
    /// process is dropped, after `kill` reaped it.
    _own: super::orphans::Own,
}

impl Process {
    fn start(argv: &[String], line_limit: usize) -> Result<Process, String> {
        let Some((program, arguments)) = argv.split_first() else { return Err("empty command".to_owned()) };
        let mut command = Command::new(program);
        command.args(arguments).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        #[cfg(target_os = "linux")]
        super::die_with_parent(&mut command);
        let (mut child, own) =
            super::orphans::spawn(&mut command).map_err(|e| format!("cannot start {program:?}: {e}"))?;
        #[cfg(target_os = "linux")]
        let group = libc::pid_t::try_from(child.id()).unwrap_or(0);
        #[cfg(target_os = "linux")]
        super::guardian::watch(group);
        let stdin = child.stdin.take();
        let (send, replies) = mpsc::channel();
        let stdout = child.stdout.take();
        thread::spawn(move || read_lines(stdout, line_limit, &send));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stderr_reader = {
            let tail = Arc::clone(&stderr);
            let pipe = child.stderr.take();
            thread::spawn(move || keep_tail(pipe, &tail))
        };
        Ok(Process {
            child,
            stdin,
            replies,
            stderr,
            stderr_reader,
            #[cfg(target_os = "linux")]
            group,
            reaped: None,
            _own: own,
        })
    }

    /// Sends `point`, waits for its line; returns the evaluation and
    /// whether the process can take the next point.
    fn exchange(&mut self, point: &Point, program: &str, options: &CommandOptions) -> (Option<Evaluation>, bool) {
        let failed = |message: String| (Some(Evaluation { outcome: Err(message), exit: None }), false);
        // A line waiting before any point was sent belongs to no point: the
        // black box printed more than one line for an earlier one.
        match self.replies.try_recv() {
            Ok(Reply::Lines(lines)) => {
                self.kill();
                return failed(format!(
                    "the persistent command printed a line no point asked for ({}); it must print exactly one \
                     line per point on stdout (logs go to stderr); it was restarted",
                    quoted(&lines[0])
                ));
            }
            Ok(Reply::Closed | Reply::TooLong) => return self.crashed(program, "before this point was sent"),
            Err(_) => {}
        }
        let mut line = match serde_json::to_vec(point) {
            Ok(line) => line,
            Err(e) => return failed(format!("cannot write the point as JSON: {e}")),
        };
        line.push(b'\n');
        let sent = self.stdin.as_mut().map(|stdin| stdin.write_all(&line).and_then(|()| stdin.flush()));
        if !matches!(sent, Some(Ok(()))) {
            // It closed stdin: it has exited, or is about to.
            return self.crashed(program, "before reading its point");
        }
        let started = Instant::now();
        loop {
            let left = options.timeout.map_or(Duration::MAX, |limit| limit.saturating_sub(started.elapsed()));
            match self.replies.recv_timeout(CANCEL_POLL.min(left)) {
                Ok(Reply::Lines(lines)) if lines.len() > 1 => {
                    self.kill();
                    return failed(format!(
                        "the persistent command printed {} lines for one point ({}, then {}); it must print \
                         exactly one line per point on stdout (logs go to stderr); it was restarted",
                        lines.len(),
                        quoted(&lines[0]),
                        quoted(&lines[1])
                    ));
                }
                // Its own point still unread: the line was printed before
                // the black box could know the point.
                Ok(Reply::Lines(lines)) if self.unread_input().is_some_and(|unread| unread >= line.len()) => {
                    self.kill();
                    return failed(format!(
                        "the persistent command printed a line ({}) before it read this point: a late extra line \
                         for an earlier point; it must print exactly one line per point on stdout (logs go to \
                         stderr); it was restarted",
                        quoted(&lines[0])
                    ));
                }
                Ok(Reply::Lines(lines)) => {
                    return match parse_value(&String::from_utf8_lossy(&lines[0])) {
                        Ok(value) => (Some(Evaluation { outcome: Ok(value), exit: None }), true),
                        Err(message) => {
                            self.kill();
                            failed(format!("{message}; the persistent command was restarted"))
                        }
                    };
                }
                Ok(Reply::TooLong) => {
                    self.kill();
                    return failed(format!(
                        "the command printed a line longer than {}, the capture limit; it was killed (raise the \
                         limit with --max-output if the value really is that large)",
                        bytes(options.capture_limit)
                    ));
                }
                Ok(Reply::Closed) | Err(RecvTimeoutError::Disconnected) => {
                    return self.crashed(program, "before answering");
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if options.cancel.as_ref().is_some_and(|cancel| cancel.load(Ordering::Acquire)) {
                self.kill();
                return (None, false);
            }
            if let Some(limit) = options.timeout.filter(|limit| started.elapsed() >= *limit) {
                self.kill();
                // A reply held in the black box's output buffer looks like
                // no reply at all: the usual cause, and it cannot be seen.
                return failed(format!(
                    "timed out after {:.3} s with no reply line; the command was killed (a persistent command \
                     must flush its stdout after each reply: fflush() in awk, print(..., flush=True) in Python, \
                     setvbuf or fflush in C)",
                    limit.as_secs_f64()
                ));
            }
        }
    }

    /// How many bytes written to the black box's stdin it has not read
    /// yet; `None` where that cannot be known. Bytes leave a pipe in the
    /// order written, so as many as the last request's means it has read
    /// none of that request (a leftover newline of an earlier one does not
    /// count against it).
    fn unread_input(&self) -> Option<usize> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::io::AsRawFd;
            let fd = self.stdin.as_ref()?.as_raw_fd();
            let mut unread: libc::c_int = 0;
            // SAFETY: FIONREAD stores one int through the pointer, which
            // points to `unread`; `fd` stays open while `self.stdin` lives.
            // Linux answers it for a pipe's write end as for its read end.
            let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut unread) };
            if rc == 0 {
                usize::try_from(unread).ok()
            } else {
                None
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }

    /// The failure of a process that ended (or closed stdout) `when`: its
    /// exit status and the tail of its stderr.
    fn crashed(&mut self, program: &str, when: &str) -> (Option<Evaluation>, bool) {
        // Give it a moment to finish exiting; one that only closed stdout is killed.
        self.end_by(Instant::now() + EXIT_GRACE);
        let status = self.reaped;
        let stderr = self.stderr_tail();
        let message = match status {
            Some(status) => failure_message(program, &format!("{status}, {when}"), &stderr),
            None => failure_message(program, &format!("stopped {when}"), &stderr),
        };
        (Some(Evaluation { outcome: Err(message), exit: status.map(Exit::of) }), false)
    }

    /// What the process wrote on stderr, once the reader has caught up
    /// (briefly: a leftover descendant may keep the pipe open).
    fn stderr_tail(&self) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_millis(200);
        while !self.stderr_reader.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(2));
        }
        self.stderr.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn close_stdin(mut self) -> Process {
        self.stdin = None;
        self
    }

    /// Waits until `deadline` for the process to exit, then kills its group.
    fn end(mut self, deadline: Instant) {
        self.stdin = None;
        self.end_by(deadline);
    }

    fn end_by(&mut self, deadline: Instant) {
        self.stdin = None;
        while self.reaped.is_none() && Instant::now() < deadline {
            if super::has_exited(&self.child) {
                // Leftovers in its group go with it, as for one-shot commands.
                self.kill_group();
                self.reaped = self.child.wait().ok();
                break;
            }
            if !cfg!(target_os = "linux") {
                if let Ok(Some(status)) = self.child.try_wait() {
                    self.reaped = Some(status);
                    break;
                }
            }
            thread::sleep(Duration::from_millis(1));
        }
        self.kill();
    }

    /// Kills the process and its group at once, and reaps it.
    fn kill(&mut self) {
        self.stdin = None;
        if self.reaped.is_none() {
            self.kill_group();
            let _ = self.child.kill();
            self.reaped = self.child.wait().ok();
        }
        #[cfg(target_os = "linux")]
        {
            super::guardian::release(self.group);
            self.group = 0;
        }
    }

    /// SIGKILLs the process group; only while the leader is not reaped
    /// (its pid, which names the group, cannot be reused until then).
    fn kill_group(&self) {
        if self.reaped.is_none() {
            super::kill_group(&self.child);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Hands the lines of `pipe` to `send`, all those that one read completed
/// in one message, then [`Reply::Closed`]. A line longer than `limit` is
/// reported as [`Reply::TooLong`] and ends reading (the process is killed
/// for it): a black box cannot fill the memory.
fn read_lines(pipe: Option<impl Read>, limit: usize, send: &mpsc::Sender<Reply>) {
    let Some(mut pipe) = pipe else {
        let _ = send.send(Reply::Closed);
        return;
    };
    let mut buffer = vec![0u8; 64 * 1024];
    let mut partial = Vec::new();
    loop {
        let n = match pipe.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut lines = Vec::new();
        for piece in buffer[..n].split_inclusive(|b| *b == b'\n') {
            partial.extend_from_slice(piece);
            if partial.len() > limit.saturating_add(1) {
                let _ = send.send(Reply::TooLong);
                return;
            }
            if partial.ends_with(b"\n") {
                partial.pop();
                lines.push(std::mem::take(&mut partial));
            }
        }
        if !lines.is_empty() && send.send(Reply::Lines(lines)).is_err() {
            return;
        }
    }
    let _ = send.send(Reply::Closed);
}

/// A line for a message: quoted, and cut at 200 bytes.
fn quoted(line: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(&line[..line.len().min(200)]))
}

/// Keeps the last bytes of `pipe` in `tail` (enough for error messages)
/// until it ends, so a chatty black box never blocks on a full pipe.
fn keep_tail(pipe: Option<impl Read>, tail: &Mutex<Vec<u8>>) {
    let Some(mut pipe) = pipe else { return };
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match pipe.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut kept = tail.lock().unwrap_or_else(PoisonError::into_inner);
        kept.extend_from_slice(&buffer[..n]);
        let excess = kept.len().saturating_sub(STDERR_KEEP_BYTES);
        kept.drain(..excess);
    }
}
