//! The `bench-harness` command as a user runs it: arguments, errors, exit codes.

mod common;

use std::path::Path;
use std::process::Command;

use common::{harness, harness_command, stderr, with_config};

const TWO_EXPERIMENTS: &str = r#"(
    experiments: [
        (
            name: "first",
            description: Some("The first one."),
            workload: Square,
            inputs: Count(8),
            workers: [1, 2],
            repetitions: 2,
            warmup: 0,
            backends: [Sequential, Pool],
        ),
        (
            name: "second",
            workload: Sleep(duration_us: 10),
            inputs: Count(4),
            workers: [2],
            repetitions: 1,
            warmup: 0,
            backends: [Sequential, StdScope],
        ),
    ],
)"#;

#[test]
fn help_explains_the_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let output = harness(&["--help"], dir.path());
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in ["--list", "--only", "--out", "--resume", "--yes", "configs/quick.ron", "summary.md", "samples.csv"]
    {
        assert!(help.contains(expected), "help lacks {expected:?}:\n{help}");
    }
}

#[test]
fn the_example_in_help_is_a_valid_experiment_file() {
    let dir = tempfile::tempdir().unwrap();
    let help = String::from_utf8(harness(&["--help"], dir.path()).stdout).unwrap();
    let start = help.find("(experiments: [(").expect("help shows an example file");
    let end = start + help[start..].find(")])").expect("the example is closed") + ")])".len();
    let plan = bench_harness::config::Plan::parse(&help[start..end], Path::new("help.ron"))
        .unwrap_or_else(|e| panic!("{e}\n{}", &help[start..end]));
    assert_eq!(plan.experiments[0].name.as_str(), "spin");
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = harness(&["nowhere.ron"], dir.path());
    assert_eq!(output.status.code(), Some(2), "bad input: {}", stderr(&output));
    let message = stderr(&output);
    assert!(message.starts_with("error: cannot read nowhere.ron"), "{message}");
}

#[test]
fn the_default_config_is_configs_quick_ron() {
    let dir = tempfile::tempdir().unwrap();
    let output = harness(&["--list"], dir.path());
    assert!(!output.status.success());
    assert!(stderr(&output).contains("configs/quick.ron"), "{}", stderr(&output));
}

/// `spin-2` and `spin_2` both wrote `\\bhSpinTwoSequentialTime` & co. with
/// `\\renewcommand`: a paper inputting both summaries silently quoted the
/// second's numbers under the first's names. The run measured both (rc 0).
#[test]
fn experiments_whose_latex_macros_would_collide_are_refused_before_anything_runs() {
    let text =
        TWO_EXPERIMENTS.replace("name: \"first\"", "name: \"spin-2\"").replace("name: \"second\"", "name: \"spin_2\"");
    let dir = with_config(&text);
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert_eq!(output.status.code(), Some(2), "bad input: {}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(
            "the LaTeX macro \\bhSpinTwoSequentialTime would be defined twice: experiments \"spin-2\" and \"spin_2\" \
             both define it"
        ),
        "{message}"
    );
    assert!(!dir.path().join("out").exists(), "refused before anything was created");
}

/// The check compared only the names' prefixes: `m` with backend
/// `rows-on-pool` and `m-rows-on` with `Pool` both define
/// `\\bhMRowsOnPoolBestSpeedup` (and every cell's macros). Checked before
/// the registry's check: the file is wrong whatever is registered.
#[test]
fn macros_that_collide_through_a_backend_name_are_refused_naming_both_and_the_macro() {
    let text = r#"(experiments: [
        (name: "m", workload: Square, inputs: Count(4), workers: [2], repetitions: 1,
         backends: [Sequential, Named("rows-on-pool")]),
        (name: "m-rows-on", workload: Square, inputs: Count(4), workers: [2], repetitions: 1,
         backends: [Sequential, Pool]),
    ])"#;
    let dir = with_config(text);
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert_eq!(output.status.code(), Some(2), "bad input: {}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(
            "the LaTeX macro \\bhMRowsOnPoolPTwoTime would be defined twice: experiments \"m\" and \"m-rows-on\" \
             both define it"
        ),
        "{message}"
    );
    assert!(!dir.path().join("out").exists(), "refused before anything was created");
}

