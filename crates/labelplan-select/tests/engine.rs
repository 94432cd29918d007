//! The engine end to end on the CPU backend: every method, every constraint, the
//! invariants of the algorithms, determinism.

use std::sync::atomic::AtomicBool;

use labelplan_core::plan::{Balance, Budget, InputInfo, Method, Plan, Settings};
use labelplan_core::read::{read_path, LoadOptions};
use labelplan_core::{Dataset, MetaColumn};
use labelplan_cpu::CpuBackend;
use labelplan_select::context::Context;
use labelplan_select::methods::{coverage, facility, kcenter};
use labelplan_select::{Engine, SelectError};
use labelplan_testkit::{fixture, random_matrix};
use proptest::prelude::*;

fn dataset(values: Vec<f32>, rows: usize, dim: usize) -> Dataset {
    Dataset::from_matrix("test", values, rows, dim)
}

fn info(data: &Dataset) -> InputInfo {
    InputInfo::unhashed(data)
}

fn digits() -> Dataset {
    read_path(&fixture("small.npy"), &LoadOptions::default()).expect("fixture")
}

fn quick(method: Method, budgets: &[Budget]) -> Settings {
    Settings {
        method,
        budgets: budgets.to_vec(),
        epochs: 4,
        cluster_range: (4, 8),
        curve: vec![Budget::Percent(10.0), Budget::Percent(30.0), Budget::Percent(60.0)],
        ..Settings::default()
    }
}

fn plan(data: &Dataset, settings: &Settings) -> Result<Plan, SelectError> {
    pollster::block_on(Engine::new(&CpuBackend).run(
        data,
        info(data),
        settings,
        &mut |_| {},
        &AtomicBool::new(false),
    ))
}

/// `rows` 16-dim rows around `count` random centers scaled by `scale`: row `i` sits at the
/// center and noise spread that `place(i)` gives (centers from `seed`, noise from `seed + 1`).
fn blobs(seed: u64, count: usize, rows: usize, scale: f32, place: impl Fn(usize) -> (usize, f32)) -> Dataset {
    const DIM: usize = 16;
    let centers = random_matrix(seed, count, DIM);
    let noise = random_matrix(seed + 1, rows, DIM);
    let values: Vec<f32> = (0..rows)
        .flat_map(|i| {
            let (blob, spread) = place(i);
            (0..DIM).map(move |c| (i, c, blob, spread))
        })
        .map(|(i, c, blob, spread)| centers[blob * DIM + c] * scale + noise[i * DIM + c] * spread)
        .collect();
    dataset(values, rows, DIM)
}

/// `f` on a CPU context for `data` under `settings` (no progress, never cancelled).
fn with_context<R>(
    data: &Dataset,
    settings: &Settings,
    f: impl FnOnce(&mut Context<'_, CpuBackend>) -> R,
) -> R {
    let never = AtomicBool::new(false);
    let mut quiet = |_: &labelplan_select::Progress| {};
    let mut ctx = pollster::block_on(Context::new(
        &CpuBackend,
        data,
        settings,
        Default::default(),
        &mut quiet,
        &never,
        None,
    ))
    .expect("context");
    f(&mut ctx)
}

fn assert_valid(plan: &Plan, labeled: &[bool]) {
    for b in &plan.budgets {
        let mut rows = b.rows.clone();
        rows.sort_unstable();
        rows.dedup();
        assert_eq!(rows.len(), b.rows.len(), "{}: duplicate picks", plan.manifest.settings.method);
        assert!(b.rows.iter().all(|&r| !labeled[r as usize]), "an already-labeled row was picked");
        assert_eq!(b.count, b.rows.len());
    }
}

#[test]
fn every_method_respects_the_budget_and_is_deterministic() {
    let data = digits();
    let eligible = data.rows;
    for method in Method::ALL {
        let settings = quick(method, &[Budget::Percent(5.0), Budget::Count(20)]);
        let a = plan(&data, &settings).expect("plan");
        assert_valid(&a, &vec![false; data.rows]);
        assert_eq!(a.budgets[0].count, Budget::Percent(5.0).resolve(eligible as f64) as usize, "{method}");
        assert_eq!(a.budgets[1].count, 20, "{method}");
        let b = plan(&data, &settings).expect("plan");
        assert_eq!(a.ranked, b.ranked, "{method}: same seed, different ranked list");
        assert_eq!(a, b, "{method}: same seed, different plan");
        if method.is_nested() {
            assert_eq!(
                a.budgets[0].rows[..],
                a.budgets[1].rows[..a.budgets[0].count],
                "{method}: not a prefix"
            );
        }
    }
}

#[test]
fn already_labeled_rows_are_never_picked_and_cover_their_neighbourhood() {
    let mut data = digits();
    let flags: Vec<String> =
        (0..data.rows).map(|i| if i % 3 == 0 { "yes".into() } else { String::new() }).collect();
    let labeled: Vec<bool> = flags.iter().map(|f| !f.is_empty()).collect();
    data.columns.push(MetaColumn { name: "done".into(), values: flags });
    for method in Method::ALL {
        let settings =
            Settings { labeled_column: Some("done".into()), ..quick(method, &[Budget::Count(15)]) };
        let p = plan(&data, &settings).expect("plan");
        assert_valid(&p, &labeled);
        assert_eq!(p.labeled, labeled.iter().filter(|l| **l).count());
        assert_eq!(p.budgets[0].count, 15);
    }
    // Coverage counts labeled rows: with a third labeled, 15 picks cover better than alone.
    let alone = plan(&digits(), &quick(Method::Coverage, &[Budget::Count(15)])).expect("plan");
    let settings =
        Settings { labeled_column: Some("done".into()), ..quick(Method::Coverage, &[Budget::Count(15)]) };
    let with = plan(&data, &settings).expect("plan");
    assert!(with.budgets[0].coverage.mean_distance < alone.budgets[0].coverage.mean_distance);
}

#[test]
fn exact_duplicates_are_never_both_picked() {
    // 30 distinct rows, each repeated 3 times.
    let base = random_matrix(3, 30, 8);
    let values: Vec<f32> = (0..90).flat_map(|i| base[(i % 30) * 8..(i % 30 + 1) * 8].to_vec()).collect();
    let data = dataset(values, 90, 8);
    for method in Method::ALL {
        let p = plan(&data, &quick(method, &[Budget::Count(30)])).expect("plan");
        let mut distinct: Vec<u32> = p.budgets[0].rows.iter().map(|&r| r % 30).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 30, "{method}: picked copies of the same vector");
    }
}

