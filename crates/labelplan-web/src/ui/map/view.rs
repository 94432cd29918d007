//! Where the map's points land on the canvas: a scale and a centre in map units, fitted
//! to the points and moved by zoom and pan. Pure, tested natively.

use labelplan_core::draw::Frame;

/// Canvas pixels kept free around the fitted points.
const MARGIN: f64 = 12.0;
/// Zoom limits, relative to the fitted view.
const MIN_ZOOM: f64 = 0.5;
const MAX_ZOOM: f64 = 400.0;

/// A view of the map on a `width × height` canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Canvas size in device pixels.
    pub width: f64,
    /// Canvas height in device pixels.
    pub height: f64,
    /// Map point at the canvas centre.
    pub centre: (f64, f64),
    /// Pixels per map unit.
    pub scale: f64,
    /// The fitted view's scale (the zoom limits are relative to it).
    pub fitted: f64,
}

impl View {
    /// The view that shows every point of `positions` (`rows × 2`) on the canvas.
    pub fn fit(positions: &[f32], width: f64, height: f64) -> View {
        let (mut lo, mut hi) = ((f64::INFINITY, f64::INFINITY), (f64::NEG_INFINITY, f64::NEG_INFINITY));
        for p in positions.chunks_exact(2) {
            let (x, y) = (p[0] as f64, p[1] as f64);
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        }
        if !lo.0.is_finite() {
            (lo, hi) = ((-1.0, -1.0), (1.0, 1.0));
        }
        let span = ((hi.0 - lo.0).max(1e-9), (hi.1 - lo.1).max(1e-9));
        let scale = ((width - 2.0 * MARGIN).max(1.0) / span.0).min((height - 2.0 * MARGIN).max(1.0) / span.1);
        View { width, height, centre: ((lo.0 + hi.0) / 2.0, (lo.1 + hi.1) / 2.0), scale, fitted: scale }
    }

    /// Canvas pixel of map point `(x, y)` (map y grows upwards, canvas y downwards).
    pub fn to_screen(&self, x: f32, y: f32) -> (f64, f64) {
        self.frame().to_screen(x, y)
    }

    /// Map point under canvas pixel `(sx, sy)`.
    pub fn to_map(&self, sx: f64, sy: f64) -> (f64, f64) {
        (
            self.centre.0 + (sx - self.width / 2.0) / self.scale,
            self.centre.1 - (sy - self.height / 2.0) / self.scale,
        )
    }

    /// Zoomed by `factor` about canvas pixel `(sx, sy)`: the map point under it stays
    /// under it (within the zoom limits).
    pub fn zoomed(&self, factor: f64, sx: f64, sy: f64) -> View {
        let scale = (self.scale * factor).clamp(self.fitted * MIN_ZOOM, self.fitted * MAX_ZOOM);
        let (mx, my) = self.to_map(sx, sy);
        let centre = (mx - (sx - self.width / 2.0) / scale, my + (sy - self.height / 2.0) / scale);
        View { centre, scale, ..*self }
    }

    /// Moved by `(dx, dy)` canvas pixels (the points follow the pointer).
    pub fn panned(&self, dx: f64, dy: f64) -> View {
        View { centre: (self.centre.0 - dx / self.scale, self.centre.1 + dy / self.scale), ..*self }
    }

    /// Where the map lands on the canvas, as the painters take it (the canvas size is
    /// whole device pixels).
    pub fn frame(&self) -> Frame {
        Frame { width: self.width as u32, height: self.height as u32, centre: self.centre, scale: self.scale }
    }

    /// Zoom relative to the fitted view (1 = everything in view).
    pub fn zoom(&self) -> f64 {
        self.scale / self.fitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POINTS: [f32; 6] = [-5.0, 0.0, 5.0, 2.0, 1.0, -2.0];

    #[test]
    fn the_fitted_view_shows_every_point_inside_the_margin() {
        let v = View::fit(&POINTS, 400.0, 300.0);
        for p in POINTS.chunks(2) {
            let (sx, sy) = v.to_screen(p[0], p[1]);
            assert!((MARGIN - 1e-9..=400.0 - MARGIN + 1e-9).contains(&sx), "{sx}");
            assert!((MARGIN - 1e-9..=300.0 - MARGIN + 1e-9).contains(&sy), "{sy}");
        }
        // The widest axis fills the width; up on the map is up on the canvas.
        assert!((v.to_screen(5.0, 0.0).0 - v.to_screen(-5.0, 0.0).0 - (400.0 - 2.0 * MARGIN)).abs() < 1e-9);
        assert!(v.to_screen(0.0, 2.0).1 < v.to_screen(0.0, -2.0).1);
        assert_eq!(v.zoom(), 1.0);
    }

    #[test]
    fn zoom_keeps_the_point_under_the_cursor_and_pan_follows_the_pointer() {
        let v = View::fit(&POINTS, 400.0, 300.0);
        let before = v.to_map(100.0, 80.0);
        let z = v.zoomed(2.0, 100.0, 80.0);
        let after = z.to_map(100.0, 80.0);
        assert!((before.0 - after.0).abs() < 1e-9 && (before.1 - after.1).abs() < 1e-9);
        assert_eq!(z.zoom(), 2.0);
        let (sx, sy) = z.to_screen(1.0, -2.0);
        let moved = z.panned(30.0, -10.0).to_screen(1.0, -2.0);
        assert!((moved.0 - sx - 30.0).abs() < 1e-9 && (moved.1 - sy + 10.0).abs() < 1e-9);
        // Zoom stops at its limits.
        assert_eq!(v.zoomed(1e9, 0.0, 0.0).zoom(), MAX_ZOOM);
        assert_eq!(v.zoomed(1e-9, 0.0, 0.0).zoom(), MIN_ZOOM);
    }

    #[test]
    fn no_points_or_one_point_still_make_a_view() {
        let v = View::fit(&[], 100.0, 100.0);
        assert!(v.scale.is_finite() && v.scale > 0.0);
        let one = View::fit(&[3.0, 4.0], 100.0, 100.0);
        assert_eq!(one.to_screen(3.0, 4.0), (50.0, 50.0));
    }
}
