//! What a run covers and what it leaves behind: `--limit` and `--sample`
//! on a space too large to list, progress lines with `--no-progress`, and
//! descendants of black boxes that escape their process group.

#![cfg(unix)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{stderr, Sandbox};

const HUGE: &str = r#"(space: Grid([Range(name: "a", start: 0, end: 1000000), Range(name: "b", start: 0, end: 1000000)]),
    command: ["echo", "{b}"], workers: 2)"#;

fn indices(sandbox: &Sandbox, name: &str) -> Vec<usize> {
    sandbox.load(name).records.iter().map(|r| r.index).collect()
}

#[test]
fn limit_runs_a_prefix_of_a_huge_space_and_a_larger_limit_goes_on() {
    let sandbox = Sandbox::new();
    sandbox.spec("huge.ron", HUGE);
    let started = Instant::now();
    let first = sandbox.sweep(&["run", "--no-progress", "huge.ron", "--limit", "5"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let mut done = indices(&sandbox, "huge.jsonl");
    done.sort_unstable();
    assert_eq!(done, [0, 1, 2, 3, 4]);
    let more = sandbox.sweep(&["run", "--no-progress", "huge.ron", "--limit", "8"]);
    assert!(stderr(&more).contains("3 computed (0 failed), 5 already done"), "{}", stderr(&more));
    // Shard 1 of 3: its first two points.
    let shard = sandbox.sweep(&["run", "--no-progress", "huge.ron", "--limit", "2", "--shard", "1/3"]);
    assert_eq!(shard.status.code(), Some(0), "{}", stderr(&shard));
    assert_eq!(indices(&sandbox, "huge.shard-1-of-3.jsonl").iter().copied().collect::<HashSet<_>>(), [1, 4].into());
    assert!(started.elapsed() < Duration::from_secs(20), "10^12 points were listed: {:?}", started.elapsed());
}

#[test]
fn sample_draws_the_same_points_for_a_seed_and_resumes() {
    let sandbox = Sandbox::new();
    sandbox.spec("huge.ron", HUGE);
    let first = sandbox.sweep(&["run", "--no-progress", "huge.ron", "--sample", "6", "--seed", "42"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let drawn: HashSet<usize> = indices(&sandbox, "huge.jsonl").into_iter().collect();
    assert_eq!(drawn.len(), 6);
    assert!(drawn.iter().any(|i| *i > 1_000_000), "drawn from the whole space: {drawn:?}");
    let again = sandbox.sweep(&["run", "--no-progress", "huge.ron", "--sample", "6", "--seed", "42"]);
    assert!(stderr(&again).contains("0 computed (0 failed), 6 already done"), "{}", stderr(&again));
    let other = sandbox.sweep(&["run", "--no-progress", "huge.ron", "--sample", "6", "--seed", "43", "-o", "o.jsonl"]);
    assert_eq!(other.status.code(), Some(0), "{}", stderr(&other));
    let other: HashSet<usize> = indices(&sandbox, "o.jsonl").into_iter().collect();
    assert_ne!(drawn, other, "another seed draws other points");
}

#[test]
fn no_progress_hides_the_bar_but_keeps_the_progress_lines() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "slow.ron",
        r#"(space: Range(name: "k", start: 0, end: 6), command: ["sh", "-c", "sleep 0.2; echo {k}"], workers: 1)"#,
    );
    let output = sandbox.sweep(&["run", "--no-progress", "--progress-every", "0.1", "slow.ron"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("points/s, ETA"), "{}", stderr(&output));
}

/// Whether `pid` still runs (a zombie counts as dead).
fn alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])))
}

/// A daemon-like descendant: double fork, `setsid`, stdio closed. It is
/// in no group the run kills, and its parent is gone.
#[cfg(target_os = "linux")]
#[test]
fn descendants_that_call_setsid_do_not_outlive_the_run() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("pids")).unwrap_or_else(|e| panic!("{e}"));
    sandbox.spec(
        "daemon.ron",
        r#"(space: Range(name: "k", start: 0, end: 3),
            command: ["sh", "-c", "(setsid sleep 60 </dev/null >/dev/null 2>&1 & echo $! > pids/{k}); echo {k}"],
            workers: 2)"#,
    );
    let output = sandbox.sweep(&["run", "--no-progress", "daemon.ron"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let pids: Vec<libc::pid_t> = (0..3)
        .filter_map(|k| std::fs::read_to_string(sandbox.path(&format!("pids/{k}"))).ok())
        .filter_map(|text| text.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 3, "every black box started its daemon");
    let deadline = Instant::now() + Duration::from_secs(5);
    for pid in pids {
        while alive(pid) {
            if Instant::now() > deadline {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("the setsid descendant {pid} outlived the run");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
