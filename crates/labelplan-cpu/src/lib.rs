//! labelplan-cpu: the CPU backend. Its kernels are written for clarity with ndarray;
//! they are the oracle the WebGPU kernels are tested against and the fallback where a
//! browser has no WebGPU.

use labelplan_core::backend::{
    gaussian, normalize_in_place, row_norm, Backend, BackendError, Head, HeadStep, ItemStats, Knn,
    LastCorrect, Nearest, Record, Storage,
};
use labelplan_core::{det, layout};
use ndarray::{Array1, Array2, ArrayView2, Axis, Slice};

use labelplan_core::parallel::{dot, map_parts, map_parts_mut};

/// L2 norm of each row of a row-major `rows × dim` matrix.
///
/// Sums in f64 so the result is the exactly rounded norm for the inputs we see; the GPU
/// twin sums in f32 and is compared within `labelplan_testkit::NORM_REL_TOL`.
pub fn row_norms(values: &[f32], rows: usize, dim: usize) -> Vec<f32> {
    assert_eq!(values.len(), rows * dim, "values must hold rows × dim");
    if dim == 0 {
        return vec![0.0; rows];
    }
    values.chunks(dim).map(row_norm).collect()
}

/// Scales every row of `m` to unit L2 norm in place (all-zero rows stay zero) and rounds
/// the values to what `storage` holds.
fn scale_to_unit(m: &mut Array2<f32>, storage: Storage) {
    let dim = m.ncols();
    let values = m.as_slice_mut().expect("standard layout");
    normalize_in_place(values, dim);
    storage.round(values);
}

/// The CPU backend: matrices are ndarray arrays in host memory.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuBackend;

/// Rows per block when a full similarity row block would be large.
const BLOCK_ROWS: usize = 256;

/// Inserts `(j, s)` into a best-first list capped at `k`; an equal similarity keeps the
/// earlier (lower) index ahead.
fn insert_top(list: &mut Vec<(u32, f32)>, k: usize, j: u32, s: f32) {
    if list.len() == k && list.last().is_some_and(|&(_, worst)| s <= worst) {
        return;
    }
    let at = list.partition_point(|&(_, v)| v >= s);
    list.insert(at, (j, s));
    list.truncate(k);
}

fn as_array(values: &[f32], rows: usize, dim: usize) -> Array2<f32> {
    Array2::from_shape_vec((rows, dim), values.to_vec()).expect("values must hold rows × dim")
}

/// Forward pass; returns the activations entering each layer and the logits.
fn forward(head: &Head, input: Array2<f32>) -> (Vec<Array2<f32>>, Array2<f32>) {
    let mut inputs = Vec::with_capacity(head.layers.len());
    let mut h = input;
    for (i, layer) in head.layers.iter().enumerate() {
        let w = ArrayView2::from_shape((layer.inputs, layer.outputs), &layer.weights).expect("layer shape");
        let mut z = det::matmul(h.view(), w) + &Array1::from_vec(layer.bias.clone());
        if i + 1 < head.layers.len() {
            z.mapv_inplace(|v| v.max(0.0));
        }
        inputs.push(h);
        h = z;
    }
    (inputs, h)
}

/// Row-wise softmax in place.
fn softmax(logits: &mut Array2<f32>) {
    for mut row in logits.rows_mut() {
        let max = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| det::exp(v - max));
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
}

/// Proxy-head training state on the host.
#[derive(Debug, Clone)]
pub struct CpuTraining {
    labels: Vec<u32>,
    classes: usize,
    stats: ItemStats,
    last: Vec<LastCorrect>,
}

impl CpuTraining {
    fn record(&mut self, rows: &[u32], probs: &[f32], at: Record) {
        for (b, &r) in rows.iter().enumerate() {
            let r = r as usize;
            let p = &probs[b * self.classes..(b + 1) * self.classes];
            self.stats.record(&mut self.last[r], r, p, self.labels[r] as usize, at);
        }
    }
}

