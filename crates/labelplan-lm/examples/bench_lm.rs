//! `cargo xtask bench lm`, native half: prefill and decode tokens per second of the
//! model's CPU pass (exact and quantised products), of candle (its default, quantised
//! arithmetic) and of the GPU pass, all in this process on the same prompt (best of three
//! rounds taken in turns); the bytes of weights each decoded token reads, and the decode
//! rate this machine's memory bandwidth (measured here by summing a buffer larger than
//! the caches) would allow.

// A benchmark: printing is its job.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use labelplan_gpu::{GpuContext, GpuOptions};
use labelplan_lm::eval::held_out;
use labelplan_lm::experts::Grouping;
use labelplan_lm::model::{argmax, Products};
use labelplan_lm::speed::{self, SpeedPlan};
use labelplan_lm::{DType, Loaded, Model, Session};
use pollster::block_on;

const PROMPT_TOKENS: usize = 64;
const DECODE_TOKENS: usize = 32;

/// (prefill tokens/s, decode tokens/s).
type Rates = (f64, f64);

fn rate(tokens: usize, since: Instant) -> f64 {
    tokens as f64 / since.elapsed().as_secs_f64()
}

fn ours(session: &mut Session, prompt: &[u32]) -> Rates {
    let start = Instant::now();
    let mut next = block_on(session.feed(prompt, false)).expect("prefill").greedy;
    let prefill = rate(prompt.len(), start);
    let start = Instant::now();
    for _ in 0..DECODE_TOKENS {
        next = block_on(session.feed(&[next], false)).expect("decode").greedy;
    }
    (prefill, rate(DECODE_TOKENS, start))
}

fn candle(bytes: &[u8], prompt: &[u32]) -> Rates {
    let mut reader = std::io::Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut reader).expect("candle reads the GGUF");
    let mut model = ModelWeights::from_gguf(content, &mut reader, &Device::Cpu).expect("candle loads it");
    let forward = |model: &mut ModelWeights, ids: &[u32], pos: usize| {
        let input = Tensor::new(ids, &Device::Cpu).and_then(|t| t.unsqueeze(0)).expect("a tensor");
        let logits = model.forward(&input, pos).and_then(|l| l.squeeze(0)).expect("forward");
        argmax(&logits.to_vec1::<f32>().expect("logits"))
    };
    let start = Instant::now();
    let mut next = forward(&mut model, prompt, 0);
    let prefill = rate(prompt.len(), start);
    let start = Instant::now();
    for i in 0..DECODE_TOKENS {
        next = forward(&mut model, &[next], prompt.len() + i);
    }
    (prefill, rate(DECODE_TOKENS, start))
}

