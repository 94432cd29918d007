//! The model's tokenizer, built from the GGUF alone: GPT-2-style byte-level BPE (the
//! `tokenizers` crate) from `tokenizer.ggml.tokens` and `.merges`, the pre-tokenizer the
//! GGUF names (`tokenizer.ggml.pre`), and its control tokens (`<|im_start|>`, …) as
//! special tokens that text containing them encodes to.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::AddedToken;

use crate::gguf::{Gguf, GgufError, Value};

/// GGUF token types that are control or user-defined tokens (not text pieces).
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;

/// Pre-tokenizers (`tokenizer.ggml.pre`) that split every digit apart before GPT-2's
/// pattern (llama.cpp's SmolLM, StarCoder and kin), and those that use GPT-2's alone.
const DIGITS_APART: [&str; 4] = ["smollm", "starcoder", "refact", "codeshell"];
const GPT2_ONLY: [&str; 2] = ["gpt2", "default"];

/// Text to token ids and back.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// The end-of-sequence token.
    pub eos: u32,
    /// Tokens of `<|im_start|>`-like control text, by id.
    special: Vec<u32>,
}

fn strings<'a>(gguf: &'a Gguf, key: &str) -> Result<Vec<&'a str>, GgufError> {
    let fail = |what: &str| GgufError { file: gguf.file.clone(), at: 0, message: format!("{key}: {what}") };
    let items = gguf.get(key).and_then(Value::as_array).ok_or_else(|| fail("missing, or not an array"))?;
    items.iter().map(|v| v.as_str().ok_or_else(|| fail("holds a value that is not text"))).collect()
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokenizer({} tokens)", self.vocab_size())
    }
}

impl Tokenizer {
    /// The tokenizer the GGUF describes; an error names what it lacks or what this
    /// crate does not read.
    pub fn from_gguf(gguf: &Gguf) -> Result<Tokenizer, GgufError> {
        let fail = |message: String| GgufError { file: gguf.file.clone(), at: 0, message };
        let model = gguf.require_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(fail(format!(
                "tokenizer.ggml.model is {model:?}; labelplan reads GPT-2-style byte-level BPE (\"gpt2\")"
            )));
        }
        let pre = gguf.get("tokenizer.ggml.pre").and_then(Value::as_str).unwrap_or("default");
        let digits_apart = DIGITS_APART.contains(&pre);
        if !digits_apart && !GPT2_ONLY.contains(&pre) {
            return Err(fail(format!(
                "tokenizer.ggml.pre is {pre:?}, a pre-tokenizer labelplan does not know"
            )));
        }
        let tokens = strings(gguf, "tokenizer.ggml.tokens")?;
        let vocab: Vocab = tokens.iter().enumerate().map(|(id, t)| ((*t).to_owned(), id as u32)).collect();
        let merges = strings(gguf, "tokenizer.ggml.merges")?
            .into_iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| fail(format!("tokenizer.ggml.merges: {m:?} is not two pieces apart")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| fail(format!("the vocabulary and merges do not make a BPE model: {e}")))?;
        let mut inner = tokenizers::Tokenizer::new(bpe);
        let byte_level = ByteLevel::new(false, true, true);
        let pre_tokenizer: PreTokenizerWrapper = if digits_apart {
            Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into()
        } else {
            byte_level.into()
        };
        inner.with_pre_tokenizer(Some(pre_tokenizer));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        let types = gguf.get("tokenizer.ggml.token_type").and_then(Value::as_array).unwrap_or(&[]);
        let special: Vec<u32> = types
            .iter()
            .enumerate()
            .filter(|(_, t)| t.as_f64().is_some_and(|t| t as i64 == CONTROL || t as i64 == USER_DEFINED))
            .map(|(id, _)| id as u32)
            .filter(|&id| (id as usize) < tokens.len())
            .collect();
        inner
            .add_special_tokens(
                special.iter().map(|&id| AddedToken::from(tokens[id as usize].to_owned(), true)),
            )
            .map_err(|e| fail(format!("the control tokens: {e}")))?;
        let eos = gguf.require_u64("tokenizer.ggml.eos_token_id")?;
        let eos = u32::try_from(eos).ok().filter(|&e| (e as usize) < tokens.len()).ok_or_else(|| {
            fail(format!(
                "tokenizer.ggml.eos_token_id {eos} is outside the {}-token vocabulary",
                tokens.len()
            ))
        })?;
        Ok(Tokenizer { inner, eos, special })
    }

    /// The ids of `text` (control tokens written in it, such as `<|im_start|>`, become
    /// their ids; nothing is added before or after).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        // Encoding without truncation or padding cannot fail for a BPE with every byte in
        // its vocabulary; an empty answer stands for the impossible case.
        self.inner.encode(text, false).map(|e| e.get_ids().to_vec()).unwrap_or_default()
    }

    /// The text of `ids`, control tokens included.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_default()
    }

    /// Tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Whether `id` is a control token (never text to show).
    pub fn is_special(&self, id: u32) -> bool {
        self.special.contains(&id)
    }
}
