//! A second outside referee's attacks on `sweep slurm --tasks N` against
//! the cluster's MaxJobCount and on `sweep collect`'s shard lists, driving
//! the binary as a user does, with fake Slurm tools (`scontrol`, `squeue`,
//! `sbatch`) put first on PATH as `cli.rs` does.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{stderr, stdout, Sandbox};

/// Ten points, `k` = 0..9; points 3 and 8 fail.
const TEN: &str = r#"(space: Range(name: "k", start: 0, end: 10),
    command: ["sh", "-c", "if [ {k} -eq 3 ] || [ {k} -eq 8 ]; then exit 1; fi; echo {k}"])"#;

/// Writes fake `scontrol` (printing `config`), `squeue` (an empty queue)
/// and `sbatch` (job 101, its arguments logged to `sbatch.log`) into the
/// sandbox; returns the PATH that finds them first.
fn fake_slurm(sandbox: &Sandbox, config: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = sandbox.path("fake-bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    let log = sandbox.path("sbatch.log");
    let tools = [
        ("scontrol", format!("#!/bin/sh\ncat <<'EOF'\n{config}\nEOF\n")),
        ("squeue", "#!/bin/sh\nexit 0\n".to_owned()),
        ("sbatch", format!("#!/bin/sh\necho \"$@\" >> '{}'\necho 101\n", log.display())),
    ];
    for (name, text) in tools {
        let path = bin.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    }
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

fn sweep_with_path(sandbox: &Sandbox, path: &str, args: &[&str]) -> Output {
    let mut command = sandbox.command(args);
    command.env("PATH", path).output().unwrap_or_else(|e| panic!("running sweep: {e}"))
}

/// Every file in the sandbox (recursively, but not the fake tools), with
/// its contents.
fn snapshot(sandbox: &Sandbox) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.ends_with("fake-bin") {
                continue;
            }
            if path.is_dir() {
                out.push((path.clone(), Vec::new()));
                walk(&path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                out.push((path, bytes));
            }
        }
    }
    let mut out = Vec::new();
    walk(sandbox.root(), &mut out);
    out.sort();
    out
}

