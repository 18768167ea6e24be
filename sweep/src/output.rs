//! Printing that never panics, for every binary of the workspace.
//!
//! std's `println!` and `eprintln!` panic when a write fails: `cmd 2>&1 |
//! head` closed the pipe (Rust ignores SIGPIPE, so the write fails with
//! EPIPE), the terminal hung up (every write fails with EIO), the disk is
//! full. A panic there ends a run mid-way with status 101 and loses the
//! report it was about to write. These two macros, used under std's names
//! (`use sweep::{eprintln, println};`), keep going instead:
//! - [`eprintln!`](crate::eprintln): a message that cannot be written is
//!   dropped; messages are for people, and nobody is reading.
//! - [`println!`](crate::println): standard output is the command's
//!   answer, so a failed write is remembered, and [`stdout_failed`] tells
//!   `main` to end with a failure status and say why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static STDOUT_FAILED: OnceLock<String> = OnceLock::new();

/// Why writing to standard output through [`println!`](crate::println)
/// failed, if it did: the command must then end with a failure status.
pub fn stdout_failed() -> Option<&'static str> {
    STDOUT_FAILED.get().map(String::as_str)
}

/// A count with its noun, `1 point` or `3 points`: every noun sweep
/// counts (point, record, worker, attempt, line, time) takes an `s` unless
/// the count is one.
///
/// ```
/// use sweep::output::counted;
/// assert_eq!(counted(1usize, "point"), "1 point");
/// assert_eq!(counted(0u32, "time"), "0 times");
/// ```
pub fn counted<N: Copy + std::fmt::Display + PartialEq + From<u8>>(n: N, noun: &str) -> String {
    let s = if n == N::from(1) { "" } else { "s" };
    format!("{n} {noun}{s}")
}

/// `word` as one word of a POSIX shell command line, quoted only when it
/// needs it: every command sweep prints (a suggestion in a message, a line
/// of a batch script) is pasted or run as printed.
///
/// ```
/// use sweep::output::shell_word;
/// assert_eq!(shell_word("runs/a.jsonl"), "runs/a.jsonl");
/// assert_eq!(shell_word("grïd ☃.jsonl"), "'grïd ☃.jsonl'");
/// assert_eq!(shell_word("it's"), r"'it'\''s'");
/// ```
pub fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `path` as a word of a printed command ([`shell_word`]), led by `./`
/// when it starts with `-`, which the command would read as an option.
///
/// ```
/// use std::path::Path;
/// use sweep::output::shell_path;
/// assert_eq!(shell_path(Path::new("-r.jsonl")), "./-r.jsonl");
/// assert_eq!(shell_path(Path::new("my runs/r.jsonl")), "'my runs/r.jsonl'");
/// ```
pub fn shell_path(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    match text.starts_with('-') {
        true => shell_word(&format!("./{text}")),
        false => shell_word(&text),
    }
}

#[doc(hidden)]
pub fn record_stdout_failure(error: &std::io::Error) {
    let _ = STDOUT_FAILED.set(stdout_error(error));
}

/// Why a write to standard output failed, for a message: `error`, unless
/// standard output was closed when the command started (whose writes then
/// fail with a full disk's error; see
/// [`fail_writes_to_closed_stdout!`](crate::fail_writes_to_closed_stdout)).
pub fn stdout_error(error: &dyn std::fmt::Display) -> String {
    if STDOUT_CLOSED_AT_START.load(Ordering::Relaxed) {
        "it was closed when the command started (`>&-`)".to_owned()
    } else {
        error.to_string()
    }
}

/// Set before `main` when descriptor 1 was closed at start (see
/// [`fail_writes_to_closed_stdout!`](crate::fail_writes_to_closed_stdout)).
static STDOUT_CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

/// Makes a standard output that was closed when the process started
/// (`cmd >&-`) fail every write, as a closed descriptor does, so that
/// [`println!`](crate::println) and every other writer see the failure and
/// the command ends with status 1. Without it the answer is lost with
/// status 0: before `main`, Rust's runtime reopens a closed descriptor 1
/// on `/dev/null` (so that no file opened later lands on it). Invoke it
/// once, at the top level of a binary's `main.rs`: it installs an ELF
/// constructor, which runs before that reopening (Linux; elsewhere it does
/// nothing).
///
/// # Examples
///
/// ```
/// sweep::fail_writes_to_closed_stdout!();
/// fn main() {}
/// ```
#[macro_export]
macro_rules! fail_writes_to_closed_stdout {
    () => {
        #[cfg(target_os = "linux")]
        #[used]
        #[link_section = ".init_array"]
        static FAIL_WRITES_TO_CLOSED_STDOUT: extern "C" fn() = {
            extern "C" fn check() {
                $crate::output::fail_writes_if_stdout_closed();
            }
            check
        };
    };
}

/// See [`fail_writes_to_closed_stdout!`](crate::fail_writes_to_closed_stdout):
/// runs before `main`, so it uses no part of std that needs initialising.
#[doc(hidden)]
#[cfg(target_os = "linux")]
pub fn fail_writes_if_stdout_closed() {
    // SAFETY: system calls on descriptor numbers and a constant,
    // NUL-terminated path; no memory of this process is read or written.
    unsafe {
        if libc::fcntl(1, libc::F_GETFD) != -1 {
            return;
        }
        STDOUT_CLOSED_AT_START.store(true, Ordering::Relaxed);
        // Every write to `/dev/full` fails (ENOSPC), and the descriptor
        // stays taken. Not a closed descriptor's EBADF, which std's
        // standard output takes for success, nor a pipe's EPIPE, which
        // would kill the process. Opened while 1 is free, it lands there
        // unless 0 is closed too.
        let fd = libc::open(c"/dev/full".as_ptr(), libc::O_WRONLY);
        if fd > 1 || fd == 0 {
            libc::dup2(fd, 1);
            libc::close(fd);
        }
    }
}

/// `eprintln!` that never panics: a message that cannot be written to
/// standard error is dropped. See [`output`](crate::output).
///
/// # Examples
///
/// ```
/// use sweep::eprintln;
/// eprintln!("{} points done", 3);
/// ```
#[macro_export]
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that never panics: a failed write is remembered, for
/// [`stdout_failed`] to report. See [`output`](crate::output).
///
/// # Examples
///
/// ```
/// use sweep::println;
/// println!("{}", 42);
/// assert_eq!(sweep::output::stdout_failed(), None);
/// ```
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        if let ::std::result::Result::Err(error) = ::std::writeln!(::std::io::stdout(), $($arg)*) {
            $crate::output::record_stdout_failure(&error);
        }
    }};
}
