//! Your own workloads and backends, run through the harness's pipeline.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bench_harness::config::{BackendKind, BackendName, Plan};
use bench_harness::custom::{CustomWorkload, Job, Registry};
use bench_harness::machine::Machine;
use bench_harness::measure::{measure, MeasureError};
use bench_harness::report::ExperimentReport;
use bench_harness::run::run_experiment;
use indicatif::ProgressBar;

fn plan(workload: &str, backends: &str) -> Plan {
    let text = format!(
        "(experiments: [(name: \"mine\", workload: {workload}, inputs: Count(40), workers: [1, 3], \
         repetitions: 2, warmup: 1, backends: {backends})])"
    );
    Plan::parse(&text, Path::new("mine.ron")).unwrap()
}

/// The plan's first experiment run to the end on this machine, no progress
/// shown, no earlier samples.
fn run(plan: &Plan, registry: &Registry) -> ExperimentReport {
    let experiment = &plan.experiments[0];
    run_experiment(
        experiment,
        registry,
        &Machine::detect(),
        Vec::new(),
        None,
        &AtomicBool::new(false),
        &ProgressBar::hidden(),
    )
    .unwrap()
}

/// A correct map on scoped threads, the shape of a user's backend.
fn scoped(workers: usize) -> impl Fn(&Job<'_>) -> Vec<f64> + Send + Sync {
    move |job| {
        let mut results = vec![0.0; job.len()];
        let block = job.len().div_ceil(workers);
        std::thread::scope(|scope| {
            for (index, out) in results.chunks_mut(block).enumerate() {
                scope.spawn(move || out.iter_mut().enumerate().for_each(|(i, r)| *r = job.call(index * block + i)));
            }
        });
        results
    }
}

#[test]
fn a_registered_workload_and_backend_are_measured_and_reported() {
    let starts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&starts);
    let registry =
        Registry::new().workload(CustomWorkload::new("cube", |x| x * x * x)).backend("scoped", move |workers| {
            counter.fetch_add(1, Ordering::SeqCst);
            scoped(workers)
        });
    let plan = plan("Named(\"cube\")", "[Sequential, Named(\"scoped\"), Pool]");
    registry.check_plan(&plan).unwrap();
    let report = run(&plan, &registry);
    // Started for every run (2 worker counts × (1 warm-up + 2 timed)), and
    // stopped after it, outside the timing.
    assert_eq!(starts.load(Ordering::SeqCst), 6);
    let named = BackendKind::Named(BackendName::try_from("scoped").unwrap());
    let workers: Vec<usize> =
        report.samples.iter().filter(|s| s.cell.backend == named).map(|s| s.cell.workers).collect();
    assert_eq!(workers, [1, 1, 3, 3]);
    assert!(report.analysis.cells.iter().any(|c| c.cell.backend == named && c.cell.workers == 3));
    // The name survives results.json.
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"scoped\""), "{json}");
}

