//! FFN neurons grouped into experts of [`EXPERT_SIZE`] (LTE's first step): each layer's
//! neurons are put in an order where expert `e` owns places `e·32 .. e·32 + 32`, and the
//! model's gate, up and down projections are permuted to that order, so an expert's
//! weights are contiguous (whole rows of gate and up, whole blocks of each row of down).
//! The permuted dense model computes the same function: gate and up rows move as bytes;
//! down's columns are re-stored in a chosen type (its blocks run along the neurons).

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{Layout, Matrix, Model};
use crate::quant::{quantize, DType};

/// Neurons per expert: one block of the quantised types, so an expert is whole blocks.
pub const EXPERT_SIZE: usize = 32;

/// How each layer's FFN neurons are grouped: `order[l][k]` is the neuron (in the GGUF's
/// order) at place `k` of layer `l`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// One permutation of `0..ff` per layer.
    pub order: Vec<Vec<u32>>,
}

impl Grouping {
    /// The GGUF's own order: expert `e` is neurons `32e .. 32e + 32` (the ablation).
    pub fn contiguous(layers: usize, ff: usize) -> Grouping {
        Grouping { order: vec![(0..ff as u32).collect(); layers] }
    }

    /// Neurons grouped by balanced k-means on their gate weights (LTE's grouping):
    /// neurons whose gate rows point the same way tend to fire together.
    pub fn balanced_kmeans(model: &Model, iterations: usize, seed: u64) -> Grouping {
        let (dim, ff) = (model.config.dim, model.config.ff);
        let order = model
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let mut rows = layer.gate.to_f32();
                for row in rows.chunks_exact_mut(dim) {
                    let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                    row.iter_mut().for_each(|v| *v /= norm);
                }
                let mut rng =
                    ChaCha8Rng::seed_from_u64(seed ^ (l as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                balanced_kmeans(&rows, dim, ff / EXPERT_SIZE, iterations, &mut rng)
            })
            .collect();
        Grouping { order }
    }

    /// Experts per layer.
    pub fn experts(&self) -> usize {
        self.order.first().map_or(0, |o| o.len() / EXPERT_SIZE)
    }

    /// Checks that it fits `model`: a permutation of the FFN's neurons per layer.
    pub fn check(&self, model: &Model) -> Result<(), String> {
        let (layers, ff) = (model.config.layers, model.config.ff);
        if !ff.is_multiple_of(EXPERT_SIZE) {
            return Err(format!("the FFN has {ff} neurons, not a multiple of {EXPERT_SIZE}"));
        }
        if self.order.len() != layers {
            return Err(format!("the grouping has {} layers; the model {layers}", self.order.len()));
        }
        for (l, order) in self.order.iter().enumerate() {
            let mut seen = vec![false; ff];
            for &n in order {
                match seen.get_mut(n as usize) {
                    Some(s) if !*s => *s = true,
                    _ => return Err(format!("layer {l}: neuron {n} is out of range or comes twice")),
                }
            }
            if order.len() != ff {
                return Err(format!("layer {l} orders {} neurons; the FFN has {ff}", order.len()));
            }
        }
        Ok(())
    }
}

