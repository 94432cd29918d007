//! Difficulty-based selection: ELFS's double-end pruning and CCS's stratified sampling,
//! both after a hard cutoff that drops the hardest β share.

use rand::seq::SliceRandom;
use rand::Rng;

/// Strata of CCS.
pub const STRATA: usize = 50;

/// Eligible rows, hardest (highest `difficulty`) first, ties by lowest row.
pub fn hardest_first(difficulty: &[f32], labeled: &[bool]) -> Vec<u32> {
    let mut rows: Vec<u32> = (0..difficulty.len() as u32).filter(|&i| !labeled[i as usize]).collect();
    rows.sort_by(|&a, &b| difficulty[b as usize].total_cmp(&difficulty[a as usize]).then(a.cmp(&b)));
    rows
}

/// Rows dropped by the cutoff β from `n` rows, leaving room for `m` picks.
pub fn cut(beta: f64, n: usize, m: usize) -> usize {
    ((beta * n as f64).floor() as usize).min(n.saturating_sub(m))
}

/// ELFS: the `m` hardest rows left after dropping the `β·N` hardest.
pub fn double_end(sorted: &[u32], beta: f64, m: usize) -> Vec<u32> {
    let start = cut(beta, sorted.len(), m);
    sorted[start..(start + m).min(sorted.len())].to_vec()
}

/// CCS's allocation: strata by size ascending, each gets `min(size, rest / strata left)`.
pub fn allocate(sizes: &[usize], m: usize) -> Vec<usize> {
    let mut by_size: Vec<usize> = (0..sizes.len()).collect();
    by_size.sort_by_key(|&j| (sizes[j], j));
    let mut out = vec![0; sizes.len()];
    let mut rest = m;
    for (t, &j) in by_size.iter().enumerate() {
        let b = sizes[j].min(rest / (sizes.len() - t));
        out[j] = b;
        rest -= b;
    }
    out
}

/// Stratum (0..STRATA) of each value: equal-width bins over [lo, hi], top edge inclusive.
pub fn strata(values: &[f32]) -> Vec<usize> {
    let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    values
        .iter()
        .map(|&v| if hi > lo { (((v - lo) / (hi - lo) * STRATA as f32) as usize).min(STRATA - 1) } else { 0 })
        .collect()
}

/// CCS: after the cutoff, `allocate` over difficulty strata, uniform within each stratum;
/// returned round-robin over strata so every prefix stays stratified.
pub fn ccs(sorted: &[u32], difficulty: &[f32], beta: f64, m: usize, rng: &mut impl Rng) -> Vec<u32> {
    let keep = &sorted[cut(beta, sorted.len(), m)..];
    let values: Vec<f32> = keep.iter().map(|&i| difficulty[i as usize]).collect();
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); STRATA];
    for (&row, s) in keep.iter().zip(strata(&values)) {
        members[s].push(row);
    }
    let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
    let take = allocate(&sizes, m);
    for (list, &b) in members.iter_mut().zip(&take) {
        list.sort_unstable();
        list.shuffle(rng);
        list.truncate(b);
    }
    let mut out = Vec::with_capacity(m);
    for round in 0..take.iter().copied().max().unwrap_or(0) {
        out.extend(members.iter().filter_map(|l| l.get(round).copied()));
    }
    out
}

/// Cutoffs tried by the label-free β search: 0, 0.05, … while `β ≤ 1 − m/N` and ≤ 0.9.
pub fn beta_grid(m: usize, n: usize) -> Vec<f64> {
    let limit = (1.0 - m as f64 / n.max(1) as f64).min(0.9);
    (0..=18).map(|i| i as f64 * 0.05).filter(|&b| b <= limit + 1e-9).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_follows_the_paper_rule() {
        // Sizes 1, 2, 10, 10 and m = 12: the two small strata are exhausted, the rest
        // split evenly: rest 12 → 1 (12/4=3, capped at 1), 11 → 2 (11/3=3, cap 2),
        // 9 → 4 (9/2), 5 → 5.
        assert_eq!(allocate(&[10, 1, 10, 2], 12), vec![4, 1, 5, 2]);
        assert_eq!(allocate(&[3, 3, 3], 9), vec![3, 3, 3]);
        assert_eq!(allocate(&[0, 5], 3), vec![0, 3]);
    }

    #[test]
    fn double_end_window_is_exact() {
        let sorted: Vec<u32> = (0..10).collect();
        assert_eq!(double_end(&sorted, 0.3, 4), vec![3, 4, 5, 6]);
        // βN + m > N: the window slides back to end at N.
        assert_eq!(double_end(&sorted, 0.9, 4), vec![6, 7, 8, 9]);
        assert_eq!(double_end(&sorted, 0.0, 10), sorted);
    }

    #[test]
    fn strata_include_both_ends_and_handle_nonpositive_values() {
        let s = strata(&[-3.0, -2.0, -1.0]);
        assert_eq!(s, vec![0, 25, STRATA - 1]);
        assert_eq!(strata(&[2.0, 2.0]), vec![0, 0]);
    }
}
