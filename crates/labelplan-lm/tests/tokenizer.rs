//! The tokenizer built from the model's GGUF.

mod common;

use labelplan_lm::{Gguf, Tokenizer};

fn tokenizer() -> Tokenizer {
    let bytes = common::model();
    let gguf = Gguf::parse("model.gguf", &bytes).expect("reads");
    Tokenizer::from_gguf(&gguf).expect("a tokenizer")
}

#[test]
fn text_round_trips_and_control_tokens_encode_to_their_ids() {
    let t = tokenizer();
    assert_eq!((t.vocab_size(), t.eos), (49_152, 2));
    let chat = t.encode("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n");
    assert_eq!((chat[0], chat.iter().filter(|&&id| id == 2).count()), (1, 1), "{chat:?}");
    assert!(t.is_special(1) && t.is_special(2) && !t.is_special(chat[1]));
    assert_eq!(t.decode(&chat), "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n");
    // SmolLM's pre-tokenizer splits every digit apart (the space before them stays alone).
    let year = t.encode("in 1851");
    let pieces: Vec<String> = year.iter().map(|&id| t.decode(&[id])).collect();
    assert_eq!(pieces, ["in", " ", "1", "8", "5", "1"]);
    // A held-out paragraph of Moby Dick: the text comes back byte for byte, at about
    // four characters a token (English prose in a 49k vocabulary).
    let text = common::moby_dick();
    let start = text.find("Call me Ishmael").expect("the opening");
    let paragraph = &text[start..start + 2_000];
    let ids = t.encode(paragraph);
    assert_eq!(t.decode(&ids), paragraph);
    let per_token = paragraph.len() as f64 / ids.len() as f64;
    assert!((3.5..6.0).contains(&per_token), "{per_token:.2} characters a token");
    // Whole words common in English are single tokens.
    assert_eq!(t.encode(" Paris").len(), 1);
    assert_eq!(t.encode(" whale").len(), 1);
}
