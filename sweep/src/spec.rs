//! Sweep specs: the RON file that names a space, the command to run at each
//! point, and how to run it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::command::{CommandTemplate, TemplateError};
use crate::space::{Space, SpaceError};

/// What is evaluated at each point: a sweep's identity, with its space.
///
/// The same argv run one-shot and persistent computes different things
/// (one gets the point in its arguments, the other on its stdin), so the
/// two are different tasks and never share records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Task {
    /// An external command (argv template), started once per point. Files
    /// of format 3 and older also wrote this for persistent commands (see
    /// [`crate::store::FORMAT_VERSION`]).
    Command(Vec<String>),
    /// An external command started once per worker, one point per line on
    /// its stdin (`persistent: true`).
    Persistent(Vec<String>),
    /// A Rust closure, identified by a label chosen by the caller.
    Closure(String),
}

/// Title and axis labels (with units, ideally) for charts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Labels {
    /// Chart title; default "`value` over `axes`".
    pub title: Option<String>,
    /// Label of the value axis, e.g. `"energy (J)"`.
    pub value: Option<String>,
    /// Label per coordinate name, e.g. `{"x": "position x (m)"}`.
    pub axes: BTreeMap<String, String>,
}

impl Labels {
    /// The label of coordinate `name`: its entry in `axes`, else the name.
    pub fn axis(&self, name: &str) -> String {
        self.axes.get(name).cloned().unwrap_or_else(|| name.to_owned())
    }
}

/// A sweep as written in a spec file, e.g.
///
/// ```ron
/// (
///     space: Grid([
///         Linspace(name: "x", start: -1.0, stop: 1.0, num: 20),
///         Linspace(name: "y", start: -1.0, stop: 1.0, num: 20),
///     ]),
///     command: ["awk", "BEGIN { print -1 * ({x}^2 + {y}^2) }"],
///     workers: 4,
/// )
/// ```
///
/// Optional fields may be written bare (`workers: 4`) or as `Some(4)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The points to evaluate.
    pub space: Space,
    /// argv template (no shell) with `{name}` placeholders; its stdout is
    /// the value of the point.
    pub command: Vec<String>,
    /// Worker threads (default: available parallelism).
    #[serde(default)]
    pub workers: Option<usize>,
    /// Points handed to a worker at a time (default 1: points are assumed
    /// expensive, and a crash loses at most the points in flight).
    #[serde(default)]
    pub chunk_size: Option<usize>,
    /// Per-point limit in seconds; the command is killed past it.
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// Results file (JSON Lines; default `<spec name>.jsonl` in the
    /// current directory).
    #[serde(default)]
    pub output: Option<PathBuf>,
    /// Title and axis labels for `sweep plot`.
    #[serde(default)]
    pub labels: Labels,
    /// Attempts a point gets across all runs before it is given up
    /// (default 3).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Immediate retries of a failed point within a run (default 0).
    #[serde(default)]
    pub retries: Option<u32>,
    /// Most bytes a command may print on stdout (default 1 MiB).
    #[serde(default)]
    pub max_output: Option<usize>,
    /// Start the command once per worker and send it one point per line
    /// (a JSON object of the coordinates) on stdin; it answers each with
    /// one line on stdout. The command then has no placeholders. Without
    /// `timeout_secs`, one that never answers stalls the run for ever.
    #[serde(default)]
    pub persistent: bool,
}

