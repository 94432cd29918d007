//! Uniform random order of the eligible rows.

use rand::seq::SliceRandom;

use crate::rng::stream;

/// Eligible rows (`!labeled`) in a seeded random order.
pub fn order(labeled: &[bool], seed: u64, purpose: &str) -> Vec<u32> {
    let mut rows: Vec<u32> = (0..labeled.len() as u32).filter(|&i| !labeled[i as usize]).collect();
    rows.shuffle(&mut stream(seed, purpose));
    rows
}
