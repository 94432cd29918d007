//! `cargo xtask bench scale`: how plans grow with the pool. For each size, synthetic
//! `rows × dim` f32 data (50 noisy blobs), first a baseline in the same process (the
//! engine's own spherical k-means, k = 100, 20 Lloyd iterations over every row), then
//! each method's full plan (default settings, budgets 1% and 5% plus the default curve)
//! on the CPU backend, with the time split by stage. Last, the growth exponent of each
//! method: the least-squares slope of log(seconds) against log(rows).
//!
//! Usage: `scale [--rows 12500,25000,50000,100000] [--dim 384] [--methods coverage,elfs]
//! [--write-npy] [--map]` (`--write-npy` also writes the largest set to
//! `target/bench/synthetic_<ROWS>x<DIM>.npy` for the CLI and browser runs; `--map` adds
//! the page's map to each plan, as the worker runs it; `--methods none` runs only the
//! baseline).

#![allow(clippy::print_stdout)]

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use labelplan_core::backend::Backend;
use labelplan_core::plan::{Budget, InputInfo, Method, Settings};
use labelplan_core::Dataset;
use labelplan_cpu::CpuBackend;
use labelplan_select::Engine;
use labelplan_testkit::blobs;
use pollster::block_on;

/// Adds `secs` to the stage `name`.
fn add(stages: &mut Vec<(String, f64)>, name: &str, secs: f64) {
    match stages.iter_mut().find(|s| s.0 == name) {
        Some(s) => s.1 += secs,
        None => stages.push((name.to_string(), secs)),
    }
}

/// Seconds of 20 Lloyd iterations with k = 100 over every row (no early stop).
fn baseline(values: &[f32], rows: usize, dim: usize) -> f64 {
    let cpu = CpuBackend;
    let started = Instant::now();
    let raw = block_on(cpu.upload(values, rows, dim)).expect("upload");
    let points = block_on(cpu.normalize_rows(&raw)).expect("normalize");
    let seeds: Vec<u32> = (0..100u32).map(|i| (i as usize * rows / 100) as u32).collect();
    let mut centroids = block_on(cpu.read_rows(&points, &seeds)).expect("seeds");
    for _ in 0..20 {
        let c = block_on(cpu.upload(&centroids, 100, dim)).expect("upload");
        let near = block_on(cpu.nearest(&points, &c)).expect("nearest");
        centroids = block_on(cpu.segment_sums(&points, &near.index, 100)).expect("sums");
        labelplan_select::kmeans::normalize(&mut centroids, dim);
    }
    started.elapsed().as_secs_f64()
}

/// Least-squares slope of `ln y` against `ln x`.
fn exponent(points: &[(f64, f64)]) -> f64 {
    let logs: Vec<(f64, f64)> = points.iter().map(|(x, y)| (x.ln(), y.ln())).collect();
    let n = logs.len() as f64;
    let (mx, my) = (logs.iter().map(|p| p.0).sum::<f64>() / n, logs.iter().map(|p| p.1).sum::<f64>() / n);
    let sxy: f64 = logs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = logs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = flag(&args, "--rows")
        .unwrap_or("12500,25000,50000,100000")
        .split(',')
        .map(|s| s.parse().expect("a row count"))
        .collect();
    let dim: usize = flag(&args, "--dim").map_or(384, |d| d.parse().expect("a dimension"));
    let methods: Vec<Method> = match flag(&args, "--methods") {
        Some("none") => Vec::new(),
        Some(list) => list.split(',').map(|m| m.parse().expect("a method name")).collect(),
        None => Method::ALL.to_vec(),
    };
    let with_map = args.iter().any(|a| a == "--map");
    let map_note = if with_map { ", then the page's map" } else { "" };
    println!(
        "f32 x {dim}, 50 blobs, CPU backend, budgets 1% and 5% plus the default curve (1-50%){map_note}\n"
    );
    println!("| rows | method | plan s | ratio to baseline | stages over 5% (s) |\n|---|---|---|---|---|");
    let mut times: Vec<(Method, Vec<(f64, f64)>)> = methods.iter().map(|&m| (m, Vec::new())).collect();
    for &rows in &sizes {
        let values = blobs(1, rows, dim, 50, 0.35);
        if args.iter().any(|a| a == "--write-npy") && rows == *sizes.iter().max().expect("a size") {
            let npy = labelplan_testkit::repo_root().join(format!("target/bench/synthetic_{rows}x{dim}.npy"));
            labelplan_testkit::write_npy_values(&npy, &values, rows, dim).expect("write the synthetic .npy");
        }
        let base = baseline(&values, rows, dim);
        println!("| {rows} | baseline: k-means k = 100, 20 iterations | {base:.2} | 1.00 | |");
        let data = Dataset::from_matrix("synthetic", values, rows, dim);
        let input = InputInfo::unhashed(&data);
        for (method, series) in &mut times {
            let settings = Settings {
                method: *method,
                budgets: vec![Budget::Percent(1.0), Budget::Percent(5.0)],
                ..Settings::default()
            };
            let started = Instant::now();
            // Seconds per stage: the time from one progress report to the next goes to
            // the stage of the first.
            let mut stages: Vec<(String, f64)> = Vec::new();
            let mut last = (String::from("upload"), Instant::now());
            let mut on_progress = |p: &labelplan_select::Progress| {
                add(&mut stages, &last.0, last.1.elapsed().as_secs_f64());
                last = (p.stage.clone(), Instant::now());
            };
            let engine = Engine::new(&CpuBackend);
            let cancel = AtomicBool::new(false);
            let plan = if with_map {
                block_on(engine.run_with_map(&data, input.clone(), &settings, &mut on_progress, &cancel))
                    .expect("plan")
                    .0
            } else {
                block_on(engine.run(&data, input.clone(), &settings, &mut on_progress, &cancel))
                    .expect("plan")
            };
            add(&mut stages, &last.0, last.1.elapsed().as_secs_f64());
            let secs = started.elapsed().as_secs_f64();
            assert_eq!(plan.budgets[1].count, (rows as f64 * 0.05).round() as usize);
            let split: Vec<String> =
                stages.iter().filter(|s| s.1 >= 0.05 * secs).map(|s| format!("{} {:.1}", s.0, s.1)).collect();
            println!("| {rows} | {method} | {secs:.2} | {:.2} | {} |", secs / base, split.join(", "));
            series.push((rows as f64, secs));
        }
    }
    if sizes.len() > 1 && !methods.is_empty() {
        let (first, last) = (sizes[0], sizes[sizes.len() - 1]);
        // A quarter of the pool: quadratic growth would give 16, linear 4.
        let quarter = sizes.iter().position(|&s| s * 4 == last);
        let head = quarter.map_or(String::new(), |q| format!(" time({last}) / time({}) |", sizes[q]));
        println!("\n| method | growth exponent (seconds ∝ rows^e) | time({last}) / time({first}) |{head}");
        println!("|---|---|---|{}", if quarter.is_some() { "---|" } else { "" });
        for (method, series) in &times {
            let ratio = series[series.len() - 1].1 / series[0].1;
            let by_quarter = quarter
                .map_or(String::new(), |q| format!(" {:.2} |", series[series.len() - 1].1 / series[q].1));
            println!("| {method} | {:.2} | {ratio:.2} |{by_quarter}", exponent(series));
        }
    }
}
