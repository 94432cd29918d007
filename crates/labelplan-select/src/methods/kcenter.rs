//! k-center greedy (farthest-first traversal): each pick is the row least similar to all
//! picks so far (and to the already-labeled rows). O(N) memory: one best-similarity
//! vector. The covering radius never grows along the order.

use labelplan_core::backend::Backend;
use rand::Rng;

use crate::context::Context;
use crate::error::Result;
use crate::rng::stream;

/// The first `want` rows of the farthest-first order, and the covering radius (cosine
/// distance of the farthest row) after each pick.
pub async fn order<B: Backend>(ctx: &mut Context<'_, B>, want: usize) -> Result<(Vec<u32>, Vec<f32>)> {
    let n = ctx.n;
    let mut best = ctx.backend.upload_vector(&vec![f32::NEG_INFINITY; n]).await?;
    let mut next = None;
    for l in ctx.labeled_rows() {
        next = ctx.backend.raise_best(&ctx.points, &mut best, l, true).await?;
    }
    let eligible: Vec<u32> = (0..n as u32).filter(|&i| !ctx.labeled[i as usize]).collect();
    let mut pick = match next {
        Some((row, _)) => row,
        None if eligible.is_empty() => return Ok((Vec::new(), Vec::new())),
        None => eligible[stream(ctx.settings.seed, "k-center start").random_range(0..eligible.len())],
    };
    let want = want.min(eligible.len());
    let (mut order, mut radius) = (Vec::with_capacity(want), Vec::with_capacity(want));
    while order.len() < want {
        if order.len() % 256 == 0 {
            ctx.tick("k-center", order.len() as u64, want as u64).await?;
        }
        order.push(pick);
        match ctx.backend.raise_best(&ctx.points, &mut best, pick, true).await? {
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
