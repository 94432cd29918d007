//! The 2-D map of the pool. PCA alone ([`pca_map`]) squeezes real embeddings into one
//! blob, so the map is a neighbour-preserving layout: UMAP's objective over the plan's
//! kNN graph ([`membership_graph`]), started from the PCA map and run on the backend
//! ([`labelplan_core::layout`]). [`trustworthiness`] and [`neighbour_recall`] measure
//! how well a map keeps the embeddings' neighbourhoods.

mod graph;
mod measure;
mod pca;

use labelplan_core::backend::Backend;
use labelplan_core::layout::{self, Epochs, Graph};
use labelplan_core::progress::Unit;

pub use graph::membership_graph;
pub use measure::{neighbour_recall, trustworthiness};
pub use pca::{pca_map, MAP_ITERATIONS};

use crate::context::Context;
use crate::error::Result;

/// A plan's map: where each row sits, and the order the map's budget slider grows the
/// highlighted picks in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolMap {
    /// `rows × 2`, row-major.
    pub positions: Vec<f32>,
    /// The plan's `ranked` list (the requested budgets' picks), then what each budget
    /// of the curve adds, smallest first: each row where it first appears.
    pub order: Vec<u32>,
}

/// Sampled rows that push each row away per epoch (UMAP's negative sample rate).
pub const NEGATIVES: u32 = 5;

/// Half the width of the starting map: the PCA map is scaled so its farthest row sits
/// this far out on an axis (UMAP starts within ±10 too; the forces have that scale).
pub const START_SPREAD: f32 = 10.0;

/// Epochs run per backend call, between progress reports.
const EPOCHS_PER_CALL: u32 = 25;

/// Epochs of the layout: UMAP's 500 for small pools, 200 beyond 10,000 rows (each epoch
/// then moves many rows already).
pub fn epochs_for(rows: usize) -> u32 {
    if rows <= 10_000 {
        500
    } else {
        200
    }
}

/// The map of the run's pool, `rows × 2` row-major: the neighbour layout over the kNN
/// graph (computed here if the method did not need it), from the PCA map.
pub async fn neighbour_map<B: Backend>(ctx: &mut Context<'_, B>) -> Result<Vec<f32>> {
    let knn = ctx.knn().await?;
    let total = epochs_for(ctx.n);
    ctx.tick("map", Unit::Epochs, 0, total as u64).await?;
    let graph = membership_graph(&knn, ctx.n);
    let mut positions = pca_map(ctx.backend, &ctx.points, ctx.settings.seed).await?;
    spread_to(&mut positions, START_SPREAD);
    let seed = ctx.settings.seed as u32 ^ (ctx.settings.seed >> 32) as u32;
    let mut first = 0;
    while first < total {
        let epochs =
            Epochs { first, count: EPOCHS_PER_CALL.min(total - first), total, negatives: NEGATIVES, seed };
        positions = run_epochs(ctx.backend, &graph, &positions, &epochs).await;
        first += epochs.count;
        ctx.tick("map", Unit::Epochs, first as u64, total as u64).await?;
    }
    Ok(positions)
}

/// The epochs on the backend; if it cannot run them (a graph over a GPU's binding
/// size), on the host, by the reference the backends follow: the same computation.
async fn run_epochs<B: Backend>(backend: &B, graph: &Graph, positions: &[f32], epochs: &Epochs) -> Vec<f32> {
    match backend.layout_epochs(graph, positions, epochs).await {
        Ok(p) => p,
        Err(_) => layout::run(graph, positions, epochs),
    }
}

/// Scales `positions` so the largest absolute coordinate is `spread`.
fn spread_to(positions: &mut [f32], spread: f32) {
    let largest = positions.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    if largest > 0.0 {
        positions.iter_mut().for_each(|v| *v *= spread / largest);
    }
}
