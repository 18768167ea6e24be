//! The run pipeline as a user meets it: what it refuses to overwrite, what
//! it reads back, and what it leaves behind.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{harness, harness_command, stderr, with_config};

const SMALL: &str = r#"(experiments: [(name: "small", workload: Square, inputs: Count(8), workers: [1, 2],
    repetitions: 3, warmup: 0, backends: [Sequential, Pool])])"#;

/// What a run of [`SMALL`] killed after its first samples leaves in `dir/out`.
fn killed(dir: &Path) -> String {
    let report = dir.join("out/small");
    std::fs::create_dir_all(&report).unwrap();
    let samples = "experiment,backend,workers,chunk,repetition,seconds\n\
                   small,sequential,1,,0,0.001\nsmall,pool,1,auto,0,0.002\nsmall,pool,2,auto,0,0.0015\n";
    std::fs::write(report.join("samples.csv"), samples).unwrap();
    samples.to_owned()
}

#[test]
fn a_fresh_run_into_an_interrupted_out_keeps_its_samples_and_says_how_to_go_on() {
    let dir = with_config(SMALL);
    let samples = killed(dir.path());
    let report = dir.path().join("out/small");
    // Killed (no results.json), then interrupted (its status says so).
    for results in [None, Some(r#"{"status": "Interrupted"}"#)] {
        if let Some(results) = results {
            std::fs::write(report.join("results.json"), results).unwrap();
        }
        let output = harness(&["experiments.ron", "--out", "out"], dir.path());
        let message = stderr(&output);
        assert!(!output.status.success(), "{message}");
        assert!(message.contains("holds 3 samples of an interrupted run of \"small\""), "{message}");
        assert!(message.contains("--resume out") && message.contains("another --out"), "{message}");
        assert_eq!(std::fs::read_to_string(report.join("samples.csv")).unwrap(), samples, "samples deleted");
    }
}

/// Samples without a report in an `--out` that another run holds are that
/// run's, still measuring: the refusal names it, rather than calling them an
/// interrupted run to resume.
#[test]
fn a_fresh_run_into_an_out_being_measured_names_the_run_measuring() {
    let dir = with_config(SMALL);
    let samples = killed(dir.path());
    let measuring = bench_harness::run::OutputLock::acquire(&dir.path().join("out")).unwrap();
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    let message = stderr(&output);
    assert!(!output.status.success(), "{message}");
    assert!(message.contains(&format!("another bench-harness run (pid {} on ", std::process::id())), "{message}");
    assert!(!message.contains("interrupted"), "{message}");
    assert_eq!(std::fs::read_to_string(dir.path().join("out/small/samples.csv")).unwrap(), samples, "samples deleted");
    drop(measuring);
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert!(stderr(&output).contains("interrupted run"), "{}", stderr(&output));
}

/// A saved report of [`SMALL`], as a run leaves it (its data files only),
/// in `dir/name`.
fn saved(dir: &Path, name: &str) -> std::path::PathBuf {
    use bench_harness::measure::{cells, Sample};
    let experiment = bench_harness::config::Plan::parse(SMALL, Path::new("t.ron")).unwrap().experiments.remove(0);
    let samples: Vec<Sample> = cells(&experiment)
        .into_iter()
        .flat_map(|cell| {
            (0..3u32).map(move |repetition| Sample {
                experiment: "small".into(),
                cell,
                repetition,
                seconds: 1e-3 / cell.workers as f64 + 1e-6 * f64::from(repetition),
            })
        })
        .collect();
    let report = bench_harness::report::ExperimentReport {
        status: bench_harness::report::RunStatus::Complete,
        machine: bench_harness::machine::Machine::detect(),
        conditions: Default::default(),
        analysis: bench_harness::analysis::analyze(&experiment, &samples, 2),
        experiment,
        samples,
    };
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    bench_harness::report::csv::write_samples_csv(&dir.join("samples.csv"), &report.samples).unwrap();
    bench_harness::report::json::write_results_json(&dir.join("results.json"), &report).unwrap();
    dir
}

#[test]
fn report_and_compare_refuse_a_samples_csv_that_disagrees_with_results_json() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (saved(dir.path(), "a"), saved(dir.path(), "b"));
    assert!(bench_harness::redraw::load(&[a.clone(), b.clone()]).is_ok(), "the two agree as written");
    let csv = b.join("samples.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let edited = text.replacen(",0.0005\n", ",0.0004\n", 1);
    assert_ne!(edited, text);
    for (edit, what) in [
        (edited, "pool ×2 chunk auto repetition 0: 0.0004 s in samples.csv, 0.0005 s in results.json"),
        (text.lines().take(5).map(|l| format!("{l}\n")).collect(), "is only in"),
    ] {
        std::fs::write(&csv, edit).unwrap();
        for args in [vec!["report", "b"], vec!["compare", "a", "b", "--out", "cmp"]] {
            let output = harness(&args, dir.path());
            let message = stderr(&output);
            assert!(!output.status.success(), "{args:?}: {message}");
            assert!(message.contains("b/samples.csv does not agree with b/results.json"), "{args:?}: {message}");
            assert!(message.contains(what), "{args:?}: {message}");
        }
    }
    assert!(!dir.path().join("cmp").exists(), "nothing written");
}

/// Sends `signal` to the process `pid`.
#[cfg(unix)]
fn kill(signal: &str, pid: u32) {
    assert!(Command::new("kill").args([signal, &pid.to_string()]).status().unwrap().success());
}

#[cfg(unix)]
#[test]
fn a_second_ctrl_c_while_the_report_is_written_leaves_it_whole() {
    let config = r#"(experiments: [(name: "slow", workload: Sleep(duration_us: 5000), inputs: Count(4),
        workers: [1, 2], repetitions: 40, warmup: 0, backends: [Sequential, Pool])])"#;
    let dir = with_config(config);
    let child = harness_command(&["experiments.ron", "--out", "out"], dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let report = dir.path().join("out/slow");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let rows = || std::fs::read_to_string(report.join("samples.csv")).map_or(0, |t| t.lines().count());
    while rows() < 5 {
        assert!(std::time::Instant::now() < deadline, "no samples appeared");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    kill("-INT", child.id());
    // The report is being written once its first files appear; the second
    // Ctrl-C comes then, before the charts (drawn last) are done.
    while !report.join("results.json").exists() {
        assert!(std::time::Instant::now() < deadline, "no report appeared");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    kill("-INT", child.id());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let summary = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(summary.contains("> **Interrupted:**"), "{summary}");
    for chart in ["speedup", "efficiency"] {
        for extension in ["png", "svg", "pdf", "dat"] {
            let path = report.join(chart).with_extension(extension);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let whole = match extension {
                "png" => bytes.ends_with(&[0xAE, 0x42, 0x60, 0x82]),
                "svg" => String::from_utf8_lossy(&bytes).trim_end().ends_with("</svg>"),
                "pdf" => String::from_utf8_lossy(&bytes).trim_end().ends_with("%%EOF"),
                _ => bytes.ends_with(b"\n"),
            };
            assert!(whole, "{} is cut short", path.display());
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(&report)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_config_starting_with_a_byte_order_mark_is_read_and_errors_keep_their_position() {
    use bench_harness::config::{ConfigError, Plan};
    let dir = with_config(&format!("\u{feff}{SMALL}"));
    let output = harness(&["experiments.ron", "--list"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("small\t"));
    // An error on the first line is where an editor (which hides the mark) shows it.
    let bad = SMALL.replacen("name:", "nmae:", 1);
    let position = |text: &str| match Plan::parse(text, Path::new("bad.ron")) {
        Err(ConfigError::Syntax { line, column, .. }) => (line, column),
        other => panic!("{other:?}"),
    };
    assert_eq!(position(&format!("\u{feff}{bad}")), position(&bad));
    let later = SMALL.replacen("warmup: 0", "warmup: -1", 1);
    assert_eq!(position(&format!("\u{feff}{later}")), position(&later));
    assert_eq!(position(&later).0, 2);
}

#[test]
fn a_refused_run_creates_no_directory() {
    let refused = [
        // The command prints no number.
        r#"(experiments: [(name: "mute", workload: Command(program: "true", args: []), inputs: Count(2),
            workers: [1, 2], repetitions: 1, backends: [Sequential, Pool])])"#,
        // Its inputs cannot fit in memory.
        r#"(experiments: [(name: "huge", workload: Square, inputs: Count(1000000000000), workers: [1, 2],
            repetitions: 1, backends: [Sequential, Pool])])"#,
        // Estimated above 10 minutes, without --yes.
        r#"(experiments: [(name: "long", workload: Sleep(duration_us: 1000000), inputs: Count(100), workers: [1, 2],
            repetitions: 10, backends: [Sequential, Pool])])"#,
    ];
    for config in refused {
        let dir = with_config(config);
        let output = harness(&["experiments.ron", "--out", "reports/out"], dir.path());
        assert!(!output.status.success(), "{config}: {}", stderr(&output));
        assert!(!dir.path().join("reports").exists(), "{config}: {}", stderr(&output));
    }
}

