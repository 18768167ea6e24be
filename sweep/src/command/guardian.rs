//! Linux: a guardian process that kills the black boxes' process groups
//! when `sweep` dies, however it dies (SIGKILL included).
//!
//! `PR_SET_PDEATHSIG` kills a black box itself when the thread that started
//! it dies, but not what the black box forked (`sh -c 'sim & wait'`): that
//! would be reparented to init and run on, unowned. So the first black box
//! started forks a guardian: a child that only reads a pipe on which this
//! process announces each black box's process group as it starts (`+pgid`)
//! and once it is reaped (`-pgid`). The pipe's write end exists only in
//! this process, so the guardian reads end-of-file exactly when this process
//! is gone; it then SIGKILLs every group still announced and exits.

use std::fs::File;
use std::io::Write;
use std::os::unix::io::FromRawFd;
use std::sync::OnceLock;

/// Most groups the guardian tracks at once (far above the worker limit of
/// a machine with fewer than 256 cores).
const MAX_GROUPS: usize = 16_384;

/// The pipe to the guardian, started on first use; `None` if it could not
/// be started (black boxes then only have `PR_SET_PDEATHSIG`).
static GUARDIAN: OnceLock<Option<(File, libc::pid_t)>> = OnceLock::new();

/// The guardian's pid, once it runs: a child of this process that is no
/// black box's leftover.
pub(super) fn pid() -> Option<libc::pid_t> {
    GUARDIAN.get().and_then(|guardian| guardian.as_ref().map(|(_, pid)| *pid))
}

/// Announces the process group `pgid` of a black box just started.
pub(super) fn watch(pgid: libc::pid_t) {
    send(pgid);
}

/// Says the group `pgid` needs no more watching: its leader was reaped.
pub(super) fn release(pgid: libc::pid_t) {
    send(-pgid);
}

fn send(message: libc::pid_t) {
    if message == 0 {
        return;
    }
    if let Some((pipe, _)) = GUARDIAN.get_or_init(start).as_ref() {
        let mut pipe: &File = pipe;
        // Four bytes are below PIPE_BUF: each message is written whole,
        // whichever thread sends it. A dead guardian (EPIPE) is ignored.
        let _ = pipe.write_all(&message.to_ne_bytes());
    }
}

/// Forks the guardian; returns the pipe's write end and its pid.
fn start() -> Option<(File, libc::pid_t)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return None;
    }
    let [read_end, write_end] = fds;
    // Computed before the fork: the child may only make async-signal-safe calls.
    // SAFETY: sysconf has no preconditions.
    let open_max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(1024, 65_536) as libc::c_int;
    // SAFETY: fork has no memory-safety preconditions; the child only runs
    // `guard`, which makes async-signal-safe calls only (no allocation, no
    // lock), as required in the child of a multi-threaded process.
    match unsafe { libc::fork() } {
        -1 => {
            // SAFETY: both descriptors were just opened and are ours.
            unsafe {
                libc::close(read_end);
                libc::close(write_end);
            }
            None
        }
        // SAFETY: in the child; `read_end` is the pipe's open read end.
        0 => unsafe { guard(read_end, open_max) },
        pid => {
            // SAFETY: the read end belongs to the guardian now; the write end
            // is open and owned by nothing else in this process.
            unsafe {
                libc::close(read_end);
                Some((File::from_raw_fd(write_end), pid))
            }
        }
    }
}

/// The guardian's whole life.
///
/// # Safety
///
/// Only in a freshly forked child: it makes async-signal-safe calls only,
/// owns every descriptor, and never returns.
unsafe fn guard(read_end: libc::c_int, open_max: libc::c_int) -> ! {
    // A group of its own: `kill -9 -PGID` of sweep's group (supervisors,
    // job-control scripts) must not take the guardian with sweep, or
    // nothing is left to kill what the black boxes forked.
    libc::setpgid(0, 0);
    // Ctrl-C and `kill` of the process group are for sweep, which stops
    // gracefully; the guardian stays until sweep is gone (and a signal sent
    // to it alone must not end it early either).
    let mut ignore: libc::sigaction = std::mem::zeroed();
    ignore.sa_sigaction = libc::SIG_IGN;
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGPIPE] {
        libc::sigaction(signal, &ignore, std::ptr::null_mut());
    }
    // Keep only the pipe's read end (as stdin): the results file, its lock,
    // black boxes' pipes and the write end itself must not be held open
    // here, nor sweep's stdout/stderr (a reader would wait for the guardian).
    libc::dup2(read_end, 0);
    let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
    if null >= 0 {
        libc::dup2(null, 1);
        libc::dup2(null, 2);
    }
    if libc::syscall(libc::SYS_close_range, 3 as libc::c_uint, libc::c_uint::MAX, 0 as libc::c_uint) != 0 {
        for fd in 3..open_max {
            libc::close(fd);
        }
    }
    let mut groups = [0 as libc::pid_t; MAX_GROUPS];
    let mut count = 0;
    let mut message = [0u8; 4];
    let mut filled = 0;
    loop {
        let n = libc::read(0, message.as_mut_ptr().add(filled).cast(), message.len() - filled);
        if n == 0 {
            break; // sweep is gone
        }
        if n < 0 {
            if *libc::__errno_location() == libc::EINTR {
                continue;
            }
            break;
        }
        filled += n as usize;
        if filled < message.len() {
            continue;
        }
        filled = 0;
        let pgid = libc::pid_t::from_ne_bytes(message);
        if pgid > 0 && count < MAX_GROUPS {
            groups[count] = pgid;
            count += 1;
        } else if pgid < 0 {
            if let Some(i) = groups[..count].iter().position(|g| *g == -pgid) {
                count -= 1;
                groups[i] = groups[count];
            }
        }
    }
    for pgid in &groups[..count] {
        libc::kill(-*pgid, libc::SIGKILL);
    }
    libc::_exit(0)
}
