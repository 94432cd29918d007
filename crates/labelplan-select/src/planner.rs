//! The budget planner's measures: coverage of the pool by a set of picks, a saturating
//! curve through the quality estimates, and the recommended budget.

use labelplan_core::backend::Backend;
use labelplan_core::det;
use labelplan_core::plan::Coverage;
use labelplan_core::plan::{CurveFit, GroupCount, Recommendation, Settings};

use crate::context::Context;
use crate::error::Result;
use crate::methods::random;
use crate::nearest::nearest_in;

/// Rows the coverage distances are measured on, at most (a seeded sample beyond that:
/// the mean, p95 and share within δ of 20,000 rows are within about a percent).
const COVERAGE_SAMPLE: usize = 20_000;

/// Coverage of the pool by `picks` plus the already-labeled rows (cosine distances).
pub async fn coverage<B: Backend>(
    ctx: &mut Context<'_, B>,
    picks: &[u32],
    cluster: &[u32],
    k: usize,
) -> Result<Coverage> {
    let refs: Vec<u32> = ctx.labeled_rows().into_iter().chain(picks.iter().copied()).collect();
    if refs.is_empty() {
        return Ok(Coverage { mean_distance: 1.0, p95_distance: 1.0, within_delta: 0.0, clusters_hit: 0 });
    }
    let sample = (ctx.n > COVERAGE_SAMPLE).then(|| {
        let mut sample = random::order(&vec![false; ctx.n], ctx.settings.seed, "coverage sample");
        sample.truncate(COVERAGE_SAMPLE);
        sample.sort_unstable();
        sample
    });
    let near = nearest_in(ctx, sample.as_deref(), &refs).await?;
    // The backend finds the nearest reference; its distance is measured exactly, so the
    // figures are the same bits from every backend and target.
    let query = |qi: usize| sample.as_ref().map_or(qi as u32, |rows| rows[qi]);
    let pairs: Vec<(u32, u32)> =
        near.index.iter().enumerate().map(|(qi, &i)| (query(qi), refs[i as usize])).collect();
    let mut d: Vec<f64> = ctx.exact_cosines(&pairs).await?.iter().map(|&s| (1.0 - s).max(0.0)).collect();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let delta = ctx.settings.coverage_delta as f64;
    let within = d.iter().filter(|&&v| v <= delta).count() as f64 / d.len() as f64;
    d.sort_by(f64::total_cmp);
    let p95 = d[((d.len() as f64 * 0.95).ceil() as usize).clamp(1, d.len()) - 1];
    let mut hits = vec![0usize; k];
    for &p in picks {
        hits[cluster[p as usize] as usize] += 1;
    }
    let clusters_hit = hits.iter().filter(|&&h| h >= ctx.settings.cluster_hits.max(1)).count();
    Ok(Coverage { mean_distance: mean, p95_distance: p95, within_delta: within, clusters_hit })
}

/// Picks per cluster.
pub fn per_cluster(picks: &[u32], cluster: &[u32], k: usize) -> Vec<GroupCount> {
    let mut pool = vec![0usize; k];
    cluster.iter().for_each(|&c| pool[c as usize] += 1);
    let mut picked = vec![0usize; k];
    picks.iter().for_each(|&p| picked[cluster[p as usize] as usize] += 1);
    (0..k)
        .map(|c| GroupCount { value: c.to_string(), pool: pool[c], picked: picked[c], target: None })
        .collect()
}

/// Least-squares fit of `a − b·p^(−c)` through `(percent, quality)` points: `c` on a
/// grid, `a ≤ 100` and `b` in closed form. Needs three distinct budgets.
pub fn fit_curve(points: &[(f64, f64)]) -> Option<CurveFit> {
    let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() < 3 {
        return None;
    }
    let mut best: Option<(f64, CurveFit)> = None;
    for step in 1..=60 {
        let c = step as f64 * 0.05;
        let u: Vec<f64> = points.iter().map(|p| det::pow(p.0, -c)).collect();
        let n = points.len() as f64;
        let (su, sy) = (u.iter().sum::<f64>(), points.iter().map(|p| p.1).sum::<f64>());
        let suu = u.iter().map(|v| v * v).sum::<f64>();
        let suy = u.iter().zip(points).map(|(v, p)| v * p.1).sum::<f64>();
        let det = n * suu - su * su;
        if det.abs() < 1e-12 {
            continue;
        }
        // y = a + slope·u, slope = −b; accuracy cannot pass 100, so a is capped there.
        let mut slope = (n * suy - su * sy) / det;
        let mut a = (sy - slope * su) / n;
        if a > 100.0 {
            a = 100.0;
            slope = (suy - 100.0 * su) / suu;
        }
        let fit = CurveFit { a, b: -slope, c };
        let sse: f64 = points.iter().map(|p| (fit.at(p.0) - p.1).powi(2)).sum();
        if best.as_ref().is_none_or(|(e, _)| sse < *e) {
            best = Some((sse, fit));
        }
    }
    best.map(|(_, f)| f)
}

