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

/// How a backend holds the pool's normalised vectors. f16 halves the memory a GPU needs
/// for them (and what a browser's binding limits allow); every sum is still taken in
/// f32. The CPU keeps f32 arrays of the f16-rounded values, so both backends compute
/// on the same numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// 4 bytes a value.
    #[default]
    F32,
    /// IEEE half, 2 bytes a value (about 3 significant digits).
    F16,
}

impl Storage {
    /// Both storages.
    pub const ALL: [Storage; 2] = [Storage::F32, Storage::F16];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Storage::F32 => "f32",
            Storage::F16 => "f16",
        }
    }

    /// Bytes a value.
    pub fn bytes(self) -> usize {
        match self {
            Storage::F32 => 4,
            Storage::F16 => 2,
        }
    }

    /// Rounds `values` to what this storage holds (f16: to nearest, as uploads do).
    pub fn round(self, values: &mut [f32]) {
        if self == Storage::F16 {
            for v in values {
                *v = half::f16::from_f32(*v).to_f32();
            }
        }
    }
}

impl std::str::FromStr for Storage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Storage::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown storage {s:?}; expected f32 or f16"))
    }
}

/// L2 norm of a row, summed in f64 (the exactly rounded norm for the inputs we see).
pub fn row_norm(row: &[f32]) -> f32 {
    row.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt() as f32
}

/// Scales every row of a row-major matrix of width `dim` to unit L2 norm in place
/// (all-zero rows stay zero).
pub fn normalize_in_place(values: &mut [f32], dim: usize) {
    for row in values.chunks_mut(dim.max(1)) {
        let n = row_norm(row);
        if n > 0.0 {
            row.iter_mut().for_each(|v| *v /= n);
        }
    }
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

/// Epochs over which EL2N is summed (the early-training score of the paper).
pub const EL2N_EPOCHS: usize = 10;

/// Per-item statistics of proxy-head training (ELFS step 3, CCS's scores).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemStats {
    /// Σ over epochs of p_y − max_{c≠y} p_c (low = hard).
    pub aum: Vec<f32>,
    /// Σ over the first [`EL2N_EPOCHS`] epochs of ‖p − onehot(y)‖₂ (high = hard).
    pub el2n: Vec<f32>,
    /// Correct → incorrect flips between consecutive records (high = hard).
    pub forgetting: Vec<f32>,
    /// Entropy of the final prediction (high = hard).
    pub entropy: Vec<f32>,
    /// Cross-entropy of the final prediction against the label (high = hard).
    pub loss: Vec<f32>,
}

/// What a recorded prediction counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// A prediction during epoch `e`: adds to AUM, forgetting and (early) EL2N.
    Epoch(usize),
    /// The final prediction: sets entropy and loss.
    Final,
}

/// An item's correctness at its last record, for counting forgetting events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LastCorrect {
    /// Not recorded yet.
    #[default]
    Unseen,
    /// Last record predicted the label.
    Yes,
    /// Last record did not.
    No,
}

impl ItemStats {
    /// All-zero statistics for `n` items.
    pub fn zeros(n: usize) -> Self {
        let z = vec![0.0f32; n];
        ItemStats { aum: z.clone(), el2n: z.clone(), forgetting: z.clone(), entropy: z.clone(), loss: z }
    }

    /// Records item `item`'s class probabilities `p` against its label `y`: the reference
    /// every backend's accumulators follow (arg-max ties go to the lowest class).
    pub fn record(&mut self, last: &mut LastCorrect, item: usize, p: &[f32], y: usize, at: Record) {
        match at {
            Record::Epoch(epoch) => {
                let other =
                    p.iter().enumerate().filter(|(c, _)| *c != y).map(|(_, &v)| v).fold(0.0f32, f32::max);
                self.aum[item] += p[y] - other;
                let argmax = p.iter().enumerate().fold(0, |b, (c, &v)| if v > p[b] { c } else { b });
                let correct = argmax == y;
                if *last == LastCorrect::Yes && !correct {
                    self.forgetting[item] += 1.0;
                }
                *last = if correct { LastCorrect::Yes } else { LastCorrect::No };
                if epoch < EL2N_EPOCHS {
                    let err: f32 = p
                        .iter()
                        .enumerate()
                        .map(|(c, &v)| (v - if c == y { 1.0 } else { 0.0 }).powi(2))
                        .sum();
                    self.el2n[item] += err.sqrt();
                }
            }
            Record::Final => {
                self.entropy[item] =
                    -p.iter().filter(|&&v| v > 0.0).map(|&v| v * crate::det::ln(v)).sum::<f32>();
                self.loss[item] = -crate::det::ln(p[y].max(1e-12));
            }
        }
    }
}

