//! Facility location, `max Σ_i max_{j∈S} sim(i, j)`, by lazy greedy (within 1 − 1/e of
//! the optimum; the order is exactly the plain greedy order). Similarity is a
//! [`Similarity`] of the cosine: dense up to [`DENSE_MAX`] rows, beyond that only over
//! the kNN graph (sparse).

use labelplan_core::backend::Backend;
use labelplan_core::progress::Unit;

use crate::context::Context;
use crate::error::Result;
use crate::greedy::LazyMax;

/// Largest pool for a dense similarity matrix (DENSE_MAX² floats).
pub const DENSE_MAX: usize = 4096;

/// How much a candidate covers a row, from their cosine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Similarity {
    /// `max(cos, 0)^power`.
    Cosine(i32),
    /// `exp(−(1 − cos) / (tau·√(σ_i·σ_j)))`, σ a row's cosine distance to its `k`-th
    /// neighbour (self-tuning scaling): a spread-out region reads as close as a dense
    /// one, so a pick covers about as many rows wherever it lands and a spread-out class
    /// gets about its share of the picks (docs/selection.md).
    Local {
        /// The neighbour whose distance is a row's scale σ; beyond [`DENSE_MAX`] rows σ
        /// comes from the kNN graph, which stops at its own width.
        k: usize,
        /// Width of the kernel in units of σ.
        tau: f32,
        /// Share (0–1) of the pool's mean normalised row removed from every row before
        /// the cosine (dense pools only): a pool's shared direction makes its generic
        /// rows read as the most typical to a kernel that spans much of the pool.
        centre: f32,
    },
}

/// Each row's cosine distance to its `k`-th neighbour in the kNN graph (the farthest it
/// has, when fewer).
pub(crate) fn graph_scales(knn: &labelplan_core::backend::Knn, n: usize, k: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let far = knn.of(i).take(k).filter(|p| p.0 != u32::MAX).last().map_or(1.0, |p| 1.0 - p.1);
            far.max(1e-4)
        })
        .collect()
}

/// Each row's cosine distance to its `k`-th neighbour, from the full `n × n` cosines
/// (a row is its own 0th neighbour), for any `k` below `n`.
fn dense_scales(cos: &[f32], n: usize, k: usize) -> Vec<f32> {
    let k = k.min(n.saturating_sub(1));
    let mut row = vec![0.0f32; n];
    cos.chunks_exact(n.max(1))
        .map(|r| {
            row.copy_from_slice(r);
            let (_, kth, _) = row.select_nth_unstable_by(k, |a, b| b.total_cmp(a));
            (1.0 - *kth).max(1e-4)
        })
        .collect()
}

/// Who each candidate would cover, with what similarity.
enum Sims {
    Dense {
        n: usize,
        s: Vec<f32>,
    },
    /// `covers[start[j]..start[j + 1]]`: rows `i` with `j` in their neighbourhood (or
    /// `i == j`), in one flat list (a list per row would cost 1M allocations).
    Sparse {
        start: Vec<usize>,
        covers: Vec<(u32, f32)>,
    },
}

impl Sims {
    fn for_each(&self, j: u32, mut f: impl FnMut(usize, f32)) {
        match self {
            Sims::Dense { n, s } => (0..*n).for_each(|i| f(i, s[i * n + j as usize])),
            Sims::Sparse { start, covers } => {
                covers[start[j as usize]..start[j as usize + 1]].iter().for_each(|&(i, v)| f(i as usize, v))
            }
        }
    }
}

async fn similarities<B: Backend>(ctx: &mut Context<'_, B>, similarity: Similarity) -> Result<Sims> {
    let n = ctx.n;
    let dense = match similarity {
        _ if n > DENSE_MAX => None,
        Similarity::Local { centre, .. } if centre > 0.0 => {
            let centred = ctx.centred_points(centre).await?;
            Some(ctx.backend.dot(&centred, &centred).await?)
        }
        _ => Some(ctx.backend.dot(&ctx.points, &ctx.points).await?),
    };
    let scales = match (similarity, &dense) {
        (Similarity::Cosine(_), _) => Vec::new(),
        (Similarity::Local { k, .. }, Some(cos)) => dense_scales(cos, n, k),
        (Similarity::Local { k, .. }, None) => graph_scales(&*ctx.knn().await?, n, k),
    };
    let shape = |i: usize, j: usize, c: f32| match similarity {
        Similarity::Cosine(power) => c.max(0.0).powi(power),
        Similarity::Local { tau, .. } => (-(1.0 - c) / (tau * (scales[i] * scales[j]).sqrt())).exp(),
    };
    if let Some(mut s) = dense {
        for (i, row) in s.chunks_mut(n).enumerate() {
            row.iter_mut().enumerate().for_each(|(j, c)| *c = shape(i, j, *c));
        }
        return Ok(Sims::Dense { n, s });
    }
    let group = ctx.group.clone();
    let knn = ctx.knn().await?;
    // Who covers row i: itself, its neighbours, and its duplicate group's first row
    // (an exact duplicate is covered by that row as by itself).
    let coverers = |i: usize| {
        let dup = (group[i] as usize != i).then_some((group[i], 1.0));
        std::iter::once((i as u32, 1.0))
            .chain(knn.of(i).filter(|p| p.0 != u32::MAX).map(move |(j, s)| (j, shape(i, j as usize, s))))
            .chain(dup)
    };
    let mut start = vec![0usize; n + 1];
    for i in 0..n {
        coverers(i).for_each(|(j, _)| start[j as usize + 1] += 1);
    }
    for j in 0..n {
        start[j + 1] += start[j];
    }
    let mut filled = start.clone();
    let mut covers = vec![(0u32, 0.0f32); start[n]];
    for i in 0..n {
        for (j, s) in coverers(i) {
            covers[filled[j as usize]] = (i as u32, s);
            filled[j as usize] += 1;
        }
    }
    Ok(Sims::Sparse { start, covers })
}

/// The first `want` rows of the lazy-greedy order under `similarity`.
pub async fn order<B: Backend>(
    ctx: &mut Context<'_, B>,
    want: usize,
    similarity: Similarity,
) -> Result<Vec<u32>> {
    let sims = similarities(ctx, similarity).await?;
    let mut cover = vec![0.0f32; ctx.n];
    let raise = |cover: &mut [f32], j: u32| sims.for_each(j, |i, s| cover[i] = cover[i].max(s));
    for l in ctx.labeled_rows() {
        raise(&mut cover, l);
    }
    let gain = |cover: &[f32], j: u32| {
        let mut g = 0.0f64;
        sims.for_each(j, |i, s| g += (s - cover[i]).max(0.0) as f64);
        g
    };
    let eligible: Vec<u32> = (0..ctx.n as u32).filter(|&i| !ctx.labeled[i as usize]).collect();
    let mut heap = LazyMax::new(eligible.iter().map(|&j| (j, gain(&cover, j))));
    let want = want.min(eligible.len());
    let mut order = Vec::with_capacity(want);
    while order.len() < want {
        if order.len() % 256 == 0 {
            ctx.tick("facility location", Unit::Picks, order.len() as u64, want as u64).await?;
        }
        let Some((j, _)) = heap.pop(|j| gain(&cover, j)) else { break };
        raise(&mut cover, j);
        order.push(j);
    }
    Ok(order)
}
