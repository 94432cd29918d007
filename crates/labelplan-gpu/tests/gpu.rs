//! GPU kernels against their CPU twins (`CpuBackend`). These tests need a WebGPU adapter
//! (lavapipe here) and fail, never skip, when none is found. Shapes straddle the
//! workgroup sizes; "tiled" contexts cap a storage binding at a few KiB so every input
//! spans many buffers and dispatches.
#![cfg(not(target_arch = "wasm32"))]

use labelplan_core::backend::{Backend, Dense, Head, HeadStep, Record};
use labelplan_core::layout::Epochs;
use labelplan_cpu::CpuBackend;
use labelplan_gpu::{kernels, GpuBackend, GpuContext, GpuMatrix, GpuOptions, Storage};
use labelplan_select::map::membership_graph;
use labelplan_testkit::{
    close, random_matrix, HALF_SIM_ABS_TOL, HEAD_REL_TOL, LAYOUT_ABS_TOL, NORM_REL_TOL, SIM_ABS_TOL,
    SUM_REL_TOL,
};
use pollster::block_on;

fn context(options: GpuOptions) -> GpuContext {
    block_on(GpuContext::new(options)).unwrap_or_else(|e| {
        panic!("a GPU adapter is required for these tests (install mesa-vulkan-drivers for lavapipe): {e}")
    })
}

fn gpu() -> GpuBackend {
    GpuBackend::new(context(GpuOptions::default()))
}

/// A GPU whose storage bindings hold 4 KiB: a 65-dim matrix is cut into 15-row tiles.
fn tiled() -> GpuBackend {
    GpuBackend::new(context(GpuOptions { max_binding_bytes: Some(4096) }))
}

/// Shapes straddling the workgroup size (64) and odd dims.
const ROWS: &[usize] = &[1, 63, 64, 65, 300];
const DIMS: &[usize] = &[1, 3, 64, 65, 383];

/// Unit rows (the engine's input to every kernel) on both backends.
fn unit(
    seed: u64,
    rows: usize,
    dim: usize,
    g: &GpuBackend,
) -> (ndarray::Array2<f32>, labelplan_gpu::GpuMatrix) {
    unit_as(seed, rows, dim, g, Storage::F32)
}

/// Unit rows held as `storage` on both backends (the CPU holds the f16-rounded values).
fn unit_as(
    seed: u64,
    rows: usize,
    dim: usize,
    g: &GpuBackend,
    storage: Storage,
) -> (ndarray::Array2<f32>, labelplan_gpu::GpuMatrix) {
    pool_as(&random_matrix(seed, rows, dim), rows, dim, g, storage)
}

/// `x` normalised and held as `storage` on both backends, as a plan's pool.
fn pool_as(
    x: &[f32],
    rows: usize,
    dim: usize,
    g: &GpuBackend,
    storage: Storage,
) -> (ndarray::Array2<f32>, labelplan_gpu::GpuMatrix) {
    let c = block_on(CpuBackend.upload_normalized(x, rows, dim, storage)).expect("cpu upload");
    let m = block_on(g.upload_normalized(x, rows, dim, storage)).expect("gpu upload");
    assert_eq!(m.storage(), storage);
    (c, m)
}

fn all_rows(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

#[test]
fn every_shader_validates_with_naga() {
    for (name, source) in kernels::shaders() {
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
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
            let x = random_matrix((k * 10 + j) as u64, rows, dim);
            let gpu = block_on(kernels::normalize::row_norms(&ctx, &x, rows, dim)).expect("gpu norms");
            let cpu = labelplan_cpu::row_norms(&x, rows, dim);
            for (i, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
                assert!(close(*g, *c, NORM_REL_TOL), "{rows}×{dim} row {i}: gpu {g} cpu {c}");
            }
        }
    }
}

#[test]
fn uploads_larger_than_a_piece_arrive_whole_in_both_storages() {
    // 3 dims pad to 16 bytes a row (8 as f16): 1.2M rows are 3 pieces of f32, 2 of f16.
    let (rows, dim) = (1_200_000, 3);
    let piece = labelplan_gpu::UPLOAD_PIECE / 16;
    let values: Vec<f32> = (0..rows * dim).map(|i| (i % 2048) as f32 - 1024.0).collect();
    let ctx = context(GpuOptions::default());
    let probe: Vec<u32> =
        [0, piece - 1, piece, 2 * piece, 2 * piece + 1, rows - 1].map(|r| r as u32).to_vec();
    let want: Vec<f32> =
        probe.iter().flat_map(|&r| values[r as usize * dim..(r as usize + 1) * dim].to_vec()).collect();
    for storage in [Storage::F32, Storage::F16] {
        let m = GpuMatrix::upload_as(&ctx, &values, rows, dim, storage).expect("upload");
        // Integers up to 1024 are exact in f16 too.
        assert_eq!(block_on(m.read_rows(&ctx, &probe)).expect("read"), want, "{storage:?}");
    }
}