/// A run of another experiment file into an `--out` that already holds a
/// complete report wrote its `summary.tex` beside that one's with status
/// 0, though `spin-2` and `spin_2` define the same macros: only `report`
/// checked them, when both were redrawn together.
#[test]
fn a_run_beside_another_files_report_whose_macros_collide_is_refused_before_measuring() {
    let one = |name: &str| {
        format!(
            "(experiments: [(name: \"{name}\", workload: Square, inputs: Count(4), workers: [2], repetitions: 1, \
             warmup: 0, backends: [Sequential, Pool])])"
        )
    };
    let dir = with_config(&one("spin-2"));
    std::fs::write(dir.path().join("other.ron"), one("spin_2")).unwrap();
    let first = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert!(first.status.success(), "{}", stderr(&first));
    let before = std::fs::read(dir.path().join("out/spin-2/summary.tex")).unwrap();

    let output = harness(&["other.ron", "--out", "out"], dir.path());
    assert_eq!(output.status.code(), Some(2), "bad input: {}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("\\bhSpinTwoSequentialTime would be defined twice: experiments \"spin_2\" and \"spin-2\""),
        "{message}"
    );
    assert!(message.contains("out holds the report of \"spin-2\" from another experiment file"), "{message}");
    assert!(!dir.path().join("out/spin_2").exists(), "nothing was measured");
    assert_eq!(std::fs::read(dir.path().join("out/spin-2/summary.tex")).unwrap(), before, "the other report is kept");

    // Into a directory of its own it runs.
    let apart = harness(&["other.ron", "--out", "apart"], dir.path());
    assert!(apart.status.success(), "{}", stderr(&apart));
}

/// `report` of two saved runs whose macros collide wrote both summaries
/// into one --out with status 0: `\\bhMandelbrotStrongRowsOnPoolBestSpeedup`
/// defined as 9.93 in one and as 1.942 in the other.
#[test]
fn report_refuses_saved_runs_whose_latex_macros_collide() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/example");
    let dir = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &str| {
        let target = dir.path().join("ex").join(to);
        std::fs::create_dir_all(&target).unwrap();
        for file in ["results.json", "samples.csv"] {
            let text = std::fs::read_to_string(examples.join(from).join(file)).unwrap();
            let text = if from == to {
                text
            } else {
                text.replace(&format!("\"{from}\""), &format!("\"{to}\""))
                    .replace(&format!("\n{from},"), &format!("\n{to},"))
            };
            std::fs::write(target.join(file), text).unwrap();
        }
    };
    copy("mandelbrot-strong", "mandelbrot-strong");
    copy("seed", "mandelbrot-strong-rows-on");
    let output = harness(&["report", "ex", "--out", "exo"], dir.path());
    assert_eq!(output.status.code(), Some(2), "bad input: {}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(
            "would be defined twice: experiments \"mandelbrot-strong\" and \"mandelbrot-strong-rows-on\" both \
             define it"
        ),
        "{message}"
    );
    assert!(message.contains("\\bhMandelbrotStrongRowsOnPool"), "{message}");
    assert!(!dir.path().join("exo").exists(), "nothing was written");
}

#[test]
fn bad_ron_is_reported_with_line_and_column() {
    let dir = with_config(&TWO_EXPERIMENTS.replace("inputs: Count(4),", "inputs: Count(4), speed: 3,"));
    let output = harness(&["experiments.ron", "--list"], dir.path());
    assert_eq!(output.status.code(), Some(2), "bad input: {}", stderr(&output));
    let message = stderr(&output);
    assert!(message.starts_with("error: experiments.ron:16:36: "), "{message}");
    assert!(message.contains("speed"), "{message}");
}

