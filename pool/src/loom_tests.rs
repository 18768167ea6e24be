//! loom models of the protocols in `sleep.rs`, `latch.rs` and `lane.rs`,
//! and of a map chunk's hand-off (the `task::Claim` on its task's closure, which
//! holds the inputs, and the task's `ResultCell` for its output), run on
//! the real code (through the `sync` shim) under every interleaving loom
//! explores:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p parsweep-pool --lib --release loom
//! ```
//!
//! A lost wake-up shows up as loom's deadlock report (every thread
//! blocked); a value dropped twice or never as a failed count.
//!
//! loom treats `SeqCst` as acquire/release for loads and stores, which is
//! weaker than the real memory model, so the sleep model is conservative: a
//! lost wake-up it cannot find under those rules is not there under the
//! stronger ones either.

use std::sync::Arc as StdArc;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use crate::lane::Lane;
use crate::latch::{ResultCell, ScopeLatch};
use crate::sleep::Sleep;
use crate::task::Claim;

/// One idle worker, run as `registry::main_loop` runs it (search, then
/// park), against one producer that publishes a job and notifies: the
/// worker must take the job, never park for good.
#[test]
fn loom_sleep_no_lost_wake_up() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new());
        let jobs = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (sleep, jobs) = (Arc::clone(&sleep), Arc::clone(&jobs));
            thread::spawn(move || loop {
                if jobs.load(Ordering::SeqCst) > 0 {
                    jobs.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
                sleep.start_searching();
                let found = jobs.load(Ordering::SeqCst) > 0;
                sleep.stop_searching();
                if !found {
                    sleep.sleep(|| jobs.load(Ordering::SeqCst) > 0);
                }
            })
        };
        jobs.fetch_add(1, Ordering::SeqCst);
        sleep.notify_one();
        worker.join().unwrap();
        assert_eq!(jobs.load(Ordering::SeqCst), 0);
    });
}

/// Two parked workers and two jobs: the chain of `wake_one`s a worker
/// passes on when it finds work while more is queued reaches both. The
/// full state space is too large to explore in CI time, so this one is
/// bounded to two preemptions (loom's recommended setting for bigger
/// models; most concurrency bugs need no more).
#[test]
fn loom_sleep_two_workers_two_jobs() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let sleep = Arc::new(Sleep::new());
        let jobs = Arc::new(AtomicUsize::new(0));
        let taken = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (sleep, jobs, taken) = (Arc::clone(&sleep), Arc::clone(&jobs), Arc::clone(&taken));
                thread::spawn(move || loop {
                    let available = jobs.load(Ordering::SeqCst);
                    if available > 0 {
                        if jobs.compare_exchange(available, available - 1, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                            if jobs.load(Ordering::SeqCst) > 0 {
                                sleep.wake_one();
                            }
                            taken.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        continue;
                    }
                    sleep.start_searching();
                    let found = jobs.load(Ordering::SeqCst) > 0;
                    sleep.stop_searching();
                    if !found {
                        sleep.sleep(|| jobs.load(Ordering::SeqCst) > 0);
                    }
                })
            })
            .collect();
        for _ in 0..2 {
            jobs.fetch_add(1, Ordering::SeqCst);
            sleep.notify_one();
        }
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(taken.load(Ordering::SeqCst), 2);
    });
}

/// A scope with two tasks: the owner frees the latch as soon as it sees it
/// released, while the last task may still be inside `set`; the owner is
/// always woken.
#[test]
fn loom_scope_latch_release_and_free() {
    loom::model(|| {
        let latch = Box::into_raw(Box::new(ScopeLatch::new()));
        // SAFETY (all derefs below): the latch lives until the owner frees
        // it after seeing it released, which needs every `set`.
        unsafe { &*latch }.task_started();
        unsafe { &*latch }.task_started();
        let address = latch as usize;
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                thread::spawn(move || {
                    // SAFETY: counted above; `set` is this task's last touch.
                    unsafe { ScopeLatch::set(address as *const ScopeLatch) };
                })
            })
            .collect();
        // SAFETY: the body's own count.
        unsafe { ScopeLatch::set(latch) };
        unsafe { &*latch }.park(None);
        assert!(unsafe { &*latch }.is_released());
        // SAFETY: released: no task touches the latch again.
        drop(unsafe { Box::from_raw(latch) });
        for task in tasks {
            task.join().unwrap();
        }
    });
}

