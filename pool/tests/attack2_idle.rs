//! The process-wide watchdog must go back to sleep once no map it watches
//! is being consumed: maps paused, forgotten (`mem::forget`) or dropped
//! while running inline must not keep it waking every millisecond. Kept in
//! its own test binary because it measures the CPU time of the whole
//! process, which other tests running alongside would add to.

mod common;

#[cfg(target_os = "linux")]
#[test]
fn the_watchdog_sleeps_once_inline_maps_are_paused_forgotten_or_dropped() {
    use std::cell::Cell;
    use std::mem;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    use common::{process_cpu, within};
    use pool::ThreadPool;

    /// CPU used by the process over `wall` of doing nothing.
    fn idle_cpu(wall: Duration) -> (Duration, Duration) {
        let cpu_before = process_cpu();
        let started = Instant::now();
        thread::sleep(wall);
        (process_cpu().saturating_sub(cpu_before), started.elapsed())
    }

    thread_local! {
        static CONSUMER: Cell<bool> = const { Cell::new(false) };
    }

    /// Wake-ups of the watchdog thread so far (its voluntary context
    /// switches), found by its name; `None` if it was never started.
    fn watchdog_wakeups() -> Option<u64> {
        for task in std::fs::read_dir("/proc/self/task").ok()? {
            let dir = task.ok()?.path();
            let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if name.trim() != "pool-watchdog" {
                continue;
            }
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("voluntary_ctxt_switches:"))?;
            return line.split_whitespace().nth(1)?.parse().ok();
        }
        None
    }

    /// CPU of the process and wake-ups of the watchdog over `wall` idle.
    fn idle(wall: Duration) -> (Duration, Duration, u64) {
        let before = watchdog_wakeups().expect("the watchdog thread exists once a map ran inline");
        let (cpu, took) = idle_cpu(wall);
        let after = watchdog_wakeups().expect("the watchdog thread is still there");
        (cpu, took, after - before)
    }

    /// The next item of an endless `Map`. A `Map` may yield a spurious
    /// `None` under heavy load (a defect pinned in `attack2_inline.rs`,
    /// `a_map_never_yields_a_spurious_none`), then go on: skipped here, as
    /// this test is about the watchdog's idling.
    fn next_of(map: &mut impl Iterator<Item = u64>) -> u64 {
        (0..3).find_map(|_| map.next()).expect("an endless map ended")
    }

    common::quiet_intentional_panics();
    within(Duration::from_secs(30), "idle watchdog", || {
        CONSUMER.with(|c| c.set(true));
        let pool = ThreadPool::new(2).unwrap();
        let inline = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&inline);
        let f = move |x: u64| {
            if CONSUMER.with(Cell::get) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            x
        };

        // Maps left mid-run in every way: kept but paused, forgotten, and
        // dropped; `Map` (direct runs) and `TryMap` (inline chunks).
        let mut paused = Vec::new();
        let mut paused_try = Vec::new();
        for i in 0..40u64 {
            let mut map = pool.map(f.clone(), 0..u64::MAX);
            let mut tried = pool.try_map(f.clone(), 0..u64::MAX);
            for x in 0..50_000 + i * 37 {
                assert_eq!(next_of(&mut map), x);
                assert_eq!(tried.next(), Some(Ok(x)));
            }
            match i % 3 {
                0 => {
                    paused.push(map);
                    paused_try.push(tried);
                }
                1 => {
                    mem::forget(map);
                    mem::forget(tried);
                }
                _ => {
                    drop(map);
                    drop(tried);
                }
            }
        }
        // A `fold` left by a panicking accumulator, with the map inside.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.map(|x: u64| x, 0..u64::MAX).fold(0u64, |acc, x| {
                if x == 300_000 {
                    panic!("{} {acc}", common::INTENTIONAL);
                }
                acc + x
            })
        }));
        assert!(inline.load(Ordering::Relaxed) > 0, "no map ran inline: the watchdog was never exercised");
        // The measure works: the watchdog did wake while maps ran inline.
        let busy = watchdog_wakeups().expect("the watchdog thread exists once a map ran inline");
        assert!(busy > 0, "the watchdog never woke while maps ran inline");

        // Let everything settle (the watchdog drops each map after one more
        // look), then measure.
        thread::sleep(Duration::from_millis(50));
        let (cpu, wall, wakeups) = idle(Duration::from_millis(300));
        // A watchdog still watching would wake ~300 times (every ms).
        assert!(wakeups < 30, "the watchdog woke {wakeups} times in {wall:?} with no map being consumed");
        // Under 10% of one core: generous (tick granularity is 10 ms), but a
        // watchdog waking every millisecond for 27 maps would show.
        eprintln!("idle: {cpu:?} CPU in {wall:?}, {wakeups} watchdog wake-ups");
        assert!(cpu * 10 < wall, "idle with paused/forgotten inline maps, the process used {cpu:?} of CPU in {wall:?}");

        // The paused maps still work afterwards, in order.
        for (i, map) in paused.iter_mut().enumerate() {
            let from = 50_000 + (i as u64 * 3) * 37;
            for x in from..from + 20_000 {
                assert_eq!(next_of(map), x);
            }
        }
        for (i, map) in paused_try.iter_mut().enumerate() {
            let from = 50_000 + (i as u64 * 3) * 37;
            for x in from..from + 20_000 {
                assert_eq!(map.next(), Some(Ok(x)));
            }
        }
        // And after they are used again and left once more, idle again.
        thread::sleep(Duration::from_millis(50));
        let (cpu, wall, wakeups) = idle(Duration::from_millis(200));
        assert!(wakeups < 20, "after reuse, the watchdog woke {wakeups} times in {wall:?} with no map being consumed");
        assert!(cpu * 10 < wall, "idle after reuse, the process used {cpu:?} of CPU in {wall:?}");
        drop(paused);
        drop(paused_try);
    });
}