/// Shards 0 to 3 of 5 run by hand (`--shard K/5`, one attempt each), shard
/// 4 not: one shard, one array task, is left. A cluster whose MaxJobCount
/// is 4 holds that one task easily, but `--resubmit --tasks 5` was refused
/// as "--tasks 5: Slurm cannot hold that many array tasks ... use --tasks 3
/// or fewer": the limit was checked against the shard count, not against
/// the tasks a resubmit submits. (The same with a recorded 5-shard
/// submission and a MaxJobCount lowered since.) When too many shards are
/// left, the refusal names them, and nothing is written.
#[test]
fn a_resubmit_is_limited_by_the_shards_it_submits_not_the_shard_count() {
    let sandbox = Sandbox::new();
    sandbox.spec("ten.ron", TEN);
    for k in 0..4 {
        let output = sandbox.sweep(&["run", "--no-progress", "ten.ron", "--shard", &format!("{k}/5")]);
        assert!(matches!(output.status.code(), Some(0 | 3)), "{}", stderr(&output));
    }
    let path = fake_slurm(&sandbox, "MaxArraySize            = 1001\nMaxJobCount             = 4");
    let resubmit = sweep_with_path(&sandbox, &path, &["slurm", "ten.ron", "--resubmit", "--tasks", "5"]);
    let text = stderr(&resubmit);
    assert_eq!(resubmit.status.code(), Some(0), "{text}");
    let script = std::fs::read_to_string(sandbox.path("ten.1.sbatch")).unwrap_or_else(|e| panic!("{e}: {text}"));
    // Shards 0..3 hold failed points 3 and 8 with attempts left: retried too.
    assert!(script.contains("#SBATCH --array=3,4\n"), "{script}");

    // Four of five shards with points left: four tasks, refused, naming them.
    let sandbox = Sandbox::new();
    sandbox.spec("ten.ron", TEN);
    let output = sandbox.sweep(&["run", "--no-progress", "ten.ron", "--shard", "0/5"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let path = fake_slurm(&sandbox, "MaxArraySize            = 1001\nMaxJobCount             = 4");
    let before = snapshot(&sandbox);
    let refused = sweep_with_path(&sandbox, &path, &["slurm", "ten.ron", "--resubmit", "--tasks", "5"]);
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(text.contains("--resubmit: 4 of the 5 shards have points left"), "{text}");
    assert!(text.contains("use --tasks 3 or fewer"), "{text}");
    assert_eq!(snapshot(&sandbox), before, "the refused resubmit wrote something");
    assert!(!sandbox.path("sbatch.log").exists());
}

/// A cluster whose MaxJobCount is 0 or 1 holds no array task at all. The
/// refusal advised "use --tasks 0 or fewer", a count that is itself refused
/// ("--tasks must be at least 1").
#[test]
fn a_max_job_count_of_one_says_no_task_fits_not_use_tasks_0() {
    for max_job_count in ["0", "1"] {
        let sandbox = Sandbox::new();
        sandbox.spec("ten.ron", TEN);
        let path = fake_slurm(&sandbox, &format!("MaxArraySize = 1001\nMaxJobCount = {max_job_count}"));
        let before = snapshot(&sandbox);
        let refused = sweep_with_path(&sandbox, &path, &["slurm", "ten.ron", "--tasks", "1"]);
        let text = stderr(&refused);
        assert_eq!(refused.status.code(), Some(2), "{text}");
        assert!(!text.contains("--tasks 0"), "{max_job_count}: {text}");
        assert!(text.contains("cannot hold any array task"), "{max_job_count}: {text}");
        assert_eq!(snapshot(&sandbox), before, "the refusal wrote something");
    }
}

/// What held, pinned down on a case small enough to check by hand: shard
/// files of three counts side by side (5, 3, and a stray 20 whose shard 15
/// owns no point), failures given up after one attempt. Shard K of 5 owns
/// K and K + 5: shard 0 (0, 5) and shard 3 (3 failed, 8 failed) ran, shard
/// 1 computed 1 only, shard 2 and 4 have no file; the 3-shard file adds
/// point 7 (shard 2 of 5) and 4 (shard 4). So: absent files 2 and 4;
/// incomplete 1 (6), 2 (2), 3 (given up), 4 (9); to retry 1, 2, 4; status 3.
#[test]
fn collect_lists_exactly_the_absent_and_incomplete_shards_of_a_small_case() {
    let sandbox = Sandbox::new();
    sandbox.spec("ten.ron", TEN);
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--no-progress", "ten.ron", "--max-attempts", "1"];
        all.extend_from_slice(args);
        let output = sandbox.sweep(&all);
        assert!(matches!(output.status.code(), Some(0 | 3)), "{}", stderr(&output));
    };
    run(&["--shard", "0/5"]);
    run(&["--shard", "3/5"]);
    run(&["--shard", "1/5", "--limit", "1"]);
    run(&["--shard", "1/3", "--limit", "2"]); // points 1 and 4
    run(&["--shard", "1/3"]); // and 7
                              // A shard past the last point: it owns none, so it is never listed.
    let header = std::fs::read_to_string(sandbox.path("ten.shard-0-of-5.jsonl")).unwrap_or_default();
    let header = header.lines().next().unwrap_or_default();
    std::fs::write(sandbox.path("ten.shard-15-of-20.jsonl"), format!("{header}\n")).unwrap_or_else(|e| panic!("{e}"));

    let collected = sandbox.sweep(&["collect", "ten.ron", "--tasks", "5", "--max-attempts", "1"]);
    let (out, err) = (stdout(&collected), stderr(&collected));
    assert_eq!(collected.status.code(), Some(3), "{err}");
    let absent: Vec<&str> = err.lines().filter(|l| l.contains("has no results file")).collect();
    assert_eq!(absent.len(), 2, "{err}");
    assert!(absent[0].contains("shard 2/5 ") && absent[1].contains("shard 4/5 "), "{err}");
    let listed: Vec<&str> = out.lines().collect();
    assert_eq!(
        listed,
        [
            "shard 2/5  missing  #2 k=2",
            "shard 3/5  failed   #3 k=3: command `sh` failed (exit status: 1) with no output on stderr (given up after 1 attempts)",
            "shard 1/5  missing  #6 k=6",
            "shard 3/5  failed   #8 k=8: command `sh` failed (exit status: 1) with no output on stderr (given up after 1 attempts)",
            "shard 4/5  missing  #9 k=9",
        ],
        "{out}"
    );
    assert!(err.contains("5 of 10 points have no value (shards 1-4, 2 given up)"), "{err}");

    // The stray 20-shard file owns no point: --tasks 20 lists shards 0..9
    // that lack a file, never shard 15.
    let twenty = sandbox.sweep(&["collect", "ten.ron", "--tasks", "20", "--max-attempts", "1"]);
    let err = stderr(&twenty);
    assert_eq!(twenty.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().filter(|l| l.contains("has no results file")).count(), 10, "{err}");
    assert!(!err.contains("shard 15/20"), "{err}");
    assert!(err.contains("(shards 2, 3, 6, 8, 9, 2 given up)"), "{err}");
}

/// `collect --max-attempts 0` merged the shard files into the results file
/// and only then refused the argument (status 2): a refused command must
/// write nothing.
#[test]
fn collect_refuses_max_attempts_0_before_merging_anything() {
    let sandbox = Sandbox::new();
    sandbox.spec("ten.ron", TEN);
    let output = sandbox.sweep(&["run", "--no-progress", "ten.ron", "--shard", "0/2"]);
    assert!(matches!(output.status.code(), Some(0 | 3)), "{}", stderr(&output));
    let before = snapshot(&sandbox);
    let refused = sandbox.sweep(&["collect", "ten.ron", "--tasks", "2", "--max-attempts", "0"]);
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(text.contains("--max-attempts must be at least 1"), "{text}");
    assert_eq!(snapshot(&sandbox), before, "the refused collect wrote something");
}
