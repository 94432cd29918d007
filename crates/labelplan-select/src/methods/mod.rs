//! The selection methods. Each turns a budget into an ordered list of candidate rows;
//! the constraint walk ([`crate::constraints`]) then takes the first ones that fit.
//! Nested methods compute one order and every budget is a prefix of it.

pub mod coverage;
pub mod d2;
pub mod facility;
pub mod kcenter;
pub mod probcover;
pub mod prototypes;
pub mod pruning;
pub mod random;
pub mod typiclust;

use labelplan_core::backend::Backend;
use labelplan_core::plan::{Method, ScoreKind};
use labelplan_core::progress::Unit;

use crate::context::Context;
use crate::error::Result;
use crate::estimate::Estimator;
use crate::kmeans::KMeans;
use crate::rng::stream;

/// Candidates for one budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidates {
    /// Rows in preference order.
    pub order: Vec<u32>,
    /// The cutoff used (ELFS, CCS).
    pub beta: Option<f64>,
}

/// Runs one method for several budgets, reusing what budgets share.
pub struct Selector {
    method: Method,
    want: usize,
    order: Option<Vec<u32>>,
    /// The default's seeding order, kept for the next budget with the same similarity.
    seeds: Option<(facility::Similarity, Vec<u32>)>,
    /// TypiClust's clusters, kept for the next budget with as many clusters.
    clusters: Option<KMeans>,
}

/// Difficulty (higher = harder) by `kind`.
pub async fn difficulty<B: Backend>(ctx: &mut Context<'_, B>, kind: ScoreKind) -> Result<Vec<f32>> {
    if kind == ScoreKind::CentroidDistance {
        return Ok(ctx.clusters().await?.kmeans.sim.iter().map(|s| 1.0 - s).collect());
    }
    Ok(crate::dynamics::difficulty(ctx.dynamics().await?, kind).expect("a training score"))
}

impl Selector {
    /// A selector for `method` whose nested orders need at most `want` rows.
    pub fn new(method: Method, want: usize) -> Self {
        Selector { method, want, order: None, seeds: None, clusters: None }
    }

    /// The method's per-item score where it has one (higher = picked earlier).
    pub async fn score<B: Backend>(&self, ctx: &mut Context<'_, B>) -> Result<Option<Vec<f32>>> {
        Ok(match self.method {
            Method::Elfs => Some(difficulty(ctx, ScoreKind::Aum).await?),
            Method::Ccs | Method::D2 => Some(difficulty(ctx, ctx.settings.score).await?),
            Method::PrototypesEasy => Some(ctx.clusters().await?.kmeans.sim.clone()),
            Method::PrototypesHard => Some(difficulty(ctx, ScoreKind::CentroidDistance).await?),
            Method::Typiclust => Some(typiclust::typicality(&*ctx.knn().await?, ctx.n)),
            _ => None,
        })
    }

    async fn nested<B: Backend>(&mut self, ctx: &mut Context<'_, B>) -> Result<&[u32]> {
        if self.order.is_none() {
            let want = self.want;
            let order = match self.method {
                Method::Random => random::order(&ctx.labeled, ctx.settings.seed, "random"),
                Method::KCenter => kcenter::order(ctx, want).await?.0,
                Method::PrototypesEasy | Method::PrototypesHard => {
                    let distance = difficulty(ctx, ScoreKind::CentroidDistance).await?;
                    prototypes::order(&distance, &ctx.labeled, self.method == Method::PrototypesEasy)
                }
                Method::FacilityLocation => {
                    facility::order(ctx, want, facility::Similarity::Cosine(1)).await?
                }
                Method::D2 => {
                    let d = difficulty(ctx, ctx.settings.score).await?;
                    d2::order(&d, &*ctx.knn().await?, &ctx.labeled, want)
                }
                Method::Probcover => {
                    let labels = ctx.clusters().await?.kmeans.assign.clone();
                    let knn = ctx.knn().await?;
                    let delta = probcover::choose_delta(&knn, &labels);
                    probcover::order(&knn, &ctx.group, delta, &ctx.labeled, want)
                }
                Method::Elfs | Method::Ccs => {
                    let kind = if self.method == Method::Elfs { ScoreKind::Aum } else { ctx.settings.score };
                    let d = difficulty(ctx, kind).await?;
                    pruning::hardest_first(&d, &ctx.labeled)
                }
                // Per budget, in `candidates`.
                Method::Coverage | Method::Typiclust => Vec::new(),
            };
            self.order = Some(order);
        }
        Ok(self.order.as_deref().expect("just set"))
    }

    /// Candidates for a budget of `m` rows.
    pub async fn candidates<B: Backend>(
        &mut self,
        ctx: &mut Context<'_, B>,
        m: usize,
        est: &Estimator,
    ) -> Result<Candidates> {
        let method = self.method;
        let plain = |order: Vec<u32>| Candidates { order, beta: None };
        Ok(match method {
            Method::Coverage => {
                let similarity = coverage::seeding(ctx, m).await?;
                let seeds = match self.seeds.take() {
                    Some((s, seeds)) if s == similarity => seeds,
                    _ => facility::order(ctx, self.want, similarity).await?,
                };
                let order = coverage::candidates(ctx, m, &seeds).await?;
                self.seeds = Some((similarity, seeds));
                plain(order)
            }
            Method::Typiclust => {
                let typical = typiclust::typicality(&*ctx.knn().await?, ctx.n);
                let k = typiclust::clusters_for(ctx, m);
                let km = match self.clusters.take() {
                    Some(km) if km.centroids.len() == k * ctx.backend.shape(&ctx.points).1 => km,
                    _ => typiclust::cluster(ctx, m).await?,
                };
                let order = typiclust::candidates(ctx, m, &km, &typical);
                self.clusters = Some(km);
                plain(order)
            }
            Method::Elfs | Method::Ccs => {
                let kind = if method == Method::Elfs { ScoreKind::Aum } else { ctx.settings.score };
                let d = difficulty(ctx, kind).await?;
                let sorted = self.nested(ctx).await?.to_vec();
                let seed = ctx.settings.seed;
                let pick = |beta: f64| match method {
                    Method::Elfs => pruning::double_end(&sorted, beta, m),
                    _ => pruning::ccs(&sorted, &d, beta, m, &mut stream(seed, "ccs")),
                };
                let beta = match ctx.settings.beta {
                    Some(b) => b,
                    None => {
                        let grid = pruning::beta_grid(m, sorted.len());
                        let mut best = (f64::NEG_INFINITY, 0.0);
                        for (i, &beta) in grid.iter().enumerate() {
                            ctx.tick("β search", Unit::Betas, i as u64, grid.len() as u64).await?;
                            let q = est.held_out_quality(ctx, &pick(beta)).await?;
                            if q > best.0 {
                                best = (q, beta);
                            }
                        }
                        best.1
                    }
                };
                Candidates { order: pick(beta), beta: Some(beta) }
            }
            _ => plain(self.nested(ctx).await?.to_vec()),
        })
    }
}
