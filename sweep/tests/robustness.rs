//! The binary against hostile black boxes, signals and damaged files:
//! bounded capture, graceful stops, no orphans, retries and given-up
//! points, repair, and refusals of impossible requests.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::{stderr, stdout, Sandbox};

fn records_on_disk(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count().saturating_sub(1))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// Whether `pid` still runs. A zombie counts as dead: a killed grandchild
/// is re-parented to init, which may take its time to reap it.
fn alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat.rsplit_once(')').is_none_or(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

#[test]
fn a_black_box_printing_without_end_fails_its_point_without_eating_memory() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "loud.ron",
        r#"(space: List(name: "m", values: ["yes", "chatty"]),
            command: ["sh", "-c", "case {m} in yes) exec yes;; chatty) head -c 5000000 /dev/zero | tr '\\0' x >&2; echo 2.5;; esac"],
            max_output: 65536, workers: 2)"#,
    );
    let started = Instant::now();
    let output = sandbox.sweep(&["run", "--no-progress", "loud.ron"]);
    assert_eq!(output.status.code(), Some(3), "one point failed: {}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    let results = sandbox.load("loud.jsonl");
    let latest = results.latest();
    let yes = latest.iter().find(|r| r.index == 0).and_then(|r| r.outcome.clone().err()).unwrap_or_default();
    assert!(yes.contains("more than 64 KiB on stdout") && yes.contains("killed"), "{yes}");
    // Megabytes on stderr are drained and trimmed, not a failure.
    let chatty = latest.iter().find(|r| r.index == 1).map(|r| r.outcome.clone());
    assert_eq!(chatty, Some(Ok(serde_json::json!(2.5))));
}

