//! One writer per results file: a second `sweep run` on the same file is
//! refused at once, naming the holder; a SIGKILLed holder leaves no stale
//! lock; runs started together never write two headers.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use common::{stderr, Sandbox};
use sweep::Results;

/// A sandbox holding `slow.ron`: 12 points of 0.2 s on 2 workers.
fn with_slow_spec() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "slow.ron",
        r#"(
            space: Range(name: "k", start: 0, end: 12),
            command: ["sh", "-c", "sleep 0.2; echo {k}"],
            workers: 2,
            output: "slow.jsonl",
        )"#,
    );
    sandbox
}

fn start(sandbox: &Sandbox) -> Child {
    sandbox.start(&["run", "--no-progress", "slow.ron"])
}

fn run(sandbox: &Sandbox) -> Output {
    start(sandbox).wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

fn wait_for_records(path: &Path, at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(path).map_or(0, |t| t.lines().count()) < at_least + 1 {
        assert!(Instant::now() < deadline, "no progress on disk after 30 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_second_writer_is_refused_and_a_killed_one_leaves_no_stale_lock() {
    let sandbox = with_slow_spec();
    let results = sandbox.path("slow.jsonl");
    let mut first = start(&sandbox);
    wait_for_records(&results, 2);

    let started = Instant::now();
    let second = run(&sandbox);
    assert!(!second.status.success(), "a second writer must be refused");
    assert!(started.elapsed() < Duration::from_secs(5), "refused at once, not after waiting");
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains(&format!("pid {}", first.id())), "{message}");
    assert!(message.contains("slow.jsonl"), "{message}");
    assert!(message.contains("or choose another --output"), "{message}");
    // `repair` has no --output to choose.
    let repair = sandbox.sweep(&["repair", "slow.jsonl"]);
    let message = stderr(&repair);
    assert!(message.contains("is being written by another sweep"), "{message}");
    assert!(message.trim_end().ends_with("Wait for it to finish, or stop it"), "{message}");

    first.kill().unwrap_or_else(|e| panic!("{e}")); // SIGKILL
    let _ = first.wait();
    let before = Results::load(&results).unwrap_or_else(|e| panic!("{e}")).records.len();
    assert!(before < 12, "the first run should have been killed mid-way ({before} records)");

    let third = run(&sandbox);
    assert!(third.status.success(), "{}", stderr(&third));
    let after = Results::load(&results).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after.status().done, 12);
    assert_eq!(after.records.len(), 12, "no point computed twice");
}

#[test]
fn runs_started_together_write_one_header() {
    for _ in 0..3 {
        let sandbox = with_slow_spec();
        let children: Vec<Child> = (0..3).map(|_| start(&sandbox)).collect();
        let outputs: Vec<Output> =
            children.into_iter().map(|c| c.wait_with_output().unwrap_or_else(|e| panic!("{e}"))).collect();
        // Usually one runs and two are refused; a run that starts after
        // the first finished finds everything done. Either way no point is
        // computed twice and the file has one header.
        assert!(outputs.iter().any(|o| o.status.success()), "one writer must run");
        for loser in outputs.iter().filter(|o| !o.status.success()) {
            let message = String::from_utf8_lossy(&loser.stderr);
            assert!(message.contains("is being written by another sweep"), "{message}");
        }
        let text = std::fs::read_to_string(sandbox.path("slow.jsonl")).unwrap_or_default();
        assert_eq!(text.matches("{\"sweep\"").count(), 1, "{text}");
        let results = Results::load(&sandbox.path("slow.jsonl")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((results.status().done, results.records.len()), (12, 12));
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn no_lock_or_temporary_file_outlives_its_writer() {
    let sandbox = with_slow_spec();
    // What a SIGKILLed run (or collect/repair killed mid-rename) leaves.
    std::fs::write(sandbox.path("slow.jsonl.lock"), "999999 gone-host\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(sandbox.path(".slow.jsonl.999999.tmp"), "{\"sweep\":").unwrap_or_else(|e| panic!("{e}"));
    // Not ours: another file's temporary, and a file that merely looks alike.
    std::fs::write(sandbox.path(".other.jsonl.999999.tmp"), "x").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(sandbox.path(".slow.jsonl.notes.tmp"), "x").unwrap_or_else(|e| panic!("{e}"));
    let output = run(&sandbox);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        names_in(sandbox.root()),
        [".other.jsonl.999999.tmp", ".slow.jsonl.notes.tmp", "slow.jsonl", "slow.ron"],
        "the stale lock and temporary file are cleaned, nothing else"
    );
    for command in [&["repair", "slow.jsonl"][..], &["status", "slow.jsonl"], &["export", "slow.jsonl", "-o", "x.csv"]]
    {
        let output = sandbox.sweep(command);
        assert!(output.status.success(), "{command:?}: {}", stderr(&output));
    }
    assert!(!sandbox.path("slow.jsonl.lock").exists(), "repair removes its lock when done");
}

#[test]
fn a_results_file_reached_through_a_link_has_the_same_lock() {
    let sandbox = with_slow_spec();
    std::fs::create_dir(sandbox.path("scratch")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink("scratch/slow.jsonl", sandbox.path("slow.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    let mut first = start(&sandbox); // writes slow.jsonl, the link
    wait_for_records(&sandbox.path("scratch/slow.jsonl"), 1);
    let second = sandbox.sweep(&["run", "--no-progress", "-o", "scratch/slow.jsonl", "slow.ron"]);
    first.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = first.wait();
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "a second writer through another name must be refused: {message}");
    assert!(message.contains("is being written by another sweep"), "{message}");
}

/// `collect` takes the lock of every shard file before it reads them: a
/// shard that a `sweep run --shard` is still writing is refused (exit 1,
/// naming it and its writer), not merged half-written with advice to
/// resubmit what is being computed. Once that run is done, collect merges.
#[test]
fn collect_refuses_a_shard_that_a_run_is_still_writing() {
    let sandbox = with_slow_spec();
    let done = sandbox.sweep(&["run", "--no-progress", "slow.ron", "--shard", "0/2"]);
    assert!(done.status.success(), "{}", stderr(&done));
    let shard = sandbox.path("slow.shard-1-of-2.jsonl");
    let mut running = sandbox.start(&["run", "--no-progress", "slow.ron", "--shard", "1/2"]);
    wait_for_records(&shard, 1);
    let refused = sandbox.sweep(&["collect", "slow.ron"]);
    let message = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{message}");
    assert!(message.contains("slow.shard-1-of-2.jsonl"), "{message}");
    assert!(message.contains(&format!("pid {}", running.id())), "{message}");
    assert!(!message.contains("--resubmit") && message.contains("collect once it has finished"), "{message}");
    assert!(running.wait().unwrap_or_else(|e| panic!("{e}")).success());
    let merged = sandbox.sweep(&["collect", "slow.ron"]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    let results = Results::load(&sandbox.path("slow.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(results.status().done, 12);
}

/// The lock of `a.jsonl` is `a.jsonl.lock`, deleted when its holder ends:
/// a results file may not be named so (status 2), and one already there
/// (left by an older sweep) stops `run` and `repair` of `a.jsonl` with
/// status 2, every byte of it kept.
#[test]
fn a_results_file_at_a_lock_path_is_refused_and_never_deleted() {
    let sandbox = Sandbox::new();
    let spec = |name: &str, output: &str| {
        sandbox.spec(
            name,
            &format!(r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "1{{k}}"], output: "{output}")"#),
        )
    };
    spec("b.ron", "a.jsonl.lock");
    spec("a.ron", "a.jsonl");
    let named_like_a_lock = sandbox.sweep(&["run", "--no-progress", "b.ron"]);
    assert_eq!(named_like_a_lock.status.code(), Some(2), "{}", stderr(&named_like_a_lock));
    assert!(stderr(&named_like_a_lock).contains("ending in .lock"), "{}", stderr(&named_like_a_lock));
    assert!(!sandbox.path("a.jsonl.lock").exists(), "nothing written at the lock's name");

    // Such a file, as an older sweep wrote it.
    spec("c.ron", "c.jsonl");
    let done = sandbox.sweep(&["run", "--no-progress", "c.ron"]);
    assert!(done.status.success(), "{}", stderr(&done));
    std::fs::rename(sandbox.path("c.jsonl"), sandbox.path("a.jsonl.lock")).unwrap_or_else(|e| panic!("{e}"));
    let kept = std::fs::read(sandbox.path("a.jsonl.lock")).unwrap_or_default();
    for command in [&["run", "--no-progress", "a.ron"][..], &["repair", "a.jsonl"]] {
        let refused = sandbox.sweep(command);
        let message = stderr(&refused);
        assert_eq!(refused.status.code(), Some(2), "{command:?}: {message}");
        assert!(message.contains("a.jsonl.lock holds something other than a sweep lock"), "{message}");
        assert_eq!(std::fs::read(sandbox.path("a.jsonl.lock")).unwrap_or_default(), kept, "{command:?}");
    }
    assert!(!sandbox.path("a.jsonl").exists(), "a refused run writes nothing");
}

/// Only a regular file holding a holder's `pid host` line (or its start) is
/// a lock: the referee's number alone (`echo 12345 > slow.jsonl.lock`) was
/// taken for a stale lock and deleted, a link to `notes.txt` was written
/// through and removed, and a directory gave status 1. Each is refused
/// (status 2) and left as it was, and nothing runs.
#[test]
fn nothing_but_a_lock_at_the_lock_path_is_taken_or_deleted() {
    let sandbox = with_slow_spec();
    let lock = sandbox.path("slow.jsonl.lock");
    let refused = |what: &str| {
        for command in [&["run", "--no-progress", "slow.ron"][..], &["repair", "slow.jsonl"]] {
            let output = sandbox.sweep(command);
            let message = stderr(&output);
            assert_eq!(output.status.code(), Some(2), "{what}, {command:?}: {message}");
            assert!(message.contains("slow.jsonl.lock holds something other than a sweep lock"), "{what}: {message}");
        }
        assert!(!sandbox.path("slow.jsonl").exists(), "{what}: a refused run writes nothing");
    };
    std::fs::write(&lock, "12345\n").unwrap_or_else(|e| panic!("{e}"));
    refused("a number");
    assert_eq!(std::fs::read_to_string(&lock).unwrap_or_default(), "12345\n");
    std::fs::remove_file(&lock).unwrap_or_else(|e| panic!("{e}"));

    std::fs::write(sandbox.path("notes.txt"), "999999 vm\n").unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink("notes.txt", &lock).unwrap_or_else(|e| panic!("{e}"));
    refused("a link");
    assert!(std::fs::symlink_metadata(&lock).is_ok_and(|m| m.file_type().is_symlink()), "the link stays");
    assert_eq!(std::fs::read_to_string(sandbox.path("notes.txt")).unwrap_or_default(), "999999 vm\n");
    std::fs::remove_file(&lock).unwrap_or_else(|e| panic!("{e}"));

    std::fs::create_dir(&lock).unwrap_or_else(|e| panic!("{e}"));
    refused("a directory");
    assert!(lock.is_dir());
    std::fs::remove_dir(&lock).unwrap_or_else(|e| panic!("{e}"));

    // A holder's line, as a killed holder leaves it, is still a lock.
    std::fs::write(&lock, "999999 vm\n").unwrap_or_else(|e| panic!("{e}"));
    let done = run(&sandbox);
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(!lock.exists(), "the stale lock is deleted by its next holder");
}
