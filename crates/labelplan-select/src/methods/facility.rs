//! Facility location, `max Σ_i max_{j∈S} sim(i, j)`, by lazy greedy (within 1 − 1/e of
//! the optimum; the order is exactly the plain greedy order). Similarity is
//! `max(cos, 0)^power`: dense up to [`DENSE_MAX`] rows, beyond that only over the kNN
//! graph (sparse).

use labelplan_core::backend::Backend;
use labelplan_core::progress::Unit;

use crate::context::Context;
use crate::error::Result;
use crate::greedy::LazyMax;

/// Largest pool for a dense similarity matrix (DENSE_MAX² floats).
pub const DENSE_MAX: usize = 4096;

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

async fn similarities<B: Backend>(ctx: &mut Context<'_, B>, power: i32) -> Result<Sims> {
    let shape = |c: f32| c.max(0.0).powi(power);
    if ctx.n <= DENSE_MAX {
        let s = ctx.backend.dot(&ctx.points, &ctx.points).await?.into_iter().map(shape).collect();
        return Ok(Sims::Dense { n: ctx.n, s });
    }
    let n = ctx.n;
    let group = ctx.group.clone();
    let knn = ctx.knn().await?;
    // Who covers row i: itself, its neighbours, and its duplicate group's first row
    // (an exact duplicate is covered by that row as by itself).
    let coverers = |i: usize| {
        let dup = (group[i] as usize != i).then_some((group[i], 1.0));
        std::iter::once((i as u32, 1.0))
            .chain(knn.of(i).filter(|p| p.0 != u32::MAX).map(|(j, s)| (j, shape(s))))
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

/// The first `want` rows of the lazy-greedy order with similarity exponent `power`.
pub async fn order<B: Backend>(ctx: &mut Context<'_, B>, want: usize, power: i32) -> Result<Vec<u32>> {
    let sims = similarities(ctx, power).await?;
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
