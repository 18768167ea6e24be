//! A tiny experiment from file to report: every output is written, the charts
//! decode as real images, and the files agree with each other.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use bench_harness::analysis::analyze;
use bench_harness::config::{BackendKind, Plan};
use bench_harness::custom::Registry;
use bench_harness::machine::Machine;
use bench_harness::report::charts::{Canvas, Format, HEIGHT, WIDTH};
use bench_harness::report::figures::{figures, Figure};
use bench_harness::report::json::read_results_json;
use bench_harness::report::{write_report, ExperimentReport};
use bench_harness::run::run_experiment;
use indicatif::ProgressBar;

const TINY: &str = r#"(
    experiments: [
        (
            name: "tiny",
            description: Some("End-to-end test."),
            workload: Spin(duration_us: 20),
            inputs: Count(24),
            workers: [1, 2, 3],
            chunk_sizes: [Fixed(1), Fixed(4), Auto],
            repetitions: 2,
            warmup: 0,
            backends: [Sequential, Pool, StdScope, Rayon],
        ),
    ],
)"#;

/// Decodes a PNG and returns (width, height, number of distinct RGB colours).
fn decode(path: &Path) -> (u32, u32, usize) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}: PNG signature", path.display());
    assert_eq!(&bytes[12..16], b"IHDR", "{}: first chunk is IHDR", path.display());
    let mut reader = png::Decoder::new(File::open(path).unwrap()).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    let colours: HashSet<&[u8]> =
        pixels[..frame.buffer_size()].chunks(channels).map(|pixel| &pixel[..3.min(channels)]).collect();
    (frame.width, frame.height, colours.len())
}

/// `figure` without the text that depends on how busy the machine was while
/// measuring: busy-machine warnings and suspect speedups in the small print,
/// and the suspect marks of the legend.
fn without_load_dependent_text(figure: &Figure) -> Figure {
    let mut quiet = figure.clone();
    let (notes, series) = match &mut quiet {
        Figure::Speedup(chart) | Figure::Efficiency(chart) => (&mut chart.notes, &mut chart.series),
        Figure::Overhead(chart) => (&mut chart.notes, &mut chart.series),
        Figure::Backends(chart) => (&mut chart.notes, &mut chart.series),
    };
    notes.retain(|note| !note.starts_with("WARNING") && !note.starts_with("SUSPECT"));
    for series in series {
        series.label = series.name().to_owned();
    }
    quiet
}

/// `report` as if measured on a busy machine: other processes took most of
/// the CPU and slowed the sequential baseline, so every speedup is suspect.
fn as_if_busy(report: &ExperimentReport) -> ExperimentReport {
    let mut busy = report.clone();
    busy.conditions.foreign_cpu = Some(0.9);
    for sample in &mut busy.samples {
        if sample.cell.backend == BackendKind::Sequential {
            sample.seconds *= 20.0;
        }
    }
    busy.analysis = analyze(&busy.experiment, &busy.samples, busy.machine.logical_cores);
    busy
}