#[test]
fn a_row_wider_than_a_binding_is_an_error_not_a_panic() {
    let g = GpuBackend::new(context(GpuOptions { max_binding_bytes: Some(64) }));
    let err = block_on(g.upload(&random_matrix(1, 2, 17), 2, 17)).expect_err("too wide");
    assert!(err.to_string().contains("larger than a storage binding"), "{err}");
}

/// Normalised rows read back equal the CPU's within the norm tolerance.
fn check_normalize(g: &GpuBackend) {
    for (k, &rows) in ROWS.iter().enumerate() {
        for (j, &dim) in DIMS.iter().enumerate() {
            let (c, m) = unit((k * 7 + j) as u64, rows, dim, g);
            let back = block_on(g.read_rows(&m, &all_rows(rows))).expect("read");
            for (i, (a, b)) in back.iter().zip(c.iter()).enumerate() {
                assert!((a - b).abs() <= NORM_REL_TOL, "{rows}×{dim} value {i}: gpu {a} cpu {b}");
            }
            // Rows read in any order.
            let picked = block_on(g.read_rows(&m, &[(rows - 1) as u32, 0])).expect("read");
            assert_eq!(&picked[..dim], &back[(rows - 1) * dim..]);
        }
    }
}

#[test]
fn normalize_and_read_rows_match_cpu() {
    check_normalize(&gpu());
    check_normalize(&tiled());
}

fn check_dot_nearest(g: &GpuBackend) {
    for &(a_rows, b_rows, dim) in &[(1, 1, 1), (63, 65, 3), (64, 64, 64), (65, 20, 65), (300, 129, 383)] {
        let (ca, ga) = unit(a_rows as u64, a_rows, dim, g);
        let (cb, gb) = unit(b_rows as u64 + 100, b_rows, dim, g);
        let want = block_on(CpuBackend.dot(&ca, &cb)).expect("cpu dot");
        let got = block_on(g.dot(&ga, &gb)).expect("gpu dot");
        assert_eq!(got.len(), want.len());
        for (i, (x, y)) in got.iter().zip(&want).enumerate() {
            assert!((x - y).abs() <= SIM_ABS_TOL, "dot {a_rows}×{b_rows}×{dim} entry {i}: gpu {x} cpu {y}");
        }
        let near = block_on(g.nearest(&ga, &gb)).expect("gpu nearest");
        let cpu_near = block_on(CpuBackend.nearest(&ca, &cb)).expect("cpu nearest");
        for i in 0..a_rows {
            let j = near.index[i] as usize;
            // The GPU's pick is a best one: its CPU similarity ties the CPU's best.
            assert!((want[i * b_rows + j] - cpu_near.sim[i]).abs() <= SIM_ABS_TOL, "nearest row {i}");
            assert!((near.sim[i] - cpu_near.sim[i]).abs() <= SIM_ABS_TOL);
        }
    }
}

#[test]
fn dot_and_nearest_match_cpu() {
    check_dot_nearest(&gpu());
    check_dot_nearest(&tiled());
}

fn check_top_k(g: &GpuBackend) {
    for &(rows, dim, k) in &[(2, 3, 1), (63, 5, 20), (65, 64, 20), (300, 65, 7), (130, 383, 32)] {
        let (c, m) = unit(rows as u64 * 3, rows, dim, g);
        // Every third row a member of the previous row's duplicate group.
        let group: Vec<u32> = (0..rows as u32).map(|i| if i % 3 == 2 { i - 1 } else { i }).collect();
        let kk = k.min(rows - 1);
        let want = block_on(CpuBackend.top_k(&c, kk, &group)).expect("cpu");
        let got = block_on(g.top_k(&m, kk, &group)).expect("gpu");
        let sims = block_on(CpuBackend.dot(&c, &c)).expect("dot");
        for i in 0..rows {
            for (slot, ((gi, gs), (_, cs))) in got.of(i).zip(want.of(i)).enumerate() {
                if cs == f32::NEG_INFINITY {
                    assert_eq!((gi, gs), (u32::MAX, f32::NEG_INFINITY), "row {i} slot {slot}: an empty slot");
                    continue;
                }
                assert_ne!(group[gi as usize], group[i], "row {i}: its own group");
                assert!(
                    (gs - cs).abs() <= SIM_ABS_TOL,
                    "{rows}×{dim} k={kk} row {i} slot {slot}: gpu {gs} cpu {cs}"
                );
                assert!(
                    (sims[i * rows + gi as usize] - cs).abs() <= SIM_ABS_TOL,
                    "row {i} slot {slot}: index {gi}"
                );
            }
        }
    }
}

