//! Outside referees' attacks on the `bench-harness` command line: what
//! the other tests left out (stale outputs of a replaced report, another
//! experiment's report replaced only when asked, samples no run could have
//! measured, the LaTeX output of a suspect measurement and its rounding, a
//! misleading hint).

mod common;

use std::path::{Path, PathBuf};

use bench_harness::analysis::analyze;
use bench_harness::config::Plan;
use bench_harness::machine::{Conditions, Machine};
use bench_harness::measure::{cells, Sample};
use bench_harness::report::{ExperimentReport, RunStatus};
use common::{harness, stderr, with_config};

const SMALL: &str = r#"(experiments: [(name: "small", workload: Square, inputs: Count(8), workers: [1, 2],
    repetitions: 3, warmup: 0, backends: [Sequential, Pool])])"#;

/// `bench-harness A.ron --out out`, then `B.ron --out out`, both with an
/// experiment "small": B has one worker count, so it draws no overhead
/// chart (that needs 1 < p). A's charts used to stay beside B's
/// results.json and summary where B drew none: a reader opening
/// out/small/speedup.png saw the old experiment (Square, workers 1 and 2)
/// as if it were the new one. Every chart there now is one B drew.
#[test]
fn a_fresh_run_leaves_no_chart_of_the_report_it_replaced() {
    let chunks = SMALL.replace("workers: [1, 2],", "workers: [1, 2], chunk_sizes: [Fixed(1), Fixed(4)],");
    let dir = with_config(&chunks);
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let report = dir.path().join("out/small");
    // Needs 2 cores: the overhead is defined for 1 < p ≤ cores.
    assert!(report.join("overhead.svg").is_file(), "the first run draws its charts");
    let one_worker = chunks.replace("workers: [1, 2]", "workers: [1]").replace("Square", "Spin(duration_us: 5)");
    std::fs::write(dir.path().join("other.ron"), one_worker).unwrap();
    let replaced_at = std::time::SystemTime::now();
    // Another definition of "small": replaced only when asked to.
    let output = harness(&["other.ron", "--out", "out", "--yes"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let written_before = |entry: &std::fs::DirEntry| entry.metadata().and_then(|m| m.modified()).unwrap() < replaced_at;
    let stale: Vec<String> = std::fs::read_dir(&report)
        .unwrap()
        .filter_map(Result::ok)
        .filter(written_before)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| ["speedup.", "efficiency.", "backends.", "overhead."].iter().any(|f| name.starts_with(f)))
        .collect();
    assert!(stale.is_empty(), "charts of the replaced report remain: {stale:?}");
    let summary = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(summary.contains("busy-spin 5 µs"), "{summary}");
}

/// A fresh run into an `--out` holding the *complete* report of a
/// differently defined experiment of the same name (another workload)
/// used to delete its samples without a word: an `--out` given by hand may
/// hold a paper's data. It is refused (nothing changed) unless `--yes`
/// says to replace it; a rerun of the same definition replaces its own
/// report, as `reports/latest` does for the main job.
#[test]
fn a_fresh_run_replaces_another_experiments_complete_report_only_when_asked() {
    let dir = with_config(SMALL);
    assert!(harness(&["experiments.ron", "--out", "out"], dir.path()).status.success());
    let samples_path = dir.path().join("out/small/samples.csv");
    let samples = std::fs::read_to_string(&samples_path).unwrap();
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("out/small"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = listing();
    std::fs::write(dir.path().join("other.ron"), SMALL.replace("Square", "Spin(duration_us: 5)")).unwrap();

    let output = harness(&["other.ron", "--out", "out"], dir.path());
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("differently defined experiment \"small\"") && message.contains("--yes"), "{message}");
    assert_eq!(std::fs::read_to_string(&samples_path).unwrap(), samples, "the refused run changed the samples");
    assert_eq!(listing(), before, "the refused run changed the report");

    // The same definition again: its own report, replaced as before.
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));

    let output = harness(&["other.ron", "--out", "out", "--yes"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = std::fs::read_to_string(dir.path().join("out/small/summary.md")).unwrap();
    assert!(summary.contains("busy-spin 5 µs"), "--yes did not replace the report:\n{summary}");
}

/// An experiment with made-up samples, saved as a run saves it (its
/// `results.json` and `samples.csv`) under `root/run/<name>/`: every cell at
/// `p` workers takes `seconds(p)`, times 1.000 to 1.004 over 5 repetitions.
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

/// The value of `\renewcommand{\NAME}{VALUE}` in `tex`.
fn macro_value<'a>(tex: &'a str, name: &str) -> Option<&'a str> {
    let start = format!("\\renewcommand{{\\{name}}}{{");
    let line = tex.lines().find(|l| l.contains(&start))?;
    let value = &line[line.find(&start)? + start.len()..];
    value.strip_suffix('}')
}