/// The primitives of the selection engine. Every method is `async` because a GPU
/// returns results through the browser's event loop; the CPU backend is always ready.
#[allow(async_fn_in_trait)] // single-threaded callers: no Send bound wanted
pub trait Backend {
    /// A `rows × dim` f32 matrix resident on the backend.
    type Matrix;
    /// An f32 vector resident on the backend (greedy coverage state).
    type Vector;
    /// Proxy-head training state resident on the backend: labels and accumulators.
    type Training;

    /// Short name for manifests and the UI ("CPU", or the adapter's name).
    fn name(&self) -> String;

    /// Copies a row-major `rows × dim` matrix to the backend.
    async fn upload(&self, values: &[f32], rows: usize, dim: usize) -> Result<Self::Matrix, BackendError>;

    /// Copies a row-major `rows × dim` matrix to the backend with every row scaled to
    /// unit L2 norm, held as `storage` (the pool: the largest thing a plan holds). Every
    /// primitive takes matrices of either storage, mixed.
    async fn upload_normalized(
        &self,
        values: &[f32],
        rows: usize,
        dim: usize,
        storage: Storage,
    ) -> Result<Self::Matrix, BackendError>;

    /// [`Backend::upload_normalized`] of values the caller gives up: a backend that keeps
    /// matrices in host memory normalises them in place, so the pool is held once.
    async fn upload_normalized_owned(
        &self,
        values: Vec<f32>,
        rows: usize,
        dim: usize,
        storage: Storage,
    ) -> Result<Self::Matrix, BackendError> {
        self.upload_normalized(&values, rows, dim, storage).await
    }

    /// `(rows, dim)` of a matrix.
    fn shape(&self, m: &Self::Matrix) -> (usize, usize);

    /// Reads rows back to the host (row-major), in the order given.
    async fn read_rows(&self, m: &Self::Matrix, rows: &[u32]) -> Result<Vec<f32>, BackendError>;

    /// A copy with every row scaled to unit L2 norm (all-zero rows stay zero).
    async fn normalize_rows(&self, m: &Self::Matrix) -> Result<Self::Matrix, BackendError>;

    /// `a · bᵀ`: the `a.rows × b.rows` similarities, row-major.
    async fn dot(&self, a: &Self::Matrix, b: &Self::Matrix) -> Result<Vec<f32>, BackendError>;

    /// For every row of `points`, the row of `refs` with the largest dot product.
    async fn nearest(&self, points: &Self::Matrix, refs: &Self::Matrix) -> Result<Nearest, BackendError>;

    /// The rows `rows` of `m`, in that order, as a new matrix on the backend (the blocks
    /// an index searches).
    async fn gather(&self, m: &Self::Matrix, rows: &[u32]) -> Result<Self::Matrix, BackendError>;

    /// For every row, the `k` rows with the largest dot products, skipping rows in the
    /// same `group` (itself and its exact duplicates). Missing slots hold index
    /// `u32::MAX` and similarity `-inf`.
    async fn top_k(&self, points: &Self::Matrix, k: usize, group: &[u32]) -> Result<Knn, BackendError> {
        self.top_k_between(points, points, k, group, group).await
    }

    /// For every row `q` of `queries`, the `k` rows of `refs` with the largest dot
    /// products (indices into `refs`; lowest index first on ties), skipping every ref `r`
    /// with `ref_group[r] == query_group[q]`. Missing slots hold index `u32::MAX` and
    /// similarity `-inf`.
    async fn top_k_between(
        &self,
        queries: &Self::Matrix,
        refs: &Self::Matrix,
        k: usize,
        query_group: &[u32],
        ref_group: &[u32],
    ) -> Result<Knn, BackendError>;

    /// For every row `i` of `points`, the row of `refs` with the largest dot product
    /// among its candidates `candidates[i·per_row .. (i+1)·per_row]` (`u32::MAX` = an
    /// empty slot; the lowest ref index on ties, whatever the slot order). A row without
    /// candidates gets index `u32::MAX` and similarity `-inf`.
    async fn nearest_among(
        &self,
        points: &Self::Matrix,
        refs: &Self::Matrix,
        candidates: &[u32],
        per_row: usize,
    ) -> Result<Nearest, BackendError>;

    /// Sum of the rows of each segment: `segments × dim`, row-major. Rows whose segment
    /// is `u32::MAX` are left out. The summation order is fixed by the backend (never by
    /// timing), so a run repeats bit for bit.
    async fn segment_sums(
        &self,
        points: &Self::Matrix,
        segment: &[u32],
        segments: usize,
    ) -> Result<Vec<f32>, BackendError>;