/// Gathers `batch` rows of `points`, plus the seeded Gaussian input noise of `step`.
fn noisy_rows(points: &Array2<f32>, batch: &[u32], step: HeadStep) -> Array2<f32> {
    let dim = points.ncols();
    let mut x = Array2::<f32>::zeros((batch.len(), dim));
    for (b, &r) in batch.iter().enumerate() {
        let mut row = x.row_mut(b);
        row.assign(&points.row(r as usize));
        if step.noise_std > 0.0 {
            for (c, v) in row.iter_mut().enumerate() {
                *v += step.noise_std * gaussian(step.noise_seed, r as u64 * dim as u64 + c as u64);
            }
        }
    }
    x
}

/// One SGD step of `head` on the rows `batch` with class `labels`; returns the softmax
/// probabilities of the batch rows as seen before the update.
fn head_step(
    points: &Array2<f32>,
    batch: &[u32],
    labels: &[u32],
    head: &mut Head,
    step: HeadStep,
) -> Array2<f32> {
    let (inputs, mut probs) = forward(head, noisy_rows(points, batch, step));
    softmax(&mut probs);
    // Gradient of mean cross-entropy with respect to the logits.
    let mut grad = probs.clone();
    for (b, &y) in labels.iter().enumerate() {
        grad[[b, y as usize]] -= 1.0;
    }
    grad /= batch.len() as f32;
    for (i, layer) in head.layers.iter_mut().enumerate().rev() {
        let input = &inputs[i];
        let gw = det::matmul(input.t(), grad.view());
        let gb = grad.sum_axis(Axis(0));
        if i > 0 {
            let w =
                ArrayView2::from_shape((layer.inputs, layer.outputs), &layer.weights).expect("layer shape");
            let mut back = det::matmul(grad.view(), w.t());
            back.zip_mut_with(input, |g, &a| {
                if a <= 0.0 {
                    *g = 0.0;
                }
            });
            grad = back;
        }
        for (w, g) in layer.weights.iter_mut().zip(gw.iter()) {
            *w -= step.learning_rate * g;
        }
        for (b, g) in layer.bias.iter_mut().zip(gb.iter()) {
            *b -= step.learning_rate * g;
        }
    }
    probs
}

impl Backend for CpuBackend {
    type Matrix = Array2<f32>;
    type Vector = Vec<f32>;
    type Training = CpuTraining;

    fn name(&self) -> String {
        "CPU".into()
    }

    async fn upload(&self, values: &[f32], rows: usize, dim: usize) -> Result<Array2<f32>, BackendError> {
        Ok(as_array(values, rows, dim))
    }

    async fn upload_normalized(
        &self,
        values: &[f32],
        rows: usize,
        dim: usize,
        storage: Storage,
    ) -> Result<Array2<f32>, BackendError> {
        self.upload_normalized_owned(values.to_vec(), rows, dim, storage).await
    }

    async fn upload_normalized_owned(
        &self,
        values: Vec<f32>,
        rows: usize,
        dim: usize,
        storage: Storage,
    ) -> Result<Array2<f32>, BackendError> {
        let mut m = Array2::from_shape_vec((rows, dim), values).expect("values must hold rows × dim");
        scale_to_unit(&mut m, storage);
        Ok(m)
    }

    fn shape(&self, m: &Array2<f32>) -> (usize, usize) {
        m.dim()
    }

    async fn read_rows(&self, m: &Array2<f32>, rows: &[u32]) -> Result<Vec<f32>, BackendError> {
        let idx: Vec<usize> = rows.iter().map(|&r| r as usize).collect();
        Ok(m.select(Axis(0), &idx).into_iter().collect())
    }

    async fn normalize_rows(&self, m: &Array2<f32>) -> Result<Array2<f32>, BackendError> {
        let mut out = m.clone();
        scale_to_unit(&mut out, Storage::F32);
        Ok(out)
    }

    async fn dot(&self, a: &Array2<f32>, b: &Array2<f32>) -> Result<Vec<f32>, BackendError> {
        Ok(det::matmul(a.view(), b.t()).into_iter().collect())
    }