#[test]
fn top_k_matches_cpu_and_skips_duplicate_groups() {
    check_top_k(&gpu());
    check_top_k(&tiled());
}

/// Queries against another matrix, with groups shared across the two sides.
fn check_top_k_between(g: &GpuBackend) {
    for &(q_rows, r_rows, dim, k) in &[(1, 1, 3, 1), (65, 63, 5, 20), (64, 300, 65, 7), (130, 129, 383, 32)] {
        let (cq, gq) = unit(q_rows as u64 * 5, q_rows, dim, g);
        let (cr, gr) = unit(r_rows as u64 * 5 + 1, r_rows, dim, g);
        let query_group: Vec<u32> = (0..q_rows as u32).map(|i| i % 7).collect();
        let ref_group: Vec<u32> = (0..r_rows as u32).map(|i| i % 5).collect();
        let want = block_on(CpuBackend.top_k_between(&cq, &cr, k, &query_group, &ref_group)).expect("cpu");
        let got = block_on(g.top_k_between(&gq, &gr, k, &query_group, &ref_group)).expect("gpu");
        let sims = block_on(CpuBackend.dot(&cq, &cr)).expect("dot");
        for i in 0..q_rows {
            for (slot, ((gi, gs), (_, cs))) in got.of(i).zip(want.of(i)).enumerate() {
                if cs == f32::NEG_INFINITY {
                    assert_eq!((gi, gs), (u32::MAX, f32::NEG_INFINITY), "row {i} slot {slot}: an empty slot");
                    continue;
                }
                assert_ne!(ref_group[gi as usize], query_group[i], "row {i}: its own group");
                assert!((gs - cs).abs() <= SIM_ABS_TOL, "{q_rows}×{r_rows}×{dim} row {i} slot {slot}");
                assert!((sims[i * r_rows + gi as usize] - cs).abs() <= SIM_ABS_TOL, "row {i} slot {slot}");
            }
        }
    }
}

#[test]
fn top_k_between_two_matrices_matches_cpu() {
    check_top_k_between(&gpu());
    check_top_k_between(&tiled());
}

fn check_gather(g: &GpuBackend) {
    for &(rows, dim) in &[(1, 1), (65, 3), (300, 65), (130, 383)] {
        let (c, m) = unit(rows as u64 + 11, rows, dim, g);
        // Out of order, repeated, and every tile touched.
        let pick: Vec<u32> = (0..rows as u32 * 2).map(|i| (i * 7 + 3) % rows as u32).rev().collect();
        let got = block_on(g.gather(&m, &pick)).expect("gpu gather");
        let want = block_on(CpuBackend.gather(&c, &pick)).expect("cpu gather");
        assert_eq!(g.shape(&got), (pick.len(), dim));
        let back = block_on(g.read_rows(&got, &all_rows(pick.len()))).expect("read");
        let direct = block_on(g.read_rows(&m, &pick)).expect("read");
        assert_eq!(back, direct, "{rows}×{dim}: gathered rows are the source rows, bit for bit");
        for (a, b) in back.iter().zip(want.iter()) {
            assert!((a - b).abs() <= NORM_REL_TOL);
        }
    }
    let m = block_on(g.upload(&[1.0, 2.0], 1, 2)).expect("upload");
    let err = block_on(g.gather(&m, &[1])).expect_err("no row 1");
    assert!(err.to_string().contains("row 1 does not exist"), "{err}");
}

#[test]
fn gather_copies_rows_across_tiles() {
    check_gather(&gpu());
    check_gather(&tiled());
}

