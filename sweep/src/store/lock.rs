//! One writer per results file: an exclusive advisory lock (`flock(2)`).
//!
//! The lock is taken on a small sidecar file, `<results>.lock`, not on the
//! results file itself: `collect` and `repair` replace the results file by
//! renaming a new one over it, and a lock on the old inode would then guard
//! nothing. The sidecar is never renamed or deleted, so every process locks
//! the same inode. It holds the holder's pid and host, for the message a
//! second writer gets.
//!
//! The kernel drops an `flock` when the holder's last descriptor closes,
//! which includes the process being killed with SIGKILL: a crash never
//! leaves a stale lock. A holder that ends normally deletes the sidecar
//! while it still holds the lock; a SIGKILLed one leaves the file (with an
//! old pid in it, unlocked), and the next holder deletes it in turn.
//! Deleting a lock file is only safe because every taker checks, once it
//! holds the lock, that the file it locked is still the one at the path,
//! and starts over if not (it locked a file a releasing holder had just
//! unlinked).
//!
//! A path ending in `.lock` is never used as a results file, and a file
//! at the lock path that holds anything but a holder's `pid host` line (a
//! results file some other tool or older sweep put there) stops the taker
//! unchanged ([`StoreError::NotALock`]): the sidecar is deleted on release,
//! so guarding it by name alone would delete whatever sits there. A
//! releasing holder deletes only the file it locked, still holding the
//! line it wrote.
//!
//! While it holds the lock, a taker also removes temporary files left by
//! an atomic replacement of the results file that was killed before its
//! rename (`.<name>.<pid>.tmp`, see [`super::write_atomically`]): only lock
//! holders write them, so any found then is a leftover.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StoreError;

/// Held while a process writes a results file; released on drop (or when
/// the process dies, however it dies).
#[derive(Debug)]
pub struct ResultsLock {
    /// Keeps the lock: closing the descriptor releases it.
    _file: File,
    /// The sidecar, deleted on drop.
    path: PathBuf,
    /// What this holder wrote into the sidecar.
    line: String,
    results: PathBuf,
}

impl Drop for ResultsLock {
    /// Deletes the sidecar while still holding the lock (the descriptor
    /// closes after this), so a waiting taker notices and starts over. Only
    /// when the file at the path is still the one locked, holding what this
    /// holder wrote: anything else there is not ours to delete.
    fn drop(&mut self) {
        #[cfg(unix)]
        if is_at(&self._file, &self.path) && std::fs::read(&self.path).is_ok_and(|bytes| bytes == self.line.as_bytes())
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl ResultsLock {
    /// The sidecar file locked for `results`: `<results>.lock`. (When
    /// `results` is a symbolic link, [`ResultsLock::acquire`] locks the
    /// sidecar of the file it points to.)
    pub fn lock_path(results: &Path) -> PathBuf {
        let mut name = results.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock of `results` without waiting: fails at once with
    /// [`StoreError::Locked`] (naming the holder's pid and host) when
    /// another process holds it.
    ///
    /// Refuses ([`StoreError::LockName`]) a `results` path, or the file a
    /// link there points to, whose name ends in `.lock`: it is, or may
    /// become, the lock of another results file. Refuses
    /// ([`StoreError::NotALock`]) when the file at the lock path holds
    /// anything but a lock holder's line, and leaves it as it is.
    pub fn acquire(results: &Path) -> Result<ResultsLock, StoreError> {
        // A results file reached through a symbolic link is locked beside
        // the file itself, so every name for it shares one lock.
        let target = match std::fs::symlink_metadata(results) {
            Ok(m) if m.file_type().is_symlink() => super::atomic::link_target(results)
                .map_err(|reason| StoreError::Io { path: results.to_owned(), doing: "resolve the link", reason })?,
            _ => results.to_owned(),
        };
        for name in [results, target.as_path()] {
            if let Some(owner) = name.as_os_str().to_string_lossy().strip_suffix(".lock") {
                return Err(StoreError::LockName { path: name.to_owned(), owner: PathBuf::from(owner) });
            }
        }
        // Before any directory is created for it: `x.jsonl/` + `.lock` is
        // a file in a directory `x.jsonl`.
        super::names::refuse_directory_name(results, "the results file")?;
        let lock_path = Self::lock_path(&target);
        let io = |doing, reason| StoreError::Io { path: lock_path.clone(), doing, reason };
        if let Some(parent) = lock_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io("create the directory of", e))?;
        }
        // Each round either returns or lost a race with a releasing holder
        // deleting the file; a few rounds are plenty.
        let mut rounds = 0;
        let dying_deadline = Instant::now() + Duration::from_secs(2);
        let not_a_lock = || StoreError::NotALock { path: lock_path.clone(), results: results.to_owned() };
        let mut file = loop {
            // Only a regular file can be a lock: a link (whose target would
            // be written through and its name deleted), a directory or a
            // FIFO at the lock path is someone's, left as it is.
            if std::fs::symlink_metadata(&lock_path).is_ok_and(|m| !m.file_type().is_file()) {
                return Err(not_a_lock());
            }
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            // A link put there since the look above is not followed either,
            // nor does a FIFO put there block the read of a holder's line.
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
            let mut file = match options.open(&lock_path) {
                Ok(file) => file,
                #[cfg(unix)]
                Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EISDIR)) => return Err(not_a_lock()),
                Err(e) => return Err(io("open the lock file", e)),
            };
            match try_lock_exclusive(&file) {
                Ok(true) => {}
                Ok(false) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    // A holder that was just SIGKILLed may still hold the
                    // lock for a moment through a child it forked and that
                    // has not reached exec yet (exec closes our descriptors,
                    // which are close-on-exec). Wait that moment out, but only
                    // when the recorded holder is known to be gone.
                    if holder_is_gone(&holder) && Instant::now() < dying_deadline {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    return Err(StoreError::Locked {
                        path: results.to_owned(),
                        holder: describe_holder(&holder),
                        also: "",
                    });
                }
                Err(reason) => return Err(io("lock", reason)),
            }
            rounds += 1;
            if is_at(&file, &lock_path) || rounds >= 100 {
                break file;
            }
        };
        // Locked, but not yet changed: what is there must be a lock's (or
        // nothing), else it is someone's data at the lock's name. Not a
        // regular file (a FIFO would block the read below): not a lock.
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(not_a_lock());
        }
        let mut found = Vec::new();
        let read = file.rewind().and_then(|()| (&mut file).take(LOCK_LINE_MAX as u64 + 1).read_to_end(&mut found));
        if let Err(reason) = read {
            return Err(io("read the lock file", reason));
        }
        if !is_lock_line(&found) {
            return Err(not_a_lock());
        }
        // Ours now: record who holds it. Failing to write this is not fatal
        // (the lock is what matters), so errors are ignored.
        let line = format!("{} {}\n", std::process::id(), hostname());
        let _ = file.set_len(0).and_then(|()| file.rewind());
        let _ = file.write_all(line.as_bytes());
        let _ = file.flush();
        super::atomic::remove_leftover_temporaries(results);
        Ok(ResultsLock { _file: file, path: lock_path, line, results: results.to_owned() })
    }

    /// The results file this lock guards.
    pub fn results_path(&self) -> &Path {
        &self.results
    }
}

