//! A GGUF model file: refused with a message naming the file and the place, or a model,
//! tokenizer and chat template that load.
#![no_main]

use labelplan_lm::Loaded;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match Loaded::from_bytes("fuzzed.gguf", data) {
        Ok(loaded) => {
            let text = "Hello, world! 123";
            let tokens = loaded.tokenizer.encode(text);
            let _ = loaded.tokenizer.decode(&tokens);
        }
        Err(e) => assert!(e.to_string().contains("fuzzed.gguf"), "the message names the file: {e}"),
    }
});
