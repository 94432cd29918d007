//! The forward pass on the GPU backend (lavapipe here; the tests fail, never skip,
//! without an adapter) against the CPU pass with exact products, its oracle.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use labelplan_gpu::{GpuContext, GpuOptions};
use labelplan_lm::experts::Grouping;
use labelplan_lm::gpu::{shaders, GpuModel, GpuModelError};
use labelplan_lm::model::{argmax, Products};
use labelplan_lm::session::mask_bits;
use labelplan_lm::sparse::{Routers, Sparsity};
use labelplan_lm::{DType, Gguf, Model, Tokenizer};
use pollster::block_on;

/// Largest logit difference from the CPU's, relative to the spread of the CPU's logits.
const GPU_TOL: f32 = 1e-3;

fn context() -> GpuContext {
    block_on(GpuContext::new(GpuOptions::default())).unwrap_or_else(|e| {
        panic!("a GPU adapter is required for these tests (install mesa-vulkan-drivers for lavapipe): {e}")
    })
}

fn exact_model() -> (Model, Tokenizer) {
    let bytes = common::model();
    let gguf = Gguf::parse("model.gguf", &bytes).expect("reads");
    let mut model = Model::from_gguf(&gguf, &bytes).expect("loads");
    model.products = Products::Exact;
    (model, Tokenizer::from_gguf(&gguf).expect("a tokenizer"))
}

fn spread(x: &[f32]) -> f32 {
    let mean = x.iter().sum::<f32>() / x.len() as f32;
    (x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / x.len() as f32).sqrt()
}

fn gap(got: &[f32], want: &[f32]) -> f32 {
    got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / spread(want)
}

#[test]
fn every_kernel_validates_with_naga_for_every_weight_type() {
    let (model, _) = exact_model();
    for shader in shaders::all(&model.config, 64) {
        let module = naga::front::wgsl::parse_str(&shader.source)
            .unwrap_or_else(|e| panic!("{}: {}", shader.label, e.emit_to_string(&shader.source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {e:?}", shader.label));
    }
}

#[test]
fn gpu_logits_and_greedy_tokens_match_the_exact_cpu_pass() {
    let (model, tokenizer) = exact_model();
    let ctx = context();
    let ids = tokenizer.encode("The capital of France is");
    let n = 8;
    let mut gpu = block_on(GpuModel::upload(&ctx, &model, ids.len() + n)).expect("uploads");
    let mut cache = model.cache(ids.len() + n);
    let mut want = ids.iter().map(|&id| model.forward(id, &mut cache)).last().expect("logits");
    let mut next = block_on(gpu.feed(&ids)).expect("prefill");
    let mut text = Vec::new();
    for step in 0..n {
        let got = block_on(gpu.logits()).expect("logits");
        let g = gap(&got, &want);
        eprintln!("position {}: largest logit gap {g:.2e} of the spread", ids.len() + step);
        assert!(g <= GPU_TOL, "gap {g} at step {step}");
        assert_eq!(next, argmax(&want), "the GPU's arg-max is the CPU's at step {step}");
        text.push(next);
        want = model.forward(next, &mut cache);
        next = block_on(gpu.feed(&[next])).expect("decodes");
    }
    assert!(tokenizer.decode(&text).starts_with(" Paris."), "{:?}", tokenizer.decode(&text));
    assert!(matches!(block_on(gpu.feed(&[next])), Err(GpuModelError::Full { .. })));
}

/// Fixed masks and routers for the sparse kernels' test: no expert, one, every one, a
/// mixed set per layer, and routers with pseudo-random weights (about half the experts).
fn sparsities(layers: usize, experts: usize, dim: usize) -> Vec<(&'static str, Sparsity)> {
    let masks = |on: &dyn Fn(usize, usize) -> bool| {
        Sparsity::Masks((0..layers).map(|l| (0..experts).map(|e| on(l, e)).collect()).collect())
    };
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
    };
    let routers = Routers {
        weights: (0..layers).map(|_| (0..experts * dim).map(|_| random()).collect()).collect(),
        bias: vec![vec![0.0; experts]; layers],
        threshold: 0.5,
        scales: Some(
            (0..layers).map(|l| (0..experts).map(|e| 1.0 + 0.01 * ((l + e) % 5) as f32).collect()).collect(),
        ),
    };
    vec![
        ("no expert", masks(&|_, _| false)),
        ("one expert", masks(&|l, e| e == l % experts)),
        ("every expert", masks(&|_, _| true)),
        ("mixed experts", masks(&|l, e| (7 * e + l) % 3 != 0)),
        ("routers", Sparsity::Routers(routers)),
    ]
}

#[test]
fn sparse_gpu_ffn_matches_the_cpu_and_lists_the_same_experts() {
    let (model, tokenizer) = exact_model();
    let c = model.config.clone();
    let mut grouped = model.grouped(&Grouping::contiguous(c.layers, c.ff), DType::F16);
    grouped.products = Products::Exact;
    let ctx = context();
    let ids = tokenizer.encode("The capital of France is");
    let decode = 3;
    let mut gpu = block_on(GpuModel::upload(&ctx, &grouped, ids.len() + decode)).expect("uploads");
    for (name, sparsity) in sparsities(c.layers, c.ff / 32, c.dim) {
        block_on(gpu.set_sparsity(&sparsity)).expect("sparsity set");
        gpu.truncate(0);
        let mut cache = grouped.cache(ids.len() + decode);
        let mut cpu_used = Vec::new();
        let mut forward = |id: u32, used: &mut Vec<Vec<u64>>| {
            let mut masks = Vec::new();
            let logits = grouped.forward_with(id, &mut cache, &sparsity, |_, s| {
                masks.push(mask_bits(&s.active));
            });
            used.push(masks);
            logits
        };
        let mut want = ids.iter().map(|&id| forward(id, &mut cpu_used)).last().expect("logits");
        let mut next = block_on(gpu.feed(&ids)).expect("prefill");
        for step in 0..decode {
            let got = block_on(gpu.logits()).expect("logits");
            let g = gap(&got, &want);
            eprintln!("{name}, step {step}: largest logit gap {g:.2e} of the spread");
            assert!(g <= GPU_TOL, "{name}: gap {g} at step {step}");
            assert_eq!(next, argmax(&want), "{name}: the GPU's arg-max is the CPU's at step {step}");
            if step + 1 < decode {
                want = forward(next, &mut cpu_used);
                next = block_on(gpu.feed(&[next])).expect("decodes");
            }
        }
        let gpu_used = block_on(gpu.experts_used()).expect("read back").expect("a sparsity is set");
        assert_eq!(gpu_used, cpu_used, "{name}: the GPU listed other experts than the CPU ran");
    }
    block_on(gpu.set_sparsity(&Sparsity::Dense)).expect("dense again");
    assert!(block_on(gpu.experts_used()).expect("nothing to read").is_none());
    // Dense, the grouped model's down projection (stored by blocks) runs whole.
    gpu.truncate(0);
    block_on(gpu.feed(&ids)).expect("prefill");
    let mut cache = grouped.cache(ids.len());
    let want = ids.iter().map(|&id| grouped.forward(id, &mut cache)).last().expect("logits");
    let g = gap(&block_on(gpu.logits()).expect("logits"), &want);
    assert!(g <= GPU_TOL, "dense grouped: gap {g}");
    assert!(matches!(
        block_on(gpu.set_sparsity(&Sparsity::Thresholds(vec![0.0; c.layers]))),
        Err(GpuModelError::Unsupported(_))
    ));
}
