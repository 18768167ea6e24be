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

#[doc(hidden)]
pub fn record_stdout_failure(error: &std::io::Error) {
    let _ = STDOUT_FAILED.set(error.to_string());
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
