//! `sweep slurm` and `sweep collect` on a space refined or narrowed since
//! its results were written, and `sweep slurm`'s preview, driven as a user
//! does, without a cluster: shards run by hand (`run --shard`), and fake
//! Slurm tools (`scontrol`, `squeue`, `sbatch`) first on PATH where a
//! submission is needed.

mod common;

use std::process::Output;

use common::{stderr, Sandbox};

/// `k` = 0..8; every evaluation is logged to `evals.log`.
const WIDE: &str = r#"(space: Range(name: "k", start: 0, end: 8),
    command: ["sh", "-c", "echo {k} >> evals.log; echo {k}"], output: "r.jsonl")"#;
/// The same command over `k` = 0..4.
const NARROW: &str = r#"(space: Range(name: "k", start: 0, end: 4),
    command: ["sh", "-c", "echo {k} >> evals.log; echo {k}"], output: "r.jsonl")"#;
/// Another command, same output.
const OTHER: &str = r#"(space: Range(name: "k", start: 0, end: 8),
    command: ["sh", "-c", "echo x{k}"], output: "r.jsonl")"#;

fn specs() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.spec("wide.ron", WIDE);
    sandbox.spec("narrow.ron", NARROW);
    sandbox.spec("other.ron", OTHER);
    sandbox
}

fn succeeded(output: Output, what: &str) -> String {
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{what}: {text}");
    text
}

fn run(sandbox: &Sandbox, args: &[&str]) -> String {
    let mut all = vec!["run", "--no-progress"];
    all.extend_from_slice(args);
    succeeded(sandbox.sweep(&all), &all.join(" "))
}

/// The points evaluated so far, in the order they were.
fn evaluations(sandbox: &Sandbox) -> Vec<i64> {
    let log = std::fs::read_to_string(sandbox.path("evals.log")).unwrap_or_default();
    log.lines().map(|line| line.trim().parse().unwrap_or_else(|e| panic!("{line:?}: {e}"))).collect()
}

/// The `k` of every point with a value in the results file, ascending.
fn done_ks(sandbox: &Sandbox, name: &str) -> Vec<i64> {
    let results = sandbox.load(name);
    let mut ks: Vec<i64> = results
        .records
        .iter()
        .filter(|record| record.is_ok())
        .map(|record| record.outcome.as_ref().ok().and_then(serde_json::Value::as_i64).unwrap_or(-1))
        .collect();
    ks.sort_unstable();
    ks.dedup();
    ks
}

/// Every file and directory name in the sandbox, sorted.
fn names(sandbox: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sandbox.root())
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Puts fake `scontrol`, `squeue` (an empty queue) and `sbatch` (job 101)
/// first on the PATH it returns.
fn fake_slurm(sandbox: &Sandbox) -> String {
    common::fake_tools(sandbox, &common::FAKE_SLURM)
}

