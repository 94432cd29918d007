//! The forward pass with exact products (the GPU's arithmetic) against candle with every
//! matrix dequantised to f32 (`CANDLE_DEQUANTIZE_ALL`, set before candle reads it: this
//! file is its own process).

mod candle_ref;
mod common;

use candle_ref::{both, greedy_both, our_logits, prompts, relative_gap};
use labelplan_lm::model::{argmax, Products};

/// Largest logit difference from candle's, relative to the spread (standard deviation)
/// of candle's logits: the same arithmetic in another summation order.
const EXACT_TOL: f32 = 1e-3;

fn dequantized_candle() {
    // Read by candle once per thread, at its first quantized product.
    std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1");
}

#[test]
fn logits_agree_with_candle_within_float_noise() {
    dequantized_candle();
    let b = both(Products::Exact);
    for prompt in prompts(&b) {
        let ids = b.tokenizer.encode(&prompt);
        let want = candle_ref::candle_logits(&mut candle_ref::candle(&b.bytes), &ids, 0);
        let got = our_logits(&b.ours, &mut b.ours.cache(ids.len()), &ids);
        let gap = relative_gap(&got, &want);
        eprintln!("{} tokens: largest logit gap {gap:.2e} of the spread", ids.len());
        assert!(gap <= EXACT_TOL, "{gap} on {prompt:?}");
        assert_eq!(argmax(&got), argmax(&want));
    }
}

#[test]
fn greedy_32_tokens_are_candles() {
    dequantized_candle();
    let b = both(Products::Exact);
    for prompt in prompts(&b) {
        let (got, want) = greedy_both(&b, &prompt, 32);
        assert_eq!(b.tokenizer.decode(&got), b.tokenizer.decode(&want), "after {prompt:?}");
    }
}
