//! The `sweep` binary as a user drives it: runs, crashes, resumes, failures,
//! mistakes in specs, and plots.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, stdout, Sandbox};

fn ok(output: Output) -> Output {
    assert!(output.status.success(), "sweep failed: {}", stderr(&output));
    output
}

/// A run that worked but left points without a value: exit status 3.
fn incomplete(output: Output) -> Output {
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    output
}

#[test]
fn a_sweep_killed_midway_resumes_without_losing_or_repeating_points() {
    let sandbox = Sandbox::new();
    let spec = sandbox.spec(
        "slow.ron",
        r#"(
            space: Range(name: "k", start: 0, end: 16),
            command: ["sh", "-c", "sleep 0.15; echo {k}"],
            workers: 2,
            output: "slow.jsonl",
        )"#,
    );
    let results = sandbox.path("slow.jsonl");
    let mut child = sandbox
        .command(&["run", "--no-progress"])
        .arg(&spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning sweep: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lines = std::fs::read_to_string(&results).map_or(0, |t| t.lines().count());
        // The header plus at least four records.
        if lines > 4 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress on disk after 30 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap_or_else(|e| panic!("kill: {e}")); // SIGKILL: no chance to clean up
    let status = child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(!status.success(), "the sweep should have been killed, not finished");

    let before = std::fs::read(&results).unwrap_or_default();
    let complete = &before[..before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)];
    let records_before = sandbox.load("slow.jsonl").records.len();
    assert!((4..16).contains(&records_before), "{records_before} records before the kill");

    let rerun = ok(sandbox.sweep(&["run", "--no-progress", "slow.ron"]));
    assert!(stderr(&rerun).contains(&format!("{records_before} already done")), "{}", stderr(&rerun));

    let after = std::fs::read(&results).unwrap_or_default();
    assert!(after.starts_with(complete), "records written before the kill must stay unchanged");
    let results = sandbox.load("slow.jsonl");
    let latest = results.latest();
    let indices: Vec<usize> = latest.iter().map(|r| r.index).collect();
    assert_eq!(indices, (0..16).collect::<Vec<_>>());
    let ids: HashSet<_> = results.records.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), results.records.len(), "a point was computed twice");
    for record in latest {
        assert_eq!(record.outcome, Ok(serde_json::json!(record.index)));
    }
}

#[test]
fn failures_are_recorded_with_their_cause() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "modes.ron",
        r#"(
            space: List(name: "mode", values: ["ok", "garbage", "slow", "fail", "nan", "null"]),
            command: ["sh", "-c", "case {mode} in ok) echo 1.5;; garbage) echo hello;; slow) sleep 5;; fail) echo disk on fire >&2; exit 7;; nan) echo nan;; null) echo null;; esac"],
            timeout_secs: 0.3,
            workers: 6,
        )"#,
    );
    let started = Instant::now();
    let run = incomplete(sandbox.sweep(&["run", "modes.ron"]));
    assert!(started.elapsed() < Duration::from_secs(4), "the slow point was not killed");
    assert!(stderr(&run).contains("6 computed (5 failed)"), "{}", stderr(&run));

    let results = sandbox.load("modes.jsonl");
    let outcome = |mode: &str| {
        let found = results
            .latest()
            .into_iter()
            .find(|r| r.point.get("mode").map(ToString::to_string).as_deref() == Some(mode));
        found.map(|r| r.outcome.clone()).unwrap_or_else(|| panic!("no record for {mode}"))
    };
    assert_eq!(outcome("ok"), Ok(serde_json::json!(1.5)));
    let garbage = outcome("garbage").err().unwrap_or_default();
    assert!(garbage.contains("not a number") && garbage.contains("hello"), "{garbage}");
    assert!(outcome("slow").err().unwrap_or_default().contains("timed out"));
    let fail = outcome("fail").err().unwrap_or_default();
    assert!(fail.contains("exit status: 7") && fail.contains("disk on fire"), "{fail}");
    assert!(outcome("nan").err().unwrap_or_default().contains("not a number"));
    // JavaScript's JSON.stringify writes NaN as null: no value either.
    assert_eq!(outcome("null"), Err(sweep::runner::NULL_VALUE.to_owned()));

    let status = stdout(&ok(sandbox.sweep(&["status", "modes.jsonl"])));
    assert!(status.contains("done:        1"), "{status}");
    assert!(status.contains("failed:      5"), "{status}");
    assert!(status.contains("missing:     0"), "{status}");
}

