//! Building pools: worker count, the zero-worker error, thread names.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use common::rendezvous;
use pool::{BuildError, ThreadPool};

/// Runs one task per worker, all at the same time, and returns the names of
/// the threads they ran on.
fn worker_names(pool: &ThreadPool) -> BTreeSet<String> {
    let n = pool.num_workers();
    let arrived = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let arrived = Arc::clone(&arrived);
            pool.submit(move || {
                assert!(rendezvous(&arrived, n), "not every worker picked up a task");
                std::thread::current().name().map(str::to_owned)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.wait().unwrap().expect("worker threads are named")).collect()
}

#[test]
fn zero_workers_is_an_error_that_says_so() {
    let err = ThreadPool::new(0).unwrap_err();
    assert!(matches!(err, BuildError::ZeroWorkers), "{err:?}");
    assert!(err.to_string().contains("0 workers"), "message: {err}");

    let err = ThreadPool::builder().num_workers(0).build().unwrap_err();
    assert!(err.to_string().contains("0 workers"), "message: {err}");
}

#[test]
fn builds_the_requested_number_of_workers() {
    for n in [1, 2, 3, 5] {
        let pool = ThreadPool::new(n).unwrap();
        assert_eq!(pool.num_workers(), n);
        assert_eq!(worker_names(&pool).len(), n, "{n} distinct worker threads");
    }
}

#[test]
fn default_worker_count_is_the_available_parallelism() {
    let expected = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(ThreadPool::builder().build().unwrap().num_workers(), expected);
}

#[test]
fn thread_names_are_applied_to_every_worker() {
    let pool = ThreadPool::builder().num_workers(3).thread_name(|i| format!("solver-{i}")).build().unwrap();
    let expected: BTreeSet<String> = (0..3).map(|i| format!("solver-{i}")).collect();
    assert_eq!(worker_names(&pool), expected);
}

#[test]
fn default_thread_names_are_numbered() {
    let pool = ThreadPool::new(2).unwrap();
    let expected: BTreeSet<String> = (0..2).map(|i| format!("pool-{i}")).collect();
    assert_eq!(worker_names(&pool), expected);
}

#[test]
fn stack_size_is_accepted_and_the_pool_runs() {
    let pool = ThreadPool::builder().num_workers(2).stack_size(8 << 20).build().unwrap();
    // A debug build keeps at least two copies of this 1 MiB array on the
    // stack: more than a default 2 MiB thread stack holds, well within the
    // 8 MiB asked for. So it only runs if the setting is honoured.
    let sum = pool
        .submit(|| {
            let buf = std::hint::black_box([1u8; 1 << 20]);
            buf.iter().map(|&b| u64::from(b)).sum::<u64>()
        })
        .wait()
        .unwrap();
    assert_eq!(sum, 1 << 20);
}

#[test]
fn debug_output_names_the_worker_count() {
    let pool = ThreadPool::new(2).unwrap();
    assert!(format!("{pool:?}").contains("num_workers: 2"), "{pool:?}");
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[test]
fn a_thread_the_os_refuses_is_a_spawn_error() {
    use std::error::Error;
    // 1 PiB of stack is more address space than the machine has.
    let err = ThreadPool::builder().num_workers(2).stack_size(1 << 50).build().unwrap_err();
    assert!(matches!(err, BuildError::Spawn(_)), "{err:?}");
    assert!(err.to_string().contains("could not start a worker thread"), "message: {err}");
    assert!(err.source().is_some(), "the OS error is kept as the source");
}

#[test]
fn start_and_exit_handlers_run_once_on_each_worker_itself() {
    use std::sync::Mutex;
    type Entry = (String, usize, Option<String>);
    let log: Arc<Mutex<Vec<Entry>>> = Arc::default();
    let (on_start, on_exit) = (Arc::clone(&log), Arc::clone(&log));
    let pool = ThreadPool::builder()
        .num_workers(3)
        .thread_name(|i| format!("hooked-{i}"))
        .start_handler(move |i| {
            on_start.lock().unwrap().push(("start".into(), i, std::thread::current().name().map(str::to_owned)))
        })
        .exit_handler(move |i| {
            on_exit.lock().unwrap().push(("exit".into(), i, std::thread::current().name().map(str::to_owned)))
        })
        .build()
        .unwrap();
    // Every worker started before it took a task.
    let _: Vec<u32> = pool.map(|x: u32| x, 0..100u32).chunk_size(1).collect();
    drop(pool);
    let mut log = log.lock().unwrap().clone();
    log.sort();
    let expected: Vec<Entry> = ["exit", "start"]
        .iter()
        .flat_map(|kind| (0..3).map(move |i| (kind.to_string(), i, Some(format!("hooked-{i}")))))
        .collect();
    assert_eq!(log, expected);
}

#[test]
fn a_panicking_start_handler_does_not_cost_a_worker() {
    common::quiet_intentional_panics();
    let pool = ThreadPool::builder()
        .num_workers(1)
        .start_handler(|_| panic!("{} start hook", common::INTENTIONAL))
        .exit_handler(|_| panic!("{} exit hook", common::INTENTIONAL))
        .build()
        .unwrap();
    assert_eq!(pool.submit(|| 5).wait(), Ok(5));
    drop(pool); // the exit hook's panic is caught too: the join succeeds
}

#[test]
fn absurd_worker_counts_are_a_clear_error_not_an_abort() {
    // Reserving queues for 2^40 workers used to abort the process (an
    // allocation failure); usize::MAX panicked with "capacity overflow".
    for requested in [100_000, 1 << 40, usize::MAX] {
        let err = ThreadPool::new(requested).unwrap_err();
        assert!(matches!(err, BuildError::TooManyWorkers { requested: r } if r == requested), "{err:?}");
        assert!(err.to_string().contains(&format!("{requested} were requested")), "message: {err}");
    }
}