/// The referee's M2, by hand: the narrow space run, then the wide one's
/// two shards, then `collect wide.ron`. `collect` refused the results file
/// with "the command changed" (it compared the whole fingerprint, space
/// included), where `sweep run wide.ron` reuses it. Now every point is
/// merged; a file of
/// another command is still refused with status 2, and left alone.
#[test]
fn collect_merges_shards_of_a_refined_space_into_the_narrower_results() {
    let sandbox = specs();
    run(&sandbox, &["narrow.ron"]);
    run(&sandbox, &["wide.ron", "--shard", "0/2"]);
    run(&sandbox, &["wide.ron", "--shard", "1/2"]);
    let collected = succeeded(sandbox.sweep(&["collect", "wide.ron"]), "collect wide.ron");
    assert!(collected.contains("8 done, 0 failed, 0 missing of 8 points"), "{collected}");
    assert_eq!(done_ks(&sandbox, "r.jsonl"), (0..8).collect::<Vec<_>>());
    let merged = sandbox.load("r.jsonl");
    assert_eq!(merged.status().done, 8, "the merged file is the wide sweep's");

    let before = std::fs::read(sandbox.path("r.jsonl")).unwrap_or_default();
    let refused = sandbox.sweep(&["collect", "other.ron", "--tasks", "2"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("different sweep"), "{}", stderr(&refused));
    assert_eq!(std::fs::read(sandbox.path("r.jsonl")).unwrap_or_default(), before);
}

/// The referee's M2 with `sweep slurm`: after `run narrow.ron`, submitting
/// the wide space was refused ("the command changed"); it reuses the four
/// points in the shard files it submits, and the narrow space submitted
/// again after it is the same sweep still. Another command is refused.
#[test]
fn slurm_submits_a_refined_space_reusing_every_point_done() {
    let sandbox = specs();
    run(&sandbox, &["narrow.ron"]);
    let path = fake_slurm(&sandbox);
    let slurm = |args: &[&str]| sandbox.command(args).env("PATH", &path).output().unwrap_or_else(|e| panic!("{e}"));
    let refused = slurm(&["slurm", "other.ron", "--tasks", "2", "--submit"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("different sweep"), "{}", stderr(&refused));
    assert!(!sandbox.path("r.slurm.json").exists(), "nothing submitted");

    let submitted = succeeded(slurm(&["slurm", "wide.ron", "--tasks", "2", "--submit"]), "slurm wide.ron --submit");
    assert!(submitted.contains("4 points already computed are reused in the 2 shard files"), "{submitted}");
    assert_eq!(done_ks(&sandbox, "r.shard-0-of-2.jsonl"), [0, 2]);
    assert_eq!(done_ks(&sandbox, "r.shard-1-of-2.jsonl"), [1, 3]);

    // What the tasks would run: each shard computes only its new points.
    run(&sandbox, &["wide.ron", "--shard", "0/2"]);
    run(&sandbox, &["wide.ron", "--shard", "1/2"]);
    let mut evaluated = evaluations(&sandbox);
    evaluated.sort_unstable();
    assert_eq!(evaluated, (0..8).collect::<Vec<_>>(), "each point once");

    // The submission log is the command's too: the narrow space submitted
    // after the wide one is this sweep's, another command's is not.
    succeeded(slurm(&["slurm", "narrow.ron", "--tasks", "2", "--submit"]), "slurm narrow.ron --submit");
    let refused = slurm(&["slurm", "other.ron", "--tasks", "2", "--submit"]);
    assert_ne!(refused.status.code(), Some(0), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("another sweep"), "{}", stderr(&refused));
}

/// The referee's M3: the wide space run, then the narrow one (its four
/// other records stay in the file, unused), its two shards, and `collect
/// narrow.ron`, which refused: "merging would leave 4 computed points in
/// r.jsonl, which holds 8". The records of points outside the space are
/// carried through the merge, so nothing computed is lost, and widening
/// the space again computes nothing.
#[test]
fn collect_keeps_the_records_of_points_a_narrowed_space_left_out() {
    let sandbox = specs();
    run(&sandbox, &["wide.ron"]);
    let narrowed = run(&sandbox, &["narrow.ron"]);
    assert!(narrowed.contains("the others stay in the file, unused"), "{narrowed}");
    run(&sandbox, &["narrow.ron", "--shard", "0/2"]);
    run(&sandbox, &["narrow.ron", "--shard", "1/2"]);
    let collected = succeeded(sandbox.sweep(&["collect", "narrow.ron"]), "collect narrow.ron");
    assert!(collected.contains("4 done, 0 failed, 0 missing of 4 points"), "{collected}");
    assert!(collected.contains("4 records of points no longer in the space are kept"), "{collected}");
    let merged = sandbox.load("r.jsonl");
    assert_eq!((merged.status().done, merged.status().outside), (4, 4));
    assert_eq!(done_ks(&sandbox, "r.jsonl"), (0..8).collect::<Vec<_>>());

    // Collecting again changes nothing.
    let before = std::fs::read(sandbox.path("r.jsonl")).unwrap_or_default();
    succeeded(sandbox.sweep(&["collect", "narrow.ron"]), "collect narrow.ron again");
    assert_eq!(std::fs::read(sandbox.path("r.jsonl")).unwrap_or_default(), before);

    let evaluated = evaluations(&sandbox).len();
    run(&sandbox, &["wide.ron"]);
    assert_eq!(evaluations(&sandbox).len(), evaluated, "widened again, nothing is computed");
}

/// The referee's L1: a preview (no `--submit`) seeded shard files and made
/// `slurm-logs/`; previews with `--tasks 2` and `--tasks 100000` (cut to 8)
/// left shard files of two counts, and `collect` then refused to choose.
/// A preview writes its script only; `collect` finds the one count run.
#[test]
fn a_preview_writes_only_its_script() {
    let sandbox = specs();
    run(&sandbox, &["narrow.ron"]);
    let before = names(&sandbox);
    for tasks in ["2", "100000"] {
        let preview = succeeded(sandbox.sweep(&["slurm", "wide.ron", "--tasks", tasks]), "slurm preview");
        assert!(preview.contains("--submit"), "{preview}");
    }
    // The scripts: `wide.sbatch`, and `wide.part2.sbatch` … where a
    // cluster's MaxArraySize splits the array (CI's is 4).
    let after: Vec<String> = names(&sandbox).into_iter().filter(|name| !name.ends_with(".sbatch")).collect();
    assert_eq!(after, before, "no shard file, no log directory");
    assert!(names(&sandbox).iter().all(|name| !name.ends_with(".sbatch") || name.starts_with("wide.")));
    let script = std::fs::read_to_string(sandbox.path("wide.sbatch")).unwrap_or_default();
    assert!(script.contains("slurm-logs/"), "{script}");

    run(&sandbox, &["wide.ron", "--shard", "0/2"]);
    run(&sandbox, &["wide.ron", "--shard", "1/2"]);
    let collected = succeeded(sandbox.sweep(&["collect", "wide.ron"]), "collect wide.ron");
    assert!(collected.contains("merged 2 shards"), "{collected}");
}

/// A refinement that moves points to other indices (`List` values put
/// between the old ones): shard 1 of 2 of `[0, 2, 4, 6]` holds 2 and 6,
/// which shard 0 owns in `[0, 1, ..., 7]`. Submitting the refined space
/// copied them to shard 0 but left them in shard 1's file under their new
/// indices, and `collect` then refused: "r.shard-1-of-2.jsonl holds point
/// #2, which belongs to shard 0/2". The submission moves them.
#[test]
fn a_refinement_that_moves_points_between_shards_collects() {
    let sandbox = Sandbox::new();
    let command = r#"command: ["sh", "-c", "echo {k} >> evals.log; echo {k}"], output: "r.jsonl""#;
    sandbox.spec("coarse.ron", &format!("(space: List(name: \"k\", values: [0, 2, 4, 6]), {command})"));
    sandbox.spec("fine.ron", &format!("(space: List(name: \"k\", values: [0, 1, 2, 3, 4, 5, 6, 7]), {command})"));
    run(&sandbox, &["coarse.ron", "--shard", "0/2"]);
    run(&sandbox, &["coarse.ron", "--shard", "1/2"]);
    let path = fake_slurm(&sandbox);
    let slurm = |args: &[&str]| sandbox.command(args).env("PATH", &path).output().unwrap_or_else(|e| panic!("{e}"));
    succeeded(slurm(&["slurm", "fine.ron", "--tasks", "2", "--submit"]), "slurm fine.ron --submit");
    assert_eq!(done_ks(&sandbox, "r.shard-0-of-2.jsonl"), [0, 2, 4, 6]);
    assert_eq!(done_ks(&sandbox, "r.shard-1-of-2.jsonl"), Vec::<i64>::new());

    run(&sandbox, &["fine.ron", "--shard", "0/2"]);
    run(&sandbox, &["fine.ron", "--shard", "1/2"]);
    let collected = succeeded(sandbox.sweep(&["collect", "fine.ron"]), "collect fine.ron");
    assert!(collected.contains("8 done, 0 failed, 0 missing of 8 points"), "{collected}");
    let mut evaluated = evaluations(&sandbox);
    evaluated.sort_unstable();
    assert_eq!(evaluated, (0..8).collect::<Vec<_>>(), "each point once");
}

/// Shards run by hand over a refinement that moves indices (`k` = 1..=6,
/// then 0..=6): each `run --shard` re-indexes its file in place, which
/// then holds points the other shard now owns. `collect` refused that
/// file for good ("was the sweep sharded with a different N?"); it merges
/// every record by its point, names the files, and loses nothing.
#[test]
fn shards_run_by_hand_over_an_index_moving_refinement_are_collected() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "six.ron",
        r#"(space: List(name: "k", values: [1, 2, 3, 4, 5, 6]), command: ["sh", "-c", "echo {k}"], output: "k.jsonl")"#,
    );
    sandbox.spec(
        "seven.ron",
        r#"(space: List(name: "k", values: [0, 1, 2, 3, 4, 5, 6]), command: ["sh", "-c", "echo {k}"], output: "k.jsonl")"#,
    );
    for spec in ["six.ron", "seven.ron"] {
        for shard in ["0/2", "1/2"] {
            run(&sandbox, &[spec, "--shard", shard]);
        }
    }
    let collected = succeeded(sandbox.sweep(&["collect", "seven.ron"]), "collect seven.ron");
    assert!(collected.contains("k.shard-0-of-2.jsonl holds 3 points of other shards"), "{collected}");
    assert!(collected.contains("7 done, 0 failed, 0 missing of 7 points"), "{collected}");
    assert_eq!(done_ks(&sandbox, "k.jsonl"), [0, 1, 2, 3, 4, 5, 6]);
}