/// T1 = 1 s, T2 = 0.2 s (S = 5 at p = 2: no scheduler does that; the
/// Markdown table and the charts say "suspect"), T4 = 0.4 s (S = 2.5).
/// summary.tex printed S = 5 in its table unmarked, as
/// `\bhSusPoolPTwoSpeedup` = 5.00 and as the headline
/// `\bhSusPoolBestSpeedup` = 5.00 at 2 workers: a paper quoting the macro
/// reported as a result what the harness itself calls not one.
#[test]
fn summary_tex_marks_a_suspect_speedup_and_never_makes_it_the_headline() {
    let root = tempfile::tempdir().unwrap();
    let seconds = |p: usize| match p {
        0 | 1 => 1.0,
        2 => 0.2,
        _ => 0.4,
    };
    saved(root.path(), "sus", "[1, 2, 4]", seconds);
    let output = harness(&["report", "run", "--format", "svg"], root.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let markdown = std::fs::read_to_string(root.path().join("run/sus/summary.md")).unwrap();
    assert!(markdown.contains("**S > p: suspect**"), "the Markdown table marks it:\n{markdown}");
    let tex = std::fs::read_to_string(root.path().join("run/sus/summary.tex")).unwrap();
    let row = tex.lines().find(|l| l.starts_with("pool & 2 &")).expect("a row for pool at p = 2");
    assert!(row.contains("suspect"), "the LaTeX table does not mark it: {row}");
    assert_eq!(macro_value(&tex, "bhSusPoolPTwoSpeedup"), Some("$S > p$: suspect"), "{tex}");
    assert_eq!(macro_value(&tex, "bhSusPoolBestWorkers"), Some("4"), "{tex}");
    assert!(macro_value(&tex, "bhSusPoolBestSpeedup").is_some_and(|v| v.starts_with("2.5")), "{tex}");
}

/// The README: "every figure is rounded to the digits its interval
/// supports". The macros of summary.tex were not: a fixed 2 decimals for
/// speedups and 3 digits for times, so `\bh…Time` quoted "250\,ms" where the
/// table beside it says 250.5 [250.0, 251.0] ms, and a speedup of
/// 2.0 [0.4, 4.2] became "1.96" in the text.
#[test]
fn summary_tex_macros_are_rounded_as_the_table_is() {
    let root = tempfile::tempdir().unwrap();
    saved(root.path(), "prec", "[1, 2]", |p| if p == 2 { 0.2505 } else { 0.501 });
    let output = harness(&["report", "run", "--format", "svg"], root.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let tex = std::fs::read_to_string(root.path().join("run/prec/summary.tex")).unwrap();
    let row = tex.lines().find(|l| l.starts_with("pool & 2 &")).expect("a row for pool at p = 2");
    let fields: Vec<&str> = row.split(" & ").collect();
    // "250.5 [250.0, 251.0]\,ms": the median as the table rounds it, and its unit.
    let (median, unit) = (fields[3].split(" [").next().unwrap(), fields[3].rsplit("\\,").next().unwrap());
    assert_eq!(macro_value(&tex, "bhPrecPoolPTwoTime"), Some(format!("{median}\\,{unit}").as_str()), "{row}");
    let speedup = fields[4].split(" [").next().unwrap();
    assert_eq!(macro_value(&tex, "bhPrecPoolPTwoSpeedup"), Some(speedup), "{row}");
}

/// `MemoryBound(bytes: 10^18)` on 8 inputs is refused for its buffers, with
/// the advice to "use fewer inputs", which cannot help: the buffers are
/// per worker, whatever the inputs.
#[test]
fn a_memory_bound_workload_too_big_names_its_bytes_not_the_inputs() {
    let dir = with_config(&SMALL.replace("Square", "MemoryBound(bytes: 1000000000000000000)"));
    let output = harness(&["experiments.ron", "--out", "out"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("need about") && message.contains("`bytes`"), "{message}");
    assert!(!message.contains("use fewer inputs"), "{message}");
    assert!(!dir.path().join("out").exists());
}

/// A saved sample no run could have measured (a hand-edited or damaged
/// file: negative, zero, or 10^300 s) was redrawn into nonsense: a time
/// interval of [-1.0, ...] s, or hundreds of digits. `report` now refuses it
/// (status 1) and names the sample, in results.json and in samples.csv.
#[test]
fn report_refuses_a_sample_no_run_could_have_measured() {
    for bad in [-1.0, 0.0, 1e300] {
        let root = tempfile::tempdir().unwrap();
        let dir = saved(root.path(), "bad", "[1, 2]", |p| if p == 0 { bad } else { 0.5 });
        let output = harness(&["report", "run", "--format", "svg"], root.path());
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{bad}: {message}");
        assert!(message.contains("sequential repetition 0") && message.contains("not a measured time"), "{message}");
        assert!(!dir.join("summary.md").exists(), "{bad}: a report was drawn from it");
    }
}

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

/// `compare`'s default `--out`, `reports/latest/compare`, was the report
/// directory of an experiment named `compare` in the default `--out` of a
/// run: the comparison landed among that experiment's files. It goes to
/// `reports/compare` now, and an `--out` that is a report directory is
/// refused.
#[test]
fn compare_never_writes_into_an_experiments_report() {
    let root = tempfile::tempdir().unwrap();
    let report = saved(root.path(), "compare", "[1, 2]", |p| 1.0 / p.max(1) as f64);
    std::fs::create_dir_all(root.path().join("reports")).unwrap();
    std::fs::rename(root.path().join("run"), root.path().join("reports/latest")).unwrap();
    let report = root.path().join("reports/latest").join(report.file_name().unwrap());
    let before = listing(&report);
    let other = saved(&root.path().join("other"), "compare", "[1, 2]", |p| 2.0 / p.max(1) as f64);
    let other_run = other.parent().unwrap().to_str().unwrap();
    let output = harness(&["compare", "reports/latest", other_run, "--format", "svg"], root.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(root.path().join("reports/compare/comparison.md").is_file(), "{}", stderr(&output));
    assert!(listing(&report) == before, "compare wrote into the experiment's report");

    let output = harness(&["compare", "reports/latest", other_run, "--out", "reports/latest/compare"], root.path());
    // An --out the command refuses is bad input (2), as other refused
    // arguments are; it exited 1, "could not be carried out".
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("is an experiment's report directory"), "{}", stderr(&output));
    assert!(listing(&report) == before, "compare wrote into the experiment's report");

    // So is a `report --out` that names another run's report directory.
    let output = harness(&["report", "reports/latest", "--out", other_run], root.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("holds the results of another run"), "{}", stderr(&output));
    assert!(listing(&report) == before, "report wrote into the experiment's report");
}

/// `report run/spin --out run/sleep` wrote run/sleep/spin/ among another
/// experiment's report files (status 0), where `compare --out run/sleep`
/// was refused; and an `--out` that is a regular file ended in "creating
/// …: File exists (os error 17)", status 1. One check refuses both commands
/// now, as bad input (2), with nothing written.
#[test]
fn report_and_compare_refuse_an_out_that_is_a_report_directory_or_a_file() {
    let root = tempfile::tempdir().unwrap();
    saved(root.path(), "spin", "[1, 2]", |p| 1.0 / p.max(1) as f64);
    let sleep = saved(root.path(), "sleep", "[1, 2]", |p| 2.0 / p.max(1) as f64);
    let other = saved(&root.path().join("other"), "spin", "[1, 2]", |p| 1.5 / p.max(1) as f64);
    std::fs::write(root.path().join("somefile"), "a user's file\n").unwrap();
    let before = listing(&sleep);
    let other_run = other.parent().unwrap().to_str().unwrap();
    for (args, refusal) in [
        (vec!["report", "run/spin", "--out", "run/sleep"], "is an experiment's report directory (it holds"),
        (vec!["compare", "run/spin", other_run, "--out", "run/sleep"], "is an experiment's report directory (it holds"),
        (vec!["report", "run/spin", "--out", "somefile"], "--out somefile is a file: --out must be a directory"),
        (
            vec!["compare", "run/spin", other_run, "--out", "somefile"],
            "--out somefile is a file: --out must be a directory",
        ),
    ] {
        let output = harness(&args, root.path());
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(refusal), "{args:?}: {}", stderr(&output));
        assert!(listing(&sleep) == before, "{args:?} wrote into another experiment's report");
        assert_eq!(std::fs::read_to_string(root.path().join("somefile")).unwrap(), "a user's file\n");
    }
}

/// `report run --out notes` replaced a user's notes/spin/summary.md, and
/// `compare run other/run --out notes` their notes/comparison.md, without a
/// word (status 0). Like a run into an `--out/<name>/` that is no report,
/// both refuse (2) to write over a file they did not write, naming it, and
/// leave the directory as it was; their own files they replace.
#[test]
fn report_and_compare_never_replace_a_users_file_in_their_out() {
    let root = tempfile::tempdir().unwrap();
    saved(root.path(), "spin", "[1, 2]", |p| 1.0 / p.max(1) as f64);
    saved(&root.path().join("other"), "spin", "[1, 2]", |p| 1.5 / p.max(1) as f64);
    let report = |out: &str| harness(&["report", "run", "--out", out, "--format", "svg"], root.path());
    let compare = |out: &str| harness(&["compare", "run", "other/run", "--out", out, "--format", "svg"], root.path());
    for _ in 0..2 {
        for output in [report("drawn"), compare("compared")] {
            assert!(output.status.success(), "{}", stderr(&output));
        }
    }
    assert!(
        root.path().join("drawn/spin/summary.md").is_file() && root.path().join("compared/comparison.md").is_file()
    );

    let notes = root.path().join("notes");
    std::fs::create_dir_all(notes.join("spin")).unwrap();
    std::fs::write(notes.join("spin/summary.md"), "my notes\n").unwrap();
    std::fs::write(notes.join("comparison.md"), "my comparison\n").unwrap();
    let (before, before_spin) = (listing(&notes), listing(&notes.join("spin")));
    for (output, file) in [(report("notes"), "summary.md"), (compare("notes"), "comparison.md")] {
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains(&format!("bench-harness did not write ({file})")), "{message}");
        assert!(listing(&notes) == before && listing(&notes.join("spin")) == before_spin, "{message}");
    }
}

/// A line break in a `compare --names` name ended comparison.md's table
/// row inside a cell and started rows of its own (status 0); no escaping
/// can keep it in its cell, so it is refused as bad input (2), nothing written.
#[test]
fn compare_refuses_a_name_of_several_lines() {
    let root = tempfile::tempdir().unwrap();
    saved(root.path(), "spin", "[1, 2]", |p| 1.0 / p.max(1) as f64);
    saved(&root.path().join("other"), "spin", "[1, 2]", |p| 1.5 / p.max(1) as f64);
    let output =
        harness(&["compare", "run", "other/run", "--names", "old\n| x | y |,new", "--out", "drawn"], root.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("holds a control character"), "{}", stderr(&output));
    assert!(!root.path().join("drawn").exists(), "a refused comparison was written");
}

/// A chart too small for its text failed the report, and left the `--out`
/// directory it had created behind, empty. The size and text scale asked
/// for are to blame: bad input (2).
#[test]
fn a_report_that_fails_to_draw_leaves_no_empty_directory() {
    let root = tempfile::tempdir().unwrap();
    saved(root.path(), "cramped", "[1, 2, 4]", |p| 1.0 / p.max(1) as f64);
    let args = ["report", "run", "--out", "new/charts", "--width", "400", "--height", "300", "--font-scale", "4"];
    let output = harness(&args, root.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("pixels for the plot"), "{}", stderr(&output));
    assert!(!root.path().join("new").exists(), "the failed report left its directory behind");
}

/// One run given twice (or a copy of it beside the original) drew both into
/// the one directory named for its machine and date, the second over the
/// first; `compare` of a side holding two runs of one experiment compared
/// it twice, into one chart; `compare` of a run with itself (or with its
/// copy) exited 0 with p = 1.000 in every cell. All are refused, and
/// nothing is written.
#[test]
fn the_same_run_twice_is_refused_not_drawn_over_itself() {
    let root = tempfile::tempdir().unwrap();
    let run = saved(root.path(), "twice", "[1, 2]", |p| 1.0 / p.max(1) as f64);
    let copies = root.path().join("copies");
    for copy in ["a", "b"] {
        std::fs::create_dir_all(copies.join(copy)).unwrap();
        for file in ["results.json", "samples.csv"] {
            std::fs::copy(run.join(file), copies.join(copy).join(file)).unwrap();
        }
    }
    for args in [
        &["report", "run/twice", "run/twice", "--out", "drawn"][..],
        &["report", "run", "copies/a", "--out", "drawn"],
        &["compare", "copies", "run", "--out", "drawn"],
        &["compare", "run", "run", "--out", "drawn"],
        &["compare", "run/twice", "copies/a", "--out", "drawn"],
    ] {
        let output = harness(args, root.path());
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("\"twice\""), "{args:?}: {}", stderr(&output));
        if args[0] == "compare" && args[1] != "copies" {
            assert!(stderr(&output).contains("hold the same run"), "{args:?}: {}", stderr(&output));
        }
        assert!(!root.path().join("drawn").exists(), "{args:?} wrote a report");
    }
}

/// A `report` stopped by SIGTERM while replacing a chart left its
/// `.<chart>.<pid>.tmp` behind, and the next `report` removed only its
/// staging directory. It removes both now; a hidden file of the user's
/// stays.
#[test]
fn report_removes_the_temporary_files_a_stopped_report_left() {
    let root = tempfile::tempdir().unwrap();
    let report = saved(root.path(), "left", "[1, 2]", |p| 1.0 / p.max(1) as f64);
    let output = harness(&["report", "run", "--format", "svg"], root.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let stale = [".speedup.png.4242.tmp", ".summary.md.77.tmp", ".speedup.svg.5.tmp"];
    for name in stale {
        std::fs::write(report.join(name), "half written").unwrap();
    }
    std::fs::write(report.join(".notes.1.tmp"), "mine").unwrap();
    let output = harness(&["report", "run", "--format", "svg"], root.path());
    assert!(output.status.success(), "{}", stderr(&output));
    for name in stale {
        assert!(!report.join(name).exists(), "{name} left behind");
    }
    assert_eq!(std::fs::read_to_string(report.join(".notes.1.tmp")).unwrap(), "mine");
}
