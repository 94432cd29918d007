//! Nearest members of a set of rows (picks, seeds, labeled rows) for many query rows:
//! exactly on small pools; on large ones through the index: a row searches the members
//! in its list's probes, and further lists while those hold fewer than
//! `MIN_MEMBERS` (64). When the run has made the kNN graph (itself a search of the probes)
//! and the probes hold enough members, a row whose neighbours include a member needs no
//! search: the first such neighbour is the nearest member in the probes.

use labelplan_core::backend::{Backend, Nearest};

use crate::context::Context;
use crate::error::Result;
use crate::ivf::PROBES;

const NONE: u32 = u32::MAX;
/// Members a row's search looks at, at least, through the index (a sparse set's nearest
/// member may lie several lists away).
const MIN_MEMBERS: usize = 64;

/// For each query row (every row when `queries` is `None`), the position in `set` of
/// its most similar row and that similarity. `set` holds distinct rows.
pub async fn nearest_in<B: Backend>(
    ctx: &mut Context<'_, B>,
    queries: Option<&[u32]>,
    set: &[u32],
) -> Result<Nearest> {
    let all: Vec<u32>;
    let queries = match queries {
        Some(q) => q,
        None => {
            all = (0..ctx.n as u32).collect();
            &all
        }
    };
    if set.is_empty() {
        return Ok(Nearest { index: vec![NONE; queries.len()], sim: vec![f32::NEG_INFINITY; queries.len()] });
    }
    if !ctx.approximate() {
        return exact(ctx, queries, set).await;
    }
    let knn = ctx.known_knn();
    let ivf = ctx.ivf().await?;
    let n = ctx.n;
    let mut position = vec![NONE; n];
    // A row whose exact duplicate is in the set has it as nearest (the graph skips
    // duplicates, so they are looked up by group).
    let mut by_group = vec![NONE; n];
    let mut by_list: Vec<Vec<u32>> = vec![Vec::new(); ivf.lists()];
    for (p, &r) in set.iter().enumerate() {
        position[r as usize] = p as u32;
        let g = &mut by_group[ctx.group[r as usize] as usize];
        *g = (*g).min(p as u32);
        by_list[ivf.list_of[r as usize] as usize].push(p as u32);
    }
    let enough: Vec<bool> = (0..ivf.lists())
        .map(|l| ivf.probes(l).iter().map(|&p| by_list[p as usize].len()).sum::<usize>() >= MIN_MEMBERS)
        .collect();
    let mut index = vec![NONE; queries.len()];
    let mut sim = vec![f32::NEG_INFINITY; queries.len()];
    let mut pending: Vec<Vec<u32>> = vec![Vec::new(); ivf.lists()];
    for (qi, &q) in queries.iter().enumerate() {
        let dup = by_group[ctx.group[q as usize] as usize];
        if dup != NONE {
            (index[qi], sim[qi]) = (dup, 1.0);
            continue;
        }
        // Neighbours come most similar first, so the first member is the nearest one.
        let list = ivf.list_of[q as usize] as usize;
        let near = knn
            .as_ref()
            .filter(|_| enough[list])
            .and_then(|g| g.of(q as usize).find(|&(j, _)| j != NONE && position[j as usize] != NONE));
        match near {
            Some((j, s)) => (index[qi], sim[qi]) = (position[j as usize], s),
            None => pending[list].push(qi as u32),
        }
    }
    for (l, waiting) in pending.iter().enumerate().filter(|(_, w)| !w.is_empty()) {
        // The probes, and further lists while the members found are few (a sparse set's
        // nearest member may lie several lists away): never none, as the set is not empty.
        let mut near: Vec<u32> = Vec::new();
        for (searched, &p) in ivf.nearby[l].iter().enumerate() {
            if searched >= PROBES && near.len() >= MIN_MEMBERS {
                break;
            }
            near.extend_from_slice(&by_list[p as usize]);
        }
        near.sort_unstable();
        let rows: Vec<u32> = waiting.iter().map(|&qi| queries[qi as usize]).collect();
        let q = ctx.backend.gather(&ctx.points, &rows).await?;
        let member_rows: Vec<u32> = near.iter().map(|&p| set[p as usize]).collect();
        let r = ctx.backend.gather(&ctx.points, &member_rows).await?;
        let found = ctx.backend.nearest(&q, &r).await?;
        for (&qi, (&j, s)) in waiting.iter().zip(found.index.iter().zip(found.sim)) {
            (index[qi as usize], sim[qi as usize]) = (near[j as usize], s);
        }
    }
    Ok(Nearest { index, sim })
}

/// Every query against every member.
async fn exact<B: Backend>(ctx: &Context<'_, B>, queries: &[u32], set: &[u32]) -> Result<Nearest> {
    let r = ctx.backend.gather(&ctx.points, set).await?;
    if queries.len() == ctx.n && queries.iter().enumerate().all(|(i, &q)| q as usize == i) {
        return Ok(ctx.backend.nearest(&ctx.points, &r).await?);
    }
    let q = ctx.backend.gather(&ctx.points, queries).await?;
    Ok(ctx.backend.nearest(&q, &r).await?)
}
