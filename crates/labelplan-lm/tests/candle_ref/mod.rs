//! candle's quantized llama on the same GGUF, and what the comparisons with it share.

#![allow(dead_code)] // each test file uses its part

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use labelplan_lm::chat::{ChatTemplate, Message};
use labelplan_lm::model::{argmax, Products};
use labelplan_lm::{Cache, Gguf, Model, Tokenizer};

use crate::common;

/// This crate's model (with `products`), its tokenizer, and the file for candle.
pub struct Both {
    pub ours: Model,
    pub tokenizer: Tokenizer,
    pub template: ChatTemplate,
    pub bytes: Vec<u8>,
}

pub fn both(products: Products) -> Both {
    let bytes = common::model();
    let gguf = Gguf::parse("model.gguf", &bytes).expect("reads");
    let mut ours = Model::from_gguf(&gguf, &bytes).expect("loads");
    ours.products = products;
    Both {
        ours,
        tokenizer: Tokenizer::from_gguf(&gguf).expect("a tokenizer"),
        template: ChatTemplate::from_gguf(&gguf).expect("a chat template"),
        bytes,
    }
}

/// The prompts compared: a fact, held-out prose (about 50 tokens: lavapipe prefills under
/// 2 tokens a second), and a chat turn in the model's template.
pub fn prompts(b: &Both) -> Vec<String> {
    let chat = b
        .template
        .render(&[Message::new("user", "Name three animals that live in the sea.")], true)
        .expect("renders");
    let text = common::moby_dick();
    let start = text.find("Call me Ishmael").expect("the opening");
    vec!["The capital of France is".into(), text[start..start + 220].into(), chat]
}

pub fn candle(bytes: &[u8]) -> ModelWeights {
    let mut reader = std::io::Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut reader).expect("candle reads the GGUF");
    ModelWeights::from_gguf(content, &mut reader, &Device::Cpu).expect("candle loads the model")
}

/// candle's logits of the last of `ids`, fed from position `pos`.
pub fn candle_logits(model: &mut ModelWeights, ids: &[u32], pos: usize) -> Vec<f32> {
    let input = Tensor::new(ids, &Device::Cpu).and_then(|t| t.unsqueeze(0)).expect("a tensor");
    let logits = model.forward(&input, pos).expect("candle's forward");
    logits.squeeze(0).and_then(|l| l.to_vec1::<f32>()).expect("logits")
}

/// Our logits after feeding `ids` (the last position's).
pub fn our_logits(model: &Model, cache: &mut Cache, ids: &[u32]) -> Vec<f32> {
    ids.iter().map(|&id| model.forward(id, cache)).last().expect("at least one token")
}

/// Standard deviation of `x`.
pub fn spread(x: &[f32]) -> f32 {
    let mean = x.iter().sum::<f32>() / x.len() as f32;
    (x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / x.len() as f32).sqrt()
}

/// The largest difference relative to the spread of `want`.
pub fn relative_gap(got: &[f32], want: &[f32]) -> f32 {
    got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / spread(want)
}

/// candle's greedy continuation of `prompt`, `n` tokens.
pub fn candle_greedy(b: &Both, prompt: &str, n: usize) -> Vec<u32> {
    let ids = b.tokenizer.encode(prompt);
    let mut reference = candle(&b.bytes);
    let mut logits = candle_logits(&mut reference, &ids, 0);
    let mut out = Vec::new();
    for step in 0..n {
        out.push(argmax(&logits));
        logits = candle_logits(&mut reference, &out[step..], ids.len() + step);
    }
    out
}

/// This crate's greedy continuation of `prompt` on the CPU, `n` tokens.
pub fn our_greedy(b: &Both, prompt: &str, n: usize) -> Vec<u32> {
    let ids = b.tokenizer.encode(prompt);
    let mut cache = b.ours.cache(ids.len() + n);
    let mut logits = our_logits(&b.ours, &mut cache, &ids);
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(argmax(&logits));
        logits = b.ours.forward(out[out.len() - 1], &mut cache);
    }
    out
}

/// Perplexities of this crate's model and of candle on the first `tokens` tokens of the
/// held-out Moby Dick slice: (ours, candle's).
pub fn perplexities(b: &Both, tokens: usize) -> (f64, f64) {
    use labelplan_lm::eval::{held_out, Perplexity};
    let text = common::moby_dick();
    let ids: Vec<u32> = b.tokenizer.encode(held_out(&text)).into_iter().take(tokens).collect();
    let mut reference = candle(&b.bytes);
    let (mut ours, mut theirs) = (Perplexity::default(), Perplexity::default());
    let mut cache = b.ours.cache(ids.len());
    for (pos, pair) in ids.windows(2).enumerate() {
        theirs.add(&candle_logits(&mut reference, &pair[..1], pos), pair[1]);
        ours.add(&b.ours.forward(pair[0], &mut cache), pair[1]);
    }
    (ours.value(), theirs.value())
}
