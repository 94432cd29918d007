//! Whole plans on the GPU backend against the same plans on the CPU backend.
#![cfg(not(target_arch = "wasm32"))]

use std::sync::atomic::AtomicBool;

use labelplan_core::backend::Backend;
use labelplan_core::plan::{Budget, InputInfo, Method, Plan, Settings, Storage};
use labelplan_core::read::{read_path, LoadOptions};
use labelplan_core::Dataset;
use labelplan_cpu::CpuBackend;
use labelplan_gpu::{GpuBackend, GpuContext, GpuOptions};
use labelplan_select::map::pca_map;
use labelplan_select::Engine;
use labelplan_testkit::{fixture, random_matrix, MAP_ABS_TOL};
use pollster::block_on;

fn gpu(options: GpuOptions) -> GpuBackend {
    let ctx = block_on(GpuContext::new(options)).unwrap_or_else(|e| {
        panic!("a GPU adapter is required for these tests (install mesa-vulkan-drivers for lavapipe): {e}")
    });
    GpuBackend::new(ctx)
}

fn plan<B: Backend>(backend: &B, data: &Dataset, settings: &Settings) -> Plan {
    block_on(Engine::new(backend).run(
        data,
        InputInfo::unhashed(data),
        settings,
        &mut |_| {},
        &AtomicBool::new(false),
    ))
    .unwrap_or_else(|e| panic!("{} on {}: {e}", settings.method, backend.name()))
}

/// 8 tight, far-apart blobs of 40 rows in 24 dims.
fn blobs() -> Dataset {
    let (k, per, dim) = (8, 40, 24);
    let centers = random_matrix(21, k, dim);
    let noise = random_matrix(22, k * per, dim);
    let values = (0..k * per)
        .flat_map(|i| (0..dim).map(move |c| (i, c)))
        .map(|(i, c)| centers[(i % k) * dim + c] * 10.0 + noise[i * dim + c] * 2.0)
        .collect();
    Dataset::from_matrix("blobs", values, k * per, dim)
}

fn settings(method: Method) -> Settings {
    Settings {
        method,
        budgets: vec![Budget::Count(8), Budget::Percent(10.0)],
        curve: vec![Budget::Percent(5.0), Budget::Percent(20.0), Budget::Percent(40.0)],
        epochs: 5,
        ..Settings::default()
    }
}

/// Coverage distances (cosine) of a GPU plan may differ from the CPU plan's by this.
const COVERAGE_TOL: f64 = 1e-3;
/// Pseudo-label probe accuracy (points) of a GPU plan may differ by this.
const QUALITY_TOL: f64 = 1.0;

#[test]
fn every_method_picks_the_same_items_on_gpu_as_on_cpu_for_well_separated_blobs() {
    let data = blobs();
    let whole = gpu(GpuOptions::default());
    // 4 KiB bindings: the 320 × 24 input spans 8 tiles.
    let tiled = gpu(GpuOptions { max_binding_bytes: Some(4096) });
    for m in Method::ALL {
        let cpu = plan(&CpuBackend, &data, &settings(m));
        for g in [&whole, &tiled] {
            let p = plan(g, &data, &settings(m));
            for (a, b) in cpu.budgets.iter().zip(&p.budgets) {
                assert_eq!(a.rows, b.rows, "{m} at {}: GPU picks differ", a.budget);
            }
            assert_eq!(cpu.ranked, p.ranked, "{m}");
            assert_eq!(cpu.cluster, p.cluster, "{m}: clusters");
            assert!(p.manifest.backend.starts_with("GPU"), "{}", p.manifest.backend);
        }
    }
}

#[test]
fn an_f16_pool_plans_on_the_gpu_as_on_the_cpu() {
    let data = blobs();
    let g = gpu(GpuOptions::default());
    for m in [Method::Coverage, Method::Elfs, Method::KCenter] {
        let half = Settings { storage: Storage::F16, ..settings(m) };
        let cpu = plan(&CpuBackend, &data, &half);
        let p = plan(&g, &data, &half);
        assert_eq!(p.manifest.settings.storage, Storage::F16, "the manifest records the storage");
        for (a, b) in cpu.budgets.iter().zip(&p.budgets) {
            assert_eq!(a.rows, b.rows, "{m} at {}: GPU picks differ", a.budget);
        }
        assert_eq!(cpu.ranked, p.ranked, "{m}");
        // Blobs this far apart: rounding to f16 changes none of the first budget's picks
        // (one per blob); deeper in the ranking, near-ties within a blob may swap.
        let full = plan(&CpuBackend, &data, &settings(m));
        assert_eq!(full.budgets[0].rows, cpu.budgets[0].rows, "{m}: f16 vs f32");
    }
}

