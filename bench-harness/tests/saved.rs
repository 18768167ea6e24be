//! Outputs rebuilt from saved results: `report` (redraw, several machines,
//! LaTeX and pgfplots) and `compare`, on reports built by hand.

use std::path::Path;

use bench_harness::analysis::analyze;
use bench_harness::comparison::{compare_dirs, compare_reports, Threshold};
use bench_harness::config::Plan;
use bench_harness::machine::{Conditions, Machine};
use bench_harness::measure::{cells, Sample};
use bench_harness::redraw::{redraw, RedrawOptions};
use bench_harness::report::charts::{Canvas, Format};
use bench_harness::report::json::write_results_json;
use bench_harness::report::{ExperimentReport, RunStatus};

/// An experiment whose samples are made up: every cell at `p` workers
/// takes `base / min(p, 2)` seconds, times a little deterministic jitter.
fn report(name: &str, workers: &str, base: f64, host: &str) -> ExperimentReport {
    let text = format!(
        "(experiments: [(name: \"{name}\", workload: Square, inputs: Count(1000), workers: {workers}, \
         repetitions: 12, warmup: 0, backends: [Sequential, Pool, StdScope])])"
    );
    let experiment = Plan::parse(&text, Path::new("t.ron")).unwrap().experiments.remove(0);
    let mut samples = Vec::new();
    for cell in cells(&experiment) {
        for repetition in 0..12u32 {
            let jitter = 1.0 + 0.01 * f64::from((repetition * 7 + cell.workers as u32) % 5);
            let seconds = base / (cell.workers.min(2) as f64) * jitter;
            samples.push(Sample { experiment: name.to_owned(), cell, repetition, seconds });
        }
    }
    let mut machine = Machine::detect();
    machine.hostname = host.to_owned();
    machine.logical_cores = 2;
    let analysis = analyze(&experiment, &samples, 2);
    ExperimentReport {
        status: RunStatus::Complete,
        machine,
        conditions: Conditions::default(),
        experiment,
        samples,
        analysis,
    }
}

/// Saves `report` as a run does, but only its `results.json` (all that
/// `report` and `compare` read; drawing every chart would only slow the test).
fn saved(dir: &Path, report: &ExperimentReport) {
    let dir = dir.join(report.experiment.name.as_str());
    std::fs::create_dir_all(&dir).unwrap();
    write_results_json(&dir.join("results.json"), report).unwrap();
}

#[test]
fn compare_detects_a_slowdown_and_not_an_identical_run() {
    let a = report("e", "[1, 2, 4]", 1e-3, "host-a");
    let slower = report("e", "[1, 2, 4]", 1.5e-3, "host-a");
    let comparison = compare_reports(&a, &slower, Threshold::default());
    assert!(comparison.refused.is_empty() && comparison.machine_differences.is_empty());
    assert_eq!(comparison.cells.len(), cells(&a.experiment).len());
    for cell in &comparison.cells {
        assert_eq!(cell.verdict(), "slower", "{}", cell.cell);
        assert!((cell.comparison.ratio.value - 1.5).abs() < 1e-9, "{}", cell.cell);
        assert!(cell.comparison.test.p_value < 1e-4, "{}", cell.cell);
    }
    let same = compare_reports(&a, &a.clone(), Threshold::default());
    assert!(same.cells.iter().all(|c| c.verdict() == "no significant difference" && c.comparison.ratio.value == 1.0));
}

#[test]
fn compare_refuses_cells_that_do_not_match_and_warns_about_machines() {
    let a = report("e", "[1, 2]", 1e-3, "host-a");
    let b = report("e", "[2, 4]", 1e-3, "host-b");
    let comparison = compare_reports(&a, &b, Threshold::default());
    assert_eq!(comparison.machine_differences, ["host: host-a → host-b"]);
    assert!(comparison.revisions.0.starts_with("parsweep "), "{:?}", comparison.revisions);
    let refused = comparison.refused.join("\n");
    assert!(refused.contains("pool ×1 chunk auto: measured in A only"), "{refused}");
    assert!(refused.contains("std-scope ×4: measured in B only"), "{refused}");
    assert!(comparison
        .cells
        .iter()
        .all(|c| c.cell.workers != 4 && c.cell.workers != 1 || !c.cell.backend.is_parallel()));
    // A different problem: nothing is compared.
    let mut other = report("e", "[1, 2]", 1e-3, "host-a");
    other.experiment.workload = bench_harness::workload::Workload::Spin { duration_us: 5 };
    let comparison = compare_reports(&a, &other, Threshold::default());
    assert!(comparison.cells.is_empty());
    assert!(comparison.refused[0].contains("different problems"), "{:?}", comparison.refused);
}

