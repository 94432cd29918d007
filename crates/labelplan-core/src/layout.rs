//! One step of the map's neighbour-embedding layout, as every backend computes it.
//!
//! The layout is UMAP's objective (Leland McInnes et al., 2018) with its curve set to
//! `1 / (1 + d²)` (a = b = 1): each edge of the symmetric neighbour graph pulls its two
//! ends together with weight `w`, and a few seeded random rows push each row away.
//! UMAP applies those forces edge by edge in a random order; here every row moves at
//! once from the positions of the epoch before (a full-batch step), so the work is one
//! independent task per row, the same on a GPU as on the CPU, and no order or timing
//! changes the result. Every row's sums run in a fixed order in f32.

use crate::parallel::map_parts_mut;

/// Largest push or pull one neighbour or sample contributes per axis (UMAP's clip).
pub const GRADIENT_CLIP: f32 = 4.0;

/// Added to the squared distance in the push, so coinciding rows do not divide by zero.
pub const REPULSION_FLOOR: f32 = 0.001;

/// The symmetric neighbour graph the layout follows, in compressed rows: the edges of
/// row `i` are `offsets[i]..offsets[i + 1]` of `targets` and `weights`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// `rows + 1` edge offsets.
    pub offsets: Vec<u32>,
    /// The row at the other end of each edge.
    pub targets: Vec<u32>,
    /// Each edge's membership strength in (0, 1].
    pub weights: Vec<f32>,
}

impl Graph {
    /// Rows in the graph.
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The edges of row `i`: (other row, weight).
    pub fn edges(&self, i: usize) -> impl Iterator<Item = (u32, f32)> + '_ {
        let span = self.offsets[i] as usize..self.offsets[i + 1] as usize;
        self.targets[span.clone()].iter().copied().zip(self.weights[span].iter().copied())
    }
}

/// Which epochs to run, of how many, and how each one samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    /// The first epoch to run (its step size depends on it).
    pub first: u32,
    /// Epochs to run from `first`.
    pub count: u32,
    /// Epochs of the whole layout: the step size falls linearly to 0 over them.
    pub total: u32,
    /// Random rows that push each row away per epoch.
    pub negatives: u32,
    /// Seed of those samples.
    pub seed: u32,
}

/// The step size of `epoch`: 1 at the start, falling linearly to 0 at `total`.
pub fn step_size(epoch: u32, total: u32) -> f32 {
    1.0 - epoch as f32 / total as f32
}

/// The `sample`-th row that pushes `item` away in `epoch`: a 32-bit integer hash, so a
/// GPU draws the same rows (WGSL has no 64-bit integers).
pub fn negative(seed: u32, epoch: u32, item: u32, sample: u32, rows: u32) -> u32 {
    let mut h = mix(seed ^ epoch.wrapping_mul(0x9e37_79b9));
    h = mix(h ^ item.wrapping_mul(0x85eb_ca6b));
    h = mix(h ^ sample.wrapping_mul(0xc2b2_ae35));
    h % rows
}

/// A 32-bit avalanche mix (xor-shift-multiply, two rounds).
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

fn clip(v: f32) -> f32 {
    v.clamp(-GRADIENT_CLIP, GRADIENT_CLIP)
}