/// Rounded to two decimals (money, hours), so exports read `3.3`, not `3.3000000000000003`.
pub fn cents(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The smallest budget (percent of the eligible pool, 0.1% steps) where `reached` holds
/// on the fitted curve, with its share, cost and time.
fn first_budget(
    fit: &CurveFit,
    settings: &Settings,
    eligible: usize,
    mean_cost: f64,
    reached: impl Fn(f64) -> bool,
) -> Option<Recommendation> {
    if fit.b <= 0.0 {
        return None; // not a rising curve: neither reading applies
    }
    let percent = (1..=1000).map(|i| i as f64 * 0.1).find(|&p| reached(p))?;
    let count = ((percent / 100.0 * eligible as f64).round() as usize).max(1);
    Some(Recommendation {
        count,
        percent,
        share: fit.share(fit.at(percent))?,
        cost: cents(count as f64 * mean_cost),
        hours: cents(count as f64 / settings.labels_per_hour.max(1e-9)),
    })
}

/// The knee: the smallest budget where one more percent adds less than `gain_threshold`
/// points on the fitted curve.
pub fn recommend(
    fit: &CurveFit,
    settings: &Settings,
    eligible: usize,
    mean_cost: f64,
) -> Option<Recommendation> {
    first_budget(fit, settings, eligible, mean_cost, |p| {
        fit.at(p + 1.0) - fit.at(p) < settings.gain_threshold
    })
}

/// The smallest budget whose fitted share of the reachable quality is `target_share`.
pub fn reaching(
    fit: &CurveFit,
    settings: &Settings,
    eligible: usize,
    mean_cost: f64,
) -> Option<Recommendation> {
    first_budget(fit, settings, eligible, mean_cost, |p| {
        fit.share(fit.at(p)).is_some_and(|share| share >= settings.target_share)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_known_power_law_and_recommends_where_gain_falls() {
        let truth = CurveFit { a: 95.0, b: 30.0, c: 0.5 };
        let pts: Vec<(f64, f64)> =
            [1.0, 2.0, 5.0, 10.0, 20.0, 50.0].iter().map(|&p| (p, truth.at(p))).collect();
        let fit = fit_curve(&pts).expect("fits");
        assert!((fit.a - 95.0).abs() < 1e-6 && (fit.b - 30.0).abs() < 1e-6 && (fit.c - 0.5).abs() < 1e-9);
        let s = Settings {
            gain_threshold: 0.5,
            cost_per_label: 2.0,
            labels_per_hour: 100.0,
            ..Settings::default()
        };
        let r = recommend(&fit, &s, 1000, 2.0).expect("recommends");
        assert!(truth.at(r.percent + 1.0) - truth.at(r.percent) < 0.5);
        let before = r.percent - 0.1;
        assert!(truth.at(before + 1.0) - truth.at(before) >= 0.5, "not the smallest such budget");
        assert_eq!(r.cost, cents(r.count as f64 * 2.0));
        assert_eq!(r.hours, cents(r.count as f64 / 100.0));
    }

    #[test]
    fn the_target_share_is_read_off_the_fitted_curve() {
        let fit = CurveFit { a: 95.0, b: 30.0, c: 0.5 };
        let s = Settings { target_share: 90.0, ..Settings::default() };
        let r = reaching(&fit, &s, 1000, 0.1).expect("reaches");
        let whole = fit.at(100.0);
        assert!(fit.at(r.percent) >= 0.9 * whole && fit.at(r.percent - 0.1) < 0.9 * whole, "{r:?}");
        assert!((r.share - 100.0 * fit.at(r.percent) / whole).abs() < 1e-9);
        let knee = recommend(&fit, &s, 1000, 0.1).expect("recommends");
        assert!((knee.share - 100.0 * fit.at(knee.percent) / whole).abs() < 1e-9);
    }

    #[test]
    fn the_asymptote_never_passes_100() {
        let pts =
            [(1.0, 12.0), (2.0, 22.0), (5.0, 61.0), (10.0, 92.0), (20.0, 99.0), (30.0, 100.0), (50.0, 100.0)];
        let fit = fit_curve(&pts).expect("fits");
        assert!(fit.a <= 100.0, "{fit:?}");
        assert!(pts.iter().all(|p| fit.at(p.0) <= 100.0));
    }
}
