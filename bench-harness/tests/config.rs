//! Parsing and validation of experiment files, as a user writes them.

use std::path::{Path, PathBuf};

use bench_harness::config::{BackendKind, ChunkSize, ConfigError, InputsSpec, Plan};
use bench_harness::workload::Workload;

/// A minimal valid experiment; tests replace one line to make it invalid.
const GOOD: &str = r#"(
    experiments: [
        (
            name: "tiny",
            workload: Spin(duration_us: 10),
            inputs: Linspace(start: -1.0, end: 1.0, count: 5),
            workers: [4, 1, 2],
            chunk_sizes: [Fixed(1), Auto],
            repetitions: 3,
            backends: [Sequential, Pool, Rayon],
        ),
    ],
)"#;

fn parse(text: &str) -> Result<Plan, ConfigError> {
    Plan::parse(text, Path::new("bad.ron"))
}

/// `GOOD` with the line containing `old` replaced by `new`.
fn with_line(old: &str, new: &str) -> String {
    assert!(GOOD.contains(old), "test setup: {old:?} not in GOOD");
    GOOD.replace(old, new)
}

/// Parses `text`, expecting a syntax error; returns (line, column, message).
fn syntax_error(text: &str) -> (usize, usize, String) {
    match parse(text) {
        Err(error @ ConfigError::Syntax { .. }) => {
            let ConfigError::Syntax { line, column, ref message, .. } = error else { unreachable!() };
            // The rendered form is `path:line:col: message`.
            assert_eq!(error.to_string(), format!("bad.ron:{line}:{column}: {message}"));
            (line, column, message.clone())
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn a_good_file_parses_into_a_normalized_plan() {
    let plan = parse(GOOD).unwrap();
    let experiment = &plan.experiments[0];
    assert_eq!(experiment.name.as_str(), "tiny");
    assert_eq!(experiment.workload, Workload::Spin { duration_us: 10 });
    assert_eq!(experiment.workers.as_slice(), [1, 2, 4], "sorted");
    assert_eq!(experiment.chunk_sizes, [ChunkSize::Fixed(1), ChunkSize::Auto]);
    assert_eq!(experiment.repetitions.get(), 3);
    assert_eq!(experiment.warmup, 1, "warm-up defaults to one run");
    assert_eq!(experiment.backends.as_slice(), [BackendKind::Sequential, BackendKind::Pool, BackendKind::Rayon]);
    assert_eq!(experiment.inputs.values(), [-1.0, -0.5, 0.0, 0.5, 1.0]);
    assert!(matches!(experiment.inputs.spec(), InputsSpec::Linspace { count: 5, .. }));
}

/// Every experiment file in `configs/` (the directory also holds `sweep`
/// specifications, which have no `experiments` list).
#[test]
fn every_shipped_config_parses_and_validates() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let is_experiment_file = path.extension().is_some_and(|e| e == "ron")
            && std::fs::read_to_string(&path).unwrap().contains("experiments:");
        if is_experiment_file {
            let plan = Plan::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!plan.experiments.is_empty(), "{}", path.display());
            checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    checked.sort();
    for expected in ["imbalance.ron", "overhead.ron", "quick.ron", "scaling.ron", "seed.ron"] {
        assert!(checked.iter().any(|c| c == expected), "{expected} missing from {checked:?}");
    }
}

#[test]
fn the_seed_scenario_is_twenty_points_of_linspace() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../configs/quick.ron");
    let plan = Plan::load(&path).unwrap();
    let seed = plan.experiment("seed").expect("quick.ron has a `seed` experiment");
    let values = seed.inputs.values();
    assert_eq!(values.len(), 20);
    assert_eq!((values[0], values[19]), (-1.0, 1.0));
    assert!(matches!(seed.workload, Workload::Sleep { .. }));
}

#[test]
fn an_unknown_field_is_refused_at_its_position() {
    let text = with_line("repetitions: 3,", "repetitions: 3, repeats: 4,");
    let (line, column, message) = syntax_error(&text);
    assert_eq!(line, 9);
    assert!(column > 28, "column {column} points past `repeats`");
    assert!(message.contains("repeats"), "{message}");
}

#[test]
fn a_value_of_the_wrong_type_is_refused_at_its_position() {
    let text = with_line("repetitions: 3,", "repetitions: \"three\",");
    let (line, column, message) = syntax_error(&text);
    assert_eq!((line, column), (9, 26));
    assert!(message.to_lowercase().contains("integer"), "{message}");
}

#[test]
fn zero_workers_are_refused_at_their_line() {
    let text = with_line("workers: [4, 1, 2],", "workers: [4, 0],");
    let (line, _, message) = syntax_error(&text);
    assert_eq!(line, 7);
    assert!(message.contains("`workers`") && message.contains("at least 1"), "{message}");
}

#[test]
fn a_worker_count_no_machine_can_start_is_refused_at_its_line() {
    let (line, _, message) = syntax_error(&with_line("workers: [4, 1, 2],", "workers: [1, 100000],"));
    assert_eq!(line, 7);
    assert!(message.contains("at most 1024 worker threads, got 100000"), "{message}");
    assert!(parse(&with_line("workers: [4, 1, 2],", "workers: [1, 1024],")).is_ok());
}

/// `[1, 2, 2]` was merged into `[1, 2]` without a word, where a backend
/// or chunk size listed twice is refused: refused too, at its line.
#[test]
fn a_worker_count_listed_twice_is_refused_at_its_line() {
    let (line, _, message) = syntax_error(&with_line("workers: [4, 1, 2],", "workers: [2, 1, 2],"));
    assert_eq!(line, 7);
    assert!(message.contains("`workers` lists 2 twice"), "{message}");
}

#[test]
fn a_fit_range_of_fewer_than_two_workers_is_refused() {
    let error = parse(&with_line("repetitions: 3,", "repetitions: 3, fit_max_workers: Some(0),")).unwrap_err();
    assert!(error.to_string().contains("`fit_max_workers` must be at least 2"), "{error}");
    assert!(parse(&with_line("repetitions: 3,", "repetitions: 3, fit_max_workers: Some(2),")).is_ok());
}

#[test]
fn an_empty_worker_list_is_refused() {
    let (line, _, message) = syntax_error(&with_line("workers: [4, 1, 2],", "workers: [],"));
    assert_eq!(line, 7);
    assert!(message.contains("`workers`"), "{message}");
}

#[test]
fn empty_inputs_are_refused_at_their_line() {
    for empty in ["Count(0)", "Values([])", "Linspace(start: 0.0, end: 1.0, count: 0)"] {
        let text = with_line("inputs: Linspace(start: -1.0, end: 1.0, count: 5),", &format!("inputs: {empty},"));
        let (line, _, message) = syntax_error(&text);
        assert_eq!(line, 6, "{empty}");
        assert!(message.contains("`inputs` must not be empty"), "{empty}: {message}");
    }
}

#[test]
fn an_unknown_workload_is_refused_naming_it() {
    let text = with_line("workload: Spin(duration_us: 10),", "workload: Fibonacci(n: 3),");
    let (line, column, message) = syntax_error(&text);
    assert_eq!(line, 5);
    assert!(column >= 23, "column {column}");
    assert!(message.contains("Fibonacci"), "{message}");
    assert!(message.contains("Sleep") && message.contains("Command"), "lists the choices: {message}");
}

#[test]
fn zero_repetitions_and_zero_chunks_are_refused() {
    let (line, _, message) = syntax_error(&with_line("repetitions: 3,", "repetitions: 0,"));
    assert_eq!(line, 9);
    assert!(message.contains("`repetitions` must be at least 1"), "{message}");

    let (line, _, message) = syntax_error(&with_line("[Fixed(1), Auto]", "[Fixed(0)]"));
    assert_eq!(line, 8);
    assert!(message.contains("chunk size must be at least 1"), "{message}");
}

/// Warm-up plus repetitions was added in a `u32`: 4294967295 repetitions,
/// or 2 repetitions after 4294967295 warm-up runs, wrapped to a handful of
/// runs, measured nothing and was reported as a complete run.
#[test]
fn a_run_count_whose_sum_would_overflow_is_refused_naming_its_field() {
    let (line, _, message) = syntax_error(&with_line("repetitions: 3,", "repetitions: 4294967295,"));
    assert_eq!(line, 9);
    assert!(message.contains("`repetitions`") && message.contains("4294967295"), "{message}");

    let (line, _, message) = syntax_error(&with_line("repetitions: 3,", "repetitions: 2, warmup: 4294967295,"));
    assert_eq!(line, 9);
    assert!(message.contains("`warmup`") && message.contains("4294967295"), "{message}");

    let most = bench_harness::config::MAX_RUNS;
    let plan = parse(&with_line("repetitions: 3,", &format!("repetitions: {most}, warmup: {most},"))).unwrap();
    let experiment = &plan.experiments[0];
    assert!(experiment.warmup.checked_add(experiment.repetitions.get()).is_some());
    assert!(syntax_error(&with_line("repetitions: 3,", &format!("warmup: {},", most + 1))).2.contains("`warmup`"));
}

/// A chunk size listed twice was measured as two cells of one name: every
/// cell twice in the report, and `samples.csv` that `report` and `compare`
/// then refused as out of order.
#[test]
fn a_chunk_size_listed_twice_or_no_chunk_size_is_refused_at_its_line() {
    for (chunks, twice) in [("[Auto, Auto]", "Auto"), ("[Fixed(4), Auto, Fixed(4)]", "Fixed(4)")] {
        let (line, _, message) = syntax_error(&with_line("[Fixed(1), Auto]", chunks));
        assert_eq!(line, 8, "{chunks}");
        assert!(message.contains(&format!("`chunk_sizes` lists {twice} twice")), "{chunks}: {message}");
    }
    let (line, _, message) = syntax_error(&with_line("[Fixed(1), Auto]", "[]"));
    assert_eq!(line, 8);
    assert!(message.contains("`chunk_sizes` is empty"), "{message}");
    assert!(parse(&with_line("[Fixed(1), Auto]", "[Fixed(4), Fixed(1)]")).is_ok());
}

#[test]
fn a_missing_sequential_baseline_is_refused() {
    let (_, _, message) = syntax_error(&with_line("[Sequential, Pool, Rayon]", "[Pool, Rayon]"));
    assert!(message.contains("Sequential"), "{message}");
}

#[test]
fn an_unsafe_experiment_name_is_refused() {
    let (line, _, message) = syntax_error(&with_line("\"tiny\"", "\"../escape\""));
    assert_eq!(line, 4);
    assert!(message.contains("report directory"), "{message}");
}

/// `.previous`, `.a` and `.` were refused for using characters other than
/// "letters, digits, -, _ and .": all of theirs are allowed; the leading
/// dot is what is refused, and the message now says so.
#[test]
fn a_name_starting_with_a_dot_is_refused_for_the_dot() {
    for name in [".previous", ".a", ".", ".."] {
        let (line, _, message) = syntax_error(&with_line("\"tiny\"", &format!("{name:?}")));
        assert_eq!(line, 4, "{name}");
        assert!(message.contains("must not start with `.`"), "{name}: {message}");
        assert!(!message.contains("must use only"), "{name}: {message}");
    }
    assert!(parse(&with_line("\"tiny\"", "\"v1.2\"")).is_ok(), "a dot inside a name is fine");
}

/// A 300-character name passed validation, then failed the run with
/// "File name too long" (exit 1), leaving an empty directory behind.
#[test]
fn a_name_longer_than_a_file_name_may_be_is_refused_at_its_line() {
    let long = "n".repeat(300);
    let (line, _, message) = syntax_error(&with_line("\"tiny\"", &format!("{long:?}")));
    assert_eq!(line, 4);
    assert!(message.contains("`name` is 300 characters long, more than 200"), "{message}");
    assert!(parse(&with_line("\"tiny\"", &format!("{:?}", "n".repeat(200)))).is_ok(), "200 fit");
}

#[test]
fn duplicate_names_and_bad_workload_values_name_the_experiment() {
    let block = r#"(name: "tiny", workload: Square, inputs: Count(1), workers: [1],
                    repetitions: 1, backends: [Sequential])"#;
    let twice = format!("(experiments: [{block}, {block}])");
    match parse(&twice) {
        Err(ConfigError::Invalid { message, .. }) => assert!(message.contains("\"tiny\""), "{message}"),
        other => panic!("expected a consistency error, got {other:?}"),
    }

    let skew = with_line("workload: Spin(duration_us: 10),", "workload: Skewed(mean_us: 10, shape: 0.5),");
    match parse(&skew) {
        Err(error @ ConfigError::Invalid { .. }) => {
            let text = error.to_string();
            assert!(text.starts_with("bad.ron: experiment \"tiny\": Skewed `shape`"), "{text}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// Names that differ only in what a LaTeX macro name cannot hold (`-`,
/// `_`, `.`, a capital) give every macro one name: refused, naming both
/// experiments and a macro. So are a backend name that continues an
/// experiment name (`m` with `rows-on-pool`, `m-rows-on` with `Pool`) and
/// two backends of one experiment that spell one macro name.
#[test]
fn experiments_whose_latex_macros_collide_are_refused_naming_both_and_the_macro() {
    use bench_harness::report::latex::check_macro_names;
    let block = |name: &str, backends: &str| {
        format!(
            r#"(name: "{name}", workload: Square, inputs: Count(1), workers: [1, 2],
                repetitions: 1, backends: [Sequential, {backends}])"#
        )
    };
    let cases = [
        (
            block("spin-2", "Pool"),
            block("spin_2", "Pool"),
            "bhSpinTwoSequentialTime",
            "experiments \"spin-2\" and \"spin_2\"",
        ),
        (
            block("spin-2", "Pool"),
            block("spin.2", "Rayon"),
            "bhSpinTwoSequentialTime",
            "experiments \"spin-2\" and \"spin.2\"",
        ),
        (block("spin", "Pool"), block("Spin", "Pool"), "bhSpinSequentialTime", "experiments \"spin\" and \"Spin\""),
        (
            block("m", "Named(\"rows-on-pool\")"),
            block("m-rows-on", "Pool"),
            "bhMRowsOnPoolPOneTime",
            "experiments \"m\" and \"m-rows-on\"",
        ),
        (
            block("s", "StdScope, Named(\"std_scope\")"),
            block("other", "Pool"),
            "bhSStdScopePOneTime",
            "experiment \"s\" defines it for backend \"std-scope\" and for backend \"std_scope\"",
        ),
    ];
    for (first, second, name, whose) in cases {
        let text = format!("(experiments: [{}, {first}, {second}])", block("other-one", "Pool"));
        let plan = parse(&text).unwrap();
        let message = check_macro_names(&plan.experiments).unwrap_err();
        let expected = format!("the LaTeX macro \\{name} would be defined twice: {whose}");
        assert!(message.starts_with(&expected), "{message}\nexpected: {expected}");
    }
    for distinct in [
        format!("(experiments: [{}, {}])", block("spin-2", "Pool"), block("spin-3", "Pool")),
        format!("(experiments: [{}, {}])", block("m", "Named(\"rows-on-pool\")"), block("m-rows", "Pool")),
    ] {
        let plan = parse(&distinct).unwrap();
        assert_eq!(check_macro_names(&plan.experiments), Ok(()));
    }
    // Runs of one experiment (on several machines, redrawn together) define
    // its macros alike by design, each in its own directory.
    let plan = parse(&format!("(experiments: [{}])", block("spin", "Pool, StdScope"))).unwrap();
    assert_eq!(check_macro_names([&plan.experiments[0], &plan.experiments[0]]), Ok(()));
}

#[test]
fn a_missing_file_names_the_path() {
    let error = Plan::load(Path::new("/nonexistent/experiments.ron")).unwrap_err();
    assert!(matches!(error, ConfigError::Read { .. }));
    assert!(error.to_string().contains("/nonexistent/experiments.ron"), "{error}");
}
