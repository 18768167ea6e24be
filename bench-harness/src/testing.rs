//! Hand-built stage outputs for unit tests of the later stages.

use std::path::Path;

use crate::analysis::analyze;
use crate::config::{Experiment, Plan};
use crate::machine::Machine;
use crate::measure::{cells, Cell, Sample};
use crate::report::ExperimentReport;

/// The single experiment of a one-experiment RON `text`.
pub fn experiment(text: &str) -> Experiment {
    Plan::parse(text, Path::new("test.ron")).unwrap().experiments.remove(0)
}

/// A fixed machine, so rendered text does not depend on where tests run.
pub fn machine(logical_cores: usize) -> Machine {
    Machine {
        logical_cores,
        physical_cores: Some(logical_cores),
        smt: Some(false),
        os: "linux x86_64".to_owned(),
        kernel: "6.1.0".to_owned(),
        cpu_model: "Test CPU".to_owned(),
        governor: Some("performance".to_owned()),
        boost: None,
        hostname: "testhost".to_owned(),
        build_profile: "release".to_owned(),
        rustc: "rustc 1.80.0".to_owned(),
        target: "x86_64-unknown-linux-gnu".to_owned(),
        target_cpu: "generic".to_owned(),
        git_revision: "abc1234".to_owned(),
        code_revision: None,
        date_utc: "2026-01-01T00:00:00Z".to_owned(),
    }
}

/// `repetitions` samples of every cell of `experiment`, in cell order, of
/// an experiment named "t": repetition `r` of `cell` took `seconds(cell, r)`
/// seconds. The stages after measuring see nothing else of a run.
pub fn samples(experiment: &Experiment, repetitions: u32, seconds: impl Fn(&Cell, u32) -> f64) -> Vec<Sample> {
    cells(experiment)
        .into_iter()
        .flat_map(|cell| {
            let seconds = &seconds;
            (0..repetitions).map(move |repetition| Sample {
                experiment: "t".to_owned(),
                cell,
                repetition,
                seconds: seconds(&cell, repetition),
            })
        })
        .collect()
}

/// A report whose every cell takes `seconds(cell)` seconds, times 1.000 to
/// 1.004 over five repetitions (so the median carries a factor 1.002).
pub fn report(experiment: Experiment, logical_cores: usize, seconds: impl Fn(&Cell) -> f64) -> ExperimentReport {
    let samples = samples(&experiment, 5, |cell, repetition| seconds(cell) * (1.0 + 0.001 * f64::from(repetition)));
    let analysis = analyze(&experiment, &samples, logical_cores);
    ExperimentReport {
        status: crate::report::RunStatus::Complete,
        machine: machine(logical_cores),
        conditions: crate::machine::Conditions::default(),
        experiment,
        samples,
        analysis,
    }
}
