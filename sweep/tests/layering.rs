//! The library's modules form layers: data flows spec → space → runner →
//! store → plot, and a module may only import modules below it. This test
//! reads the sources and fails on any import that points back up (the
//! store ↔ plot cycle this replaced made every change ripple both ways).

use std::path::Path;

/// Lowest layer first. `store` sits below `runner` because the runner
/// writes into it; `plot` and `slurm` read what the store holds; `exit`
/// classifies the errors of all of them.
const LAYERS: &[&str] = &[
    "output",
    "hash",
    "signals",
    "point",
    "space",
    "command",
    "spec",
    "fingerprint",
    "store",
    "runner",
    "plot",
    "slurm",
    "exit",
];

/// Exported macros live at the crate root (`crate::eprintln`); each
/// counts as the module that defines it.
const MACROS: &[(&str, &str)] = &[("eprintln", "output"), ("println", "output")];

fn rank(module: &str) -> Option<usize> {
    let module = MACROS.iter().find(|(name, _)| *name == module).map_or(module, |(_, home)| home);
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
            // A file belongs to the top-level module it sits in: store/lock.rs is `store`.
            let top = relative.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
            let Some(module) = top.map(|t| t.trim_end_matches(".rs").to_owned()) else { continue };
            if module == "lib" || module == "main" {
                continue;
            }
            let own = rank(&module).unwrap_or_else(|| panic!("module {module} is missing from LAYERS"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for import in imports(&text) {
                checked += 1;
                if import == module {
                    continue;
                }
                match rank(&import) {
                    Some(r) if r < own => {}
                    _ => violations.push(format!("{} imports crate::{import}", relative.display())),
                }
            }
        }
    }
    assert!(checked > 10, "found only {checked} imports; is the source tree where this test expects it?");
    assert!(violations.is_empty(), "imports against the layering: {violations:#?}");
}