#[test]
fn impossible_requests_are_refused_before_anything_runs() {
    let sandbox = Sandbox::new();
    sandbox.spec("fine.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    let output = sandbox.sweep(&["run", "--workers", "100000", "fine.ron"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("100000 workers is more than this machine can use"), "{}", stderr(&output));
    let cases = [
        ("grid.ron", r#"(space: Grid([]), command: ["echo", "1"])"#, "empty"),
        (
            "log.ron",
            r#"(space: Logspace(name: "x", start: 300.0, stop: 400.0, num: 5), command: ["echo", "{x}"])"#,
            "10^400 overflows",
        ),
        (
            "tiny.ron",
            r#"(space: Logspace(name: "x", start: -400.0, stop: -300.0, num: 5), command: ["echo", "{x}"])"#,
            "10^-400 underflows to 0",
        ),
        (
            "same.ron",
            r#"(space: List(name: "x", values: [0.5, 0.25, 0.5]), command: ["echo", "{x}"])"#,
            "lists 0.5 twice",
        ),
    ];
    for (name, text, needle) in cases {
        sandbox.spec(name, text);
        let output = sandbox.sweep(&["run", name]);
        assert!(!output.status.success(), "{name} must be refused");
        assert!(stderr(&output).contains(needle), "{name}: {}", stderr(&output));
        assert!(!sandbox.path(name).with_extension("jsonl").exists(), "{name}: nothing may be written");
    }
    // A linspace whose span overflows a double, but none of whose values
    // does, runs (it was refused).
    sandbox.spec(
        "lin.ron",
        r#"(space: Linspace(name: "x", start: -1e308, stop: 1e308, num: 5), command: ["echo", "{x}"])"#,
    );
    let output = sandbox.sweep(&["run", "--no-progress", "lin.ron"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let values: Vec<f64> = sandbox.load("lin.jsonl").latest().iter().filter_map(|r| r.point.f64("x")).collect();
    assert_eq!(values, [-1e308, -5e307, 0.0, 5e307, 1e308]);
}

#[test]
fn sigterm_stops_gracefully_and_a_resume_finishes_the_rest() {
    let sandbox = Sandbox::new();
    sandbox.spec("slow.ron", SLOW);
    let results = sandbox.path("slow.jsonl");
    let child = sandbox.start(&["run", "slow.ron", "--progress-every", "0.2"]);
    wait_until("two records", || records_on_disk(&results) >= 2);
    signal(&child, libc::SIGTERM);
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(128 + libc::SIGTERM), "{text}");
    assert!(text.contains("SIGTERM received: starting no new points"), "{text}");
    assert!(text.contains("stopped by SIGTERM") && text.contains("Run the same command again to resume"), "{text}");
    assert!(text.contains("points/s, ETA"), "a progress line is printed for logs: {text}");
    assert_stopped_cleanly_and_resumed(&sandbox);
}

/// 24 points of 0.3 s on 2 workers: long enough to stop in the middle.
const SLOW: &str =
    r#"(space: Range(name: "k", start: 0, end: 24), command: ["sh", "-c", "sleep 0.3; echo {k}"], workers: 2)"#;

/// After `SLOW` was stopped: the points in flight finished and were
/// recorded once, and a resume computes exactly the rest.
fn assert_stopped_cleanly_and_resumed(sandbox: &Sandbox) {
    let stopped = sandbox.load("slow.jsonl");
    let done = stopped.status().done;
    assert!((2..24).contains(&done), "{done} points done when stopped");
    assert_eq!(stopped.records.len(), done, "points in flight finished and were recorded once");
    let resumed = sandbox.sweep(&["run", "--no-progress", "slow.ron"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let all = sandbox.load("slow.jsonl");
    assert_eq!((all.status().done, all.records.len()), (24, 24), "no point lost or computed twice");
}

/// Closing a terminal sends SIGHUP, after which every write to it fails
/// with EIO. The run stops as on SIGTERM, and its output to the dead
/// terminal is dropped instead of failing (a failed write panics `print!`),
/// so it ends with 129 and every record saved.
#[test]
fn a_closed_terminal_stops_the_run_and_nothing_is_lost() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let sandbox = Sandbox::new();
    sandbox.spec("slow.ron", SLOW);
    let (mut master, mut terminal) = (-1, -1);
    // SAFETY: openpty writes two descriptors, owned from here on.
    let opened =
        unsafe { libc::openpty(&mut master, &mut terminal, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened and nothing else owns them.
    let (master, terminal) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(terminal)) };
    let output_end = terminal.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let mut command = sandbox.command(&["run", "slow.ron", "--progress-every", "0.1"]);
    command.stdout(output_end).stderr(terminal);
    let mut child = command.spawn().unwrap_or_else(|e| panic!("spawning sweep: {e}"));
    drop(command);
    let results = sandbox.path("slow.jsonl");
    wait_until("two records", || records_on_disk(&results) >= 2);
    // The terminal goes: its writes fail from now on, and the shell sends SIGHUP.
    drop(master);
    signal(&child, libc::SIGHUP);
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(128 + libc::SIGHUP), "stopped by the hangup, not by a panic");
    assert_stopped_cleanly_and_resumed(&sandbox);
}

/// `nohup` ignores SIGHUP, and a shell ignores SIGINT for a job started
/// with `&`: a signal the run starts with ignored stays ignored.
#[test]
fn signals_ignored_at_start_stay_ignored() {
    use std::os::unix::process::CommandExt;
    let sandbox = Sandbox::new();
    sandbox.spec(
        "slow.ron",
        r#"(space: Range(name: "k", start: 0, end: 8), command: ["sh", "-c", "sleep 0.2; echo {k}"], workers: 2)"#,
    );
    let mut command = sandbox.command(&["run", "--no-progress", "slow.ron"]);
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    // SAFETY: the closure only calls signal(2), which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            Ok(())
        });
    }
    let child = command.spawn().unwrap_or_else(|e| panic!("spawning sweep: {e}"));
    let results = sandbox.path("slow.jsonl");
    wait_until("two records", || records_on_disk(&results) >= 2);
    signal(&child, libc::SIGHUP);
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(sandbox.load("slow.jsonl").status().done, 8, "the run went on to the end");
}

/// Writes `pids/<k>` with the pid of a long sleep, then sleeps: for far
/// longer than `wait_until` waits, so a survivor fails the test instead of
/// ending on its own in time.
const SLEEPER: &str = r#"(space: Range(name: "k", start: 0, end: 6),
    command: ["sh", "-c", "echo $$ > pids/{k}; exec sleep 120"], workers: 2)"#;