/// The longest line a holder writes: a pid, a space, a host name of at
/// most 255 bytes, a newline.
const LOCK_LINE_MAX: usize = 300;

/// Whether `bytes` is what a lock holder leaves in the sidecar: nothing
/// (created, not yet written), its whole `pid host\n` line, or a start of
/// that line cut short by a failed write (a full disk, a crash): digits,
/// then a space and host characters, never the newline, which only ends a
/// whole line. `12345\n` (`echo 12345 >`) is no holder's.
fn is_lock_line(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else { return false };
    if text.is_empty() {
        return true;
    }
    let (body, whole) = match text.strip_suffix('\n') {
        Some(body) => (body, true),
        None => (text, false),
    };
    let (pid, host) = match body.split_once(' ') {
        Some((pid, host)) => (pid, Some(host)),
        None => (body, None),
    };
    let pid_ok = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    let host_ok = match host {
        Some(host) => (!whole || !host.is_empty()) && !host.chars().any(char::is_whitespace),
        None => !whole,
    };
    bytes.len() <= LOCK_LINE_MAX && pid_ok && host_ok
}

/// "pid 1234 on node7" from the sidecar's `1234 node7`.
fn describe_holder(text: &str) -> String {
    let mut words = text.split_whitespace();
    match (words.next(), words.next()) {
        (Some(pid), Some(host)) => format!("pid {pid} on {host}"),
        (Some(pid), None) => format!("pid {pid}"),
        _ => "a process that has not written its pid yet".to_owned(),
    }
}

/// Whether the sidecar's `pid host` names a process of this machine that no
/// longer exists. Unknown or foreign holders count as alive: refusing is the
/// safe answer.
fn holder_is_gone(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let (Some(pid), Some(host)) = (words.next(), words.next()) else { return false };
    let Ok(pid) = pid.parse::<i32>() else { return false };
    if host != hostname() || pid <= 0 {
        return false;
    }
    #[cfg(unix)]
    {
        // SAFETY: kill with signal 0 only checks that the process exists.
        let rc = unsafe { libc::kill(pid, 0) };
        rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// This machine's name, for lock messages (a pid means little on a shared
/// file system without it).
pub(crate) fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buffer = [0u8; 256];
        // SAFETY: the pointer and length describe `buffer`, which outlives
        // the call; gethostname writes at most `len` bytes into it.
        let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
        if rc == 0 {
            let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
            return String::from_utf8_lossy(&buffer[..end]).into_owned();
        }
    }
    std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown-host".to_owned())
}

