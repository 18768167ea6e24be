//! Sharded sweeps end to end on a real Slurm cluster: `sweep slurm
//! --submit`, `scancel` of one shard, `sweep collect`, `sweep slurm
//! --resubmit`.
//!
//! These tests need Slurm. With `SLURM_CONF` set they submit to that running
//! cluster (CI starts one with `scripts/slurm-local.sh start DIR`); otherwise,
//! where `slurmctld` is installed, each test starts a private one-node
//! cluster on free ports with the same script (as root) and stops it
//! afterwards. Where neither holds, each test prints
//! `SKIPPED: slurm not available (...)` to stderr and passes.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sweep::slurm::{Cluster, JobId};
use sweep::{Record, Results};

/// How long a whole array job may take before a test gives up.
const JOB_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a requeued task may take to start again (Slurm waits ~2 min).
const REQUEUE_TIMEOUT: Duration = Duration::from_secs(240);
/// How often squeue is asked whether a job is done.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A Slurm cluster to submit to: an existing one, or a private one that is
/// stopped when this is dropped.
struct TestCluster {
    conf: PathBuf,
    client: Cluster,
    private: Option<tempfile::TempDir>,
}

fn local_cluster_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/slurm-local.sh")
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A TCP port nobody listens on right now (the OS picks it).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("binding a probe socket: {e}"));
    listener.local_addr().unwrap_or_else(|e| panic!("probe socket address: {e}")).port()
}

impl TestCluster {
    /// The cluster named by `SLURM_CONF`, else a freshly started private
    /// one, else `None` after printing why the test is skipped.
    fn connect(test: &str) -> Option<TestCluster> {
        if let Some(conf) = std::env::var_os("SLURM_CONF") {
            let conf = PathBuf::from(conf);
            return Some(TestCluster { client: Cluster::with_conf(&conf), conf, private: None });
        }
        if !on_path("slurmctld") {
            // Straight to the stderr handle: the test harness captures
            // `eprintln!`, and a skip must be visible in a passing run.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: slurm not available (SLURM_CONF is not set and slurmctld is not on PATH; \
                 see scripts/slurm-local.sh): {test}"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cluster directory: {e}"));
        let started = Command::new(local_cluster_script())
            .arg("start")
            .arg(dir.path())
            .env("CTLD_PORT", free_port().to_string())
            .env("SLURMD_PORT", free_port().to_string())
            .env("DBD_PORT", free_port().to_string())
            .env("DB_PORT", free_port().to_string())
            .env("MAX_ARRAY_SIZE", "4")
            .output()
            .unwrap_or_else(|e| panic!("running slurm-local.sh: {e}"));
        assert!(
            started.status.success(),
            "slurmctld is installed but a private cluster would not start:\n{}",
            String::from_utf8_lossy(&started.stderr)
        );
        let conf = dir.path().join("slurm.conf");
        Some(TestCluster { client: Cluster::with_conf(&conf), conf, private: Some(dir) })
    }

    /// `program` (a Slurm client, or sweep) set up to talk to this cluster.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SLURM_CONF", &self.conf);
        command
    }

    /// `sweep ARGS` in `dir`, against this cluster, not yet started.
    fn sweep_command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = self.command(env!("CARGO_BIN_EXE_sweep"));
        command.args(args).current_dir(dir);
        command
    }

    /// `sweep ARGS` run in `dir`, against this cluster.
    fn sweep(&self, dir: &Path, args: &[&str]) -> Output {
        self.sweep_command(dir, args).output().unwrap_or_else(|e| panic!("running sweep {args:?}: {e}"))
    }

    /// Waits until `job` has left the queue.
    fn wait(&self, job: JobId) {
        self.client
            .wait_until_finished(job, POLL_INTERVAL, JOB_TIMEOUT)
            .unwrap_or_else(|e| panic!("waiting for job {job}: {e}"));
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(dir) = &self.private {
            // Best effort: a failure here must not hide the test's own result.
            let _ = Command::new(local_cluster_script()).arg("stop").arg(dir.path()).output();
        }
    }
}

/// Asserts that `output` succeeded, showing its stderr if not.
fn succeeded(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The job id `sweep slurm --submit` prints on stdout.
fn job_id(stdout: &str) -> JobId {
    let id = stdout.trim().parse().unwrap_or_else(|e| panic!("job id in {stdout:?}: {e}"));
    JobId(id)
}

/// Writes a spec whose command squares the integer `x` in a shell; while a
/// file `slow` exists in the working directory, points of shard 1 (of 4)
/// take `sleep` seconds each.
fn write_spec(dir: &Path, points: usize, sleep: f64) -> PathBuf {
    let spec = format!(
        r#"(
    space: Range(name: "x", start: 0, end: {points}),
    command: ["sh", "-c", "if [ -e slow ] && [ $(({{x}} % 4)) -eq 1 ]; then sleep {sleep}; fi; echo $(({{x}} * {{x}}))"],
    output: "squares.jsonl",
)
"#
    );
    let path = dir.join("squares.ron");
    std::fs::write(&path, spec).unwrap_or_else(|e| panic!("writing the spec: {e}"));
    path
}

