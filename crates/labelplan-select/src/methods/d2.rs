//! D2 pruning (ICLR 2024) on the kNN graph: difficulty spread forward to neighbours, then
//! repeatedly the highest score is picked and its neighbours are lowered, so picks are
//! hard but not clustered.

use labelplan_core::backend::Knn;

use crate::greedy::LazyMax;

/// Neighbours used by D2.
pub const K: usize = 5;
/// Reverse-message weight.
pub const GAMMA: f64 = 0.1;

fn distance(sim: f32) -> f64 {
    (2.0 - 2.0 * sim as f64).max(0.0).sqrt()
}

/// The first `want` rows of the D2 order from `difficulty` (higher = harder).
pub fn order(difficulty: &[f32], knn: &Knn, labeled: &[bool], want: usize) -> Vec<u32> {
    let n = difficulty.len();
    let (lo, hi) =
        difficulty.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let span = if hi > lo { (hi - lo) as f64 } else { 1.0 };
    let s: Vec<f64> = difficulty.iter().map(|&v| (v - lo) as f64 / span).collect();
    let neighbours = |i: usize| knn.of(i).take(K).filter(|p| p.0 != u32::MAX);
    let mut score: Vec<f64> = (0..n)
        .map(|i| s[i] + neighbours(i).map(|(j, sim)| (-distance(sim)).exp() * s[j as usize]).sum::<f64>())
        .collect();
    let lower = |score: &mut Vec<f64>, j: usize| {
        let sj = score[j];
        for (k, sim) in neighbours(j) {
            score[k as usize] -= (-GAMMA * distance(sim)).exp() * sj;
        }
    };
    for j in (0..n).filter(|&j| labeled[j]) {
        lower(&mut score, j);
    }
    let mut picked = labeled.to_vec();
    let mut heap =
        LazyMax::new((0..n as u32).filter(|&i| !labeled[i as usize]).map(|i| (i, score[i as usize])));
    let mut order = Vec::with_capacity(want);
    while order.len() < want {
        let Some((j, _)) = heap.pop(|i| score[i as usize]) else { break };
        picked[j as usize] = true;
        lower(&mut score, j as usize);
        order.push(j);
    }
    order
}
