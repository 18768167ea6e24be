//! Persistent black boxes (`persistent: true`, `--persistent`): started once
//! per worker, one JSON line in and one line out per point; a crash, a
//! timeout, a malformed or oversized reply fails that point and restarts
//! the process; none outlives the run.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{stderr, Sandbox};

/// A persistent black box in sh: notes each start in `starts`, writes its
/// pid into `pids/`, then answers k² for each `{"k":K}` line, except for
/// the values `misbehave` maps to a shell command.
fn spec(misbehave: &str, extra: &str) -> String {
    format!(
        r#"(space: Range(name: "k", start: 0, end: 12),
            command: ["sh", "-c", "echo $$ >> starts; echo $$ > pids/$$; while IFS= read -r line; do k=${{line#*:}}; k=${{k%\\}}}}; case $k in {misbehave} *) echo $((k*k));; esac; done"],
            persistent: true, workers: 2, {extra})"#
    )
}

fn sandbox(name: &str, text: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("pids")).unwrap_or_else(|e| panic!("{e}"));
    sandbox.spec(name, text);
    sandbox
}

fn starts(sandbox: &Sandbox) -> usize {
    std::fs::read_to_string(sandbox.path("starts")).map_or(0, |t| t.lines().count())
}

fn pids(sandbox: &Sandbox) -> Vec<libc::pid_t> {
    let entries = std::fs::read_dir(sandbox.path("pids")).into_iter().flatten().flatten();
    entries.filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse().ok())).collect()
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

