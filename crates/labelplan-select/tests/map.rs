//! The 2-D map: the PCA start follows the rows' two directions of largest spread, and
//! the neighbour layout keeps neighbourhoods far better than PCA on real data.

use std::sync::atomic::{AtomicBool, Ordering};

use labelplan_core::backend::{normalize_in_place, Backend};
use labelplan_core::plan::{Budget, InputInfo, Settings};
use labelplan_core::read::{read_path, LoadOptions};
use labelplan_cpu::CpuBackend;
use labelplan_select::map::{neighbour_recall, pca_map, trustworthiness};
use labelplan_select::{Engine, SelectError};
use labelplan_testkit::{fixture, random_matrix};
use pollster::block_on;

fn column(v: &[f32], width: usize, c: usize) -> Vec<f64> {
    v.iter().skip(c).step_by(width).map(|&x| x as f64).collect()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let var = |v: &[f64], m: f64| v.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
    cov / (var(a, ma) * var(b, mb)).sqrt()
}

#[test]
fn the_map_axes_follow_the_two_directions_of_largest_spread() {
    // Spread 3 along dim 0, 2 along dim 1, 0.1 along the 10 others; offset from 0.
    let (n, dim) = (500, 12);
    let x = random_matrix(1, n, dim);
    let scale = |d: usize| match d {
        0 => 3.0,
        1 => 2.0,
        _ => 0.1,
    };
    let values: Vec<f32> = (0..n * dim).map(|i| 1.0 + scale(i % dim) * x[i]).collect();
    let m = block_on(CpuBackend.upload(&values, n, dim)).expect("upload");
    let map = block_on(pca_map(&CpuBackend, &m, 0)).expect("map");
    assert_eq!(map.len(), 2 * n);
    for axis in 0..2 {
        let r = correlation(&column(&map, 2, axis), &column(&values, dim, axis));
        assert!(r.abs() > 0.99, "map axis {axis} against input dim {axis}: correlation {r}");
        let mean = column(&map, 2, axis).iter().sum::<f64>() / n as f64;
        assert!(mean.abs() < 1e-4, "axis {axis} is centred: mean {mean}");
    }
    let spread = |c| column(&map, 2, c).iter().map(|v| v * v).sum::<f64>();
    assert!(spread(0) > spread(1), "the first axis spreads most");
    // The same seed gives the same map.
    assert_eq!(block_on(pca_map(&CpuBackend, &m, 0)).expect("map"), map);
}

/// Neighbours each measure looks at (scikit-learn's trustworthiness default is 5; 10
/// asks more of a map).
const MEASURE_K: usize = 10;

#[test]
fn the_neighbour_map_keeps_digits_neighbourhoods_far_better_than_pca() {
    let data = read_path(&fixture("digits/embeddings.npy"), &LoadOptions::default()).expect("digits");
    // The map does not depend on the method or budgets: a quick plan.
    let settings = Settings {
        budgets: vec![Budget::Percent(5.0)],
        curve: vec![Budget::Percent(2.0), Budget::Percent(10.0)],
        cluster_range: (10, 10),
        ..Settings::default()
    };
    let mut stages = Vec::new();
    let (plan, map) = block_on(Engine::new(&CpuBackend).run_with_map(
        &data,
        InputInfo::unhashed(&data),
        &settings,
        &mut |p| stages.push((p.stage.clone(), p.done, p.total)),
        &AtomicBool::new(false),
    ))
    .expect("plan with map");
    let order = map.order;
    let map = map.positions;
    assert_eq!(map.len(), 2 * data.rows);
    assert!(map.iter().all(|v| v.is_finite()));
    // The slider's order starts with the plan's ranked picks and runs on through the
    // curve's 10% budget's picks.
    assert_eq!(order[..plan.ranked.len()], plan.ranked[..]);
    let largest = plan.curve.iter().map(|p| p.count).max().expect("a curve");
    let every: usize = plan.ranked.len() + plan.curve.iter().map(|p| p.count).sum::<usize>();
    assert!(order.len() >= largest && order.len() <= every, "{} rows in the order", order.len());
    let mut unique = order.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), order.len(), "each row once");
    assert_eq!(stages.last().map(|s| s.0.as_str()), Some("map"), "the map is the run's last stage");
    assert_eq!(stages.last().map(|s| (s.1, s.2)), Some((500, 500)), "every epoch reported");
    // The map is not part of the plan: the same settings plan the same without it.
    let alone = block_on(Engine::new(&CpuBackend).run(
        &data,
        InputInfo::unhashed(&data),
        &settings,
        &mut |_| {},
        &AtomicBool::new(false),
    ))
    .expect("plan");
    assert_eq!(alone, plan);

    let mut unit = data.values.clone();
    normalize_in_place(&mut unit, data.dim);
    let points = block_on(CpuBackend.upload(&unit, data.rows, data.dim)).expect("upload");
    let pca = block_on(pca_map(&CpuBackend, &points, settings.seed)).expect("pca");
    let t_map = trustworthiness(&data.values, data.dim, &map, MEASURE_K);
    let t_pca = trustworthiness(&data.values, data.dim, &pca, MEASURE_K);
    let r_map = neighbour_recall(&data.values, data.dim, &map, MEASURE_K);
    let r_pca = neighbour_recall(&data.values, data.dim, &pca, MEASURE_K);
    eprintln!("digits, k = {MEASURE_K}: trustworthiness map {t_map:.4} pca {t_pca:.4}; recall map {r_map:.4} pca {r_pca:.4}");
    assert!(t_map > 0.95, "the layout is trustworthy: {t_map}");
    assert!(t_map > t_pca + 0.05, "the layout beats PCA: {t_map} against {t_pca}");
    assert!(r_map > 2.0 * r_pca, "the layout keeps twice PCA's neighbours: {r_map} against {r_pca}");
    // Same input, same seed: the same map.
    let (_, again) = block_on(Engine::new(&CpuBackend).run_with_map(
        &data,
        InputInfo::unhashed(&data),
        &settings,
        &mut |_| {},
        &AtomicBool::new(false),
    ))
    .expect("again");
    assert_eq!(again.positions, map);
}

#[test]
fn cancel_stops_the_map() {
    let data = read_path(&fixture("small.npy"), &LoadOptions::default()).expect("small");
    let settings = Settings { budgets: vec![Budget::Percent(5.0)], epochs: 4, ..Settings::default() };
    let cancel = AtomicBool::new(false);
    let out = block_on(Engine::new(&CpuBackend).run_with_map(
        &data,
        InputInfo::unhashed(&data),
        &settings,
        &mut |p| {
            if p.stage == "map" && p.done >= 100 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    ));
    assert!(matches!(out, Err(SelectError::Cancelled)), "{out:?}");
}
