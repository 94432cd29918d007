//! [`GpuBackend`]: the engine's [`Backend`] on a [`GpuContext`].

use labelplan_core::backend::{
    normalize_in_place, Backend, BackendError, Head, HeadStep, ItemStats, Knn, Nearest, Record, Storage,
};
use labelplan_core::layout;

use crate::kernels::{self, gather, head, nearest_among, normalize, raise_best, segment_sums, similarity};
use crate::matrix::{GpuMatrix, GpuVector};
use crate::{GpuContext, GpuError};

/// The selection engine's primitives on the GPU.
#[derive(Debug, Clone)]
pub struct GpuBackend {
    ctx: GpuContext,
}

impl GpuBackend {
    /// A backend on `ctx` (shares its device and pipelines).
    pub fn new(ctx: GpuContext) -> Self {
        GpuBackend { ctx }
    }

    /// The context underneath.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The rows normalised on the host (the normalising kernel writes f32), then
    /// uploaded as f16: the GPU never holds the f32 pool.
    fn upload_half(&self, mut values: Vec<f32>, rows: usize, dim: usize) -> Result<GpuMatrix, BackendError> {
        normalize_in_place(&mut values, dim);
        GpuMatrix::upload_as(&self.ctx, &values, rows, dim, Storage::F16).map_err(|e| self.err(e))
    }

    fn err(&self, e: GpuError) -> BackendError {
        BackendError::Device { backend: self.name(), message: e.to_string() }
    }
}

impl Backend for GpuBackend {
    type Matrix = GpuMatrix;
    type Vector = GpuVector;
    type Training = head::GpuTraining;

    fn name(&self) -> String {
        format!("GPU: {}", self.ctx.adapter_description())
    }

    async fn upload(&self, values: &[f32], rows: usize, dim: usize) -> Result<GpuMatrix, BackendError> {
        GpuMatrix::upload(&self.ctx, values, rows, dim).map_err(|e| self.err(e))
    }

    async fn upload_normalized(
        &self,
        values: &[f32],
        rows: usize,
        dim: usize,
        storage: Storage,
    ) -> Result<GpuMatrix, BackendError> {
        match storage {
            Storage::F32 => self.normalize_rows(&self.upload(values, rows, dim).await?).await,
            Storage::F16 => self.upload_half(values.to_vec(), rows, dim),
        }
    }

    async fn upload_normalized_owned(
        &self,
        values: Vec<f32>,
        rows: usize,
        dim: usize,
        storage: Storage,
    ) -> Result<GpuMatrix, BackendError> {
        match storage {
            Storage::F32 => self.upload_normalized(&values, rows, dim, storage).await,
            Storage::F16 => self.upload_half(values, rows, dim),
        }
    }

    fn shape(&self, m: &GpuMatrix) -> (usize, usize) {
        (m.rows, m.dim)
    }

    async fn read_rows(&self, m: &GpuMatrix, rows: &[u32]) -> Result<Vec<f32>, BackendError> {
        m.read_rows(&self.ctx, rows).await.map_err(|e| self.err(e))
    }

    async fn normalize_rows(&self, m: &GpuMatrix) -> Result<GpuMatrix, BackendError> {
        normalize::normalize_rows(&self.ctx, m).await.map_err(|e| self.err(e))
    }

    async fn dot(&self, a: &GpuMatrix, b: &GpuMatrix) -> Result<Vec<f32>, BackendError> {
        similarity::dot(&self.ctx, a, b).await.map_err(|e| self.err(e))
    }

    async fn nearest(&self, points: &GpuMatrix, refs: &GpuMatrix) -> Result<Nearest, BackendError> {
        let (index, sim) = similarity::nearest(&self.ctx, points, refs).await.map_err(|e| self.err(e))?;
        Ok(Nearest { index, sim })
    }

    async fn gather(&self, m: &GpuMatrix, rows: &[u32]) -> Result<GpuMatrix, BackendError> {
        gather::gather(&self.ctx, m, rows).await.map_err(|e| self.err(e))
    }

