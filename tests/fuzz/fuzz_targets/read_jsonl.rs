//! The .jsonl reader on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    labelplan_fuzz::read_as("fuzzed.jsonl", data);
});
