//! How well a 2-D map keeps the embeddings' neighbourhoods: trustworthiness (Venna and
//! Kaski, 2001) and neighbour recall. Both compare every row with every other, O(n²):
//! for measuring layouts on test and quality sets, not for running in a plan.

/// Distances from row `i` to every other row, as (distance, row).
fn distances_from(i: usize, n: usize, distance: impl Fn(usize) -> f64) -> Vec<(f64, usize)> {
    (0..n).filter(|&j| j != i).map(|j| (distance(j), j)).collect()
}

fn closer(a: &(f64, usize), b: &(f64, usize)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// The `k` nearest of `all`, nearest first (lowest row on ties).
fn nearest(mut all: Vec<(f64, usize)>, k: usize) -> Vec<usize> {
    let k = k.min(all.len());
    if k < all.len() {
        all.select_nth_unstable_by(k, closer);
        all.truncate(k);
    }
    all.sort_by(closer);
    all.into_iter().map(|(_, j)| j).collect()
}

fn cosine_distance(values: &[f32], dim: usize, i: usize, j: usize) -> f64 {
    let (a, b) = (&values[i * dim..(i + 1) * dim], &values[j * dim..(j + 1) * dim]);
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        ab += x as f64 * y as f64;
        aa += x as f64 * x as f64;
        bb += y as f64 * y as f64;
    }
    let norm = (aa * bb).sqrt();
    if norm > 0.0 {
        1.0 - ab / norm
    } else {
        1.0
    }
}

fn planar_distance(map: &[f32], i: usize, j: usize) -> f64 {
    let (dx, dy) = ((map[2 * i] - map[2 * j]) as f64, (map[2 * i + 1] - map[2 * j + 1]) as f64);
    dx * dx + dy * dy
}

/// Trustworthiness at `k` of `map` (`rows × 2`) against the rows of `values` (`rows ×
/// dim`, cosine distance): 1 when every row's `k` nearest on the map are among its `k`
/// nearest in the embeddings; each intruder costs by how far down the embeddings'
/// ranking it sits. 1 is perfect; a random map of many rows scores about 0.5.
pub fn trustworthiness(values: &[f32], dim: usize, map: &[f32], k: usize) -> f64 {
    let n = map.len() / 2;
    if n < 2 || k == 0 || 2 * n < 3 * k + 2 {
        return 1.0;
    }
    let mut penalty = 0.0f64;
    for i in 0..n {
        let original = distances_from(i, n, |j| cosine_distance(values, dim, i, j));
        let by_row = |j: usize| original[if j < i { j } else { j - 1 }];
        for j in nearest(distances_from(i, n, |j| planar_distance(map, i, j)), k) {
            // j's rank among i's neighbours in the embeddings (1 = nearest).
            let at = by_row(j);
            let rank = 1 + original.iter().filter(|o| closer(o, &at).is_lt()).count();
            penalty += rank.saturating_sub(k) as f64;
        }
    }
    let (n, k) = (n as f64, k as f64);
    1.0 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)) * penalty
}

/// The share of each row's `k` nearest on `map` that are among its `k` nearest in
/// `values` (cosine distance), averaged over rows.
pub fn neighbour_recall(values: &[f32], dim: usize, map: &[f32], k: usize) -> f64 {
    let n = map.len() / 2;
    if n < 2 || k == 0 {
        return 1.0;
    }
    let mut kept = 0usize;
    for i in 0..n {
        let near = nearest(distances_from(i, n, |j| cosine_distance(values, dim, i, j)), k);
        kept += nearest(distances_from(i, n, |j| planar_distance(map, i, j)), k)
            .into_iter()
            .filter(|j| near.contains(j))
            .count();
    }
    kept as f64 / (n * k.min(n - 1)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_that_is_the_data_scores_one_and_a_shuffled_one_less() {
        // Points on a 2-D grid, embedded in 3-D away from the origin (cosine distance
        // then tracks the planar one closely for small offsets).
        let n = 100;
        let map: Vec<f32> = (0..n).flat_map(|i| [(i % 10) as f32, (i / 10) as f32]).collect();
        let values: Vec<f32> = (0..n).flat_map(|i| [100.0, map[2 * i], map[2 * i + 1]]).collect();
        assert!(trustworthiness(&values, 3, &map, 5) > 0.99);
        assert!(neighbour_recall(&values, 3, &map, 4) > 0.9);
        let shuffled: Vec<f32> = (0..n)
            .flat_map(|i| {
                let j = (i * 37) % n;
                [map[2 * j], map[2 * j + 1]]
            })
            .collect();
        assert!(trustworthiness(&values, 3, &shuffled, 5) < 0.8);
        assert!(neighbour_recall(&values, 3, &shuffled, 4) < 0.3);
    }
}