#[test]
fn near_duplicates_above_the_threshold_are_skipped() {
    let data = digits();
    let settings = Settings { dedup_threshold: Some(0.9), ..quick(Method::Random, &[Budget::Count(40)]) };
    let p = plan(&data, &settings).expect("plan");
    let rows = &p.budgets[0].rows;
    let unit: Vec<Vec<f32>> = rows
        .iter()
        .map(|&r| {
            let v = data.row(r as usize);
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter().map(|x| x / n).collect()
        })
        .collect();
    // The walk checks each pick's 20 nearest neighbours; those cover every pair above 0.9 here.
    for (a, u) in unit.iter().enumerate() {
        for w in &unit[a + 1..] {
            let cos: f32 = u.iter().zip(w).map(|(x, y)| x * y).sum();
            assert!(cos < 0.9 + 1e-5, "two picks with cosine {cos}");
        }
    }
}

#[test]
fn balance_fills_quotas_and_reports_shortfall() {
    let mut data = digits();
    // Value "rare" on 3 rows only.
    let values: Vec<String> =
        (0..data.rows).map(|i| if i < 3 { "rare".into() } else { format!("v{}", i % 2) }).collect();
    data.columns.push(MetaColumn { name: "source".into(), values });
    let balance = Balance {
        column: "source".into(),
        ratios: vec![("rare".into(), 0.5), ("v0".into(), 0.25), ("v1".into(), 0.25)],
    };
    let settings = Settings { balance: Some(balance), ..quick(Method::Coverage, &[Budget::Count(20)]) };
    let p = plan(&data, &settings).expect("plan");
    let b = &p.budgets[0];
    assert_eq!(b.count, 20, "the budget is filled despite the shortfall");
    let get = |v: &str| b.per_value.iter().find(|g| g.value == v).expect("value listed");
    assert_eq!(get("rare").picked, 3);
    assert_eq!(get("rare").target, Some(10));
    assert!(get("v0").picked >= 5 && get("v1").picked >= 5);
    assert_eq!(b.shortfall.iter().map(|g| g.value.as_str()).collect::<Vec<_>>(), vec!["rare"]);
}

#[test]
fn cost_budgets_count_cost() {
    let mut data = digits();
    let costs: Vec<String> = (0..data.rows).map(|i| ((i % 4) + 1).to_string()).collect();
    data.columns.push(MetaColumn { name: "cost".into(), values: costs });
    let settings =
        Settings { cost_column: Some("cost".into()), ..quick(Method::KCenter, &[Budget::Count(30)]) };
    let p = plan(&data, &settings).expect("plan");
    let b = &p.budgets[0];
    let spent: f64 = b.rows.iter().map(|&r| ((r % 4) + 1) as f64).sum();
    assert!((27.0..=30.0).contains(&spent), "spent {spent}");
    assert_eq!(b.cost, spent);
}

