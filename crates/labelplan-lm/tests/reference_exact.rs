//! The forward pass with exact products (the GPU's arithmetic), on the CPU and on the GPU
//! (lavapipe here; the test fails without an adapter), against candle with every matrix
//! dequantised to f32 (`CANDLE_DEQUANTIZE_ALL`, set before candle reads it: this file is
//! its own process). candle runs once per prompt and both passes are held to it.

mod candle_ref;
mod common;

use candle_ref::{both, candle, candle_logits, our_logits, prompts, relative_gap};
use labelplan_gpu::{GpuContext, GpuOptions};
use labelplan_lm::gpu::GpuModel;
use labelplan_lm::model::{argmax, Products};
use pollster::block_on;

/// Largest logit difference from candle's, relative to the spread (standard deviation)
/// of candle's logits: the same arithmetic in another summation order.
const EXACT_TOL: f32 = 1e-3;

/// Greedy tokens compared, after the last prompt (the chat one): every prompt's logits
/// are compared, and 32 steps on one are 32 more positions of the same arithmetic.
const GREEDY: usize = 32;

/// Read by candle once per thread, at its first quantized product.
fn dequantized_candle() {
    std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1");
}

/// Perplexity on the first 128 tokens of the held-out Moby Dick slice within 0.5% of
/// candle's.
#[test]
fn perplexity_on_held_out_text_is_candles_within_half_a_percent() {
    dequantized_candle();
    let (got, want) = candle_ref::perplexities(&both(Products::Exact), 128);
    eprintln!("exact: perplexity {got:.4}, candle {want:.4}");
    assert!((got / want - 1.0).abs() <= 0.005, "{got} against candle's {want}");
}

#[test]
fn cpu_and_gpu_logits_and_greedy_32_tokens_are_candles() {
    dequantized_candle();
    let b = both(Products::Exact);
    let ctx = block_on(GpuContext::new(GpuOptions::default()))
        .unwrap_or_else(|e| panic!("a GPU adapter is required (mesa-vulkan-drivers gives lavapipe): {e}"));
    let prompts = prompts(&b);
    for (i, prompt) in prompts.iter().enumerate() {
        let ids = b.tokenizer.encode(prompt);
        let mut reference = candle(&b.bytes);
        let mut want_logits = candle_logits(&mut reference, &ids, 0);
        let mut cache = b.ours.cache(ids.len() + GREEDY);
        let mut cpu_logits = our_logits(&b.ours, &mut cache, &ids);
        let mut gpu = block_on(GpuModel::upload(&ctx, &b.ours, ids.len() + GREEDY)).expect("uploads");
        let mut gpu_next = block_on(gpu.feed(&ids)).expect("prefill");
        let gpu_logits = block_on(gpu.logits()).expect("logits");
        for (pass, got) in [("CPU", &cpu_logits), ("GPU", &gpu_logits)] {
            let gap = relative_gap(got, &want_logits);
            eprintln!("{pass}, {} tokens: largest logit gap {gap:.2e} of the spread", ids.len());
            assert!(gap <= EXACT_TOL, "{pass}: {gap} on {prompt:?}");
            assert_eq!(argmax(got), argmax(&want_logits), "{pass}");
        }
        if i + 1 < prompts.len() {
            continue; // greedy steps after the last prompt only (GREEDY)
        }
        let (mut want, mut on_cpu, mut on_gpu) = (Vec::new(), Vec::new(), Vec::new());
        for step in 0..GREEDY {
            want.push(argmax(&want_logits));
            want_logits = candle_logits(&mut reference, &want[step..], ids.len() + step);
            on_cpu.push(argmax(&cpu_logits));
            cpu_logits = b.ours.forward(on_cpu[step], &mut cache);
            on_gpu.push(gpu_next);
            gpu_next = block_on(gpu.feed(&[gpu_next])).expect("decodes");
        }
        let want = b.tokenizer.decode(&want);
        assert_eq!(b.tokenizer.decode(&on_cpu), want, "CPU after {prompt:?}");
        assert_eq!(b.tokenizer.decode(&on_gpu), want, "GPU after {prompt:?}");
    }
}
