//! Records hold only their own sweep: a record of another sweep over the
//! same space (same points, another command) pasted into a results file is
//! refused by every reader, moved aside (never deleted) by `repair`, and
//! never relabelled by `repair --spec`. Points equal as numbers (`1`,
//! `1.0`) are one point.

mod common;

use std::process::Output;

use common::{stderr, stdout, Sandbox};

fn ok(output: Output) -> Output {
    assert!(output.status.success(), "sweep failed: {}", stderr(&output));
    output
}

fn failed(output: Output) -> String {
    assert!(!output.status.success(), "sweep should have failed: {}", stdout(&output));
    stderr(&output)
}

/// Two sweeps over k = 0..4: squares (`a`) and thousands (`b`), both run.
fn two_sweeps() -> Sandbox {
    let sandbox = Sandbox::new();
    for (name, expression) in [("a", "{k} * {k}"), ("b", "{k} * 1000")] {
        sandbox.spec(
            &format!("{name}.ron"),
            &format!(
                r#"(
                    space: Range(name: "k", start: 0, end: 4),
                    command: ["sh", "-c", "echo $(( {expression} ))"],
                    workers: 2,
                    output: "{name}.jsonl",
                )"#
            ),
        );
        ok(sandbox.sweep(&["run", "--no-progress", &format!("{name}.ron")]));
    }
    sandbox
}

/// The line of `name` that records k = `k`.
fn record_line(sandbox: &Sandbox, name: &str, k: i64) -> String {
    let text = std::fs::read_to_string(sandbox.path(name)).unwrap_or_default();
    let needle = format!("\"point\":{{\"k\":{k}}}");
    text.lines().find(|line| line.contains(&needle)).map(str::to_owned).unwrap_or_else(|| panic!("no k={k} in {text}"))
}

fn append_line(sandbox: &Sandbox, name: &str, line: &str) {
    let mut text = std::fs::read_to_string(sandbox.path(name)).unwrap_or_default();
    text.push_str(line);
    text.push('\n');
    std::fs::write(sandbox.path(name), text).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_pasted_record_of_another_sweep_is_refused_by_every_reader() {
    let sandbox = two_sweeps();
    let foreign = record_line(&sandbox, "b.jsonl", 3);
    append_line(&sandbox, "a.jsonl", &foreign);
    let line = std::fs::read_to_string(sandbox.path("a.jsonl")).unwrap_or_default().lines().count();
    let location = format!("a.jsonl:{line}");
    for args in [
        vec!["status", "a.jsonl"],
        vec!["status", "--json", "a.jsonl"],
        vec!["export", "a.jsonl"],
        vec!["plot", "a.jsonl"],
        vec!["run", "--no-progress", "a.ron"],
    ] {
        let message = failed(sandbox.sweep(&args));
        assert!(message.contains(&location) && message.contains("another sweep"), "{args:?}: {message}");
        assert!(message.contains("sweep repair"), "{args:?}: {message}");
    }
    assert!(!sandbox.path("a.png").exists(), "no chart of foreign data");
}

#[test]
fn repair_moves_foreign_records_aside_and_the_sweeps_own_value_wins() {
    let sandbox = two_sweeps();
    let foreign = record_line(&sandbox, "b.jsonl", 3);
    append_line(&sandbox, "a.jsonl", &foreign);
    let repaired = ok(sandbox.sweep(&["repair", "a.jsonl"]));
    assert!(
        stderr(&repaired).contains("kept 4 records; moved 0 unparsable lines, 1 record of another sweep to "),
        "{}",
        stderr(&repaired)
    );
    let side = std::fs::read_to_string(sandbox.path("a.jsonl.rejected.jsonl")).unwrap_or_default();
    assert_eq!(side, format!("{foreign}\n"), "the foreign record is kept byte for byte");
    let csv = stdout(&ok(sandbox.sweep(&["export", "a.jsonl"])));
    let row = csv.lines().find(|l| l.split(',').nth(2) == Some("3")).unwrap_or_default();
    assert_eq!(row.split(',').nth(3), Some("9"), "{csv}");
    assert!(!csv.contains("3000"), "{csv}");
    ok(sandbox.sweep(&["status", "a.jsonl"]));
}

#[test]
fn records_left_outside_by_a_narrowed_rerun_stay_this_sweeps_through_status_and_repair() {
    let sandbox = Sandbox::new();
    for (name, end) in [("wide", 20), ("narrow", 10)] {
        sandbox.spec(
            &format!("{name}.ron"),
            &format!(
                r#"(space: Range(name: "x", start: 0, end: {end}), command: ["sh", "-c", "echo {{x}}"],
                    output: "n.jsonl")"#
            ),
        );
    }
    ok(sandbox.sweep(&["run", "--no-progress", "wide.ron"]));
    ok(sandbox.sweep(&["run", "--no-progress", "narrow.ron"]));
    let status = stdout(&ok(sandbox.sweep(&["status", "n.jsonl"])));
    assert!(status.contains("outside:     10 records"), "{status}");
    assert!(!status.contains("repair"), "this sweep's own records are not advised away: {status}");
    let export = ok(sandbox.sweep(&["export", "n.jsonl"]));
    assert!(!stderr(&export).contains("repair"), "{}", stderr(&export));
    let repaired = ok(sandbox.sweep(&["repair", "n.jsonl"]));
    assert!(stderr(&repaired).contains("needs no repair"), "{}", stderr(&repaired));
    assert!(!sandbox.path("n.jsonl.rejected.jsonl").exists());
    assert_eq!(sandbox.load("n.jsonl").records.len(), 20);

    // Damaged otherwise too: the bad line goes, this sweep's records stay.
    append_line(&sandbox, "n.jsonl", "garbage from an editor");
    let repaired = ok(sandbox.sweep(&["repair", "n.jsonl"]));
    assert!(
        stderr(&repaired).contains(
            "kept 20 records (10 of points outside the space, which this sweep's command computed); moved 1 \
             unparsable line to "
        ),
        "{}",
        stderr(&repaired)
    );
    let side = std::fs::read_to_string(sandbox.path("n.jsonl.rejected.jsonl")).unwrap_or_default();
    assert_eq!(side, "garbage from an editor\n");
    let widened = ok(sandbox.sweep(&["run", "--no-progress", "wide.ron"]));
    assert!(stderr(&widened).contains("0 computed (0 failed), 20 already done"), "{}", stderr(&widened));
}