#[test]
fn digits_plans_on_gpu_are_within_tolerance_of_cpu() {
    let digits = read_path(&fixture("digits/embeddings.npy"), &LoadOptions::default()).expect("digits");
    let g = gpu(GpuOptions::default());
    for m in [Method::Coverage, Method::Elfs] {
        let cpu = plan(&CpuBackend, &digits, &settings(m));
        let p = plan(&g, &digits, &settings(m));
        for (a, b) in cpu.curve.iter().zip(&p.curve) {
            assert_eq!(a.count, b.count);
            let (ca, cb) = (&a.coverage, &b.coverage);
            assert!(
                (ca.mean_distance - cb.mean_distance).abs() <= COVERAGE_TOL,
                "{m} {}: {ca:?} vs {cb:?}",
                a.count
            );
            assert!(
                (ca.p95_distance - cb.p95_distance).abs() <= COVERAGE_TOL,
                "{m} {}: {ca:?} vs {cb:?}",
                a.count
            );
            assert!(
                (a.estimate - b.estimate).abs() <= QUALITY_TOL,
                "{m} {}: estimate {} vs {}",
                a.count,
                a.estimate,
                b.estimate
            );
        }
    }
}

#[test]
fn the_same_plan_twice_on_the_gpu_is_identical() {
    let digits = read_path(&fixture("digits/embeddings.npy"), &LoadOptions::default()).expect("digits");
    let g = gpu(GpuOptions::default());
    let first = plan(&g, &digits, &settings(Method::Elfs));
    let second = plan(&g, &digits, &settings(Method::Elfs));
    assert_eq!(first.ranked, second.ranked);
    assert_eq!(first.score, second.score, "AUM accumulated on the GPU repeats bit for bit");
}

fn picks(p: &Plan) -> labelplan_testkit::SamplePlan {
    labelplan_testkit::SamplePlan {
        budgets: p.budgets.iter().map(|b| b.rows.clone()).collect(),
        ranked: p.ranked.clone(),
    }
}

/// The native CPU plan of the app's built-in sample with default settings, committed so
/// the browser test (tests/web.rs) can compare its GPU plan against it.
const SAMPLE_PLAN: &str = "tests/fixtures/digits_sample_plan.json";

#[test]
fn the_committed_sample_plan_is_the_native_cpu_plan() {
    let root = labelplan_testkit::repo_root();
    let sample = read_path(&root.join("web/sample/digits.npy"), &LoadOptions::default()).expect("sample");
    let cpu = plan(&CpuBackend, &sample, &Settings::default());
    let expected = picks(&cpu);
    let path = root.join(SAMPLE_PLAN);
    if std::env::var_os("LABELPLAN_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&expected).expect("json")).expect("write");
    }
    let committed: labelplan_testkit::SamplePlan =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("committed plan")).expect("parse");
    assert_eq!(committed, expected, "the CPU plan changed: rerun with LABELPLAN_BLESS=1 and review the diff");
    // And the GPU picks the same items natively.
    let on_gpu = plan(&gpu(GpuOptions::default()), &sample, &Settings::default());
    assert_eq!(picks(&on_gpu), expected);
}

/// The 2-D map (random projection, then power iterations on the GPU's products) of the
/// digits fixture on the GPU, untiled and tiled, against the CPU's map.
#[test]
fn the_map_on_the_gpu_matches_the_cpu_map() {
    let data = read_path(&fixture("digits/embeddings.npy"), &LoadOptions::default()).expect("digits");
    let cpu = {
        let m = block_on(CpuBackend.upload(&data.values, data.rows, data.dim)).expect("upload");
        let m = block_on(CpuBackend.normalize_rows(&m)).expect("normalize");
        block_on(pca_map(&CpuBackend, &m, 3)).expect("cpu map")
    };
    for g in [gpu(GpuOptions::default()), gpu(GpuOptions { max_binding_bytes: Some(64 << 10) })] {
        let m = block_on(g.upload(&data.values, data.rows, data.dim)).expect("upload");
        let m = block_on(g.normalize_rows(&m)).expect("normalize");
        let on_gpu = block_on(pca_map(&g, &m, 3)).expect("gpu map");
        let worst = on_gpu.iter().zip(&cpu).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= MAP_ABS_TOL, "largest map difference {worst}");
    }
}