/// Shards run by hand leave no submission record: `collect`'s advice for
/// the missing points names the shard count, which `--resubmit` then
/// needs (it said `sweep slurm SPEC --resubmit`, which is refused).
#[test]
fn collect_after_shards_run_by_hand_advises_a_resubmission_that_works() {
    let sandbox = specs();
    run(&sandbox, &["wide.ron", "--shard", "0/2"]);
    let collected = sandbox.sweep(&["collect", "wide.ron"]);
    assert_eq!(collected.status.code(), Some(3), "{}", stderr(&collected));
    assert!(stderr(&collected).contains("`sweep slurm wide.ron --tasks 2 --resubmit`"), "{}", stderr(&collected));
}

/// The referee's C: in a directory whose path has a space, with a spec
/// named `s p€c.ron`, `sweep slurm` refused to write the script, naming
/// sbatch's `--output`, `--chdir` and `--job-name` (options sweep has not;
/// its `--output` is the results file). Now the script is written, and a
/// task run from elsewhere, as Slurm starts it, computes its shard in that
/// directory; so does one of a `--submit` (fake sbatch), whose log
/// directory is made there.
#[test]
fn sweep_slurm_works_in_a_directory_with_a_space() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("we ird");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("s p€c.ron"), r#"(space: Range(name: "k", start: 0, end: 4), command: ["echo", "{k}"])"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let path = fake_slurm(&sandbox);
    let slurm = |args: &[&str]| {
        let output = sandbox.command(args).current_dir(&dir).env("PATH", &path).output();
        succeeded(output.unwrap_or_else(|e| panic!("{e}")), &args.join(" "))
    };
    slurm(&["slurm", "s p€c.ron", "--tasks", "2"]);
    let script = std::fs::read_to_string(dir.join("s p€c.sbatch")).unwrap_or_else(|e| panic!("{e}"));
    assert!(script.contains("#SBATCH --job-name=sweep-s_p_c\n"), "{script}");
    assert!(script.contains("#SBATCH --output=slurm-logs/%x-%A_%a.out\n"), "{script}");
    let task = std::process::Command::new("bash")
        .arg(dir.join("s p€c.sbatch"))
        .env("SLURM_ARRAY_TASK_ID", "1")
        .current_dir(sandbox.root())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    succeeded(task, "the script's task 1");
    assert_eq!(sandbox.load("we ird/s p€c.shard-1-of-2.jsonl").status().done, 2);

    slurm(&["slurm", "s p€c.ron", "--tasks", "2", "--submit"]);
    assert!(dir.join("slurm-logs").is_dir() && dir.join("s p€c.1.sbatch").is_file());
}

/// Specs named past a dot, without `.ron` (`study.v1`, `study.v2`), both
/// previewed into `study.sbatch`, the second replacing the first: the
/// script is named as the results file is.
#[test]
fn specs_differing_past_a_dot_get_a_script_each() {
    let sandbox = Sandbox::new();
    for name in ["study.v1", "study.v2"] {
        sandbox.spec(name, WIDE);
        succeeded(sandbox.sweep(&["slurm", name, "--tasks", "2"]), "slurm preview");
    }
    for script in ["study.v1.sbatch", "study.v2.sbatch"] {
        let text = std::fs::read_to_string(sandbox.path(script)).unwrap_or_else(|e| panic!("{script}: {e}"));
        assert!(text.contains(&script.replace(".sbatch", "")), "{script}: {text}");
    }
}
