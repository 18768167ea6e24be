//! The chart mechanism `sweep plot` and the bench harness share: one font
//! (the embedded DejaVu Sans, so charts look the same on every machine and
//! need no system fonts), one palette, and one renderer that draws a chart
//! as PNG, SVG or PDF.
//!
//! Drawing code is written once against [`Backend`]; [`render`] runs it on
//! plotters' bitmap backend for PNG, or on a recorder of paths for the two
//! vector formats, whose text is glyph outlines (see the `vector` module),
//! so the three files of a chart show the same thing.
//!
//! # Examples
//!
//! ```
//! use charts::{render, Format};
//! use plotters::prelude::*;
//!
//! let (width, svg) = render(Format::Svg, (320, 200), "a line", |root| {
//!     root.fill(&WHITE)?;
//!     root.draw(&PathElement::new(vec![(10, 10), (300, 190)], charts::PALETTE[0].stroke_width(3)))?;
//!     Ok::<_, Box<dyn std::error::Error>>(root.dim_in_pixel().0)
//! })?;
//! assert_eq!(width, 320);
//! assert!(String::from_utf8(svg)?.contains("stroke=\"#0072b2\""));
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

mod backend;
mod format;
mod vector;

pub use backend::{Backend, BackendError};
pub use format::Format;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::sync::OnceLock;

/// The font family every chart uses; [`render`] registers it.
pub const FONT: &str = "sans-serif";

/// Okabe–Ito colours: distinguishable with colour-vision deficiencies, and
/// together with marker shapes still apart in greyscale print; then four
/// darker ones from Paul Tol's palettes (indigo, wine, olive, teal) for
/// charts with more series.
pub const PALETTE: [RGBColor; 11] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(51, 34, 136),
    RGBColor(136, 34, 85),
    RGBColor(153, 153, 51),
    RGBColor(68, 170, 153),
];

/// PDF page scale: 1600 pixels become 5.33 in (384 pt), so text drawn for
/// a 1600-pixel-wide PNG prints at 6–10 pt when the page is included at its
/// natural size.
pub const PDF_POINTS_PER_PIXEL: f64 = 0.24;

/// Why a chart could not be rendered, or a format not named.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A format name that is not one of png, svg, pdf.
    #[error("unknown chart format {0:?}: use png, svg or pdf")]
    UnknownFormat(String),
    /// An empty format list, or an empty entry in one (`png,,svg`).
    #[error("empty chart format in {0:?}: use png, svg, pdf or a comma-separated list of them")]
    EmptyFormat(String),
    /// A file name whose extension names no chart format.
    #[error("cannot tell the chart format of {0}: its extension must be .png, .svg or .pdf")]
    UnknownExtension(std::path::PathBuf),
    /// The embedded font could not be given to plotters.
    #[error("the embedded DejaVu Sans font could not be parsed")]
    Font,
    /// plotters failed to finish the drawing.
    #[error("drawing failed: {0}")]
    Drawing(String),
    /// The PNG encoder failed.
    #[error("encoding the PNG failed: {0}")]
    Png(String),
}

/// Registers the embedded DejaVu Sans (regular and bold) with plotters as
/// [`FONT`], once per process: the build has no fontconfig, so without this
/// no text renders at all. [`render`] calls it; drawing on a backend of
/// one's own needs it first.
pub fn ensure_fonts() -> Result<(), Error> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = REGISTERED.get_or_init(|| {
        [(FontStyle::Normal, dejavu::sans::regular()), (FontStyle::Bold, dejavu::sans::bold())]
            .into_iter()
            .all(|(style, bytes)| plotters::style::register_font(FONT, style, bytes).is_ok())
    });
    if *registered {
        Ok(())
    } else {
        Err(Error::Font)
    }
}