/// Why a spec cannot be used.
///
/// Each variant prints its underlying reason in its own message and so does
/// not also return it from `source()`: printed as an error chain (`{:#}`),
/// a cause must appear once.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file cannot be read.
    #[error("cannot read spec {path}: {reason}")]
    Read {
        /// The spec file.
        path: PathBuf,
        /// The I/O error.
        reason: std::io::Error,
    },
    /// The file is larger than any spec ([`MAX_SPEC_BYTES`]): not a spec,
    /// or an endless stream such as `/dev/zero`.
    #[error("cannot read spec {path}: it is larger than {} MiB, far more than a spec needs; is it the right file?", MAX_SPEC_BYTES >> 20)]
    TooLarge {
        /// The spec file.
        path: PathBuf,
    },
    /// The file is not valid RON for a spec.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The spec file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The space cannot be enumerated.
    #[error("{path}: {reason}")]
    Space {
        /// The spec file.
        path: PathBuf,
        /// The problem with the space.
        reason: SpaceError,
    },
    /// The command template is unusable.
    #[error("{path}: command: {reason}")]
    Command {
        /// The spec file.
        path: PathBuf,
        /// The problem with the template.
        reason: TemplateError,
    },
    /// A numeric setting is out of range.
    #[error("{path}: {message}")]
    Setting {
        /// The spec file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The most bytes read from a spec file: a spec is a few lines, even with
/// long lists of values, and reading must end on a file that never does.
pub const MAX_SPEC_BYTES: u64 = 8 << 20;

/// Why a persistent command may not use placeholders.
pub const PERSISTENT_PLACEHOLDERS: &str = "a persistent command is started once and reads each point as a JSON \
    line on its stdin, so its arguments cannot use {placeholders}; drop them, or drop `persistent`";

impl Spec {
    /// Reads and validates a spec file.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let read = |reason| SpecError::Read { path: path.to_owned(), reason };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(MAX_SPEC_BYTES + 1).read_to_end(&mut bytes))
            .map_err(read)?;
        if bytes.len() as u64 > MAX_SPEC_BYTES {
            return Err(SpecError::TooLarge { path: path.to_owned() });
        }
        let text = String::from_utf8(bytes)
            .map_err(|e| read(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8 text: {e}"))))?;
        Spec::parse(&text, path)
    }

    /// Parses and validates spec text; `path` is only used in messages. A
    /// leading byte-order mark (some Windows editors write one) is skipped:
    /// editors do not show it, so positions are counted without it.
    pub fn parse(text: &str, path: &Path) -> Result<Spec, SpecError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let spec: Spec = options.from_str(text).map_err(|e| SpecError::Syntax {
            path: path.to_owned(),
            line: e.span.end.line,
            column: e.span.end.col,
            message: e.code.to_string(),
        })?;
        spec.validate(path)?;
        Ok(spec)
    }

    /// Checks the space, the command template and the settings.
    pub fn validate(&self, path: &Path) -> Result<(), SpecError> {
        self.space.validate().map_err(|reason| SpecError::Space { path: path.to_owned(), reason })?;
        let setting = |message: &str| SpecError::Setting { path: path.to_owned(), message: message.to_owned() };
        // A `{placeholder}` only names letters, digits and `_`: `{learning-rate}`
        // would stay literal text, every point running one and the same argv.
        // A persistent black box has no placeholders: it reads each point's
        // coordinates as JSON keys, which may be any name.
        let unnamable = self.space.names().into_iter().find(|name| !crate::command::is_identifier(name));
        if let Some(name) = unnamable.filter(|_| !self.persistent) {
            let suggested: String = name.chars().map(|c| if c.is_alphanumeric() { c } else { '_' }).collect();
            return Err(setting(&format!(
                "axis name {name:?} may use only letters, digits and `_`, so that a {{placeholder}} in the \
                 command can name it; rename the axis (e.g. {suggested:?}) and give it a display name in \
                 `labels: (axes: {{{suggested:?}: {name:?}}})`"
            )));
        }
        self.template().map_err(|reason| SpecError::Command { path: path.to_owned(), reason })?;
        if self.workers == Some(0) {
            return Err(setting("workers must be at least 1"));
        }
        if self.chunk_size == Some(0) {
            return Err(setting("chunk_size must be at least 1"));
        }
        if self.max_attempts == Some(0) {
            return Err(setting("max_attempts must be at least 1"));
        }
        if self.max_output == Some(0) {
            return Err(setting("max_output must be at least 1 byte"));
        }
        if self.persistent && self.template().is_ok_and(|t| t.has_placeholders()) {
            return Err(setting(PERSISTENT_PLACEHOLDERS));
        }
        if self.output.as_ref().is_some_and(|output| output.as_os_str().is_empty()) {
            return Err(setting("output is empty: name the results file, or leave `output` out for <spec name>.jsonl"));
        }
        if let Some(output) = &self.output {
            // `Path` drops a trailing `/`: read the text as written.
            let text = output.to_string_lossy();
            if text.ends_with(std::path::MAIN_SEPARATOR) || text.ends_with('/') || output.file_name().is_none() {
                return Err(setting(&format!(
                    "output {text:?} names a directory: name the results file in it (e.g. {:?})",
                    output.join("results.jsonl")
                )));
            }
        }
        let names = self.space.names();
        if let Some(unknown) = self.labels.axes.keys().find(|name| !names.contains(name)) {
            return Err(setting(&format!(
                "labels.axes names {unknown:?}, which is no axis of the space (its axes: {})",
                names.join(", ")
            )));
        }
        if let Some(t) = self.timeout_secs {
            if !(t.is_finite() && t > 0.0) {
                return Err(setting("timeout_secs must be a positive number of seconds"));
            }
        }
        Ok(())
    }

    /// The command template, checked against the space's coordinate names.
    pub fn template(&self) -> Result<CommandTemplate, TemplateError> {
        CommandTemplate::new(&self.command, &self.space.names())
    }

    /// What the spec evaluates: its command template, run as `persistent`
    /// says. Only the spec decides (`run --persistent` must agree with it),
    /// so every subcommand that reads the spec finds the sweep `run` wrote.
    pub fn task(&self) -> Task {
        if self.persistent {
            Task::Persistent(self.command.clone())
        } else {
            Task::Command(self.command.clone())
        }
    }

    /// The results file: `output` from the spec, else the spec's file name
    /// with `.ron` (when it ends so) replaced by `.jsonl`, in the current
    /// directory: `study.v1.ron` → `study.v1.jsonl`.
    pub fn default_output(&self, spec_path: &Path) -> PathBuf {
        self.output.clone().unwrap_or_else(|| {
            let name = spec_path.file_name().unwrap_or_else(|| "sweep".as_ref());
            renamed_for(Path::new(name), "ron", "jsonl")
        })
    }
}

/// The file named `name` as a `to` file: `name` with its extension `from`
/// replaced by `to`, or with `to` appended when it has another or none
/// (`study.v1.ron` → `study.v1.jsonl`, `res.v1` → `res.v1.png`). Not
/// [`Path::with_extension`], which would replace `v1` and give `study.v1`
/// and `study.v2` one name.
pub fn renamed_for(name: &Path, from: &str, to: &str) -> PathBuf {
    let base = match (name.extension(), name.file_stem()) {
        // `file_stem` drops exactly the extension `from` then.
        (Some(extension), Some(stem)) if extension == from => name.with_file_name(stem),
        _ => name.to_owned(),
    };
    let mut base = base.into_os_string();
    base.push(format!(".{to}"));
    PathBuf::from(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_name_keeps_every_dot_but_the_replaced_extension() {
        let renamed = |name: &str, from: &str, to: &str| renamed_for(Path::new(name), from, to);
        assert_eq!(renamed("study.v1.ron", "ron", "jsonl"), PathBuf::from("study.v1.jsonl"));
        assert_eq!(renamed("study.v2.ron", "ron", "jsonl"), PathBuf::from("study.v2.jsonl"));
        assert_eq!(renamed("study.v1", "ron", "jsonl"), PathBuf::from("study.v1.jsonl"));
        assert_eq!(renamed("d/res.v1.jsonl", "jsonl", "png"), PathBuf::from("d/res.v1.png"));
        assert_eq!(renamed("d/res.v1", "jsonl", "png"), PathBuf::from("d/res.v1.png"));
        assert_eq!(renamed("r.jsonl", "jsonl", "svg"), PathBuf::from("r.svg"));
        assert_eq!(renamed(".ron", "ron", "jsonl"), PathBuf::from(".ron.jsonl"));
        assert_eq!(renamed("a.RON", "ron", "jsonl"), PathBuf::from("a.RON.jsonl"));
    }

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, Path::new("s.ron"))
    }

    #[test]
    fn minimal_spec_with_bare_optionals() {
        let spec = parse(
            r#"(space: Linspace(name: "x", start: 0.0, stop: 1.0, num: 3),
                command: ["echo", "{x}"], workers: 2, timeout_secs: 1.5)"#,
        );
        let spec = spec.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.workers, Some(2));
        assert_eq!(spec.timeout_secs, Some(1.5));
        assert_eq!(spec.default_output(Path::new("configs/s.ron")), PathBuf::from("s.jsonl"));
        // The referee's study.v1.ron and study.v2.ron both ran into study.jsonl.
        assert_eq!(spec.default_output(Path::new("configs/study.v1.ron")), PathBuf::from("study.v1.jsonl"));
        assert_eq!(spec.default_output(Path::new("study.v2.ron")), PathBuf::from("study.v2.jsonl"));
        assert_eq!(spec.default_output(Path::new("study.v3")), PathBuf::from("study.v3.jsonl"));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let error =
            parse("(\n  space: Linspace(name: \"x\", start: 0.0, stop: 1.0, num: 3),\n  comand: [\"echo\"],\n)");
        let message = error.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with("s.ron:3:"), "{message}");
        assert!(message.contains("comand"), "{message}");
    }

    #[test]
    fn settings_are_checked() {
        let base = r#"space: List(name: "k", values: [1, 2]), command: ["echo", "{k}"]"#;
        for (extra, needle) in
            [("workers: 0", "workers"), ("chunk_size: 0", "chunk_size"), ("timeout_secs: -1.0", "timeout_secs")]
        {
            let message = parse(&format!("({base}, {extra})")).err().map(|e| e.to_string());
            assert!(message.as_deref().unwrap_or("").contains(needle), "{message:?}");
        }
        let persistent = parse(&format!("({base}, persistent: true)")).err().map(|e| e.to_string());
        assert!(persistent.as_deref().unwrap_or("").contains("cannot use {placeholders}"), "{persistent:?}");
        let persistent = parse(r#"(space: List(name: "k", values: [1]), command: ["./bb"], persistent: true)"#);
        assert!(persistent.is_ok_and(|spec| spec.persistent));
        let typo = parse(r#"(space: List(name: "k", values: [1]), command: ["echo", "{j}"])"#);
        assert!(matches!(typo, Err(SpecError::Command { .. })));
        let empty = parse(&format!(r#"({base}, output: "")"#)).err().map(|e| e.to_string());
        assert!(empty.as_deref().unwrap_or("").contains("output is empty"), "{empty:?}");
        for directory in ["sub/", "sub/..", ".", "/"] {
            let refused = parse(&format!(r#"({base}, output: "{directory}")"#)).err().map(|e| e.to_string());
            assert!(refused.as_deref().unwrap_or("").contains("names a directory"), "{directory}: {refused:?}");
        }
        assert!(parse(&format!(r#"({base}, output: "sub/r.jsonl")"#)).is_ok());
    }

    #[test]
    fn axis_names_a_placeholder_cannot_name_are_refused() {
        // As written in RON, and as the name reads.
        for (written, name) in [("learning-rate", "learning-rate"), ("a b", "a b"), (r#"a\"b"#, "a\"b"), ("{x}", "{x}")]
        {
            let text = format!(
                r#"(space: Grid([List(name: "k", values: [1]), List(name: "{written}", values: [1, 2])]),
                    command: ["echo", "{{k}}"])"#
            );
            let message = parse(&text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                message.starts_with(&format!("s.ron: axis name {name:?} may use only letters, digits and `_`")),
                "{name}: {message}"
            );
        }
        let message =
            parse(r#"(space: List(name: "learning-rate", values: [0.1, 0.01]), command: ["echo", "{learning-rate}"])"#)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
        assert!(message.contains(r#""learning-rate""#) && message.contains(r#""learning_rate""#), "{message}");
        // Letters of any script are letters.
        assert!(parse(r#"(space: List(name: "größe_2", values: [1]), command: ["echo", "{größe_2}"])"#).is_ok());
        // A persistent black box reads coordinates as JSON keys, not
        // placeholders: any name is one it can read.
        let persistent = r#"(space: List(name: "learning-rate", values: [0.1]), command: ["./bb"], persistent: true)"#;
        assert!(parse(persistent).is_ok_and(|spec| spec.persistent));
    }

    #[test]
    fn labels_name_only_axes_of_the_space() {
        let spec = |axes: &str| {
            parse(&format!(
                r#"(space: Grid([List(name: "x", values: [1]), List(name: "y", values: [2])]),
                    command: ["echo"], labels: (axes: {{{axes}}}))"#
            ))
        };
        assert!(spec(r#""x": "position (m)""#).is_ok());
        let message = spec(r#""x": "position (m)", "z": "depth (m)""#).err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some(r#"s.ron: labels.axes names "z", which is no axis of the space (its axes: x, y)"#)
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let text = "\u{feff}(space: List(name: \"k\", values: [1]),\n command: [\"echo\", \"{k}\"], comand: 1)";
        let message = parse(text).err().map(|e| e.to_string()).unwrap_or_default();
        // Past the mark, and positions count without it.
        assert!(message.starts_with("s.ron:2:") && message.contains("comand"), "{message}");
        assert!(parse(&text.replace(", comand: 1", "")).is_ok());
    }

    #[test]
    fn an_endless_spec_file_is_refused_past_a_bound() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("huge.ron");
        let bytes = usize::try_from(MAX_SPEC_BYTES).unwrap_or(usize::MAX);
        std::fs::write(&path, " ".repeat(bytes + 1)).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(Spec::load(&path), Err(SpecError::TooLarge { .. })));
        if Path::new("/dev/zero").exists() {
            let message = Spec::load(Path::new("/dev/zero")).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains("larger than 8 MiB"), "{message}");
        }
    }
}
