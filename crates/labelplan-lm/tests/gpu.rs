//! The forward pass on the GPU backend (lavapipe here; the tests fail, never skip,
//! without an adapter) against the CPU pass with exact products, its oracle.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use labelplan_gpu::{GpuContext, GpuOptions};
use labelplan_lm::gpu::{shaders, GpuModel, GpuModelError};
use labelplan_lm::model::{argmax, Products};
use labelplan_lm::{Gguf, Model, Tokenizer};
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
