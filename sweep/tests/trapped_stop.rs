//! Black boxes that catch the stop signal and exit with 128 + N (a shell's
//! `trap 'exit 143' TERM`, the JVM, Python with a handler) while the run is
//! being stopped were stopped with it: their points are not recorded,
//! spend no attempt and are computed by the resume. Without a stop
//! request, such a status is an ordinary failure.

#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use common::{stderr, Sandbox};

/// Until the file `go` exists, each point records its shell's pid, then
/// waits on a long sleep and exits 143 on SIGTERM; after, it prints `k`.
const TRAPPING: &str = r#"(space: Range(name: "k", start: 0, end: 2),
    command: ["sh", "-c", "[ -e go ] || { echo $$ > pids/{k}; trap 'exit 143' TERM; sleep 30 & wait; }; echo {k}"],
    workers: 2)"#;

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn pids(sandbox: &Sandbox) -> Vec<libc::pid_t> {
    let entries = std::fs::read_dir(sandbox.path("pids")).into_iter().flatten().flatten();
    entries.filter_map(|entry| std::fs::read_to_string(entry.path()).ok()?.trim().parse().ok()).collect()
}

fn kill(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {pid}");
}

/// As Slurm's scancel does: SIGTERM to sweep and to its black boxes.
#[test]
fn exits_with_128_plus_the_signal_while_the_run_stops_spend_no_attempt() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("pids")).unwrap_or_else(|e| panic!("{e}"));
    sandbox.spec("trap.ron", TRAPPING);
    let child = sandbox.start(&["run", "--no-progress", "trap.ron"]);
    wait_until("both black boxes", || pids(&sandbox).len() == 2);
    kill(libc::pid_t::try_from(child.id()).unwrap_or_else(|e| panic!("{e}")), libc::SIGTERM);
    for pid in pids(&sandbox) {
        kill(pid, libc::SIGTERM);
    }
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let stopped = sandbox.load("trap.jsonl");
    assert_eq!(output.status.code(), Some(128 + libc::SIGTERM), "{}{:?}", stderr(&output), stopped.records);
    assert_eq!(stopped.records.len(), 0, "stopped with the run, not failed: {:?}", stopped.records);
    std::fs::write(sandbox.path("go"), "").unwrap_or_else(|e| panic!("{e}"));
    let resumed = sandbox.sweep(&["run", "--no-progress", "trap.ron"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let results = sandbox.load("trap.jsonl");
    let done: Vec<_> = results.latest().iter().map(|r| (r.index, r.outcome.clone(), r.attempt)).collect();
    assert_eq!(done, [(0, Ok(serde_json::json!(0)), 1), (1, Ok(serde_json::json!(1)), 1)]);
}

#[test]
fn an_exit_with_143_without_a_stop_request_is_a_failure() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "exits.ron",
        r#"(space: Range(name: "k", start: 0, end: 2), command: ["sh", "-c", "[ {k} -eq 0 ] || exit 143; echo 0"])"#,
    );
    let output = sandbox.sweep(&["run", "--no-progress", "exits.ron"]);
    assert_eq!(output.status.code(), Some(3), "a point failed: {}", stderr(&output));
    let results = sandbox.load("exits.jsonl");
    let failed: Vec<_> = results.latest().into_iter().filter(|r| !r.is_ok()).collect();
    assert_eq!(failed.len(), 1, "{:?}", results.records);
    assert_eq!(failed[0].index, 1);
    let code = failed[0].provenance.as_ref().and_then(|p| p.exit).and_then(|e| e.code);
    assert_eq!(code, Some(143), "{:?}", failed[0]);
}
