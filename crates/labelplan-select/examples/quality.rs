//! `cargo xtask quality`: every method on the digits fixture at 1–30% budgets, scored by
//! the fixture's fixed probe with TRUE labels (the only place labels are used), written
//! as a Markdown table. Usage: `quality OUT.md`.
//!
//! For experiments: `LABELPLAN_QUALITY_METHODS=elfs,ccs` runs only those methods and
//! `LABELPLAN_QUALITY_SETTINGS='{"folds":1}'` overrides settings (JSON, as in a manifest).

#![allow(clippy::print_stdout)]

use std::sync::atomic::AtomicBool;

use labelplan_core::plan::{Budget, InputInfo, Method, Settings};
use labelplan_core::read::{read_path, LoadOptions};
use labelplan_core::Dataset;
use labelplan_cpu::CpuBackend;
use labelplan_select::probe::{train_and_score, Standardizer};
use labelplan_select::{Engine, Scale};

const PERCENTS: [f64; 6] = [1.0, 2.0, 5.0, 10.0, 20.0, 30.0];
const SEEDS: u64 = 5;
/// Best reference row minus one point, from tests/fixtures/digits/README.md.
const BAR: [f64; 6] = [79.2, 81.4, 89.7, 93.1, 94.6, 95.1];
const REFERENCE: &str = "| reference: random (5 seeds) | 52.2 | 61.4 | 83.3 | 90.7 | 93.0 | 94.6 |
| reference: k-means, k = budget, item nearest each centroid | 73.1 | 82.4 | 89.1 | 93.0 | 95.6 | 96.1 |
| reference: k-center greedy | 43.5 | 65.7 | 81.3 | 90.2 | 94.8 | 95.4 |
| reference: facility location (cosine, lazy greedy) | 80.2 | 80.0 | 90.7 | 94.1 | 95.6 | 95.6 |
";

