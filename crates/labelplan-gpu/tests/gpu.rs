//! GPU kernels against their CPU twins. These tests need a WebGPU adapter (lavapipe
//! here) and fail, never skip, when none is found.
#![cfg(not(target_arch = "wasm32"))]

use labelplan_gpu::{kernels, GpuContext, GpuOptions};
use labelplan_testkit::{close, random_matrix, NORM_REL_TOL};

fn context(options: GpuOptions) -> GpuContext {
    pollster::block_on(GpuContext::new(options)).unwrap_or_else(|e| {
        panic!("a GPU adapter is required for these tests (install mesa-vulkan-drivers for lavapipe): {e}")
    })
}

/// Shapes straddling the workgroup size (64) and odd dims.
const ROWS: &[usize] = &[1, 63, 64, 65, 1000];
const DIMS: &[usize] = &[1, 3, 64, 65, 383];

fn assert_norms_match(ctx: &GpuContext, rows: usize, dim: usize, seed: u64) {
    let x = random_matrix(seed, rows, dim);
    let gpu = pollster::block_on(kernels::row_norms::row_norms(ctx, &x, rows, dim)).expect("gpu norms");
    let cpu = labelplan_cpu::row_norms(&x, rows, dim);
    assert_eq!(gpu.len(), rows);
    for (i, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
        assert!(close(*g, *c, NORM_REL_TOL), "{rows}×{dim} row {i}: gpu {g} cpu {c}");
    }
}

#[test]
fn every_shader_validates_with_naga() {
    for (name, source) in kernels::SHADERS {
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}

#[test]
fn row_norms_match_cpu_on_straddling_shapes() {
    let ctx = context(GpuOptions::default());
    for (k, &rows) in ROWS.iter().enumerate() {
        for (j, &dim) in DIMS.iter().enumerate() {
            assert_norms_match(&ctx, rows, dim, (k * 10 + j) as u64);
        }
    }
}

#[test]
fn row_norms_match_cpu_when_forced_into_many_tiles() {
    // 4 KiB bindings: 1000 rows × 65 dims (260 B a row) become 67 tiles of 15 rows.
    let ctx = context(GpuOptions { max_binding_bytes: Some(4096) });
    assert_eq!(ctx.binding_bytes(), 4096);
    assert_norms_match(&ctx, 1000, 65, 7);
    assert_norms_match(&ctx, 65, 383, 8);
}

#[test]
fn a_row_wider_than_a_binding_is_an_error_not_a_panic() {
    let ctx = context(GpuOptions { max_binding_bytes: Some(64) });
    let x = random_matrix(1, 2, 17);
    let err = pollster::block_on(kernels::row_norms::row_norms(&ctx, &x, 2, 17)).expect_err("too wide");
    assert!(err.to_string().contains("larger than a storage binding"), "{err}");
}
