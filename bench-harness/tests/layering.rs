//! The crate's modules form layers (see the crate documentation), and a
//! module may only import modules below it. This test reads the sources
//! and fails on any import that points back up: the circle it replaced
//! (`custom` → `cli` → `run` → `comparison` → `redraw` → `run`) made
//! every module depend on every other.

use std::path::Path;

/// Lowest layer first: model, engine, statistics, outputs, commands, cli.
const LAYERS: &[&str] = &[
    "workload",
    "config",
    "custom",
    "machine",
    "backend",
    "measure",
    "preflight",
    "stats",
    "analysis",
    "report",
    "run",
    "redraw",
    "comparison",
    "cli",
];

/// Test scaffolding (`#[cfg(test)]` only): builds inputs of every stage for
/// unit tests, so it stands outside the layers.
const SCAFFOLDING: &str = "testing";

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|m| *m == module)
}

/// `crate::name` paths mentioned in `text`, comments excluded.
fn imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            found.push(name);
        }
    }
    found
}

#[test]
fn modules_only_import_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    let mut visit = vec![src.clone()];
    while let Some(dir) = visit.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                visit.push(path);
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap_or(&path);
            // A file belongs to the top-level module it sits in: report/csv.rs is `report`.
            let top = relative.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
            let Some(module) = top.map(|t| t.trim_end_matches(".rs").to_owned()) else { continue };
            if module == "lib" || module == "main" || module == SCAFFOLDING {
                continue;
            }
            let own = rank(&module).unwrap_or_else(|| panic!("module {module} is missing from LAYERS"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for import in imports(&text) {
                checked += 1;
                if import == module || import == SCAFFOLDING {
                    continue;
                }
                match rank(&import) {
                    Some(r) if r < own => {}
                    _ => violations.push(format!("{} imports crate::{import}", relative.display())),
                }
            }
        }
    }
    assert!(checked > 50, "found only {checked} imports; is the source tree where this test expects it?");
    assert!(violations.is_empty(), "imports against the layering: {violations:#?}");
}

#[test]
fn the_binary_enters_through_cli_main_with_only() {
    let main = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/main.rs")).unwrap();
    let calls: Vec<&str> =
        main.lines().map(str::trim).filter(|l| !l.starts_with("//") && l.contains("bench_harness::")).collect();
    assert_eq!(calls, ["bench_harness::cli::main_with(bench_harness::custom::Registry::new())"]);
}