    async fn nearest(&self, points: &Array2<f32>, refs: &Array2<f32>) -> Result<Nearest, BackendError> {
        let mut index = Vec::with_capacity(points.nrows());
        let mut sim = Vec::with_capacity(points.nrows());
        let refs = det::Packed::new(refs.t());
        for start in (0..points.nrows()).step_by(BLOCK_ROWS) {
            let end = (start + BLOCK_ROWS).min(points.nrows());
            let block = det::matmul_packed(points.slice_axis(Axis(0), Slice::from(start..end)), &refs);
            for row in block.rows() {
                let (mut best, mut best_sim) = (0u32, f32::NEG_INFINITY);
                for (j, &v) in row.iter().enumerate() {
                    if v > best_sim {
                        (best, best_sim) = (j as u32, v);
                    }
                }
                index.push(best);
                sim.push(best_sim);
            }
        }
        Ok(Nearest { index, sim })
    }

    async fn gather(&self, m: &Array2<f32>, rows: &[u32]) -> Result<Array2<f32>, BackendError> {
        let idx: Vec<usize> = rows.iter().map(|&r| r as usize).collect();
        Ok(m.select(Axis(0), &idx))
    }

    async fn top_k_between(
        &self,
        queries: &Array2<f32>,
        refs: &Array2<f32>,
        k: usize,
        query_group: &[u32],
        ref_group: &[u32],
    ) -> Result<Knn, BackendError> {
        let n = queries.nrows();
        let mut index = Vec::with_capacity(n * k);
        let mut sim = Vec::with_capacity(n * k);
        let mut list = Vec::with_capacity(k + 1);
        let packed = det::Packed::new(refs.t());
        for start in (0..n).step_by(BLOCK_ROWS) {
            let end = (start + BLOCK_ROWS).min(n);
            let block = det::matmul_packed(queries.slice_axis(Axis(0), Slice::from(start..end)), &packed);
            for (r, row) in block.rows().into_iter().enumerate() {
                let me = query_group[start + r];
                list.clear();
                for (j, &v) in row.iter().enumerate() {
                    if ref_group[j] != me {
                        insert_top(&mut list, k, j as u32, v);
                    }
                }
                list.resize(k, (u32::MAX, f32::NEG_INFINITY));
                index.extend(list.iter().map(|p| p.0));
                sim.extend(list.iter().map(|p| p.1));
            }
        }
        Ok(Knn { k, index, sim })
    }

    async fn nearest_among(
        &self,
        points: &Array2<f32>,
        refs: &Array2<f32>,
        candidates: &[u32],
        per_row: usize,
    ) -> Result<Nearest, BackendError> {
        let dim = points.ncols();
        let (p, r) = (points.as_slice().expect("standard layout"), refs.as_slice().expect("standard layout"));
        let parts = map_parts(points.nrows(), 1024, |rows| {
            let mut found = Vec::with_capacity(rows.len());
            for i in rows {
                let point = &p[i * dim..(i + 1) * dim];
                let (mut best, mut best_sim) = (u32::MAX, f32::NEG_INFINITY);
                for &c in &candidates[i * per_row..(i + 1) * per_row] {
                    if c == u32::MAX {
                        continue;
                    }
                    let s = dot(point, &r[c as usize * dim..(c as usize + 1) * dim]);
                    if best == u32::MAX || s > best_sim || (s == best_sim && c < best) {
                        (best, best_sim) = (c, s);
                    }
                }
                found.push((best, best_sim));
            }
            found
        });
        let (index, sim) = parts.into_iter().flatten().unzip();
        Ok(Nearest { index, sim })
    }

    async fn segment_sums(
        &self,
        points: &Array2<f32>,
        segment: &[u32],
        segments: usize,
    ) -> Result<Vec<f32>, BackendError> {
        let mut sums = Array2::<f32>::zeros((segments, points.ncols()));
        for (row, &seg) in points.rows().into_iter().zip(segment) {
            if seg != u32::MAX {
                let mut target = sums.row_mut(seg as usize);
                target += &row;
            }
        }
        Ok(sums.into_iter().collect())
    }

