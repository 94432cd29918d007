//! The default method. Facility-location seeds (similarity cos², which favours close
//! neighbours) for the budget, then two spherical k-means steps with the seeds (and the
//! already-labeled rows, held fixed) as centroids, then each moved centroid's most
//! similar member. Coverage first, then one prototype per region: this measured best on
//! the digits fixture at every budget (docs/quality.md).
//!
//! On large pools the k-means steps look only where a row's centroid can be: the first
//! assignment goes to the nearest seed ([`nearest_in`]), later ones to the best of the
//! centroids that the row and its kNN neighbours were assigned to, so a step costs
//! about `n · 21` dot products instead of `n · m`.

use labelplan_core::backend::Backend;

use crate::context::Context;
use crate::error::Result;
use crate::kmeans::{lloyd, normalize, KMeans};
use crate::nearest::nearest_in;

/// k-means steps after seeding.
pub const REFINE_STEPS: usize = 2;

/// Similarity exponent of the seeding facility location.
pub const SEED_POWER: i32 = 2;

/// The picks for budget `m` from the seeding order `seeds` (the facility-location order
/// with [`SEED_POWER`]), followed by the rest of that order as fallback candidates.
pub async fn candidates<B: Backend>(ctx: &mut Context<'_, B>, m: usize, seeds: &[u32]) -> Result<Vec<u32>> {
    let labeled = ctx.labeled_rows();
    let seeds_m = &seeds[..m.min(seeds.len())];
    let centers: Vec<u32> = labeled.iter().chain(seeds_m).copied().collect();
    let fixed: Vec<bool> = (0..centers.len()).map(|c| c < labeled.len()).collect();
    let km = if ctx.approximate() {
        local_lloyd(ctx, &centers, &fixed, REFINE_STEPS).await?
    } else {
        let start = ctx.backend.read_rows(&ctx.points, &centers).await?;
        lloyd(ctx.backend, &ctx.points, start, &fixed, REFINE_STEPS).await?
    };
    // Most similar eligible member of each moved centroid.
    let mut member: Vec<Option<(u32, f32)>> = vec![None; centers.len()];
    for (i, (&c, &s)) in km.assign.iter().zip(&km.sim).enumerate() {
        let slot = &mut member[c as usize];
        if !ctx.labeled[i] && slot.is_none_or(|(_, best)| s > best) {
            *slot = Some((i as u32, s));
        }
    }
    let mut taken = vec![false; ctx.n];
    let mut out = Vec::with_capacity(seeds.len());
    for (c, &seed) in seeds_m.iter().enumerate() {
        let pick = member[labeled.len() + c].map_or(seed, |(row, _)| row);
        if !taken[pick as usize] {
            taken[pick as usize] = true;
            out.push(pick);
        }
    }
    out.extend(seeds.iter().copied().filter(|&s| !std::mem::replace(&mut taken[s as usize], true)));
    Ok(out)
}

/// `steps` Lloyd steps from the rows `centers` (those marked `fixed` do not move), each
/// row choosing among the centroids of itself and its kNN neighbours.
async fn local_lloyd<B: Backend>(
    ctx: &mut Context<'_, B>,
    centers: &[u32],
    fixed: &[bool],
    steps: usize,
) -> Result<KMeans> {
    let (_, dim) = ctx.backend.shape(&ctx.points);
    let k = centers.len();
    let first = nearest_in(ctx, None, centers).await?;
    let (mut assign, mut sim) = (first.index, first.sim);
    let mut centroids = ctx.backend.read_rows(&ctx.points, centers).await?;
    let knn = ctx.knn().await?;
    let width = knn.k + 1;
    let mut candidates = vec![u32::MAX; ctx.n * width];
    for _ in 0..steps {
        let sums = ctx.backend.segment_sums(&ctx.points, &assign, k).await?;
        for (j, sum) in sums.chunks(dim).enumerate() {
            if !fixed[j] && sum.iter().any(|&v| v != 0.0) {
                centroids[j * dim..(j + 1) * dim].copy_from_slice(sum);
            }
        }
        normalize(&mut centroids, dim);
        for (i, slots) in candidates.chunks_mut(width).enumerate() {
            slots.fill(u32::MAX);
            let mut filled = 0;
            let around = std::iter::once(i as u32).chain(knn.of(i).map(|p| p.0));
            for c in around.filter(|&j| j != u32::MAX).map(|j| assign[j as usize]) {
                if c != u32::MAX && !slots[..filled].contains(&c) {
                    slots[filled] = c;
                    filled += 1;
                }
            }
        }
        let c = ctx.backend.upload(&centroids, k, dim).await?;
        let near = ctx.backend.nearest_among(&ctx.points, &c, &candidates, width).await?;
        (assign, sim) = (near.index, near.sim);
    }
    Ok(KMeans { centroids, assign, sim })
}