/// A `null` value an older build recorded as done (a closure's NaN) reads
/// back as the failure a `null` is now: not counted done, not exported as
/// a value, and recomputed by `--retry-failed`.
#[test]
fn a_null_value_recorded_by_an_older_build_reads_as_a_failure() {
    let sandbox = Sandbox::new();
    sandbox.spec("n.ron", r#"(space: List(name: "k", values: [1, 2]), command: ["sh", "-c", "echo {k}"])"#);
    ok(sandbox.sweep(&["run", "--no-progress", "n.ron"]));
    let path = sandbox.path("n.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let edited = text.replace(r#""point":{"k":1},"value":1,"#, r#""point":{"k":1},"value":null,"#);
    assert_ne!(edited, text, "the record of k = 1 was not found");
    std::fs::write(&path, edited).unwrap_or_else(|e| panic!("{e}"));

    let status = stdout(&sandbox.sweep(&["status", "n.jsonl"]));
    assert!(status.contains("done:        1") && status.contains("failed:      1"), "{status}");
    let export = stdout(&sandbox.sweep(&["export", "n.jsonl"]));
    assert!(export.contains("the value is null"), "{export}");
    ok(sandbox.sweep(&["run", "--no-progress", "n.ron", "--retry-failed"]));
    let results = sandbox.load("n.jsonl");
    let values: Vec<_> = results.latest().into_iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(values, [Ok(serde_json::json!(1)), Ok(serde_json::json!(2))]);
}

#[test]
fn run_says_what_really_runs_in_words_that_agree_with_their_counts() {
    let sandbox = Sandbox::new();
    sandbox.spec("one.ron", r#"(space: List(name: "k", values: [7]), command: ["echo", "{k}"], workers: 1)"#);
    let one = ok(sandbox.sweep(&["run", "--no-progress", "one.ron"]));
    assert!(stderr(&one).contains("k[1] = 1 point on 1 worker →"), "{}", stderr(&one));
    sandbox.spec("twelve.ron", r#"(space: Range(name: "k", start: 0, end: 12), command: ["echo", "{k}"], workers: 2)"#);
    let sample = ok(sandbox.sweep(&["run", "--no-progress", "twelve.ron", "--sample", "100"]));
    assert!(
        stderr(&sample).contains("(12 points drawn with seed 0: all there are, fewer than --sample 100) on 2 workers"),
        "{}",
        stderr(&sample)
    );
    let limit = ok(sandbox.sweep(&["run", "--no-progress", "twelve.ron", "--limit", "5", "--shard", "1/4"]));
    assert!(stderr(&limit).contains("(shard 1/4) (the first 3 points: all there are, fewer than --limit 5)"));
    let help = stdout(&ok(sandbox.sweep(&["run", "--help"])));
    assert!(help.contains("After SIGINT, SIGTERM, SIGHUP or SIGUSR1"), "{help}");
}

/// A given-up point is no point done: a rerun's summary counts it apart.
#[test]
fn given_up_points_are_not_counted_as_done() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "g.ron",
        r#"(space: Range(name: "k", start: 0, end: 4),
            command: ["sh", "-c", "[ {k} -lt 2 ] || exit 3; echo {k}"], max_attempts: 1,
            output: "grïd ☃.jsonl")"#,
    );
    let first = incomplete(sandbox.sweep(&["run", "--no-progress", "g.ron"]));
    assert!(stderr(&first).contains("4 computed (2 failed)"), "{}", stderr(&first));
    let rerun = incomplete(sandbox.sweep(&["run", "--no-progress", "g.ron"]));
    assert!(stderr(&rerun).contains("0 computed (0 failed), 2 already done, 2 given up before"), "{}", stderr(&rerun));
}

/// A command sweep suggests is pasted as printed: a path that needs
/// quoting is quoted.
#[test]
fn suggested_commands_quote_the_paths_they_name() {
    let sandbox = Sandbox::new();
    sandbox.spec("f.ron", r#"(space: Range(name: "k", start: 0, end: 2), command: ["sh", "-c", "exit {k}"])"#);
    let failed = incomplete(sandbox.sweep(&["run", "--no-progress", "f.ron", "-o", "my grïd ☃.jsonl"]));
    assert!(stderr(&failed).contains("`sweep status 'my grïd ☃.jsonl'`"), "{}", stderr(&failed));
    let status = ok(sandbox.sweep(&["status", "my grïd ☃.jsonl"]));
    assert!(stdout(&status).contains("failed:      2"), "{}", stdout(&status));
}

#[test]
fn failed_points_are_recomputed_with_retry_failed() {
    let sandbox = Sandbox::new();
    let marker = sandbox.path("ready");
    sandbox.spec(
        "flaky.ron",
        &format!(
            r#"(
                space: Range(name: "k", start: 0, end: 4),
                command: ["sh", "-c", "[ {{k}} -lt 2 ] || [ -e '{}' ] || {{ echo not ready >&2; exit 3; }}; echo {{k}}"],
                workers: 2,
            )"#,
            marker.display()
        ),
    );
    let first = incomplete(sandbox.sweep(&["run", "flaky.ron"]));
    assert!(stderr(&first).contains("4 computed (2 failed)"), "{}", stderr(&first));

    std::fs::write(&marker, "").unwrap_or_else(|e| panic!("{e}"));
    let plain = incomplete(sandbox.sweep(&["run", "flaky.ron"]));
    // The failed points are not done: counted apart.
    assert!(
        stderr(&plain).contains("0 computed (0 failed), 2 already done, 2 failed before and not retried"),
        "{}",
        stderr(&plain)
    );
    let retry = ok(sandbox.sweep(&["run", "--retry-failed", "flaky.ron"]));
    assert!(stderr(&retry).contains("2 computed (0 failed), 2 already done"), "{}", stderr(&retry));

    let status = sandbox.load("flaky.jsonl").status();
    assert_eq!((status.done, status.failed, status.missing), (4, 0, 0));
}

#[test]
fn a_results_file_of_another_command_is_refused() {
    let sandbox = Sandbox::new();
    let spec = |word: &str| {
        format!(r#"(space: Range(name: "k", start: 0, end: 3), command: ["{word}", "{{k}}"], output: "shared.jsonl")"#)
    };
    sandbox.spec("echo.ron", &spec("echo"));
    sandbox.spec("printf.ron", &spec("printf"));
    ok(sandbox.sweep(&["run", "echo.ron"]));
    let before = std::fs::read(sandbox.path("shared.jsonl")).unwrap_or_default();
    let refused = sandbox.sweep(&["run", "printf.ron"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("different sweep") && stderr(&refused).contains("the command changed"));
    let after = std::fs::read(sandbox.path("shared.jsonl")).unwrap_or_default();
    assert_eq!(before, after, "a refused run must not touch the file");
}

#[test]
fn a_refined_space_reuses_every_point_already_computed() {
    let sandbox = Sandbox::new();
    let spec = |num: u32, extra: &str| {
        format!(
            r#"(space: Grid([Linspace(name: "x", start: 0.0, stop: 1.0, num: {num}), List(name: "m", values: ["a"{extra}])]),
                command: ["sh", "-c", "echo {{x}} {{m}} >> calls; echo {{x}}"], output: "refined.jsonl", workers: 2)"#
        )
    };
    sandbox.spec("coarse.ron", &spec(5, ""));
    sandbox.spec("fine.ron", &spec(9, ""));
    sandbox.spec("wider.ron", &spec(9, r#", "b""#));
    let calls = || std::fs::read_to_string(sandbox.path("calls")).map_or(0, |t| t.lines().count());
    ok(sandbox.sweep(&["run", "coarse.ron"]));
    assert_eq!(calls(), 5);
    let fine = ok(sandbox.sweep(&["run", "fine.ron"]));
    assert!(
        stderr(&fine).contains("5 of its 5 records, whose points are in the new space, are reused"),
        "{}",
        stderr(&fine)
    );
    assert!(stderr(&fine).contains("4 computed (0 failed), 5 already done"), "{}", stderr(&fine));
    assert_eq!(calls(), 9, "only the new points were computed");
    let wider = ok(sandbox.sweep(&["run", "wider.ron"]));
    assert!(stderr(&wider).contains("9 computed (0 failed), 9 already done"), "{}", stderr(&wider));
    // Back to the coarse grid: everything is there already.
    let back = ok(sandbox.sweep(&["run", "coarse.ron"]));
    assert!(stderr(&back).contains("0 computed (0 failed), 5 already done"), "{}", stderr(&back));
    assert!(stderr(&back).contains("the others stay in the file, unused"), "{}", stderr(&back));
    assert_eq!(calls(), 18);
    let results = sandbox.load("refined.jsonl");
    assert_eq!((results.records.len(), results.status().done, results.status().outside), (18, 5, 13));
}

#[test]
fn spec_mistakes_are_reported_before_running() {
    let sandbox = Sandbox::new();
    let cases = [
        (
            "typo.ron",
            "(\n    space: Range(name: \"k\", start: 0, end: 3),\n    comand: [\"echo\", \"{k}\"],\n)",
            "typo.ron:3:",
        ),
        (
            "zero_workers.ron",
            r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"], workers: 0)"#,
            "workers must be at least 1",
        ),
        (
            "empty_linspace.ron",
            r#"(space: Grid([Linspace(name: "x", start: 0.0, stop: 1.0, num: 0), Range(name: "k", start: 0, end: 3)]), command: ["echo", "{x}"])"#,
            "empty: axis \"x\" has num = 0",
        ),
        ("empty_list.ron", r#"(space: List(name: "m", values: []), command: ["echo", "{m}"])"#, "empty list"),
    ];
    for (name, text, expected) in cases {
        sandbox.spec(name, text);
        let output = sandbox.sweep(&["run", name]);
        assert!(!output.status.success(), "{name} should be refused");
        assert!(stderr(&output).contains(expected), "{name}: {}", stderr(&output));
        let results = sandbox.path(name).with_extension("jsonl");
        assert!(!results.exists(), "{name}: nothing may run or be written");
    }
    sandbox.spec("fine.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    let flag = sandbox.sweep(&["run", "--workers", "0", "fine.ron"]);
    assert!(stderr(&flag).contains("--workers must be at least 1"), "{}", stderr(&flag));
}

/// Decodes a PNG and returns (width, height, distinct colours, share of
/// non-white pixels).
fn inspect_png(path: &Path) -> (u32, u32, usize, f64) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk");
    let decoder = png::Decoder::new(bytes.as_slice());
    let mut reader = decoder.read_info().unwrap_or_else(|e| panic!("{e}"));
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap_or_else(|e| panic!("{e}"));
    let channels = info.color_type.samples();
    let pixels = &pixels[..info.buffer_size()];
    let colours: HashSet<&[u8]> = pixels.chunks(channels).collect();
    let coloured = pixels.chunks(channels).filter(|p| p[..3] != [255, 255, 255]).count();
    let total = (info.width * info.height) as f64;
    (info.width, info.height, colours.len(), coloured as f64 / total)
}

#[test]
fn plots_are_drawn_for_one_and_two_varying_axes() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "line.ron",
        r#"(space: Linspace(name: "x", start: -1.0, stop: 1.0, num: 9),
            command: ["awk", "BEGIN { x = {x}; print x * x }"])"#,
    );
    sandbox.spec(
        "grid.ron",
        r#"(space: Grid([List(name: "a", values: [-1.0]), Linspace(name: "x", start: -1.0, stop: 1.0, num: 6), Range(name: "n", start: 0, end: 5)]),
            command: ["awk", "BEGIN { print {a} * ({x} * {x} + {n}) }"],
            labels: (value: "f (a.u.)", axes: {"n": "order n"}))"#,
    );
    ok(sandbox.sweep(&["run", "line.ron"]));
    ok(sandbox.sweep(&["run", "grid.ron"]));

    let line = stdout(&ok(sandbox.sweep(&["plot", "line.jsonl", "--output", "line.png"])));
    assert_eq!(line.trim(), "line.png");
    let (width, height, colours, coloured) = inspect_png(&sandbox.path("line.png"));
    assert_eq!((width, height), (1200, 900));
    assert!(colours > 10 && coloured > 0.01, "{colours} colours, {coloured} coloured");

    let grid = stdout(&ok(sandbox.sweep(&["plot", "grid.jsonl"])));
    assert_eq!(grid.lines().collect::<Vec<_>>(), ["grid-heatmap.png", "grid-surface.png"]);
    for name in ["grid-heatmap.png", "grid-surface.png"] {
        let (_, _, colours, coloured) = inspect_png(&sandbox.path(name));
        assert!(colours > 50 && coloured > 0.2, "{name}: {colours} colours, {coloured} coloured");
    }

    let csv = stdout(&ok(sandbox.sweep(&["export", "grid.jsonl"])));
    assert_eq!(csv.lines().count(), 1 + 30);
    assert!(csv.starts_with("index,id,a,x,n,value,error,duration_ms"), "{csv}");
}

/// Counts pixels of exactly `rgb` in a PNG.
fn pixels_of(path: &Path, rgb: [u8; 3]) -> usize {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(bytes.as_slice());
    let mut reader = decoder.read_info().unwrap_or_else(|e| panic!("{e}"));
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap_or_else(|e| panic!("{e}"));
    let channels = info.color_type.samples();
    pixels[..info.buffer_size()].chunks(channels).filter(|p| p[..3] == rgb).count()
}

#[test]
fn partial_sweeps_are_plotted_with_their_holes() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "holes.ron",
        r#"(space: Grid([Range(name: "x", start: 0, end: 6), Range(name: "y", start: 0, end: 5)]),
            command: ["sh", "-c", "[ {x} -ne {y} ] || exit 1; echo $(( {x} * {y} ))"], workers: 2)"#,
    );
    incomplete(sandbox.sweep(&["run", "--no-progress", "holes.ron"]));
    // Drop three records: those points are missing, not failed.
    let path = sandbox.path("holes.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains("\"point\":{\"x\":5,")).collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));

    let written = stdout(&ok(sandbox.sweep(&["plot", "holes.jsonl"])));
    assert_eq!(written.lines().collect::<Vec<_>>(), ["holes-heatmap.png", "holes-surface.png"]);
    let heatmap = sandbox.path("holes-heatmap.png");
    assert!(pixels_of(&heatmap, [214, 39, 40]) > 1000, "failed cells are red");
    let (_, _, colours, coloured) = inspect_png(&sandbox.path("holes-surface.png"));
    assert!(colours > 50 && coloured > 0.1, "a surface with holes is drawn: {colours} colours, {coloured} coloured");

    // Missing directories are created, as for a results file; one that
    // cannot be (a file is in the way) fails with a message for people.
    ok(sandbox.sweep(&["plot", "holes.jsonl", "--output", "no/such/dir/chart.png"]));
    assert!(sandbox.path("no/such/dir/chart-surface.png").is_file());
    let refused = sandbox.sweep(&["plot", "holes.jsonl", "--output", "holes.ron/dir/chart.png"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(message.contains("cannot write the chart holes.ron/dir/chart-heatmap.png"), "{message}");
    assert!(!message.contains("Os {") && !message.contains("Error("), "no debug text: {message}");
}

#[test]
fn plots_are_written_in_every_format_asked_for() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "grid.ron",
        r#"(space: Grid([Linspace(name: "x", start: -1.0, stop: 1.0, num: 4), Range(name: "n", start: 0, end: 3)]),
            command: ["awk", "BEGIN { print {x} * {x} + {n} }"])"#,
    );
    ok(sandbox.sweep(&["run", "--no-progress", "grid.ron"]));

    // An --output without a chart extension gets each format's; repeats are drawn once.
    let written = stdout(&ok(sandbox.sweep(&["plot", "grid.jsonl", "-o", "g", "--format", "svg,pdf,svg"])));
    assert_eq!(
        written.lines().collect::<Vec<_>>(),
        ["g-heatmap.svg", "g-surface.svg", "g-heatmap.pdf", "g-surface.pdf"]
    );
    for name in ["g-heatmap.svg", "g-surface.svg"] {
        let svg = std::fs::read_to_string(sandbox.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(svg.starts_with("<svg") && svg.contains("width=\"1200\" height=\"900\""), "{name}");
        assert!(svg.contains("<path d=") && !svg.contains("<text"), "{name}: shapes and text as paths");
    }
    for name in ["g-heatmap.pdf", "g-surface.pdf"] {
        let pdf = std::fs::read(sandbox.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"), "{name}");
    }
    assert!(!sandbox.path("g-heatmap.png").exists(), "only the formats asked for");

    // Without --format, --output's extension names the format.
    assert_eq!(stdout(&ok(sandbox.sweep(&["plot", "grid.jsonl", "-o", "h.svg"]))).lines().count(), 2);
    assert!(std::fs::read_to_string(sandbox.path("h-heatmap.svg")).is_ok_and(|svg| svg.starts_with("<svg")));

    for (args, expected) in [
        (&["--format", "png,gif"][..], "unknown chart format \"gif\": use png, svg or pdf"),
        (&["--format", "png,"][..], "empty chart format in \"png,\""),
        (&["-o", "chart.jpg"][..], "cannot tell the chart format of chart.jpg"),
    ] {
        let refused = sandbox.sweep(&[&["plot", "grid.jsonl"][..], args].concat());
        assert!(!refused.status.success(), "{args:?}");
        assert!(stderr(&refused).contains(expected), "{args:?}: {}", stderr(&refused));
    }
    assert!(!sandbox.path("chart.png").exists() && !sandbox.path("grid-heatmap.png").exists());
}

/// What is derived from results (a CSV, a chart, an sbatch script) is never
/// written over a results file, whatever the paths given: the measured
/// records stay, and the command says why it refused (status 2).
#[test]
fn no_output_path_replaces_a_results_file() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    ok(sandbox.sweep(&["run", "--no-progress", "ok.ron"]));
    // A results file that happens to be named like a chart.
    ok(sandbox.sweep(&["run", "--no-progress", "ok.ron", "-o", "r.png"]));
    let results = std::fs::read(sandbox.path("ok.jsonl")).unwrap_or_default();
    let png = std::fs::read(sandbox.path("r.png")).unwrap_or_default();
    for args in [
        &["export", "ok.jsonl", "-o", "ok.jsonl"][..],
        &["export", "r.png", "-o", "ok.jsonl"],
        &["plot", "ok.jsonl", "-o", "r.png"],
        &["slurm", "ok.ron", "--tasks", "2", "--script", "ok.jsonl"],
    ] {
        let output = sandbox.sweep(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("holds sweep results"), "{args:?}: {}", stderr(&output));
        assert_eq!(std::fs::read(sandbox.path("ok.jsonl")).unwrap_or_default(), results, "{args:?}");
        assert_eq!(std::fs::read(sandbox.path("r.png")).unwrap_or_default(), png, "{args:?}");
    }
    // The default chart of results named r.png is r.png.png: the
    // extension is appended to a name not ending in .jsonl.
    assert_eq!(stdout(&ok(sandbox.sweep(&["plot", "r.png"]))).trim(), "r.png.png");
    assert_eq!(std::fs::read(sandbox.path("r.png")).unwrap_or_default(), png);
    // Charts and CSVs are still replaced by newer ones.
    ok(sandbox.sweep(&["export", "ok.jsonl", "-o", "ok.csv"]));
    ok(sandbox.sweep(&["export", "ok.jsonl", "-o", "ok.csv"]));
    ok(sandbox.sweep(&["plot", "ok.jsonl"]));
    ok(sandbox.sweep(&["plot", "ok.jsonl"]));
}

