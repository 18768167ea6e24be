//! Helpers shared by the integration tests: a tiny seeded PRNG, input
//! iterators that count what was pulled from them or panic on purpose, a
//! deadlock guard, a rendezvous that proves several workers run at once,
//! the process's CPU time, its thread count, and a child process for
//! scenarios that may abort.
//!
//! Each test binary uses a different subset of these.
#![allow(dead_code)]

use std::panic;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Once};
use std::thread;
use std::time::{Duration, Instant};

/// Marks panics the tests raise on purpose; the quiet hook skips them.
pub const INTENTIONAL: &str = "intentional";

/// xorshift64: enough randomness for durations and op mixes, with no
/// dependency and exactly reproducible from a seed.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // Spread small seeds over the state; the state must never be 0.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Pseudo-random task durations in `0..max_us` microseconds, one per item.
pub fn durations(seed: u64, n: usize, max_us: u64) -> Arc<Vec<u64>> {
    let mut rng = XorShift::new(seed);
    Arc::new((0..n).map(|_| rng.below(max_us)).collect())
}

/// Takes about `us` microseconds: spins for odd values (keeps the CPU busy,
/// like real work) and sleeps for even ones (gives the CPU away, which
/// reorders completions more).
pub fn pause_us(us: u64) {
    if us == 0 {
        return;
    }
    let d = Duration::from_micros(us);
    if us.is_multiple_of(2) {
        thread::sleep(d);
    } else {
        let start = Instant::now();
        while start.elapsed() < d {
            std::hint::spin_loop();
        }
    }
}

/// An input iterator that counts how many items were pulled from it, so a
/// test can check how far ahead of the consumer a map reads.
pub struct Counted<I> {
    inner: I,
    pulled: Arc<AtomicUsize>,
}

impl<I> Counted<I> {
    pub fn new(inner: I) -> (Self, Arc<AtomicUsize>) {
        let pulled = Arc::new(AtomicUsize::new(0));
        (Counted { inner, pulled: Arc::clone(&pulled) }, pulled)
    }
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let item = self.inner.next()?;
        self.pulled.fetch_add(1, Ordering::SeqCst);
        Some(item)
    }

    // Forwarded so exact-length behaviour (progress totals, auto chunking)
    // is the same as for the wrapped iterator.
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Runs `f` on a helper thread and fails the test if it has not finished
/// within `limit`, so a deadlock fails one test instead of hanging the
/// suite. A panic in `f` is re-raised here.
pub fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    // Miri's clock runs at its own pace, and Miri reports a deadlock itself.
    if cfg!(miri) {
        return f();
    }
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not finish within {limit:?} (deadlock?)"),
        Err(RecvTimeoutError::Disconnected) => match worker.join() {
            Err(payload) => panic::resume_unwind(payload),
            Ok(()) => unreachable!("the helper thread ended without sending its result"),
        },
    }
}

/// Called by `n` tasks: each arrives and waits (up to a few seconds) until
/// all `n` have arrived. Returns whether they all did, which can only
/// happen when `n` workers run these tasks at the same time.
pub fn rendezvous(arrived: &AtomicUsize, n: usize) -> bool {
    arrived.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while arrived.load(Ordering::SeqCst) < n {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_micros(200));
    }
    true
}

/// Keeps the test output readable: panics whose message contains
/// [`INTENTIONAL`] are not printed; every other panic is, as usual.
pub fn quiet_intentional_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if !message.is_some_and(|m| m.contains(INTENTIONAL)) {
                default(info);
            }
        }));
    });
}

/// The message of a caught panic payload, if it is a string.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// A task outcome with the panic reduced to its message, for comparing
/// against an expected value (`TaskError` compares panics by message too,
/// but cannot be built outside the crate).
pub fn by_message<T>(result: Result<T, pool::TaskError>) -> Result<T, Option<String>> {
    result.map_err(|e| e.panic_message().map(str::to_owned))
}

/// Yields `1..n`, but panics instead of yielding `at` (once).
pub struct PanicsAt {
    pub next: u64,
    pub n: u64,
    pub at: u64,
}

impl Iterator for PanicsAt {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        self.next += 1;
        if self.next == self.at {
            panic!("{INTENTIONAL}: input iterator");
        }
        (self.next < self.n).then_some(self.next)
    }
}

/// User plus system CPU time of this process, from /proc/self/stat
/// (fields 14 and 15, in clock ticks; USER_HZ is 100 on Linux).
#[cfg(target_os = "linux")]
pub fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat is readable on Linux");
    // The command name (field 2) may contain spaces; fields after it are
    // counted from the closing parenthesis.
    let after_name = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// Runs `scenario` in a child process (this test binary, told by an
/// environment variable to run only test `name`), so that an abort fails
/// the test instead of the whole binary. Panics, naming how the child
/// ended and the end of its stderr, unless it succeeded.
pub fn in_child(name: &str, scenario: impl FnOnce()) {
    const VAR: &str = "POOL_TEST_CHILD";
    if std::env::var(VAR).is_ok_and(|v| v == name) {
        scenario();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let output = Command::new(exe)
        .args([name, "--exact", "--include-ignored", "--nocapture", "--test-threads=1"])
        .env(VAR, name)
        .output()
        .expect("run the test binary again");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let start = stderr.char_indices().rev().nth(1500).map_or(0, |(i, _)| i);
    assert!(
        output.status.success(),
        "the scenario ended with {} in a child process; its stderr ends with:\n{}",
        output.status,
        &stderr[start..]
    );
}

/// The threads this process has now (Linux: `/proc/self/task`).
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").expect("/proc/self/task").count()
}

/// Waits (up to 10 s) until the process has `expected` threads again;
/// returns the count last seen. A joined thread can still be listed for a
/// moment: `join` returns once the thread has cleared its id, a step of
/// the kernel's exit that comes before the thread leaves `/proc` (seen on
/// a loaded machine). Workers told to leave from inside the pool are not
/// joined at all, and leave a moment later. A thread that never leaves
/// still fails the count.
pub fn settle_threads(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = threads();
        if now == expected || Instant::now() > deadline {
            return now;
        }
        thread::sleep(Duration::from_millis(2));
    }
}
