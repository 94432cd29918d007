//! The default method. Facility-location seeds for the budget (a similarity scaled to each
//! row's neighbourhood at the budget's own scale, so a spread-out region gets picks for
//! its rows, not for its volume), then, for budgets of up to 15% of the pool, two
//! spherical k-means steps with the seeds (and the already-labeled rows, held fixed) as
//! centroids, then each moved centroid's most similar member. On pools of up to 4,096
//! rows the seeds and the steps see the rows with part of the pool's mean row removed,
//! the more the fewer the picks. Larger budgets on a pool whose rows' neighbourhoods are
//! all about as wide seed on the raw cosine instead ([`seeding`]). Coverage first, then
//! one prototype per region; measured
//! against every method on the quality suite in docs/quality.md, the choices in
//! docs/selection.md.
//!
//! On large pools the k-means steps look only where a row's centroid can be: the first
//! assignment goes to the nearest seed ([`nearest_in`]), later ones to the best of the
//! centroids that the row and its kNN neighbours were assigned to, so a step costs
//! about `n · 21` dot products instead of `n · m`.

use labelplan_core::backend::{Backend, Knn};

use crate::context::{Context, GRAPH_K};
use crate::error::Result;
use crate::kmeans::{lloyd, normalize};
use crate::methods::facility::{graph_scales, Similarity, DENSE_MAX};
use crate::nearest::nearest_in;

const NONE: u32 = u32::MAX;

/// k-means steps after seeding.
pub const REFINE_STEPS: usize = 2;

/// Budgets above this share of the pool take the seeds as they are. A pick then stands
/// for under seven rows, and a centroid of so few is noise around its seed: without the
/// steps the suite's 20–30% cells are as good (docs/selection.md) and the largest
/// budgets, the steps' costliest, skip them.
pub const REFINE_MAX_SHARE: f64 = 0.15;

/// How many rows a seed's kernel spans, in multiples of the rows each pick stands for.
pub const KERNEL_SPAN: usize = 8;

/// Width of the seeding kernel in units of a row's scale σ. At 1 the default fell 1.4
/// points behind facility location at 5% of digits; at 2 no cell of the quality suite is
/// a point behind, for a mean margin 0.04 lower (docs/selection.md).
pub const KERNEL_WIDTH: f32 = 2.0;

/// Similarity of the seeding facility location for `m` picks of `n` rows: a row's scale
/// σ is its distance to its `k`-th neighbour, `k = KERNEL_SPAN · n / m` (at most
/// `n / KERNEL_SPAN`, at least [`GRAPH_K`]). A pick then stands for its share of the rows
/// at the budget's own scale: few picks seed the centres of whole regions, many picks
/// their detail (with σ at the 20th neighbour for every budget, 1–2% budgets lost 1–3
/// points; docs/selection.md). Beyond [`DENSE_MAX`] rows σ comes from the kNN graph, so
/// `k` stops at its [`GRAPH_K`] and one seeding order serves every budget.
pub fn seed_similarity(n: usize, m: usize) -> Similarity {
    let span = (KERNEL_SPAN * n / m.max(1)).min(n / KERNEL_SPAN);
    let k = if n > DENSE_MAX { GRAPH_K } else { span.max(GRAPH_K) };
    // Centred in proportion to the share of the pool the kernel spans: all of the mean at
    // the widest kernel (n / KERNEL_SPAN rows, up to 64 picks), 64/m of it beyond. Across
    // far-apart rows the pool's shared direction dominates the raw cosine (few picks lost
    // up to 4 points to it on text); between near neighbours it does not, and centring
    // cost many picks 0.5–2 points.
    let centre = if n > DENSE_MAX { 0.0 } else { (k * KERNEL_SPAN) as f32 / n.max(1) as f32 };
    Similarity::Local { k, tau: KERNEL_WIDTH, centre: centre.min(1.0) }
}

/// Pools whose rows' scales spread less than this read as even: the 95th percentile of σ
/// (the distance to the [`GRAPH_K`]-th neighbour) over its 5th. The suite's text sets read
/// 1.34–1.79, its image sets 2.97–5.57 (docs/selection.md).
pub const EVEN_SPREAD: f32 = 2.3;

/// How far the rows' scales spread: the 95th percentile of each row's distance to its
/// [`GRAPH_K`]-th neighbour over the 5th.
pub fn scale_spread(knn: &Knn, n: usize) -> f32 {
    let mut scales = graph_scales(knn, n, GRAPH_K);
    let mut at = |share: usize| *scales.select_nth_unstable_by(n * share / 100, f32::total_cmp).1;
    let (low, high) = (at(5), at(95));
    high / low
}

/// Similarity of the seeding for `m` picks: [`seed_similarity`], except that budgets
/// above [`REFINE_MAX_SHARE`] of a pool with even scales ([`EVEN_SPREAD`]) take the raw
/// cosine, `max(cos, 0)`. Where every row's neighbourhood is about as wide, the local
/// kernel spreads the picks evenly over the rows; the raw cosine gives the sparser rows
/// more weight, which at 30% of spam and sotu is worth 0.4 and 0.9 points (at 20%, +0.2
/// and −0.3). Where scales vary, that weight goes to the outlying rows (at 20–30% of
/// fashion the raw cosine trails the local kernel by 2.0–2.9 points), so those pools keep
/// the local kernel.
pub async fn seeding<B: Backend>(ctx: &mut Context<'_, B>, m: usize) -> Result<Similarity> {
    let local = seed_similarity(ctx.n, m);
    if m as f64 <= REFINE_MAX_SHARE * ctx.n as f64 {
        return Ok(local);
    }
    let even = scale_spread(&*ctx.knn().await?, ctx.n) < EVEN_SPREAD;
    Ok(if even { Similarity::Cosine(1) } else { local })
}