/// Nor over the spec a sweep came from (the referee's `slurm sq.ron
/// --script sq.ron`, `plot sq.jsonl -o sq.ron`, `export sq.jsonl -o
/// sq.ron`, which replaced it, status 0), by file identity (an edited spec
/// that no longer parses, reached by another spelling), nor over any other
/// sweep spec or bench-harness's data (a report's `samples.csv`,
/// `results.json` and `started.json`, copied from a real report, and an
/// experiment file: the referee's `export par.jsonl -o q.ron` over a copy of
/// `configs/quick.ron` and `-o rex/seed/started.json` replaced them,
/// status 0).
#[test]
fn no_output_path_replaces_a_spec_or_a_bench_report() {
    let sandbox = Sandbox::new();
    let spec_text = r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#;
    sandbox.spec("sq.ron", spec_text);
    sandbox.spec("other.ron", r#"(space: Range(name: "j", start: 0, end: 0), command: ["true"])"#);
    ok(sandbox.sweep(&["run", "--no-progress", "sq.ron"]));
    let report = sandbox.path("report/seed");
    std::fs::create_dir_all(&report).unwrap_or_else(|e| panic!("{e}"));
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/example/seed");
    for name in ["samples.csv", "results.json", "started.json"] {
        std::fs::copy(example.join(name), report.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let quick = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/quick.ron");
    std::fs::copy(quick, sandbox.path("q.ron")).unwrap_or_else(|e| panic!("quick.ron: {e}"));
    let kept = |name: &str| std::fs::read(sandbox.path(name)).unwrap_or_default();
    let before: Vec<(&str, Vec<u8>)> = [
        "sq.ron",
        "other.ron",
        "report/seed/samples.csv",
        "report/seed/results.json",
        "report/seed/started.json",
        "q.ron",
    ]
    .map(|n| (n, kept(n)))
    .into();
    let refused = |args: &[&str], expected: &str| {
        let output = sandbox.sweep(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{args:?}: {}", stderr(&output));
        for (name, bytes) in &before {
            assert_eq!(&kept(name), bytes, "{args:?} changed {name}");
        }
    };
    for (args, expected) in [
        (&["slurm", "sq.ron", "--tasks", "2", "--script", "sq.ron"][..], "sq.ron is the spec of this sweep; refusing"),
        (&["plot", "sq.jsonl", "-o", "sq.ron", "--format", "png"], "sq.ron is the spec of this sweep; refusing"),
        (&["export", "sq.jsonl", "-o", "sq.ron"], "sq.ron is the spec of this sweep; refusing"),
        (&["export", "sq.jsonl", "-o", "other.ron"], "other.ron holds a sweep spec; refusing"),
        (&["plot", "sq.jsonl", "-o", "other.ron", "--format", "png"], "other.ron holds a sweep spec; refusing"),
    ] {
        refused(args, expected);
    }
    for (target, what) in [
        ("report/seed/samples.csv", "a bench-harness report's samples.csv"),
        ("report/seed/results.json", "results.json"),
        ("report/seed/started.json", "a bench-harness report's started.json"),
        ("q.ron", "q.ron is a bench-harness experiment file; refusing"),
    ] {
        refused(&["export", "sq.jsonl", "-o", target], what);
        refused(&["plot", "sq.jsonl", "-o", target, "--format", "png"], what);
    }

    // The spec edited into something that parses as no spec is still the
    // one the header names, however its path is spelt.
    std::fs::write(sandbox.path("sq.ron"), "(space: half an edit").unwrap_or_else(|e| panic!("{e}"));
    let before = [("sq.ron", kept("sq.ron"))];
    for args in [
        &["export", "sq.jsonl", "-o", "./report/../sq.ron"][..],
        &["plot", "sq.jsonl", "-o", "sq.ron", "--format", "svg"],
    ] {
        let output = sandbox.sweep(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("is the spec of this sweep"), "{}", stderr(&output));
        assert_eq!(kept("sq.ron"), before[0].1, "{args:?}");
    }
    // Any other file is replaced as before.
    std::fs::write(sandbox.path("notes.ron"), "(not: a spec)").unwrap_or_else(|e| panic!("{e}"));
    ok(sandbox.sweep(&["export", "sq.jsonl", "-o", "notes.ron"]));
    let csv = String::from_utf8_lossy(&kept("notes.ron")).into_owned();
    assert!(csv.starts_with("index,") && csv.lines().count() == 4, "{csv}");
}

/// A chart of a 10^12-point space is refused with a message, before
/// anything the size of the space is allocated (it was an abort), as bad
/// input (2): a chart that cannot show this sweep.
#[test]
fn a_huge_space_is_refused_by_plot_not_aborted() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "huge.ron",
        r#"(space: Grid([Range(name: "a", start: 0, end: 1000000), Range(name: "b", start: 0, end: 1000000)]),
            command: ["echo", "{a}"])"#,
    );
    sandbox.spec("line.ron", r#"(space: Range(name: "a", start: 0, end: 1000000000000), command: ["echo", "{a}"])"#);
    for (spec, results) in [("huge.ron", "huge.jsonl"), ("line.ron", "line.jsonl")] {
        ok(sandbox.sweep(&["run", "--no-progress", spec, "--limit", "3"]));
        let output = sandbox.sweep(&["plot", results]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains("1000000000000 points"), "{}", stderr(&output));
    }
}

/// A spec of a 10^12-point space, for the tests of commands that must not
/// hold one of anything per point.
const HUGE: &str = r#"(space: Grid([Range(name: "a", start: 0, end: 1000000), Range(name: "b", start: 0, end: 1000000)]),
    command: ["echo", "{a}"])"#;

/// `--sample N` draws its points one at a time as the run takes them, so a
/// sample as large as a 10^12-point space starts computing at once and
/// holds nothing per point. It used to collect the N drawn indices first:
/// it aborted on a failed allocation (SIGABRT, status 134) before the
/// first point ran. A smaller sample's points are drawn first, so a rerun
/// with a smaller N finds them done.
#[test]
fn a_sample_as_large_as_a_huge_space_starts_at_once_in_bounded_memory() {
    let sandbox = Sandbox::new();
    sandbox.spec("huge.ron", HUGE);
    let results = sandbox.path("huge.jsonl");
    // One worker: the points are recorded in the order drawn.
    let huge_sample = ["run", "--no-progress", "huge.ron", "--sample", "1000000000000", "--workers", "1"];
    let mut child = sandbox.start(&huge_sample);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut peak_kib = 0;
    while std::fs::read_to_string(&results).map_or(0, |t| t.lines().count()) < 4 {
        if let Ok(Some(status)) = child.try_wait() {
            let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
            panic!("sweep ended ({status}) before computing 3 points: {}", stderr(&output));
        }
        assert!(Instant::now() < deadline, "no 3 points computed after 30 s");
        peak_kib = peak_kib.max(resident_kib(child.id()));
        std::thread::sleep(Duration::from_millis(10));
    }
    peak_kib = peak_kib.max(resident_kib(child.id()));
    child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
    child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(peak_kib < 256 * 1024, "{peak_kib} KiB resident for a sample of 10^12 points");

    let drawn: Vec<usize> = sandbox.load("huge.jsonl").records.iter().map(|r| r.index).collect();
    assert!(drawn.len() >= 3, "{drawn:?}");
    assert_eq!(drawn.iter().collect::<HashSet<_>>().len(), drawn.len(), "drawn once each: {drawn:?}");
    assert!(drawn.iter().all(|i| *i < 1_000_000_000_000), "{drawn:?}");
    let three = ok(sandbox.sweep(&["run", "--no-progress", "huge.ron", "--sample", "3"]));
    assert!(stderr(&three).contains("0 computed (0 failed), 3 already done"), "{}", stderr(&three));
}

/// `slurm --tasks N` with N far beyond what any Slurm holds (one task per
/// point of a 10^12-point space) is refused at once, in bounded memory,
/// naming the limit, before anything is written: slurmctld holds fewer
/// than MaxJobCount jobs and counts each array task as one. It used to
/// list all 10^12 shard indices first and abort on the failed allocation
/// (SIGABRT, status 134).
#[test]
fn slurm_with_more_tasks_than_slurm_can_hold_is_refused_before_writing_anything() {
    let sandbox = Sandbox::new();
    sandbox.spec("huge.ron", HUGE);
    ok(sandbox.sweep(&["run", "--no-progress", "huge.ron", "--limit", "2"]));
    let files = || {
        let mut names: Vec<_> = std::fs::read_dir(sandbox.root())
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).file_name())
            .collect();
        names.sort();
        names
    };
    let (files_before, results_before) = (files(), std::fs::read(sandbox.path("huge.jsonl")).unwrap_or_default());

    let started = Instant::now();
    let mut child = sandbox.start(&["slurm", "huge.ron", "--tasks", "1000000000000"]);
    let mut peak_kib = 0;
    while child.try_wait().unwrap_or_else(|e| panic!("{e}")).is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
            panic!("still running after 30 s");
        }
        peak_kib = peak_kib.max(resident_kib(child.id()));
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(peak_kib < 256 * 1024, "{peak_kib} KiB resident for 10^12 tasks");
    let text = stderr(&output);
    assert!(text.contains("--tasks 1000000000000: Slurm cannot hold that many array tasks"), "{text}");
    assert!(text.contains("MaxJobCount"), "{text}");
    assert_eq!(files(), files_before, "no script, log directory or shard file");
    assert_eq!(std::fs::read(sandbox.path("huge.jsonl")).unwrap_or_default(), results_before);
}