#[test]
fn list_shows_every_experiment_and_only_filters() {
    let dir = with_config(TWO_EXPERIMENTS);
    let output = harness(&["experiments.ron", "--list"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let listing = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains('\t') && !l.starts_with('\t'))
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    assert_eq!(names, ["first", "second"]);
    assert!(listing.lines().last().is_some_and(|l| l.starts_with("estimated total: about ")), "{listing}");
    assert!(listing.contains("\tThe first one."), "{listing}");

    let output = harness(&["experiments.ron", "--list", "--only", "second"], dir.path());
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(listing.starts_with("second\t") && !listing.contains("first"), "{listing}");
}

#[test]
fn an_unknown_only_name_lists_the_known_ones() {
    let dir = with_config(TWO_EXPERIMENTS);
    let output = harness(&["experiments.ron", "--only", "third"], dir.path());
    assert_eq!(output.status.code(), Some(2), "bad input: {}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("\"third\"") && message.contains("first, second"), "{message}");
}

#[test]
fn a_run_writes_reports_under_out_for_the_selected_experiment() {
    let dir = with_config(TWO_EXPERIMENTS);
    let output = harness(&["experiments.ron", "--only", "second", "--out", "results"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let report = dir.path().join("results/second");
    for file in ["samples.csv", "results.json", "summary.md"] {
        assert!(report.join(file).is_file(), "{file} missing");
    }
    assert!(!dir.path().join("results/first").exists(), "--only skips the others");
    assert!(stderr(&output).contains("wrote results/second/"), "{}", stderr(&output));
}

#[test]
fn a_failing_command_stops_the_run_naming_command_and_status() {
    let config = r#"(experiments: [(name: "cmd", workload: Command(program: "sh", args: ["-c", "exit 4"]),
        inputs: Count(2), workers: [1], repetitions: 1, warmup: 0, backends: [Sequential])])"#;
    let dir = with_config(config);
    let output = harness(&["experiments.ron"], dir.path());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("command `sh -c exit 4` failed with exit status: 4"), "{message}");
    assert!(message.contains("experiment \"cmd\""), "{message}");
}