/// Where row `i` moves in `epoch`, from `positions` (`rows × 2`, row-major): the pull
/// of its edges, `w · clip(−2d / (1 + |d|²))` each, plus the push of the epoch's
/// samples, `clip(2d / ((floor + |d|²)(1 + |d|²)))` each, scaled by the row's total
/// edge weight over the sample count (UMAP samples an edge in proportion to its
/// weight and pushes that many times for each). A sample that is the row itself does
/// nothing. The GPU kernel spells out the same operations in the same order.
pub fn moved(graph: &Graph, positions: &[f32], i: usize, epoch: u32, epochs: &Epochs) -> [f32; 2] {
    let (x, y) = (positions[2 * i], positions[2 * i + 1]);
    let (mut pull_x, mut pull_y, mut weight) = (0.0f32, 0.0f32, 0.0f32);
    for (j, w) in graph.edges(i) {
        let (dx, dy) = (x - positions[2 * j as usize], y - positions[2 * j as usize + 1]);
        let c = -2.0 / (1.0 + (dx * dx + dy * dy));
        pull_x += w * clip(c * dx);
        pull_y += w * clip(c * dy);
        weight += w;
    }
    let (mut push_x, mut push_y) = (0.0f32, 0.0f32);
    let rows = graph.rows() as u32;
    for s in 0..epochs.negatives {
        let j = negative(epochs.seed, epoch, i as u32, s, rows);
        if j as usize == i {
            continue;
        }
        let (dx, dy) = (x - positions[2 * j as usize], y - positions[2 * j as usize + 1]);
        let d2 = dx * dx + dy * dy;
        let c = 2.0 / ((REPULSION_FLOOR + d2) * (1.0 + d2));
        push_x += clip(c * dx);
        push_y += clip(c * dy);
    }
    let scale = if epochs.negatives > 0 { weight / epochs.negatives as f32 } else { 0.0 };
    let step = step_size(epoch, epochs.total);
    [x + step * (pull_x + scale * push_x), y + step * (pull_y + scale * push_y)]
}

/// Runs `epochs` from `positions` (`rows × 2`): the reference every backend follows (the
/// CPU backend runs it as is, rows split over cores).
pub fn run(graph: &Graph, positions: &[f32], epochs: &Epochs) -> Vec<f32> {
    let mut now = positions.to_vec();
    let mut next = vec![0.0f32; now.len()];
    for epoch in epochs.first..epochs.first + epochs.count {
        map_parts_mut(&mut next, 2, 1024, |first, part| {
            for (r, out) in part.chunks_mut(2).enumerate() {
                out.copy_from_slice(&moved(graph, &now, first + r, epoch, epochs));
            }
        });
        std::mem::swap(&mut now, &mut next);
    }
    now
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two rows joined by an edge, far apart, and a third row alone.
    fn pair_and_loner() -> Graph {
        Graph { offsets: vec![0, 1, 2, 2], targets: vec![1, 0], weights: vec![1.0, 1.0] }
    }

    #[test]
    fn an_edge_pulls_its_ends_together() {
        let g = pair_and_loner();
        let start = [0.0, 0.0, 3.0, 0.0, 0.0, 50.0];
        let e = Epochs { first: 0, count: 1, total: 10, negatives: 0, seed: 0 };
        let after = run(&g, &start, &e);
        assert!(after[2] - after[0] < 3.0, "closer after a step: {after:?}");
        assert!(((after[0] + after[2]) / 2.0 - 1.5).abs() < 1e-6, "both ends move alike: {after:?}");
        assert_eq!(&after[4..], &start[4..], "a row without edges or samples stays put");
    }

    #[test]
    fn samples_push_apart_and_the_result_is_the_same_on_a_rerun() {
        let g = pair_and_loner();
        let start = [0.0, 0.0, 0.1, 0.0, 0.0, 0.2];
        let e = Epochs { first: 0, count: 1, total: 10, negatives: 8, seed: 7 };
        let after = run(&g, &start, &e);
        // Row 0 holds weight 1 and pushes off its samples; the loner has no weight.
        assert!(after[0] < 0.0 || after[1] < 0.0, "row 0 moved away from the others: {after:?}");
        assert_eq!(&after[4..], &start[4..]);
        assert_eq!(run(&g, &start, &e), after);
    }

    #[test]
    fn negatives_stay_in_range_and_spread() {
        let rows = 97;
        let mut seen = vec![0u32; rows as usize];
        for item in 0..200 {
            for s in 0..5 {
                let j = negative(3, 1, item, s, rows);
                assert!(j < rows);
                seen[j as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c > 0), "1000 draws over 97 rows reach every row");
        assert_ne!(negative(3, 1, 0, 0, 1 << 30), negative(3, 2, 0, 0, 1 << 30), "epochs differ");
    }

    #[test]
    fn the_step_falls_to_zero() {
        assert_eq!(step_size(0, 200), 1.0);
        assert_eq!(step_size(100, 200), 0.5);
        assert_eq!(step_size(200, 200), 0.0);
    }
}
