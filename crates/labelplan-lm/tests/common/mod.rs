//! What the model tests read: the model and the held-out text, fetched by
//! `cargo xtask fetch` (`serve` and `test` do it); without them the tests fail.

#![allow(dead_code)] // each test file uses its part

use labelplan_testkit::repo_root;

/// The model's bytes.
pub fn model() -> Vec<u8> {
    read("web/models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Moby Dick, the held-out text.
pub fn moby_dick() -> String {
    String::from_utf8(read("target/assets/moby-dick.txt")).expect("UTF-8 text")
}

fn read(relative: &str) -> Vec<u8> {
    let path = repo_root().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask fetch` first", path.display()))
}
