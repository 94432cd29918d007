//! The GGUF reader on the real model and on broken copies of it. The model is fetched by
//! `cargo xtask fetch` (`serve` and `test` do it); without it these tests fail.

mod common;

use common::model;
use labelplan_lm::quant::{dequantize, DType};
use labelplan_lm::{Gguf, Value};

fn parse(bytes: &[u8]) -> Result<Gguf, String> {
    Gguf::parse("model.gguf", bytes).map_err(|e| e.to_string())
}

/// Where the type id of tensor `name` sits in the file (after its name, dimension count
/// and dimensions).
fn type_field(bytes: &[u8], gguf: &Gguf, name: &str) -> usize {
    let tensor = gguf.tensor(name).expect("there");
    let mut needle = (name.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(name.as_bytes());
    let at =
        bytes.windows(needle.len()).position(|w| w == needle.as_slice()).expect("the name is in the header");
    at + needle.len() + 4 + 8 * tensor.dims.len()
}

#[test]
fn the_model_reads_as_the_llama_it_is() {
    let bytes = model();
    let gguf = parse(&bytes).expect("reads");
    assert_eq!((gguf.version, gguf.tensors.len(), gguf.metadata.len()), (3, 272, 33));
    assert_eq!(gguf.require_str("general.architecture"), Ok("llama"));
    let n = |k: &str| gguf.require_u64(k).expect(k);
    assert_eq!(
        [n("llama.block_count"), n("llama.embedding_length"), n("llama.feed_forward_length")],
        [30, 576, 1536]
    );
    assert_eq!([n("llama.attention.head_count"), n("llama.attention.head_count_kv")], [9, 3]);
    assert_eq!(gguf.require_f64("llama.rope.freq_base"), Ok(100_000.0));
    assert!((gguf.require_f64("llama.attention.layer_norm_rms_epsilon").expect("eps") - 1e-5).abs() < 1e-9);
    let tokens = gguf.get("tokenizer.ggml.tokens").and_then(Value::as_array).expect("a vocabulary");
    assert_eq!((tokens.len(), tokens[1].as_str()), (49_152, Some("<|im_start|>")));
    assert_eq!(gguf.get("tokenizer.ggml.merges").and_then(Value::as_array).map(<[_]>::len), Some(48_900));
    // Types and shapes: rows innermost; the output head is tied to the embedding.
    let embed = gguf.tensor("token_embd.weight").expect("embedding");
    assert_eq!((embed.dtype, embed.shape()), (DType::Q8_0, (576, 49_152)));
    let down = gguf.tensor("blk.0.ffn_down.weight").expect("down");
    assert_eq!((down.dtype, down.shape(), down.bytes), (DType::Q4_1, (1536, 576), 1536 / 32 * 20 * 576));
    assert!(gguf.tensor("output.weight").is_err());
    assert_eq!(gguf.tensor("output_norm.weight").map(|t| t.dtype), Ok(DType::F32));
    let parameters: u64 = gguf.tensors.iter().map(|t| t.dims.iter().product::<u64>()).sum();
    assert_eq!(parameters, 134_515_008);
    // The last tensor ends where the file does (after alignment padding at most).
    let end = gguf.tensors.iter().map(|t| t.start + t.bytes).max().expect("tensors");
    assert!(bytes.len() as u64 - end < 32, "{end} of {}", bytes.len());
    // Values decode to sensible numbers: norm weights near 1, embeddings small.
    let norm = gguf.tensor("output_norm.weight").expect("norm");
    let mut w = vec![0.0f32; 576];
    dequantize(norm.dtype, gguf.data(&bytes, norm), &mut w);
    let mean = w.iter().sum::<f32>() / 576.0;
    assert!(w.iter().all(|v| v.is_finite()) && mean > 0.1 && mean < 10.0, "mean {mean}");
    let mut row = vec![0.0f32; 576];
    dequantize(embed.dtype, &gguf.data(&bytes, embed)[..576 / 32 * 34], &mut row);
    assert!(row.iter().all(|v| v.is_finite() && v.abs() < 4.0) && row.iter().any(|&v| v != 0.0));
}

#[test]
fn broken_copies_are_refused_with_the_place_and_the_reason() {
    let bytes = model();
    let gguf = parse(&bytes).expect("reads");
    let header_end = 1_785_664;
    for (cut, says) in [
        (3, "the magic number"),
        (20, "the tensor count"),
        (100_000, "tokenizer.ggml.tokens declares 49152 items"),
        (header_end - 100, "ends inside"),
        (bytes.len() - 1000, "run past the end"),
    ] {
        let err = parse(&bytes[..cut]).expect_err("truncated");
        assert!(err.contains(says), "cut at {cut}: {err}");
    }
    let patched = |at: usize, new: &[u8]| {
        let mut copy = bytes[..header_end + 64].to_vec();
        copy[at..at + new.len()].copy_from_slice(new);
        copy.extend_from_slice(&bytes[header_end + 64..]);
        parse(&copy)
    };
    let refused = |at: usize, new: &[u8]| match patched(at, new) {
        Ok(_) => panic!("bytes {new:?} at {at} were read as a model"),
        Err(e) => e,
    };
    assert!(refused(0, b"GGML").contains("not a GGUF file"));
    assert!(refused(4, &7u32.to_le_bytes()).contains("version 7"));
    assert!(refused(8, &u64::MAX.to_le_bytes()).contains("the tensor count declares"));
    let at = type_field(&bytes, &gguf, "blk.0.ffn_down.weight");
    let err = refused(at, &99u32.to_le_bytes());
    assert!(err.contains("tensor blk.0.ffn_down.weight has type id 99"), "{err}");
    // A known type whose blocks do not fit the rows: the tensor and the type are named.
    let q = type_field(&bytes, &gguf, "blk.0.attn_q.weight");
    let err = refused(q, &12u32.to_le_bytes());
    assert!(
        err.contains("blk.0.attn_q.weight: rows of 576 values are not whole Q4_K blocks of 256"),
        "{err}"
    );
    // One that fits is read, as a type this crate does not compute with.
    let q4k = patched(at, &12u32.to_le_bytes()).expect("the layout fits");
    let down = q4k.tensor("blk.0.ffn_down.weight").expect("there");
    assert_eq!((down.dtype.name(), down.dtype.is_supported()), ("Q4_K", false));
    // An offset past the end of the file, and one off the alignment.
    let err = refused(at + 4, &(1u64 << 40).to_le_bytes());
    assert!(err.contains("tensor blk.0.ffn_down.weight") && err.contains("run past the end"), "{err}");
    let err = refused(at + 4, &7u64.to_le_bytes());
    assert!(err.contains("not a multiple of the alignment 32"), "{err}");
}

#[test]
fn no_corruption_of_the_header_panics() {
    // Bytes of the header flipped one at a time, at spread-out places: each copy is read
    // or refused, never a panic, and never an allocation of what a count merely declares.
    let bytes = model();
    let mut copy = bytes.clone();
    let mut refused = 0;
    for i in 0..300u64 {
        let at = (i * 5_953 + 17) as usize % 1_785_664;
        let was = copy[at];
        copy[at] ^= 0x5a;
        refused += Gguf::parse("m", &copy).is_err() as u32;
        copy[at] = was;
    }
    assert!(refused > 10, "flipped bytes were noticed {refused} times");
}

/// The fuzz target's seed, a llama GGUF written by llama.cpp's own writer (PyPI gguf;
/// tests/fuzz/make_tiny_gguf.py): it loads whole, so the fuzzer starts from a file that
/// reaches the model, the tokenizer and the chat template.
#[test]
fn the_fuzz_seed_is_a_whole_model_that_runs() {
    let path = labelplan_testkit::repo_root().join("tests/fuzz/seeds/gguf/tiny.gguf");
    let bytes = std::fs::read(&path).expect("tests/fuzz/seeds/gguf/tiny.gguf");
    let loaded = labelplan_lm::Loaded::from_bytes("tiny.gguf", &bytes).expect("loads");
    assert_eq!(loaded.name, "tiny llama");
    assert!(loaded.template.is_some(), "it has a chat template");
    let tokens = loaded.tokenizer.encode("hello world");
    assert!(!tokens.is_empty());
    assert_eq!(loaded.tokenizer.decode(&tokens), "hello world");
    let mut cache = loaded.model.cache(8);
    let logits = loaded.model.forward(tokens[0], &mut cache);
    assert_eq!(logits.len(), 262);
    assert!(logits.iter().all(|l| l.is_finite()));
}

/// Every finding of the GGUF fuzz target kept as a fixture (tests/fixtures/fuzz/gguf/)
/// is refused with a message naming the file; none panics.
#[test]
fn every_kept_fuzz_finding_is_refused_with_a_message() {
    let dir = labelplan_testkit::fixture("fuzz/gguf");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures/fuzz/gguf") {
        let path = entry.expect("an entry").path();
        let bytes = std::fs::read(&path).expect("a finding");
        let err = labelplan_lm::Loaded::from_bytes("found.gguf", &bytes).expect_err("a broken file");
        assert!(err.to_string().starts_with("found.gguf"), "{}: {err}", path.display());
        seen += 1;
    }
    assert!(seen > 0);
    // Dimensions whose byte count overflows 64 bits (it wrapped to a small size before).
    let bytes = std::fs::read(dir.join("tensor-size-overflow.gguf")).expect("the finding");
    let err = parse(&bytes).expect_err("overflows");
    assert!(err.contains("overflow"), "{err}");
}
