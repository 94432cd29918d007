//! The GPU kernels in the browser: headless Chromium with SwiftShader's WebGPU, inside a
//! dedicated worker as in the app. Run by `cargo xtask test` through
//! wasm-bindgen-test-runner; fails when the browser has no WebGPU adapter.
#![cfg(target_arch = "wasm32")]

use labelplan_gpu::{kernels, GpuContext, GpuOptions};
use labelplan_testkit::{close, random_matrix, NORM_REL_TOL, SIM_ABS_TOL};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

async fn context(options: GpuOptions) -> GpuContext {
    match GpuContext::new(options).await {
        Ok(ctx) => ctx,
        Err(e) => panic!("a WebGPU adapter is required (Chromium with the SwiftShader flags): {e}"),
    }
}

async fn assert_norms_match(ctx: &GpuContext, rows: usize, dim: usize, seed: u64) {
    let x = random_matrix(seed, rows, dim);
    let gpu = kernels::normalize::row_norms(ctx, &x, rows, dim).await.expect("gpu norms");
    let cpu = labelplan_cpu::row_norms(&x, rows, dim);
    assert_eq!(gpu.len(), rows);
    for (i, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
        assert!(close(*g, *c, NORM_REL_TOL), "{rows}×{dim} row {i}: gpu {g} cpu {c}");
    }
}

#[wasm_bindgen_test]
async fn row_norms_match_cpu_in_the_browser() {
    let ctx = context(GpuOptions::default()).await;
    for (k, &(rows, dim)) in [(1, 1), (63, 3), (64, 64), (65, 65), (1000, 383)].iter().enumerate() {
        assert_norms_match(&ctx, rows, dim, k as u64).await;
    }
}

#[wasm_bindgen_test]
async fn row_norms_match_cpu_in_the_browser_with_forced_tiles() {
    let ctx = context(GpuOptions { max_binding_bytes: Some(4096) }).await;
    assert_norms_match(&ctx, 1000, 65, 7).await;
}

/// f16 storage (two halves per u32, widened in the shader) in the browser: the nearest
/// similarities equal the CPU's on the same rounded values.
#[wasm_bindgen_test]
async fn f16_storage_nearest_matches_cpu_on_rounded_values_in_the_browser() {
    use labelplan_core::backend::Backend;
    use labelplan_cpu::CpuBackend;
    use labelplan_gpu::{GpuMatrix, Storage};

    let ctx = context(GpuOptions::default()).await;
    let (rows, refs, dim) = (130, 65, 67);
    let rounded = |seed, n| -> Vec<f32> {
        random_matrix(seed, n, dim).iter().map(|&v| half::f16::from_f32(v).to_f32()).collect()
    };
    let (a, b) = (rounded(1, rows), rounded(2, refs));
    let ga = GpuMatrix::upload_as(&ctx, &a, rows, dim, Storage::F16).expect("upload");
    let gb = GpuMatrix::upload_as(&ctx, &b, refs, dim, Storage::F16).expect("upload");
    let (_, sim) = kernels::similarity::nearest(&ctx, &ga, &gb).await.expect("gpu nearest");
    let ca = CpuBackend.upload(&a, rows, dim).await.expect("upload");
    let cb = CpuBackend.upload(&b, refs, dim).await.expect("upload");
    let want = CpuBackend.nearest(&ca, &cb).await.expect("cpu nearest");
    for (i, (g, c)) in sim.iter().zip(&want.sim).enumerate() {
        // Rows are not unit here (values in ±1, 67 dims): scale the tolerance.
        assert!((g - c).abs() <= SIM_ABS_TOL * c.abs().max(1.0) * 4.0, "row {i}: gpu {g} cpu {c}");
    }
}

/// The app's built-in sample planned with default settings on the GPU, inside a worker,
/// picks exactly the items of the native CPU plan (committed by the native test
/// `the_committed_sample_plan_is_the_native_cpu_plan`).
#[wasm_bindgen_test]
async fn the_sample_plan_on_webgpu_in_a_worker_matches_the_native_cpu_plan() {
    use labelplan_core::backend::Backend;
    use labelplan_core::plan::{InputInfo, Settings};
    use labelplan_core::read::{read_embeddings, source::Unwatched, Input};

    const SAMPLE: &[u8] = include_bytes!("../../../web/sample/digits.npy");
    let input = Input {
        name: "digits.npy".into(),
        len: SAMPLE.len() as u64,
        reader: futures::io::Cursor::new(SAMPLE),
    };
    let data =
        read_embeddings(input, &labelplan_core::LoadOptions::browser(), &Unwatched).await.expect("sample");
    let gpu = labelplan_gpu::GpuBackend::new(context(GpuOptions::default()).await);
    let plan = labelplan_select::Engine::new(&gpu)
        .run(
            &data,
            InputInfo::unhashed(&data),
            &Settings::default(),
            &mut |_| {},
            &std::sync::atomic::AtomicBool::new(false),
        )
        .await
        .expect("plan");
    assert!(plan.manifest.backend.starts_with("GPU"), "{}", gpu.name());
    let native: labelplan_testkit::SamplePlan =
        serde_json::from_str(include_str!("../../../tests/fixtures/digits_sample_plan.json"))
            .expect("committed plan");
    let here = labelplan_testkit::SamplePlan {
        budgets: plan.budgets.iter().map(|b| b.rows.clone()).collect(),
        ranked: plan.ranked.clone(),
    };
    assert_eq!(here, native);
}
