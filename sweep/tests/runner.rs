//! Running closures over spaces: failures are recorded, resume skips what is
//! on disk, selections restrict the points.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;
use sweep::{run_collect, run_to_file, Header, Point, Results, RunOptions, Selection, Space, Task};

fn options() -> RunOptions {
    RunOptions { workers: 2, progress: false, ..RunOptions::default() }
}

fn square(point: &Point) -> Result<serde_json::Value, String> {
    let k = point.f64("k").ok_or("no k")?;
    Ok(json!(k * k))
}

#[test]
fn panics_become_failures_and_the_sweep_goes_on() {
    let space = Space::range("k", 0, 8);
    let records = run_collect(
        &space,
        |p| {
            if p.f64("k") == Some(5.0) {
                panic!("k = 5 is cursed");
            }
            square(p)
        },
        &options(),
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(records.iter().map(|r| r.index).collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
    for record in &records {
        if record.index == 5 {
            assert_eq!(record.outcome, Err("panicked: k = 5 is cursed".to_owned()));
        } else {
            assert_eq!(record.outcome, Ok(json!((record.index * record.index) as f64)));
        }
        assert_eq!(record.id, record.point.id());
    }
}

#[test]
fn resume_computes_only_what_is_missing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("r.jsonl");
    let header = Header::new(Space::range("k", 0, 10), Task::Closure("k squared".into()));
    let shard = RunOptions { selection: Selection::Filter(Arc::new(|i| i % 3 == 1)), ..options() };
    let (first, _) = run_to_file(&path, &header, square, &shard).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((first.selected, first.computed, first.skipped), (3, 3, 0));
    let on_disk: Vec<usize> =
        Results::load(&path).map(|r| r.latest().iter().map(|r| r.index).collect()).unwrap_or_default();
    assert_eq!(on_disk, [1, 4, 7]);

    let (second, _) = run_to_file(&path, &header, square, &options()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((second.selected, second.computed, second.skipped), (10, 7, 3));
    let results = Results::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(results.records.len(), 10, "no point may be computed twice");
    assert_eq!(results.status().missing, 0);

    let subset = RunOptions { selection: Selection::Indices(vec![2, 99]), ..options() };
    let (third, _) = run_to_file(&path, &header, square, &subset).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((third.selected, third.computed), (1, 0), "out-of-range indices are ignored");
}

#[test]
fn failed_points_are_retried_only_when_asked() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("r.jsonl");
    let header = Header::new(Space::range("k", 0, 6), Task::Closure("flaky".into()));
    let healthy = Arc::new(AtomicBool::new(false));
    let flaky = {
        let healthy = Arc::clone(&healthy);
        move |p: &Point| {
            if p.f64("k").is_some_and(|k| k >= 4.0) && !healthy.load(Ordering::SeqCst) {
                return Err("not yet".to_owned());
            }
            square(p)
        }
    };
    let (first, _) = run_to_file(&path, &header, flaky.clone(), &options()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((first.computed, first.failed), (6, 2));

    healthy.store(true, Ordering::SeqCst);
    let (again, _) = run_to_file(&path, &header, flaky.clone(), &options()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(again.computed, 0, "failures are final unless retried");

    let retry = RunOptions { retry_failed: true, ..options() };
    let (retried, _) = run_to_file(&path, &header, flaky, &retry).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((retried.computed, retried.failed), (2, 0));
    let results = Results::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let status = results.status();
    assert_eq!((status.done, status.failed, status.missing), (6, 0, 0));
    assert_eq!(results.records.len(), 8, "the old failures stay in the file, superseded");
}