    /// `columns × dim` row-major: output row `c` is `Σᵢ weights[i·columns + c] · rowᵢ`
    /// (the map's `Xᵀu`). As for `segment_sums`, the summation order is the backend's
    /// own and never depends on timing.
    async fn weighted_sums(
        &self,
        points: &Self::Matrix,
        weights: &[f32],
        columns: usize,
    ) -> Result<Vec<f32>, BackendError>;

    /// Copies a vector to the backend.
    async fn upload_vector(&self, values: &[f32]) -> Result<Self::Vector, BackendError>;

    /// Reads a vector back.
    async fn read_vector(&self, v: &Self::Vector) -> Result<Vec<f32>, BackendError>;

    /// Greedy-coverage step: `best[i] = max(best[i], points[i] · points[pick])`, then
    /// `best[pick] = NaN` when `retire` is set; returns the row with the smallest `best`
    /// (lowest index on ties) among rows whose `best` is not NaN, with that value. NaN
    /// marks rows that must never be returned. Only the winner comes back to the host.
    async fn raise_best(
        &self,
        points: &Self::Matrix,
        best: &mut Self::Vector,
        pick: u32,
        retire: bool,
    ) -> Result<Option<(u32, f32)>, BackendError> {
        let (rows, _) = self.shape(points);
        let every_row = std::iter::once(0..rows as u32).collect::<Vec<_>>();
        let all = self.raise_best_in(points, best, pick, retire, &every_row).await?;
        Ok(all.into_iter().next().flatten())
    }

    /// [`Backend::raise_best`] over some row ranges only (rows outside them keep their
    /// `best`; a retired pick must lie in one): returns each range's least-covered live
    /// row, lowest index on ties, with its value.
    async fn raise_best_in(
        &self,
        points: &Self::Matrix,
        best: &mut Self::Vector,
        pick: u32,
        retire: bool,
        ranges: &[std::ops::Range<u32>],
    ) -> Result<Vec<Option<(u32, f32)>>, BackendError>;

    /// Starts proxy-head training on `points` with one class label per row.
    async fn start_training(
        &self,
        points: &Self::Matrix,
        labels: &[u32],
        classes: usize,
    ) -> Result<Self::Training, BackendError>;

    /// One epoch of SGD on mean softmax cross-entropy: minibatches of `batch` rows of
    /// `order`, in order. With `record = Some(e)`, each batch row's probabilities before
    /// its step are recorded as [`Record::Epoch`]`(e)`.
    #[allow(clippy::too_many_arguments)] // one training step's inputs, all needed
    async fn train_epoch(
        &self,
        training: &mut Self::Training,
        points: &Self::Matrix,
        head: &mut Head,
        order: &[u32],
        batch: usize,
        step: HeadStep,
        record: Option<usize>,
    ) -> Result<(), BackendError>;

    /// Records the head's predictions (no noise) for `rows`.
    async fn record_predictions(
        &self,
        training: &mut Self::Training,
        points: &Self::Matrix,
        head: &Head,
        rows: &[u32],
        at: Record,
    ) -> Result<(), BackendError>;

    /// The statistics recorded so far.
    async fn training_stats(&self, training: &Self::Training) -> Result<ItemStats, BackendError>;

    /// Runs `epochs` of the map's layout over `graph` from `positions` (`rows × 2`,
    /// row-major) and returns the new positions: [`crate::layout::run`] is the
    /// reference.
    async fn layout_epochs(
        &self,
        graph: &crate::layout::Graph,
        positions: &[f32],
        epochs: &crate::layout::Epochs,
    ) -> Result<Vec<f32>, BackendError>;
}

/// An approximately standard normal value that depends only on `(seed, index)`: a
/// counter-based hash (SplitMix64) cut into four 16-bit uniforms whose sum is centred and
/// scaled to variance 1 (Irwin–Hall, n = 4: bell-shaped within ±3.5). Integer work and
/// one exact scaling, so a GPU produces the same value bit for bit, and cheap: the proxy
/// head adds one per input value per epoch.
pub fn gaussian(seed: u64, index: u64) -> f32 {
    let h = splitmix(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let sum = (h & 0xffff) + ((h >> 16) & 0xffff) + ((h >> 32) & 0xffff) + (h >> 48);
    (sum as f32 - 131_070.0) * NOISE_SCALE
}

/// √3 / 65536: the sum of four uniforms on 0..65535 has standard deviation 65536/√3
/// (to 1 part in 10⁹).
const NOISE_SCALE: f32 = 2.642_899_8e-5;

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