#[test]
fn compare_dirs_writes_the_table_and_the_overlay_chart() {
    let root = tempfile::tempdir().unwrap();
    let (a, b, out) = (root.path().join("a"), root.path().join("b"), root.path().join("out"));
    saved(&a, &report("e", "[1, 2, 4]", 1e-3, "host-a"));
    let mut faster = report("e", "[1, 2, 4]", 0.5e-3, "host-b");
    faster.machine.code_revision = Some("v2".to_owned());
    saved(&b, &faster);
    saved(&b, &report("only-b", "[1, 2]", 1e-3, "host-b"));
    let (markdown, written) = compare_dirs(&a, &b, ("old", "new"), &out, &[Format::Svg], Threshold::default()).unwrap();
    // Each median with the interval its own summary prints, to the digits that interval supports.
    assert!(
        markdown.contains("| pool ×2 chunk auto | 510 [505, 518] µs | 255.0 [252.5, 258.8] µs | 0.500 [0.490, 0.510]"),
        "{markdown}"
    );
    assert!(markdown.contains("**Warning: the machine records differ** (old → new): host: host-a → host-b"));
    assert!(markdown.contains("(old) and v2 (new)"), "{markdown}");
    // The chart linked is one that was written.
    assert!(markdown.contains("](e-speedup.svg)") && !markdown.contains("speedup.png"), "{markdown}");
    assert!(
        markdown.contains(
            "## Experiment `only-b`

Not compared: it is in new only."
        ),
        "{markdown}"
    );
    assert!(out.join("e-speedup.svg").is_file() && out.join("comparison.md").is_file(), "{written:?}");
    // Nothing in common: an error, not an empty report.
    let empty = root.path().join("empty");
    saved(&empty, &report("x", "[1, 2]", 1e-3, "host-a"));
    assert!(compare_dirs(&a, &empty, ("a", "b"), &out, &[Format::Svg], Threshold::default()).is_err());
}

/// `compare --names 'old|run,new*run'` exited 0 with a table header of
/// extra columns (`|` ends a cell) and emphasis started by `*`. The names
/// are escaped wherever comparison.md spells them, so each reads as given.
#[test]
fn compare_names_are_markdown_text_not_markup() {
    let root = tempfile::tempdir().unwrap();
    let (a, b, out) = (root.path().join("a"), root.path().join("b"), root.path().join("out"));
    saved(&a, &report("e", "[1, 2]", 1e-3, "host-a"));
    saved(&b, &report("e", "[1, 2]", 0.5e-3, "host-b"));
    saved(&b, &report("only-b", "[1, 2]", 1e-3, "host-b"));
    let names = ("old|run", "new*run_<b>");
    let (markdown, _) = compare_dirs(&a, &b, names, &out, &[Format::Svg], Threshold::default()).unwrap();
    assert_eq!(std::fs::read_to_string(out.join("comparison.md")).unwrap(), markdown);
    // Cells end at unescaped pipes only: every row of the table has the separator row's columns.
    let cells = |line: &str| line.replace("\\|", "").matches('|').count();
    let table: Vec<&str> = markdown.lines().filter(|line| line.starts_with('|')).collect();
    let separator = table.iter().find(|line| line.starts_with("|---")).expect("a table");
    assert!(table.len() > 2 && table.iter().all(|line| cells(line) == cells(separator)), "{markdown}");
    assert!(markdown.contains("| median old\\|run [95% CI] | median new\\*run\\_\\<b\\> [95% CI] |"), "{markdown}");
    for spelled in ["# Comparison: new\\*run", "Not compared: it is in new\\*run\\_\\<b\\> only", "(old\\|run)"] {
        assert!(markdown.contains(spelled), "{spelled:?} in {markdown}");
    }
    let unescaped = markdown.replace("\\*", "").replace("\\|", "").replace("\\<", "");
    assert!(!unescaped.contains("new*") && !unescaped.contains("old|") && !unescaped.contains("<b"), "{markdown}");
}

