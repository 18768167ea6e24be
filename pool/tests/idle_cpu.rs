//! An idle pool must park its workers, not spin. Kept in its own test
//! binary because it measures the CPU time of the whole process, which
//! other tests running alongside would add to.

#[cfg(target_os = "linux")]
#[test]
fn an_idle_pool_burns_no_cpu() {
    use std::thread;
    use std::time::{Duration, Instant};

    /// User plus system CPU time of this process, from /proc/self/stat
    /// (fields 14 and 15, in clock ticks; USER_HZ is 100 on Linux).
    fn process_cpu() -> Duration {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat is readable on Linux");
        // The command name (field 2) may contain spaces; fields after it are
        // counted from the closing parenthesis.
        let after_name = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }

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
