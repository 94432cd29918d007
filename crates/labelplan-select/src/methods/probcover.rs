//! ProbCover (cold-start active learning): greedy maximum coverage of δ-balls over the
//! kNN graph. δ is the largest on a grid whose balls stay 95% pure with respect to the
//! pseudo-labels (the paper's label-free rule with clusters for classes).

use labelplan_core::backend::Knn;

use crate::greedy::LazyMax;

/// Required ball purity.
pub const PURITY: f64 = 0.95;

/// The largest δ (cosine distance) on a grid whose balls are at least [`PURITY`] pure.
pub fn choose_delta(knn: &Knn, labels: &[u32]) -> f32 {
    let n = labels.len();
    let mut chosen = 0.01;
    for step in 1..=50 {
        let delta = step as f32 * 0.01;
        let pure = (0..n)
            .filter(|&i| {
                knn.of(i)
                    .filter(|p| p.0 != u32::MAX && 1.0 - p.1 <= delta)
                    .all(|(j, _)| labels[j as usize] == labels[i])
            })
            .count();
        if (pure as f64) < PURITY * n as f64 {
            break;
        }
        chosen = delta;
    }
    chosen
}

/// The greedy order until every row is covered (at most `want` rows).
pub fn order(knn: &Knn, group: &[u32], delta: f32, labeled: &[bool], want: usize) -> Vec<u32> {
    let n = labeled.len();
    // covers[j]: j itself, its exact duplicates and every i with j within δ in i's list.
    let mut covers: Vec<Vec<u32>> = (0..n as u32).map(|i| vec![i]).collect();
    for i in 0..n {
        for (j, _) in knn.of(i).filter(|p| p.0 != u32::MAX && 1.0 - p.1 <= delta) {
            covers[j as usize].push(i as u32);
        }
        if group[i] as usize != i {
            covers[group[i] as usize].push(i as u32);
        }
    }
    let mut covered = vec![false; n];
    for j in (0..n).filter(|&j| labeled[j]) {
        covers[j].iter().for_each(|&i| covered[i as usize] = true);
    }
    let gain = |covered: &[bool], j: u32| {
        covers[j as usize].iter().filter(|&&i| !covered[i as usize]).count() as f64
    };
    let mut heap =
        LazyMax::new((0..n as u32).filter(|&j| !labeled[j as usize]).map(|j| (j, gain(&covered, j))));
    let mut order = Vec::new();
    while order.len() < want {
        match heap.pop(|j| gain(&covered, j)) {
            Some((j, g)) if g > 0.0 => {
                covers[j as usize].iter().for_each(|&i| covered[i as usize] = true);
                order.push(j);
            }
            _ => break,
        }
    }
    order
}