/// Bad input exits 2, as `sweep` and clap's own usage errors do, whether
/// clap or the harness itself refuses it; a run that could not be carried
/// out exits 1. The argument checks of `report` and `compare` used to exit
/// 1, and so did a report directory that is not there, where a missing
/// experiment file or `--resume` directory exited 2.
#[test]
fn bad_input_exits_2_and_a_failure_1() {
    let dir = with_config(TWO_EXPERIMENTS);
    std::fs::write(dir.path().join("bad.ron"), TWO_EXPERIMENTS.replace("workers: [1, 2]", "workers: [0]")).unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let bad_input: [&[&str]; 13] = [
        &["bad.ron", "--list"],
        &["experiments.ron", "--only", "third"],
        &["nowhere.ron"],
        &["experiments.ron", "--resume", "no-such-dir"],
        &["report", "no-such-run"],
        &["report", "empty"],
        &["compare", "no-such-run", "empty"],
        &["report", "run", "--width", "10"],
        &["report", "run", "--font-scale", "0"],
        &["compare", "a", "b", "--names", "one"],
        &["compare", "a", "b", "--names", "same,same"],
        &["compare", "a", "b", "--threshold", "fast"],
        &["--no-such-option"],
    ];
    for args in bad_input {
        let output = harness(args, dir.path());
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("error"), "{args:?}: {}", stderr(&output));
    }
    // A report directory whose saved results are damaged: the arguments
    // are right, the report cannot be drawn.
    std::fs::create_dir(dir.path().join("damaged")).unwrap();
    std::fs::write(dir.path().join("damaged/results.json"), "{ not json").unwrap();
    let output = harness(&["report", "damaged"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

/// The data rows of a samples.csv.
fn rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().skip(1).map(str::to_owned).collect()
}

/// Waits (30 s at most) until the samples file `csv` exists and holds at
/// least `at_least` rows: a run being measured, far enough to interrupt.
#[cfg(unix)]
fn wait_for_rows(csv: &Path, at_least: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !(csv.exists() && rows(csv).len() >= at_least) {
        assert!(std::time::Instant::now() < deadline, "no samples appeared in samples.csv");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn an_unwritable_out_is_refused_before_anything_is_measured() {
    let dir = with_config(TWO_EXPERIMENTS);
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let output = harness(&["experiments.ron", "--out", "a-file/reports"], dir.path());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("error: cannot create the output directory a-file/reports"), "{message}");
    assert!(!message.contains("wrote "), "{message}");
}

#[test]
fn a_broken_command_in_a_later_experiment_stops_the_run_before_the_first() {
    let config = TWO_EXPERIMENTS
        .replace("workload: Sleep(duration_us: 10),", "workload: Command(program: \"echo\", args: [\"{y}\"]),");
    let dir = with_config(&config);
    // `{y}` is refused when the file is read...
    let output = harness(&["experiments.ron"], dir.path());
    assert!(stderr(&output).contains("placeholder {y}; only {x}"), "{}", stderr(&output));
    // ...a missing program or words instead of a number before the first measurement.
    for (program, args, expected) in [
        (
            "parsweep-no-such-program",
            "[]",
            "the workload fails on input #0: cannot run command `parsweep-no-such-program`",
        ),
        ("echo", "[\"x={x}\"]", "command `echo x=0` (input x = 0) printed \"x=0\", which is not a number"),
    ] {
        let config = TWO_EXPERIMENTS.replace(
            "workload: Sleep(duration_us: 10),",
            &format!("workload: Command(program: {program:?}, args: {args}),"),
        );
        let dir = with_config(&config);
        let output = harness(&["experiments.ron", "--out", "out"], dir.path());
        assert!(!output.status.success());
        let message = stderr(&output);
        assert!(message.contains(expected), "{message}");
        assert!(!dir.path().join("out/first/samples.csv").exists(), "nothing was measured: {message}");
    }
}

#[test]
fn a_trillion_inputs_are_refused_not_aborted_even_with_list() {
    let config = TWO_EXPERIMENTS.replace("inputs: Count(8),", "inputs: Count(1000000000000),");
    let dir = with_config(&config);
    let output = harness(&["experiments.ron", "--list"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(listing.contains("cannot run: experiment \"first\": 1000000000000 inputs need about 32.0 TB"), "{listing}");
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("1000000000000 inputs need about 32.0 TB of memory"), "{}", stderr(&output));
}

#[test]
fn a_long_run_needs_yes_and_list_shows_the_estimate() {
    let config = TWO_EXPERIMENTS.replace("workload: Square,", "workload: Sleep(duration_us: 1000000),");
    let dir = with_config(&config);
    let listing = String::from_utf8(harness(&["experiments.ron", "--list"], dir.path()).stdout).unwrap();
    // 8 inputs × 1 s: sequential 8 s, pool at 1 and 2 workers 8 s and 4 s; 2 runs each.
    assert!(listing.contains("; about 40.0 s\n"), "{listing}");
    let config =
        config.replace("inputs: Count(8),", "inputs: Count(100),").replace("repetitions: 2,", "repetitions: 20,");
    let dir = with_config(&config);
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("(more than 10 min 00 s); pass --yes to start it"), "{message}");
    assert!(!dir.path().join("out/first/samples.csv").exists());
}

#[cfg(unix)]
#[test]
fn the_revision_is_the_harness_s_own_even_when_run_from_another_repository() {
    let dir = with_config(TWO_EXPERIMENTS);
    let git = |args: &[&str]| Command::new("git").args(args).current_dir(dir.path()).output();
    if !git(&["init", "-q"]).is_ok_and(|o| o.status.success()) {
        return; // no git: nothing to confuse the harness with
    }
    let output = harness(&["experiments.ron", "--only", "second", "--out", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let json = std::fs::read_to_string(dir.path().join("out/second/results.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let revision = report["machine"]["git_revision"].as_str().unwrap();
    let own = Command::new("git").args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "--short", "HEAD"]).output();
    if let Some(own) = own.ok().filter(|o| o.status.success()) {
        let own = String::from_utf8_lossy(&own.stdout).trim().to_owned();
        assert!(revision.starts_with(&own), "recorded {revision}, the harness is at {own}");
    }
    for field in ["rustc", "kernel", "hostname", "target"] {
        assert!(report["machine"][field].as_str().is_some_and(|v| !v.is_empty()), "machine.{field}");
    }
    assert!(report["conditions"]["load_before"].is_object() || !Path::new("/proc/loadavg").exists());
    let summary = std::fs::read_to_string(dir.path().join("out/second/summary.md")).unwrap();
    assert!(summary.contains("## Reproducibility") && summary.contains(revision), "{summary}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_keeps_every_sample_writes_an_interrupted_report_and_resume_finishes() {
    // 3 cells × 40 runs of 20 ms: long enough to interrupt in the middle.
    let config = r#"(experiments: [(name: "slow", workload: Sleep(duration_us: 5000), inputs: Count(4),
        workers: [1, 2], repetitions: 40, warmup: 0, backends: [Sequential, Pool])])"#;
    let dir = with_config(config);
    let child = harness_command(&["experiments.ron", "--out", "out"], dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let csv = dir.path().join("out/slow/samples.csv");
    wait_for_rows(&csv, 5);
    let seen_before = rows(&csv);
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let output = child.wait_with_output().unwrap();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(130), "{message}");
    assert!(message.contains("--resume out"), "{message}");

    let after = rows(&csv);
    assert!(after.len() >= seen_before.len() && after.len() < 120, "{} rows", after.len());
    for row in &seen_before {
        assert!(after.contains(row), "a sample seen before Ctrl-C was lost: {row}");
    }
    let summary = std::fs::read_to_string(dir.path().join("out/slow/summary.md")).unwrap();
    assert!(summary.contains(&format!("> **Interrupted:** {} of 120 planned repetitions", after.len())), "{summary}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/slow/results.json")).unwrap()).unwrap();
    assert_eq!(json["status"], "Interrupted");

    let output = harness(&["experiments.ron", "--resume", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let resuming = format!("resuming with {} already measured", sweep::output::counted(after.len(), "sample"));
    assert!(stderr(&output).contains(&resuming), "{}", stderr(&output));
    let resumed = rows(&csv);
    assert_eq!(resumed.len(), 120);
    for row in &after {
        assert!(resumed.contains(row), "resume re-measured or dropped {row}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/slow/results.json")).unwrap()).unwrap();
    assert_eq!(json["status"], "Complete");
    // Resuming a complete run measures nothing.
    let output = harness(&["experiments.ron", "--resume", "out"], dir.path());
    assert!(stderr(&output).contains("slow: complete in out, kept"), "{}", stderr(&output));
    assert_eq!(rows(&csv), resumed);
    // Resuming with a changed experiment is refused rather than mixed.
    std::fs::write(dir.path().join("experiments.ron"), config.replace("repetitions: 40", "repetitions: 41")).unwrap();
    let output = harness(&["experiments.ron", "--resume", "out"], dir.path());
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("holds a run of a differently defined experiment \"slow\""),
        "{}",
        stderr(&output)
    );
    assert_eq!(rows(&csv), resumed);
}

