//! Where `sweep plot` writes its charts, and in which format. An `-o` path
//! is used exactly as given (`-o /dev/stdout --format svg` writes to
//! standard output, not to a file `/dev/stdout.svg`); its extension, when
//! it names a chart format, must agree with `--format`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use charts::Format;

use super::PlotError;

/// A chart to write: its path, and the format it is drawn in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where the chart goes (with two varying axes, the heatmap and the
    /// surface go beside it; see [`super::plot_results_as`]).
    pub path: PathBuf,
    /// The chart's format.
    pub format: Format,
    /// The spec files the plotted results came from, which no chart may
    /// replace (see [`refuse_to_replace_results`](crate::store::refuse_to_replace_results)):
    /// [`targets`] leaves it empty, for the caller that loaded the results
    /// to fill with [`Header::spec_candidates`](crate::store::Header::spec_candidates).
    pub specs: Vec<PathBuf>,
}

/// The charts of `sweep plot RESULTS [-o OUTPUT] [--format F,…]`, one per
/// format:
///
/// - without `-o`, `RESULTS` with each format's extension in place of
///   `.jsonl`, or appended when it has none (`res.v1` → `res.v1.png`; PNG
///   when no format is named);
/// - with `-o`, that path as given. An extension naming a chart format is
///   its format: `--format` must list it (else the two disagree, which is
///   refused), and its other formats go beside with their own extension.
///   A path whose extension names no format (`/dev/stdout`, `chart.v2`)
///   needs `--format`; with several formats, each one's extension is
///   appended to the name.
///
/// # Errors
///
/// [`PlotError::Unsupported`] (bad input) for a disagreement between `-o`
/// and `--format`, or an `-o` whose format nothing names.
pub fn targets(results: &Path, output: Option<&Path>, formats: Option<&[Format]>) -> Result<Vec<Target>, PlotError> {
    let Some(output) = output else {
        let formats = formats.unwrap_or(&[Format::Png]);
        return Ok(formats
            .iter()
            .map(|&format| {
                let path = crate::spec::renamed_for(results, "jsonl", format.extension());
                Target { path, format, specs: Vec::new() }
            })
            .collect());
    };
    let as_given = |format| Target { path: output.to_owned(), format, specs: Vec::new() };
    if is_stream(output) && formats.is_some_and(|formats| formats.len() > 1) {
        return Err(PlotError::Unsupported(format!(
            "-o {} is a device or pipe, which takes one chart; --format asks for several: give a file name, or \
             one format",
            output.display()
        )));
    }
    match (Format::from_path(output).ok(), formats) {
        (Some(named), None) => Ok(vec![as_given(named)]),
        (Some(named), Some(formats)) if formats.contains(&named) => Ok(formats
            .iter()
            .map(|&format| {
                if format == named {
                    as_given(format)
                } else {
                    Target { path: output.with_extension(format.extension()), format, specs: Vec::new() }
                }
            })
            .collect()),
        (Some(named), Some(formats)) => Err(PlotError::Unsupported(format!(
            "-o {} names a {} chart, but --format asks for {}; name the file for its format, or leave out --format",
            output.display(),
            named.extension(),
            formats.iter().map(|f| f.extension()).collect::<Vec<_>>().join(","),
        ))),
        (None, Some([only])) => Ok(vec![as_given(*only)]),
        (None, Some(formats)) => Ok(formats
            .iter()
            .map(|&format| {
                let mut name = OsString::from(output.as_os_str());
                name.push(".");
                name.push(format.extension());
                Target { path: PathBuf::from(name), format, specs: Vec::new() }
            })
            .collect()),
        (None, None) => Err(PlotError::Unsupported(format!(
            "cannot tell the chart format of {}: its extension must be .png, .svg or .pdf; or name the format \
             with --format",
            output.display()
        ))),
    }
}

