//! The layout's neighbour graph, from the kNN graph the plan already built: UMAP's fuzzy
//! memberships. Each row's nearest neighbour gets weight 1 and farther ones fall off
//! as `exp(−(d − ρ) / σ)`, with `σ` chosen so a row's weights sum to `log₂ k` (dense
//! and sparse regions weigh alike); the directed weights `a` (i→j) and `b` (j→i) join
//! as `a + b − ab`, so the graph is symmetric.

use labelplan_core::backend::Knn;
use labelplan_core::det;
use labelplan_core::layout::Graph;

/// Halvings of the bandwidth search (it stops earlier once within [`SUM_TOLERANCE`]).
const BANDWIDTH_STEPS: usize = 64;

/// How close a row's weight sum must come to `log₂ k`.
const SUM_TOLERANCE: f32 = 1e-5;

/// The smallest bandwidth, as a share of the row's mean distance (a row whose
/// neighbours all sit at the same distance would otherwise drive σ to 0).
const MIN_BANDWIDTH_SHARE: f32 = 1e-3;

/// The symmetric membership graph over the `rows` rows of `knn` (cosine distance `1 −
/// similarity`).
/// Edges of a row: its own neighbours in kNN order, then rows that list it but that it
/// does not list, by row index.
pub fn membership_graph(knn: &Knn, rows: usize) -> Graph {
    let k = knn.k;
    let directed = directed_weights(knn, rows);
    let lists = |i: usize, j: u32| knn.index[i * k..(i + 1) * k].iter().position(|&x| x == j);
    // Each directed edge i→j with its symmetric weight and whether i also goes into j's
    // list: when j does not list i (otherwise j's own entry covers the pair).
    let mut degree = vec![0u32; rows];
    let mut edges: Vec<(u32, u32, f32, bool)> = Vec::with_capacity(rows * k);
    for i in 0..rows {
        for slot in 0..k {
            let j = knn.index[i * k + slot];
            if j == u32::MAX || j as usize == i {
                continue;
            }
            let a = directed[i * k + slot];
            let back = lists(j as usize, i as u32);
            let b = back.map_or(0.0, |s| directed[j as usize * k + s]);
            let w = a + b - a * b;
            if w <= 0.0 {
                continue;
            }
            edges.push((i as u32, j, w, back.is_none()));
            degree[i] += 1;
            if back.is_none() {
                degree[j as usize] += 1;
            }
        }
    }
    let mut offsets = Vec::with_capacity(rows + 1);
    offsets.push(0u32);
    for d in &degree {
        offsets.push(offsets.last().copied().unwrap_or(0) + d);
    }
    let total = *offsets.last().unwrap_or(&0) as usize;
    let (mut targets, mut weights) = (vec![0u32; total], vec![0.0f32; total]);
    let mut fill: Vec<u32> = offsets[..rows].to_vec();
    let mut put = |row: u32, other: u32, w: f32| {
        let at = fill[row as usize] as usize;
        targets[at] = other;
        weights[at] = w;
        fill[row as usize] += 1;
    };
    // A row's own neighbours first (edges are in row order), then the reverse entries.
    for &(i, j, w, _) in &edges {
        put(i, j, w);
    }
    for &(i, j, w, reverse) in &edges {
        if reverse {
            put(j, i, w);
        }
    }
    Graph { offsets, targets, weights }
}

/// `rows × k` directed memberships, in the kNN layout (0 for empty slots).
fn directed_weights(knn: &Knn, rows: usize) -> Vec<f32> {
    let k = knn.k;
    let mut out = vec![0.0f32; rows * k];
    for i in 0..rows {
        let dist: Vec<(usize, f32)> = knn
            .of(i)
            .enumerate()
            .filter(|(_, (j, _))| *j != u32::MAX)
            .map(|(slot, (_, s))| (slot, (1.0 - s).max(0.0)))
            .collect();
        if dist.is_empty() {
            continue;
        }
        let rho = dist.iter().map(|d| d.1).fold(f32::INFINITY, f32::min);
        let sigma = bandwidth(&dist, rho);
        for (slot, d) in dist {
            out[i * k + slot] = det::exp(-(d - rho).max(0.0) / sigma);
        }
    }
    out
}

/// The σ that makes `Σ exp(−(d − ρ)/σ)` equal `log₂(count)`, by bisection (the sum
/// grows with σ), floored at [`MIN_BANDWIDTH_SHARE`] of the mean distance.
fn bandwidth(dist: &[(usize, f32)], rho: f32) -> f32 {
    let target = (dist.len() as f32).log2();
    let sum = |sigma: f32| dist.iter().map(|&(_, d)| det::exp(-(d - rho).max(0.0) / sigma)).sum::<f32>();
    let (mut lo, mut hi, mut mid) = (0.0f32, f32::INFINITY, 1.0f32);
    for _ in 0..BANDWIDTH_STEPS {
        let s = sum(mid);
        if (s - target).abs() < SUM_TOLERANCE {
            break;
        }
        if s > target {
            hi = mid;
            mid = (lo + hi) / 2.0;
        } else {
            lo = mid;
            mid = if hi.is_finite() { (lo + hi) / 2.0 } else { mid * 2.0 };
        }
    }
    let mean = dist.iter().map(|d| d.1).sum::<f32>() / dist.len() as f32;
    mid.max(MIN_BANDWIDTH_SHARE * mean).max(f32::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four rows on a line at 0, 1, 2, 10 (as similarities 1 − distance / 100), k = 2.
    fn line() -> Knn {
        let sim = |d: f32| 1.0 - d / 100.0;
        Knn {
            k: 2,
            index: vec![1, 2, 0, 2, 1, 0, 2, 1],
            sim: vec![sim(1.0), sim(2.0), sim(1.0), sim(1.0), sim(1.0), sim(2.0), sim(8.0), sim(9.0)],
        }
    }

    #[test]
    fn the_graph_is_symmetric_with_the_nearest_at_full_weight() {
        let g = membership_graph(&line(), 4);
        assert_eq!(g.rows(), 4);
        let weight = |i: usize, j: u32| g.edges(i).find(|e| e.0 == j).map(|e| e.1);
        for i in 0..4 {
            for (j, w) in g.edges(i) {
                assert_eq!(weight(j as usize, i as u32), Some(w), "edge {i}–{j} both ways");
                assert!(w > 0.0 && w <= 1.0);
            }
        }
        // Row 3's nearest is row 2: weight 1 however far it is.
        assert_eq!(weight(3, 2), Some(1.0));
        // Nobody lists row 3, yet it appears in the lists of the rows it lists.
        assert!(weight(2, 3).is_some() && weight(1, 3).is_some());
        assert!(weight(0, 3).is_none());
    }

    #[test]
    fn weights_of_a_row_sum_to_log2_k() {
        let knn = Knn { k: 4, index: vec![1, 2, 3, 4], sim: vec![0.9, 0.8, 0.7, 0.6] };
        let w = directed_weights(&knn, 1);
        assert!((w.iter().sum::<f32>() - 2.0).abs() < 1e-4, "{w:?}");
        assert_eq!(w[0], 1.0);
    }
}