fn check_nearest_among(g: &GpuBackend) {
    for &(rows, refs, dim, per_row) in &[(1, 1, 1, 1), (65, 63, 5, 4), (300, 129, 65, 21), (64, 40, 383, 3)] {
        let (c, m) = unit(rows as u64 + 21, rows, dim, g);
        let (cr, gr) = unit(refs as u64 + 22, refs, dim, g);
        // Some slots empty, one row with none at all, candidates out of order.
        let candidates: Vec<u32> =
            (0..rows * per_row)
                .map(|s| {
                    if s % 5 == 3 || s / per_row == rows / 2 {
                        u32::MAX
                    } else {
                        ((s * 13 + 7) % refs) as u32
                    }
                })
                .collect();
        let want = block_on(CpuBackend.nearest_among(&c, &cr, &candidates, per_row)).expect("cpu");
        let got = block_on(g.nearest_among(&m, &gr, &candidates, per_row)).expect("gpu");
        let sims = block_on(CpuBackend.dot(&c, &cr)).expect("dot");
        for i in 0..rows {
            let slots = &candidates[i * per_row..(i + 1) * per_row];
            if slots.iter().all(|&s| s == u32::MAX) {
                assert_eq!(
                    (got.index[i], got.sim[i]),
                    (u32::MAX, f32::NEG_INFINITY),
                    "row {i}: no candidates"
                );
                assert_eq!((want.index[i], want.sim[i]), (u32::MAX, f32::NEG_INFINITY));
                continue;
            }
            let j = got.index[i];
            assert!(slots.contains(&j), "{rows}×{dim} row {i}: {j} is not a candidate");
            assert!(
                (sims[i * refs + j as usize] - want.sim[i]).abs() <= SIM_ABS_TOL,
                "row {i}: a best candidate"
            );
            assert!((got.sim[i] - want.sim[i]).abs() <= SIM_ABS_TOL, "row {i}");
        }
    }
    // Ties go to the lowest reference, whatever the slot order.
    let m = block_on(g.upload(&[1.0, 0.0], 1, 2)).expect("upload");
    let r = block_on(g.upload(&[0.0, 1.0, 1.0, 0.0, 1.0, 0.0], 3, 2)).expect("upload");
    let got = block_on(g.nearest_among(&m, &r, &[2, 0, 1], 3)).expect("gpu");
    assert_eq!((got.index, got.sim), (vec![1], vec![1.0]));
}

#[test]
fn nearest_among_candidates_matches_cpu() {
    check_nearest_among(&gpu());
    check_nearest_among(&tiled());
}