/// Slurm's scancel and requeue signal every process of the job: the black
/// boxes die of the same SIGTERM as sweep. That is no failure of the
/// points: nothing is recorded and no attempt is spent.
#[test]
fn black_boxes_signalled_with_the_run_spend_no_attempt() {
    let sandbox = with_sleepers("sleepers.ron", SLEEPER);
    let child = sandbox.start(&["run", "sleepers.ron", "--no-progress"]);
    wait_until("two sleepers", || sleeper_pids(&sandbox).len() >= 2);
    signal(&child, libc::SIGTERM);
    for pid in sleeper_pids(&sandbox) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(128 + libc::SIGTERM), "{}", stderr(&output));
    let results = sandbox.load("sleepers.jsonl");
    assert_eq!(results.records.len(), 0, "killed with the run, not failed: {:?}", results.records);
}

/// A sandbox holding the spec `name` and an empty `pids/` directory, where
/// its black boxes (like those of `SLEEPER`) write their pids.
fn with_sleepers(name: &str, spec: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("pids")).unwrap_or_else(|e| panic!("{e}"));
    sandbox.spec(name, spec);
    sandbox
}

/// Waits until every process whose pid is in `pids/` has died; `what`
/// names that process in the timeout message.
fn wait_until_sleepers_die(sandbox: &Sandbox, what: &str) {
    for pid in sleeper_pids(sandbox) {
        wait_until(what, || !alive(pid));
    }
}

/// Runs `sweep run NAME` on black boxes that record their pids, SIGKILLs it
/// once two have (no handler runs), and waits until every recorded process
/// has died. `started` and `dying` name the processes in timeout messages.
#[cfg(target_os = "linux")]
fn sigkill_once_two_run(name: &str, spec: &str, started: &str, dying: &str) {
    let sandbox = with_sleepers(name, spec);
    let mut child = sandbox.start(&["run", name]);
    wait_until(started, || sleeper_pids(&sandbox).len() >= 2);
    child.kill().unwrap_or_else(|e| panic!("{e}")); // SIGKILL: no handler runs
    let _ = child.wait();
    wait_until_sleepers_die(&sandbox, dying);
}

/// `kill -9 -PGID`, as supervisors and job-control scripts send it, reaches
/// every process in sweep's group at once: the guardian must not be one of
/// them, or nothing is left to kill the black boxes' children.
#[cfg(target_os = "linux")]
#[test]
fn grandchildren_of_black_boxes_die_when_sweep_s_whole_group_is_sigkilled() {
    use std::os::unix::process::CommandExt;
    let sandbox = with_sleepers("forking.ron", FORKING_SLEEPER);
    let mut command = sandbox.command(&["run", "forking.ron"]);
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).process_group(0);
    let mut child = command.spawn().unwrap_or_else(|e| panic!("spawning sweep: {e}"));
    wait_until("two forked sleepers", || sleeper_pids(&sandbox).len() >= 2);
    let group = libc::pid_t::try_from(child.id()).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(-group, libc::SIGKILL) }, 0);
    let _ = child.wait();
    wait_until_sleepers_die(&sandbox, "the black box's own child to die");
}

fn sleeper_pids(sandbox: &Sandbox) -> Vec<libc::pid_t> {
    let dir = sandbox.path("pids");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Some(pid) = std::fs::read_to_string(entry.path()).ok().and_then(|t| t.trim().parse().ok()) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn a_second_signal_or_the_grace_period_kills_the_black_boxes() {
    let sandbox = with_sleepers("sleepy.ron", SLEEPER);
    let child = sandbox.start(&["run", "sleepy.ron", "--grace", "0.5"]);
    wait_until("two sleepers", || sleeper_pids(&sandbox).len() >= 2);
    let started = Instant::now();
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(started.elapsed() < Duration::from_secs(10), "the grace period was not enforced");
    assert_eq!(output.status.code(), Some(128 + libc::SIGINT), "{}", stderr(&output));
    assert!(stderr(&output).contains("2 abandoned in flight"), "{}", stderr(&output));
    wait_until_sleepers_die(&sandbox, "the black box to die");
    // Abandoned points have no record: a resume computes them.
    assert_eq!(sandbox.load("sleepy.jsonl").records.len(), 0);
}

#[cfg(target_os = "linux")]
#[test]
fn black_boxes_die_with_a_sigkilled_sweep() {
    sigkill_once_two_run("sleepy.ron", SLEEPER, "two sleepers", "the orphaned black box to die");
}

/// Like `SLEEPER`, but the sleep is a grandchild: `sh` forks it and waits.
const FORKING_SLEEPER: &str = r#"(space: Range(name: "k", start: 0, end: 6),
    command: ["sh", "-c", "sleep 120 & echo $! > pids/{k}; wait"], workers: 2)"#;

