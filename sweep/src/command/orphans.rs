//! Linux: black boxes' descendants that leave their process group
//! (`setsid`, a daemon's double fork) escape the group kills; as a child
//! subreaper, this process adopts them when their parents exit, and can
//! kill and reap them when the run ends.

use std::sync::atomic::{AtomicBool, Ordering};

/// Makes this process the subreaper of its descendants until dropped; the
/// drop kills (SIGKILL, with their process groups when they lead one) and
/// reaps every child that is not still wanted: adopted orphans, whatever
/// they were doing. Take it only when every child this process still
/// waits for has ended, i.e. after a run.
///
/// One at a time per process: a second one does nothing.
pub struct Orphans {
    active: bool,
}

static ADOPTING: AtomicBool = AtomicBool::new(false);

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
            for (pid, leads_group) in children {
                // SAFETY: kill(2) has no memory-safety preconditions. The pid
                // is our unreaped child, so it cannot have been reused; it
                // names its group only if it leads it.
                unsafe {
                    if leads_group {
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

/// This process's children (but the guardian), each with whether it leads
/// its own process group: read from `/proc/*/stat` (the parent pid is its
/// fourth field, the group its fifth).
fn children() -> Vec<(libc::pid_t, bool)> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let guardian = super::guardian::pid();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<libc::pid_t>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // The command name may hold spaces and parentheses: fields follow the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let mut fields = rest.split_whitespace().skip(1);
        let (Some(parent), Some(group)) = (fields.next(), fields.next()) else { continue };
        if parent.parse() == Ok(me) && Some(pid) != guardian {
            found.push((pid, group.parse() == Ok(pid)));
        }
    }
    found
}
