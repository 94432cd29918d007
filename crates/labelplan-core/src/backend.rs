//! The compute primitives labelplan's algorithms are written against. The CPU backend
//! (labelplan-cpu) implements them plainly and is the test oracle; the GPU backend
//! implements the same contract in WGSL. Heavy data stays on the backend as a
//! [`Backend::Matrix`]; only small results come back.
//!
//! Conventions every implementation keeps: similarities are dot products of rows (the
//! algorithms upload L2-normalised rows, so a dot product is a cosine); ties break by
//! the lowest index; nothing depends on thread count or timing.

use serde::{Deserialize, Serialize};

/// Why a backend could not run a primitive (a device error, an allocation over the
/// device's limits). The CPU backend never fails.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The device refused or lost the work.
    #[error("{backend}: {message}")]
    Device {
        /// Backend name.
        backend: String,
        /// What the device said.
        message: String,
    },
}

/// For each query row: the best-matching reference row and its similarity.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    /// Index of the most similar reference row (lowest index on ties).
    pub index: Vec<u32>,
    /// Its similarity (dot product).
    pub sim: Vec<f32>,
}

/// The `k` most similar other rows of every row, most similar first.
#[derive(Debug, Clone, PartialEq)]
pub struct Knn {
    /// Neighbours per row.
    pub k: usize,
    /// `rows × k` neighbour indices, row-major.
    pub index: Vec<u32>,
    /// `rows × k` similarities, same layout.
    pub sim: Vec<f32>,
}

impl Knn {
    /// Neighbours of row `i`: (index, similarity) pairs, most similar first.
    pub fn of(&self, i: usize) -> impl Iterator<Item = (u32, f32)> + '_ {
        let span = i * self.k..(i + 1) * self.k;
        self.index[span.clone()].iter().copied().zip(self.sim[span].iter().copied())
    }
}

/// One dense layer of a proxy head: `outputs = inputs · weights + bias`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// `inputs × outputs`, row-major.
    pub weights: Vec<f32>,
    /// `outputs`.
    pub bias: Vec<f32>,
}

/// A small classifier on embeddings: dense layers with ReLU between them, softmax on top.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// Layers from input to logits.
    pub layers: Vec<Dense>,
}

impl Head {
    /// Number of classes (width of the last layer).
    pub fn classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }
}

/// Settings of one minibatch step of a head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadStep {
    /// Plain SGD step size.
    pub learning_rate: f32,
    /// Standard deviation of Gaussian noise added to each input value (augmentation).
    pub noise_std: f32,
    /// Seed of that noise; the value added to row `r`, column `c` is
    /// `noise_std · gaussian(noise_seed, r · dim + c)`, the same on every backend.
    pub noise_seed: u64,
}

/// The primitives of the selection engine.
pub trait Backend {
    /// A `rows × dim` f32 matrix resident on the backend.
    type Matrix;

    /// Short name for manifests and the UI ("CPU", or the adapter's name).
    fn name(&self) -> String;

    /// Copies a row-major `rows × dim` matrix to the backend.
    fn upload(&self, values: &[f32], rows: usize, dim: usize) -> Result<Self::Matrix, BackendError>;

    /// `(rows, dim)` of a matrix.
    fn shape(&self, m: &Self::Matrix) -> (usize, usize);

    /// Reads rows back to the host (row-major), in the order given.
    fn read_rows(&self, m: &Self::Matrix, rows: &[u32]) -> Result<Vec<f32>, BackendError>;

    /// A copy with every row scaled to unit L2 norm (all-zero rows stay zero).
    fn normalize_rows(&self, m: &Self::Matrix) -> Result<Self::Matrix, BackendError>;

    /// `a · bᵀ`: the `a.rows × b.rows` similarities, row-major.
    fn dot(&self, a: &Self::Matrix, b: &Self::Matrix) -> Result<Vec<f32>, BackendError>;

    /// For every row of `points`, the row of `refs` with the largest dot product.
    fn nearest(&self, points: &Self::Matrix, refs: &Self::Matrix) -> Result<Nearest, BackendError>;

    /// For every row, the `k` rows with the largest dot products, skipping rows in the
    /// same `group` (itself and its exact duplicates). `k` is capped at what exists;
    /// missing slots hold index `u32::MAX` and similarity `-inf`.
    fn top_k(&self, points: &Self::Matrix, k: usize, group: &[u32]) -> Result<Knn, BackendError>;

    /// Sum of the rows of each segment: `segments × dim`, row-major. Rows whose segment
    /// is `u32::MAX` are left out. Summation order is fixed (ascending row).
    fn segment_sums(
        &self,
        points: &Self::Matrix,
        segment: &[u32],
        segments: usize,
    ) -> Result<Vec<f32>, BackendError>;

    /// Greedy-coverage step: `best[i] = max(best[i], points[i] · points[pick])`, then the
    /// row with the smallest `best` (lowest index on ties) among rows whose `best` is not
    /// NaN, with that value. NaN marks rows that must never be returned.
    fn raise_best(
        &self,
        points: &Self::Matrix,
        best: &mut [f32],
        pick: u32,
    ) -> Result<Option<(u32, f32)>, BackendError>;

    /// One SGD step of `head` on the rows `batch` with class `labels` (one per batch
    /// row), mean softmax cross-entropy; returns the softmax probabilities of the batch
    /// rows as seen before the update (`batch × classes`, row-major).
    fn head_step(
        &self,
        points: &Self::Matrix,
        batch: &[u32],
        labels: &[u32],
        head: &mut Head,
        step: HeadStep,
    ) -> Result<Vec<f32>, BackendError>;

    /// Softmax probabilities of `head` on every row, without noise: `rows × classes`.
    fn head_predict(&self, points: &Self::Matrix, head: &Head) -> Result<Vec<f32>, BackendError>;
}

/// A standard normal value that depends only on `(seed, index)`: a counter-based hash
/// (SplitMix64) and Box–Muller, so a GPU can produce the same stream.
pub fn gaussian(seed: u64, index: u64) -> f32 {
    let a = splitmix(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let b = splitmix(a);
    // 24-bit uniforms in (0, 1].
    let u1 = ((a >> 40) as f32 + 1.0) / (1u32 << 24) as f32;
    let u2 = (b >> 40) as f32 / (1u32 << 24) as f32;
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::gaussian;

    #[test]
    fn gaussian_is_standard_normal() {
        let n = 100_000u64;
        let v: Vec<f64> = (0..n).map(|i| gaussian(7, i) as f64).collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
        assert_ne!(gaussian(7, 0), gaussian(8, 0));
    }
}