fn ints(path: &std::path::Path) -> Vec<u32> {
    let bytes = std::fs::read(path).expect("fixture file");
    let npy = npyz::NpyFile::new(&bytes[..]).expect("an .npy file");
    npy.into_vec::<i64>().expect("int64 values").into_iter().map(|v| v as u32).collect()
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "docs/quality.md".into());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/digits");
    let all = read_path(&dir.join("embeddings.npy"), &LoadOptions::default()).expect("digits embeddings");
    let labels = ints(&dir.join("labels.npy"));
    let (train, test) = (ints(&dir.join("train_idx.npy")), ints(&dir.join("test_idx.npy")));
    let pool = Dataset {
        rows: train.len(),
        values: train.iter().flat_map(|&i| all.row(i as usize).to_vec()).collect(),
        ids: Some(train.iter().map(|i| i.to_string()).collect()),
        ..all.clone()
    };
    let pool_y: Vec<u32> = train.iter().map(|&i| labels[i as usize]).collect();
    let test_y: Vec<u32> = test.iter().map(|&i| labels[i as usize]).collect();
    // The probe standardises with the pool's mean and std (label-free).
    let std = Standardizer::fit(&pool.values, pool.rows, pool.dim);
    let test_x = std.apply(&all.values, all.dim, &test);
    let input = InputInfo::unhashed(&pool);
    let mut table = String::new();
    let mut default_row = Vec::new();
    let only: Option<Vec<Method>> = std::env::var("LABELPLAN_QUALITY_METHODS")
        .ok()
        .map(|list| list.split(',').map(|m| m.parse().expect("a method name")).collect());
    let overrides: serde_json::Value = std::env::var("LABELPLAN_QUALITY_SETTINGS")
        .map_or(serde_json::json!({}), |s| serde_json::from_str(&s).expect("settings JSON"));
    let methods = only.unwrap_or(Method::ALL.to_vec());
    // Every method twice: as a pool of this size runs (exactly), then with the index's
    // approximate steps forced on, as pools over `Scale::default().exact_rows` run.
    let mut indexed = String::new();
    for (method, scale) in
        methods.iter().map(|&m| (m, Scale::default())).chain(methods.iter().map(|&m| (m, Scale::APPROXIMATE)))
    {
        let approximate = scale.exact_rows == 0;
        let seeds = if method.is_stochastic() { SEEDS } else { 1 };
        let mut sums = [0.0f64; 6];
        let started = std::time::Instant::now();
        for seed in 0..seeds {
            let base = Settings {
                method,
                seed,
                budgets: PERCENTS.iter().map(|&p| Budget::Percent(p)).collect(),
                curve: Vec::new(),
                ..Settings::default()
            };
            let mut merged = serde_json::to_value(&base).expect("settings serialise");
            for (key, value) in overrides.as_object().expect("a JSON object") {
                merged[key] = value.clone();
            }
            let settings: Settings = serde_json::from_value(merged).expect("valid settings");
            let plan = pollster::block_on(Engine::new(&CpuBackend).scaled(scale).run(
                &pool,
                input.clone(),
                &settings,
                &mut |_| {},
                &AtomicBool::new(false),
            ))
            .expect("plan");
            for (sum, b) in sums.iter_mut().zip(&plan.budgets) {
                let x = std.apply(&pool.values, pool.dim, &b.rows);
                let y: Vec<u32> = b.rows.iter().map(|&r| pool_y[r as usize]).collect();
                *sum += train_and_score(&x, &y, &test_x, &test_y, 10, 2000);
            }
        }
        let mean: Vec<f64> = sums.iter().map(|s| s / seeds as f64).collect();
        let cells: Vec<String> = mean.iter().map(|v| format!("{v:.1}")).collect();
        let name = if seeds > 1 { format!("{method} ({seeds} seeds)") } else { method.to_string() };
        println!(
            "{name:28} {}   ({:.1} s{})",
            cells.join("  "),
            started.elapsed().as_secs_f64(),
            if approximate { ", through the index" } else { "" }
        );
        let row = format!("| {name} | {} |\n", cells.join(" | "));
        if approximate {
            indexed.push_str(&row);
        } else {
            table.push_str(&row);
            if method == Method::Coverage {
                default_row = mean;
            }
        }
    }
    let pass: Vec<String> = default_row
        .iter()
        .zip(BAR)
        .map(|(v, b)| if *v >= b - 1e-9 { format!("{:+.1}", v - b) } else { format!("**{:+.1}**", v - b) })
        .collect();
    let doc = format!(
        "# Selection quality on digits\n\n\
Generated by `cargo xtask quality` (crates/labelplan-select/examples/quality.rs); do not edit by hand.\n\n\
Pool: the 1257 train rows of tests/fixtures/digits (8x8 pixels / 16, 64 dims). Each method picks\n\
without labels (CPU backend, default settings, curve off); then the fixture's fixed probe\n\
(multinomial logistic regression, features standardised with the pool's mean and std,\n\
mean cross-entropy + 0.01·‖W‖²) is trained on the picks with their TRUE labels and scored on\n\
the 540 test rows. Accuracy in %; stochastic methods are the mean over seeds 0–4.\n\n\
| method | 1% (13) | 2% (25) | 5% (63) | 10% (126) | 20% (251) | 30% (377) |\n\
|---|---|---|---|---|---|---|\n{table}{REFERENCE}\
| bar: best reference − 1 | {} |\n\
| default (coverage) minus bar | {} |\n\n\
## Through the index\n\n\
Pools over 5,000 rows search through an inverted-file index instead of exactly (kNN graph,\n\
nearest picks, the default's k-means steps; docs/selection.md). The same methods on the\n\
same pool with those approximate steps forced on (`Scale::APPROXIMATE`, every pool through the index):\n\n\
| method | 1% (13) | 2% (25) | 5% (63) | 10% (126) | 20% (251) | 30% (377) |\n\
|---|---|---|---|---|---|---|\n{indexed}",
        BAR.map(|b| format!("{b:.1}")).join(" | "),
        pass.join(" | "),
    );
    std::fs::write(&out, doc).expect("write the report");
    println!("wrote {out}");
}
