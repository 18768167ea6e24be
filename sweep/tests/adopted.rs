//! Linux: `sweep run` is a child subreaper, so what its black boxes leave
//! behind becomes its child when they exit: the background jobs killed with
//! a finished black box's group, and descendants that left the group
//! (`setsid`). Those that exit are reaped during the run, not left as
//! zombies until it ends (each holds a pid, and under `ulimit -u` they make
//! later points fail to fork); the black boxes' own exit statuses are still
//! read by the runner, never taken by that reaping.

#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::{stderr, Sandbox};

/// Each point leaves a background job in its group (killed when the black
/// box exits) and one outside it that ends 0.05 s after the black box (a
/// point takes at least 0.15 s); point 7 fails with status 5.
const LEAVING: &str = r#"(space: Range(name: "k", start: 0, end: 24),
    command: ["sh", "-c", "sleep 30 & setsid sleep 0.2 </dev/null >/dev/null 2>&1 & sleep 0.15; [ {k} -ne 7 ] || exit 5; echo {k}"],
    workers: 2)"#;

/// How many of `pid`'s children are zombies (`None` once it is gone).
fn zombie_children(pid: u32) -> Option<usize> {
    let mut zombies = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let Ok(children) = std::fs::read_to_string(task.path().join("children")) else { continue };
        for child in children.split_whitespace() {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
            // The state follows the parenthesised command name.
            if stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')) {
                zombies += 1;
            }
        }
    }
    Some(zombies)
}

fn records_on_disk(sandbox: &Sandbox) -> usize {
    std::fs::read_to_string(sandbox.path("leaving.jsonl")).map_or(0, |t| t.lines().count().saturating_sub(1))
}

#[test]
fn adopted_processes_that_exit_are_reaped_during_the_run_and_exit_statuses_stay_the_runner_s() {
    let sandbox = Sandbox::new();
    sandbox.spec("leaving.ron", LEAVING);
    let mut child = sandbox.start(&["run", "--no-progress", "leaving.ron"]);
    let pid = child.id();
    // (records on disk, zombie children) while it runs.
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break status;
        }
        assert!(Instant::now() < deadline, "the run did not end; samples {samples:?}");
        let done = records_on_disk(&sandbox);
        if let Some(zombies) = zombie_children(pid) {
            samples.push((done, zombies));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    // Unreaped, one zombie per finished point at least: more than 6 once 12
    // points are done. Reaped whenever a black box ends, at most what two
    // workers' last points left since (see `LEAVING`): 3 each.
    assert!(samples.iter().any(|(done, _)| *done >= 12), "too few samples mid-run: {samples:?}");
    let most = samples.iter().map(|(_, zombies)| *zombies).max().unwrap_or(0);
    assert!(most <= 6, "{most} zombie children at once: (records, zombies) {samples:?}");
    assert_eq!(status.code(), Some(3), "a point failed: {}", stderr(&output));
    let results = sandbox.load("leaving.jsonl");
    let latest = results.latest();
    assert_eq!(latest.len(), 24, "{}", stderr(&output));
    for record in latest {
        let exit = record.provenance.as_ref().and_then(|p| p.exit);
        if record.index == 7 {
            let message = record.outcome.clone().err().unwrap_or_default();
            assert!(message.contains("exit status: 5"), "{message}");
            assert_eq!(exit.and_then(|e| e.code), Some(5), "{record:?}");
        } else {
            assert_eq!(record.outcome, Ok(serde_json::json!(record.index)), "{record:?}");
            assert_eq!(exit.and_then(|e| e.code), Some(0), "{record:?}");
        }
    }
}
