//! [`Backend`]: the one plotters backend type that drawing code sees,
//! whichever format the chart is rendered in.

use crate::vector::Recorder;
use plotters::prelude::*;
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};

/// The backend [`crate::render`] draws on: plotters' bitmap backend for PNG,
/// or the path recorder for SVG and PDF. One concrete type means a drawing
/// can be a plain closure (closures cannot be generic over the backend);
/// every call goes straight to the inner backend, so each keeps its own
/// way of drawing lines, shapes and text.
pub struct Backend<'a>(pub(crate) Inner<'a>);

/// Which backend a [`Backend`] is.
pub(crate) enum Inner<'a> {
    /// PNG: pixels in memory.
    Bitmap(BitMapBackend<'a>),
    /// SVG and PDF: the drawing as paths.
    Vector(Recorder<'a>),
}

/// A failure of the inner backend, as its text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(String);

type Drawn<T> = Result<T, DrawingErrorKind<BackendError>>;

/// The inner backend's result with its error as a [`BackendError`].
fn lift<T, E: std::error::Error + Send + Sync>(result: Result<T, DrawingErrorKind<E>>) -> Drawn<T> {
    result.map_err(|error| match error {
        DrawingErrorKind::DrawingError(error) => DrawingErrorKind::DrawingError(BackendError(error.to_string())),
        DrawingErrorKind::FontError(error) => DrawingErrorKind::FontError(error),
    })
}

/// Calls `$method` on whichever backend `$self` holds.
macro_rules! forward {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &mut $self.0 {
            Inner::Bitmap(inner) => lift(inner.$method($($arg),*)),
            Inner::Vector(inner) => lift(inner.$method($($arg),*)),
        }
    };
}

impl DrawingBackend for Backend<'_> {
    type ErrorType = BackendError;

    fn get_size(&self) -> (u32, u32) {
        match &self.0 {
            Inner::Bitmap(inner) => inner.get_size(),
            Inner::Vector(inner) => inner.get_size(),
        }
    }

    fn ensure_prepared(&mut self) -> Drawn<()> {
        forward!(self.ensure_prepared())
    }

    fn present(&mut self) -> Drawn<()> {
        forward!(self.present())
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Drawn<()> {
        forward!(self.draw_pixel(point, color))
    }

    fn draw_line<S: BackendStyle>(&mut self, from: BackendCoord, to: BackendCoord, style: &S) -> Drawn<()> {
        forward!(self.draw_line(from, to, style))
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Drawn<()> {
        forward!(self.draw_rect(upper_left, bottom_right, style, fill))
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, path: I, style: &S) -> Drawn<()> {
        forward!(self.draw_path(path, style))
    }

    fn draw_circle<S: BackendStyle>(&mut self, center: BackendCoord, radius: u32, style: &S, fill: bool) -> Drawn<()> {
        forward!(self.draw_circle(center, radius, style, fill))
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, vert: I, style: &S) -> Drawn<()> {
        forward!(self.fill_polygon(vert, style))
    }

    fn draw_text<S: BackendTextStyle>(&mut self, text: &str, style: &S, pos: BackendCoord) -> Drawn<()> {
        forward!(self.draw_text(text, style, pos))
    }

    fn estimate_text_size<S: BackendTextStyle>(&self, text: &str, style: &S) -> Drawn<(u32, u32)> {
        match &self.0 {
            Inner::Bitmap(inner) => lift(inner.estimate_text_size(text, style)),
            Inner::Vector(inner) => lift(inner.estimate_text_size(text, style)),
        }
    }

    fn blit_bitmap(&mut self, pos: BackendCoord, (width, height): (u32, u32), src: &[u8]) -> Drawn<()> {
        forward!(self.blit_bitmap(pos, (width, height), src))
    }
}
