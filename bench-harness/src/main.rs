//! `bench-harness`: runs the experiments of a RON file and writes reports.
//! Thin: the command line lives in the library ([`bench_harness::cli`]), so
//! benches of your own get the same one.

use std::process::ExitCode;

sweep::fail_writes_to_closed_stdout!();

fn main() -> ExitCode {
    bench_harness::cli::main_with(bench_harness::custom::Registry::new())
}
