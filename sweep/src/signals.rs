//! Stop requests from the outside world, for every binary of the
//! workspace: SIGINT (Ctrl-C), SIGTERM (`kill`, `scancel`), SIGHUP (the
//! terminal closed) and SIGUSR1 (Slurm's warning before a time limit) ask a
//! running program to stop gracefully instead of dying on the spot.
//!
//! The protocol:
//! - [`install`] puts a handler on each of these signals, except one the
//!   process ignores when it starts: `nohup` ignores SIGHUP, and a shell
//!   ignores SIGINT for a job started with `&`. The user asked for that, so
//!   it stays ignored. It returns a [`Handlers`] guard: when the last one
//!   is dropped, each signal gets back what it did before.
//! - The handler only does what is async-signal-safe: it counts the signal
//!   in atomics, and writes a byte to a pipe so that a thread blocked in
//!   [`wait`] wakes.
//! - After SIGHUP every write to the closed terminal fails: the binaries
//!   print through [`crate::output`], whose macros do not panic on that.
//! - A program either polls [`requests`] where it can stop (sweep's runner
//!   does), or blocks a thread in [`wait`] when it must act at once (the
//!   bench harness exits on a second Ctrl-C). It exits with
//!   `128 + `[`last_number`], as shells report a death by that signal.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

static REQUESTS: AtomicUsize = AtomicUsize::new(0);
static LAST: AtomicI32 = AtomicI32::new(0);
/// The self-pipe: the handler writes to `[1]`, [`wait`] reads `[0]`; -1
/// while no [`Handlers`] lives.
static PIPE: [AtomicI32; 2] = [AtomicI32::new(-1), AtomicI32::new(-1)];

/// The signals that ask for a graceful stop: what [`install`] handles.
#[cfg(unix)]
pub const STOP_SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1];

#[cfg(unix)]
extern "C" fn on_signal(signal: libc::c_int) {
    // Only lock-free atomics and write(2) here, which are
    // async-signal-safe, and errno as the interrupted code left it.
    let errno = Errno::save();
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    LAST.store(signal, Ordering::SeqCst);
    REQUESTS.fetch_add(1, Ordering::SeqCst);
    let pipe = PIPE[1].load(Ordering::SeqCst);
    if pipe >= 0 {
        // SAFETY: writes one byte from a live local; the write end is
        // non-blocking, so a full pipe (a waiter already has bytes to read)
        // makes it fail instead of hanging the handler. It stays open until
        // ACTIVE is back to 0 (see `uninstall_unix`).
        unsafe { libc::write(pipe, [1u8].as_ptr().cast(), 1) };
    }
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
    errno.restore();
}

/// errno, saved on entry to the handler and restored on leaving: the
/// interrupted code may be about to read it.
#[cfg(unix)]
struct Errno(libc::c_int);

#[cfg(unix)]
impl Errno {
    fn save() -> Errno {
        // SAFETY: errno_location returns this thread's errno slot.
        Errno(unsafe { *errno_location() })
    }

