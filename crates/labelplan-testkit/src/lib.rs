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