/// Checks the charts of `report` written into `out`: each PNG is as wide as
/// configured and as tall, unless small print that a busy machine adds
/// (warnings, suspect speedups) leaves the plot too little room, which makes a
/// chart of the default size taller by design. That is judged from the
/// report's own figures, not from the load: the same figure without that text
/// must fill exactly the configured size, and the written chart must be the
/// figure drawn at the default size, whatever it says.
/// Returns the charts' heights.
fn assert_chart_sizes(report: &ExperimentReport, out: &Path) -> Vec<u32> {
    let redrawn = tempfile::tempdir().unwrap();
    let figures = figures(report);
    assert!(!figures.is_empty());
    let mut heights = Vec::new();
    for figure in &figures {
        let png = out.join(figure.file_name());
        let (width, height, colours) = decode(&png);
        // Text, axes, several series and anti-aliasing: far more than a blank canvas.
        assert!(colours > 20, "{}: only {colours} colours", png.display());
        assert_eq!(width, WIDTH, "{}", png.display());
        let quiet = without_load_dependent_text(figure);
        if &quiet == figure {
            assert_eq!(height, HEIGHT, "{}: no busy-machine text, yet not the configured size", png.display());
        } else {
            assert!(height >= HEIGHT, "{}: {height} px tall", png.display());
        }
        let [quiet_png] = &quiet.draw(redrawn.path(), &[Format::Png], &Canvas::default()).unwrap()[..] else {
            panic!("one PNG")
        };
        let (quiet_width, quiet_height, _) = decode(quiet_png);
        assert_eq!(
            (quiet_width, quiet_height),
            (WIDTH, HEIGHT),
            "{}: too big without busy-machine text",
            png.display()
        );
        let [same_png] = &figure.draw(redrawn.path(), &[Format::Png], &Canvas::default()).unwrap()[..] else {
            panic!("one PNG")
        };
        let (same_width, same_height, _) = decode(same_png);
        assert_eq!(
            (same_width, same_height),
            (width, height),
            "{}: not the report's figure at the default size",
            png.display()
        );
        heights.push(height);
    }
    heights
}

/// Writes `TINY` to `dir/tiny.ron`, loads it as the binary does and runs
/// its experiment on `machine`, with the stop flag already `stopped` or not.
fn run_tiny(dir: &Path, machine: &Machine, stopped: bool) -> ExperimentReport {
    let config = dir.join("tiny.ron");
    std::fs::write(&config, TINY).unwrap();
    let plan = Plan::load(&config).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(stopped);
    run_experiment(&plan.experiments[0], &Registry::new(), machine, Vec::new(), None, &stop, &ProgressBar::hidden())
        .unwrap()
}

#[test]
fn a_tiny_experiment_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let machine = Machine::detect();
    let report = run_tiny(dir.path(), &machine, false);
    let out = dir.path().join("reports/tiny");
    let written = write_report(&report, &out).unwrap();
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    // In the order they are moved into place: results.json, which marks
    // the report complete, last.
    assert_eq!(
        names,
        [
            "samples.csv",
            "summary.md",
            "summary.tex",
            "speedup.dat",
            "efficiency.dat",
            "backends.dat",
            "overhead.dat",
            "speedup.png",
            "speedup.svg",
            "speedup.pdf",
            "efficiency.png",
            "efficiency.svg",
            "efficiency.pdf",
            "backends.png",
            "backends.svg",
            "backends.pdf",
            "overhead.png",
            "overhead.svg",
            "overhead.pdf",
            "results.json"
        ]
    );
    for svg in written.iter().filter(|p| p.extension().is_some_and(|e| e == "svg")) {
        let text = std::fs::read_to_string(svg).unwrap();
        assert!(text.starts_with("<svg") && !text.contains("<text"), "{}: text must be outlines", svg.display());
    }
    for pdf in written.iter().filter(|p| p.extension().is_some_and(|e| e == "pdf")) {
        let bytes = std::fs::read(pdf).unwrap();
        assert!(bytes.starts_with(b"%PDF-") && bytes.ends_with(b"%%EOF\n"), "{}", pdf.display());
    }

    let pngs = written.iter().filter(|p| p.extension().is_some_and(|e| e == "png")).count();
    assert_eq!(pngs, 4);
    assert_chart_sizes(&report, &out);
    // The same samples as a busy machine leaves them: the charts' small
    // print grows past the configured size, and the same rule holds,
    // whatever load this test met.
    let busy = as_if_busy(&report);
    let busy_out = dir.path().join("busy/tiny");
    write_report(&busy, &busy_out).unwrap();
    let heights = assert_chart_sizes(&busy, &busy_out);
    assert!(heights.iter().any(|&height| height > HEIGHT), "{heights:?}");

    // Cells: sequential + pool 3×3 + std-scope 3 + rayon 3×3 = 22, two samples each.
    let csv = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("experiment,backend,workers,chunk,repetition,seconds"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 22 * 2);
    assert_eq!(rows.len(), report.samples.len());
    let cells: HashSet<String> = rows.iter().map(|r| r[1..4].join(" ")).collect();
    let mut expected: HashSet<String> = ["sequential 1 ".to_owned()].into();
    for workers in 1..=3 {
        expected.insert(format!("std-scope {workers} "));
        for chunk in ["1", "4", "auto"] {
            expected.insert(format!("pool {workers} {chunk}"));
            expected.insert(format!("rayon {workers} {chunk}"));
        }
    }
    assert_eq!(cells, expected);
    for row in &rows {
        assert_eq!(row[0], "tiny");
        assert!(row[4] == "0" || row[4] == "1", "{row:?}");
        let seconds: f64 = row[5].parse().unwrap();
        assert!(seconds > 0.0 && seconds < 10.0, "{row:?}");
    }

    let round_trip = read_results_json(&out.join("results.json")).unwrap();
    // Compared whole, but not printed whole on failure: it holds every sample.
    assert!(round_trip == report, "results.json does not read back to the same report");

    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.starts_with("# Experiment `tiny`"));
    for expected in [
        "End-to-end test.",
        "| rayon | 2 | 4 |",
        "## Scaling-model fits",
        "![speedup](speedup.png)",
        &machine.cpu_model,
    ] {
        assert!(summary.contains(expected), "summary lacks {expected:?}:\n{summary}");
    }
}