#[test]
fn export_never_writes_over_the_side_file_repair_keeps_nor_a_lock() {
    let sandbox = two_sweeps();
    let foreign = record_line(&sandbox, "b.jsonl", 3);
    append_line(&sandbox, "a.jsonl", &foreign);
    ok(sandbox.sweep(&["repair", "a.jsonl"]));
    let side = std::fs::read(sandbox.path("a.jsonl.rejected.jsonl")).unwrap_or_default();
    for target in ["a.jsonl.rejected.jsonl", "a.jsonl.lock", "b.jsonl"] {
        let output = sandbox.sweep(&["export", "a.jsonl", "-o", target]);
        assert_eq!(output.status.code(), Some(2), "{target}: {}", stderr(&output));
        assert!(stderr(&output).contains("refusing to write the CSV export over it"), "{}", stderr(&output));
    }
    let message = failed(sandbox.sweep(&["export", "a.jsonl", "-o", "a.jsonl.rejected.jsonl"]));
    assert!(message.contains("moved aside from results file a.jsonl"), "{message}");
    assert_eq!(std::fs::read(sandbox.path("a.jsonl.rejected.jsonl")).unwrap_or_default(), side);
    assert!(!sandbox.path("a.jsonl.lock").exists());
    ok(sandbox.sweep(&["export", "a.jsonl", "-o", "a.csv"]));
}