    async fn weighted_sums(
        &self,
        points: &Array2<f32>,
        weights: &[f32],
        columns: usize,
    ) -> Result<Vec<f32>, BackendError> {
        let w = ndarray::ArrayView2::from_shape((points.nrows(), columns), weights)
            .expect("weights must hold rows × columns numbers");
        Ok(det::matmul(w.t(), points.view()).into_iter().collect())
    }

    async fn raise_best_in(
        &self,
        points: &Array2<f32>,
        best: &mut Vec<f32>,
        pick: u32,
        retire: bool,
        ranges: &[std::ops::Range<u32>],
    ) -> Result<Vec<Option<(u32, f32)>>, BackendError> {
        if retire {
            best[pick as usize] = f32::NAN;
        }
        let dim = points.ncols();
        let p = points.as_slice().expect("standard layout");
        let row = &p[pick as usize * dim..(pick as usize + 1) * dim];
        let lower = |acc: Option<(u32, f32)>, (i, v): (u32, f32)| match acc {
            Some((_, a)) if a <= v => acc,
            _ => Some((i, v)),
        };
        Ok(ranges
            .iter()
            .map(|range| {
                let start = range.start as usize;
                // Each part's lowest, then the lowest part (earlier parts win ties).
                let lowest = map_parts_mut(&mut best[start..range.end as usize], 1, 4096, |first, part| {
                    let mut lowest: Option<(u32, f32)> = None;
                    for (offset, b) in part.iter_mut().enumerate() {
                        if b.is_nan() {
                            continue;
                        }
                        let i = start + first + offset;
                        *b = b.max(dot(&p[i * dim..(i + 1) * dim], row));
                        lowest = lower(lowest, (i as u32, *b));
                    }
                    lowest
                });
                lowest.into_iter().flatten().fold(None, lower)
            })
            .collect())
    }

    async fn upload_vector(&self, values: &[f32]) -> Result<Vec<f32>, BackendError> {
        Ok(values.to_vec())
    }

    async fn read_vector(&self, v: &Vec<f32>) -> Result<Vec<f32>, BackendError> {
        Ok(v.clone())
    }

    async fn start_training(
        &self,
        points: &Array2<f32>,
        labels: &[u32],
        classes: usize,
    ) -> Result<CpuTraining, BackendError> {
        let n = points.nrows();
        Ok(CpuTraining {
            labels: labels.to_vec(),
            classes,
            stats: ItemStats::zeros(n),
            last: vec![LastCorrect::Unseen; n],
        })
    }

    async fn train_epoch(
        &self,
        training: &mut CpuTraining,
        points: &Array2<f32>,
        head: &mut Head,
        order: &[u32],
        batch: usize,
        step: HeadStep,
        record: Option<usize>,
    ) -> Result<(), BackendError> {
        for rows in order.chunks(batch.max(1)) {
            let y: Vec<u32> = rows.iter().map(|&i| training.labels[i as usize]).collect();
            let probs = head_step(points, rows, &y, head, step);
            if let Some(epoch) = record {
                training.record(rows, probs.as_slice().expect("standard layout"), Record::Epoch(epoch));
            }
        }
        Ok(())
    }

    async fn record_predictions(
        &self,
        training: &mut CpuTraining,
        points: &Array2<f32>,
        head: &Head,
        rows: &[u32],
        at: Record,
    ) -> Result<(), BackendError> {
        let quiet = HeadStep { learning_rate: 0.0, noise_std: 0.0, noise_seed: 0 };
        for chunk in rows.chunks(BLOCK_ROWS * 16) {
            let (_, mut probs) = forward(head, noisy_rows(points, chunk, quiet));
            softmax(&mut probs);
            training.record(chunk, probs.as_slice().expect("standard layout"), at);
        }
        Ok(())
    }

