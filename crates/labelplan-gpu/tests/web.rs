//! The GPU kernels in the browser: headless Chromium with SwiftShader's WebGPU, inside a
//! dedicated worker as in the app. Run by `cargo xtask test` through
//! wasm-bindgen-test-runner; fails when the browser has no WebGPU adapter.
#![cfg(target_arch = "wasm32")]

use labelplan_gpu::{kernels, GpuContext, GpuOptions};
use labelplan_testkit::{close, random_matrix, NORM_REL_TOL};
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
    let gpu = kernels::row_norms::row_norms(ctx, &x, rows, dim).await.expect("gpu norms");
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