/// Two runs whose every cell is refused (they measured different
/// problems) exited 0 with a comparison.md of refusals only: an error now,
/// saying why, with nothing written.
#[test]
fn compare_with_no_comparable_cell_is_an_error_not_an_empty_report() {
    let root = tempfile::tempdir().unwrap();
    let (a, b, out) = (root.path().join("a"), root.path().join("b"), root.path().join("out"));
    saved(&a, &report("e", "[1, 2]", 1e-3, "host-a"));
    let mut other = report("e", "[1, 2]", 1e-3, "host-a");
    other.experiment.workload = bench_harness::workload::Workload::Spin { duration_us: 5 };
    saved(&b, &other);
    let error = compare_dirs(&a, &b, ("a", "b"), &out, &[Format::Svg], Threshold::default()).unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("nothing to compare") && message.contains("different problems"), "{message}");
    assert!(!out.exists(), "a refused comparison wrote {}", out.display());
    // One comparable experiment is enough: the other's refusal is listed in the report.
    saved(&a, &report("f", "[1, 2]", 1e-3, "host-a"));
    saved(&b, &report("f", "[1, 2]", 1.1e-3, "host-a"));
    let (markdown, _) = compare_dirs(&a, &b, ("a", "b"), &out, &[Format::Svg], Threshold::default()).unwrap();
    assert!(markdown.contains("different problems") && markdown.contains("| pool ×2 chunk auto |"), "{markdown}");
}

#[test]
fn report_redraws_from_results_json_in_any_size_and_draws_machines_together() {
    let root = tempfile::tempdir().unwrap();
    let (laptop, server) = (root.path().join("laptop"), root.path().join("server"));
    saved(&laptop, &report("e", "[1, 2, 4]", 1e-3, "laptop"));
    let mut big = report("e", "[1, 2, 4, 8]", 1e-3, "server");
    big.machine.logical_cores = 16;
    saved(&server, &big);

    let options = RedrawOptions {
        out: None,
        formats: vec![Format::Svg],
        canvas: Canvas { width: 1200, height: 900, font_scale: 1.2, small_print: false },
    };
    let written = redraw(&[laptop.join("e")], &options).unwrap();
    let svg = std::fs::read_to_string(laptop.join("e/speedup.svg")).unwrap();
    assert!(svg.contains("width=\"1200\" height=\"900\""), "{}", &svg[..200]);
    assert!(written.iter().any(|p| p.ends_with("summary.tex")) && written.iter().any(|p| p.ends_with("speedup.dat")));
    let tex = std::fs::read_to_string(laptop.join("e/summary.tex")).unwrap();
    // The macro is rounded as the table rounds it: 2.000 [1.961, 2.030].
    assert!(tex.contains("\\toprule") && tex.contains("\\renewcommand{\\bhEPoolPTwoSpeedup}{2.000}"), "{tex}");
    let dat = std::fs::read_to_string(laptop.join("e/speedup.dat")).unwrap();
    assert!(dat.starts_with("workers pool pool_minus pool_plus std_scope"), "{dat}");

    // Two machines: one figure, labelled by machine; --out is required.
    let error = redraw(&[laptop.clone(), server.clone()], &options).unwrap_err().to_string();
    assert!(error.contains("give --out DIR"), "{error}");
    let out = root.path().join("both");
    let both = RedrawOptions { out: Some(out.clone()), ..options };
    redraw(&[laptop, server], &both).unwrap();
    let combined = std::fs::read_to_string(out.join("e/machines-speedup.svg")).unwrap();
    assert!(combined.starts_with("<svg"));
    assert!(out.join("e/laptop_2_cores/summary.tex").is_file() && out.join("e/server_16_cores/speedup.svg").is_file());
}

