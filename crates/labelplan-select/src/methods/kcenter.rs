//! k-center greedy (farthest-first traversal): each pick is the row least similar to all
//! picks so far (and to the already-labeled rows). O(N) memory: one best-similarity
//! vector. The covering radius never grows along the order.
//!
//! A pick can only raise the best similarity of rows near it. The rows are kept in
//! the index's list order, and a pick rescans only the lists it can reach: a list whose
//! members all lie within angle `r` of its centroid, at angle `θ` from the pick, holds no
//! row more similar to the pick than `cos(θ − r)`; when that is below every member's
//! best, the list is skipped. The bound is exact (with a safety margin for float
//! rounding), so the order equals a full scan's, pick for pick.

use labelplan_core::backend::Backend;
use labelplan_core::progress::Unit;
use rand::Rng;

use crate::context::Context;
use crate::error::Result;
use crate::rng::stream;

/// Angle (radians) added to every bound against float rounding in the cosines it is
/// computed from (f32 dot products of unit rows are good to ~1e-6; near cos = 1 an angle
/// is much less precise than its cosine, so the margin is generous).
const ANGLE_MARGIN: f32 = 0.02;

/// The first `want` rows of the farthest-first order, and the covering radius (cosine
/// distance of the farthest row) after each pick.
pub async fn order<B: Backend>(ctx: &mut Context<'_, B>, want: usize) -> Result<(Vec<u32>, Vec<f32>)> {
    let n = ctx.n;
    let ivf = ctx.ivf().await?;
    let dim = ivf.dim;
    // Rows in list order (ascending within a list); list `l` holds positions ranges[l].
    let row_at: Vec<u32> = ivf.members.concat();
    let mut position = vec![0u32; n];
    for (p, &r) in row_at.iter().enumerate() {
        position[r as usize] = p as u32;
    }
    let mut ranges = Vec::with_capacity(ivf.lists());
    let mut start = 0u32;
    for m in &ivf.members {
        ranges.push(start..start + m.len() as u32);
        start += m.len() as u32;
    }
    let radius_of: Vec<f32> = ivf.min_cos.iter().map(|&c| c.clamp(-1.0, 1.0).acos() + ANGLE_MARGIN).collect();
    let backend = ctx.backend;
    let sorted = backend.gather(&ctx.points, &row_at).await?;
    let centroids = backend.upload(&ivf.centroids, ivf.lists(), dim).await?;
    let mut best = backend.upload_vector(&vec![f32::NEG_INFINITY; n]).await?;
    // Each list's least-covered live member: (its row, its best similarity).
    let mut lowest: Vec<Option<(u32, f32)>> = vec![None; ivf.lists()];
    let every: Vec<usize> = (0..ivf.lists()).collect();
    let mut raise = async |pick: u32, lists: &[usize], lowest: &mut Vec<Option<(u32, f32)>>| -> Result<()> {
        let spans: Vec<_> = lists.iter().map(|&l| ranges[l].clone()).collect();
        let found = backend.raise_best_in(&sorted, &mut best, position[pick as usize], true, &spans).await?;
        for (&l, f) in lists.iter().zip(found) {
            lowest[l] = f.map(|(p, v)| (row_at[p as usize], v));
        }
        Ok(())
    };
    let labeled = ctx.labeled_rows();
    for &l in &labeled {
        raise(l, &every, &mut lowest).await?;
    }
    let eligible: Vec<u32> = (0..n as u32).filter(|&i| !ctx.labeled[i as usize]).collect();
    let farthest = |lowest: &[Option<(u32, f32)>]| {
        lowest.iter().flatten().copied().fold(None, |acc: Option<(u32, f32)>, (r, v)| match acc {
            Some((ar, av)) if av < v || (av == v && ar < r) => acc,
            _ => Some((r, v)),
        })
    };
    let mut pick = match farthest(&lowest) {
        Some((row, _)) => row,
        None if eligible.is_empty() => return Ok((Vec::new(), Vec::new())),
        None => eligible[stream(ctx.settings.seed, "k-center start").random_range(0..eligible.len())],
    };
    let want = want.min(eligible.len());
    let (mut order, mut radius) = (Vec::with_capacity(want), Vec::with_capacity(want));
    let mut first = true;
    while order.len() < want {
        if order.len() % 256 == 0 {
            ctx.tick("k-center", Unit::Picks, order.len() as u64, want as u64).await?;
        }
        order.push(pick);
        let lists = if first {
            every.clone()
        } else {
            let cos = backend.dot(&backend.gather(&ctx.points, &[pick]).await?, &centroids).await?;
            // A list whose members are all retired has nothing left to raise.
            (0..ivf.lists())
                .filter(|&l| {
                    lowest[l].is_some_and(|(_, floor)| {
                        let gap = cos[l].clamp(-1.0, 1.0).acos() - radius_of[l] - ANGLE_MARGIN;
                        gap <= 0.0 || gap.cos() >= floor
                    })
                })
                .collect()
        };
        first = false;
        raise(pick, &lists, &mut lowest).await?;
        match farthest(&lowest) {
            Some((row, sim)) => {
                radius.push(1.0 - sim);
                pick = row;
            }
            None => {
                radius.push(0.0);
                break;
            }
        }
    }
    Ok((order, radius))
}