/// Whether `path` is a device or a pipe (`/dev/stdout`, a FIFO): it takes
/// one chart, written straight into it; a name made from it is no place.
pub(super) fn is_stream(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// `dir/stem.svg` → `dir/stem-<suffix>.svg`, with `format`'s extension; a
/// name whose extension names no chart format keeps it (`r.v2` →
/// `r.v2-heatmap.png`).
pub(super) fn sibling(output: &Path, suffix: &str, format: Format) -> PathBuf {
    let stem = if Format::from_path(output).is_ok() { output.file_stem() } else { output.file_name() };
    let stem = stem.map_or_else(|| "plot".into(), |s| s.to_string_lossy().into_owned());
    output.with_file_name(format!("{stem}-{suffix}.{}", format.extension()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(results: &str, output: Option<&str>, formats: Option<&[Format]>) -> Result<Vec<String>, String> {
        targets(Path::new(results), output.map(Path::new), formats)
            .map(|targets| {
                targets.into_iter().map(|t| format!("{} {}", t.path.display(), t.format.extension())).collect()
            })
            .map_err(|e| e.to_string())
    }

    /// The tester's `-o /dev/stdout --format svg`, which wrote a file
    /// `/dev/stdout.svg`.
    #[test]
    fn an_output_path_is_used_as_given() {
        assert_eq!(paths("r.jsonl", Some("/dev/stdout"), Some(&[Format::Svg])), Ok(vec!["/dev/stdout svg".into()]));
        assert_eq!(paths("r.jsonl", Some("chart.v2"), Some(&[Format::Pdf])), Ok(vec!["chart.v2 pdf".into()]));
        assert_eq!(paths("r.jsonl", Some("c.svg"), None), Ok(vec!["c.svg svg".into()]));
        assert_eq!(paths("r.jsonl", Some("c.svg"), Some(&[Format::Svg])), Ok(vec!["c.svg svg".into()]));
        assert_eq!(
            paths("r.jsonl", Some("c.png"), Some(&[Format::Png, Format::Pdf])),
            Ok(vec!["c.png png".into(), "c.pdf pdf".into()])
        );
        assert_eq!(
            paths("r.jsonl", Some("out"), Some(&[Format::Png, Format::Svg])),
            Ok(vec!["out.png png".into(), "out.svg svg".into()])
        );
        assert_eq!(paths("d/r.jsonl", None, None), Ok(vec!["d/r.png png".into()]));
        assert_eq!(paths("r.jsonl", None, Some(&[Format::Svg])), Ok(vec!["r.svg svg".into()]));
        // The referee's res.v1 and res.v2 both drew res.png.
        assert_eq!(paths("res.v1", None, None), Ok(vec!["res.v1.png png".into()]));
        assert_eq!(paths("res.v2.jsonl", None, Some(&[Format::Pdf])), Ok(vec!["res.v2.pdf pdf".into()]));
    }

    #[test]
    fn an_output_extension_that_contradicts_the_format_is_refused() {
        let refused = paths("r.jsonl", Some("c.png"), Some(&[Format::Svg]));
        assert!(refused.as_ref().is_err_and(|m| m.contains("names a png chart") && m.contains("svg")), "{refused:?}");
        let refused = paths("r.jsonl", Some("/dev/stdout"), None);
        assert!(refused.as_ref().is_err_and(|m| m.contains("--format")), "{refused:?}");
    }

    #[test]
    fn siblings_take_the_charts_format() {
        assert_eq!(sibling(Path::new("out/r.png"), "heatmap", Format::Png), PathBuf::from("out/r-heatmap.png"));
        assert_eq!(sibling(Path::new("out/r.pdf"), "surface", Format::Pdf), PathBuf::from("out/r-surface.pdf"));
        assert_eq!(sibling(Path::new("r"), "heatmap", Format::Png), PathBuf::from("r-heatmap.png"));
        assert_eq!(sibling(Path::new("r.v2"), "heatmap", Format::Svg), PathBuf::from("r.v2-heatmap.svg"));
    }
}
