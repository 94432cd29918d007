//! The speed table's run on the real model (CPU pass), with a clock that counts its
//! reads: every row runs with its share of experts off, and the caller can stop it.

mod common;

use std::cell::Cell;
use std::sync::Arc;

use labelplan_lm::experts::Grouping;
use labelplan_lm::speed::{self, SpeedPlan, SHARES};
use labelplan_lm::{DType, Loaded, Session};
use pollster::block_on;

fn session() -> (Session, Vec<u32>) {
    let bytes = common::model();
    let loaded = Loaded::from_bytes("model.gguf", &bytes).expect("loads");
    let c = &loaded.model.config;
    let grouped = loaded.model.grouped(&Grouping::contiguous(c.layers, c.ff), DType::F16);
    let prompt = loaded.tokenizer.encode("The capital of France is");
    (Session::cpu(Arc::new(grouped), prompt.len() + 2), prompt)
}

#[test]
fn every_row_runs_its_share_of_experts_and_a_stop_is_heard() {
    let (mut session, prompt) = session();
    let plan = SpeedPlan { rounds: 1, ffn_repeats: 2, decode_tokens: 2 };
    // Each read of the clock advances it by 1 ms: every span timed is one read apart.
    let clock = Cell::new(0.0);
    let now_ms = || {
        clock.set(clock.get() + 1.0);
        clock.get()
    };
    let mut seen = Vec::new();
    let rows = block_on(speed::measure(&mut session, plan, &prompt, &now_ms, |done, total| {
        seen.push((done, total));
        std::future::ready(true)
    }))
    .expect("runs")
    .expect("not stopped");
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, SHARES.map(|(name, _)| name));
    for r in &rows {
        assert_eq!(r.ffn_ms, 0.5, "{}: one clock step over 2 FFN passes", r.name);
        assert_eq!(r.tokens_per_second, 1000.0, "{}: 2 tokens in 2 steps", r.name);
        assert_eq!(r.ffn_ratio(&rows[0]), 1.0);
    }
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "progress never goes back: {seen:?}");
    assert_eq!(seen.last(), Some(&(4, 5)));
    // The session is left on the last row: 70% of 48 experts off, so 14 run in every
    // layer at every position decoded.
    let used = block_on(session.experts_used()).expect("reads").expect("routed");
    assert_eq!(used.len(), prompt.len() + 2);
    assert!(used.iter().flatten().all(|m| m.count_ones() == 14), "{used:?}");

    // A stop on the third row: no table.
    let stopped = block_on(speed::measure(&mut session, plan, &prompt, &now_ms, |done, _| {
        std::future::ready(done < 2)
    }))
    .expect("runs");
    assert_eq!(stopped, None);
}