/// `(index, value)` of the latest record of every point in a results file.
fn values(path: &Path) -> Vec<(usize, Result<serde_json::Value, String>)> {
    let results = Results::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    results.latest().into_iter().map(|r: &Record| (r.index, r.outcome.clone())).collect()
}

/// Runs `sweep collect NAME.ron` in `dir` (`what` names it if it fails) and
/// checks that the merged `NAME.jsonl` holds point `x`'s value `value(x)`
/// for each of the `points` points, in index order.
fn assert_collected(
    cluster: &TestCluster,
    dir: &Path,
    name: &str,
    what: &str,
    points: usize,
    value: impl Fn(usize) -> usize,
) {
    succeeded(&cluster.sweep(dir, &["collect", &format!("{name}.ron")]), what);
    let expected: Vec<_> = (0..points).map(|x| (x, Ok(serde_json::json!(value(x))))).collect();
    assert_eq!(values(&dir.join(format!("{name}.jsonl"))), expected);
}

#[test]
fn sharded_sweep_on_slurm_matches_a_local_run() {
    let Some(cluster) = TestCluster::connect("sharded_sweep_on_slurm_matches_a_local_run") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_spec(work.path(), 200, 0.0);

    let submitted = cluster.sweep(
        work.path(),
        &["slurm", "squares.ron", "--tasks", "4", "--throttle", "4", "--cpus-per-task", "1", "--submit"],
    );
    let job = job_id(&succeeded(&submitted, "sweep slurm --submit"));
    cluster.wait(job);

    let script = std::fs::read_to_string(work.path().join("squares.1.sbatch")).unwrap_or_default();
    assert!(script.contains("\n#SBATCH --array=0-3%4\n"), "{script}");
    for shard in 0..4 {
        let shard_file = work.path().join(format!("squares.shard-{shard}-of-4.jsonl"));
        let records = values(&shard_file);
        assert_eq!(records.len(), 50, "shard {shard}");
        assert!(records.iter().all(|(index, _)| index % 4 == shard), "shard {shard} holds foreign points");
        let log = work.path().join(format!("slurm-logs/sweep-squares-{job}_{shard}.out"));
        assert!(log.is_file(), "no log {}", log.display());
    }

    succeeded(&cluster.sweep(work.path(), &["collect", "squares.ron"]), "sweep collect");
    // The same spec on a laptop (one worker) and on one big node (many
    // workers) gives the same results file: same header, same values.
    succeeded(
        &cluster
            .sweep(work.path(), &["run", "squares.ron", "--output", "local.jsonl", "--workers", "1", "--no-progress"]),
        "laptop sweep run",
    );
    succeeded(
        &cluster
            .sweep(work.path(), &["run", "squares.ron", "--output", "node.jsonl", "--workers", "8", "--no-progress"]),
        "big-node sweep run",
    );
    let merged = values(&work.path().join("squares.jsonl"));
    let local = values(&work.path().join("local.jsonl"));
    assert_eq!(merged.len(), 200);
    assert_eq!(merged, local);
    assert_eq!(values(&work.path().join("node.jsonl")), local);
    let header = |name: &str| {
        Results::load(&work.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}")).header.fingerprint
    };
    assert_eq!(header("squares.jsonl"), header("local.jsonl"));
    assert_eq!(header("node.jsonl"), header("local.jsonl"));
    assert!(merged.iter().all(|(x, value)| *value == Ok(serde_json::json!(x * x))));
}