/// One run given twice (or a copy of it) gets one machine label twice:
/// its two reports would be drawn into one directory, the second over the
/// first, so `report` refuses before drawing anything.
#[test]
fn report_refuses_one_run_given_twice() {
    let root = tempfile::tempdir().unwrap();
    let (run, copy) = (root.path().join("run"), root.path().join("copy"));
    let once = report("e", "[1, 2]", 1e-3, "host-a");
    saved(&run, &once);
    saved(&copy, &once);
    let out = root.path().join("out");
    let options = RedrawOptions {
        out: Some(out.clone()),
        formats: vec![Format::Svg],
        canvas: Canvas { width: 1200, height: 900, font_scale: 1.0, small_print: false },
    };
    let error = redraw(&[run, copy], &options).unwrap_err().to_string();
    assert!(error.contains("hold the same run of experiment \"e\" (host-a, 2 cores, "), "{error}");
    assert!(error.ends_with("give each run once"), "{error}");
    assert!(!out.join("e").exists(), "drawn before refusing");
}

#[test]
fn report_waits_for_no_run_and_refuses_to_write_beside_one() {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("run");
    saved(&run, &report("e", "[1, 2]", 1e-3, "host-a"));
    let options = RedrawOptions {
        out: None,
        formats: vec![Format::Svg],
        canvas: Canvas { width: 1200, height: 900, font_scale: 1.0, small_print: false },
    };
    // A run (this process, alive) still writes to the directory.
    let lock = bench_harness::run::OutputLock::acquire(&run).unwrap();
    let error = redraw(&[run.join("e")], &options).unwrap_err().to_string();
    assert!(error.contains("another bench-harness run") && error.contains("is writing to"), "{error}");
    assert!(!run.join("e/speedup.svg").exists(), "nothing drawn beside a running harness");
    // The same for --out.
    let out = root.path().join("out");
    let elsewhere = bench_harness::run::OutputLock::acquire(&{
        std::fs::create_dir_all(&out).unwrap();
        out.clone()
    })
    .unwrap();
    let error = redraw(&[run.join("e")], &RedrawOptions { out: Some(out.clone()), ..options.clone() }).unwrap_err();
    assert!(error.to_string().contains("is writing to"), "{error}");
    drop((lock, elsewhere));
    // Once the run is over, in place works, and leaves no lock behind.
    redraw(&[run.join("e")], &options).unwrap();
    assert!(run.join("e/speedup.svg").is_file());
    assert!(!run.join(bench_harness::run::OutputLock::FILE_NAME).exists());
}

#[test]
fn results_written_by_an_older_harness_still_redraw() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("old");
    saved(&dir, &report("e", "[1, 2]", 1e-3, "host-a"));
    // An early results.json: no status, conditions or provenance beyond
    // the first fields, and statistics of another shape.
    let path = dir.join("e/results.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let object = json.as_object_mut().unwrap();
    object.remove("status");
    object.remove("conditions");
    object.insert("analysis".into(), serde_json::json!({"cells": "an older shape"}));
    let machine = object["machine"].as_object_mut().unwrap();
    machine.retain(|key, _| {
        ["logical_cores", "os", "cpu_model", "build_profile", "git_revision", "date_utc"].contains(&key.as_str())
    });
    std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();

    let options = RedrawOptions { out: None, formats: vec![Format::Svg], canvas: Canvas::default() };
    let written = redraw(std::slice::from_ref(&dir), &options).unwrap();
    assert!(written.iter().any(|p| p.ends_with("speedup.svg")), "{written:?}");
    let summary = std::fs::read_to_string(dir.join("e/summary.md")).unwrap();
    assert!(summary.contains("| pool | 2 |"), "{summary}");
}

