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

    /// `sweep ARGS` run in `dir`, against this cluster.
    fn sweep(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sweep"))
            .env("SLURM_CONF", &self.conf)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("running sweep {args:?}: {e}"))
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
    succeeded(
        &cluster.sweep(work.path(), &["run", "squares.ron", "--output", "local.jsonl", "--no-progress"]),
        "local sweep run",
    );
    let merged = values(&work.path().join("squares.jsonl"));
    let local = values(&work.path().join("local.jsonl"));
    assert_eq!(merged.len(), 200);
    assert_eq!(merged, local);
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

    succeeded(&cluster.sweep(work.path(), &["collect", "squares.ron"]), "sweep collect after resubmitting");
    let merged = values(&work.path().join("squares.jsonl"));
    let expected: Vec<_> = (0..40).map(|x| (x, Ok(serde_json::json!(x * x)))).collect();
    assert_eq!(merged, expected);
}