/// The task limit is the cluster's own (`scontrol show config`, faked
/// here): MaxJobCount − 1 tasks are written as arrays of MaxArraySize, one
/// more is refused with both numbers named.
#[test]
fn slurm_tasks_are_limited_by_the_clusters_max_job_count() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    sandbox.spec("huge.ron", HUGE);
    let fake_bin = sandbox.path("fake-bin");
    std::fs::create_dir(&fake_bin).unwrap_or_else(|e| panic!("{e}"));
    let scontrol = fake_bin.join("scontrol");
    std::fs::write(
        &scontrol,
        "#!/bin/sh\nprintf 'MaxArraySize            = 1001\\nMaxJobCount             = 2500\\n'\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&scontrol, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    let path = format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap_or_default());
    let slurm = |tasks: &str| {
        let mut command = sandbox.command(&["slurm", "huge.ron", "--tasks", tasks]);
        command.env("PATH", &path).output().unwrap_or_else(|e| panic!("running sweep: {e}"))
    };

    let refused = slurm("2500");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let text = stderr(&refused);
    assert!(text.contains("fewer than MaxJobCount (2500)"), "{text}");
    assert!(text.contains("use --tasks 2499 or fewer"), "{text}");
    assert!(!sandbox.path("huge.sbatch").exists());

    let written = ok(slurm("2499"));
    assert!(stderr(&written).contains("2499 shards exceed the cluster's MaxArraySize 1001: 3 array jobs"));
    let last = std::fs::read_to_string(sandbox.path("huge.part3.sbatch")).unwrap_or_default();
    assert!(last.contains("#SBATCH --array=0-496\n"), "{last}");
    assert!(last.contains("$((SLURM_ARRAY_TASK_ID + 2002))/2499"), "{last}");
}

