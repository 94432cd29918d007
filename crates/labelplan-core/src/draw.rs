//! The map's pixels: every point as a small square in its colour, the highlighted ones
//! larger with an outline, on top. [`paint`] is the reference: the page's 2-D canvas
//! fallback (an RGBA buffer the canvas takes whole with `putImageData`: a few
//! milliseconds a frame at 100,000 points, where a canvas path per point takes tens) and
//! the oracle of the GPU's point pipeline, which draws the same squares in the same
//! order. Squares are placed by `floor(v + 0.5)` on both (WGSL's `round` rounds half to
//! even, Rust's away from zero).

use serde::{Deserialize, Serialize};

/// Where the map lands on a canvas.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Canvas width in device pixels.
    pub width: u32,
    /// Canvas height in device pixels.
    pub height: u32,
    /// The map point at the canvas centre.
    pub centre: (f64, f64),
    /// Pixels per map unit.
    pub scale: f64,
}

impl Frame {
    /// Canvas pixel of map point `(x, y)` (map y grows upwards, canvas y downwards).
    pub fn to_screen(&self, x: f32, y: f32) -> (f64, f64) {
        (
            self.width as f64 / 2.0 + (x as f64 - self.centre.0) * self.scale,
            self.height as f64 / 2.0 - (y as f64 - self.centre.1) * self.scale,
        )
    }
}

/// Twelve colours that stay apart for colour-blind readers too (Okabe–Ito's eight, then
/// four more of similar lightness); categories past twelve reuse them.
pub const PALETTE: [[u8; 3]; 12] = [
    [0, 114, 178],
    [230, 159, 0],
    [0, 158, 115],
    [204, 121, 167],
    [86, 180, 233],
    [213, 94, 0],
    [240, 228, 66],
    [120, 94, 240],
    [100, 143, 255],
    [220, 38, 127],
    [128, 128, 128],
    [160, 200, 90],
];

/// The colour of category `c`.
pub fn colour(c: u32) -> [u8; 3] {
    PALETTE[c as usize % PALETTE.len()]
}

/// Maps of up to this many points draw larger dots.
const SMALL_MAP: usize = 10_000;

/// How points are drawn, in device pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Style {
    /// Side of a point that is not highlighted.
    pub dot: usize,
    /// Its opacity (0–255): the rest of the pool stays in view, behind the picks.
    pub dot_alpha: u8,
    /// Side of a highlighted point (inside its outline).
    pub pick: usize,
    /// The outline around a highlighted point: the panel's colour, so picks that touch
    /// stay apart instead of merging into a blot.
    pub outline: [u8; 4],
    /// The ring around the selected point: the page's ink.
    pub ring: [u8; 4],
}

impl Style {
    /// The style for a map of `rows` points at a device-pixel ratio, on a light or dark
    /// panel: larger dots while there are few enough to stay apart.
    pub fn new(rows: usize, pixel_ratio: f64, dark: bool) -> Style {
        let px = |css: f64| (css * pixel_ratio).round().max(1.0) as usize;
        // The panel colours of web/style.css.
        let (outline, ring) = if dark {
            ([27, 31, 39, 255], [228, 231, 238, 255])
        } else {
            ([255, 255, 255, 255], [29, 35, 48, 255])
        };
        // Unpicked dots are faded; on a dark panel the palette's darker colours need
        // more opacity to be seen at all.
        let dot_alpha = if dark { 210 } else { 130 };
        let dot = if rows <= SMALL_MAP { px(3.0) } else { px(2.0) };
        Style { dot, dot_alpha, pick: px(5.0), outline, ring }
    }
}

/// The top-left pixel of a `side`-pixel square centred on canvas point `v`.
pub fn square_start(v: f64, side: usize) -> f64 {
    (v - side as f64 / 2.0 + 0.5).floor()
}

