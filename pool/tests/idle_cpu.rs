//! An idle pool must park its workers, not spin. Kept in its own test
//! binary because it measures the CPU time of the whole process, which
//! other tests running alongside would add to.

mod common;

#[cfg(target_os = "linux")]
#[test]
fn an_idle_pool_burns_no_cpu() {
    use std::thread;
    use std::time::{Duration, Instant};

    use common::process_cpu;

    let pool = pool::ThreadPool::new(4).unwrap();
    // Warm up, then let the workers finish polling and park.
    assert_eq!(pool.map(|x: u64| x + 1, 0..1000u64).count(), 1000);
    thread::sleep(Duration::from_millis(50));

    let cpu_before = process_cpu();
    let wall_before = Instant::now();
    thread::sleep(Duration::from_millis(300));
    let cpu = process_cpu().saturating_sub(cpu_before);
    let wall = wall_before.elapsed();

    // Under 10% of one core: generous (tick granularity is 10 ms), but a
    // single spinning worker would use ~100%.
    assert!(cpu * 10 < wall, "an idle pool used {cpu:?} of CPU in {wall:?}");
    // Still serving afterwards.
    assert_eq!(pool.submit(|| 5).wait(), Ok(5));
}
