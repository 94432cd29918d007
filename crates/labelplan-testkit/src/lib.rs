//! Test helpers shared by labelplan's crates: where the fixtures live and the named
//! tolerances GPU results are compared with.

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// Relative tolerance for L2 norms computed in f32 by different summation orders.
pub const NORM_REL_TOL: f32 = 1e-5;

/// A seeded `rows × dim` matrix of values in [-1, 1), row-major.
pub fn random_matrix(seed: u64, rows: usize, dim: usize) -> Vec<f32> {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..rows * dim).map(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0).collect()
}

/// Whether `got` equals `want` within relative tolerance `rel` (absolute near zero).
pub fn close(got: f32, want: f32, rel: f32) -> bool {
    (got - want).abs() <= rel * want.abs().max(1.0)
}
