//! The trainer's smoke run on the real model: the loss falls, and two runs make the same
//! bytes. Reads the model and the training text that `cargo xtask fetch` (and `test`)
//! put in place.

use candle_core::Device;
use labelplan_lm::experts::Grouping;
use labelplan_lm::{DType, Loaded};
use labelplan_testkit::repo_root;
use labelplan_train::llama::Llama;
use labelplan_train::lte::{self, SMOKE};

fn read(relative: &str) -> Vec<u8> {
    let path = repo_root().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask fetch` first", path.display()))
}

#[test]
fn smoke_training_lowers_the_loss_and_repeats_to_the_byte() {
    let bytes = read("web/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let loaded = Loaded::from_bytes("model.gguf", &bytes).expect("loads");
    let text = String::from_utf8(read("target/assets/sotu.txt")).expect("UTF-8");
    // One window of the addresses, the same every step: the objective is then a function
    // of the routers alone, and training must lower it.
    let stream = loaded.tokenizer.encode(&text[..text.floor_char_boundary(1_000)]);
    let stream = &stream[..SMOKE.positions + 1];
    let grouping = Grouping::contiguous(loaded.model.config.layers, loaded.model.config.ff);
    let llama = Llama::new(&loaded.model.grouped(&grouping, DType::F16), &Device::Cpu).expect("on the CPU");
    let run = || {
        let mut reports = Vec::new();
        let routers = lte::train(&llama, stream, &SMOKE, None, |r| reports.push(r)).expect("trains");
        let last = *reports.last().expect("steps ran");
        (lte::sparse_set(&grouping, routers, &SMOKE, &last).to_bytes().expect("stored"), reports)
    };
    let (first, reports) = run();
    assert_eq!(reports.len(), SMOKE.soft_steps + SMOKE.hard_steps);
    // Cross-entropy plus η·efficiency (the separability term's weight rises over the
    // stage, so the whole loss is not comparable from step to step).
    let objective: Vec<f32> =
        reports.iter().filter(|r| r.stage == 1).map(|r| r.cross_entropy + r.efficiency).collect();
    let (start, end) = (objective[0], objective[objective.len() - 1]);
    assert!(end < 0.9 * start, "stage 1's objective went from {start} to {end}");
    assert!(reports.iter().all(|r| r.loss.is_finite() && (0.0..=1.0).contains(&r.sparsity)));
    let (second, again) = run();
    assert!(first == second, "two smoke runs wrote different routers:\n{reports:?}\n{again:?}");
}