#[test]
fn an_experiment_stopped_before_its_first_run_still_gets_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = run_tiny(dir.path(), &Machine::detect(), true);
    assert_eq!(report.status, bench_harness::report::RunStatus::Interrupted);
    assert!(report.samples.is_empty());
    let out = dir.path().join("reports/tiny");
    let written = write_report(&report, &out).unwrap();
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["samples.csv", "summary.md", "summary.tex", "results.json"]);
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("> **Interrupted:** 0 of 44 planned repetitions"), "{summary}");
    assert_eq!(read_results_json(&out.join("results.json")).unwrap(), report);
}

/// `workers: [2]` (or `[1]`, `[1024]`) wrote no speedup, efficiency or
/// backends chart, and said nothing, while the summary pointed at "the
/// dashed granularity bound on the speedup chart". A single worker count is
/// drawn too: the charts exist, decode, and the summary links them.
#[test]
fn a_single_worker_count_gets_its_speedup_efficiency_and_backends_charts() {
    for workers in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("one.ron");
        let text = format!(
            "(experiments: [(name: \"one\", workload: Square, inputs: Count(3), workers: [{workers}], \
             repetitions: 2, warmup: 0, backends: [Sequential, Pool, Rayon])])"
        );
        std::fs::write(&config, text).unwrap();
        let plan = Plan::load(&config).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let machine = Machine::detect();
        let report = run_experiment(
            &plan.experiments[0],
            &Registry::new(),
            &machine,
            Vec::new(),
            None,
            &stop,
            &ProgressBar::hidden(),
        )
        .unwrap();
        let out = dir.path().join("reports/one");
        write_report(&report, &out).unwrap();
        let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
        for chart in ["speedup", "efficiency", "backends"] {
            let png = out.join(format!("{chart}.png"));
            assert!(png.is_file(), "workers [{workers}]: no {chart}.png");
            let (_, _, colours) = decode(&png);
            assert!(colours > 20, "{}: only {colours} colours", png.display());
            assert!(summary.contains(&format!("![{chart}]({chart}.png)")), "workers [{workers}]:\n{summary}");
        }
        // 3 inputs on 2 workers cap the speedup at 1.5: the summary points at
        // the bound on the speedup chart, which now exists.
        if workers == 2 {
            assert!(summary.contains("speedup chart"), "{summary}");
        }
    }
}