/// Whether `file` is the file now at `path` (not one unlinked since it was
/// opened).
#[cfg(unix)]
fn is_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // The path itself: a link there, even to the file, is not the lock.
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Lock files are not deleted off Unix, so the one opened is the one there.
#[cfg(not(unix))]
fn is_at(_file: &File, _path: &Path) -> bool {
    true
}

/// `Ok(false)` when another open file description holds the lock.
#[cfg(unix)]
fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    loop {
        // SAFETY: flock(2) only reads the descriptor number, which `file`
        // keeps open for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let error = std::io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(code) if code == libc::EWOULDBLOCK || code == libc::EAGAIN => return Ok(false),
            _ => return Err(error),
        }
    }
}

/// Without `flock`, `File::try_lock` (same semantics on Windows).
#[cfg(not(unix))]
fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn only_a_holder_of_this_host_that_has_exited_counts_as_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap_or_else(|e| panic!("{e}"));
        let dead = child.id();
        let _ = child.wait();
        let host = hostname();
        assert!(holder_is_gone(&format!("{dead} {host}")));
        assert!(!holder_is_gone(&format!("{} {host}", std::process::id())), "we are alive");
        assert!(!holder_is_gone(&format!("{dead} some-other-node")), "a pid of another host says nothing");
        assert!(!holder_is_gone(""), "no pid written yet");
        assert!(!holder_is_gone("garbage"));
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let results = dir.path().join("r.jsonl");
        let first = ResultsLock::acquire(&results).unwrap_or_else(|e| panic!("{e}"));
        // A second open file description conflicts even within one process.
        let message = ResultsLock::acquire(&results).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
        assert!(message.contains("r.jsonl"), "{message}");
        drop(first);
        let again = ResultsLock::acquire(&results);
        assert!(again.is_ok(), "the lock must be free once dropped");
    }

    #[test]
    fn only_a_holders_line_counts_as_a_lock() {
        for lock in ["", "123", "123 ", "123 node7", "123 node7\n"] {
            assert!(is_lock_line(lock.as_bytes()), "{lock:?}");
        }
        for other in [
            "{\"sweep\":{}}\n",
            "123 node7\n{\"k\":1}\n",
            "123 node7 more",
            "notes",
            "1 a\n2 b\n",
            "12345\n",
            "123 \n",
            " node7\n",
            " node7",
            "\n",
        ] {
            assert!(!is_lock_line(other.as_bytes()), "{other:?}");
        }
        assert!(!is_lock_line(format!("1 {}", "h".repeat(LOCK_LINE_MAX)).as_bytes()));
    }

    #[cfg(unix)]
    #[test]
    fn a_holder_deletes_only_its_own_lock_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let results = dir.path().join("r.jsonl");
        let lock_path = ResultsLock::lock_path(&results);
        let held = ResultsLock::acquire(&results).unwrap_or_else(|e| panic!("{e}"));
        // Something else put at the lock's name while it was held.
        std::fs::write(dir.path().join("other"), "data").unwrap_or_else(|e| panic!("{e}"));
        std::fs::rename(dir.path().join("other"), &lock_path).unwrap_or_else(|e| panic!("{e}"));
        drop(held);
        assert_eq!(std::fs::read_to_string(&lock_path).unwrap_or_default(), "data");
        let refused = ResultsLock::acquire(&results);
        assert!(matches!(refused, Err(StoreError::NotALock { .. })), "{refused:?}");
        assert_eq!(std::fs::read_to_string(&lock_path).unwrap_or_default(), "data", "a refusal changes nothing");
    }

    #[cfg(unix)]
    #[test]
    fn a_taker_that_locked_a_released_holders_deleted_file_notices() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let results = dir.path().join("r.jsonl");
        let first = ResultsLock::acquire(&results).unwrap_or_else(|e| panic!("{e}"));
        // A taker that opened the lock file just before the holder released it.
        let late = File::open(ResultsLock::lock_path(&results)).unwrap_or_else(|e| panic!("{e}"));
        drop(first);
        assert!(!ResultsLock::lock_path(&results).exists(), "a released lock deletes its file");
        let second = ResultsLock::acquire(&results).unwrap_or_else(|e| panic!("{e}"));
        // The late taker can lock the deleted file, but must see it is stale.
        // (Retried for a moment: a process another test thread is spawning
        // shares our descriptors until its exec, and with them the lock.)
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while try_lock_exclusive(&late).ok() != Some(true) {
            assert!(std::time::Instant::now() < deadline, "the deleted lock file stayed locked");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!is_at(&late, &ResultsLock::lock_path(&results)));
        assert!(is_at(&second._file, &ResultsLock::lock_path(&results)));
    }
}
