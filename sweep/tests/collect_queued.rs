//! `sweep collect` while the sweep's array job is still in the queue,
//! against fake Slurm tools first on PATH: tasks that start meanwhile are
//! not locked out of their shard files, and pending tasks are said to be
//! pending.

mod common;

use common::{fake_tools, stderr, Sandbox, FAKE_SLURM};

/// 4 quick points.
const SPEC: &str = r#"(space: Range(name: "x", start: 0, end: 4), command: ["echo", "{x}"], output: "q.jsonl")"#;

/// A sweep submitted as 2 tasks (job 101), shard 0 run, shard 1 not yet:
/// the sandbox and the PATH of its fake tools.
fn submitted() -> (Sandbox, String) {
    let sandbox = Sandbox::new();
    sandbox.spec("q.ron", SPEC);
    let ran = sandbox.sweep(&["run", "--no-progress", "q.ron", "--shard", "0/2"]);
    assert!(ran.status.success(), "{}", stderr(&ran));
    let path = fake_tools(&sandbox, &FAKE_SLURM);
    let submit = sandbox.command(&["slurm", "q.ron", "--tasks", "2", "--submit"]).env("PATH", &path).output();
    let submit = submit.unwrap_or_else(|e| panic!("{e}"));
    assert!(submit.status.success(), "{}", stderr(&submit));
    (sandbox, path)
}

/// The referee's B: collect kept every shard file locked until it exited,
/// through its questions to sacct (up to 3 s, made exactly while tasks are
/// pending): a task starting then failed with "q.shard-0-of-2.jsonl is
/// being written by another sweep (pid <collect's>)". Here `sacct` starts
/// that task, as Slurm would while collect waits for it; it now finds the
/// shard files free.
#[test]
fn a_task_starting_while_collect_asks_slurm_is_not_locked_out() {
    let (sandbox, _) = submitted();
    let sweep = env!("CARGO_BIN_EXE_sweep");
    let sacct =
        format!("#!/bin/sh\n'{sweep}' run --no-progress q.ron --shard 0/2 >> task.log 2>&1\necho $? >> task.status\n");
    let path = fake_tools(&sandbox, &[("sacct", &sacct)]);
    let collected = sandbox.command(&["collect", "q.ron"]).env("PATH", &path).output();
    let collected = collected.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(collected.status.code(), Some(3), "shard 1 missing: {}", stderr(&collected));
    let statuses = std::fs::read_to_string(sandbox.path("task.status")).unwrap_or_default();
    let log = std::fs::read_to_string(sandbox.path("task.log")).unwrap_or_default();
    assert!(!statuses.is_empty(), "sacct was not asked: {}", stderr(&collected));
    assert!(statuses.lines().all(|status| status == "0"), "{statuses}: {log}");
}

/// While the job is pending, accounting may not list its tasks yet (or
/// lists them PENDING): collect said "task 101_1 unknown to Slurm's
/// accounting" and advised a resubmit, which would be refused while the
/// job is queued. Now it says the task is still pending, and to collect
/// again once it has ended.
#[test]
fn tasks_still_pending_are_said_to_be() {
    let (sandbox, _) = submitted();
    let squeue = "#!/bin/sh\necho '101_1 PENDING'\n";
    for sacct in ["#!/bin/sh\nexit 0\n", "#!/bin/sh\necho '101_[1]|PENDING|0:0'\n"] {
        let path = fake_tools(&sandbox, &[("sacct", sacct), ("squeue", squeue)]);
        let collected = sandbox.command(&["collect", "q.ron"]).env("PATH", &path).output();
        let collected = collected.unwrap_or_else(|e| panic!("{e}"));
        let message = stderr(&collected);
        assert_eq!(collected.status.code(), Some(3), "{message}");
        assert!(message.contains("shard 1/2: task 101_1 is still PENDING"), "{sacct}: {message}");
        assert!(
            message.contains("still in Slurm's queue: run `sweep collect` again once they have ended"),
            "{message}"
        );
        assert!(!message.contains("unknown to Slurm's accounting") && !message.contains("--resubmit"), "{message}");
    }
}