#[cfg(target_os = "linux")]
#[test]
fn grandchildren_of_black_boxes_die_with_a_sigkilled_sweep() {
    sigkill_once_two_run("forking.ron", FORKING_SLEEPER, "two forked sleepers", "the black box's own child to die");
}

#[test]
fn grandchildren_of_black_boxes_die_on_a_graceful_stop() {
    let sandbox = with_sleepers("forking.ron", FORKING_SLEEPER);
    let child = sandbox.start(&["run", "forking.ron", "--grace", "0.2"]);
    wait_until("two forked sleepers", || sleeper_pids(&sandbox).len() >= 2);
    signal(&child, libc::SIGTERM);
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(128 + libc::SIGTERM), "{}", stderr(&output));
    wait_until_sleepers_die(&sandbox, "the black box's own child to die");
}

#[test]
fn a_black_box_that_exits_leaving_a_background_child_is_done_at_once() {
    // The background sleep inherits stdout: waiting for the pipe to close
    // would wait for it, past any --timeout.
    let sandbox = with_sleepers(
        "leaky.ron",
        r#"(space: Range(name: "k", start: 0, end: 2),
            command: ["sh", "-c", "sleep 120 & echo $! > pids/{k}; echo {k}.5"], workers: 2, timeout_secs: 20.0)"#,
    );
    let started = Instant::now();
    let output = sandbox.sweep(&["run", "--no-progress", "leaky.ron"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(10), "waited {:?} for a leftover child", started.elapsed());
    let values: Vec<_> = sandbox.load("leaky.jsonl").latest().iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(values, [Ok(serde_json::json!(0.5)), Ok(serde_json::json!(1.5))]);
    wait_until_sleepers_die(&sandbox, "the leftover child to die");
}

#[test]
fn a_point_that_keeps_failing_is_given_up_after_max_attempts() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "flaky.ron",
        r#"(space: Range(name: "k", start: 0, end: 3),
            command: ["sh", "-c", "[ {k} -ne 1 ] || { echo broken >&2; exit 4; }; echo {k}"], workers: 1)"#,
    );
    let first = sandbox.sweep(&["run", "--no-progress", "--retries", "1", "--retry-delay", "0.05", "flaky.ron"]);
    assert_eq!(first.status.code(), Some(3), "one point failed: {}", stderr(&first));
    assert!(stderr(&first).contains("3 computed (1 failed, 4 attempts in all)"), "{}", stderr(&first));
    let again = sandbox.sweep(&[
        "run",
        "--no-progress",
        "--retry-failed",
        "--retries",
        "5",
        "--retry-delay",
        "0.05",
        "flaky.ron",
    ]);
    assert!(stderr(&again).contains("1 point failed 3 times and is given up"), "{}", stderr(&again));
    let results = sandbox.load("flaky.jsonl");
    let attempts: Vec<u32> = results.records.iter().filter(|r| r.index == 1).map(|r| r.attempt).collect();
    assert_eq!(attempts, [1, 2, 3], "every failed attempt is recorded, none past the cap");
    let last = results.latest().into_iter().find(|r| r.index == 1).and_then(|r| r.provenance.clone());
    let last = last.unwrap_or_else(|| panic!("no provenance"));
    assert_eq!(last.exit.and_then(|e| e.code), Some(4));
    assert!(last.started.ends_with('Z') && !last.host.is_empty(), "{last:?}");

    let given_up = sandbox.sweep(&["run", "--no-progress", "--retry-failed", "flaky.ron"]);
    assert!(stderr(&given_up).contains("0 computed"), "a given-up point is not retried: {}", stderr(&given_up));
    let status = stdout(&sandbox.sweep(&["status", "flaky.jsonl"]));
    assert!(status.contains("failed:      1 (1 given up: failed at least 3 times, the default)"), "{status}");
    assert!(status.contains("attempt 3") && status.contains("exit 4"), "{status}");
    let log = stdout(&sandbox.sweep(&["status", "--records", "flaky.jsonl"]));
    let rows: Vec<&str> = log.lines().skip_while(|l| !l.starts_with("index\t")).skip(1).collect();
    assert_eq!(rows.len(), 5, "one row per record: {log}");
    assert!(rows.iter().any(|r| r.starts_with("1\t3\t") && r.contains("\t4\t") && r.contains("failed: ")), "{log}");
}