/// Paints the map into `rgba` (`frame.width × frame.height × 4`, cleared to transparent
/// first): rows with `highlighted[i]` unset as dots, then the highlighted rows on top
/// (each its outline, then itself), then a ring around the `selected` row. Squares
/// replace what is under them (no blending): the canvas composites the whole image.
/// `category[i]` picks each row's colour.
pub fn paint(
    rgba: &mut [u8],
    view: &Frame,
    positions: &[f32],
    category: &[u32],
    highlighted: &[bool],
    selected: Option<u32>,
    style: &Style,
) {
    rgba.fill(0);
    let (w, h) = (view.width as usize, view.height as usize);
    let mut square = |x: f64, y: f64, side: usize, c: [u8; 4]| {
        let (x0, y0) = (square_start(x, side), square_start(y, side));
        if x0 + side as f64 <= 0.0 || y0 + side as f64 <= 0.0 || x0 >= w as f64 || y0 >= h as f64 {
            return;
        }
        let (xs, ys) = (x0.max(0.0) as usize, y0.max(0.0) as usize);
        let (xe, ye) = (((x0 + side as f64) as usize).min(w), ((y0 + side as f64) as usize).min(h));
        for row in ys..ye {
            for px in rgba[(row * w + xs) * 4..(row * w + xe) * 4].chunks_exact_mut(4) {
                px.copy_from_slice(&c);
            }
        }
    };
    let rows = positions.len() / 2;
    for i in (0..rows).filter(|&i| !highlighted.get(i).copied().unwrap_or(false)) {
        let (x, y) = view.to_screen(positions[2 * i], positions[2 * i + 1]);
        let [r, g, b] = colour(category.get(i).copied().unwrap_or(0));
        square(x, y, style.dot, [r, g, b, style.dot_alpha]);
    }
    for i in (0..rows).filter(|&i| highlighted.get(i).copied().unwrap_or(false)) {
        let (x, y) = view.to_screen(positions[2 * i], positions[2 * i + 1]);
        let [r, g, b] = colour(category.get(i).copied().unwrap_or(0));
        square(x, y, style.pick + 2, style.outline);
        square(x, y, style.pick, [r, g, b, 255]);
    }
    if let Some(i) = selected.map(|s| s as usize).filter(|&i| i < rows) {
        let (x, y) = view.to_screen(positions[2 * i], positions[2 * i + 1]);
        let [r, g, b] = colour(category.get(i).copied().unwrap_or(0));
        let ring = style.pick * 3;
        square(x, y, ring + 2, style.ring);
        square(x, y, ring - 2, style.outline);
        square(x, y, style.pick, [r, g, b, 255]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(rgba: &[u8], w: usize, x: usize, y: usize) -> [u8; 4] {
        let at = (y * w + x) * 4;
        [rgba[at], rgba[at + 1], rgba[at + 2], rgba[at + 3]]
    }

    #[test]
    fn points_land_where_the_view_says_and_picks_sit_on_top() {
        // Two rows at the same spot; row 1 is highlighted; row 2 is far off the canvas.
        let positions = [0.0, 0.0, 0.0, 0.0, 1e6, 1e6];
        let view = Frame { width: 20, height: 10, centre: (0.0, 0.0), scale: 1.0 };
        let style = Style { dot: 2, dot_alpha: 100, pick: 4, outline: [9, 9, 9, 255], ring: [1, 1, 1, 255] };
        let mut rgba = vec![7u8; 20 * 10 * 4];
        paint(&mut rgba, &view, &positions, &[0, 1, 2], &[false, true, false], None, &style);
        assert_eq!(pixel(&rgba, 20, 10, 5), [PALETTE[1][0], PALETTE[1][1], PALETTE[1][2], 255]);
        assert_eq!(pixel(&rgba, 20, 7, 5), [9, 9, 9, 255], "the outline");
        assert_eq!(pixel(&rgba, 20, 0, 0), [0, 0, 0, 0], "cleared elsewhere");
        let drawn = rgba.chunks(4).filter(|p| p[3] > 0).count();
        assert_eq!(drawn, 6 * 6, "only the pick's square and its outline");
        // Selecting row 1 rings it in the ring colour, 12 + 2 pixels across.
        paint(&mut rgba, &view, &positions, &[0, 1, 2], &[false, true, false], Some(1), &style);
        assert_eq!(pixel(&rgba, 20, 3, 5), [1, 1, 1, 255], "the ring's left edge");
        assert_eq!(
            pixel(&rgba, 20, 10, 5),
            [PALETTE[1][0], PALETTE[1][1], PALETTE[1][2], 255],
            "the point inside"
        );
    }

    #[test]
    fn a_dot_on_the_edge_is_clipped_not_wrapped() {
        let view = Frame { width: 10, height: 10, centre: (5.0, 5.0), scale: 1.0 };
        let style = Style { dot: 4, dot_alpha: 255, pick: 4, outline: [0; 4], ring: [0; 4] };
        let mut rgba = vec![0u8; 10 * 10 * 4];
        // Map (0, 5) is canvas (0, 5): half of the dot hangs off the left edge.
        paint(&mut rgba, &view, &[0.0, 5.0], &[0], &[false], None, &style);
        assert_eq!(rgba.chunks(4).filter(|p| p[3] > 0).count(), 2 * 4);
        assert_eq!(pixel(&rgba, 10, 9, 5)[3], 0, "nothing wrapped to the row's other end");
    }
}
