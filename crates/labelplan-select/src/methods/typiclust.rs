//! TypiClust (cold-start active learning): cluster into `budget` clusters (capped), then
//! repeatedly take the most typical unpicked row of the cluster with the fewest picks
//! (largest first). Typicality = 1 / mean cosine distance to the kNN.

use labelplan_core::backend::{Backend, Knn};
use labelplan_core::progress::Unit;

use crate::context::Context;
use crate::error::Result;
use crate::kmeans::{fit_pool, KMeans};

/// Most clusters made (the authors' code caps them too).
pub const MAX_CLUSTERS: usize = 500;

/// Typicality of every row from the kNN graph.
pub fn typicality(knn: &Knn, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let d: Vec<f32> = knn.of(i).filter(|p| p.0 != u32::MAX).map(|(_, s)| 1.0 - s).collect();
            let mean = d.iter().sum::<f32>() / d.len().max(1) as f32;
            1.0 / (mean + 1e-6)
        })
        .collect()
}

/// Clusters made for budget `m`.
pub fn clusters_for<B: Backend>(ctx: &Context<'_, B>, m: usize) -> usize {
    m.min(MAX_CLUSTERS).min(ctx.eligible()).max(1)
}

/// The k-means of budget `m`'s clusters ([`clusters_for`]): fitted on a sample of 40
/// rows per cluster (at least 10,000) when the pool is larger.
pub async fn cluster<B: Backend>(ctx: &mut Context<'_, B>, m: usize) -> Result<KMeans> {
    let k = clusters_for(ctx, m);
    ctx.tick("typiclust clusters", Unit::Steps, 0, 1).await?;
    fit_pool(ctx.backend, &ctx.points, k, ctx.settings.seed, 1, (40 * k).max(10_000)).await
}

/// The picks for budget `m` from its clusters `km`, in pick order.
pub fn candidates<B: Backend>(ctx: &Context<'_, B>, m: usize, km: &KMeans, typical: &[f32]) -> Vec<u32> {
    let eligible = ctx.eligible();
    let k = clusters_for(ctx, m);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
    let mut picks = vec![0usize; k];
    let mut size = vec![0usize; k];
    for (i, &c) in km.assign.iter().enumerate() {
        size[c as usize] += 1;
        if ctx.labeled[i] {
            picks[c as usize] += 1;
        } else {
            members[c as usize].push(i as u32);
        }
    }
    // Most typical last, so each cluster pops its best.
    for list in &mut members {
        list.sort_by(|&a, &b| typical[a as usize].total_cmp(&typical[b as usize]).then(b.cmp(&a)));
    }
    let mut out = Vec::with_capacity(m);
    while out.len() < m.min(eligible) {
        let Some(c) = (0..k)
            .filter(|&c| !members[c].is_empty())
            .min_by(|&a, &b| picks[a].cmp(&picks[b]).then(size[b].cmp(&size[a])).then(a.cmp(&b)))
        else {
            break;
        };
        out.push(members[c].pop().expect("non-empty"));
        picks[c] += 1;
    }
    out
}