#[test]
fn resume_with_another_experiment_file_is_refused_before_measuring() {
    let dir = with_config(TWO_EXPERIMENTS);
    // What a run of another file left: an experiment this file does not define.
    std::fs::create_dir_all(dir.path().join("out/from-another-file")).unwrap();
    std::fs::write(dir.path().join("out/from-another-file/samples.csv"), "").unwrap();
    let output = harness(&["experiments.ron", "--resume", "out"], dir.path());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("holds experiment from-another-file that experiments.ron does not define"), "{message}");
    let measured = std::fs::read_dir(dir.path().join("out")).unwrap().count();
    assert_eq!(measured, 1, "nothing of experiments.ron was measured");
}

#[cfg(unix)]
#[test]
fn ctrl_c_in_a_terminal_does_not_fail_a_command_workload() {
    // A terminal's Ctrl-C signals the whole foreground process group,
    // the external commands included: the run must still end as interrupted.
    let config = r#"(experiments: [(name: "c", workload: Command(program: "sh", args: ["-c", "sleep 0.02; echo {x}"]),
        inputs: Count(4), workers: [1, 2], repetitions: 30, warmup: 0, backends: [Sequential, Pool])])"#;
    let dir = with_config(config);
    let child = std::os::unix::process::CommandExt::process_group(
        harness_command(&["experiments.ron", "--only", "c", "--out", "out"], dir.path())
            .stderr(std::process::Stdio::piped()),
        0,
    )
    .spawn()
    .unwrap();
    let csv = dir.path().join("out/c/samples.csv");
    wait_for_rows(&csv, 3);
    let group = format!("-{}", child.id());
    assert!(Command::new("kill").args(["-INT", "--", &group]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    // The hint to finish keeps the selection.
    assert!(stderr(&output).contains("bench-harness experiments.ron --only c --resume out"), "{}", stderr(&output));
    let json = std::fs::read_to_string(dir.path().join("out/c/results.json")).unwrap();
    assert!(json.contains("\"Interrupted\""), "{json}");
}

#[cfg(unix)]
#[test]
fn sigterm_during_the_checks_ends_a_hanging_command_and_what_it_started() {
    // The check runs the command on its first input; this one never ends
    // by itself, and leaves a background child too.
    let marker = "sleep 28.7654";
    let config = format!(
        r#"(experiments: [(name: "h", workload: Command(program: "sh", args: ["-c", "{marker} & {marker}; echo {{x}}"]),
        inputs: Count(2), workers: [1], repetitions: 1, warmup: 0, backends: [Sequential])])"#
    );
    let dir = with_config(&config);
    let running = || {
        let out = Command::new("pgrep").args(["-f", marker]).output().map(|o| o.stdout).unwrap_or_default();
        String::from_utf8_lossy(&out).split_whitespace().count()
    };
    // The harness alone is signalled below: it does not need a group.
    let child = harness_command(&["experiments.ron", "--out", "out"], dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while running() < 2 {
        assert!(std::time::Instant::now() < deadline, "the command never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SIGTERM to the harness alone, as a batch system sends it: the
    // command must not be left running on its own.
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(128 + 15), "128 + SIGTERM: {}", stderr(&output));
    assert!(stderr(&output).contains("interrupted during the checks"), "{}", stderr(&output));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while running() > 0 {
        assert!(std::time::Instant::now() < deadline, "the command or its child outlived the harness");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `bench-harness … 2>&1 | head -1`: once the reader is gone every message
/// fails to write. The run goes on to its report (std's `eprintln!` would
/// panic at the first message and leave nothing), and a listing that
/// cannot be written is a failure, not a panic.
#[cfg(unix)]
#[test]
fn a_closed_stderr_or_stdout_neither_panics_nor_loses_the_report() {
    let config = r#"(experiments: [(name: "quiet", workload: Sleep(duration_us: 1000), inputs: Count(4),
        workers: [1, 2], repetitions: 3, warmup: 0, backends: [Sequential, Pool])])"#;
    let dir = with_config(config);
    // A pipe whose reader is gone before the harness starts: every write fails.
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let status = harness_command(&["experiments.ron", "--out", "out"], dir.path()).stderr(closed()).status().unwrap();
    assert_eq!(status.code(), Some(0));
    let json = std::fs::read_to_string(dir.path().join("out/quiet/results.json")).unwrap();
    assert!(json.contains("\"Complete\""), "{json}");

    let output = harness_command(&["experiments.ron", "--list"], dir.path()).stdout(closed()).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("cannot write to standard output"), "{}", stderr(&output));
}

