//! The engine: one plan run from a dataset and settings, with progress and cancel.

use std::sync::atomic::AtomicBool;

use labelplan_core::backend::Backend;
use labelplan_core::plan::{BudgetPlan, Clustering, CurvePoint, InputInfo, Manifest, Plan, Settings};
use labelplan_core::progress::Unit;
use labelplan_core::Dataset;

use crate::constraints::{walk, Picked};
use crate::context::{Context, Pause, Pool, Progress, Scale};
use crate::error::{Result, SelectError};
use crate::estimate::Estimator;
use crate::map::PoolMap;
use crate::methods::Selector;
use crate::planner;

/// Runs plans on one backend.
pub struct Engine<'b, B: Backend> {
    backend: &'b B,
    pause: Option<Pause<'b>>,
    scale: Scale,
}

/// Settings in range (the rules live beside each field: `labelplan_core::settings`) and
/// a pool to pick from.
fn check(settings: &Settings, data: &Dataset) -> Result<()> {
    settings.validate().map_err(|e| SelectError::setting(&format!("--{}", e.key), e.message))?;
    if data.rows < 2 {
        let found = if data.rows == 1 { "1 row" } else { "no rows" };
        return Err(SelectError::setting(
            "input",
            format!("{} has {found}; a plan needs at least 2", data.source_name),
        ));
    }
    Ok(())
}

/// The rows of `sets` in order, each where it first appears.
fn pick_order<'s>(sets: impl Iterator<Item = &'s [u32]>, rows: usize) -> Vec<u32> {
    let mut seen = vec![false; rows];
    sets.flat_map(|set| set.iter().copied())
        .filter(|&r| !std::mem::replace(&mut seen[r as usize], true))
        .collect()
}

impl<'b, B: Backend> Engine<'b, B> {
    /// An engine on `backend`.
    pub fn new(backend: &'b B) -> Self {
        Engine { backend, pause: None, scale: Scale::default() }
    }

    /// The same engine, awaiting `pause` at every progress step (see [`Pause`]).
    pub fn pausing(self, pause: Pause<'b>) -> Self {
        Engine { pause: Some(pause), ..self }
    }

    /// The same engine with another exact/approximate boundary (tests and quality runs
    /// force the approximate steps on small pools with it).
    pub fn scaled(self, scale: Scale) -> Self {
        Engine { scale, ..self }
    }

    /// Makes the plan. `progress` hears every stage; setting `cancel` stops the run at
    /// the next step with [`SelectError::Cancelled`].
    pub async fn run(
        &self,
        data: &Dataset,
        input: InputInfo,
        settings: &Settings,
        progress: &mut dyn FnMut(&Progress),
        cancel: &AtomicBool,
    ) -> Result<Plan> {
        check(settings, data)?;
        Ok(self.plan(Pool::from(data), input, settings, progress, cancel, false).await?.0)
    }

    /// [`Engine::run`], then the map of the pool: the page draws it; it is not part of
    /// the plan (nor of plan.json).
    pub async fn run_with_map(
        &self,
        data: &Dataset,
        input: InputInfo,
        settings: &Settings,
        progress: &mut dyn FnMut(&Progress),
        cancel: &AtomicBool,
    ) -> Result<(Plan, PoolMap)> {
        check(settings, data)?;
        let (plan, map) = self.plan(Pool::from(data), input, settings, progress, cancel, true).await?;
        Ok((plan, map.expect("asked for")))
    }

    /// [`Engine::run`] that takes the vectors of a large pool (beyond
    /// [`Scale::exact_rows`]; `data.values` is then left empty) and moves them to the
    /// backend, so the plan holds the matrix once: 1M × 384 f32 is 1.5 GB. The estimate
    /// then reads its training rows back as normalised row × norm (equal to the raw row
    /// within rounding). Small pools run exactly as [`Engine::run`].
    pub async fn run_taking(
        &self,
        data: &mut Dataset,
        input: InputInfo,
        settings: &Settings,
        progress: &mut dyn FnMut(&Progress),
        cancel: &AtomicBool,
    ) -> Result<Plan> {
        check(settings, data)?;
        let pool = if data.rows <= self.scale.exact_rows {
            Pool::from(&*data)
        } else {
            let values = std::mem::take(&mut data.values);
            Pool { data, values: Some(values) }
        };
        Ok(self.plan(pool, input, settings, progress, cancel, false).await?.0)
    }

