//! The file formats a chart is written in.

use crate::Error;
use std::path::Path;

/// A file format every chart can be drawn in.
///
/// # Examples
///
/// ```
/// use charts::Format;
/// use std::path::Path;
///
/// assert_eq!(Format::list("svg, PDF,svg")?, [Format::Svg, Format::Pdf]);
/// assert_eq!(Format::from_path(Path::new("out/speedup.pdf"))?, Format::Pdf);
/// assert!(Format::list("png,jpg").is_err());
/// # Ok::<_, charts::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A bitmap, for screens and Markdown.
    Png,
    /// Scalable, text as outlines: opens the same everywhere.
    Svg,
    /// One page, text as outlines, for LaTeX's `\includegraphics`.
    Pdf,
}

impl Format {
    /// Every format, PNG first.
    pub const ALL: [Format; 3] = [Format::Png, Format::Svg, Format::Pdf];

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
            Format::Pdf => "pdf",
        }
    }

    /// The format a file's extension names (any letter case).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownExtension`] when the extension is missing or names
    /// no format.
    pub fn from_path(path: &Path) -> Result<Format, Error> {
        path.extension()
            .and_then(|extension| extension.to_str())
            .and_then(|extension| extension.parse().ok())
            .ok_or_else(|| Error::UnknownExtension(path.to_owned()))
    }

    /// The formats of a comma-separated list such as `png,svg,pdf`, in
    /// order, each once; spaces around names are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyFormat`] for an empty list or entry,
    /// [`Error::UnknownFormat`] for a name that is not a format.
    pub fn list(text: &str) -> Result<Vec<Format>, Error> {
        let mut formats = Vec::new();
        for name in text.split(',') {
            if name.trim().is_empty() {
                return Err(Error::EmptyFormat(text.to_owned()));
            }
            let format = name.parse()?;
            if !formats.contains(&format) {
                formats.push(format);
            }
        }
        Ok(formats)
    }
}

impl std::str::FromStr for Format {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.trim();
        Format::ALL
            .into_iter()
            .find(|format| format.extension().eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::UnknownFormat(name.to_owned()))
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_lists_keep_order_without_repeats() {
        assert_eq!("PNG".parse::<Format>().unwrap(), Format::Png);
        assert_eq!(" svg ".parse::<Format>().unwrap(), Format::Svg);
        assert_eq!(Format::list("pdf").unwrap(), [Format::Pdf]);
        assert_eq!(Format::list("pdf, png,PDF,svg").unwrap(), [Format::Pdf, Format::Png, Format::Svg]);
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>().unwrap(), format);
        }
    }

    #[test]
    fn bad_names_and_empty_entries_are_refused_by_name() {
        let message = |text: &str| Format::list(text).unwrap_err().to_string();
        assert_eq!(message("png,jpeg"), "unknown chart format \"jpeg\": use png, svg or pdf");
        assert!(message("").starts_with("empty chart format in \"\""), "{}", message(""));
        assert!(message("png,,svg").contains("\"png,,svg\""), "{}", message("png,,svg"));
        assert!(matches!(Format::list("png,"), Err(Error::EmptyFormat(_))));
    }

    #[test]
    fn extensions_name_the_format() {
        assert_eq!(Format::from_path(Path::new("a/b.SVG")).unwrap(), Format::Svg);
        assert_eq!(Format::from_path(Path::new("chart.png")).unwrap(), Format::Png);
        for bad in ["chart", "chart.jpg", "svg", "dir.pdf/"] {
            let error = Format::from_path(Path::new(bad));
            if bad == "dir.pdf/" {
                // A trailing slash is not part of the name: still a PDF.
                assert_eq!(error.unwrap(), Format::Pdf);
                continue;
            }
            let message = error.unwrap_err().to_string();
            assert_eq!(
                message,
                format!("cannot tell the chart format of {bad}: its extension must be .png, .svg or .pdf")
            );
        }
    }
}