fn none_alive(sandbox: &Sandbox) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for pid in pids(sandbox) {
        while alive(pid) {
            assert!(Instant::now() < deadline, "black box {pid} outlived the run");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn each_worker_starts_the_black_box_once_and_values_match_one_shot() {
    let sandbox = sandbox("p.ron", &spec("", ""));
    let output = sandbox.sweep(&["run", "--no-progress", "p.ron"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // It has no placeholders by design: no warning that it names no axis.
    assert!(!stderr(&output).contains("names no axis"), "{}", stderr(&output));
    let results = sandbox.load("p.jsonl");
    let values: Vec<_> = results.latest().iter().map(|r| (r.index, r.outcome.clone())).collect();
    let expected: Vec<_> = (0..12).map(|k| (k, Ok(serde_json::json!(k * k)))).collect();
    assert_eq!(values, expected);
    assert!((1..=2).contains(&starts(&sandbox)), "{} starts for 2 workers", starts(&sandbox));
    assert_eq!(results.records.len(), 12, "one record per point, as in one-shot mode");
    none_alive(&sandbox);
}

#[test]
fn crashes_timeouts_and_bad_replies_fail_their_point_and_restart_the_process() {
    let misbehave =
        "1) echo hello;; 2) echo dying >&2; exit 3;; 3) sleep 5;; 4) head -c 3000 /dev/zero | tr '\\\\0' 7; echo;;";
    let sandbox = sandbox("bad.ron", &spec(misbehave, "timeout_secs: 0.5, max_output: 1000"));
    let output = sandbox.sweep(&["run", "--no-progress", "bad.ron"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let results = sandbox.load("bad.jsonl");
    let outcome = |k: usize| {
        let record = results.latest().into_iter().find(|r| r.index == k).cloned();
        record.unwrap_or_else(|| panic!("no record of k = {k}"))
    };
    let error = |k: usize| outcome(k).outcome.err().unwrap_or_default();
    assert!(error(1).contains("not a number") && error(1).contains("hello"), "{}", error(1));
    assert!(error(2).contains("exit status: 3") && error(2).contains("dying"), "{}", error(2));
    let crash = outcome(2).provenance.and_then(|p| p.exit).and_then(|e| e.code);
    assert_eq!(crash, Some(3), "the crash's exit status is recorded");
    assert!(error(3).contains("timed out") && error(3).contains("must flush its stdout"), "{}", error(3));
    assert!(error(4).contains("capture limit"), "{}", error(4));
    for k in (0..12).filter(|k| ![1, 2, 3, 4].contains(k)) {
        assert_eq!(outcome(k).outcome, Ok(serde_json::json!(k * k)), "k = {k} after the restarts");
    }
    // Two workers, plus one restart per failed point at most.
    assert!(starts(&sandbox) >= 4 && starts(&sandbox) <= 6, "{} starts", starts(&sandbox));
    none_alive(&sandbox);
}

#[test]
fn a_second_line_for_one_point_is_refused_not_taken_for_the_next() {
    let sandbox = sandbox("chatty.ron", &spec("0) printf '0\\n99\\n';;", ""));
    let text = std::fs::read_to_string(sandbox.path("chatty.ron")).unwrap_or_default();
    sandbox.spec("chatty.ron", &text.replace("workers: 2", "workers: 1"));
    let output = sandbox.sweep(&["run", "--no-progress", "chatty.ron"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let results = sandbox.load("chatty.jsonl");
    let latest = results.latest();
    let refused = latest[0].outcome.clone().err().unwrap_or_default();
    assert!(refused.contains("2 lines for one point") && refused.contains("99"), "{refused}");
    assert!(latest.iter().all(|r| r.outcome != Ok(serde_json::json!(99))), "the stray line is nobody's value");
    for record in &latest[1..] {
        assert_eq!(record.outcome, Ok(serde_json::json!(record.index * record.index)), "after the restart");
    }
}

/// The referee's case: a second line for k = 4 printed a second later,
/// while the next point waits unread in the black box's stdin. It is
/// nobody's value: the point it arrived for fails, the process restarts.
#[cfg(target_os = "linux")]
#[test]
fn a_late_second_line_is_not_taken_for_the_next_points_value() {
    let sandbox = sandbox("late.ron", &spec("4) echo 16; sleep 1; echo 16; sleep 2;;", "timeout_secs: 10.0"));
    let text = std::fs::read_to_string(sandbox.path("late.ron")).unwrap_or_default();
    sandbox.spec("late.ron", &text.replace("workers: 2", "workers: 1"));
    let output = sandbox.sweep(&["run", "--no-progress", "late.ron"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let results = sandbox.load("late.jsonl");
    for record in &results.records {
        if let Ok(value) = &record.outcome {
            assert_eq!(value, &serde_json::json!(record.index * record.index), "k = {}", record.index);
        }
    }
    let latest = results.latest();
    let refused = latest[5].outcome.clone().err().unwrap_or_default();
    assert!(refused.contains("before it read this point") && refused.contains("16"), "{refused}");
    assert_eq!(results.status().done, 11, "every other point has its own value");
    assert_eq!(starts(&sandbox), 2, "restarted once");
    none_alive(&sandbox);
}

#[test]
fn a_stopped_run_leaves_no_persistent_black_box_behind() {
    let sandbox = sandbox("slow.ron", &spec("", "").replace("echo $((k*k))", "sleep 0.2; echo $((k*k))"));
    let child = sandbox.start(&["run", "--no-progress", "slow.ron", "--grace", "5"]);
    let results = sandbox.path("slow.jsonl");
    let on_disk = |path: &Path| std::fs::read_to_string(path).map_or(0, |t| t.lines().count().saturating_sub(1));
    let deadline = Instant::now() + Duration::from_secs(30);
    while on_disk(&results) < 2 {
        assert!(Instant::now() < deadline, "no records after 30 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = libc::pid_t::try_from(child.id()).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(128 + libc::SIGTERM), "{}", stderr(&output));
    none_alive(&sandbox);
    // Every point of the stopped run finished in its process: a resume does the rest.
    let resumed = sandbox.sweep(&["run", "--no-progress", "slow.ron"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let all = sandbox.load("slow.jsonl");
    assert_eq!((all.status().done, all.records.len()), (12, 12));
}

#[test]
fn placeholders_in_a_persistent_command_are_refused() {
    let sandbox = Sandbox::new();
    sandbox.spec("p.ron", r#"(space: Range(name: "k", start: 0, end: 2), command: ["echo", "{k}"])"#);
    let output = sandbox.sweep(&["run", "--persistent", "p.ron"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("cannot use {placeholders}"), "{}", stderr(&output));
}

/// A persistent black box that never answers a point stalls the run for
/// ever unless a time limit ends the wait: a run without one says so at
/// its start, and how to set one; `run --help` says it too.
#[test]
fn a_persistent_run_without_a_timeout_says_a_silent_black_box_would_stall_it() {
    let sandbox = sandbox("p.ron", &spec("", ""));
    let untimed = sandbox.sweep(&["run", "--no-progress", "p.ron"]);
    assert_eq!(untimed.status.code(), Some(0), "{}", stderr(&untimed));
    let message = stderr(&untimed);
    assert!(message.contains("never answers") && message.contains("timeout_secs"), "{message}");
    assert!(message.contains("--timeout SECS"), "{message}");
    let timed = sandbox.sweep(&["run", "--no-progress", "p.ron", "--timeout", "30", "-o", "timed.jsonl"]);
    assert_eq!(timed.status.code(), Some(0), "{}", stderr(&timed));
    assert!(!stderr(&timed).contains("never answers"), "{}", stderr(&timed));
    let help = common::stdout(&sandbox.sweep(&["run", "--help"]));
    assert!(help.contains("never answers"), "{help}");
}

/// The same argv run one-shot and persistent computes different things
/// (the point in its arguments, or on its stdin): two sweeps, which never
/// share records, whether the mode comes from the spec or from the flag.
#[test]
fn one_shot_and_persistent_runs_of_one_command_never_share_records() {
    let persistent = spec("", r#"output: "r.jsonl", max_attempts: 5"#);
    let sandbox = sandbox("p.ron", &persistent);
    sandbox.spec("o.ron", &persistent.replace("persistent: true", "persistent: false"));
    let done = sandbox.sweep(&["run", "--no-progress", "p.ron"]);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));

    let one_shot = sandbox.sweep(&["run", "--no-progress", "o.ron"]);
    let message = stderr(&one_shot);
    assert_eq!(one_shot.status.code(), Some(2), "{message}");
    assert!(message.contains("different sweep") && message.contains("ran persistent"), "{message}");
    assert!(message.contains("runs it one-shot"), "{message}");

    // The flag only confirms the spec: alone, `status` and `collect`
    // would not know the mode the records were computed in.
    let flagged = sandbox.sweep(&["run", "--no-progress", "--persistent", "o.ron"]);
    assert_eq!(flagged.status.code(), Some(2), "{}", stderr(&flagged));
    assert!(stderr(&flagged).contains("does not say `persistent: true`"), "{}", stderr(&flagged));
    let confirmed = sandbox.sweep(&["run", "--no-progress", "--persistent", "p.ron"]);
    assert_eq!(confirmed.status.code(), Some(0), "{}", stderr(&confirmed));
    assert!(stderr(&confirmed).contains("0 computed (0 failed), 12 already done"), "{}", stderr(&confirmed));
    assert_eq!(sandbox.load("r.jsonl").records.len(), 12);
    // `status` finds the spec as this sweep's, as `run` recorded it.
    let status = common::stdout(&sandbox.sweep(&["status", "r.jsonl"]));
    assert!(status.contains("max_attempts of p.ron"), "{status}");
}

/// Repeated trials of one command are a use of a command without
/// placeholders, a forgotten placeholder another: run says so, and runs.
#[test]
fn a_one_shot_command_naming_no_axis_is_run_with_a_warning() {
    let sandbox = Sandbox::new();
    sandbox.spec("rep.ron", r#"(space: Range(name: "rep", start: 0, end: 3), command: ["echo", "1"])"#);
    let output = sandbox.sweep(&["run", "--no-progress", "rep.ron"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("warning: the command names no axis"), "{}", stderr(&output));
    assert!(stderr(&output).contains("every point runs the same command"), "{}", stderr(&output));
    assert_eq!(sandbox.load("rep.jsonl").status().done, 3);
    sandbox.spec("k.ron", r#"(space: Range(name: "rep", start: 0, end: 3), command: ["echo", "{rep}"])"#);
    let named = sandbox.sweep(&["run", "--no-progress", "k.ron"]);
    assert!(!stderr(&named).contains("names no axis"), "{}", stderr(&named));
}