/// A side file whose results file was moved away is known by its records:
/// the referee's `export par.jsonl -o X.jsonl.rejected.jsonl` after `mv
/// X.jsonl` replaced it, status 0. Also when its first line is a damaged
/// one, and under another name when a record comes first.
#[test]
fn export_never_writes_over_a_side_file_left_without_its_results_file() {
    let sandbox = two_sweeps();
    let foreign = record_line(&sandbox, "b.jsonl", 3);
    append_line(&sandbox, "a.jsonl", &foreign);
    ok(sandbox.sweep(&["repair", "a.jsonl"]));
    std::fs::rename(sandbox.path("a.jsonl"), sandbox.path("moved.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    let side = sandbox.path("a.jsonl.rejected.jsonl");
    let refused = |target: &str| {
        let kept = std::fs::read(sandbox.path(target)).unwrap_or_default();
        let message = failed(sandbox.sweep(&["export", "moved.jsonl", "-o", target]));
        assert!(message.contains(&format!("{target} holds sweep records")), "{message}");
        assert_eq!(std::fs::read(sandbox.path(target)).unwrap_or_default(), kept, "{target}");
    };
    refused("a.jsonl.rejected.jsonl");
    // Its first line a torn one, as `repair` moves those aside too.
    let text = std::fs::read_to_string(&side).unwrap_or_default();
    std::fs::write(&side, format!("half a li\n{text}")).unwrap_or_else(|e| panic!("{e}"));
    refused("a.jsonl.rejected.jsonl");
    std::fs::write(sandbox.path("records.txt"), format!("{foreign}\n")).unwrap_or_else(|e| panic!("{e}"));
    refused("records.txt");
    // A record further down a file of another name is no sign.
    std::fs::write(sandbox.path("notes.txt"), format!("notes\n{foreign}\n")).unwrap_or_else(|e| panic!("{e}"));
    ok(sandbox.sweep(&["export", "moved.jsonl", "-o", "notes.txt"]));
}

/// A side file is `<results>.rejected.jsonl` (`repair`'s name for it):
/// a name ending so, beside no results file of that name, is any file's.
/// `a.rejected.jsonl` is not the side file of `a.jsonl` (that is
/// `a.jsonl.rejected.jsonl`), nor is `notes.rejected.jsonl` without `notes`.
#[test]
fn export_writes_a_file_named_like_a_side_file_of_no_results_file() {
    let sandbox = two_sweeps();
    for target in ["notes.rejected.jsonl", "a.rejected.jsonl"] {
        ok(sandbox.sweep(&["export", "a.jsonl", "-o", target]));
        let csv = std::fs::read_to_string(sandbox.path(target)).unwrap_or_default();
        assert_eq!(csv.lines().count(), 5, "{target}: {csv}");
    }
    // Over an existing file too, which no sweep's repair wrote.
    ok(sandbox.sweep(&["export", "b.jsonl", "-o", "notes.rejected.jsonl"]));
    let csv = std::fs::read_to_string(sandbox.path("notes.rejected.jsonl")).unwrap_or_default();
    assert!(csv.contains("3000"), "{csv}");
}

#[test]
fn repair_with_another_sweeps_spec_refuses_and_changes_nothing() {
    let sandbox = two_sweeps();
    let before = std::fs::read(sandbox.path("a.jsonl")).unwrap_or_default();
    let message = failed(sandbox.sweep(&["repair", "a.jsonl", "--spec", "b.ron"]));
    assert!(message.contains("another sweep than b.ron"), "{message}");
    assert_eq!(std::fs::read(sandbox.path("a.jsonl")).unwrap_or_default(), before);

    // With the header destroyed, the records' identities still tell.
    let text = String::from_utf8_lossy(&before).into_owned();
    let damaged = text.replacen("{\"sweep\":{", "{\"sweep\":{{{", 1);
    std::fs::write(sandbox.path("a.jsonl"), &damaged).unwrap_or_else(|e| panic!("{e}"));
    let message = failed(sandbox.sweep(&["repair", "a.jsonl", "--spec", "b.ron"]));
    assert!(message.contains("computed by the command with fingerprint"), "{message}");
    assert_eq!(std::fs::read_to_string(sandbox.path("a.jsonl")).unwrap_or_default(), damaged);
    assert!(!sandbox.path("a.jsonl.rejected.jsonl").exists());

    // The file's own spec rebuilds it, every record kept.
    ok(sandbox.sweep(&["repair", "a.jsonl", "--spec", "a.ron"]));
    assert_eq!(sandbox.load("a.jsonl").latest().len(), 4);
}

#[test]
fn collect_refuses_a_shard_file_holding_another_sweeps_record() {
    let sandbox = two_sweeps();
    for shard in ["0/2", "1/2"] {
        ok(sandbox.sweep(&["run", "--no-progress", "a.ron", "--shard", shard]));
    }
    let shard_file = "a.shard-1-of-2.jsonl";
    assert!(sandbox.path(shard_file).exists());
    append_line(&sandbox, shard_file, &record_line(&sandbox, "b.jsonl", 3));
    let message = failed(sandbox.sweep(&["collect", "a.ron", "--tasks", "2"]));
    assert!(message.contains(shard_file) && message.contains("another sweep"), "{message}");
}

#[test]
fn files_written_before_records_carried_an_identity_still_read() {
    let sandbox = two_sweeps();
    // Today's file, turned into a format-2 one: no `task` on any record.
    let text = std::fs::read_to_string(sandbox.path("a.jsonl")).unwrap_or_default();
    let identity = |line: &str| line.find("\"task\":").map(|at| line[at..at + 26].to_owned());
    let task = text.lines().nth(1).and_then(identity).unwrap_or_else(|| panic!("no task in {text}"));
    let old = text.replace(&task, "").replace(&format!("\"format\":{}", sweep::store::FORMAT_VERSION), "\"format\":2");
    std::fs::write(sandbox.path("a.jsonl"), &old).unwrap_or_else(|e| panic!("{e}"));
    let status = stdout(&ok(sandbox.sweep(&["status", "a.jsonl"])));
    assert!(status.contains("done:        4"), "{status}");
    ok(sandbox.sweep(&["run", "--no-progress", "a.ron"]));
    assert_eq!(sandbox.load("a.jsonl").records.len(), 4, "nothing recomputed");

    // In a file of today's format, a record without identity is foreign.
    let sandbox = two_sweeps();
    let untagged = record_line(&sandbox, "b.jsonl", 3);
    let untagged = untagged.split_once(',').map(|(_, rest)| format!("{{{rest}")).unwrap_or_default();
    append_line(&sandbox, "a.jsonl", &untagged);
    let message = failed(sandbox.sweep(&["status", "a.jsonl"]));
    assert!(message.contains("carries no sweep identity"), "{message}");
}

#[test]
fn equal_numbers_are_one_point() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "dup.ron",
        r#"(space: List(name: "x", values: [1, 1.0, 2]), command: ["echo", "{x}"], output: "dup.jsonl")"#,
    );
    let message = failed(sandbox.sweep(&["run", "--no-progress", "dup.ron"]));
    assert!(message.contains("equal numbers"), "{message}");
    assert!(!sandbox.path("dup.jsonl").exists());

    // Refining [1, 2] to [1.0, 2.0, 3.0] computes only the new point.
    sandbox.spec("r.ron", r#"(space: List(name: "x", values: [1, 2]), command: ["echo", "{x}"], output: "r.jsonl")"#);
    ok(sandbox.sweep(&["run", "--no-progress", "r.ron"]));
    sandbox.spec(
        "r.ron",
        r#"(space: List(name: "x", values: [1.0, 2.0, 3.0]), command: ["echo", "{x}"], output: "r.jsonl")"#,
    );
    let rerun = ok(sandbox.sweep(&["run", "--no-progress", "r.ron"]));
    assert!(stderr(&rerun).contains("2 already done"), "{}", stderr(&rerun));
    let results = sandbox.load("r.jsonl");
    assert_eq!(results.records.len(), 3, "one new record");
    assert_eq!(results.status().done, 3);
}

#[test]
fn identities_written_before_numbers_were_compared_by_value_still_match() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "lin.ron",
        r#"(space: Linspace(name: "x", start: 0.0, stop: 2.0, num: 3), command: ["echo", "{x}"], output: "lin.jsonl")"#,
    );
    ok(sandbox.sweep(&["run", "--no-progress", "lin.ron"]));
    // Rewrite each id as older releases computed it (floats by their bits).
    let text = std::fs::read_to_string(sandbox.path("lin.jsonl")).unwrap_or_default();
    let mut old = String::new();
    for (number, line) in text.lines().enumerate() {
        if number == 0 {
            old.push_str(line);
        } else {
            let record: sweep::Record = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
            old.push_str(&line.replace(&record.id.to_string(), &record.point.legacy_id().to_string()));
        }
        old.push('\n');
    }
    assert_ne!(old, text, "integral floats had other ids");
    std::fs::write(sandbox.path("lin.jsonl"), &old).unwrap_or_else(|e| panic!("{e}"));
    let rerun = ok(sandbox.sweep(&["run", "--no-progress", "lin.ron"]));
    assert!(stderr(&rerun).contains("3 already done"), "{}", stderr(&rerun));
    assert_eq!(sandbox.load("lin.jsonl").status().done, 3);
}