    async fn top_k_between(
        &self,
        queries: &GpuMatrix,
        refs: &GpuMatrix,
        k: usize,
        query_group: &[u32],
        ref_group: &[u32],
    ) -> Result<Knn, BackendError> {
        let (index, sim) = similarity::top_k(&self.ctx, queries, refs, k, query_group, ref_group)
            .await
            .map_err(|e| self.err(e))?;
        Ok(Knn { k, index, sim })
    }

    async fn nearest_among(
        &self,
        points: &GpuMatrix,
        refs: &GpuMatrix,
        candidates: &[u32],
        per_row: usize,
    ) -> Result<Nearest, BackendError> {
        let (index, sim) = nearest_among::nearest_among(&self.ctx, points, refs, candidates, per_row)
            .await
            .map_err(|e| self.err(e))?;
        Ok(Nearest { index, sim })
    }

    async fn segment_sums(
        &self,
        points: &GpuMatrix,
        segment: &[u32],
        segments: usize,
    ) -> Result<Vec<f32>, BackendError> {
        segment_sums::segment_sums(&self.ctx, points, segment, segments).await.map_err(|e| self.err(e))
    }

    async fn weighted_sums(
        &self,
        points: &GpuMatrix,
        weights: &[f32],
        columns: usize,
    ) -> Result<Vec<f32>, BackendError> {
        segment_sums::weighted_sums(&self.ctx, points, weights, columns).await.map_err(|e| self.err(e))
    }

    async fn upload_vector(&self, values: &[f32]) -> Result<GpuVector, BackendError> {
        let contents: &[u8] = if values.is_empty() { &[0; 4] } else { bytemuck::cast_slice(values) };
        Ok(GpuVector { buffer: self.ctx.storage("vector", contents), len: values.len() })
    }

    async fn read_vector(&self, v: &GpuVector) -> Result<Vec<f32>, BackendError> {
        self.ctx.read_f32(&v.buffer, v.len as u64 * 4).await.map_err(|e| self.err(e))
    }

    async fn raise_best_in(
        &self,
        points: &GpuMatrix,
        best: &mut GpuVector,
        pick: u32,
        retire: bool,
        ranges: &[std::ops::Range<u32>],
    ) -> Result<Vec<Option<(u32, f32)>>, BackendError> {
        raise_best::raise_best_in(&self.ctx, points, best, pick, retire, ranges)
            .await
            .map_err(|e| self.err(e))
    }

    async fn start_training(
        &self,
        points: &GpuMatrix,
        labels: &[u32],
        classes: usize,
    ) -> Result<head::GpuTraining, BackendError> {
        head::start(&self.ctx, points, labels, classes).await.map_err(|e| self.err(e))
    }

    async fn train_epoch(
        &self,
        training: &mut head::GpuTraining,
        points: &GpuMatrix,
        head: &mut Head,
        order: &[u32],
        batch: usize,
        step: HeadStep,
        record: Option<usize>,
    ) -> Result<(), BackendError> {
        head::train_epoch(&self.ctx, training, points, head, order, batch, step, record)
            .await
            .map_err(|e| self.err(e))
    }

    async fn record_predictions(
        &self,
        training: &mut head::GpuTraining,
        points: &GpuMatrix,
        head: &Head,
        rows: &[u32],
        at: Record,
    ) -> Result<(), BackendError> {
        head::record_predictions(&self.ctx, training, points, head, rows, at).await.map_err(|e| self.err(e))
    }

    async fn training_stats(&self, training: &head::GpuTraining) -> Result<ItemStats, BackendError> {
        head::stats(&self.ctx, training).await.map_err(|e| self.err(e))
    }

    async fn layout_epochs(
        &self,
        graph: &layout::Graph,
        positions: &[f32],
        epochs: &layout::Epochs,
    ) -> Result<Vec<f32>, BackendError> {
        kernels::layout::layout_epochs(&self.ctx, graph, positions, epochs).await.map_err(|e| self.err(e))
    }
}