/// A closed terminal (SIGHUP) stops a run as Ctrl-C does, with 128 + 1;
/// under `nohup`, which ignores SIGHUP, the run goes on to the end.
#[cfg(unix)]
#[test]
fn a_hangup_stops_the_run_unless_it_is_ignored() {
    use std::os::unix::process::CommandExt;
    // 3 cells × 30 runs of at least 40 ms: after the third sample, seconds
    // are left for the signal to arrive, even on a loaded machine.
    let config = r#"(experiments: [(name: "slow", workload: Sleep(duration_us: 20000), inputs: Count(4),
        workers: [1, 2], repetitions: 30, warmup: 0, backends: [Sequential, Pool])])"#;
    let dir = with_config(config);
    for ignored in [false, true] {
        let out = if ignored { "nohup" } else { "hup" };
        let mut command = harness_command(&["experiments.ron", "--out", out], dir.path());
        command.stderr(std::process::Stdio::piped());
        if ignored {
            // SAFETY: the closure only calls signal(2), which is async-signal-safe.
            unsafe {
                command.pre_exec(|| {
                    libc::signal(libc::SIGHUP, libc::SIG_IGN);
                    Ok(())
                });
            }
        }
        let child = command.spawn().unwrap();
        let csv = dir.path().join(out).join("slow/samples.csv");
        wait_for_rows(&csv, 3);
        assert!(Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap().success());
        let output = child.wait_with_output().unwrap();
        let json = std::fs::read_to_string(dir.path().join(out).join("slow/results.json")).unwrap();
        if ignored {
            assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
            assert!(json.contains("\"Complete\""), "{json}");
        } else {
            assert_eq!(output.status.code(), Some(128 + 1), "{}", stderr(&output));
            assert!(json.contains("\"Interrupted\""), "{json}");
        }
    }
}