    async fn training_stats(&self, training: &CpuTraining) -> Result<ItemStats, BackendError> {
        Ok(training.stats.clone())
    }

    async fn layout_epochs(
        &self,
        graph: &layout::Graph,
        positions: &[f32],
        epochs: &layout::Epochs,
    ) -> Result<Vec<f32>, BackendError> {
        Ok(layout::run(graph, positions, epochs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_of_known_rows() {
        let v = [3.0, 4.0, 0.0, 0.0, 1.0, 0.0];
        assert_eq!(row_norms(&v, 3, 2), vec![5.0, 0.0, 1.0]);
    }

    #[test]
    fn zero_rows_gives_empty() {
        assert!(row_norms(&[], 0, 4).is_empty());
    }

    use pollster::block_on;

    #[test]
    fn top_k_skips_own_group_and_breaks_ties_low() {
        let cpu = CpuBackend;
        // Rows 0 and 1 are duplicates; rows 2 and 3 tie as neighbours of row 4.
        let m =
            block_on(cpu.upload(&[1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.6, 0.8], 5, 2)).expect("upload");
        let knn = block_on(cpu.top_k(&m, 2, &[0, 0, 1, 2, 3])).expect("knn");
        let of = |i| knn.of(i).map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(of(0), vec![4, 2]);
        assert_eq!(of(4), vec![2, 3]);
        assert_eq!(of(2), vec![3, 4]);
    }

    #[test]
    fn raise_best_returns_the_least_covered() {
        let cpu = CpuBackend;
        let m = block_on(cpu.upload(&[1.0, 0.0, 0.0, 1.0, 0.6, 0.8], 3, 2)).expect("upload");
        let mut best = vec![f32::NEG_INFINITY, f32::NEG_INFINITY, f32::NAN];
        let far = block_on(cpu.raise_best(&m, &mut best, 0, true)).expect("step");
        assert_eq!(far, Some((1, 0.0)));
        assert!(best[0].is_nan() && best[2].is_nan());
    }

    #[test]
    fn training_lowers_the_loss_and_records_every_item() {
        use labelplan_core::backend::Dense;
        let cpu = CpuBackend;
        let m = block_on(cpu.upload(&[1.0, 0.0, 0.0, 1.0, 0.9, 0.1, 0.1, 0.9], 4, 2)).expect("upload");
        let mut head = Head {
            layers: vec![
                Dense {
                    inputs: 2,
                    outputs: 3,
                    weights: vec![0.1, -0.2, 0.3, 0.2, 0.1, -0.1],
                    bias: vec![0.0; 3],
                },
                Dense {
                    inputs: 3,
                    outputs: 2,
                    weights: vec![0.1, -0.1, 0.2, 0.1, -0.3, 0.2],
                    bias: vec![0.0; 2],
                },
            ],
        };
        let step = HeadStep { learning_rate: 0.5, noise_std: 0.0, noise_seed: 0 };
        let rows = [0, 1, 2, 3];
        let mut t = block_on(cpu.start_training(&m, &[0, 1, 0, 1], 2)).expect("start");
        block_on(cpu.record_predictions(&mut t, &m, &head, &rows, Record::Final)).expect("record");
        let first: f32 = block_on(cpu.training_stats(&t)).expect("stats").loss.iter().sum();
        for epoch in 0..200 {
            block_on(cpu.train_epoch(&mut t, &m, &mut head, &rows, 4, step, Some(epoch))).expect("epoch");
        }
        block_on(cpu.record_predictions(&mut t, &m, &head, &rows, Record::Final)).expect("record");
        let stats = block_on(cpu.training_stats(&t)).expect("stats");
        let last: f32 = stats.loss.iter().sum();
        assert!(last < first * 0.2, "{last} vs {first}");
        // Every item was recorded: a learnt item's margin accumulates.
        assert!(stats.aum.iter().all(|&a| a > 0.0), "{:?}", stats.aum);
        assert!(stats.el2n.iter().all(|&e| e > 0.0));
    }
}
