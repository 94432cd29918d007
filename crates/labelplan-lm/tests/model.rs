//! The CPU forward pass on the real model.

mod common;

use labelplan_lm::model::argmax;
use labelplan_lm::{Gguf, Model, Tokenizer};

/// Greedy continuation of `prompt`: `n` new tokens.
fn greedy(model: &Model, tokenizer: &Tokenizer, prompt: &str, n: usize) -> Vec<u32> {
    let ids = tokenizer.encode(prompt);
    let mut cache = model.cache(ids.len() + n);
    let mut logits = Vec::new();
    for &id in &ids {
        logits = model.forward(id, &mut cache);
    }
    let mut out = Vec::new();
    for _ in 0..n {
        let next = argmax(&logits);
        out.push(next);
        logits = model.forward(next, &mut cache);
    }
    out
}

#[test]
fn the_model_knows_the_capital_of_france() {
    let bytes = common::model();
    let gguf = Gguf::parse("model.gguf", &bytes).expect("reads");
    let model = Model::from_gguf(&gguf, &bytes).expect("loads");
    let c = &model.config;
    assert_eq!(
        (c.layers, c.dim, c.ff, c.heads, c.kv_heads, c.head_dim, c.vocab),
        (30, 576, 1536, 9, 3, 64, 49_152)
    );
    assert!(model.head.is_none(), "the output head is the embedding");
    assert_eq!(format!("{:.1}M", model.parameters() as f64 / 1e6), "134.5M");
    let tokenizer = Tokenizer::from_gguf(&gguf).expect("a tokenizer");
    let next = greedy(&model, &tokenizer, "The capital of France is", 2);
    assert_eq!(tokenizer.decode(&next), " Paris.");
}