#[test]
fn bad_settings_and_columns_get_clear_errors() {
    let data = digits();
    let e = plan(
        &data,
        &Settings { labeled_column: Some("nope".into()), ..quick(Method::Random, &[Budget::Count(5)]) },
    )
    .expect_err("unknown column");
    assert!(e.to_string().contains("no column \"nope\""), "{e}");
    let mut with_cost = digits();
    let mut costs = vec!["1".to_string(); with_cost.rows];
    costs[7] = "cheap".into();
    with_cost.columns.push(MetaColumn { name: "cost".into(), values: costs });
    let e = plan(
        &with_cost,
        &Settings { cost_column: Some("cost".into()), ..quick(Method::Random, &[Budget::Count(5)]) },
    )
    .expect_err("bad cost");
    assert_eq!(e.to_string(), "cost column \"cost\", row 7: expected a number ≥ 0, found \"cheap\"");
    let e = plan(&data, &Settings { budgets: Vec::new(), ..Settings::default() }).expect_err("no budget");
    assert!(e.to_string().contains("--budget"));
}

#[test]
fn cancel_stops_the_run() {
    let data = digits();
    let cancel = AtomicBool::new(true);
    let r = pollster::block_on(Engine::new(&CpuBackend).run(
        &data,
        info(&data),
        &quick(Method::Elfs, &[Budget::Count(5)]),
        &mut |_| {},
        &cancel,
    ));
    assert_eq!(r, Err(SelectError::Cancelled));
}