#[cfg(unix)]
#[test]
fn report_on_a_run_being_measured_says_so_and_by_whom() {
    let config = r#"(experiments: [(name: "slow", workload: Sleep(duration_us: 5000), inputs: Count(4),
        workers: [1, 2], repetitions: 400, warmup: 0, backends: [Sequential, Pool])])"#;
    let dir = with_config(config);
    let mut child = harness_command(&["experiments.ron", "--out", "out"], dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let csv = dir.path().join("out/slow/samples.csv");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&csv).map_or(0, |t| t.lines().count()) < 2 {
        assert!(std::time::Instant::now() < deadline, "no samples appeared");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for target in ["out", "out/slow"] {
        let output = harness(&["report", target], dir.path());
        let message = stderr(&output);
        assert!(!output.status.success());
        let expected = format!("{target} is being measured by a bench-harness run (pid {} on ", child.id());
        assert!(message.contains(&expected), "{message}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let output = harness(&["report", "out/slow"], dir.path());
    let message = stderr(&output);
    assert!(message.contains("out/slow holds the samples of a run that was stopped"), "{message}");
}

#[test]
fn report_on_a_run_resumed_and_stopped_again_says_to_finish_it() {
    let dir = tempfile::tempdir().unwrap();
    let report = saved(dir.path(), "r");
    // Its results.json was written when it was first interrupted, after 5
    // samples; samples.csv went on.
    let path = report.join("results.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json["status"] = "Interrupted".into();
    json["samples"].as_array_mut().unwrap().truncate(5);
    std::fs::write(&path, json.to_string()).unwrap();
    let output = harness(&["report", "r"], dir.path());
    let message = stderr(&output);
    assert!(!output.status.success());
    assert!(message.contains("r/samples.csv holds 4 samples more than r/results.json"), "{message}");
    assert!(message.contains("--resume"), "{message}");
}

/// An experiment that takes about three seconds, long enough to stop a
/// rerun of it after its first samples, also on a loaded machine (a test
/// of the same shape with under a second to spare once saw its signal
/// arrive after the run had completed).
#[cfg(unix)]
const SLOW: &str = r#"(experiments: [(name: "slow", workload: Sleep(duration_us: 15000), inputs: Count(4),
    workers: [1, 2], repetitions: 20, warmup: 0, backends: [Sequential, Pool])])"#;