    /// The plan of a pool whose settings passed [`check`], and its map when `map` is set.
    async fn plan(
        &self,
        pool: Pool<'_>,
        input: InputInfo,
        settings: &Settings,
        progress: &mut dyn FnMut(&Progress),
        cancel: &AtomicBool,
        map: bool,
    ) -> Result<(Plan, Option<PoolMap>)> {
        let data = pool.data;
        let mut ctx =
            Context::new(self.backend, pool, settings, self.scale, progress, cancel, self.pause).await?;
        let eligible = ctx.eligible();
        if eligible == 0 {
            return Err(SelectError::setting(
                "--labeled-column",
                "every row is already labeled; nothing is left to pick",
            ));
        }
        let clusters = ctx.clusters().await?.clone();
        let cluster = clusters.kmeans.assign.clone();
        let k = clusters.k;
        let total_units = match &ctx.cost {
            Some(c) => (0..data.rows).filter(|&i| !ctx.labeled[i]).map(|i| c[i]).sum(),
            None => eligible as f64,
        };
        let mean_cost = match &ctx.cost {
            Some(_) => total_units / eligible as f64,
            None => settings.cost_per_label,
        };
        // Every budget to run, requested and curve, in units; smallest first.
        let mut limits: Vec<f64> =
            settings.budgets.iter().chain(&settings.curve).map(|b| b.resolve(total_units)).collect();
        limits.sort_by(f64::total_cmp);
        limits.dedup();
        let largest = limits.last().copied().unwrap_or(1.0);
        // Nested orders: the largest budget; with constraints that skip candidates, every
        // row (without them only exact duplicates are skipped, and the walk's fallback
        // fills those few places).
        let want = if ctx.cost.is_some() || settings.balance.is_some() || settings.dedup_threshold.is_some() {
            eligible
        } else {
            (largest as usize + 64).min(eligible)
        };
        let estimator =
            Estimator::new(&ctx, cluster.clone(), k, settings.task_classes.unwrap_or(k), settings.seed)
                .await?;
        let mut selector = Selector::new(settings.method, want);
        let mut runs = Vec::new();
        for (i, &limit) in limits.iter().enumerate() {
            ctx.tick("selecting", Unit::Budgets, i as u64, limits.len() as u64).await?;
            // Items the budget buys (budgets are in cost units with a cost column).
            let items = ((limit / (total_units / eligible as f64)).round() as usize).clamp(1, eligible);
            let candidates = selector.candidates(&mut ctx, items, &estimator).await?;
            let picked = walk(&mut ctx, &candidates.order, limit).await?;
            ctx.tick("estimating", Unit::Budgets, i as u64, limits.len() as u64).await?;
            let coverage = planner::coverage(&mut ctx, &picked.rows, &cluster, k).await?;
            let quality = estimator.quality(&ctx, &picked.rows).await?;
            runs.push((limit, candidates.beta, picked, coverage, quality));
        }
        // Money and hours for a set of picks: their cost column's sum, or items × price.
        let cost_of = |picked: &Picked| {
            let cost = match &ctx.cost {
                Some(_) => picked.used,
                None => picked.rows.len() as f64 * settings.cost_per_label,
            };
            (planner::cents(cost), planner::cents(picked.rows.len() as f64 / settings.labels_per_hour))
        };
        let curve: Vec<CurvePoint> = runs
            .iter()
            .map(|(_, _, p, coverage, quality)| {
                let (cost, hours) = cost_of(p);
                CurvePoint {
                    count: p.rows.len(),
                    percent: 100.0 * p.rows.len() as f64 / eligible as f64,
                    coverage: *coverage,
                    estimate: *quality,
                    share: None,
                    cost,
                    hours,
                }
            })
            .collect();
        let fit = planner::fit_curve(&curve.iter().map(|p| (p.percent, p.estimate)).collect::<Vec<_>>());
        let share = |estimate: f64| fit.as_ref().and_then(|f| f.share(estimate));
        let curve: Vec<CurvePoint> =
            curve.into_iter().map(|p| CurvePoint { share: share(p.estimate), ..p }).collect();
        let recommended = fit.as_ref().and_then(|f| planner::recommend(f, settings, eligible, mean_cost));
        let reaches = fit.as_ref().and_then(|f| planner::reaching(f, settings, eligible, mean_cost));
        let run_of = |limit: f64| runs.iter().find(|r| r.0 == limit).expect("every budget was run");
        let mut budgets: Vec<BudgetPlan> = Vec::new();
        for b in &settings.budgets {
            let (_, beta, picked, coverage, quality) = run_of(b.resolve(total_units));
            let (cost, hours) = cost_of(picked);
            budgets.push(BudgetPlan {
                budget: *b,
                count: picked.rows.len(),
                rows: picked.rows.clone(),
                cost,
                hours,
                beta: *beta,
                coverage: *coverage,
                estimate: *quality,
                share: share(*quality),
                per_cluster: planner::per_cluster(&picked.rows, &cluster, k),
                per_value: picked.per_value.clone(),
                shortfall: picked.shortfall.clone(),
            });
        }
        let mut by_size: Vec<&BudgetPlan> = budgets.iter().collect();
        by_size.sort_by_key(|b| b.count);
        let ranked = pick_order(by_size.iter().map(|b| b.rows.as_slice()), data.rows);
        let score = selector.score(&mut ctx).await?;
        let sizes = (0..k).map(|c| cluster.iter().filter(|&&a| a as usize == c).count()).collect();
        let map = match map {
            // The map's order is the ranked list, then what the curve's budgets add
            // (runs are smallest first).
            true => Some(PoolMap {
                positions: crate::map::neighbour_map(&mut ctx).await?,
                order: pick_order(
                    by_size.iter().map(|b| b.rows.as_slice()).chain(runs.iter().map(|r| r.2.rows.as_slice())),
                    data.rows,
                ),
            }),
            false => None,
        };
        let plan = Plan {
            manifest: Manifest {
                tool: "labelplan".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                input,
                backend: self.backend.name(),
                settings: settings.clone(),
            },
            pool: data.rows,
            labeled: data.rows - eligible,
            clustering: Clustering { k, chosen_by: clusters.chosen_by, tried: clusters.tried, sizes },
            budgets,
            curve,
            fit,
            recommended,
            reaches,
            ranked,
            cluster,
            score,
        };
        Ok((plan, map))
    }
}
