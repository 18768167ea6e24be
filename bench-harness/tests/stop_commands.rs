//! `kill_running_commands` raises a flag for the whole process, so it is
//! tested in a test binary of its own.

use std::time::{Duration, Instant};

use bench_harness::workload::{kill_running_commands, Workload, WorkloadError};

#[cfg(unix)]
#[test]
fn commands_stop_once_the_harness_is_stopping() {
    let slow = Workload::Command { program: "sleep".into(), args: vec!["29.8763".into()], timeout_s: None };
    let running = std::thread::spawn(move || slow.run(0, 1.0));
    std::thread::sleep(Duration::from_millis(100));
    let stopped = Instant::now();
    kill_running_commands();
    let error = running.join().expect("the command's thread panicked").unwrap_err();
    assert!(stopped.elapsed() < Duration::from_secs(10), "the command ran on: {:?}", stopped.elapsed());
    assert_eq!(error, WorkloadError::Stopped { command: "sleep 29.8763".into(), input: 1.0 });
    // One started afterwards is stopped at once too.
    let quick = Workload::Command { program: "sleep".into(), args: vec!["29.8763".into()], timeout_s: None };
    assert!(matches!(quick.run(0, 2.0), Err(WorkloadError::Stopped { .. })));
}
