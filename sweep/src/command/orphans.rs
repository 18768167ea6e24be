//! Linux: black boxes' descendants that outlive them are adopted by this
//! process, a child subreaper: those left in a black box's process group
//! (`sim &` that it did not wait for), which are killed when it exits, and
//! those that left the group (`setsid`, a daemon's double fork), which the
//! group kills miss. Adopted children that exit are reaped when a black box
//! ends; those still running when the run ends are killed then.
//!
//! Reaping must never take the exit status of a child that this process
//! spawned and waits for itself (std's `Child::wait`): every black box is
//! spawned through [`spawn`], which registers its pid as this process's
//! own until the [`Own`] it returns is dropped, after the wait.

use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

/// Makes this process the subreaper of its descendants until dropped; the
/// drop kills (SIGKILL, with their process groups when they lead one) and
/// reaps every child that is not still wanted: adopted orphans, whatever
/// they were doing. Take it only when every child this process still
/// waits for has ended, i.e. after a run.
///
/// While it is held, each time a black box run by this module ends, the
/// children that have exited are reaped, but for the black boxes this
/// module still waits for: a process holding it must not spawn children of
/// its own otherwise, whose exit statuses would be taken.
///
/// One at a time per process: a second one does nothing.
pub struct Orphans {
    active: bool,
}

static ADOPTING: AtomicBool = AtomicBool::new(false);

/// Held shared while a child is spawned and registered, and exclusively
/// while [`reap_exited`] reaps: so it never meets a child of ours that is
/// not registered yet.
static SPAWNING: RwLock<()> = RwLock::new(());

/// The pids of the children spawned through [`spawn`] whose [`Own`] lives,
/// once per `Own` (a pid reaped and reused while its `Own` is not yet
/// dropped is in it twice).
static OWN: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

impl Orphans {
    /// Starts adopting orphaned descendants.
    pub fn adopt() -> Orphans {
        if ADOPTING.swap(true, Ordering::SeqCst) {
            return Orphans { active: false };
        }
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes plain integers.
        let set = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0;
        if !set {
            ADOPTING.store(false, Ordering::SeqCst);
        }
        Orphans { active: set }
    }

    /// Kills and reaps the adopted children now; returns how many there were.
    pub fn kill_adopted(&self) -> usize {
        if !self.active {
            return 0;
        }
        let mut killed = 0;
        // Killing one may orphan its own children onto us: go round again,
        // a bounded number of times.
        for _ in 0..64 {
            let children = children();
            if children.is_empty() {
                break;
            }
            for pid in children {
                // SAFETY: getpgid, kill(2) and waitpid have no memory-safety
                // preconditions. The pid is our unreaped child, so it cannot
                // have been reused; it names its group only if it leads it.
                unsafe {
                    if libc::getpgid(pid) == pid {
                        libc::kill(-pid, libc::SIGKILL);
                    }
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
                killed += 1;
            }
        }
        killed
    }
}

impl Drop for Orphans {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        self.kill_adopted();
        // SAFETY: as in `adopt`.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        }
        ADOPTING.store(false, Ordering::SeqCst);
    }
}

/// A child spawned by [`spawn`], registered as this process's own: keep it
/// until the child is reaped (or will never be waited for).
pub(super) struct Own(libc::pid_t);

impl Drop for Own {
    fn drop(&mut self) {
        let mut own = OWN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = own.iter().position(|pid| *pid == self.0) {
            own.swap_remove(i);
        }
    }
}

/// Spawns `command` and registers the child as this process's own, so
/// that [`reap_exited`] leaves it to its `Child::wait`.
pub(super) fn spawn(command: &mut Command) -> std::io::Result<(Child, Own)> {
    let _spawning = SPAWNING.read().unwrap_or_else(PoisonError::into_inner);
    let child = command.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).unwrap_or(0);
    OWN.lock().unwrap_or_else(PoisonError::into_inner).push(pid);
    Ok((child, Own(pid)))
}

/// Reaps the children that have exited and are not this process's own
/// (see [`spawn`]): adopted orphans, when an [`Orphans`] is held. Called
/// whenever a black box ends, so an adopted process that exits stays a
/// zombie (holding a pid, counted against `ulimit -u`) only until the next
/// black box ends, not until the run does.
///
/// Race-free: pids are only reaped while [`SPAWNING`] is held exclusively,
/// so no spawn is between its fork and its registration; every child of
/// ours then either is registered, and is skipped, or is not ours to wait
/// for. A registered child that exits meanwhile is still skipped (the
/// registration outlives its reaping by its own waiter), and a pid read
/// here cannot be reused by a new child of ours before the `waitpid`,
/// since nothing spawns meanwhile. Zombies are found with `WNOWAIT`, which
/// leaves them waitable, and each is reaped by its pid alone.
pub(super) fn reap_exited() {
    if !ADOPTING.load(Ordering::SeqCst) || exited_child().is_none() {
        return;
    }
    let _reaping = SPAWNING.write().unwrap_or_else(PoisonError::into_inner);
    let own = OWN.lock().unwrap_or_else(PoisonError::into_inner).clone();
    // waitid shows one zombie at a time: reap them while they are not
    // ours; one of ours, not reaped yet by its waiter, hides the rest,
    // which are then looked for among all the children.
    while let Some(pid) = exited_child() {
        // SAFETY: waitpid with a null status pointer has no preconditions.
        if own.contains(&pid) || unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) } != pid {
            for pid in children().into_iter().filter(|pid| !own.contains(pid)) {
                // SAFETY: as above; WNOHANG leaves a running child alone.
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
            }
            return;
        }
    }
}

/// A child that has exited, left waitable (`WNOWAIT`), if there is one.
fn exited_child() -> Option<libc::pid_t> {
    // SAFETY: `info` is a valid siginfo_t for waitid to fill; WNOWAIT
    // reaps nothing.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let found = libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) == 0;
        Some(info.si_pid()).filter(|pid| found && *pid != 0)
    }
}

/// This process's children but the guardian: from the `children` file of
/// each of its threads (each thread has its own children), or where the
/// kernel has no such files, from `/proc/*/stat` (the parent pid is its
/// fourth field).
fn children() -> Vec<libc::pid_t> {
    let guardian = super::guardian::pid();
    let mut found = children_of_threads().unwrap_or_else(children_by_scan);
    found.retain(|pid| Some(*pid) != guardian);
    found
}

/// `None` where `/proc/self/task/*/children` does not exist.
fn children_of_threads() -> Option<Vec<libc::pid_t>> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        match std::fs::read_to_string(task.path().join("children")) {
            Ok(list) => found.extend(list.split_whitespace().filter_map(|pid| pid.parse::<libc::pid_t>().ok())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && task.path().exists() => return None,
            // The thread ended meanwhile: its children went to another.
            Err(_) => {}
        }
    }
    Some(found)
}

fn children_by_scan() -> Vec<libc::pid_t> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<libc::pid_t>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // The command name may hold spaces and parentheses: fields follow the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        if rest.split_whitespace().nth(1).and_then(|parent| parent.parse().ok()) == Some(me) {
            found.push(pid);
        }
    }
    found
}