/// Assigns `rows` (`dim` values each) to `k` clusters of equal size and returns the rows
/// in cluster order. Lloyd's iterations, each assignment under the size cap: every
/// (row, centre) pair is taken in order of distance, and a row goes to the nearest
/// centre that still has room. Centres start k-means++ style from `rng`.
pub fn balanced_kmeans(
    rows: &[f32],
    dim: usize,
    k: usize,
    iterations: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<u32> {
    let n = rows.len() / dim;
    assert!(k > 0 && n.is_multiple_of(k), "{n} rows do not split into {k} equal clusters");
    let row = |i: usize| &rows[i * dim..(i + 1) * dim];
    let distance = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>();
    // k-means++: each next centre drawn with probability ∝ squared distance to the nearest.
    let mut centres: Vec<f32> = row((rng.next_u64() % n as u64) as usize).to_vec();
    let mut nearest: Vec<f32> = (0..n).map(|i| distance(row(i), &centres[..dim])).collect();
    while centres.len() < k * dim {
        let total: f64 = nearest.iter().map(|&d| d as f64).sum();
        let mut target = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let pick = nearest
            .iter()
            .position(|&d| {
                target -= d as f64;
                target < 0.0
            })
            .unwrap_or(n - 1);
        let c = row(pick).to_vec();
        nearest.iter_mut().enumerate().for_each(|(i, d)| *d = d.min(distance(row(i), &c)));
        centres.extend(c);
    }
    let size = n / k;
    let mut cluster = vec![0u32; n];
    for _ in 0..iterations.max(1) {
        let mut pairs: Vec<(f32, u32, u32)> = (0..n)
            .flat_map(|i| (0..k).map(move |c| (i, c)))
            .map(|(i, c)| (distance(row(i), &centres[c * dim..(c + 1) * dim]), i as u32, c as u32))
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let (mut room, mut placed) = (vec![size; k], vec![false; n]);
        for (_, i, c) in pairs {
            if !placed[i as usize] && room[c as usize] > 0 {
                placed[i as usize] = true;
                room[c as usize] -= 1;
                cluster[i as usize] = c;
            }
        }
        centres.iter_mut().for_each(|v| *v = 0.0);
        for (i, &c) in cluster.iter().enumerate() {
            let centre = &mut centres[c as usize * dim..(c as usize + 1) * dim];
            centre.iter_mut().zip(row(i)).for_each(|(m, v)| *m += v / size as f32);
        }
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| (cluster[i as usize], i));
    order
}

impl Matrix {
    /// The rows in `order` (row `k` of the result is row `order[k]`): bytes moved, exact.
    pub fn take_rows(&self, order: &[u32]) -> Matrix {
        assert_eq!(self.layout, Layout::Rows, "rows are taken from a matrix stored row after row");
        let n = self.bytes.len() / self.rows;
        let bytes =
            order.iter().flat_map(|&r| &self.bytes[r as usize * n..(r as usize + 1) * n]).copied().collect();
        Matrix { rows: order.len(), bytes, ..self.clone() }
    }

    /// The columns in `order`, stored as `dtype` (a quantised type's blocks run along
    /// the columns, so they are dequantised, permuted and stored again; the same order
    /// in the same type keeps the bytes), in [`Layout::Blocks`]: an expert's block of
    /// every row is one run, what the sparse FFN reads.
    pub fn take_columns(&self, order: &[u32], dtype: DType) -> Matrix {
        if dtype == self.dtype && order.iter().enumerate().all(|(k, &c)| k as u32 == c) {
            return self.clone().with_layout(Layout::Blocks);
        }
        let (mut row, mut taken) = (vec![0.0f32; self.cols], vec![0.0f32; order.len()]);
        let mut bytes = Vec::new();
        for r in 0..self.rows {
            self.row(r, &mut row);
            taken.iter_mut().zip(order).for_each(|(t, &c)| *t = row[c as usize]);
            bytes.extend(quantize(dtype, &taken));
        }
        Matrix { dtype, rows: self.rows, cols: order.len(), layout: Layout::Rows, bytes }
            .with_layout(Layout::Blocks)
    }
}

impl Model {
    /// This model with each layer's FFN neurons in `grouping`'s order and the down
    /// projection stored as `down` (its columns move, so they are re-stored; F32 keeps
    /// the GGUF's values exactly). Panics if the grouping does not fit (see
    /// [`Grouping::check`]).
    pub fn grouped(&self, grouping: &Grouping, down: DType) -> Model {
        if let Err(why) = grouping.check(self) {
            panic!("{why}");
        }
        let mut model = self.clone();
        for (layer, order) in model.layers.iter_mut().zip(&grouping.order) {
            layer.gate = layer.gate.take_rows(order);
            layer.up = layer.up.take_rows(order);
            layer.down = layer.down.take_columns(order, down);
        }
        model
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_kmeans_makes_equal_clusters_of_near_rows() {
        // Four tight blobs of 8 points each in 3-d, shuffled: four clusters of 8 must be
        // exactly the blobs.
        let centres = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]];
        let mut rows = Vec::new();
        for i in 0..32 {
            let c = centres[(i * 7) % 4];
            rows.extend(c.iter().map(|v| v + 0.01 * ((i * 13 % 5) as f32 - 2.0)));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let order = balanced_kmeans(&rows, 3, 4, 5, &mut rng);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..32).collect::<Vec<u32>>(), "a permutation");
        for cluster in order.chunks(8) {
            let blob = (cluster[0] as usize * 7) % 4;
            assert!(cluster.iter().all(|&i| (i as usize * 7) % 4 == blob), "{cluster:?} mixes blobs");
        }
        // The same seed, the same order.
        assert_eq!(balanced_kmeans(&rows, 3, 4, 5, &mut ChaCha8Rng::seed_from_u64(3)), order);
    }

    #[test]
    fn columns_and_rows_move_with_their_values() {
        let values: Vec<f32> = (0..2 * 64).map(|i| i as f32 * 0.25 - 3.0).collect();
        let m = Matrix {
            dtype: DType::F32,
            rows: 2,
            cols: 64,
            layout: Layout::Rows,
            bytes: quantize(DType::F32, &values),
        };
        let order: Vec<u32> = (0..64).rev().collect();
        let t = m.take_columns(&order, DType::F32);
        let mut row = vec![0.0; 64];
        t.row(1, &mut row);
        assert_eq!(row[0], values[64 + 63]);
        assert_eq!(row[63], values[64]);
        let swapped = m.take_rows(&[1, 0]);
        swapped.row(0, &mut row);
        assert_eq!(row[5], values[64 + 5]);
    }
}
