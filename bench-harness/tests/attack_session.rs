//! A second outside referee's attacks on what the last commits changed in
//! `bench-harness`: a fresh run replacing another experiment's complete
//! report only when asked, the refusal of samples no run could have
//! measured, and the LaTeX macros of suspect speedups.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bench_harness::analysis::analyze;
use bench_harness::config::Plan;
use bench_harness::machine::{Conditions, Machine};
use bench_harness::measure::{cells, Sample};
use bench_harness::report::{ExperimentReport, RunStatus};

fn harness(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench-harness")).args(args).current_dir(dir).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const SMALL: &str = r#"(experiments: [(name: "small", workload: Square, inputs: Count(8), workers: [1, 2],
    repetitions: 3, warmup: 0, backends: [Sequential, Pool])])"#;

/// The files of `dir`, sorted, with their contents.
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap_or_default()))
        .collect();
    files.sort();
    files
}

/// A complete report whose `samples.csv` is gone (deleted to save space,
/// or never copied: `results.json` holds every sample, and `report` redraws
/// from it) or holds only its header: a fresh run of a differently defined
/// experiment of the same name replaced it without a word, because the
/// check looked at the complete report only when samples.csv had rows.
#[test]
fn another_experiments_complete_report_without_samples_csv_is_not_replaced_unasked() {
    for emptied in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.ron"), SMALL).unwrap();
        std::fs::write(dir.path().join("b.ron"), SMALL.replace("Square", "Spin(duration_us: 5)")).unwrap();
        let output = harness(&["a.ron", "--out", "out"], dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
        let report = dir.path().join("out/small");
        let csv = report.join("samples.csv");
        if emptied {
            let text = std::fs::read_to_string(&csv).unwrap();
            std::fs::write(&csv, format!("{}\n", text.lines().next().unwrap())).unwrap();
        } else {
            std::fs::remove_file(&csv).unwrap();
        }
        let before = listing(&report);
        let output = harness(&["b.ron", "--out", "out"], dir.path());
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "emptied {emptied}: {message}");
        assert!(message.contains("differently defined experiment \"small\""), "{message}");
        assert!(listing(&report) == before, "emptied {emptied}: the refused run changed the report");
        // Its own rerun still replaces it, and --yes replaces it.
        let output = harness(&["a.ron", "--out", "out"], dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
        let output = harness(&["b.ron", "--out", "out", "--yes"], dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
    }
}

/// An experiment with made-up samples, saved as a run saves it, under
/// `root/run/<name>/` (as in `attack_cli.rs`).
fn saved(root: &Path, name: &str, workers: &str, seconds: impl Fn(usize) -> f64) -> PathBuf {
    let text = format!(
        "(experiments: [(name: \"{name}\", workload: Square, inputs: Count(1000), workers: {workers}, \
         repetitions: 5, warmup: 0, backends: [Sequential, Pool])])"
    );
    let experiment = Plan::parse(&text, Path::new("t.ron")).unwrap().experiments.remove(0);
    let mut samples = Vec::new();
    for cell in cells(&experiment) {
        for repetition in 0..5u32 {
            let base = if cell.backend.is_parallel() { seconds(cell.workers) } else { seconds(0) };
            samples.push(Sample {
                experiment: name.to_owned(),
                cell,
                repetition,
                seconds: base * (1.0 + 0.001 * f64::from(repetition)),
            });
        }
    }
    let mut machine = Machine::detect();
    machine.logical_cores = 4;
    let analysis = analyze(&experiment, &samples, 4);
    let report = ExperimentReport {
        status: RunStatus::Complete,
        machine,
        conditions: Conditions::default(),
        experiment,
        samples,
        analysis,
    };
    let dir = root.join("run").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    bench_harness::report::csv::write_samples_csv(&dir.join("samples.csv"), &report.samples).unwrap();
    bench_harness::report::json::write_results_json(&dir.join("results.json"), &report).unwrap();
    dir
}

/// A subnormal sample (5e-324 s) is positive, so it passed the check that
/// refuses zero "because a zero makes every speedup infinite", and made the
/// speedup infinite: `report` then failed while drawing, naming no sample
/// ("series 'pool' has a non-finite value at x = 2 (y = inf, ...)"). No
/// clock measures less than a nanosecond: refused like zero, naming it.
#[test]
fn report_refuses_a_sample_below_a_nanosecond_naming_it() {
    for bad in [5e-324, 1e-12] {
        let root = tempfile::tempdir().unwrap();
        let dir = saved(root.path(), "tiny", "[1, 2]", |p| if p == 2 { bad } else { 0.5 });
        let output = harness(&["report", "run", "--format", "svg"], root.path());
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{bad}: {message}");
        assert!(message.contains("not a measured time"), "{bad}: {message}");
        assert!(!dir.join("summary.md").exists(), "{bad}: a report was drawn from it");
    }
}

/// The value of `\renewcommand{\NAME}{VALUE}` in `tex`.
fn macro_value<'a>(tex: &'a str, name: &str) -> Option<&'a str> {
    let start = format!("\\renewcommand{{\\{name}}}{{");
    let line = tex.lines().find(|l| l.contains(&start))?;
    let value = &line[line.find(&start)? + start.len()..];
    value.strip_suffix('}')
}

/// Every parallel speedup suspect (S = 5 at p = 2, S = 10 at p = 4): the
/// suspect points are kept out of `\bh…BestSpeedup`, and with none left the
/// macros `\bh…PoolBestSpeedup` and `…BestWorkers` were not written at all,
/// so a paper quoting them stopped compiling (undefined control sequence)
/// the day its data turned suspect. They are written, saying so.
#[test]
fn best_speedup_macros_exist_when_every_speedup_is_suspect() {
    let root = tempfile::tempdir().unwrap();
    saved(root.path(), "allsus", "[2, 4]", |p| match p {
        0 => 1.0,
        2 => 0.2,
        _ => 0.1,
    });
    let output = harness(&["report", "run", "--format", "svg"], root.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let tex = std::fs::read_to_string(root.path().join("run/allsus/summary.tex")).unwrap();
    assert_eq!(macro_value(&tex, "bhAllsusPoolPTwoSpeedup"), Some("$S > p$: suspect"), "{tex}");
    assert_eq!(macro_value(&tex, "bhAllsusPoolBestSpeedup"), Some("$S > p$: suspect"), "{tex}");
    assert!(macro_value(&tex, "bhAllsusPoolBestWorkers").is_some(), "{tex}");
}