/// `--help` and `--version` are answers: 0 when written, but 1 when
/// standard output cannot take them; a wrong option stays a usage error.
#[cfg(target_os = "linux")]
#[test]
fn help_that_cannot_be_written_is_a_failure() {
    let dir = with_config(TWO_EXPERIMENTS);
    for flag in ["--help", "--version"] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let output = harness_command(&[flag], dir.path()).stdout(full).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{flag}: {}", stderr(&output));
        assert!(stderr(&output).contains("cannot write to standard output"), "{}", stderr(&output));
        assert_eq!(harness(&[flag], dir.path()).status.code(), Some(0), "{flag}");
    }
    assert_eq!(harness(&["--no-such-option"], dir.path()).status.code(), Some(2));
}

/// A standard output closed when the harness starts (`--help` with `>&-`)
/// makes every answer written there fail, status 1, as a full one does:
/// Rust's runtime reopens it on /dev/null before `main`, and answers were
/// lost with status 0.
#[cfg(target_os = "linux")]
#[test]
fn a_closed_standard_output_exits_one() {
    use std::os::unix::process::CommandExt;
    let dir = with_config(TWO_EXPERIMENTS);
    for args in [&["--help"][..], &["completions", "bash"], &["experiments.ron", "--list"]] {
        let mut command = harness_command(args, dir.path());
        // SAFETY: `close` is async-signal-safe, as `pre_exec` requires.
        unsafe {
            command.pre_exec(|| {
                libc::close(1);
                Ok(())
            });
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("closed when the command started"), "{args:?}: {}", stderr(&output));
    }
}