/// A host's pause runs before every progress step, and a cancel set while paused (as a
/// browser worker hears one) stops the run at that step.
#[test]
fn a_cancel_heard_during_a_pause_stops_the_run() {
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::Pin;

    let data = digits();
    let cancel = AtomicBool::new(false);
    let pauses = Cell::new(0);
    let ticks = Cell::new(0);
    let pause = || -> Pin<Box<dyn Future<Output = ()>>> {
        pauses.set(pauses.get() + 1);
        if pauses.get() == 3 {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Box::pin(std::future::ready(()))
    };
    let r = pollster::block_on(Engine::new(&CpuBackend).pausing(&pause).run(
        &data,
        info(&data),
        &quick(Method::Elfs, &[Budget::Count(5)]),
        &mut |_| ticks.set(ticks.get() + 1),
        &cancel,
    ));
    assert_eq!(r, Err(SelectError::Cancelled));
    assert_eq!((pauses.get(), ticks.get()), (3, 2), "two steps reported, the third cancelled");
}

#[test]
fn progress_reports_stages() {
    let data = digits();
    let mut stages = Vec::new();
    let settings = quick(Method::Elfs, &[Budget::Count(10)]);
    pollster::block_on(Engine::new(&CpuBackend).run(
        &data,
        info(&data),
        &settings,
        &mut |p| stages.push(p.stage.clone()),
        &AtomicBool::new(false),
    ))
    .expect("plan");
    for s in ["clustering", "training dynamics", "β search", "selecting", "estimating"] {
        assert!(stages.iter().any(|x| x == s), "no {s} stage in {stages:?}");
    }
}

#[test]
fn k_center_radius_never_grows() {
    let data = digits();
    let settings = quick(Method::KCenter, &[Budget::Count(5)]);
    let (order, radius) =
        with_context(&data, &settings, |ctx| pollster::block_on(kcenter::order(ctx, 60))).expect("order");
    assert_eq!(order.len(), 60);
    assert!(radius.windows(2).all(|w| w[1] <= w[0] + 1e-6), "{radius:?}");
}

#[test]
fn well_separated_clusters_are_all_hit_by_the_default() {
    // 6 tight blobs: the default with 6 picks takes one from each.
    let data = blobs(11, 6, 120, 10.0, |i| (i % 6, 0.1));
    let p = plan(&data, &Settings { clusters: Some(6), ..quick(Method::Coverage, &[Budget::Count(6)]) })
        .expect("plan");
    let mut blobs: Vec<u32> = p.budgets[0].rows.iter().map(|r| r % 6).collect();
    blobs.sort_unstable();
    assert_eq!(blobs, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(p.budgets[0].coverage.clusters_hit, 6);
}

#[test]
fn a_spread_out_cluster_gets_picks_for_its_rows_not_its_volume() {
    // 300 rows in a tight blob, 100 spread widely around another: a quarter of the rows.
    // Covering the space evenly would spend nearly every pick on the wide blob.
    let data = blobs(21, 2, 400, 4.0, |i| if i < 300 { (0, 0.1) } else { (1, 1.5) });
    let p = plan(&data, &quick(Method::Coverage, &[Budget::Count(40)])).expect("plan");
    let wide = p.budgets[0].rows.iter().filter(|&&r| r >= 300).count();
    assert!((5..=20).contains(&wide), "{wide} of 40 picks in the wide blob (a quarter of the rows)");
}

#[test]
fn a_small_budget_seeds_the_coarse_regions_not_their_detail() {
    // Three far-apart regions of tight clumps of 40 rows: ten clumps, two, two. With three
    // picks each stands for a third of the rows, so the seeds are one per region. A kernel
    // at the clumps' own scale (σ at the 20th neighbour) sees fourteen equal clumps and
    // seeds three clumps of the first region.
    const DIM: usize = 16;
    let regions = random_matrix(31, 3, DIM);
    let clumps = random_matrix(32, 14, DIM);
    let noise = random_matrix(33, 14 * 40, DIM);
    let region_of = |row: u32| [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2][row as usize / 40];
    let values: Vec<f32> = (0..14 * 40)
        .flat_map(|i| (0..DIM).map(move |c| (i, c)))
        .map(|(i, c)| {
            let clump = i / 40;
            regions[region_of(i as u32) * DIM + c] * 8.0 + clumps[clump * DIM + c] + noise[i * DIM + c] * 0.05
        })
        .collect();
    let data = dataset(values, 14 * 40, DIM);
    let settings = quick(Method::Coverage, &[Budget::Count(3)]);
    let similarity = coverage::seed_similarity(data.rows, 3);
    let seeds = with_context(&data, &settings, |ctx| pollster::block_on(facility::order(ctx, 3, similarity)))
        .expect("order");
    let mut hit: Vec<usize> = seeds.iter().map(|&r| region_of(r)).collect();
    hit.sort_unstable();
    assert_eq!(hit, vec![0, 1, 2], "regions of the seeds {seeds:?}");
}

#[test]
fn a_centred_seed_similarity_is_the_cosine_of_the_centred_rows() {
    // The seeds' similarity may remove a share of the pool's mean normalised row from every
    // row; its order must be the one the uncentred similarity gives on rows centred by hand.
    const DIM: usize = 6;
    const ROWS: usize = 150;
    let mut values = labelplan_testkit::blobs(43, ROWS, DIM, 5, 0.4);
    for row in values.chunks_mut(DIM) {
        row[0] += 1.5; // a shared direction, so the centring matters
    }
    let units: Vec<Vec<f32>> = values
        .chunks(DIM)
        .map(|row| {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            row.iter().map(|v| v / norm).collect()
        })
        .collect();
    let mean: Vec<f32> = (0..DIM).map(|c| units.iter().map(|u| u[c]).sum::<f32>() / ROWS as f32).collect();
    let settings = quick(Method::Coverage, &[Budget::Count(12)]);
    let order = |data: &Dataset, centre: f32| {
        let similarity = facility::Similarity::Local { k: 30, tau: 1.0, centre };
        with_context(data, &settings, |ctx| pollster::block_on(facility::order(ctx, 12, similarity)))
            .expect("order")
    };
    let raw = order(&dataset(values.clone(), ROWS, DIM), 0.0);
    for a in [0.5f32, 1.0] {
        let centred: Vec<f32> =
            units.iter().flat_map(|u| u.iter().zip(&mean).map(move |(v, m)| v - a * m)).collect();
        let by_hand = order(&dataset(centred, ROWS, DIM), 0.0);
        assert_eq!(order(&dataset(values.clone(), ROWS, DIM), a), by_hand, "centre {a}");
        assert_ne!(by_hand, raw, "centre {a} must change the order on this pool");
    }
}

#[test]
fn the_centring_fades_as_the_picks_grow_and_stops_beyond_the_dense_pools() {
    let centre = |n, m| match coverage::seed_similarity(n, m) {
        facility::Similarity::Local { centre, .. } => centre,
        other => panic!("the default seeds with a local kernel, not {other:?}"),
    };
    assert_eq!(centre(2_000, 20), 1.0, "few picks: all of the mean");
    assert!((centre(2_000, 640) - 0.1).abs() < 0.01, "640 picks: 64/640 of it, not {}", centre(2_000, 640));
    assert!(centre(2_000, 100) > centre(2_000, 400), "fades with the budget");
    assert_eq!(centre(facility::DENSE_MAX + 1, 20), 0.0, "the kNN-graph path keeps the raw cosine");
    // The k-means steps through the index keep the raw rows, so every centred pool must
    // take the exact steps, which centre as the seeds do.
    assert!(
        labelplan_select::Scale::default().exact_rows >= facility::DENSE_MAX,
        "a centred pool would step through the index"
    );
}

#[test]
fn a_large_budget_takes_its_seeds_and_a_small_one_moves_them() {
    // Above REFINE_MAX_SHARE of the pool the picks are the seeds in their order; below it
    // the k-means steps move some seeds to their cluster's most central member.
    const ROWS: usize = 200;
    let data = dataset(labelplan_testkit::blobs(47, ROWS, 8, 4, 0.6), ROWS, 8);
    let picks = |m: usize| {
        let settings = quick(Method::Coverage, &[Budget::Count(m as u64)]);
        with_context(&data, &settings, |ctx| {
            pollster::block_on(async {
                let seeds = facility::order(ctx, ROWS, coverage::seed_similarity(ROWS, m)).await?;
                let picks = coverage::candidates(ctx, m, &seeds).await?;
                Ok::<_, SelectError>((seeds, picks))
            })
        })
        .expect("picks")
    };
    let large = (coverage::REFINE_MAX_SHARE * ROWS as f64) as usize + 1;
    let (seeds, taken) = picks(large);
    assert_eq!(taken, seeds, "{large} of {ROWS}: the seeding order itself");
    let (seeds, moved) = picks(10);
    assert_ne!(moved[..10], seeds[..10], "10 of {ROWS}: the steps move a seed");
    assert_eq!(moved.len(), seeds.len(), "every row stays a candidate");
}

#[test]
fn a_large_budget_seeds_on_the_raw_cosine_only_where_the_rows_scales_are_even() {
    const ROWS: usize = 400;
    // Noise of one width everywhere: every row's neighbourhood is about as wide.
    let even = blobs(31, 4, ROWS, 1.0, |i| (i % 4, 0.3));
    // Half the rows in tight blobs, half in wide ones.
    let mixed = blobs(31, 4, ROWS, 1.0, |i| (i % 4, if i < ROWS / 2 { 0.01 } else { 0.5 }));
    let large = (coverage::REFINE_MAX_SHARE * ROWS as f64) as usize + 1;
    let seeding = |data: &Dataset, m: usize| {
        with_context(data, &quick(Method::Coverage, &[Budget::Count(m as u64)]), |ctx| {
            pollster::block_on(async {
                let spread = coverage::scale_spread(&*ctx.knn().await?, ctx.n);
                Ok::<_, SelectError>((spread, coverage::seeding(ctx, m).await?))
            })
        })
        .expect("seeding")
    };
    let (spread, similarity) = seeding(&even, large);
    assert!(spread < coverage::EVEN_SPREAD, "one noise width reads as even, not {spread}");
    assert_eq!(similarity, facility::Similarity::Cosine(1), "{large} of {ROWS} rows");
    let (_, similarity) = seeding(&even, large - 1);
    assert_eq!(similarity, coverage::seed_similarity(ROWS, large - 1), "at most 15%: the local kernel");
    let (spread, similarity) = seeding(&mixed, large);
    assert!(spread > coverage::EVEN_SPREAD, "two noise widths read as uneven, not {spread}");
    assert_eq!(similarity, coverage::seed_similarity(ROWS, large), "uneven scales: the local kernel");
    // On the even pool the default's large budget is facility location's pick.
    let budget = [Budget::Count(large as u64)];
    let picks = |method| plan(&even, &quick(method, &budget)).expect("plan").budgets[0].rows.clone();
    assert_eq!(picks(Method::Coverage), picks(Method::FacilityLocation));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_method_any_budget_gives_valid_picks(
        seed in 0u64..1000,
        rows in 5usize..60,
        dim in 1usize..6,
        budget in 1u64..80,
        method in prop::sample::select(Method::ALL.to_vec()),
        every in 2usize..6,
    ) {
        let mut data = dataset(random_matrix(seed, rows, dim), rows, dim);
        let flags: Vec<String> = (0..rows).map(|i| if i % every == 0 { "1".into() } else { "0".into() }).collect();
        let labeled: Vec<bool> = flags.iter().map(|f| f == "1").collect();
        data.columns.push(MetaColumn { name: "done".into(), values: flags });
        let settings = Settings {
            seed,
            labeled_column: Some("done".into()),
            ..quick(method, &[Budget::Count(budget)])
        };
        let p = plan(&data, &settings).expect("plan");
        assert_valid(&p, &labeled);
        let eligible = labeled.iter().filter(|l| !**l).count();
        prop_assert_eq!(p.budgets[0].count, (budget as usize).min(eligible));
    }
}
