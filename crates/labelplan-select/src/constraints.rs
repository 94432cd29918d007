//! The constraint walk every method's candidates go through: already-labeled rows are
//! never picked, exact duplicates of a pick are skipped (and near-duplicates above the
//! threshold), balance quotas per metadata value are filled first and any shortfall is
//! reported, and the budget counts items or, with a cost column, cost.

use std::collections::BTreeMap;

use labelplan_core::backend::Backend;
use labelplan_core::plan::GroupCount;

use crate::context::{column, Context};
use crate::error::{Result, SelectError};
use crate::methods::random;

/// The picks of one budget after the constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    /// Rows in rank order.
    pub rows: Vec<u32>,
    /// Budget units used (items, or cost).
    pub used: f64,
    /// Picks per balance value against its target.
    pub per_value: Vec<GroupCount>,
    /// Balance values short of their target.
    pub shortfall: Vec<GroupCount>,
}

/// Balance targets: the value of every row and the units each value should get.
struct Quotas<'d> {
    value: &'d [String],
    target: BTreeMap<String, f64>,
}

fn quotas<'d, B: Backend>(ctx: &Context<'d, B>, limit: f64) -> Result<Option<Quotas<'d>>> {
    let Some(balance) = &ctx.settings.balance else { return Ok(None) };
    let value = column(ctx.data, "--balance", &balance.column)?;
    let mut ratio: BTreeMap<String, f64> = BTreeMap::new();
    if balance.ratios.is_empty() {
        for (i, v) in value.iter().enumerate() {
            if !ctx.labeled[i] {
                ratio.insert(v.clone(), 1.0);
            }
        }
    } else {
        for (v, r) in &balance.ratios {
            if !(r.is_finite() && *r >= 0.0) {
                return Err(SelectError::setting(
                    "--balance",
                    format!("ratio of {v:?} must be a number ≥ 0"),
                ));
            }
            ratio.insert(v.clone(), *r);
        }
    }
    let total: f64 = ratio.values().sum();
    if total <= 0.0 {
        return Err(SelectError::setting("--balance", "the ratios sum to 0"));
    }
    let mut target: BTreeMap<String, f64> =
        ratio.iter().map(|(v, r)| (v.clone(), r / total * limit)).collect();
    if ctx.cost.is_none() {
        // Whole items: floors, then the largest remainders get one more.
        let floors: f64 = target.values().map(|t| t.floor()).sum();
        let mut rest: Vec<(String, f64)> = target.iter().map(|(v, t)| (v.clone(), t - t.floor())).collect();
        rest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let extra = (limit - floors).round().max(0.0) as usize;
        target.values_mut().for_each(|t| *t = t.floor());
        for (v, _) in rest.into_iter().take(extra) {
            *target.get_mut(&v).expect("present") += 1.0;
        }
    }
    Ok(Some(Quotas { value, target }))
}

/// Takes rows from `candidates` (then from the remaining eligible rows in a seeded random
/// order) until `limit` units are used.
pub async fn walk<B: Backend>(ctx: &mut Context<'_, B>, candidates: &[u32], limit: f64) -> Result<Picked> {
    let quotas = quotas(ctx, limit)?;
    let near = match ctx.settings.dedup_threshold {
        Some(t) => Some((ctx.knn().await?, t)),
        None => None,
    };
    let n = ctx.n;
    let unit = |i: usize| ctx.cost.as_ref().map_or(1.0, |c| c[i]);
    let mut taken = ctx.labeled.clone();
    let mut group_taken = vec![false; n];
    for i in (0..n).filter(|&i| ctx.labeled[i]) {
        group_taken[ctx.group[i] as usize] = true;
    }
    let fallback = random::order(&ctx.labeled, ctx.settings.seed, "fallback");
    let mut used_by: BTreeMap<String, f64> = BTreeMap::new();
    let (mut rows, mut used) = (Vec::new(), 0.0);
    let passes = if quotas.is_some() { 2 } else { 1 };
    for pass in 0..passes {
        for &c in candidates.iter().chain(&fallback) {
            let i = c as usize;
            if used >= limit - 1e-9 {
                break;
            }
            if taken[i] || group_taken[ctx.group[i] as usize] || used + unit(i) > limit + 1e-9 {
                continue;
            }
            if let Some((knn, t)) = &near {
                if knn.of(i).any(|(j, s)| j != u32::MAX && s >= *t && taken[j as usize]) {
                    continue;
                }
            }
            if let (Some(q), 0) = (&quotas, pass) {
                let v = &q.value[i];
                let got = used_by.get(v).copied().unwrap_or(0.0);
                if got + unit(i) > q.target.get(v).copied().unwrap_or(0.0) + 1e-9 {
                    continue;
                }
            }
            taken[i] = true;
            group_taken[ctx.group[i] as usize] = true;
            used += unit(i);
            if let Some(q) = &quotas {
                *used_by.entry(q.value[i].clone()).or_default() += unit(i);
            }
            rows.push(c);
        }
    }
    let (per_value, shortfall) = match &quotas {
        None => (Vec::new(), Vec::new()),
        Some(q) => {
            let mut pool: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, v) in q.value.iter().enumerate() {
                if !ctx.labeled[i] {
                    *pool.entry(v).or_default() += 1;
                }
            }
            let mut picked: BTreeMap<&str, usize> = BTreeMap::new();
            for &r in &rows {
                *picked.entry(&q.value[r as usize]).or_default() += 1;
            }
            let mut names: Vec<&str> =
                pool.keys().copied().chain(q.target.keys().map(String::as_str)).collect();
            names.sort_unstable();
            names.dedup();
            let per: Vec<GroupCount> = names
                .iter()
                .map(|v| GroupCount {
                    value: v.to_string(),
                    pool: pool.get(v).copied().unwrap_or(0),
                    picked: picked.get(v).copied().unwrap_or(0),
                    target: q.target.get(*v).map(|t| t.round() as usize),
                })
                .collect();
            let short = per
                .iter()
                .filter(|g| {
                    used_by.get(&g.value).copied().unwrap_or(0.0) + 1e-9
                        < q.target.get(&g.value).copied().unwrap_or(0.0)
                })
                .cloned()
                .collect();
            (per, short)
        }
    };
    Ok(Picked { rows, used, per_value, shortfall })
}