/// Counts drops, to check that a task's value is dropped exactly once
/// whichever of task and handle finishes first.
struct Counted(StdArc<std::sync::atomic::AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A task completing while its handle waits and takes the value.
#[test]
fn loom_result_cell_complete_then_take() {
    loom::model(|| {
        let cell = Arc::new(ResultCell::<u32>::new());
        let worker = {
            let cell = Arc::clone(&cell);
            thread::spawn(move || assert!(cell.complete(Ok(7)).is_none()))
        };
        while !cell.is_done() {
            cell.block(None);
        }
        assert_eq!(cell.take(), Ok(7));
        worker.join().unwrap();
    });
}

/// A task completing while its handle is dropped unread: the value is
/// dropped exactly once, by whichever side comes second.
#[test]
fn loom_result_cell_complete_races_abandon() {
    loom::model(|| {
        let drops = StdArc::new(std::sync::atomic::AtomicUsize::new(0));
        let cell = Arc::new(ResultCell::<Counted>::new());
        let worker = {
            let (cell, drops) = (Arc::clone(&cell), StdArc::clone(&drops));
            thread::spawn(move || drop(cell.complete(Ok(Counted(drops)))))
        };
        drop(cell.abandon());
        worker.join().unwrap();
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);
    });
}

/// A map chunk's hand-off (`map/feeder.rs`, `map/ordered.rs`): the chunk's
/// inputs live in its task's closure, behind the task's claim. Whoever
/// took the chunk's job off the map's lane (a drainer, or the consumer
/// needing the chunk as its head) and a cancellation race for that claim
/// (here two runners, the stronger case); whoever wins computes the
/// chunk and completes the task's cell, as `Task::run_once` does. The
/// consumer then waits for the cell (at once done, if it ran the chunk)
/// and takes the output. Either way it ends with the output exactly once,
/// never waits forever, and the inputs are used once.
#[test]
fn loom_chunk_hand_off_claim_then_cell() {
    loom::model(|| {
        let task = Arc::new(Claim::new(vec![1u32, 2, 3]));
        let cell = Arc::new(ResultCell::<u32>::new());
        let computed = Arc::new(AtomicUsize::new(0));
        let run_once = {
            let (task, cell, computed) = (Arc::clone(&task), Arc::clone(&cell), Arc::clone(&computed));
            move || {
                if let Some(inputs) = task.take() {
                    computed.fetch_add(1, Ordering::SeqCst);
                    assert!(cell.complete(Ok(inputs.iter().sum())).is_none());
                }
            }
        };
        let worker = thread::spawn(run_once.clone());
        run_once();
        while !cell.is_done() {
            cell.block(None);
        }
        assert_eq!(cell.take(), Ok(6));
        worker.join().unwrap();
        assert_eq!(computed.load(Ordering::SeqCst), 1);
    });
}

/// A map's lane (`lane.rs`): the consumer pushes two chunks, starting a
/// drainer whenever `push` says so (at most one counted at a time). Every
/// chunk must run exactly once: a push racing a drainer on
/// its way out must either start a new drainer or be seen by the leaving
/// one, never strand the chunk with no drainer counted.
#[test]
fn loom_lane_never_strands_a_chunk() {
    loom::model(|| {
        let lane = Arc::new(Lane::<usize>::new(1));
        let ran = Arc::new(AtomicUsize::new(0));
        let drainer = |lane: Arc<Lane<usize>>, ran: Arc<AtomicUsize>| {
            move || loop {
                while lane.pop_front().is_some() {
                    ran.fetch_add(1, Ordering::SeqCst);
                }
                if !lane.leave() {
                    break;
                }
            }
        };
        let mut drainers = Vec::new();
        for chunk in 0..2 {
            if lane.push(chunk) {
                drainers.push(thread::spawn(drainer(Arc::clone(&lane), Arc::clone(&ran))));
            }
        }
        for drainer in drainers {
            drainer.join().unwrap();
        }
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        assert!(lane.pop_front().is_none());
    });
}