#[test]
fn a_backend_with_wrong_results_stops_the_experiment() {
    let registry = Registry::new()
        .workload(CustomWorkload::new("cube", |x| x * x * x))
        .backend("reversed", |_| |job: &Job<'_>| (0..job.len()).rev().map(|i| job.call(i)).collect());
    let reversed = plan("Named(\"cube\")", "[Sequential, Named(\"reversed\")]");
    let error = measure(&reversed.experiments[0], &registry, Vec::new(), &mut ()).unwrap_err();
    assert!(matches!(error, MeasureError::WrongResult { index: 0, .. }), "{error}");
    assert!(error.to_string().starts_with("reversed ×1 returned a wrong result for input #0"), "{error}");
    // Too few results too.
    let registry = Registry::new().backend("short", |_| |job: &Job<'_>| vec![0.0; job.len() - 1]);
    let error =
        measure(&plan("Square", "[Sequential, Named(\"short\")]").experiments[0], &registry, Vec::new(), &mut ());
    assert!(matches!(error, Err(MeasureError::WrongResult { .. })));
}

#[test]
fn the_workloads_check_and_setup_run_on_every_run() {
    let setups = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&setups);
    let workload = CustomWorkload::with_setup(
        "shifted",
        move |inputs: &[f64]| {
            counter.fetch_add(1, Ordering::SeqCst);
            inputs.len() as f64
        },
        |n: &f64, _, x| x + n,
    )
    .check(|inputs, results| {
        if results.iter().zip(inputs).all(|(r, x)| r - x == 40.0) {
            Ok(())
        } else {
            Err("every result must be its input plus 40".into())
        }
    });
    let registry = Registry::new().workload(workload).backend("scoped", scoped);
    let shifted = plan("Named(\"shifted\")", "[Sequential, Named(\"scoped\")]");
    measure(&shifted.experiments[0], &registry, Vec::new(), &mut ()).unwrap();
    // 3 cells (sequential, scoped ×1, ×3) × (1 warm-up + 2 timed runs).
    assert_eq!(setups.load(Ordering::SeqCst), 9);

    let failing = CustomWorkload::new("off", |x| x).check(|_, _| Err("nope, row 3 is wrong".into()));
    let registry = Registry::new().workload(failing);
    let error =
        measure(&plan("Named(\"off\")", "[Sequential]").experiments[0], &registry, Vec::new(), &mut ()).unwrap_err();
    assert_eq!(error.to_string(), "sequential: the workload's check failed: nope, row 3 is wrong");
}

#[cfg(unix)]
#[test]
fn a_failing_task_inside_a_users_backend_fails_the_run() {
    let registry = Registry::new().backend("scoped", scoped);
    let plan = plan(r#"Command(program: "sh", args: ["-c", "exit 4"])"#, "[Sequential, Named(\"scoped\")]");
    let error = measure(&plan.experiments[0], &registry, Vec::new(), &mut ()).unwrap_err();
    assert!(error.to_string().contains("exit status: 4"), "{error}");
}

#[test]
fn the_plain_binary_names_what_is_missing() {
    let plan = plan("Named(\"cube\")", "[Sequential]");
    let error = measure(&plan.experiments[0], &Registry::new(), Vec::new(), &mut ()).unwrap_err();
    assert!(error.to_string().contains("workload \"cube\" is not registered here"), "{error}");
}

#[test]
fn weak_scaling_grows_the_inputs_with_the_workers_and_checks_every_size() {
    let lengths = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&lengths);
    // Results depend on the run's size (as Mandelbrot rows of a taller image do).
    let workload = CustomWorkload::with_setup(
        "sized",
        move |inputs: &[f64]| {
            seen.lock().unwrap().push(inputs.len());
            inputs.len() as f64
        },
        |n: &f64, index, _| n * 1000.0 + index as f64,
    );
    let registry = Registry::new().workload(workload).backend("scoped", scoped);
    let text = "(experiments: [(name: \"weak\", workload: Named(\"sized\"), inputs: PerWorker(10), \
                workers: [1, 2, 4], repetitions: 2, warmup: 0, backends: [Sequential, Named(\"scoped\"), Rayon])])";
    let plan = Plan::parse(text, Path::new("weak.ron")).unwrap();
    let report = run(&plan, &registry);
    let mut lengths = lengths.lock().unwrap().clone();
    // Untimed references for 20 and 40 inputs, then 2 rounds of
    // sequential (10) and two backends at 10, 20 and 40 inputs.
    assert_eq!(lengths[..2], [20, 40]);
    lengths.sort_unstable();
    lengths.dedup();
    assert_eq!(lengths, [10, 20, 40]);
    // Scaled speedup = p × efficiency; no overhead or Karp–Flatt.
    for cell in report.analysis.cells.iter().filter(|c| c.cell.backend.is_parallel()) {
        let (speedup, efficiency) = (cell.speedup.unwrap().value, cell.efficiency.unwrap());
        assert!((speedup - efficiency * cell.cell.workers as f64).abs() < 1e-9 * speedup, "{}", cell.cell);
        assert!(cell.karp_flatt.is_none() && cell.overhead_per_task_ns.is_none());
    }
}

#[test]
fn a_panicking_backend_or_workload_fails_its_cell_with_the_message() {
    let registry = Registry::new()
        .workload(CustomWorkload::new("fragile", |x| if x > 30.0 { panic!("input {x} is too big") } else { x }))
        .backend("broken", |_| |_: &Job<'_>| -> Vec<f64> { panic!("not implemented yet") });
    let broken = plan("Square", "[Sequential, Named(\"broken\")]");
    let error = measure(&broken.experiments[0], &registry, Vec::new(), &mut ()).unwrap_err();
    assert_eq!(error.to_string(), "broken ×1 panicked: not implemented yet");
    let fragile = plan("Named(\"fragile\")", "[Sequential, Rayon]");
    let error = measure(&fragile.experiments[0], &registry, Vec::new(), &mut ()).unwrap_err();
    assert_eq!(error.to_string(), "sequential panicked: input 31 is too big");
}

#[test]
fn backends_of_your_own_look_different_from_each_other_and_from_the_built_ins() {
    use bench_harness::config::BUILT_IN_BACKENDS;
    use bench_harness::report::figures::backend_style;
    let named: Vec<BackendKind> =
        (0..12).map(|i| BackendKind::Named(BackendName::try_from(format!("style-{i}")).unwrap())).collect();
    let styles: Vec<_> = named.iter().chain(&BUILT_IN_BACKENDS).map(|&b| backend_style(b)).collect();
    for (i, a) in styles.iter().enumerate() {
        for b in &styles[i + 1..] {
            assert_ne!(a, b, "two backends drawn alike");
        }
    }
    // The same backend keeps its style.
    assert_eq!(backend_style(named[3]), backend_style(BackendKind::Named(BackendName::try_from("style-3").unwrap())));
}

#[test]
fn a_workload_that_panics_on_its_first_inputs_is_refused_before_measuring() {
    let registry = Registry::new().workload(CustomWorkload::new("boom", |x| if x >= 1.0 { panic!("no") } else { x }));
    let plan = plan("Named(\"boom\")", "[Sequential]");
    let error = bench_harness::preflight::probe(&plan.experiments[0], &registry).unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("fails on input #1") && message.contains("panicked"), "{message}");
}
