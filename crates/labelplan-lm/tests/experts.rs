//! Experts on the real model: the grouped (permuted) model computes what the GGUF's
//! does, and a sparse pass is deterministic.

mod common;

use labelplan_lm::experts::Grouping;
use labelplan_lm::model::{argmax, Products};
use labelplan_lm::sparse::Sparsity;
use labelplan_lm::{DType, Gguf, Model, Tokenizer};

/// The logits at every position of `ids`, fed in turn.
fn logits(model: &Model, ids: &[u32], sparsity: &Sparsity) -> Vec<Vec<f32>> {
    let mut cache = model.cache(ids.len());
    ids.iter().map(|&id| model.forward_with(id, &mut cache, sparsity, |_, _| {})).collect()
}

/// The largest gap between two runs' logits, over the logits' standard deviation.
fn gap(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(a, b)| {
            let mean = a.iter().sum::<f32>() / a.len() as f32;
            let sd = (a.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / a.len() as f32).sqrt();
            a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max) / sd
        })
        .fold(0.0, f32::max)
}

#[test]
fn the_grouped_model_computes_what_the_gguf_does_and_sparse_runs_repeat() {
    let bytes = common::model();
    let gguf = Gguf::parse("model.gguf", &bytes).expect("reads");
    let mut model = Model::from_gguf(&gguf, &bytes).expect("loads");
    model.products = Products::Exact;
    let tokenizer = Tokenizer::from_gguf(&gguf).expect("a tokenizer");
    let ids = tokenizer.encode("The capital of France is");
    let dense = logits(&model, &ids, &Sparsity::Dense);

    let grouping = Grouping::balanced_kmeans(&model, 8, 1);
    grouping.check(&model).expect("a permutation per layer");
    assert_eq!(grouping.experts(), 48);
    let moved = grouping.order.iter().filter(|o| o.iter().enumerate().any(|(k, &n)| k as u32 != n)).count();
    assert_eq!(moved, 30, "k-means regroups every layer");
    // Down in F32 keeps every value: only the order of the down sums changes.
    let grouped = model.grouped(&grouping, DType::F32);
    let exact = gap(&dense, &logits(&grouped, &ids, &Sparsity::Dense));
    assert!(exact < 1e-4, "the permuted model's logits are {exact} of their spread from the GGUF's");
    for down in [DType::F16, DType::Q8_0, DType::Q4_1] {
        let g = gap(&dense, &logits(&model.grouped(&grouping, down), &ids, &Sparsity::Dense));
        eprintln!("down re-stored as {down:?}: logits {g:.2e} of their spread from the GGUF's");
    }
    // The GGUF's own order, down kept as it is: the same model to the bit.
    let contiguous = model.grouped(&Grouping::contiguous(30, 1536), DType::Q4_1);
    assert_eq!(logits(&contiguous, &ids, &Sparsity::Dense), dense);

    // Half the experts of every layer off, the same ones each time: the same greedy
    // tokens twice, and the experts it reports are the mask's.
    let masks: Vec<Vec<bool>> = (0..30).map(|l| (0..48).map(|e| (e * 7 + l) % 2 == 0).collect()).collect();
    let sparsity = Sparsity::Masks(masks.clone());
    let run = || {
        let mut cache = grouped.cache(ids.len() + 8);
        let mut used = Vec::new();
        let mut last = Vec::new();
        for &id in &ids {
            last =
                grouped.forward_with(id, &mut cache, &sparsity, |l, ffn| used.push((l, ffn.active.clone())));
        }
        let mut tokens = Vec::new();
        for _ in 0..8 {
            tokens.push(argmax(&last));
            last = grouped.forward_with(*tokens.last().expect("a token"), &mut cache, &sparsity, |_, _| {});
        }
        (tokens, used)
    };
    let (first, used) = run();
    assert_eq!(run().0, first);
    assert_eq!(used.len(), 30 * ids.len());
    assert!(used.iter().all(|(l, active)| active == &masks[*l]));
}

#[test]
fn thresholds_calibrated_on_a_text_leave_that_share_of_experts_off_on_it() {
    let bytes = common::model();
    let gguf = Gguf::parse("model.gguf", &bytes).expect("reads");
    let model = Model::from_gguf(&gguf, &bytes).expect("loads");
    let tokenizer = Tokenizer::from_gguf(&gguf).expect("a tokenizer");
    let ids = tokenizer.encode("Call me Ishmael. Some years ago, never mind how long precisely");
    let thresholds = labelplan_lm::sparse::calibrate_thresholds(&model, &ids, 0.5);
    assert_eq!(thresholds.len(), 30);
    let mut off = vec![0usize; 30];
    let mut cache = model.cache(ids.len());
    let sparsity = Sparsity::Thresholds(thresholds);
    for &id in &ids {
        model.forward_with(id, &mut cache, &sparsity, |l, ffn| {
            off[l] += ffn.active.iter().filter(|&&a| !a).count()
        });
    }
    // The first layer sees the same inputs as in the dense calibration run: exactly the
    // calibrated half of its experts is off (ties at the threshold aside). Later layers
    // see the sparse layers' outputs, so their share drifts (calibrated on the dense
    // model, as CATS and TEAL are); over all layers it stays near half.
    let (per_layer, all) = (ids.len() * 48, ids.len() * 48 * 30);
    assert!(
        (per_layer / 2..=per_layer / 2 + 2).contains(&off[0]),
        "{} of {per_layer} off in layer 0",
        off[0]
    );
    let share = off.iter().sum::<usize>() as f64 / all as f64;
    assert!((0.35..0.65).contains(&share), "{share} of the experts off: {off:?}");
}
