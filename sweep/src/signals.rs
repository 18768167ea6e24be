//! Stop requests from the outside world: SIGINT (Ctrl-C), SIGTERM (`kill`,
//! `scancel`) and SIGUSR1 (Slurm's warning before a time limit) ask a
//! running sweep to stop gracefully instead of dying on the spot.
//!
//! The handler only counts signals in atomics (async-signal-safe); the
//! runner polls [`requests`] and decides what to do: stop handing out
//! points on the first, kill the black boxes on the second.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Once;

static REQUESTS: AtomicUsize = AtomicUsize::new(0);
static LAST: AtomicI32 = AtomicI32::new(0);

/// The signals that ask for a graceful stop.
#[cfg(unix)]
const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1];

#[cfg(unix)]
extern "C" fn on_signal(signal: libc::c_int) {
    // Only lock-free atomics here: nothing else is async-signal-safe.
    LAST.store(signal, Ordering::SeqCst);
    REQUESTS.fetch_add(1, Ordering::SeqCst);
}

/// Installs the handlers (once per process; later calls do nothing). From
/// then on these signals no longer kill the process: the caller must poll
/// [`requests`] and stop by itself.
pub fn install() -> std::io::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        #[cfg(unix)]
        for signal in STOP_SIGNALS {
            // SAFETY: a zeroed sigaction is a valid "no flags, empty mask"
            // value; the handler is an `extern "C" fn(c_int)` that only
            // touches atomics, and stays valid for the life of the process.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    result = Err(std::io::Error::last_os_error());
                }
            }
        }
    });
    result
}

/// How many stop signals arrived since [`install`].
pub fn requests() -> usize {
    REQUESTS.load(Ordering::SeqCst)
}

/// The name of the last stop signal, e.g. `SIGTERM`, if any arrived.
pub fn last() -> Option<&'static str> {
    #[cfg(unix)]
    match LAST.load(Ordering::SeqCst) {
        libc::SIGINT => return Some("SIGINT"),
        libc::SIGTERM => return Some("SIGTERM"),
        libc::SIGUSR1 => return Some("SIGUSR1"),
        _ => {}
    }
    None
}

/// The number of the last stop signal, if any arrived.
pub fn last_number() -> Option<i32> {
    Some(LAST.load(Ordering::SeqCst)).filter(|signal| *signal > 0)
}