/// An `--out/<name>/` that is not a report (notes, a chart, another tool's
/// table under a report's file names) is refused before anything is
/// measured, naming the files, and left as it was: a run used to replace
/// them with exit 0 and keep no copy.
#[test]
fn a_directory_of_someone_else_s_files_is_refused_and_left_alone() {
    let dir = with_config(TWO_EXPERIMENTS);
    let mine = dir.path().join("results/second");
    std::fs::create_dir_all(&mine).unwrap();
    let files =
        [("summary.md", "MY PRECIOUS NOTES\n"), ("summary.tex", "\\section{mine}\n"), ("speedup.png", "handmade")];
    for (name, text) in files {
        std::fs::write(mine.join(name), text).unwrap();
    }
    let output = harness(&["experiments.ron", "--only", "second", "--out", "results"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("holds 3 files that bench-harness did not write (speedup.png, summary.md, summary.tex)"),
        "{message}"
    );
    for (name, text) in files {
        assert_eq!(std::fs::read_to_string(mine.join(name)).unwrap(), text, "{name} changed");
    }
    assert!(!mine.join("samples.csv").exists() && !mine.join("started.json").exists(), "nothing was started");

    // A samples.csv that is another tool's table (one line, counted as no
    // sample) is no run of the harness either.
    for (name, _) in files {
        std::fs::remove_file(mine.join(name)).unwrap();
    }
    std::fs::write(mine.join("samples.csv"), "my data\n").unwrap();
    let output = harness(&["experiments.ron", "--only", "second", "--out", "results"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("did not write (samples.csv)"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(mine.join("samples.csv")).unwrap(), "my data\n");

    // The experiment's own report is replaced by a rerun, as before, and a
    // temporary file a stopped writer left is the harness's own.
    std::fs::remove_file(mine.join("samples.csv")).unwrap();
    let output = harness(&["experiments.ron", "--only", "second", "--out", "results"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::write(mine.join(".speedup.png.4242.tmp"), "half a chart").unwrap();
    let output = harness(&["experiments.ron", "--only", "second", "--out", "results"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `bench-harness /dev/zero` read until memory ran out; an experiment file
/// is bounded as sweep bounds its specs (8 MiB), and more is bad input.
#[test]
fn an_endless_or_huge_experiment_file_is_refused_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = harness_command(&["/dev/zero", "--list"], dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("still reading /dev/zero after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut message = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut message).unwrap();
    assert_eq!(status.code(), Some(2), "{message}");
    assert!(message.contains("cannot read /dev/zero: it is larger than 8 MiB"), "{message}");

    // A file just over the bound, of valid RON comments, is refused too.
    let big = format!("// {}\n", "x".repeat(8 << 20));
    std::fs::write(dir.path().join("big.ron"), big).unwrap();
    let output = harness(&["big.ron", "--list"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("larger than 8 MiB"), "{}", stderr(&output));
}

/// `started.json` recorded the experiment file as given (`long.ron`,
/// relative to where that run started), so a fresh run from another
/// directory advised `bench-harness long.ron --resume …`, a file not there.
/// The record is now canonical, shown relative to the current directory
/// where it lies under it, else absolute; an older relative record is shown
/// as recorded, saying relative to what. The refusal is status 1, as for a
/// complete report a fresh run would replace unasked: the command line is
/// right, the data in --out forbid it.
#[test]
fn the_advice_to_resume_names_the_recorded_file_from_wherever_it_is_given() {
    let text = r#"(experiments: [(name: "long", workload: Square, inputs: Count(4), workers: [1, 2],
        repetitions: 1, warmup: 0, backends: [Sequential, Pool])])"#;
    let dir = tempfile::tempdir().unwrap();
    let bh = dir.path().join("a9/bh");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&bh).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(bh.join("long.ron"), text).unwrap();
    std::fs::write(bh.join("long2.ron"), text.replace("Count(4)", "Count(5)")).unwrap();
    let output = harness(&["long.ron", "--out", "rl"], &bh);
    assert!(output.status.success(), "{}", stderr(&output));
    // As a run killed before its report leaves it: samples and started.json.
    std::fs::remove_file(bh.join("rl/long/results.json")).unwrap();
    let canonical = bh.canonicalize().unwrap();
    let rl = canonical.join("rl");
    let rl = rl.to_str().unwrap();
    let long2 = canonical.join("long2.ron");
    let long2 = long2.to_str().unwrap();

    // Under the current directory: relative to it.
    let output = harness(&[long2, "--out", rl], dir.path());
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains(&format!("finish it with `bench-harness a9/bh/long.ron --resume {rl}`")), "{message}");
    // Elsewhere: absolute.
    let output = harness(&[long2, "--out", rl], &elsewhere);
    let message = stderr(&output);
    let long = canonical.join("long.ron");
    assert!(message.contains(&format!("finish it with `bench-harness {} --resume {rl}`", long.display())), "{message}");

    // An older harness's record, as given: shown so, saying relative to what.
    let started = bh.join("rl/long/started.json");
    let mut record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&started).unwrap()).unwrap();
    record["config"] = "long.ron".into();
    std::fs::write(&started, record.to_string()).unwrap();
    let output = harness(&[long2, "--out", rl], &elsewhere);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!(
            "started from long.ron (recorded in {rl}/long/started.json, relative to the directory that run was \
             started in): finish it with `bench-harness long.ron --resume {rl}`"
        )),
        "{message}"
    );
}