/// Bytes per second of reading 512 MiB (a wrapping sum of u32 words in 8 lanes, which
/// vectorises: the loads, not the adds, set the pace), best of three.
fn memory_bandwidth() -> f64 {
    let data = vec![1u32; 128 << 20];
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let lanes = data.chunks_exact(8).fold([0u32; 8], |mut acc, c| {
                for (a, v) in acc.iter_mut().zip(c) {
                    *a = a.wrapping_add(*v);
                }
                acc
            });
            std::hint::black_box(lanes);
            (data.len() * 4) as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn main() {
    // `--sparsity`: the sparsity table alone.
    let sparsity_only = std::env::args().any(|a| a == "--sparsity");
    let paths: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let path = paths.first().cloned().unwrap_or_else(|| "web/models/SmolLM2-135M-Instruct.Q4_1.gguf".into());
    let text_path = paths.get(1).cloned().unwrap_or_else(|| "target/assets/moby-dick.txt".into());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; run `cargo xtask fetch`"));
    let text = std::fs::read_to_string(&text_path).unwrap_or_else(|e| panic!("{text_path}: {e}"));
    let loaded = Loaded::from_bytes(&path, &bytes).expect("loads");
    let prompt: Vec<u32> = loaded.tokenizer.encode(held_out(&text)).into_iter().take(PROMPT_TOKENS).collect();
    let m = &loaded.model;
    let weights: usize = m
        .layers
        .iter()
        .map(|l| {
            [&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down].iter().map(|w| w.bytes.len()).sum::<usize>()
        })
        .sum::<usize>()
        + m.head.as_ref().unwrap_or(&m.embed).bytes.len();
    if sparsity_only {
        sparsity_table(&loaded.model, &prompt);
        return;
    }
    let bandwidth = memory_bandwidth();
    println!(
        "model {} ({:.1}M parameters); prompt {} tokens, then {} decoded greedily",
        loaded.name,
        m.parameters() as f64 / 1e6,
        prompt.len(),
        DECODE_TOKENS
    );
    println!("weights read per decoded token: {:.1} MiB; memory bandwidth here {:.1} GB/s (sum of 512 MiB): at most {:.0} tokens/s", weights as f64 / (1 << 20) as f64, bandwidth / 1e9, bandwidth / weights as f64);
    println!("{:<38} {:>16} {:>16}", "pass", "prefill tok/s", "decode tok/s");
    // The passes take turns, three rounds, and each keeps its best round: this machine's
    // speed drifts by a fifth from minute to minute, and a turn-about sees the same drift.
    let passes = [Products::Quantized, Products::Exact].map(|products| {
        let mut model = loaded.model.clone();
        model.products = products;
        (products, std::sync::Arc::new(model))
    });
    let best = |a: Rates, b: Rates| (a.0.max(b.0), a.1.max(b.1));
    let (mut theirs, mut ours_best) = ((0.0, 0.0), [(0.0, 0.0); 2]);
    for _ in 0..3 {
        theirs = best(theirs, candle(&bytes, &prompt));
        for ((_, model), rates) in passes.iter().zip(&mut ours_best) {
            let positions = prompt.len() + DECODE_TOKENS + 1;
            *rates = best(*rates, ours(&mut Session::cpu(model.clone(), positions), &prompt));
        }
    }
    let (cp, cd) = theirs;
    println!("{:<38} {cp:>16.1} {cd:>16.1}", "candle 0.11 (quantised, its threads)");
    for ((products, _), (p, d)) in passes.iter().zip(ours_best) {
        println!(
            "{:<38} {p:>16.1} {d:>16.1}   decode {:.2}x candle",
            format!("labelplan CPU ({products:?} products)"),
            d / cd
        );
    }
    match block_on(GpuContext::new(GpuOptions::default())) {
        Ok(ctx) => {
            let mut gpu = block_on(Session::gpu(&ctx, &loaded.model, prompt.len() + DECODE_TOKENS + 1))
                .expect("uploads");
            // A first token compiles the pipelines; not counted.
            block_on(gpu.feed(&prompt[..1], false)).expect("warm-up");
            gpu.keep_prefix_of(&[]);
            let (p, d) = ours(&mut gpu, &prompt);
            let dispatches = 3 + 5 * loaded.model.layers.len();
            println!(
                "{:<38} {p:>16.1} {d:>16.1}   {dispatches} dispatches and one 4-byte readback per token",
                format!("labelplan GPU ({})", ctx.adapter_description())
            );
        }
        Err(e) => println!("no GPU: {e}"),
    }
    sparsity_table(&loaded.model, &prompt);
}

/// Tokens of the prompt before the GPU decodes in the sparsity table (lavapipe: about a
/// second a token).
const GPU_PROMPT: usize = 4;

/// FFN time per token and decode tokens/s against the share of experts off, on the CPU
/// (best of five rounds) and on the GPU (best of three, fewer tokens), the model grouped
/// into experts (down re-stored as F16, as the sets run it).
fn sparsity_table(model: &Model, prompt: &[u32]) {
    let c = &model.config;
    let grouped = std::sync::Arc::new(model.grouped(&Grouping::contiguous(c.layers, c.ff), DType::F16));
    let started = Instant::now();
    let now_ms = || started.elapsed().as_secs_f64() * 1000.0;
    let go_on = |_, _| std::future::ready(true);
    let mut cpu = Session::cpu(grouped.clone(), prompt.len() + DECODE_TOKENS);
    let plan = SpeedPlan { rounds: 5, ffn_repeats: 8, decode_tokens: DECODE_TOKENS };
    let cpu =
        block_on(speed::measure(&mut cpu, plan, prompt, &now_ms, go_on)).expect("CPU").expect("not stopped");
    let ctx = block_on(GpuContext::new(GpuOptions::default()));
    let gpu = ctx.as_ref().ok().map(|ctx| {
        let plan = SpeedPlan { rounds: 3, ffn_repeats: 4, decode_tokens: 8 };
        let positions = GPU_PROMPT + plan.decode_tokens;
        let mut gpu = block_on(Session::gpu(ctx, &grouped, positions)).expect("uploads");
        block_on(speed::measure(&mut gpu, plan, &prompt[..GPU_PROMPT], &now_ms, go_on))
            .expect("GPU")
            .expect("not stopped")
    });
    println!("\nFFN time per token and decode against the share of experts off (grouped model, down F16):");
    println!(
        "{:<10} {:<16} {:>12} {:>8} {:>14} {:>8}",
        "pass", "sparsity", "FFN ms/token", "x dense", "decode tok/s", "x dense"
    );
    let backends = [("CPU", Some(cpu)), ("GPU", gpu)];
    for (pass, rows) in backends.iter().filter_map(|(p, r)| Some((p, r.as_ref()?))) {
        for row in rows {
            println!(
                "{pass:<10} {:<16} {:>12.2} {:>8.2} {:>14.2} {:>8.2}",
                row.name,
                row.ffn_ms,
                row.ffn_ratio(&rows[0]),
                row.tokens_per_second,
                row.token_ratio(&rows[0])
            );
        }
    }
    if let Err(e) = ctx {
        println!("no GPU for the sparse rows: {e}");
    }
}
