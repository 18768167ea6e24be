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
fn a_non_finite_value_of_a_closure_is_a_failure_not_a_null_value() {
    // serde_json turns NaN and infinities into null: it must not count as done.
    let space = Space::range("k", 0, 4);
    let records = run_collect(
        &space,
        |p| {
            let k = p.f64("k").ok_or("no k")?;
            Ok(json!(k / (k - 1.0) * 0.0))
        },
        &options(),
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    let outcomes: Vec<_> = records.iter().map(|r| r.outcome.clone()).collect();
    let failed = Err(sweep::runner::NULL_VALUE.to_owned());
    assert_eq!(outcomes, [Ok(json!(-0.0)), failed.clone(), Ok(json!(0.0)), Ok(json!(0.0))]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("r.jsonl");
    let header = Header::new(space, Task::Closure("infinite".into()));
    let (summary, _) = run_to_file(&path, &header, |_: &Point| Ok(json!(f64::INFINITY)), &options())
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((summary.computed, summary.failed), (4, 4));
    let status = Results::load(&path).map(|r| r.status()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((status.done, status.failed), (0, 4));
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

#[test]
fn a_stop_request_ends_the_run_cleanly_and_a_resume_finishes_it() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("r.jsonl");
    let header = Header::new(Space::range("k", 0, 40), Task::Closure("slow square".into()));
    let slow = |p: &Point| {
        std::thread::sleep(Duration::from_millis(20));
        square(p)
    };
    let stop = sweep::Stop::new();
    let stoppable = RunOptions { stop: stop.clone(), ..options() };
    let (mut writer, existing) = sweep::ResultsWriter::open(&path, &header).unwrap_or_else(|e| panic!("{e}"));
    let resume = existing.resume(false, 3);
    let mut seen = 0;
    let summary = sweep::run(&header.space, slow, &resume, &stoppable, |record| {
        seen += 1;
        if seen == 3 {
            stop.request();
        }
        writer.append(&record).map_err(Into::into)
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    writer.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(summary.stopped, "{summary:?}");
    assert!((3..40).contains(&summary.computed), "{summary:?}");
    assert_eq!(summary.interrupted, 0, "closures in flight finish");
    let on_disk = Results::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(on_disk.records.len(), summary.computed);

    let (rest, _) = run_to_file(&path, &header, square, &options()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(rest.computed + summary.computed, 40);
    assert!(!rest.stopped);
}

#[test]
fn retries_within_a_run_record_every_attempt_up_to_the_cap() {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("r.jsonl");
    let header = Header::new(Space::range("k", 0, 4), Task::Closure("third time lucky".into()));
    let tries: Arc<Mutex<HashMap<i64, u32>>> = Arc::default();
    let flaky = {
        let tries = Arc::clone(&tries);
        move |p: &Point| {
            let k = p.f64("k").unwrap_or(0.0) as i64;
            let mut tries = tries.lock().unwrap_or_else(|e| e.into_inner());
            let n = tries.entry(k).or_default();
            *n += 1;
            // Point k succeeds on attempt k + 1.
            if i64::from(*n) <= k {
                return Err(format!("attempt {n} of k = {k} failed"));
            }
            square(p)
        }
    };
    let retrying = RunOptions { retries: 5, max_attempts: 3, retry_delay: Duration::from_millis(1), ..options() };
    let (summary, _) = run_to_file(&path, &header, flaky, &retrying).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((summary.computed, summary.failed, summary.given_up), (4, 1, 1));
    assert_eq!(summary.attempts, 1 + 2 + 3 + 3, "k = 3 stops at the cap of 3");
    let results = Results::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let attempts = |k: usize| results.records.iter().filter(|r| r.index == k).map(|r| r.attempt).collect::<Vec<_>>();
    assert_eq!((attempts(0), attempts(2), attempts(3)), (vec![1], vec![1, 2, 3], vec![1, 2, 3]));
    let status = results.status_with(3);
    assert_eq!((status.done, status.failed, status.given_up), (3, 1, 1));
    // Given up: even --retry-failed leaves it alone.
    let again = RunOptions { retry_failed: true, ..retrying };
    let (rerun, _) = run_to_file(&path, &header, square, &again).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(rerun.computed, 0);
}

#[test]
fn each_attempt_reaches_the_sink_as_it_ends_not_after_the_retries() {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;
    let calls = Arc::new(AtomicU32::new(0));
    let broken = {
        let calls = Arc::clone(&calls);
        move |_: &Point| -> Result<serde_json::Value, String> {
            calls.fetch_add(1, Ordering::SeqCst);
            Err("broken".to_owned())
        }
    };
    let retrying = RunOptions { retries: 2, retry_delay: Duration::from_millis(150), ..options() };
    let mut seen = Vec::new();
    let summary = sweep::run(&Space::range("k", 0, 1), broken, &sweep::store::Resume::default(), &retrying, |record| {
        // Had the record waited for the retries, more calls would be made.
        seen.push((record.attempt, calls.load(Ordering::SeqCst), record.retrying));
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(seen, [(1, 1, true), (2, 2, true), (3, 3, false)], "the last attempt is not marked as retrying");
    assert_eq!((summary.computed, summary.failed, summary.attempts), (1, 1, 3));
}

#[test]
fn an_index_listed_twice_is_computed_once() {
    use std::sync::atomic::AtomicUsize;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("r.jsonl");
    let header = Header::new(Space::range("k", 0, 10), Task::Closure("k squared".into()));
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = {
        let calls = Arc::clone(&calls);
        move |p: &Point| {
            calls.fetch_add(1, Ordering::SeqCst);
            square(p)
        }
    };
    let listed = RunOptions { selection: Selection::Indices(vec![3, 3, 7, 3, 7]), ..options() };
    let (summary, _) = run_to_file(&path, &header, counted, &listed).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((summary.selected, summary.computed, calls.load(Ordering::SeqCst)), (2, 2, 2));
    assert_eq!(Results::load(&path).map(|r| r.records.len()).unwrap_or_default(), 2);
}

#[test]
fn attempt_counts_read_from_a_file_cannot_overflow() {
    // A hand-edited file may claim any attempt count.
    let mut resume = sweep::store::Resume::default();
    resume.attempts.insert(0, u32::MAX);
    let endless = RunOptions { max_attempts: u32::MAX, retries: 2, ..options() };
    let mut attempts = Vec::new();
    let summary = sweep::run(&Space::range("k", 0, 1), square, &resume, &endless, |record| {
        attempts.push(record.attempt);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((summary.computed, attempts), (1, vec![u32::MAX]));
}
