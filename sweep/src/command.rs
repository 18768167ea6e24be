//! External black boxes: an argv template with `{name}` placeholders, run
//! once per point without a shell; its stdout is the point's value.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::point::Point;

/// How many bytes of a failing command's stderr go into the error message.
const STDERR_TAIL_BYTES: usize = 600;

/// Why a command template is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// The argv list is empty.
    #[error("the command is empty; give at least the program, e.g. [\"./sim\", \"--x\", \"{{x}}\"]")]
    Empty,
    /// A placeholder names no coordinate of the space.
    #[error("argument {argument:?} uses placeholder {{{name}}}, but the space only has {known:?} (write {{{{ or }}}} for a literal brace)")]
    UnknownPlaceholder {
        /// The template argument containing it.
        argument: String,
        /// The unknown name.
        name: String,
        /// Coordinate names of the space.
        known: Vec<String>,
    },
}

/// One piece of a template argument.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Coordinate(String),
}

/// An argv list whose arguments may contain `{name}` placeholders.
///
/// `{name}` is replaced by the point's coordinate `name`; `{{` and `}}` are
/// literal braces; any other brace is kept as is, so programs such as
/// `awk 'BEGIN { print 2 * {x} }'` need no escaping. A `{identifier}` that is
/// not a coordinate is an error (it is almost always a typo).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandTemplate {
    arguments: Vec<Vec<Piece>>,
}

impl CommandTemplate {
    /// Parses `argv`, checking placeholders against the coordinate `names`.
    pub fn new(argv: &[String], names: &[String]) -> Result<Self, TemplateError> {
        if argv.is_empty() {
            return Err(TemplateError::Empty);
        }
        let arguments = argv.iter().map(|argument| parse_argument(argument, names)).collect::<Result<_, _>>()?;
        Ok(CommandTemplate { arguments })
    }

    /// The argv for one point.
    pub fn render(&self, point: &Point) -> Vec<String> {
        self.arguments
            .iter()
            .map(|pieces| {
                pieces
                    .iter()
                    .map(|piece| match piece {
                        Piece::Literal(text) => text.clone(),
                        // Names were checked against the space in `new`.
                        Piece::Coordinate(name) => point.get(name).map(ToString::to_string).unwrap_or_default(),
                    })
                    .collect()
            })
            .collect()
    }
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn parse_argument(argument: &str, names: &[String]) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = argument;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") || rest.starts_with("}}") {
            literal.push(c);
            rest = &rest[2..];
            continue;
        }
        if c == '{' {
            if let Some(end) = rest.find('}') {
                let name = &rest[1..end];
                if is_identifier(name) {
                    if !names.iter().any(|n| n == name) {
                        return Err(TemplateError::UnknownPlaceholder {
                            argument: argument.to_owned(),
                            name: name.to_owned(),
                            known: names.to_vec(),
                        });
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Coordinate(name.to_owned()));
                    rest = &rest[end + 1..];
                    continue;
                }
            }
        }
        literal.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !literal.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// Runs `argv` (no shell) and parses its stdout as the value: a number or
/// any JSON value (surrounding whitespace ignored).
///
/// Fails, with a message meant for the results file, when the program cannot
/// start, exits unsuccessfully (status and the tail of stderr), prints
/// something unparsable, or runs past `timeout` — in which case it is killed
/// together with anything it started.
pub fn run_command(argv: &[String], timeout: Option<Duration>) -> Result<serde_json::Value, String> {
    let (program, arguments) = argv.split_first().ok_or("empty command")?;
    let mut command = Command::new(program);
    command.args(arguments).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(unix)]
    if timeout.is_some() {
        // A group of its own lets a timeout kill grandchildren too (`sh -c`
        // forks); otherwise they would keep the pipes open after the kill.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    let mut child = command.spawn().map_err(|e| format!("cannot start {program:?}: {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = match timeout {
        None => child.wait().map_err(|e| format!("waiting for {program:?}: {e}"))?,
        Some(limit) => match wait_with_deadline(&mut child, limit)? {
            Some(status) => status,
            None => {
                kill_tree(&mut child);
                return Err(format!("timed out after {:.3} s; the command was killed", limit.as_secs_f64()));
            }
        },
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let text = String::from_utf8_lossy(&stderr);
        let trimmed = text.trim_end();
        let tail_start = trimmed.len().saturating_sub(STDERR_TAIL_BYTES);
        let tail_start = (tail_start..=trimmed.len()).find(|i| trimmed.is_char_boundary(*i)).unwrap_or(trimmed.len());
        let ellipsis = if tail_start > 0 { "…" } else { "" };
        return Err(if trimmed.is_empty() {
            format!("command `{program}` failed ({status}) with no output on stderr")
        } else {
            format!("command `{program}` failed ({status}); stderr: {ellipsis}{}", &trimmed[tail_start..])
        });
    }
    parse_value(&String::from_utf8_lossy(&stdout))
}

