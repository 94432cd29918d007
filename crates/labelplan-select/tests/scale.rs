//! The approximate steps of large pools (the inverted-file index, the kNN graph through
//! it, nearest-member searches, local k-means steps), forced onto the digits sample with
//! `Scale::APPROXIMATE` and compared with the exact steps.

use std::sync::atomic::AtomicBool;

use labelplan_core::backend::Backend;
use labelplan_core::plan::{Budget, InputInfo, Method, Plan, Settings};
use labelplan_core::read::{read_path, LoadOptions};
use labelplan_core::{Dataset, MetaColumn};
use labelplan_cpu::CpuBackend;
use labelplan_select::context::Context;
use labelplan_select::ivf::{recall, Ivf};
use labelplan_select::nearest::nearest_in;
use labelplan_select::{Engine, Scale};
use pollster::block_on;

const APPROXIMATE: Scale = Scale::APPROXIMATE;

fn digits() -> Dataset {
    read_path(&labelplan_testkit::repo_root().join("web/sample/digits.npy"), &LoadOptions::default())
        .expect("the digits sample")
}

fn settings(method: Method, budgets: &[Budget]) -> Settings {
    Settings {
        method,
        budgets: budgets.to_vec(),
        epochs: 4,
        cluster_range: (8, 12),
        curve: vec![Budget::Percent(10.0), Budget::Percent(30.0)],
        ..Settings::default()
    }
}

fn plan(data: &Dataset, settings: &Settings, scale: Scale) -> Plan {
    block_on(Engine::new(&CpuBackend).scaled(scale).run(
        data,
        InputInfo::unhashed(data),
        settings,
        &mut |_| {},
        &AtomicBool::new(false),
    ))
    .expect("plan")
}

#[test]
fn the_index_finds_95_percent_of_the_exact_neighbours_on_digits() {
    let data = digits();
    let cpu = CpuBackend;
    let points = block_on(
        cpu.normalize_rows(&block_on(cpu.upload(&data.values, data.rows, data.dim)).expect("upload")),
    )
    .expect("normalize");
    let group: Vec<u32> = (0..data.rows as u32).collect();
    let ivf = block_on(Ivf::build(&cpu, &points, 0)).expect("index");
    assert_eq!(ivf.lists(), 42, "about √n lists");
    let mut rows: Vec<u32> = ivf.members.concat();
    rows.sort_unstable();
    assert_eq!(rows, group, "every row in exactly one list");
    let approx = block_on(ivf.knn(&cpu, &points, &group, 20)).expect("index graph");
    let exact = block_on(cpu.top_k(&points, 20, &group)).expect("exact graph");
    let r = recall(&approx, &exact);
    assert!(r >= 0.95, "recall@20 {r}");
    // Every list found is a true neighbour with its true similarity.
    let sims = block_on(cpu.dot(&points, &points)).expect("dot");
    for i in (0..data.rows).step_by(37) {
        for (j, s) in approx.of(i) {
            assert_ne!(j as usize, i);
            assert!((sims[i * data.rows + j as usize] - s).abs() < 1e-5);
        }
    }
}

#[test]
fn nearest_members_through_the_index_match_the_exact_search() {
    let data = digits();
    let s = settings(Method::Coverage, &[Budget::Count(10)]);
    let never = AtomicBool::new(false);
    let members: Vec<u32> = (0..data.rows as u32).filter(|i| i % 23 == 5).collect();
    let mut quiet = |_: &labelplan_select::Progress| {};
    let mut exact_ctx =
        block_on(Context::new(&CpuBackend, &data, &s, Scale::default(), &mut quiet, &never, None))
            .expect("ctx");
    let exact = block_on(nearest_in(&mut exact_ctx, None, &members)).expect("exact");
    for with_graph in [false, true] {
        let mut quiet = |_: &labelplan_select::Progress| {};
        let mut ctx = block_on(Context::new(&CpuBackend, &data, &s, APPROXIMATE, &mut quiet, &never, None))
            .expect("ctx");
        if with_graph {
            block_on(ctx.knn()).expect("graph");
        }
        let approx = block_on(nearest_in(&mut ctx, None, &members)).expect("approximate");
        let same = (0..data.rows).filter(|&i| approx.index[i] == exact.index[i]).count();
        let deficit: f32 =
            (0..data.rows).map(|i| exact.sim[i] - approx.sim[i]).sum::<f32>() / data.rows as f32;
        eprintln!("graph {with_graph}: {same} of {} rows, mean similarity deficit {deficit}", data.rows);
        assert!(same as f64 >= 0.94 * data.rows as f64, "graph {with_graph}: {same} of {} rows", data.rows);
        assert!(deficit < 2e-3, "graph {with_graph}: mean similarity deficit {deficit}");
        for i in 0..data.rows {
            // A member found is never better than the true nearest, and is what it says.
            assert!(approx.sim[i] <= exact.sim[i] + 1e-5, "row {i}");
            assert!(approx.index[i] != u32::MAX);
        }
        // Members are their own nearest.
        for (p, &m) in members.iter().enumerate() {
            assert_eq!(approx.index[m as usize], p as u32);
        }
    }
}

