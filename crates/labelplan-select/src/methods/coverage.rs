//! The default method. Facility-location seeds (similarity cos², which favours close
//! neighbours) for the budget, then two spherical k-means steps with the seeds (and the
//! already-labeled rows, held fixed) as centroids, then each moved centroid's most
//! similar member. Coverage first, then one prototype per region: this measured best on
//! the digits fixture at every budget (docs/quality.md).

use labelplan_core::backend::Backend;

use crate::context::Context;
use crate::error::Result;
use crate::kmeans::lloyd;

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
    let start = ctx.backend.read_rows(&ctx.points, &centers).await?;
    let fixed: Vec<bool> = (0..centers.len()).map(|c| c < labeled.len()).collect();
    let km = lloyd(ctx.backend, &ctx.points, start, &fixed, REFINE_STEPS).await?;
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