/// Parses a command's stdout: one number or JSON value.
pub fn parse_value(stdout: &str) -> Result<serde_json::Value, String> {
    let text = stdout.trim();
    if text.is_empty() {
        return Err("the command printed nothing on stdout (expected a number or a JSON value)".into());
    }
    serde_json::from_str(text).map_err(|_| {
        let shown: String = text.chars().take(200).collect();
        format!("stdout is not a number or a JSON value: {shown:?}")
    })
}

/// Reads a pipe to its end on a helper thread, so neither pipe can fill up
/// and block the child while we wait on the other.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error just truncates the output; the exit status still counts.
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Polls the child until it exits (`Some`) or `limit` passes (`None`).
fn wait_with_deadline(child: &mut Child, limit: Duration) -> Result<Option<ExitStatus>, String> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("waiting for the command: {e}"))? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        // Short pauses first so quick commands are noticed quickly.
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

/// Kills the child and, on Unix, its whole process group; then reaps it.
fn kill_tree(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
        // addresses the group created for this child by `process_group(0)`.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    // Errors mean the child is already gone, which is what we want.
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::Value;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn argv(list: &[&str]) -> Vec<String> {
        names(list)
    }

    #[test]
    fn placeholders_are_substituted_and_other_braces_kept() {
        let template =
            CommandTemplate::new(&argv(&["awk", "BEGIN { print {a} * {x} }", "--tag={{x}}"]), &names(&["a", "x"]));
        let point = Point::new(vec![("a".into(), Value::Int(-1)), ("x".into(), Value::Float(0.5))]);
        let rendered = template.map(|t| t.render(&point));
        assert_eq!(rendered, Ok(argv(&["awk", "BEGIN { print -1 * 0.5 }", "--tag={x}"])));
    }

    #[test]
    fn unknown_placeholders_are_rejected() {
        let error = CommandTemplate::new(&argv(&["sim", "--y={y}"]), &names(&["x"]));
        assert!(matches!(error, Err(TemplateError::UnknownPlaceholder { ref name, .. }) if name == "y"));
        assert_eq!(CommandTemplate::new(&[], &names(&["x"])), Err(TemplateError::Empty));
    }

    #[test]
    fn stdout_numbers_and_json_are_values() {
        assert_eq!(parse_value(" 0.25\n"), Ok(serde_json::json!(0.25)));
        assert_eq!(parse_value("{\"f\": 1}"), Ok(serde_json::json!({"f": 1})));
        assert!(parse_value("").is_err());
        assert!(parse_value("nan").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn failures_carry_status_and_stderr() {
        let result = run_command(&argv(&["sh", "-c", "echo boom >&2; exit 3"]), None);
        let message = result.err().unwrap_or_default();
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(message.contains("boom"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn timeouts_kill_the_whole_process_tree() {
        let started = Instant::now();
        let result = run_command(&argv(&["sh", "-c", "sleep 5; echo 1"]), Some(Duration::from_millis(100)));
        assert!(result.err().unwrap_or_default().contains("timed out"));
        // Returning early proves the grandchild `sleep` no longer holds the pipes.
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    }
}