fn check_weighted_sums(g: &GpuBackend) {
    for (k, &rows) in ROWS.iter().enumerate() {
        for (j, &dim) in DIMS.iter().enumerate() {
            let (c, m) = unit((k * 5 + j) as u64, rows, dim, g);
            for columns in [1, 2, 3] {
                // Mixed signs: the tolerance scales with Σ|w|·|x|, not the (cancelling) sum.
                let w = random_matrix(99 + columns as u64, rows, columns);
                let want = block_on(CpuBackend.weighted_sums(&c, &w, columns)).expect("cpu");
                let got = block_on(g.weighted_sums(&m, &w, columns)).expect("gpu");
                assert_eq!(got.len(), columns * dim);
                for col in 0..columns {
                    for d in 0..dim {
                        let scale: f32 = (0..rows).map(|i| (w[i * columns + col] * c[[i, d]]).abs()).sum();
                        let (x, y) = (got[col * dim + d], want[col * dim + d]);
                        assert!(
                            (x - y).abs() <= SUM_REL_TOL * scale.max(1.0),
                            "{rows}×{dim} column {col} dim {d}: gpu {x} cpu {y}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn weighted_sums_match_cpu() {
    check_weighted_sums(&gpu());
    check_weighted_sums(&tiled());
}

/// Unit rows as f32 values, the same rounded to f16, and the rounded ones on the CPU.
fn half_inputs(seed: u64, rows: usize, dim: usize) -> (Vec<f32>, ndarray::Array2<f32>, ndarray::Array2<f32>) {
    let x = random_matrix(seed, rows, dim);
    let unit =
        block_on(CpuBackend.normalize_rows(&block_on(CpuBackend.upload(&x, rows, dim)).expect("upload")))
            .expect("normalize");
    let values: Vec<f32> = unit.iter().copied().collect();
    let rounded = unit.mapv(|v| half::f16::from_f32(v).to_f32());
    (values, unit, rounded)
}

/// f16 storage in the similarity kernels: against the CPU on the same rounded values the
/// f32 tolerance holds (the kernel widens and adds in f32); against the unrounded f32
/// values, `HALF_SIM_ABS_TOL` holds.
fn check_half_similarity(ctx: &GpuContext) {
    for &(a_rows, b_rows, dim) in &[(1, 1, 1), (63, 65, 3), (64, 64, 64), (65, 20, 65), (300, 129, 383)] {
        let (av, a32, a16) = half_inputs(a_rows as u64, a_rows, dim);
        let (bv, b32, b16) = half_inputs(b_rows as u64 + 100, b_rows, dim);
        let ga = GpuMatrix::upload_as(ctx, &av, a_rows, dim, Storage::F16).expect("upload f16");
        let gb = GpuMatrix::upload_as(ctx, &bv, b_rows, dim, Storage::F16).expect("upload f16");
        assert_eq!(ga.storage(), Storage::F16);
        let back = block_on(ga.read_rows(ctx, &all_rows(a_rows))).expect("read f16");
        assert_eq!(back, a16.iter().copied().collect::<Vec<f32>>(), "f16 rows read back rounded");

        let got = block_on(kernels::similarity::dot(ctx, &ga, &gb)).expect("gpu dot f16");
        let rounded = block_on(CpuBackend.dot(&a16, &b16)).expect("cpu dot");
        let exact = block_on(CpuBackend.dot(&a32, &b32)).expect("cpu dot");
        for (i, g) in got.iter().enumerate() {
            assert!((g - rounded[i]).abs() <= SIM_ABS_TOL, "dot {a_rows}×{b_rows}×{dim} entry {i}");
            assert!((g - exact[i]).abs() <= HALF_SIM_ABS_TOL, "dot vs f32 {a_rows}×{b_rows}×{dim} entry {i}");
        }
        let (index, sim) = block_on(kernels::similarity::nearest(ctx, &ga, &gb)).expect("gpu nearest f16");
        let best = block_on(CpuBackend.nearest(&a16, &b16)).expect("cpu nearest");
        let best32 = block_on(CpuBackend.nearest(&a32, &b32)).expect("cpu nearest");
        for i in 0..a_rows {
            let j = index[i] as usize;
            assert!(
                (rounded[i * b_rows + j] - best.sim[i]).abs() <= SIM_ABS_TOL,
                "nearest row {i}: a best pick"
            );
            assert!((sim[i] - best.sim[i]).abs() <= SIM_ABS_TOL);
            assert!((sim[i] - best32.sim[i]).abs() <= HALF_SIM_ABS_TOL, "nearest row {i} vs f32");
        }
        if a_rows > 1 {
            let k = 7.min(a_rows - 1);
            let group = all_rows(a_rows);
            let (_, sims) = block_on(kernels::similarity::top_k(ctx, &ga, &ga, k, &group, &group))
                .expect("gpu top-k f16");
            let want = block_on(CpuBackend.top_k(&a16, k, &group)).expect("cpu top-k");
            for (slot, (g, c)) in sims.iter().zip(&want.sim).enumerate() {
                assert!((g - c).abs() <= SIM_ABS_TOL, "top-k {a_rows}×{dim} slot {slot}: gpu {g} cpu {c}");
            }
        }
    }
}

#[test]
fn f16_storage_similarity_is_within_the_half_tolerance_of_f32() {
    check_half_similarity(&context(GpuOptions::default()));
    check_half_similarity(&context(GpuOptions { max_binding_bytes: Some(4096) }));
}

#[test]
fn normalize_refuses_an_f16_matrix() {
    let ctx = context(GpuOptions::default());
    let x = random_matrix(5, 10, 8);
    let half = GpuMatrix::upload_as(&ctx, &x, 10, 8, Storage::F16).expect("upload");
    let err = block_on(kernels::normalize::normalize_rows(&ctx, &half)).expect_err("f32 only");
    assert!(err.to_string().contains("reads f32 matrices"), "{err}");
}

/// An f16 pool against f32 references (a plan's centroids) and against itself: the
/// GPU agrees with the CPU holding the same rounded pool, in every primitive that
/// compares rows.
fn check_mixed_storage(g: &GpuBackend) {
    for &(rows, refs, dim) in &[(65, 20, 3), (300, 129, 383)] {
        let (cp, gp) = unit_as(rows as u64, rows, dim, g, Storage::F16);
        let back = block_on(g.read_rows(&gp, &all_rows(rows))).expect("read");
        assert_eq!(back, cp.iter().copied().collect::<Vec<f32>>(), "the same rounded pool on both");
        let (cr, gr) = unit(refs as u64 + 1, refs, dim, g);
        for (a, b, ca, cb) in [(&gp, &gr, &cp, &cr), (&gr, &gp, &cr, &cp)] {
            let got = block_on(g.dot(a, b)).expect("gpu dot");
            let want = block_on(CpuBackend.dot(ca, cb)).expect("cpu dot");
            for (i, (x, y)) in got.iter().zip(&want).enumerate() {
                assert!((x - y).abs() <= SIM_ABS_TOL, "dot {rows}×{refs}×{dim} entry {i}: gpu {x} cpu {y}");
            }
        }
        let got = block_on(g.nearest(&gp, &gr)).expect("gpu nearest");
        let want = block_on(CpuBackend.nearest(&cp, &cr)).expect("cpu nearest");
        for i in 0..rows {
            assert!((got.sim[i] - want.sim[i]).abs() <= SIM_ABS_TOL, "nearest row {i}");
        }
        let per_row = 3;
        let cands: Vec<u32> = (0..rows * per_row).map(|i| (i * 7 % refs) as u32).collect();
        let got = block_on(g.nearest_among(&gp, &gr, &cands, per_row)).expect("gpu among");
        let want = block_on(CpuBackend.nearest_among(&cp, &cr, &cands, per_row)).expect("cpu among");
        for i in 0..rows {
            assert!((got.sim[i] - want.sim[i]).abs() <= SIM_ABS_TOL, "nearest_among row {i}");
        }
        let group = all_rows(rows);
        let got = block_on(g.top_k(&gp, 5, &group)).expect("gpu top-k");
        let want = block_on(CpuBackend.top_k(&cp, 5, &group)).expect("cpu top-k");
        for (slot, (x, y)) in got.sim.iter().zip(&want.sim).enumerate() {
            assert!((x - y).abs() <= SIM_ABS_TOL, "top-k slot {slot}: gpu {x} cpu {y}");
        }
    }
}

#[test]
fn an_f16_pool_compares_with_f32_matrices_like_the_cpu() {
    check_mixed_storage(&gpu());
    check_mixed_storage(&tiled());
}

#[test]
fn ties_break_by_lowest_index_like_the_cpu() {
    // Exactly representable rows: 0 and 2 equal, 1 and 3 equal; row 4 between them.
    let v = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
    for g in [gpu(), tiled()] {
        let m = block_on(g.upload(&v, 5, 2)).expect("upload");
        let c = block_on(CpuBackend.upload(&v, 5, 2)).expect("upload");
        let refs = block_on(g.upload(&[1.0, 0.0, 1.0, 0.0], 2, 2)).expect("upload");
        let crefs = block_on(CpuBackend.upload(&[1.0, 0.0, 1.0, 0.0], 2, 2)).expect("upload");
        assert_eq!(block_on(g.nearest(&m, &refs)), block_on(CpuBackend.nearest(&c, &crefs)));
        let group = [0, 1, 2, 3, 4];
        assert_eq!(block_on(g.top_k(&m, 3, &group)), block_on(CpuBackend.top_k(&c, 3, &group)));
        let mut best = block_on(g.upload_vector(&[f32::NEG_INFINITY; 5])).expect("vector");
        let mut cbest = vec![f32::NEG_INFINITY; 5];
        for pick in [4, 0] {
            let got = block_on(g.raise_best(&m, &mut best, pick, true)).expect("gpu");
            let want = block_on(CpuBackend.raise_best(&c, &mut cbest, pick, true)).expect("cpu");
            assert_eq!(got, want, "after pick {pick}");
        }
    }
}

fn check_segment_sums(g: &GpuBackend, storage: Storage) {
    for &(rows, dim, segments) in &[(1, 1, 1), (65, 3, 4), (600, 65, 7), (300, 383, 20)] {
        let seg: Vec<u32> = (0..rows as u32)
            .map(|i| if i % 11 == 5 { u32::MAX } else { (i * 7 + 3) % segments as u32 })
            .collect();
        let (c, m) = unit_as(rows as u64, rows, dim, g, storage);
        let want = block_on(CpuBackend.segment_sums(&c, &seg, segments)).expect("cpu");
        let got = block_on(g.segment_sums(&m, &seg, segments)).expect("gpu");
        assert_eq!(got.len(), want.len());
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(close(*a, *b, SUM_REL_TOL), "{rows}×{dim} into {segments}: entry {i}: gpu {a} cpu {b}");
        }
        assert_eq!(got, block_on(g.segment_sums(&m, &seg, segments)).expect("again"), "repeatable");
    }
}

#[test]
fn segment_sums_match_cpu() {
    for storage in Storage::ALL {
        check_segment_sums(&gpu(), storage);
        check_segment_sums(&tiled(), storage);
    }
}

/// Farthest-first traversal: each step's winner and covering value agree with the CPU.
fn check_raise_best(g: &GpuBackend, storage: Storage) {
    for &(rows, dim) in &[(1, 3), (65, 65), (300, 383), (1000, 16)] {
        let (c, m) = unit_as(rows as u64 + 5, rows, dim, g, storage);
        let mut best = block_on(g.upload_vector(&vec![f32::NEG_INFINITY; rows])).expect("vector");
        let mut cbest = vec![f32::NEG_INFINITY; rows];
        let mut pick = 0u32;
        for step in 0..rows.min(40) {
            let got = block_on(g.raise_best(&m, &mut best, pick, true)).expect("gpu");
            let want = block_on(CpuBackend.raise_best(&c, &mut cbest, pick, true)).expect("cpu");
            match (got, want) {
                (None, None) => break,
                (Some((gi, gv)), Some((ci, cv))) => {
                    assert!((gv - cv).abs() <= SIM_ABS_TOL, "{rows}×{dim} step {step}: gpu {gv} cpu {cv}");
                    // A different row only on a near tie; follow the CPU's path.
                    assert!(
                        gi == ci || (cbest[gi as usize] - cv).abs() <= SIM_ABS_TOL,
                        "step {step}: {gi} vs {ci}"
                    );
                    pick = ci;
                    if gi != ci {
                        return; // paths part on a near tie: the rest is not comparable
                    }
                }
                other => panic!("{rows}×{dim} step {step}: {other:?}"),
            }
        }
        let back = block_on(g.read_vector(&best)).expect("read");
        for (i, (a, b)) in back.iter().zip(&cbest).enumerate() {
            assert!(
                a.is_nan() == b.is_nan() && (a.is_nan() || (a - b).abs() <= SIM_ABS_TOL),
                "best[{i}]: {a} vs {b}"
            );
        }
    }
}

/// Raising only some row ranges (k-center's lists): the same winners per range as the
/// CPU, rows outside the ranges untouched, across tile borders.
fn check_raise_best_in(g: &GpuBackend, storage: Storage) {
    let (rows, dim) = (300, 65);
    let (c, m) = unit_as(77, rows, dim, g, storage);
    let mut best = block_on(g.upload_vector(&vec![f32::NEG_INFINITY; rows])).expect("vector");
    let mut cbest = vec![f32::NEG_INFINITY; rows];
    let ranges = [0..1, 10..80, 80..80, 150..299, 299..300];
    for (step, pick) in [5u32, 200, 60, 299].into_iter().enumerate() {
        let spans: Vec<_> =
            if step == 0 { std::iter::once(0..rows as u32).collect() } else { ranges.to_vec() };
        let got = block_on(g.raise_best_in(&m, &mut best, pick, true, &spans)).expect("gpu");
        let want = block_on(CpuBackend.raise_best_in(&c, &mut cbest, pick, true, &spans)).expect("cpu");
        assert_eq!(got.len(), spans.len());
        for (r, (a, b)) in got.iter().zip(&want).enumerate() {
            match (a, b) {
                (None, None) => {}
                (Some((gi, gv)), Some((ci, cv))) => {
                    assert!((gv - cv).abs() <= SIM_ABS_TOL, "step {step} range {r}: gpu {gv} cpu {cv}");
                    assert!(
                        gi == ci || (cbest[*gi as usize] - cv).abs() <= SIM_ABS_TOL,
                        "step {step} range {r}"
                    );
                    assert!(spans[r].contains(gi), "step {step}: winner {gi} outside range {r}");
                }
                other => panic!("step {step} range {r}: {other:?}"),
            }
        }
        let back = block_on(g.read_vector(&best)).expect("read");
        for (i, (a, b)) in back.iter().zip(&cbest).enumerate() {
            assert!(
                a.is_nan() == b.is_nan() && (a.is_nan() || (a - b).abs() <= SIM_ABS_TOL),
                "step {step} best[{i}]"
            );
        }
    }
    // Rows 1..10 and 80..150 (but the retired first pick, 5) were raised only by the
    // first, full step.
    let back = block_on(g.read_vector(&best)).expect("read");
    let first = block_on(CpuBackend.dot(&c, &c)).expect("dot");
    for i in (1..10).chain(80..150).filter(|&i| i != 5) {
        assert!(
            (back[i] - first[i * rows + 5]).abs() <= SIM_ABS_TOL,
            "row {i} was raised outside its ranges"
        );
    }
}

#[test]
fn raise_best_in_ranges_matches_cpu() {
    for storage in Storage::ALL {
        check_raise_best_in(&gpu(), storage);
        check_raise_best_in(&tiled(), storage);
    }
}

#[test]
fn raise_best_matches_cpu() {
    for storage in Storage::ALL {
        check_raise_best(&gpu(), storage);
        check_raise_best(&tiled(), storage);
    }
}

/// Two labelled blobs in `dim` dims, with a linear or a two-layer head.
fn training_case(dim: usize, hidden: Option<usize>) -> (Vec<f32>, Vec<u32>, Head) {
    let rows = 203;
    let mut x = random_matrix(9, rows, dim);
    let labels: Vec<u32> = (0..rows as u32).map(|i| i % 3).collect();
    for (r, row) in x.chunks_mut(dim).enumerate() {
        row[labels[r] as usize % dim] += 2.0;
    }
    let w =
        |i: usize, o: usize, seed: u64| random_matrix(seed, i, o).iter().map(|v| v * 0.1).collect::<Vec<_>>();
    let layers = match hidden {
        None => vec![Dense { inputs: dim, outputs: 3, weights: w(dim, 3, 1), bias: vec![0.0; 3] }],
        Some(h) => vec![
            Dense { inputs: dim, outputs: h, weights: w(dim, h, 2), bias: vec![0.01; h] },
            Dense { inputs: h, outputs: 3, weights: w(h, 3, 3), bias: vec![0.0; 3] },
        ],
    };
    (x, labels, Head { layers })
}

fn check_training(g: &GpuBackend, dim: usize, hidden: Option<usize>, storage: Storage) {
    let (x, labels, head) = training_case(dim, hidden);
    let rows = labels.len();
    let (c, m) = pool_as(&x, rows, dim, g, storage);
    let (mut ch, mut gh) = (head.clone(), head);
    let mut ct = block_on(CpuBackend.start_training(&c, &labels, 3)).expect("cpu start");
    let mut gt = block_on(g.start_training(&m, &labels, 3)).expect("gpu start");
    let order: Vec<u32> = (0..rows as u32).rev().collect();
    let held_out: Vec<u32> = (0..rows as u32).step_by(2).collect();
    for epoch in 0..3 {
        let step = HeadStep { learning_rate: 0.5, noise_std: 0.05, noise_seed: 40 + epoch as u64 };
        block_on(CpuBackend.train_epoch(&mut ct, &c, &mut ch, &order, 64, step, Some(epoch)))
            .expect("cpu epoch");
        block_on(g.train_epoch(&mut gt, &m, &mut gh, &order, 64, step, Some(epoch))).expect("gpu epoch");
        block_on(CpuBackend.record_predictions(&mut ct, &c, &ch, &held_out, Record::Epoch(epoch)))
            .expect("cpu");
        block_on(g.record_predictions(&mut gt, &m, &gh, &held_out, Record::Epoch(epoch))).expect("gpu");
    }
    block_on(CpuBackend.record_predictions(&mut ct, &c, &ch, &all_rows(rows), Record::Final)).expect("cpu");
    block_on(g.record_predictions(&mut gt, &m, &gh, &all_rows(rows), Record::Final)).expect("gpu");
    for (l, (a, b)) in gh.layers.iter().zip(&ch.layers).enumerate() {
        for (i, (x, y)) in a.weights.iter().chain(&a.bias).zip(b.weights.iter().chain(&b.bias)).enumerate() {
            assert!(close(*x, *y, HEAD_REL_TOL), "dim {dim} layer {l} parameter {i}: gpu {x} cpu {y}");
        }
    }
    let (gs, cs) = (
        block_on(g.training_stats(&gt)).expect("gpu"),
        block_on(CpuBackend.training_stats(&ct)).expect("cpu"),
    );
    for (name, a, b) in [
        ("aum", &gs.aum, &cs.aum),
        ("el2n", &gs.el2n, &cs.el2n),
        ("forgetting", &gs.forgetting, &cs.forgetting),
        ("entropy", &gs.entropy, &cs.entropy),
        ("loss", &gs.loss, &cs.loss),
    ] {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(close(*x, *y, HEAD_REL_TOL), "dim {dim} {name}[{i}]: gpu {x} cpu {y}");
        }
    }
}

#[test]
fn proxy_head_training_matches_cpu() {
    for g in [gpu(), tiled()] {
        check_training(&g, 5, None, Storage::F32);
        check_training(&g, 65, None, Storage::F32);
        check_training(&g, 33, Some(17), Storage::F32);
        check_training(&g, 65, None, Storage::F16);
    }
}

#[test]
fn layout_epochs_match_cpu() {
    let g = gpu();
    for &rows in ROWS {
        let (c, _) = unit(31, rows, 16, &g);
        let knn = block_on(CpuBackend.top_k(&c, 10.min(rows - 1), &all_rows(rows))).expect("knn");
        let graph = membership_graph(&knn, rows);
        let start: Vec<f32> = random_matrix(5, rows, 2).iter().map(|v| v * 10.0).collect();
        // The first epochs (the largest steps) and a stretch from the middle.
        for first in [0, 100] {
            let epochs = Epochs { first, count: 4, total: 200, negatives: 5, seed: 9 };
            let want = block_on(CpuBackend.layout_epochs(&graph, &start, &epochs)).expect("cpu");
            let got = block_on(g.layout_epochs(&graph, &start, &epochs)).expect("gpu");
            assert_eq!(got.len(), 2 * rows);
            let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst <= LAYOUT_ABS_TOL, "{rows} rows from epoch {first}: off by {worst}");
            assert!(rows == 1 || got != start, "the rows moved");
        }
    }
}

#[test]
fn a_layout_graph_over_the_binding_size_is_an_error_not_a_panic() {
    let rows = 300;
    let (c, _) = unit(32, rows, 8, &tiled());
    let knn = block_on(CpuBackend.top_k(&c, 10, &all_rows(rows))).expect("knn");
    let graph = membership_graph(&knn, rows);
    assert!(graph.targets.len() * 4 > 4096, "the case needs a graph over the 4 KiB cap");
    let start = vec![0.5f32; 2 * rows];
    let epochs = Epochs { first: 0, count: 1, total: 10, negatives: 5, seed: 1 };
    let err = block_on(tiled().layout_epochs(&graph, &start, &epochs)).expect_err("over the cap");
    assert!(err.to_string().contains("binds"), "{err}");
}