#[test]
fn a_damaged_file_is_repaired_without_losing_a_record() {
    let sandbox = Sandbox::new();
    sandbox.spec("ten.ron", r#"(space: Range(name: "k", start: 0, end: 10), command: ["echo", "{k}"], workers: 2)"#);
    sandbox.spec(
        "other.ron",
        r#"(space: Range(name: "k", start: 100, end: 130), command: ["echo", "{k}"], output: "other.jsonl")"#,
    );
    assert!(sandbox.sweep(&["run", "--no-progress", "ten.ron"]).status.success());
    assert!(sandbox.sweep(&["run", "--no-progress", "other.ron"]).status.success());
    let path = sandbox.path("ten.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.insert(4, "garbage from an editor".to_owned());
    // Records of the same command at points outside this space pasted
    // under this header: valid records of this sweep's command, kept.
    let other = std::fs::read_to_string(sandbox.path("other.jsonl")).unwrap_or_default();
    lines.extend(other.lines().skip(1).map(str::to_owned));
    text = lines.join("\n") + "\n";
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));

    let refused = sandbox.sweep(&["run", "--no-progress", "ten.ron"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("ten.jsonl:5:") && stderr(&refused).contains("sweep repair"),
        "{}",
        stderr(&refused)
    );

    let repaired = sandbox.sweep(&["repair", "ten.jsonl"]);
    assert!(repaired.status.success(), "{}", stderr(&repaired));
    assert!(
        stderr(&repaired).contains(
            "kept 40 records (30 of points outside the space, which this sweep's command computed); moved 1 \
             unparsable line to"
        ),
        "{}",
        stderr(&repaired)
    );
    let rejected = std::fs::read_to_string(sandbox.path("ten.jsonl.rejected.jsonl")).unwrap_or_default();
    assert_eq!(rejected, "garbage from an editor\n");
    let status = sandbox.load("ten.jsonl").status();
    assert_eq!((status.done, status.outside, status.missing), (10, 30, 0));
    let rerun = sandbox.sweep(&["run", "--no-progress", "ten.ron"]);
    assert!(stderr(&rerun).contains("0 computed (0 failed), 10 already done"), "{}", stderr(&rerun));
}

#[test]
fn a_repair_stopped_before_replacing_the_results_file_is_redone_without_repeating_a_line() {
    let sandbox = Sandbox::new();
    sandbox.spec("ten.ron", r#"(space: Range(name: "k", start: 0, end: 10), command: ["echo", "{k}"])"#);
    assert!(sandbox.sweep(&["run", "--no-progress", "ten.ron"]).status.success());
    let path = sandbox.path("ten.jsonl");
    let mut lines: Vec<String> =
        std::fs::read_to_string(&path).unwrap_or_default().lines().map(str::to_owned).collect();
    lines.insert(5, "JUNK".to_owned());
    let damaged = lines.join("\n") + "\n";
    // An earlier repair's line, kept.
    std::fs::write(sandbox.path("ten.jsonl.rejected.jsonl"), "older\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&path, &damaged).unwrap_or_else(|e| panic!("{e}"));
    assert!(sandbox.sweep(&["repair", "ten.jsonl"]).status.success());
    // As a repair stopped after the side file was written, before the
    // rename: the damaged file is still there, and so are the temporaries
    // of the replacements it was making.
    std::fs::write(&path, &damaged).unwrap_or_else(|e| panic!("{e}"));
    let leftovers = [".ten.jsonl.4242.tmp", ".ten.jsonl.rejected.jsonl.4242.tmp"];
    for leftover in leftovers {
        std::fs::write(sandbox.path(leftover), "half").unwrap_or_else(|e| panic!("{e}"));
    }
    let again = sandbox.sweep(&["repair", "ten.jsonl"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let side = std::fs::read_to_string(sandbox.path("ten.jsonl.rejected.jsonl")).unwrap_or_default();
    assert_eq!(side, "older\nJUNK\n", "each moved line once, earlier lines kept");
    for leftover in leftovers {
        assert!(!sandbox.path(leftover).exists(), "{leftover} is removed");
    }
    assert_eq!(sandbox.load("ten.jsonl").latest().len(), 10);
}

#[test]
fn records_of_other_points_are_not_counted_as_done() {
    let sandbox = Sandbox::new();
    sandbox.spec("small.ron", r#"(space: Range(name: "k", start: 0, end: 30), command: ["echo", "{k}"], workers: 2)"#);
    sandbox.spec(
        "big.ron",
        r#"(space: Range(name: "k", start: 30, end: 90), command: ["echo", "{k}"], output: "big.jsonl")"#,
    );
    assert!(sandbox.sweep(&["run", "--no-progress", "big.ron"]).status.success());
    // A header of `small` above 60 records of `big`'s points.
    assert!(sandbox.sweep(&["run", "--no-progress", "small.ron"]).status.success());
    let small = std::fs::read_to_string(sandbox.path("small.jsonl")).unwrap_or_default();
    let big = std::fs::read_to_string(sandbox.path("big.jsonl")).unwrap_or_default();
    let header = small.lines().next().unwrap_or_default();
    let pasted: Vec<&str> = std::iter::once(header).chain(big.lines().skip(1)).collect();
    std::fs::write(sandbox.path("pasted.jsonl"), pasted.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
    let status = stdout(&sandbox.sweep(&["status", "pasted.jsonl"]));
    assert!(status.contains("done:        0"), "{status}");
    assert!(status.contains("missing:     30"), "{status}");
    assert!(status.contains("outside:     60 records"), "{status}");
    // Export leaves them out too, and says so.
    let export = sandbox.sweep(&["export", "pasted.jsonl"]);
    assert!(export.status.success(), "{}", stderr(&export));
    assert_eq!(stdout(&export).lines().count(), 1, "only the heading: {}", stdout(&export));
    assert!(
        stderr(&export).contains("60 records of points not in this space left out of the CSV"),
        "{}",
        stderr(&export)
    );
}

#[test]
fn a_sweep_killed_between_attempts_keeps_them_and_the_resume_goes_on_counting() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "broken.ron",
        r#"(space: Range(name: "k", start: 0, end: 1), command: ["sh", "-c", "exit 4"], workers: 1)"#,
    );
    let results = sandbox.path("broken.jsonl");
    // A long back-off: the kill lands between attempts 1 and 2.
    let mut child = sandbox.start(&["run", "--no-progress", "--retries", "2", "--retry-delay", "60", "broken.ron"]);
    wait_until("the first attempt's record", || records_on_disk(&results) >= 1);
    child.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = child.wait();
    let killed = sandbox.load("broken.jsonl");
    assert_eq!(killed.records.iter().map(|r| (r.attempt, r.retrying)).collect::<Vec<_>>(), [(1, true)]);

    // The same command resumes the retries (no --retry-failed needed), from attempt 2.
    let resumed = sandbox.sweep(&["run", "--no-progress", "--retries", "2", "--retry-delay", "0.01", "broken.ron"]);
    assert_eq!(resumed.status.code(), Some(3), "the point is given up: {}", stderr(&resumed));
    let all = sandbox.load("broken.jsonl");
    assert_eq!(all.records.iter().map(|r| r.attempt).collect::<Vec<_>>(), [1, 2, 3], "capped at 3 attempts");
    assert_eq!(all.status_with(3).given_up, 1);
    let again = sandbox.sweep(&["run", "--no-progress", "--retries", "2", "broken.ron"]);
    assert!(stderr(&again).contains("0 computed"), "{}", stderr(&again));
}

#[test]
fn a_file_that_is_not_a_results_file_is_named_as_such_and_left_alone() {
    let sandbox = Sandbox::new();
    sandbox.spec("ten.ron", r#"(space: Range(name: "k", start: 0, end: 10), command: ["echo", "{k}"])"#);
    let foreign = "{\"name\": \"my notes\"}\n{\"a\": 1}\n";
    std::fs::write(sandbox.path("notes.json"), foreign).unwrap_or_else(|e| panic!("{e}"));
    for args in [
        &["run", "--no-progress", "-o", "notes.json", "ten.ron"][..],
        &["status", "notes.json"],
        &["export", "notes.json"],
        &["repair", "notes.json"],
    ] {
        let output = sandbox.sweep(args);
        assert!(!output.status.success(), "{args:?}");
        let text = stderr(&output);
        assert!(text.contains("notes.json is not a sweep results file"), "{args:?}: {text}");
        assert!(!text.contains("moves such lines"), "{args:?} must not offer to repair someone else's file: {text}");
    }
    assert_eq!(std::fs::read_to_string(sandbox.path("notes.json")).unwrap_or_default(), foreign);
}

#[test]
fn repair_never_turns_a_file_without_a_record_into_a_results_file() {
    let sandbox = Sandbox::new();
    let spec = "(\n    space: Range(name: \"k\", start: 0, end: 5),\n    command: [\"echo\", \"{k}\"],\n    output: \"five.jsonl\",\n)\n";
    sandbox.spec("five.ron", spec);
    sandbox.spec("copy.ron", spec);
    std::fs::write(sandbox.path("table.csv"), "k,value\n0,0\n1,1\n").unwrap_or_else(|e| panic!("{e}"));
    // The mistyped path `run` meets offers no repair for such a file.
    let run = sandbox.sweep(&["run", "--no-progress", "--output", "copy.ron", "five.ron"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("copy.ron is not a sweep results file"), "{}", stderr(&run));
    assert!(!stderr(&run).contains("repair"), "{}", stderr(&run));
    for name in ["copy.ron", "table.csv"] {
        let before = std::fs::read(sandbox.path(name)).unwrap_or_default();
        for args in [&["repair", name, "--spec", "five.ron"][..], &["repair", name]] {
            let output = sandbox.sweep(args);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
            assert!(stderr(&output).contains(&format!("{name} is not a sweep results file")), "{}", stderr(&output));
            assert_eq!(std::fs::read(sandbox.path(name)).unwrap_or_default(), before, "{args:?}");
            assert!(!sandbox.path(&format!("{name}.rejected.jsonl")).exists(), "{args:?}");
        }
    }
    // A results file whose header line was destroyed still has its records:
    // for it the advice stands, and repair rebuilds it.
    assert!(sandbox.sweep(&["run", "--no-progress", "five.ron"]).status.success());
    let text = std::fs::read_to_string(sandbox.path("five.jsonl")).unwrap_or_default();
    let destroyed = text.replacen("{\"sweep\"", "#notes", 1);
    std::fs::write(sandbox.path("five.jsonl"), destroyed).unwrap_or_else(|e| panic!("{e}"));
    let status = sandbox.sweep(&["status", "five.jsonl"]);
    assert!(stderr(&status).contains("`sweep repair five.jsonl --spec SPEC.ron` rebuilds it"), "{}", stderr(&status));
    let repaired = sandbox.sweep(&["repair", "five.jsonl", "--spec", "five.ron"]);
    assert!(repaired.status.success(), "{}", stderr(&repaired));
    assert_eq!(sandbox.load("five.jsonl").latest().len(), 5);
}

#[test]
fn huge_durations_mean_practically_never_and_do_not_crash() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "two.ron",
        r#"(space: Range(name: "k", start: 0, end: 2), command: ["echo", "{k}"], timeout_secs: 1e300)"#,
    );
    let output = sandbox.sweep(&[
        "run",
        "--no-progress",
        "--sync",
        "1e300",
        "--grace",
        "1e300",
        "--retry-delay",
        "1e300",
        "--progress-every",
        "1e300",
        "two.ron",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = sandbox.sweep(&["run", "--no-progress", "--timeout", "1e300", "two.ron"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(sandbox.load("two.jsonl").status().done, 2);
}

#[test]
fn a_read_only_results_file_is_never_rewritten() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    sandbox.spec("three.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    sandbox.spec(
        "five.ron",
        r#"(space: Range(name: "k", start: 0, end: 5), command: ["echo", "{k}"], output: "three.jsonl")"#,
    );
    assert!(sandbox.sweep(&["run", "--no-progress", "three.ron"]).status.success());
    let path = sandbox.path("three.jsonl");
    let before = std::fs::read(&path).unwrap_or_default();
    // The user protects the finished file (even root is refused: the mode says so).
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap_or_else(|e| panic!("{e}"));
    for args in [&["run", "--no-progress", "five.ron"][..], &["run", "--no-progress", "--retry-failed", "three.ron"]] {
        let output = sandbox.sweep(args);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr(&output).contains("three.jsonl") && stderr(&output).contains("read-only"),
            "{}",
            stderr(&output)
        );
    }
    std::fs::write(sandbox.path("junk.txt"), "junk\n").unwrap_or_else(|e| panic!("{e}"));
    let mut text = before.clone();
    text.extend_from_slice(b"junk\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap_or_else(|e| panic!("{e}"));
    let repaired = sandbox.sweep(&["repair", "three.jsonl"]);
    assert!(!repaired.status.success() && stderr(&repaired).contains("read-only"), "{}", stderr(&repaired));
    assert_eq!(std::fs::read(&path).unwrap_or_default(), text, "the protected file is untouched");
}

#[test]
fn a_broken_stderr_pipe_neither_crashes_a_run_nor_stops_it_from_stopping() {
    let sandbox = with_sleepers("sleepy.ron", SLEEPER);
    // `sweep run … 2>&1 | head -1`: the reader is gone before sweep writes.
    let mut child = sandbox.start(&["run", "sleepy.ron", "--grace", "0.3", "--progress-every", "0.1"]);
    drop(child.stderr.take());
    wait_until("two sleepers", || sleeper_pids(&sandbox).len() >= 2);
    std::thread::sleep(Duration::from_millis(300)); // a few progress lines
    let started = Instant::now();
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    assert!(started.elapsed() < Duration::from_secs(10), "the grace period was not enforced");
}

#[test]
fn a_results_path_that_is_a_fifo_or_directory_is_refused_at_once() {
    let sandbox = Sandbox::new();
    sandbox.spec("three.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    let fifo = std::ffi::CString::new(sandbox.path("fifo.jsonl").into_os_string().into_encoded_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: `fifo` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::fs::create_dir(sandbox.path("dir.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    for (name, kind) in [("fifo.jsonl", "a FIFO"), ("dir.jsonl", "a directory")] {
        for args in [&["run", "--no-progress", "-o", name, "three.ron"][..], &["repair", name]] {
            // Opening a FIFO blocks until a writer comes: a hang, not an error.
            let mut child = sandbox.start(args);
            wait_until("sweep to give up", || child.try_wait().ok().flatten().is_some());
            let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
            assert!(!output.status.success(), "{args:?}");
            assert!(stderr(&output).contains(name) && stderr(&output).contains(kind), "{}", stderr(&output));
        }
    }
}

/// An empty results file holds nothing to lose: `repair --spec` leaves it
/// (exit 0, "needs no repair"), as it always did, while a file with text
/// but neither a header nor a record of the sweep is refused (2).
#[test]
fn repair_of_an_empty_file_needs_nothing_and_of_foreign_text_is_refused() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 2), command: ["echo", "{k}"])"#);
    std::fs::write(sandbox.path("empty.jsonl"), "").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(sandbox.path("notes.jsonl"), "my notes\n").unwrap_or_else(|e| panic!("{e}"));
    let empty = sandbox.sweep(&["repair", "empty.jsonl", "--spec", "ok.ron"]);
    assert_eq!(empty.status.code(), Some(0), "{}", stderr(&empty));
    let notes = sandbox.sweep(&["repair", "notes.jsonl", "--spec", "ok.ron"]);
    assert_eq!(notes.status.code(), Some(2), "{}", stderr(&notes));
    assert_eq!(std::fs::read_to_string(sandbox.path("notes.jsonl")).unwrap_or_default(), "my notes\n");
}