/// The picks for budget `m` from the seeding order `seeds` (the facility-location order
/// with [`seeding`]'s similarity), followed by the rest of that order as fallback
/// candidates.
pub async fn candidates<B: Backend>(ctx: &mut Context<'_, B>, m: usize, seeds: &[u32]) -> Result<Vec<u32>> {
    if m as f64 > REFINE_MAX_SHARE * ctx.n as f64 {
        return Ok(seeds.to_vec());
    }
    let labeled = ctx.labeled_rows();
    let seeds_m = &seeds[..m.min(seeds.len())];
    let centers: Vec<u32> = labeled.iter().chain(seeds_m).copied().collect();
    let fixed: Vec<bool> = (0..centers.len()).map(|c| c < labeled.len()).collect();
    let (assign, sim) = if ctx.approximate() {
        local_lloyd(ctx, &centers, &fixed, REFINE_STEPS).await?
    } else {
        // The steps see the rows as the seeds did: with the same share of the mean removed.
        let centred = match seed_similarity(ctx.n, m) {
            Similarity::Local { centre, .. } if centre > 0.0 => Some(ctx.centred_points(centre).await?),
            _ => None,
        };
        let points = centred.as_ref().unwrap_or(&ctx.points);
        let start = ctx.backend.read_rows(points, &centers).await?;
        let km = lloyd(ctx.backend, points, start, &fixed, REFINE_STEPS).await?;
        (km.assign, km.sim)
    };
    // Most similar eligible member of each moved centroid.
    let mut member: Vec<Option<(u32, f32)>> = vec![None; centers.len()];
    for (i, (&c, &s)) in assign.iter().zip(&sim).enumerate() {
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

/// `steps` Lloyd steps from the rows `centers` (those marked `fixed` do not move; an
/// emptied centroid falls back to its row), each row choosing among the centroids of
/// itself and its kNN neighbours. Centroids are made and searched
/// [`Scale::centroid_block`](crate::Scale) at a time. Returns each row's centroid and
/// its similarity to it. The rows are the raw ones: the centred pools (up to
/// [`DENSE_MAX`] rows) take the exact steps unless a run forces the index (the quality
/// harness's row "through the index").
async fn local_lloyd<B: Backend>(
    ctx: &mut Context<'_, B>,
    centers: &[u32],
    fixed: &[bool],
    steps: usize,
) -> Result<(Vec<u32>, Vec<f32>)> {
    let (_, dim) = ctx.backend.shape(&ctx.points);
    let k = centers.len();
    let first = nearest_in(ctx, None, centers).await?;
    let (mut assign, mut sim) = (first.index, first.sim);
    let knn = ctx.knn().await?;
    let width = knn.k + 1;
    let mut candidates = vec![NONE; ctx.n * width];
    let step = ctx.scale.centroid_block.max(1);
    let mut in_block = if k > step { vec![NONE; ctx.n * width] } else { Vec::new() };
    for _ in 0..steps {
        for (i, slots) in candidates.chunks_mut(width).enumerate() {
            slots.fill(NONE);
            let mut filled = 0;
            let around = std::iter::once(i as u32).chain(knn.of(i).map(|p| p.0));
            for c in around.filter(|&j| j != NONE).map(|j| assign[j as usize]) {
                if c != NONE && !slots[..filled].contains(&c) {
                    slots[filled] = c;
                    filled += 1;
                }
            }
        }
        let mut best = (vec![NONE; ctx.n], vec![f32::NEG_INFINITY; ctx.n]);
        for start in (0..k).step_by(step) {
            let block = start as u32..(start + step).min(k) as u32;
            let local = |c: u32| if block.contains(&c) { c - block.start } else { NONE };
            let members: Vec<u32> = assign.iter().map(|&c| local(c)).collect();
            let size = block.len();
            let mut centroids = ctx.backend.segment_sums(&ctx.points, &members, size).await?;
            let keep: Vec<usize> = (0..size)
                .filter(|&j| fixed[start + j] || centroids[j * dim..(j + 1) * dim].iter().all(|&v| v == 0.0))
                .collect();
            let rows: Vec<u32> = keep.iter().map(|&j| centers[start + j]).collect();
            for (&j, row) in keep.iter().zip(ctx.backend.read_rows(&ctx.points, &rows).await?.chunks(dim)) {
                centroids[j * dim..(j + 1) * dim].copy_from_slice(row);
            }
            normalize(&mut centroids, dim);
            let c = ctx.backend.upload(&centroids, size, dim).await?;
            drop(centroids);
            let slots = if in_block.is_empty() {
                &candidates
            } else {
                in_block.iter_mut().zip(&candidates).for_each(|(b, &c)| *b = local(c));
                &in_block
            };
            let near = ctx.backend.nearest_among(&ctx.points, &c, slots, width).await?;
            // Blocks come in index order, so a tie keeps the lowest centroid.
            for (i, (&j, &s)) in near.index.iter().zip(&near.sim).enumerate() {
                if j != NONE && (best.0[i] == NONE || s > best.1[i]) {
                    (best.0[i], best.1[i]) = (block.start + j, s);
                }
            }
        }
        (assign, sim) = best;
    }
    Ok((assign, sim))
}