/// Draws a chart of `size` pixels with `draw` and returns what `draw`
/// returned and the file's bytes in `format`; `title` names the SVG and
/// PDF document.
///
/// PNG is drawn by plotters' bitmap backend into memory (RGB, 8 bits);
/// SVG and PDF record the same drawing as paths, the PDF at
/// [`PDF_POINTS_PER_PIXEL`]. The drawing starts on a white canvas.
///
/// # Errors
///
/// `draw`'s own error, or an [`Error`] (converted with `From`) when the
/// font cannot be registered or plotters or the PNG encoder fail.
///
/// # Panics
///
/// Panics if `size` has more pixels than memory can hold.
pub fn render<T, E: From<Error>>(
    format: Format,
    size: (u32, u32),
    title: &str,
    draw: impl FnOnce(&DrawingArea<Backend<'_>, Shift>) -> Result<T, E>,
) -> Result<(T, Vec<u8>), E> {
    ensure_fonts()?;
    let drawing_failed = |error: DrawingAreaErrorKind<BackendError>| Error::Drawing(error.to_string());
    match format {
        Format::Png => {
            let mut pixels = vec![255; size.0 as usize * size.1 as usize * 3];
            let value = {
                let root =
                    Backend(backend::Inner::Bitmap(BitMapBackend::with_buffer(&mut pixels, size))).into_drawing_area();
                let value = draw(&root)?;
                root.present().map_err(drawing_failed)?;
                value
            };
            Ok((value, encode_png(size, &pixels)?))
        }
        Format::Svg | Format::Pdf => {
            let mut recording = vector::Recording::new(size);
            let value = {
                let root = Backend(backend::Inner::Vector(vector::Recorder::new(&mut recording))).into_drawing_area();
                let value = draw(&root)?;
                root.present().map_err(drawing_failed)?;
                value
            };
            let bytes = if format == Format::Svg {
                recording.to_svg(title).into_bytes()
            } else {
                recording.to_pdf(title, PDF_POINTS_PER_PIXEL)
            };
            Ok((value, bytes))
        }
    }
}

/// `pixels` (RGB, 8 bits, `size`) as a PNG file.
fn encode_png(size: (u32, u32), pixels: &[u8]) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, size.0, size.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let failed = |error: png::EncodingError| Error::Png(error.to_string());
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(pixels).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line, a filled shape and text: every kind of thing charts draw.
    fn sample(format: Format) -> Vec<u8> {
        let drawn = render(format, (300, 200), "sample", |root| {
            root.fill(&WHITE)?;
            root.draw(&PathElement::new(vec![(10, 190), (290, 10)], PALETTE[1].stroke_width(3)))?;
            root.draw(&Rectangle::new([(20, 20), (60, 60)], PALETTE[2].filled()))?;
            root.draw_text("µs × 2", &(FONT, 30).into_font().color(&BLACK), (100, 120))?;
            Ok::<_, Box<dyn std::error::Error>>(7)
        });
        let (value, bytes) = drawn.unwrap_or_else(|error| panic!("{format:?}: {error}"));
        assert_eq!(value, 7, "render hands back what the drawing returned");
        bytes
    }

    #[test]
    fn png_is_a_decodable_image_of_the_drawing() {
        let bytes = sample(Format::Png);
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        let mut reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height, info.color_type), (300, 200, png::ColorType::Rgb));
        let rgb = |c: RGBColor| [c.0, c.1, c.2];
        let count = |colour: [u8; 3]| pixels.chunks(3).filter(|p| *p == colour).count();
        assert_eq!(count(rgb(PALETTE[2])), 40 * 40, "the filled square");
        assert!(count(rgb(PALETTE[1])) > 500, "the line");
        assert!(count([0, 0, 0]) > 50, "the text (with the font registered)");
    }

    #[test]
    fn svg_has_the_paths_and_text_as_outlines() {
        let svg = String::from_utf8(sample(Format::Svg)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<title>sample</title>"), "{svg}");
        assert!(svg.contains("width=\"300\" height=\"200\""));
        assert!(svg.contains("stroke=\"#d55e00\" stroke-width=\"3\""), "the line");
        assert!(svg.contains("fill=\"#009e73\""), "the square");
        assert!(svg.contains("<use") && !svg.contains("<text"), "text is glyph outlines");
    }

    #[test]
    fn pdf_is_one_page_at_the_shared_scale() {
        let pdf = sample(Format::Pdf);
        assert!(pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/MediaBox [0 0 72 48]"), "300 × 200 pixels at 0.24 pt each");
        assert!(text.contains("/Count 1"));
    }

    #[test]
    fn errors_of_the_drawing_come_back_unchanged() {
        #[derive(Debug, PartialEq)]
        enum Mine {
            Refused,
            Chart(String),
        }
        impl From<Error> for Mine {
            fn from(error: Error) -> Self {
                Mine::Chart(error.to_string())
            }
        }
        for format in Format::ALL {
            let result = render(format, (10, 10), "t", |_| Err::<(), _>(Mine::Refused));
            assert_eq!(result.err(), Some(Mine::Refused), "{format:?}");
        }
    }
}