    fn restore(self) {
        // SAFETY: as in `save`.
        unsafe { *errno_location() = self.0 };
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn errno_location() -> *mut libc::c_int {
    libc::__errno_location()
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd", target_os = "dragonfly"))]
unsafe fn errno_location() -> *mut libc::c_int {
    libc::__error()
}

#[cfg(any(target_os = "openbsd", target_os = "netbsd"))]
unsafe fn errno_location() -> *mut libc::c_int {
    libc::__errno()
}

/// The stop-signal handlers, installed while at least one `Handlers`
/// lives: dropping the last puts back what each signal did before and
/// closes the pipe, so nothing of this module outlives its users (a
/// program that goes on after a sweep is stopped by Ctrl-C again).
#[derive(Debug)]
#[must_use = "the handlers are removed when this is dropped"]
pub struct Handlers {
    _private: (),
}

/// What the handlers replaced, and how many [`Handlers`] hold them.
struct Installed {
    users: usize,
    #[cfg(unix)]
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

static INSTALLED: std::sync::Mutex<Installed> = std::sync::Mutex::new(Installed {
    users: 0,
    #[cfg(unix)]
    previous: Vec::new(),
});

/// Handlers running now: the pipe is closed only once none is, so none
/// writes to a descriptor number reused since.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Installs the handlers, or joins those installed; see [`Handlers`]. From
/// then on these signals no longer kill the process: it must watch
/// [`requests`] or [`wait`] and stop by itself. A signal ignored when the
/// first [`Handlers`] is made stays ignored. The count of [`requests`]
/// starts at 0 then.
pub fn install() -> std::io::Result<Handlers> {
    let mut installed = INSTALLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if installed.users == 0 {
        REQUESTS.store(0, Ordering::SeqCst);
        LAST.store(0, Ordering::SeqCst);
        #[cfg(unix)]
        {
            installed.previous = install_unix()?;
        }
    }
    installed.users += 1;
    Ok(Handlers { _private: () })
}

impl Drop for Handlers {
    fn drop(&mut self) {
        let mut installed = INSTALLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        installed.users -= 1;
        if installed.users == 0 {
            #[cfg(unix)]
            uninstall_unix(std::mem::take(&mut installed.previous));
        }
    }
}

/// Makes the pipe and puts the handler on every stop signal not ignored;
/// returns what it replaced. On failure, undoes what it did.
#[cfg(unix)]
fn install_unix() -> std::io::Result<Vec<(libc::c_int, libc::sigaction)>> {
    let check = |result: libc::c_int| if result < 0 { Err(std::io::Error::last_os_error()) } else { Ok(result) };
    let mut fds = [-1; 2];
    // SAFETY: pipe fills the two-element array; fcntl only sets flags on
    // the descriptors it just made, closed again on failure.
    let made = unsafe {
        check(libc::pipe(fds.as_mut_ptr())).and_then(|_| {
            for fd in fds {
                check(libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC))?;
            }
            check(libc::fcntl(fds[1], libc::F_SETFL, libc::O_NONBLOCK))
        })
    };
    if let Err(error) = made {
        close_pipe(fds);
        return Err(error);
    }
    PIPE[0].store(fds[0], Ordering::SeqCst);
    PIPE[1].store(fds[1], Ordering::SeqCst);
    let mut previous = Vec::new();
    for signal in STOP_SIGNALS {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask"
        // value, and `sigaction` with a null new action only reads the
        // current one; the handler is an `extern "C" fn(c_int)` that stays
        // valid for the life of the process.
        let replaced = unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            check(libc::sigaction(signal, std::ptr::null(), &mut current)).and_then(|_| {
                if current.sa_sigaction == libc::SIG_IGN {
                    return Ok(None);
                }
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                check(libc::sigaction(signal, &action, std::ptr::null_mut())).map(|_| Some(current))
            })
        };
        match replaced {
            Ok(Some(current)) => previous.push((signal, current)),
            Ok(None) => {}
            Err(error) => {
                uninstall_unix(previous);
                return Err(error);
            }
        }
    }
    Ok(previous)
}

/// Puts back the actions `previous` lists, then closes the pipe once no
/// handler is running.
#[cfg(unix)]
fn uninstall_unix(previous: Vec<(libc::c_int, libc::sigaction)>) {
    for (signal, action) in previous {
        // SAFETY: `action` is what `sigaction` returned for this signal.
        unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
    }
    let fds = [PIPE[0].swap(-1, Ordering::SeqCst), PIPE[1].swap(-1, Ordering::SeqCst)];
    // A handler that loaded the write end before the swap counted itself
    // in ACTIVE first (both SeqCst): wait for it to be done with it.
    while ACTIVE.load(Ordering::SeqCst) > 0 {
        std::thread::yield_now();
    }
    close_pipe(fds);
}

#[cfg(unix)]
fn close_pipe(fds: [libc::c_int; 2]) {
    for fd in fds.into_iter().filter(|fd| *fd >= 0) {
        // SAFETY: the descriptor was made by `install_unix` and nothing
        // else uses it any more.
        unsafe { libc::close(fd) };
    }
}

/// How many stop signals arrived since [`install`].
pub fn requests() -> usize {
    REQUESTS.load(Ordering::SeqCst)
}

/// Blocks until more than `seen` stop signals have arrived, or [`wake`] is
/// called, and returns [`requests`] (still `seen` after a wake alone).
/// Called while the caller holds a [`Handlers`] (whose drop closes the
/// pipe this reads).
///
/// # Errors
///
/// When no [`Handlers`] lives: nothing would ever wake the call.
pub fn wait(seen: usize) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        let pipe = PIPE[0].load(Ordering::SeqCst);
        if pipe >= 0 {
            loop {
                let now = requests();
                if now > seen {
                    return Ok(now);
                }
                let mut buffer = [0u8; 64];
                // SAFETY: reads into a live local buffer of the length given.
                // A signal between `requests` above and this read has left
                // its byte in the pipe, so the read returns at once.
                let read = unsafe { libc::read(pipe, buffer.as_mut_ptr().cast(), buffer.len()) };
                if read > 0 && buffer[..read.unsigned_abs()].contains(&WAKE) {
                    return Ok(requests());
                }
                let error = std::io::Error::last_os_error();
                if read < 0 && error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    let _ = seen;
    Err(std::io::Error::other("signals::wait without the handlers installed"))
}

/// The byte [`wake`] writes; the handler writes 1.
const WAKE: u8 = 2;

/// Wakes a thread blocked in [`wait`], e.g. to let it end when the work it
/// watched is done.
pub fn wake() {
    #[cfg(unix)]
    {
        let pipe = PIPE[1].load(Ordering::SeqCst);
        if pipe >= 0 {
            // SAFETY: writes one byte from a live local to the pipe's write end.
            unsafe { libc::write(pipe, [WAKE].as_ptr().cast(), 1) };
        }
    }
}

/// The name of the last stop signal, e.g. `SIGTERM`, if any arrived.
pub fn last() -> Option<&'static str> {
    #[cfg(unix)]
    match LAST.load(Ordering::SeqCst) {
        libc::SIGINT => return Some("SIGINT"),
        libc::SIGTERM => return Some("SIGTERM"),
        libc::SIGHUP => return Some("SIGHUP"),
        libc::SIGUSR1 => return Some("SIGUSR1"),
        _ => {}
    }
    None
}

/// The number of the last stop signal, if any arrived.
pub fn last_number() -> Option<i32> {
    Some(LAST.load(Ordering::SeqCst)).filter(|signal| *signal > 0)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// The action SIGUSR1 has now.
    fn action() -> libc::sighandler_t {
        // SAFETY: a null new action only reads the current one into a
        // zeroed, valid sigaction.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(libc::SIGUSR1, std::ptr::null(), &mut current), 0);
            current.sa_sigaction
        }
    }

    #[test]
    fn the_handlers_live_as_long_as_their_last_guard() {
        let before = action();
        let first = install().unwrap_or_else(|e| panic!("{e}"));
        let second = install().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(action(), on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
        // SAFETY: raise(3) has no memory-safety preconditions; the handler
        // only counts.
        assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
        assert_eq!((requests(), last()), (1, Some("SIGUSR1")));
        assert_eq!(wait(0).unwrap_or_else(|e| panic!("{e}")), 1, "the pipe woke the wait");
        drop(first);
        assert_ne!(action(), before, "a guard still lives");
        drop(second);
        assert_eq!(action(), before, "the last guard put back what was there");
        assert!(PIPE.iter().all(|fd| fd.load(Ordering::SeqCst) == -1), "the pipe is closed");
        assert!(wait(0).is_err(), "no handlers, nothing to wait for");
    }
}