#[test]
fn compare_takes_two_report_directories_whatever_their_experiments_are_called() {
    // Pinned and unpinned in one run: two experiments, two names.
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("run");
    saved(&run, &report("spin", "[1, 2]", 1e-3, "host-a"));
    saved(&run, &report("spin-pinned", "[1, 2]", 0.5e-3, "host-a"));
    let out = root.path().join("out");
    let (markdown, _) = compare_dirs(
        &run.join("spin"),
        &run.join("spin-pinned"),
        ("free", "pinned"),
        &out,
        &[Format::Svg],
        Threshold::default(),
    )
    .unwrap();
    assert!(markdown.contains("## Experiment `spin`\n\nAgainst pinned's experiment `spin-pinned`."), "{markdown}");
    assert!(markdown.contains("| pool ×2 chunk auto |") && !markdown.contains("Not compared"), "{markdown}");
    // Whole runs are still matched by name.
    let other = root.path().join("other");
    saved(&other, &report("spin", "[1, 2]", 1.1e-3, "host-b"));
    saved(&other, &report("spin-pinned", "[1, 2]", 0.6e-3, "host-b"));
    let (markdown, _) =
        compare_dirs(&run.join("spin"), &other, ("a", "b"), &out, &[Format::Svg], Threshold::default()).unwrap();
    assert!(markdown.contains("## Experiment `spin`\n") && !markdown.contains("Against"), "{markdown}");
}

/// `report A --out B` where B holds another run of the same experiment
/// used to redraw A's summary and charts over B's, beside B's own
/// results.json: B's report then described A's numbers. Refused now,
/// naming the directory, with B untouched; a fresh --out, or A's own
/// directory, still works.
#[test]
fn report_never_draws_over_another_runs_report() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    saved(&a, &report("e", "[1, 2]", 1e-3, "host-a"));
    saved(&b, &report("e", "[1, 2, 4]", 2e-3, "host-b"));
    let options = |out: &Path| RedrawOptions {
        out: Some(out.to_owned()),
        formats: vec![Format::Svg],
        canvas: Canvas { width: 800, height: 600, font_scale: 1.0, small_print: false },
    };
    redraw(std::slice::from_ref(&b), &RedrawOptions { out: None, ..options(&b) }).unwrap();
    let summary = std::fs::read(b.join("e/summary.md")).unwrap();
    let error = redraw(std::slice::from_ref(&a), &options(&b)).unwrap_err().to_string();
    assert!(error.contains("holds the results of another run"), "{error}");
    assert_eq!(std::fs::read(b.join("e/summary.md")).unwrap(), summary, "b's report is b's");
    redraw(std::slice::from_ref(&a), &options(&a)).unwrap();
    redraw(std::slice::from_ref(&a), &options(&root.path().join("fresh"))).unwrap();
    redraw(&[a], &options(&root.path().join("fresh"))).unwrap();
}

/// README said the Mandelbrot examples were "measured with the final code"
/// and that `reports/example/` "is `configs/quick.ron` run", while every
/// report there records an older revision (132302b, dba7ece). It now names
/// the revision each report records, and says they redraw from their
/// saved samples; both are checked against the reports themselves.
#[test]
fn the_readme_names_the_revision_each_example_report_records_and_they_redraw() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(!readme.contains("final code"), "the examples are measurements of older revisions");
    let examples = root.join("../reports/example");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&examples).unwrap() {
        let results = entry.unwrap().path().join("results.json");
        if !results.is_file() {
            continue;
        }
        let report = bench_harness::report::json::read_results_json(&results).unwrap();
        let name = report.experiment.name.to_string();
        let revision = report.machine.git_revision.trim_end_matches("-dirty").to_owned();
        // The first commit named after the report's name is its revision.
        let named = readme.find(&format!("`{name}`")).map(|at| &readme[at..]);
        let commit = named.and_then(|rest| Some(&rest[rest.find("commit ")? + "commit ".len()..]));
        assert!(
            commit.is_some_and(|c| c.starts_with(&revision)),
            "{name} records {revision}; README: {:?}",
            commit.map(|c| c.chars().take(20).collect::<String>())
        );
        checked.push(name);
    }
    assert!(checked.len() >= 6, "{checked:?}");
    let out = tempfile::tempdir().unwrap();
    let options =
        RedrawOptions { out: Some(out.path().to_owned()), formats: vec![Format::Svg], canvas: Canvas::default() };
    redraw(&[examples], &options).unwrap();
    for name in &checked {
        assert!(out.path().join(name).join("summary.md").is_file(), "{name} not redrawn");
    }
}