/// The resident memory of process `pid` in KiB, where /proc tells (0
/// elsewhere: the bound is then not checked).
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find_map(|line| line.strip_prefix("VmRSS:")).unwrap_or("");
    line.trim().trim_end_matches("kB").trim().parse().unwrap_or(0)
}

/// `collect` of a 10^12-point sweep run in part (`--limit`) merges the
/// points computed and reports the others without listing the space: the
/// first ones are listed, all of them counted, and the exit status says
/// incomplete (3). It used to keep a gap for each point without a value
/// and abort (status 134) or run the machine out of memory before writing
/// anything.
#[test]
fn collect_of_a_huge_partly_computed_space_does_not_abort() {
    let sandbox = Sandbox::new();
    sandbox.spec("huge.ron", HUGE);
    ok(sandbox.sweep(&["run", "--no-progress", "huge.ron", "--shard", "0/2", "--limit", "2"]));
    let started = Instant::now();
    let output = sandbox.sweep(&["collect", "huge.ron", "--tasks", "2"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("2 done, 0 failed, 999999999998 missing of 1000000000000 points"), "{text}");
    assert!(text.contains("999999999998 of 1000000000000 points have no value (shards 0, 1)"), "{text}");
    assert!(text.contains("999999998998 more points without a record are not listed (the first 1000 are)"), "{text}");
    let listed = stdout(&output);
    assert_eq!(listed.lines().count(), 1000);
    assert_eq!(listed.lines().next(), Some("shard 1/2  missing  #1 a=0 b=1"), "{listed}");
    assert!(started.elapsed() < Duration::from_secs(20), "the space was listed: {:?}", started.elapsed());
    // Nothing computed is lost: the merge holds both points.
    let merged: Vec<usize> = sandbox.load("huge.jsonl").records.iter().map(|r| r.index).collect();
    assert_eq!(merged, [0, 2]);
}

/// Shards run by hand with a shard count far above the number of points
/// (`run --shard K/N` allows any N): `collect` finds and merges them at
/// once, whether told `--tasks N` or not, without walking the empty shards
/// or warning that their files are absent (they own no point).
#[test]
fn collect_with_far_more_shards_than_points_is_quick_and_quiet() {
    let sandbox = Sandbox::new();
    sandbox.spec("few.ron", r#"(space: Grid([Range(name: "a", start: 0, end: 3)]), command: ["echo", "{a}"])"#);
    const N: &str = "1000000000";
    for k in 0..3 {
        ok(sandbox.sweep(&["run", "--no-progress", "few.ron", "--shard", &format!("{k}/{N}")]));
    }
    for told in [true, false] {
        let started = Instant::now();
        let output = if told {
            sandbox.sweep(&["collect", "few.ron", "--tasks", N])
        } else {
            sandbox.sweep(&["collect", "few.ron"])
        };
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(!stderr(&output).contains("has no results file"), "{}", stderr(&output));
        assert!(started.elapsed() < Duration::from_secs(20), "empty shards walked: {:?}", started.elapsed());
        let merged: Vec<usize> = sandbox.load("few.jsonl").records.iter().map(|r| r.index).collect();
        assert_eq!(merged, [0, 1, 2]);
    }
}

/// `collect --tasks N` with one shard per point of a 10^12-point sweep, two
/// of them run by hand: it answers at once, in bounded memory, and
/// summarises the shards without a file or with points left, the first
/// ones listed and all of them counted, like the points. It used to probe
/// every shard's file, warn of each absent one and list every incomplete
/// shard: still running after minutes.
#[test]
fn collect_with_a_shard_per_point_of_a_huge_space_summarises_the_shards() {
    use std::io::Read;
    let sandbox = Sandbox::new();
    sandbox.spec("huge.ron", HUGE);
    const N: &str = "1000000000000";
    // Shard K of N owns the one point K.
    for k in [0, 2] {
        ok(sandbox.sweep(&["run", "--no-progress", "huge.ron", "--shard", &format!("{k}/{N}")]));
    }
    let started = Instant::now();
    let mut child = sandbox
        .command(&["collect", "huge.ron", "--tasks", N])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning sweep: {e}"));
    // Read as it is written, or a full pipe would stall sweep.
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).map(|_| text).unwrap_or_else(|e| panic!("reading: {e}"))
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap_or_else(|| panic!("no stdout"))));
    let err = read(Box::new(child.stderr.take().unwrap_or_else(|| panic!("no stderr"))));
    let mut peak_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
            panic!("still running after 30 s");
        }
        peak_kib = peak_kib.max(resident_kib(child.id()));
        std::thread::sleep(Duration::from_millis(10));
    };
    let (listed, text) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    assert_eq!(status.code(), Some(3), "{text}");
    assert!(peak_kib < 256 * 1024, "{peak_kib} KiB resident for 10^12 shards");
    assert!(text.lines().count() < 2000, "{} lines on stderr", text.lines().count());
    assert!(text.contains("2 done, 0 failed, 999999999998 missing of 1000000000000 points"), "{text}");
    assert!(text.contains("shard 1/1000000000000 has no results file"), "{text}");
    assert!(!text.contains("shard 2/1000000000000 has no results file"), "{text}");
    assert!(text.contains("999999998998 more shards have no results file (the first 1000 are listed)"), "{text}");
    assert!(text.contains("points have no value (shards 1, 3-1001 and 999999998998 more); rerun them"), "{text}");
    assert_eq!(listed.lines().count(), 1000);
    assert_eq!(listed.lines().next(), Some("shard 1/1000000000000  missing  #1 a=0 b=1"), "{listed}");
    let merged: Vec<usize> = sandbox.load("huge.jsonl").records.iter().map(|r| r.index).collect();
    assert_eq!(merged, [0, 2]);
}

