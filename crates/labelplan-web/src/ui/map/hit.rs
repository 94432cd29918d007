//! Which point is under the pointer: a uniform grid over the map's points, built once
//! per map, searched in the cells a small circle touches. Pure, tested natively.

/// Points per grid cell on average.
const PER_CELL: usize = 4;

/// The points of a map bucketed by grid cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    lo: (f32, f32),
    cell: f32,
    side: usize,
    /// `side² + 1` offsets into `rows`.
    starts: Vec<u32>,
    rows: Vec<u32>,
}

impl Grid {
    /// The grid of `positions` (`rows × 2`).
    pub fn new(positions: &[f32]) -> Grid {
        let n = positions.len() / 2;
        let (mut lo, mut hi) = ((f32::INFINITY, f32::INFINITY), (f32::NEG_INFINITY, f32::NEG_INFINITY));
        for p in positions.chunks_exact(2) {
            lo = (lo.0.min(p[0]), lo.1.min(p[1]));
            hi = (hi.0.max(p[0]), hi.1.max(p[1]));
        }
        if n == 0 {
            (lo, hi) = ((0.0, 0.0), (1.0, 1.0));
        }
        let side = ((n / PER_CELL) as f64).sqrt().ceil().max(1.0) as usize;
        let cell = ((hi.0 - lo.0).max(hi.1 - lo.1) / side as f32).max(1e-6);
        let mut grid = Grid { lo, cell, side, starts: vec![0; side * side + 1], rows: vec![0; n] };
        let cells: Vec<usize> = positions.chunks_exact(2).map(|p| grid.cell_of(p[0], p[1])).collect();
        for &c in &cells {
            grid.starts[c + 1] += 1;
        }
        for c in 0..side * side {
            grid.starts[c + 1] += grid.starts[c];
        }
        let mut fill = grid.starts.clone();
        for (i, &c) in cells.iter().enumerate() {
            grid.rows[fill[c] as usize] = i as u32;
            fill[c] += 1;
        }
        grid
    }

    fn axis(&self, v: f32, lo: f32) -> usize {
        (((v - lo) / self.cell).floor().max(0.0) as usize).min(self.side - 1)
    }

    fn cell_of(&self, x: f32, y: f32) -> usize {
        self.axis(y, self.lo.1) * self.side + self.axis(x, self.lo.0)
    }

    /// The row nearest to map point `(x, y)` within `radius` map units (the lowest row on
    /// ties), if any.
    pub fn nearest(&self, positions: &[f32], x: f64, y: f64, radius: f64) -> Option<u32> {
        let (x, y) = (x as f32, y as f32);
        let r = radius as f32;
        let (cx0, cx1) = (self.axis(x - r, self.lo.0), self.axis(x + r, self.lo.0));
        let (cy0, cy1) = (self.axis(y - r, self.lo.1), self.axis(y + r, self.lo.1));
        let mut best: Option<(f32, u32)> = None;
        for cy in cy0..=cy1 {
            for cx in cx0..=cx1 {
                let c = cy * self.side + cx;
                for &i in &self.rows[self.starts[c] as usize..self.starts[c + 1] as usize] {
                    let (dx, dy) = (positions[2 * i as usize] - x, positions[2 * i as usize + 1] - y);
                    let d = dx * dx + dy * dy;
                    if d <= r * r && best.is_none_or(|(bd, bi)| d < bd || (d == bd && i < bi)) {
                        best = Some((d, i));
                    }
                }
            }
        }
        best.map(|(_, i)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: what the grid must agree with.
    fn scan(positions: &[f32], x: f32, y: f32, r: f32) -> Option<u32> {
        let mut best: Option<(f32, u32)> = None;
        for (i, p) in positions.chunks(2).enumerate() {
            let d = (p[0] - x).powi(2) + (p[1] - y).powi(2);
            if d <= r * r && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, i as u32));
            }
        }
        best.map(|b| b.1)
    }

    #[test]
    fn the_grid_finds_what_a_full_scan_finds() {
        // A scrambled spiral of 500 points, queried on a lattice that reaches past it.
        let positions: Vec<f32> = (0..500)
            .flat_map(|i| {
                let t = (i * 7919 % 500) as f32 * 0.05;
                [t * t.cos(), t * t.sin()]
            })
            .collect();
        let grid = Grid::new(&positions);
        for qx in -30..=30 {
            for qy in -30..=30 {
                let (x, y) = (qx as f32 * 0.9, qy as f32 * 0.9);
                for r in [0.3f32, 2.0] {
                    assert_eq!(
                        grid.nearest(&positions, x as f64, y as f64, r as f64),
                        scan(&positions, x, y, r),
                        "at ({x}, {y}) r {r}"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_and_coinciding_points() {
        assert_eq!(Grid::new(&[]).nearest(&[], 0.0, 0.0, 1.0), None);
        let same = [1.0, 1.0, 1.0, 1.0];
        assert_eq!(Grid::new(&same).nearest(&same, 1.0, 1.0, 0.1), Some(0), "lowest row on ties");
    }
}