#[test]
fn cancelled_shard_is_reported_then_resubmitted() {
    let Some(cluster) = TestCluster::connect("cancelled_shard_is_reported_then_resubmitted") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_spec(work.path(), 40, 0.5);
    let slow = work.path().join("slow");
    std::fs::write(&slow, "").unwrap_or_else(|e| panic!("{e}"));

    let submitted = cluster.sweep(work.path(), &["slurm", "squares.ron", "--tasks", "4", "--submit"]);
    let job = job_id(&succeeded(&submitted, "sweep slurm --submit"));

    // Cancel shard 1 once it is running and has written a couple of points.
    let shard_file = work.path().join("squares.shard-1-of-4.jsonl");
    let started = Instant::now();
    loop {
        let running = cluster.client.queued_tasks(job).unwrap_or_else(|e| panic!("{e}"));
        let is_running = running.iter().any(|task| task.id == job.task(1) && task.state == "RUNNING");
        let lines = std::fs::read_to_string(&shard_file).map(|text| text.lines().count()).unwrap_or(0);
        if is_running && lines >= 3 {
            break;
        }
        assert!(started.elapsed() < JOB_TIMEOUT, "shard 1 never got going: {running:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster.client.cancel(&job.task(1)).unwrap_or_else(|e| panic!("{e}"));
    cluster.wait(job);
    std::fs::remove_file(&slow).unwrap_or_else(|e| panic!("{e}"));

    let done_in_shard_1 = values(&shard_file).len();
    assert!(done_in_shard_1 < 10, "shard 1 finished all its points before it was cancelled");
    let incomplete = cluster.sweep(work.path(), &["collect", "squares.ron"]);
    assert!(!incomplete.status.success(), "collect must fail while points are missing");
    let report = String::from_utf8_lossy(&incomplete.stdout);
    let missing: Vec<&str> = report.lines().filter(|line| line.contains("missing")).collect();
    assert_eq!(missing.len(), 10 - done_in_shard_1, "{report}");
    assert!(missing.iter().all(|line| line.starts_with("shard 1/4 ")), "{report}");
    let stderr = String::from_utf8_lossy(&incomplete.stderr);
    assert!(stderr.contains("--resubmit"), "{stderr}");

    let resubmitted = cluster.sweep(work.path(), &["slurm", "squares.ron", "--tasks", "4", "--resubmit"]);
    let again = job_id(&succeeded(&resubmitted, "sweep slurm --resubmit"));
    let script = std::fs::read_to_string(work.path().join("squares.2.sbatch")).unwrap_or_default();
    assert!(script.contains("\n#SBATCH --array=1\n"), "{script}");
    cluster.wait(again);

    assert_collected(&cluster, work.path(), "squares", "sweep collect after resubmitting", 40, |x| x * x);
}

/// Writes `name.ron`, a spec of `points` integer points `x` whose command is
/// `sh -c SCRIPT` (`{x}` substituted), with results in `name.jsonl`.
fn write_shell_spec(dir: &Path, name: &str, points: usize, script: &str) -> PathBuf {
    let spec = format!(
        "(\n    space: Range(name: \"x\", start: 0, end: {points}),\n    command: [\"sh\", \"-c\", {script:?}],\n    \
         output: \"{name}.jsonl\",\n)\n"
    );
    let path = dir.join(format!("{name}.ron"));
    std::fs::write(&path, spec).unwrap_or_else(|e| panic!("writing the spec: {e}"));
    path
}

/// Indices with a value in a results file (none if it does not exist).
fn done_indices(path: &Path) -> Vec<usize> {
    if !path.exists() {
        return Vec::new();
    }
    values(path).into_iter().filter(|(_, value)| value.is_ok()).map(|(index, _)| index).collect()
}

/// Job ids `sweep slurm --submit` printed, one a line.
fn job_ids(stdout: &str) -> Vec<JobId> {
    stdout.lines().map(job_id).collect()
}

/// Waits until a file under `dir` has at least `lines` lines.
fn wait_for_lines(path: &Path, lines: usize) {
    let started = Instant::now();
    while std::fs::read_to_string(path).map(|text| text.lines().count()).unwrap_or(0) < lines {
        assert!(started.elapsed() < JOB_TIMEOUT, "{} never reached {lines} lines", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a process with this pid exists (and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false)
}

/// The pids the black boxes wrote into `dir/pids/<x>`.
fn recorded_pids(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dir.join("pids")) else { return Vec::new() };
    entries.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok()?.trim().parse().ok()).collect()
}

/// `sacct` fields of one job's allocation lines.
fn sacct(cluster: &TestCluster, job: JobId, fields: &str) -> String {
    let output = cluster
        .command("sacct")
        .args(["--noheader", "--parsable2", "--allocations", "--jobs", &job.to_string(), "--format", fields])
        .output()
        .unwrap_or_else(|e| panic!("sacct: {e}"));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether this cluster keeps accounting (slurmdbd): `sacct` answers.
fn has_accounting(cluster: &TestCluster) -> bool {
    cluster.command("sacct").args(["--noheader", "--jobs", "1"]).output().is_ok_and(|output| output.status.success())
}

#[test]
fn resubmit_while_running_is_refused_and_options_survive_it() {
    let Some(cluster) = TestCluster::connect("resubmit_while_running_is_refused_and_options_survive_it") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_spec(work.path(), 12, 1.0);
    std::fs::write(work.path().join("slow"), "").unwrap_or_else(|e| panic!("{e}"));
    // Options that reach the script exactly as given (the rest are translated).
    let verbatim = [
        "--time=5",
        "--account=tests",
        "--qos=normal",
        "--mem=1M",
        "--constraint=local",
        "--mail-type=FAIL",
        "--mail-user=root",
    ];
    let mut args = vec!["slurm", "squares.ron", "--tasks", "4", "--submit"];
    args.extend(verbatim);
    args.extend(["--sbatch=--nice=10", "--sbatch=--comment=parsweep-test", "--grace=45", "--throttle=4"]);
    let job = job_id(&succeeded(&cluster.sweep(work.path(), &args), "sweep slurm --submit"));
    wait_for_lines(&work.path().join("squares.shard-1-of-4.jsonl"), 2);

    // While the job runs, neither a resubmit nor a fresh submit goes in.
    for again in [vec!["slurm", "squares.ron", "--resubmit"], vec!["slurm", "squares.ron", "--tasks", "4", "--submit"]]
    {
        let refused = cluster.sweep(work.path(), &again);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{again:?} accepted while job {job} runs:\n{stderr}");
        assert!(stderr.contains("still in the queue") && stderr.contains(&job.task(1)), "{stderr}");
        assert!(stderr.contains("--force"), "{stderr}");
    }
    cluster.client.cancel(&job.to_string()).unwrap_or_else(|e| panic!("{e}"));
    cluster.wait(job);
    std::fs::remove_file(work.path().join("slow")).unwrap_or_else(|e| panic!("{e}"));

    // Resubmitted with no options given: the recorded ones are reused.
    let again = job_id(&succeeded(&cluster.sweep(work.path(), &["slurm", "squares.ron", "--resubmit"]), "resubmit"));
    cluster.wait(again);
    let first = std::fs::read_to_string(work.path().join("squares.1.sbatch")).unwrap_or_default();
    let second = std::fs::read_to_string(work.path().join("squares.2.sbatch")).unwrap_or_default();
    for directive in
        verbatim.into_iter().chain(["--signal=B:USR1@45", "--nice=10", "--comment=parsweep-test", "--open-mode=append"])
    {
        let line = format!("\n#SBATCH {directive}\n");
        assert!(first.contains(&line), "first script lacks {directive}:\n{first}");
        assert!(second.contains(&line), "resubmitted script lacks {directive}:\n{second}");
    }
    assert!(first.contains("\n#SBATCH --array=0-3%4\n"), "{first}");
    assert!(second.contains("%4\n") && second.contains("--retry-failed"), "{second}");

    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.path().join("squares.slurm.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("state file: {e}"));
    let submissions = state["submissions"].as_array().cloned().unwrap_or_default();
    assert_eq!(submissions.len(), 2, "{state}");
    assert_eq!(submissions[0]["options"], submissions[1]["options"], "{state}");
    assert_eq!(submissions[1]["shard_count"], 4);
    assert_eq!(submissions[1]["resubmit"], true);
    assert_eq!(submissions[1]["jobs"][0]["job"], again.0);

    // Slurm itself ran the resubmission with the recorded options.
    if has_accounting(&cluster) {
        // slurmdbd learns of the job's details a moment after it ran.
        let started = Instant::now();
        let mut accounted = sacct(&cluster, again, "Account,QOS,Timelimit");
        while !accounted.lines().any(|line| line == "tests|normal|00:05:00") && started.elapsed() < JOB_TIMEOUT {
            std::thread::sleep(Duration::from_millis(500));
            accounted = sacct(&cluster, again, "Account,QOS,Timelimit");
        }
        assert!(accounted.lines().all(|line| line.starts_with("tests|")), "{accounted}");
        assert!(accounted.lines().any(|line| line == "tests|normal|00:05:00"), "{accounted}");
    }
    assert_collected(&cluster, work.path(), "squares", "collect", 12, |x| x * x);
}

#[test]
fn shard_count_change_recomputes_nothing_done() {
    let Some(cluster) = TestCluster::connect("shard_count_change_recomputes_nothing_done") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Odd points are slow while `slow` exists; every evaluation that
    // completes is logged in `evals`.
    write_shell_spec(
        work.path(),
        "count",
        40,
        "if [ -e slow ] && [ $(({x} % 2)) -eq 1 ]; then sleep 0.4; fi; echo {x} >> evals; echo $(({x} * 3))",
    );
    std::fs::write(work.path().join("slow"), "").unwrap_or_else(|e| panic!("{e}"));
    let job = job_id(&succeeded(
        &cluster.sweep(work.path(), &["slurm", "count.ron", "--tasks", "4", "--submit"]),
        "sweep slurm --tasks 4",
    ));
    // Shards 0 and 2 (even points) finish at once; 1 and 3 get a few done.
    for shard in [1, 3] {
        wait_for_lines(&work.path().join(format!("count.shard-{shard}-of-4.jsonl")), 4);
    }
    for shard in [0, 2] {
        wait_for_lines(&work.path().join(format!("count.shard-{shard}-of-4.jsonl")), 11);
    }
    cluster.client.cancel(&job.to_string()).unwrap_or_else(|e| panic!("{e}"));
    cluster.wait(job);
    std::fs::remove_file(work.path().join("slow")).unwrap_or_else(|e| panic!("{e}"));
    let mut done: Vec<usize> =
        (0..4).flat_map(|k| done_indices(&work.path().join(format!("count.shard-{k}-of-4.jsonl")))).collect();
    done.sort_unstable();
    let done_before = done.len();
    assert!((23..40).contains(&done_before), "{done_before} points done before the change");
    // A black box the cancel killed after it logged its evaluation but
    // before its value was recorded is not done, and is rightly computed
    // again: so the second job's evaluations are logged apart.
    std::fs::rename(work.path().join("evals"), work.path().join("evals.first")).unwrap_or_else(|e| panic!("{e}"));

    let submitted = cluster.sweep(work.path(), &["slurm", "count.ron", "--tasks", "3", "--submit"]);
    let again = job_id(&succeeded(&submitted, "sweep slurm --tasks 3"));
    let stderr = String::from_utf8_lossy(&submitted.stderr);
    assert!(stderr.contains(&format!("{done_before} points already computed are reused")), "{stderr}");
    cluster.wait(again);
    assert_collected(&cluster, work.path(), "count", "collect", 40, |x| x * 3);

    // The second shard count evaluated exactly the points not done before,
    // each once.
    let evals = std::fs::read_to_string(work.path().join("evals")).unwrap_or_default();
    let mut evaluated: Vec<usize> = evals.lines().filter_map(|line| line.trim().parse().ok()).collect();
    evaluated.sort_unstable();
    let missing: Vec<usize> = (0..40).filter(|x| done.binary_search(x).is_err()).collect();
    assert_eq!(evaluated, missing, "the second job evaluated a point done before, or one twice");
}

#[test]
fn time_limit_stops_cleanly_loses_nothing_and_leaves_no_orphan() {
    let Some(cluster) = TestCluster::connect("time_limit_stops_cleanly_loses_nothing_and_leaves_no_orphan") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(work.path().join("pids")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(work.path().join("done")).unwrap_or_else(|e| panic!("{e}"));
    // 40 points of 3 s on one worker cannot finish in the 1-minute limit.
    write_shell_spec(work.path(), "long", 40, "echo $$ > pids/{x}; sleep 3; touch done/{x}; echo {x}");
    let submitted = cluster.sweep(
        work.path(),
        &["slurm", "long.ron", "--tasks", "1", "--time", "1", "--grace", "20", "--progress-every", "2", "--submit"],
    );
    let job = job_id(&succeeded(&submitted, "sweep slurm --time 1"));
    cluster.wait(job);

    // Every point whose black box finished is in the results.
    let results = work.path().join("long.shard-0-of-1.jsonl");
    let done = done_indices(&results);
    let finished: Vec<usize> = std::fs::read_dir(work.path().join("done"))
        .map(|entries| entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    assert!(done.len() >= 2 && done.len() < 40, "{} points done", done.len());
    for point in &finished {
        assert!(done.contains(point), "point {point} finished but is not in the results");
    }
    // No black box outlived the job.
    for pid in recorded_pids(work.path()) {
        assert!(!alive(pid), "black box {pid} still runs after job {job} ended");
    }
    // The log shows progress and a clean stop, and was appended to.
    let log = std::fs::read_to_string(work.path().join(format!("slurm-logs/sweep-long-{job}_0.out")))
        .unwrap_or_else(|e| panic!("log: {e}"));
    assert!(log.contains("points/s"), "no progress line in the log:\n{log}");
    assert!(log.contains("stopped by SIGUSR1"), "no clean stop in the log:\n{log}");

    // collect says what Slurm says: the task ended before its points did.
    if has_accounting(&cluster) {
        let collected = cluster.sweep(work.path(), &["collect", "long.ron"]);
        let stderr = String::from_utf8_lossy(&collected.stderr);
        assert!(!collected.status.success());
        assert!(stderr.contains(&format!("shard 0/1: task {}", job.task(0))), "{stderr}");
    }
}

#[test]
fn killed_sweep_run_takes_its_black_boxes_along() {
    let Some(cluster) = TestCluster::connect("killed_sweep_run_takes_its_black_boxes_along") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(work.path().join("pids")).unwrap_or_else(|e| panic!("{e}"));
    write_shell_spec(work.path(), "stuck", 4, "echo $$ > pids/{x}; sleep 300; echo {x}");
    let job = job_id(&succeeded(
        &cluster.sweep(work.path(), &["slurm", "stuck.ron", "--tasks", "1", "--cpus-per-task", "1", "--submit"]),
        "sweep slurm",
    ));
    let started = Instant::now();
    while recorded_pids(work.path()).is_empty() {
        assert!(started.elapsed() < JOB_TIMEOUT, "the black box never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGKILL to the batch shell only, which is `sweep run` (exec).
    let killed = cluster
        .command("scancel")
        .args(["--batch", "--signal=KILL", &job.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("scancel: {e}"));
    assert!(killed.status.success(), "{}", String::from_utf8_lossy(&killed.stderr));
    cluster.wait(job);
    let pids = recorded_pids(work.path());
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&pid| alive(pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in pids {
        assert!(!alive(pid), "black box {pid} outlived its SIGKILLed sweep run (job {job})");
    }
}

#[test]
fn collect_reports_what_slurm_accounting_says() {
    let Some(cluster) = TestCluster::connect("collect_reports_what_slurm_accounting_says") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Shard 1's points sleep 5 s each: the cancel must reach the task while
    // it still has points to run, also on a loaded machine (with 0.5 s, and
    // once with 2 s under four parallel builds, a slow delivery let the
    // shard finish). A cancelled point costs nothing of its sleep.
    write_spec(work.path(), 12, 5.0);
    std::fs::write(work.path().join("slow"), "").unwrap_or_else(|e| panic!("{e}"));
    let job = job_id(&succeeded(
        &cluster.sweep(work.path(), &["slurm", "squares.ron", "--tasks", "4", "--submit"]),
        "sweep slurm",
    ));
    wait_for_lines(&work.path().join("squares.shard-1-of-4.jsonl"), 2);
    cluster.client.cancel(&job.task(1)).unwrap_or_else(|e| panic!("{e}"));
    cluster.wait(job);

    if has_accounting(&cluster) {
        // The accounting record reaches slurmdbd shortly after the job ends.
        let started = Instant::now();
        loop {
            let collected = cluster.sweep(work.path(), &["collect", "squares.ron"]);
            assert!(!collected.status.success());
            let stderr = String::from_utf8_lossy(&collected.stderr).into_owned();
            if stderr.contains(&format!("shard 1/4: task {} CANCELLED", job.task(1))) {
                assert!(stderr.contains("exit code 0:"), "{stderr}");
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "collect did not report the cancel:\n{stderr}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    // Where sacct cannot answer, collect says so plainly.
    let fake_bin = work.path().join("fake-bin");
    std::fs::create_dir_all(&fake_bin).unwrap_or_else(|e| panic!("{e}"));
    let fake_sacct = fake_bin.join("sacct");
    std::fs::write(&fake_sacct, "#!/bin/sh\necho 'sacct: error: Slurm accounting storage is disabled' >&2\nexit 1\n")
        .unwrap_or_else(|e| panic!("{e}"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake_sacct, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    let path = format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap_or_default());
    let collected = cluster
        .sweep_command(work.path(), &["collect", "squares.ron"])
        .env("PATH", path)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&collected.stderr);
    assert!(stderr.contains("Slurm accounting is not available here"), "{stderr}");
    assert!(stderr.contains("accounting storage is disabled"), "{stderr}");
}

#[test]
fn arrays_beyond_max_array_size_are_split_and_extra_tasks_reduced() {
    let Some(cluster) = TestCluster::connect("arrays_beyond_max_array_size_are_split_and_extra_tasks_reduced") else {
        return;
    };
    let config =
        cluster.command("scontrol").args(["show", "config"]).output().unwrap_or_else(|e| panic!("scontrol: {e}"));
    let config = String::from_utf8_lossy(&config.stdout);
    let max: usize =
        sweep::slurm::parse_config_value(&config, "MaxArraySize").and_then(|v| v.parse().ok()).unwrap_or(0);
    if max == 0 || max > 8 {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: this cluster's MaxArraySize is {max}; splitting is tested with MAX_ARRAY_SIZE=4 \
             (scripts/slurm-local.sh, as CI starts it)"
        );
        return;
    }
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let points = 2 * max + 2;
    write_spec(work.path(), points, 0.0);
    let tasks = (10 * points).to_string();
    let submitted = cluster.sweep(work.path(), &["slurm", "squares.ron", "--tasks", &tasks, "--submit"]);
    let ids = job_ids(&succeeded(&submitted, "sweep slurm"));
    let stderr = String::from_utf8_lossy(&submitted.stderr);
    assert!(stderr.contains(&format!("--tasks {tasks} reduced to {points}")), "{stderr}");
    assert!(stderr.contains("exceed the cluster's MaxArraySize"), "{stderr}");
    assert_eq!(ids.len(), 3, "{stderr}");
    for id in &ids {
        cluster.wait(*id);
    }
    let third = std::fs::read_to_string(work.path().join("squares.1.part3.sbatch")).unwrap_or_default();
    assert!(third.contains(&format!("$((SLURM_ARRAY_TASK_ID + {}))/{points}", 2 * max)), "{third}");
    assert_collected(&cluster, work.path(), "squares", "collect", points, |x| x * x);
}

#[test]
fn a_point_that_always_fails_is_given_up_not_resubmitted_forever() {
    let Some(cluster) = TestCluster::connect("a_point_that_always_fails_is_given_up_not_resubmitted_forever") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_shell_spec(work.path(), "flaky", 6, "echo {x} >> evals; if [ {x} -eq 3 ]; then exit 1; fi; echo {x}");
    let submit = ["slurm", "flaky.ron", "--tasks", "2", "--max-attempts", "2", "--submit"];
    let job = job_id(&succeeded(&cluster.sweep(work.path(), &submit), "sweep slurm"));
    cluster.wait(job);
    let again = job_id(&succeeded(&cluster.sweep(work.path(), &["slurm", "flaky.ron", "--resubmit"]), "resubmit"));
    cluster.wait(again);

    // Two attempts made: the point is given up, and nothing is resubmitted.
    let third = cluster.sweep(work.path(), &["slurm", "flaky.ron", "--resubmit"]);
    let stdout = succeeded(&third, "second resubmit");
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(stdout.trim().is_empty(), "a job was submitted: {stdout}");
    assert!(stderr.contains("1 points failed 2 times and are given up"), "{stderr}");
    assert!(stderr.contains("nothing to resubmit"), "{stderr}");
    let collected = cluster.sweep(work.path(), &["collect", "flaky.ron"]);
    assert!(!collected.status.success());
    let report = String::from_utf8_lossy(&collected.stdout);
    assert!(report.contains("#3 x=3") && report.contains("given up after 2 attempts"), "{report}");
    let stderr = String::from_utf8_lossy(&collected.stderr);
    assert!(stderr.contains("given up; raise --max-attempts"), "{stderr}");

    let evals = std::fs::read_to_string(work.path().join("evals")).unwrap_or_default();
    assert_eq!(evals.lines().filter(|line| line.trim() == "3").count(), 2, "{evals}");
    for x in [0, 1, 2, 4, 5] {
        assert_eq!(evals.lines().filter(|line| line.trim() == x.to_string()).count(), 1, "{evals}");
    }
}

#[test]
fn two_submissions_at_once_submit_one_job() {
    let Some(cluster) = TestCluster::connect("two_submissions_at_once_submit_one_job") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_spec(work.path(), 8, 2.0);
    std::fs::write(work.path().join("slow"), "").unwrap_or_else(|e| panic!("{e}"));
    let spawn = || {
        cluster
            .sweep_command(work.path(), &["slurm", "squares.ron", "--tasks", "4", "--submit"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [first, second].map(|child| child.wait_with_output().unwrap_or_else(|e| panic!("{e}")));
    let submitted: Vec<&Output> = outputs.iter().filter(|output| output.status.success()).collect();
    assert_eq!(submitted.len(), 1, "both submitted or neither did");
    let job = job_id(&String::from_utf8_lossy(&submitted[0].stdout));
    let refused = outputs.iter().find(|output| !output.status.success()).map(|o| o.stderr.clone()).unwrap_or_default();
    let refused = String::from_utf8_lossy(&refused);
    assert!(
        refused.contains("is submitting this sweep right now") || refused.contains("still in the queue"),
        "{refused}"
    );
    cluster.client.cancel(&job.to_string()).unwrap_or_else(|e| panic!("{e}"));
    cluster.wait(job);
}

#[test]
fn a_requeued_task_appends_to_its_log_and_resumes() {
    let Some(cluster) = TestCluster::connect("a_requeued_task_appends_to_its_log_and_resumes") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_shell_spec(work.path(), "requeued", 12, "sleep 0.4; echo {x}");
    let job = job_id(&succeeded(
        &cluster.sweep(work.path(), &["slurm", "requeued.ron", "--tasks", "1", "--submit"]),
        "sweep slurm",
    ));
    wait_for_lines(&work.path().join("requeued.shard-0-of-1.jsonl"), 4);
    let task = job.task(0);
    let requeued =
        cluster.command("scontrol").args(["requeue", &task]).output().unwrap_or_else(|e| panic!("scontrol: {e}"));
    assert!(requeued.status.success(), "scontrol requeue: {}", String::from_utf8_lossy(&requeued.stderr));
    // Slurm holds a requeued job back for about two minutes (its slurmd
    // refuses to relaunch a job id it has just killed), so this test takes
    // that long; it runs alongside the others.
    let log_path = work.path().join(format!("slurm-logs/sweep-requeued-{job}_0.out"));
    let starts = || std::fs::read_to_string(&log_path).unwrap_or_default().matches("sweep: x[12] = 12 points").count();
    let started = Instant::now();
    while starts() < 2 {
        assert!(started.elapsed() < REQUEUE_TIMEOUT, "the requeued task never started again");
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_for_lines(&work.path().join("requeued.shard-0-of-1.jsonl"), 13);
    cluster.wait(job);

    let log = std::fs::read_to_string(work.path().join(format!("slurm-logs/sweep-requeued-{job}_0.out")))
        .unwrap_or_else(|e| panic!("log: {e}"));
    assert_eq!(log.matches("sweep: x[12] = 12 points").count(), 2, "the first run's log was not kept:\n{log}");
    assert!(log.contains("stopped by SIGTERM"), "{log}");
    assert!(log.contains("already done"), "{log}");
    assert_collected(&cluster, work.path(), "requeued", "collect", 12, |x| x);
}

/// A sweep in a directory whose path has a space, its spec named with one:
/// the script `cd`s there (no `#SBATCH --chdir`, which cannot hold the
/// space), the job is named `sweep-s_p_c`, and the logs go to the
/// `slurm-logs/` beside the spec through a relative `--output`.
#[test]
fn a_sweep_in_a_directory_with_a_space_runs_on_slurm() {
    let Some(cluster) = TestCluster::connect("a_sweep_in_a_directory_with_a_space_runs_on_slurm") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = work.path().join("we ird");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let spec = r#"(space: Range(name: "x", start: 0, end: 8), command: ["sh", "-c", "echo $(({x} * 3))"])"#;
    std::fs::write(dir.join("s p€c.ron"), spec).unwrap_or_else(|e| panic!("{e}"));
    let submitted = cluster.sweep(&dir, &["slurm", "s p€c.ron", "--tasks", "2", "--cpus-per-task", "1", "--submit"]);
    let job = job_id(&succeeded(&submitted, "sweep slurm --submit"));
    cluster.wait(job);
    for task in 0..2 {
        let log = dir.join(format!("slurm-logs/sweep-s_p_c-{job}_{task}.out"));
        assert!(log.is_file(), "no log {}", log.display());
    }
    assert_collected(&cluster, &dir, "s p€c", "collect", 8, |x| x * 3);
}

/// `collect` while the job is still pending (held): each task is said to
/// be still pending, from sacct or squeue, with advice to collect again
/// once it has ended (it said "unknown to Slurm's accounting" and advised
/// a resubmit, which is refused while the job is queued).
#[test]
fn collect_while_the_job_is_pending_says_so() {
    let Some(cluster) = TestCluster::connect("collect_while_the_job_is_pending_says_so") else {
        return;
    };
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_spec(work.path(), 8, 0.0);
    // One point done by hand, so that there is a shard file to collect.
    let by_hand = ["run", "squares.ron", "--shard", "0/2", "--limit", "1", "--no-progress"];
    succeeded(&cluster.sweep(work.path(), &by_hand), "sweep run --shard 0/2 --limit 1");
    let submitted =
        cluster.sweep(work.path(), &["slurm", "squares.ron", "--tasks", "2", "--sbatch=--hold", "--submit"]);
    let job = job_id(&succeeded(&submitted, "sweep slurm --submit"));
    let collected = cluster.sweep(work.path(), &["collect", "squares.ron"]);
    cluster.client.cancel(&job.to_string()).unwrap_or_else(|e| panic!("{e}"));
    cluster.wait(job);
    let stderr = String::from_utf8_lossy(&collected.stderr);
    assert_eq!(collected.status.code(), Some(3), "{stderr}");
    for task in 0..2 {
        assert!(stderr.contains(&format!("task {} is still PENDING", job.task(task))), "{stderr}");
    }
    assert!(
        stderr.contains("run `sweep collect` again once they have ended") && !stderr.contains("--resubmit"),
        "{stderr}"
    );
}