/// The tasks run from the submitting directory: a program given as a path
/// that is not there is refused before any script is written; a bare name
/// missing here only warns, since the compute nodes' PATH may differ.
#[test]
fn slurm_checks_the_program_before_writing_a_script() {
    let sandbox = Sandbox::new();
    sandbox.spec("local.ron", r#"(space: Range(name: "k", start: 0, end: 4), command: ["./nosuchsim", "{k}"])"#);
    let output = sandbox.sweep(&["slurm", "local.ron", "--tasks", "2"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("\"./nosuchsim\" cannot be run"), "{}", stderr(&output));
    let names: Vec<_> = std::fs::read_dir(sandbox.root()).unwrap_or_else(|e| panic!("{e}")).collect();
    assert_eq!(names.len(), 1, "only the spec: no script, no log directory");

    sandbox.spec(
        "bare.ron",
        r#"(space: Range(name: "k", start: 0, end: 4), command: ["parsweep-no-such-program", "{k}"])"#,
    );
    sandbox.spec("fine.ron", r#"(space: Range(name: "k", start: 0, end: 4), command: ["echo", "{k}"])"#);
    let bare = sandbox.sweep(&["slurm", "bare.ron", "--tasks", "2"]);
    let fine = sandbox.sweep(&["slurm", "fine.ron", "--tasks", "2"]);
    assert!(stderr(&bare).contains("warning: program \"parsweep-no-such-program\""), "{}", stderr(&bare));
    assert!(!stderr(&fine).contains("warning: program"), "{}", stderr(&fine));
    assert_eq!(bare.status.code(), fine.status.code(), "{}", stderr(&bare));
}

/// The array tasks run `sweep run SPEC` on other nodes, so a spec given as
/// this process's input (`/dev/stdin`, redirected from a file or piped)
/// would be read there from their own, empty, input: refused (2), no
/// script written.
#[cfg(unix)]
#[test]
fn slurm_refuses_a_spec_read_from_this_process_input() {
    use std::io::Write as _;
    let sandbox = Sandbox::new();
    let spec = sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    let text = std::fs::read(&spec).unwrap_or_default();
    let redirected = std::fs::File::open(&spec).unwrap_or_else(|e| panic!("{e}"));
    let from_file = sandbox
        .command(&["slurm", "/dev/stdin", "--tasks", "2"])
        .stdin(redirected)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut piping = sandbox
        .command(&["slurm", "/dev/stdin", "--tasks", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // The refusal may come before the spec is written: a broken pipe then.
    let _ = piping.stdin.take().map(|mut stdin| stdin.write_all(&text));
    let piped = piping.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    for output in [from_file, piped] {
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains("Save the spec to a file"), "{}", stderr(&output));
    }
    let scripts: Vec<_> = std::fs::read_dir(sandbox.root())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".sbatch"))
        .collect();
    assert!(scripts.is_empty(), "no script may be written: {scripts:?}");
}