#[test]
fn every_method_plans_validly_through_the_index() {
    let mut data = digits();
    // Every 7th row already labeled; rows 1..=3 copies of row 0.
    let flags: Vec<String> =
        (0..data.rows).map(|i| if i % 7 == 6 { "y".into() } else { String::new() }).collect();
    data.columns.push(MetaColumn { name: "done".into(), values: flags.clone() });
    let row0 = data.row(0).to_vec();
    for r in 1..=3 {
        data.values[r * data.dim..(r + 1) * data.dim].copy_from_slice(&row0);
    }
    for method in Method::ALL {
        let s = Settings {
            labeled_column: Some("done".into()),
            ..settings(method, &[Budget::Count(40), Budget::Percent(5.0)])
        };
        let a = plan(&data, &s, APPROXIMATE);
        for b in &a.budgets {
            let mut rows = b.rows.clone();
            rows.sort_unstable();
            rows.dedup();
            assert_eq!(rows.len(), b.count, "{method}: duplicate picks");
            assert!(b.rows.iter().all(|&r| flags[r as usize].is_empty()), "{method}: picked a labeled row");
            assert!(b.rows.iter().filter(|&&r| r <= 3).count() <= 1, "{method}: two copies of one vector");
        }
        assert_eq!(a.budgets[0].count, 40, "{method}");
        assert_eq!(a, plan(&data, &s, APPROXIMATE), "{method}: not deterministic");
        if method.is_nested() {
            assert_eq!(a.budgets[0].rows[..], a.budgets[1].rows[..40], "{method}: not a prefix");
        }
    }
}

#[test]
fn the_default_covers_as_well_through_the_index() {
    let data = digits();
    let s = settings(Method::Coverage, &[Budget::Percent(2.0), Budget::Percent(10.0)]);
    let exact = plan(&data, &s, Scale::default());
    let approx = plan(&data, &s, APPROXIMATE);
    for (e, a) in exact.budgets.iter().zip(&approx.budgets) {
        let (de, da) = (e.coverage.mean_distance, a.coverage.mean_distance);
        assert!(da <= de * 1.03, "{}: mean distance {da} through the index vs {de} exact", e.budget);
        assert!(a.estimate >= e.estimate - 3.0, "{}: estimate {} vs {}", e.budget, a.estimate, e.estimate);
    }
}

#[test]
fn the_default_makes_the_same_picks_with_its_centroids_in_blocks() {
    let data = digits();
    let s = settings(Method::Coverage, &[Budget::Percent(5.0), Budget::Percent(20.0)]);
    let whole = plan(&data, &s, APPROXIMATE);
    // 7 centroids a block: 90 and 359 centroids span 13 and 52 blocks.
    let blocks = plan(&data, &s, Scale { centroid_block: 7, ..APPROXIMATE });
    for (w, b) in whole.budgets.iter().zip(&blocks.budgets) {
        assert_eq!(w.rows, b.rows, "{}", w.budget);
    }
}

#[test]
fn a_taken_pool_plans_like_a_borrowed_one() {
    let mut data = digits();
    let s = settings(Method::Coverage, &[Budget::Percent(5.0), Budget::Percent(20.0)]);
    let borrowed = plan(&data, &s, APPROXIMATE);
    let input = InputInfo::unhashed(&data);
    let taken = block_on(Engine::new(&CpuBackend).scaled(APPROXIMATE).run_taking(
        &mut data,
        input,
        &s,
        &mut |_| {},
        &AtomicBool::new(false),
    ))
    .expect("plan");
    assert!(data.values.is_empty(), "the vectors moved to the backend");
    for (b, t) in borrowed.budgets.iter().zip(&taken.budgets) {
        assert_eq!(b.rows, t.rows, "{}", b.budget);
        // The estimate trains on rows read back as normalised row × norm.
        assert!(
            (b.estimate - t.estimate).abs() <= 0.5,
            "{}: estimate {} vs {}",
            b.budget,
            t.estimate,
            b.estimate
        );
    }
}

/// Farthest-first by full scans, the plain algorithm the bounded one must equal.
fn full_scan_k_center(data: &Dataset, labeled: &[bool], start: u32, want: usize) -> Vec<u32> {
    let cpu = CpuBackend;
    let points = block_on(
        cpu.normalize_rows(&block_on(cpu.upload(&data.values, data.rows, data.dim)).expect("upload")),
    )
    .expect("normalize");
    let mut best = vec![f32::NEG_INFINITY; data.rows];
    let mut next = None;
    for l in (0..data.rows as u32).filter(|&i| labeled[i as usize]) {
        next = block_on(cpu.raise_best(&points, &mut best, l, true)).expect("raise");
    }
    let mut pick = next.map_or(start, |(r, _)| r);
    let mut order = Vec::new();
    while order.len() < want {
        order.push(pick);
        match block_on(cpu.raise_best(&points, &mut best, pick, true)).expect("raise") {
            Some((r, _)) => pick = r,
            None => break,
        }
    }
    order
}

#[test]
fn bounded_k_center_equals_the_full_scan() {
    let mut data = digits();
    let flags: Vec<String> =
        (0..data.rows).map(|i| if i % 50 == 9 { "y".into() } else { String::new() }).collect();
    data.columns.push(MetaColumn { name: "done".into(), values: flags.clone() });
    for (labeled_column, seed) in [(None, 0), (None, 3), (Some("done".to_string()), 0)] {
        let s = Settings {
            seed,
            labeled_column: labeled_column.clone(),
            ..settings(Method::KCenter, &[Budget::Count(10)])
        };
        let never = AtomicBool::new(false);
        let mut quiet = |_: &labelplan_select::Progress| {};
        let mut ctx =
            block_on(Context::new(&CpuBackend, &data, &s, Scale::default(), &mut quiet, &never, None))
                .expect("ctx");
        let (order, radius) =
            block_on(labelplan_select::methods::kcenter::order(&mut ctx, 600)).expect("order");
        let labeled: Vec<bool> = flags.iter().map(|f| labeled_column.is_some() && !f.is_empty()).collect();
        let reference = full_scan_k_center(&data, &labeled, order[0], 600);
        assert_eq!(order, reference, "seed {seed}, labeled {labeled_column:?}");
        assert!(radius.windows(2).all(|w| w[1] <= w[0] + 1e-6));
    }
}
