//! `cargo xtask bench` (selection part): every method's full plan (default settings,
//! budgets 1% and 5%, default curve) on a synthetic `rows × dim` set of 50 noisy blobs,
//! CPU backend, timed in this process; the ratio column is against the random method's
//! plan (the same clustering, curve and estimates with a trivial selection); the last
//! column splits the time by stage.
//! Also writes the data to `target/bench/synthetic_<ROWS>x<DIM>.npy` for the CLI run.
//! Usage: `scale [ROWS] [DIM] [METHOD,...]`.

#![allow(clippy::print_stdout)]

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use labelplan_core::plan::{Budget, InputInfo, Method, Settings};
use labelplan_core::Dataset;
use labelplan_cpu::CpuBackend;
use labelplan_select::Engine;
use labelplan_testkit::blobs;

/// Adds `secs` to the stage `name`.
fn add(stages: &mut Vec<(String, f64)>, name: &str, secs: f64) {
    match stages.iter_mut().find(|s| s.0 == name) {
        Some(s) => s.1 += secs,
        None => stages.push((name.to_string(), secs)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dim: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(384);
    let methods: Vec<Method> = match args.get(2) {
        Some(list) => list.split(',').map(|m| m.parse().expect("a method name")).collect(),
        None => Method::ALL.to_vec(),
    };
    let values = blobs(1, rows, dim, 50, 0.35);
    let npy = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../target/bench/synthetic_{rows}x{dim}.npy"));
    labelplan_testkit::write_npy_values(&npy, &values, rows, dim).expect("write the synthetic .npy");
    let data = Dataset::from_matrix("synthetic", values, rows, dim);
    let input = InputInfo::unhashed(&data);
    println!("{rows} x {dim} f32, 50 blobs, CPU backend, budgets 1% and 5% plus the default curve");
    println!("| method | plan seconds | ratio to random | stages over 5% (s) |\n|---|---|---|---|");
    let mut random_secs = None;
    let order: Vec<Method> =
        std::iter::once(Method::Random).chain(methods.into_iter().filter(|m| *m != Method::Random)).collect();
    for method in order {
        let settings = Settings {
            method,
            budgets: vec![Budget::Percent(1.0), Budget::Percent(5.0)],
            ..Settings::default()
        };
        let started = Instant::now();
        // Seconds per stage: the time from one progress report to the next goes to the
        // stage of the first.
        let mut stages: Vec<(String, f64)> = Vec::new();
        let mut last = (String::from("upload"), Instant::now());
        let mut on_progress = |p: &labelplan_select::Progress| {
            add(&mut stages, &last.0, last.1.elapsed().as_secs_f64());
            last = (p.stage.clone(), Instant::now());
        };
        let plan = pollster::block_on(Engine::new(&CpuBackend).run(
            &data,
            input.clone(),
            &settings,
            &mut on_progress,
            &AtomicBool::new(false),
        ))
        .expect("plan");
        add(&mut stages, &last.0, last.1.elapsed().as_secs_f64());
        let secs = started.elapsed().as_secs_f64();
        let base = *random_secs.get_or_insert(secs);
        assert_eq!(plan.budgets[1].count, (rows as f64 * 0.05).round() as usize);
        let split: Vec<String> =
            stages.iter().filter(|s| s.1 >= 0.05 * secs).map(|s| format!("{} {:.0}", s.0, s.1)).collect();
        println!("| {method} | {secs:.1} | {:.2} | {} |", secs / base, split.join(", "));
    }
}
