//! Facility location, `max Σ_i max_{j∈S} sim(i, j)`, by lazy greedy (within 1 − 1/e of
//! the optimum; the order is exactly the plain greedy order). Similarity is
//! `max(cos, 0)^power`: dense up to [`DENSE_MAX`] rows, beyond that only over the kNN
//! graph (sparse).

use labelplan_core::backend::Backend;

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
    /// `covers[j]`: rows `i` with `j` in their neighbourhood (or `i == j`).
    Sparse {
        covers: Vec<Vec<(u32, f32)>>,
    },
}

impl Sims {
    fn for_each(&self, j: u32, mut f: impl FnMut(usize, f32)) {
        match self {
            Sims::Dense { n, s } => (0..*n).for_each(|i| f(i, s[i * n + j as usize])),
            Sims::Sparse { covers } => covers[j as usize].iter().for_each(|&(i, v)| f(i as usize, v)),
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
    let mut covers: Vec<Vec<(u32, f32)>> = (0..n as u32).map(|i| vec![(i, 1.0)]).collect();
    for i in 0..n {
        for (j, s) in knn.of(i).filter(|p| p.0 != u32::MAX) {
            covers[j as usize].push((i as u32, shape(s)));
        }
        // An exact duplicate is covered by its group's first row as by itself.
        if group[i] as usize != i {
            covers[group[i] as usize].push((i as u32, 1.0));
        }
    }
    Ok(Sims::Sparse { covers })
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
            ctx.tick("facility location", order.len() as u64, want as u64).await?;
        }
        let Some((j, _)) = heap.pop(|j| gain(&cover, j)) else { break };
        raise(&mut cover, j);
        order.push(j);
    }
    Ok(order)
}