/// Runs [`SLOW`] complete into `dir/out`, reruns it (with the arguments
/// `rerun`), and stops the rerun with `stop` (a `kill` signal) once it has
/// logged samples of its own. Returns the first run's `results.json` and
/// the rerun's output.
#[cfg(unix)]
fn rerun_stopped(dir: &Path, stop: &str, rerun: &[&str]) -> (Vec<u8>, Output) {
    let output = harness(&["experiments.ron", "--out", "out"], dir);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = dir.join("out/slow");
    let results = std::fs::read(report.join("results.json")).unwrap();
    let old_samples = std::fs::read_to_string(report.join("samples.csv")).unwrap();
    let child = harness_command(rerun, dir).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // The first run's samples.csv stays until the rerun starts its own.
    let new_rows = || {
        std::fs::read_to_string(report.join("samples.csv")).map_or(0, |t| {
            if t == old_samples {
                0
            } else {
                t.lines().count()
            }
        })
    };
    while new_rows() < 5 {
        assert!(std::time::Instant::now() < deadline, "the rerun logged no samples");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    kill(stop, child.id());
    (results, child.wait_with_output().unwrap())
}

/// Whether `dir/out/slow` holds a complete report.
#[cfg(unix)]
fn complete(dir: &Path) -> bool {
    let text = std::fs::read_to_string(dir.join("out/slow/results.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["status"] == "Complete"
}

/// A rerun deleted the complete report it replaces as it started: stopped
/// before completing, it left only its own partial one. The old report is
/// kept aside until the rerun completes, where the messages say.
#[cfg(unix)]
#[test]
fn a_rerun_stopped_by_ctrl_c_keeps_the_complete_report_it_replaces_until_resumed() {
    let dir = with_config(SLOW);
    let (results, output) = rerun_stopped(dir.path(), "-INT", &["experiments.ron", "--out", "out"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(130), "{message}");
    assert!(message.contains("the previous complete report is kept in out/.previous/slow/"), "{message}");
    assert_eq!(std::fs::read(dir.path().join("out/.previous/slow/results.json")).unwrap(), results);
    assert!(!complete(dir.path()), "the rerun's own report is partial");

    // A fresh run would delete the rerun's samples; its refusal says where the old report is.
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    let message = stderr(&output);
    assert!(!output.status.success(), "{message}");
    assert!(message.contains("--resume out") && message.contains("kept in out/.previous/slow/"), "{message}");
    assert_eq!(std::fs::read(dir.path().join("out/.previous/slow/results.json")).unwrap(), results);

    // `report` and `compare` read the run's reports, not the one kept aside.
    let chart = dir.path().join("out/.previous/slow/speedup.svg");
    let drawn = std::fs::metadata(&chart).unwrap().modified().unwrap();
    let output = harness(&["report", "out", "--format", "svg"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::metadata(&chart).unwrap().modified().unwrap(), drawn, "the kept report was redrawn");

    let output = harness(&["experiments.ron", "--resume", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(complete(dir.path()));
    assert!(!dir.path().join("out/.previous").exists(), "the resumed run completed: the old report is replaced");
}

/// The referee's sequence: `sl.ron --out p1`, then `sl2.ron --out p1 --yes`
/// (the experiment redefined) stopped by Ctrl-C. `sl2.ron --out p1` then
/// said "pass --yes to replace it" (of the report kept aside), and --yes
/// was refused for the interrupted samples; `sl.ron --out p1` said "finish
/// it with `bench-harness sl.ron --resume p1`", refused as a run of a
/// differently defined experiment. Each refusal now names the way on that
/// works: `--resume` with the file that started the run.
#[cfg(unix)]
#[test]
fn a_stopped_rerun_of_another_definition_is_finished_as_the_refusals_say() {
    let dir = with_config(SLOW);
    std::fs::write(dir.path().join("sl2.ron"), SLOW.replace("repetitions: 20", "repetitions: 21")).unwrap();
    let (results, output) = rerun_stopped(dir.path(), "-INT", &["sl2.ron", "--out", "out", "--yes"]);
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    for args in
        [&["sl2.ron", "--out", "out"][..], &["sl2.ron", "--out", "out", "--yes"], &["experiments.ron", "--out", "out"]]
    {
        let output = harness(args, dir.path());
        let message = stderr(&output);
        assert!(!output.status.success(), "{args:?}: {message}");
        assert!(message.contains("of an interrupted run of \"slow\""), "{args:?}: {message}");
        assert!(message.contains("finish it with `bench-harness sl2.ron --resume out`"), "{args:?}: {message}");
        assert!(!message.contains("--yes"), "{args:?}: --yes is refused in turn: {message}");
        assert_eq!(std::fs::read(dir.path().join("out/.previous/slow/results.json")).unwrap(), results);
    }
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert!(
        stderr(&output).contains("started from sl2.ron (recorded in out/slow/started.json)"),
        "{}",
        stderr(&output)
    );
    // Following the advice finishes the run.
    let output = harness(&["sl2.ron", "--resume", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(complete(dir.path()));
    assert!(!dir.path().join("out/.previous").exists());
}

/// The same for a rerun killed outright: no message, but the old report
/// is where the refusal of the next fresh run says, until `--resume`.
#[cfg(unix)]
#[test]
fn a_rerun_killed_keeps_the_complete_report_it_replaces_until_resumed() {
    let dir = with_config(SLOW);
    let (results, output) = rerun_stopped(dir.path(), "-KILL", &["experiments.ron", "--out", "out"]);
    assert!(!output.status.success());
    assert_eq!(std::fs::read(dir.path().join("out/.previous/slow/results.json")).unwrap(), results);
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    let message = stderr(&output);
    assert!(!output.status.success(), "{message}");
    assert!(message.contains("kept in out/.previous/slow/"), "{message}");
    let output = harness(&["experiments.ron", "--resume", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(complete(dir.path()));
    assert!(!dir.path().join("out/.previous").exists());
}

/// A rerun that completes replaces the old report and keeps no copy; one
/// of a differently defined experiment, asked for with `--yes`, too.
#[test]
fn a_rerun_that_completes_leaves_no_copy_of_the_report_it_replaced() {
    let dir = with_config(SMALL);
    for config in ["experiments.ron", "experiments.ron", "other.ron"] {
        std::fs::write(dir.path().join("other.ron"), SMALL.replace("Square", "Spin(duration_us: 5)")).unwrap();
        let output = harness(&[config, "--out", "out", "--yes"], dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(!dir.path().join("out/.previous").exists(), "{config}");
        assert!(dir.path().join("out/small/results.json").is_file());
    }
    let summary = std::fs::read_to_string(dir.path().join("out/small/summary.md")).unwrap();
    assert!(summary.contains("busy-spin 5 µs"), "{summary}");
}

/// A report kept aside is deleted once the rerun completes: a run of a
/// differently defined experiment of that name is refused unless `--yes`
/// says to replace it, as if the report were still in its place.
#[test]
fn a_kept_report_of_another_experiment_is_replaced_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let kept = saved(&dir.path().join("out/.previous"), "small");
    let results = std::fs::read(kept.join("results.json")).unwrap();
    // A run into `out` moves and deletes it: `report` on it waits for that run's lock.
    let measuring = bench_harness::run::OutputLock::acquire(&dir.path().join("out")).unwrap();
    let output = harness(&["report", "out/.previous/small", "--format", "svg"], dir.path());
    let message = stderr(&output);
    assert!(!output.status.success(), "{message}");
    assert!(message.contains(") is writing to out;"), "{message}");
    drop(measuring);
    std::fs::write(dir.path().join("other.ron"), SMALL.replace("Square", "Spin(duration_us: 5)")).unwrap();
    let output = harness(&["other.ron", "--out", "out"], dir.path());
    let message = stderr(&output);
    assert!(!output.status.success(), "{message}");
    assert!(message.contains("out/.previous/small holds the complete report of a differently defined"), "{message}");
    assert_eq!(std::fs::read(kept.join("results.json")).unwrap(), results);
    let output = harness(&["other.ron", "--out", "out", "--yes"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!dir.path().join("out/.previous").exists());
}

/// A rerun killed while it moved the old report aside (file by file,
/// `results.json` last) left it complete on one side or the other: the
/// next rerun finds it there, keeps it until it completes, then removes it.
#[test]
fn a_rerun_killed_while_keeping_the_old_report_leaves_it_whole() {
    let dir = with_config(SMALL);
    // Killed before results.json moved: the report is still in place.
    let report = saved(&dir.path().join("out"), "small");
    let kept = dir.path().join("out/.previous/small");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::rename(report.join("samples.csv"), kept.join("samples.csv")).unwrap();
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!dir.path().join("out/.previous").exists());
    // Killed once results.json moved, before the rerun's first sample.
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::rename(report.join("results.json"), kept.join("results.json")).unwrap();
    std::fs::remove_file(report.join("samples.csv")).unwrap();
    // A fresh run has nothing to refuse: no sample would be lost.
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!dir.path().join("out/.previous").exists(), "completed: the kept report is replaced");
    assert!(report.join("results.json").is_file());
}

/// A rerun killed while it wrote its report: `results.json`, which marks a
/// report complete, is moved into place last, so the report left is not
/// complete, and `--resume` finishes it (all samples measured: nothing
/// more is) and removes the report kept aside, instead of calling it
/// complete with charts missing.
#[test]
fn a_report_killed_while_written_is_finished_by_resume() {
    let dir = with_config(SMALL);
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let report = dir.path().join("out/small");
    let samples = std::fs::read_to_string(report.join("samples.csv")).unwrap();
    // What a kill between the charts and results.json leaves after a rerun:
    // the samples, some files drawn, the replaced report kept aside.
    let kept = dir.path().join("out/.previous/small");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::copy(report.join("results.json"), kept.join("results.json")).unwrap();
    std::fs::remove_file(report.join("results.json")).unwrap();
    std::fs::remove_file(report.join("summary.md")).unwrap();
    let output = harness(&["experiments.ron", "--resume", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("complete in out, kept"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(report.join("samples.csv")).unwrap(), samples, "nothing measured again");
    assert!(report.join("summary.md").is_file() && report.join("results.json").is_file());
    assert!(!dir.path().join("out/.previous").exists(), "the report it replaced is gone");
}

/// The files of a report in the order it moves them into place.
#[test]
fn results_json_is_the_last_file_a_report_moves_into_place() {
    let dir = with_config(SMALL);
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let listed = stderr(&output);
    let files = listed.lines().find(|l| l.starts_with("wrote out/small/")).unwrap_or_else(|| panic!("{listed}"));
    assert!(files.trim_end().ends_with("results.json)"), "{files}");
}
