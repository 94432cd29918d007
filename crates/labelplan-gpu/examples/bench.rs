//! `cargo xtask bench gpu`: every heavy primitive of the Backend trait, and a whole plan,
//! on the GPU backend and the CPU backend in one process, on the same synthetic data
//! (noisy blobs). Prints a markdown table: median seconds of 3 timed runs after a warm-up,
//! the work each run does (GFLOP, GB read and written), the rates, and GPU/CPU.
//!
//! Usage: `bench [--rows N] [--dim D] [--plan] [--no-cpu] [--peak-gflops G] [--large]
//! [--require-hardware]`
//! - `--plan` adds a whole ELFS plan (budgets 1% and 5%, curve 1% and 5%) on both.
//! - `--no-cpu` times the GPU only (the CPU column stays empty).
//! - `--peak-gflops G` prints the distance kernel's share of a card's fp32 peak.
//! - `--large` instead runs k-means pseudo-labels and k-center picks on a 1M × 128 f32
//!   set (512 MB, over the default 128 MiB binding) on the GPU, and reports the tiling.
//! - `--require-hardware` fails when the adapter is a software one (lavapipe).

#![allow(clippy::print_stdout)]

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use labelplan_core::backend::{Backend, Dense, Head, HeadStep};
use labelplan_core::plan::{Budget, InputInfo, Method, Settings};
use labelplan_core::Dataset;
use labelplan_cpu::CpuBackend;
use labelplan_gpu::{GpuBackend, GpuContext, GpuMatrix, GpuOptions, Storage};
use labelplan_select::{Engine, Progress};
use labelplan_testkit::blobs;
use pollster::block_on;

/// Timed runs per kernel (after one untimed warm-up).
const RUNS: usize = 3;
/// Reference rows of the distance kernel (k-means with 1,024 centroids, or a block of
/// facility-location candidates).
const REFS: usize = 1024;
/// Rows of the all-pairs kNN graph kernel (its cost grows with the square).
const KNN_ROWS: usize = 10_000;
/// Neighbours per row in the kNN kernel (the engine's graph uses 20).
const KNN_K: usize = 20;
/// Pseudo-label classes for segment sums and the proxy head.
const CLASSES: usize = 50;
/// Greedy k-center steps timed together.
const GREEDY_STEPS: usize = 32;

/// What one kernel run does, for the rates.
#[derive(Clone, Copy)]
struct Work {
    gflop: f64,
    gbytes: f64,
}

struct Row {
    name: String,
    work: Work,
    gpu: f64,
    cpu: Option<f64>,
}

/// Median seconds of `RUNS` runs of `f` after one warm-up.
fn time<F: FnMut()>(mut f: F) -> f64 {
    f();
    let mut secs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    secs.sort_by(f64::total_cmp);
    secs[RUNS / 2]
}

/// The data every kernel runs on, resident on one backend.
struct Inputs<B: Backend> {
    points: B::Matrix,
    refs: B::Matrix,
    knn_points: B::Matrix,
}

fn inputs<B: Backend>(b: &B, values: &[f32], rows: usize, dim: usize) -> Inputs<B> {
    let up = |v: &[f32], r: usize| {
        let raw = block_on(b.upload(v, r, dim)).expect("upload");
        block_on(b.normalize_rows(&raw)).expect("normalize")
    };
    Inputs {
        points: up(values, rows),
        refs: up(&values[..REFS * dim], REFS),
        knn_points: up(&values[..KNN_ROWS.min(rows) * dim], KNN_ROWS.min(rows)),
    }
}

/// Seconds of every kernel on backend `b`, in the order of [`kernel_work`].
fn kernel_times<B: Backend>(b: &B, values: &[f32], rows: usize, dim: usize) -> Vec<f64> {
    let x = inputs(b, values, rows, dim);
    let sync = |m: &B::Matrix| drop(block_on(b.read_rows(m, &[0])).expect("read"));
    let assign: Vec<u32> = (0..rows as u32).map(|i| i % CLASSES as u32).collect();
    let knn_rows = KNN_ROWS.min(rows);
    let group: Vec<u32> = (0..knn_rows as u32).collect();
    let order: Vec<u32> = (0..rows as u32).collect();
    let step = HeadStep { learning_rate: 5.0, noise_std: 0.005, noise_seed: 1 };
    let layer =
        Dense { inputs: dim, outputs: CLASSES, weights: vec![0.0; dim * CLASSES], bias: vec![0.0; CLASSES] };
    let mut training = block_on(b.start_training(&x.points, &assign, CLASSES)).expect("training");
    vec![
        time(|| {
            let raw = block_on(b.upload(values, rows, dim)).expect("upload");
            sync(&raw);
        }),
        time(|| sync(&block_on(b.normalize_rows(&x.points)).expect("normalize"))),
        time(|| drop(block_on(b.nearest(&x.points, &x.refs)).expect("nearest"))),
        time(|| drop(block_on(b.top_k(&x.knn_points, KNN_K, &group)).expect("top_k"))),
        time(|| drop(block_on(b.segment_sums(&x.points, &assign, CLASSES)).expect("sums"))),
        time(|| {
            let mut best = block_on(b.upload_vector(&vec![f32::NEG_INFINITY; rows])).expect("vector");
            let mut pick = 0;
            for _ in 0..GREEDY_STEPS {
                pick = block_on(b.raise_best(&x.points, &mut best, pick, true))
                    .expect("raise")
                    .map_or(0, |w| w.0);
            }
        }),
        time(|| {
            let mut head = Head { layers: vec![layer.clone()] };
            block_on(b.train_epoch(&mut training, &x.points, &mut head, &order, 128, step, None))
                .expect("epoch");
        }),
    ]
}

/// Names and work of the kernels timed by [`kernel_times`], same order.
fn kernel_work(rows: usize, dim: usize) -> Vec<(String, Work)> {
    let (n, d) = (rows as f64, dim as f64);
    let matrix_gb = n * d * 4.0 / 1e9;
    let knn = KNN_ROWS.min(rows) as f64;
    let refs = REFS as f64;
    let classes = CLASSES as f64;
    vec![
        (format!("upload {rows} × {dim} (host → device)"), Work { gflop: 0.0, gbytes: matrix_gb }),
        ("normalize rows".into(), Work { gflop: 3.0 * n * d / 1e9, gbytes: 2.0 * matrix_gb }),
        (
            format!("nearest of {REFS} refs (distance kernel, fused arg-max)"),
            Work { gflop: 2.0 * n * refs * d / 1e9, gbytes: matrix_gb },
        ),
        (
            format!("top-{KNN_K} kNN graph, {KNN_ROWS} × {KNN_ROWS}"),
            Work { gflop: 2.0 * knn * knn * d / 1e9, gbytes: knn * d * 4.0 / 1e9 },
        ),
        (format!("segment sums into {CLASSES}"), Work { gflop: n * d / 1e9, gbytes: matrix_gb }),
        (
            format!("k-center: {GREEDY_STEPS} greedy steps"),
            Work { gflop: GREEDY_STEPS as f64 * 2.0 * n * d / 1e9, gbytes: GREEDY_STEPS as f64 * matrix_gb },
        ),
        (
            format!("proxy head epoch (linear {dim} → {CLASSES}, batch 128, noise)"),
            // forward, weight gradient and input noise: about 4·n·d·c.
            Work { gflop: 4.0 * n * d * classes / 1e9, gbytes: matrix_gb },
        ),
    ]
}

/// Median seconds of the distance kernel with both matrices stored as f16.
fn half_nearest_seconds(b: &GpuBackend, values: &[f32], rows: usize, dim: usize) -> f64 {
    let ctx = b.context();
    let up = |v: &[f32], r: usize| {
        let raw = block_on(CpuBackend.upload(v, r, dim)).expect("upload");
        let unit: Vec<f32> =
            block_on(CpuBackend.normalize_rows(&raw)).expect("normalize").iter().copied().collect();
        GpuMatrix::upload_as(ctx, &unit, r, dim, Storage::F16).expect("upload f16")
    };
    let (points, refs) = (up(values, rows), up(&values[..REFS * dim], REFS));
    time(|| {
        drop(block_on(labelplan_gpu::kernels::similarity::nearest(ctx, &points, &refs)).expect("nearest"))
    })
}

fn elfs_settings() -> Settings {
    Settings {
        method: Method::Elfs,
        budgets: vec![Budget::Percent(1.0), Budget::Percent(5.0)],
        curve: vec![Budget::Percent(1.0), Budget::Percent(5.0)],
        ..Settings::default()
    }
}

/// Seconds of a whole plan on `b`, and its picks (to check GPU and CPU agree).
fn plan_seconds<B: Backend>(b: &B, data: &Dataset, settings: &Settings) -> (f64, Vec<Vec<u32>>) {
    let started = Instant::now();
    let plan = block_on(Engine::new(b).run(
        data,
        InputInfo::unhashed(data),
        settings,
        &mut |_| {},
        &AtomicBool::new(false),
    ))
    .expect("plan");
    (started.elapsed().as_secs_f64(), plan.budgets.iter().map(|p| p.rows.clone()).collect())
}

fn gpu(require_hardware: bool) -> GpuBackend {
    // Mesa's device-select layer prints Wayland noise without a session.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
    let ctx =
        block_on(GpuContext::new(GpuOptions::default())).expect("a GPU adapter (Vulkan; lavapipe will do)");
    assert!(
        !(require_hardware && ctx.is_software()),
        "only a software adapter ({}): is the GPU's Vulkan driver installed?",
        ctx.adapter_description()
    );
    GpuBackend::new(ctx)
}

fn rate(amount: f64, secs: f64) -> String {
    if amount == 0.0 {
        "—".into()
    } else {
        format!("{:.1}", amount / secs)
    }
}

fn print_table(rows: &[Row], gpu_name: &str) {
    println!("| kernel | GFLOP | GB | GPU s | GPU GFLOP/s | GPU GB/s | CPU s | CPU GFLOP/s | CPU GB/s | GPU/CPU time |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let (cpu_s, cpu_flops, cpu_gb, ratio) = match r.cpu {
            Some(c) => (
                format!("{c:.3}"),
                rate(r.work.gflop, c),
                rate(r.work.gbytes, c),
                format!("{:.2}", r.gpu / c),
            ),
            None => ("—".into(), "—".into(), "—".into(), "—".into()),
        };
        println!(
            "| {} | {:.2} | {:.3} | {:.3} | {} | {} | {cpu_s} | {cpu_flops} | {cpu_gb} | {ratio} |",
            r.name,
            r.work.gflop,
            r.work.gbytes,
            r.gpu,
            rate(r.work.gflop, r.gpu),
            rate(r.work.gbytes, r.gpu),
        );
    }
    println!("({gpu_name}; GB/s counts the embeddings matrix read, and written where a kernel writes one.)");
}

/// 1M × 128 through k-means pseudo-labels and k-center picks on the GPU.
fn large(b: &GpuBackend) {
    let (rows, dim) = (1_000_000, 128);
    let values = blobs(3, rows, dim, 50, 0.35);
    let data = Dataset::from_matrix("synthetic-1m", values, rows, dim);
    let bytes = (rows * dim * 4) as f64;
    let binding = b.context().binding_bytes();
    println!(
        "{rows} × {dim} f32 = {:.0} MB on {}; binding limit {:.0} MiB → at least {} tiles",
        bytes / 1e6,
        b.name(),
        binding as f64 / (1 << 20) as f64,
        (bytes / binding as f64).ceil()
    );
    let settings = Settings {
        method: Method::KCenter,
        budgets: vec![Budget::Count(200)],
        curve: Vec::new(),
        clusters: Some(10),
        ..Settings::default()
    };
    let started = Instant::now();
    let mut stages: Vec<(String, f64)> = Vec::new();
    let mut last = ("upload + normalize".to_string(), Instant::now());
    let plan = block_on(Engine::new(b).run(
        &data,
        InputInfo::unhashed(&data),
        &settings,
        &mut |p: &Progress| {
            if p.stage != last.0 {
                stages.push((last.0.clone(), last.1.elapsed().as_secs_f64()));
                last = (p.stage.clone(), Instant::now());
            }
        },
        &AtomicBool::new(false),
    ))
    .expect("the 1M × 128 k-means + k-center plan");
    stages.push((last.0.clone(), last.1.elapsed().as_secs_f64()));
    let picks = &plan.budgets[0].rows;
    let mut distinct = picks.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!((picks.len(), distinct.len()), (200, 200), "200 distinct k-center picks");
    assert_eq!(plan.clustering.sizes.iter().sum::<usize>(), rows, "every row in a cluster");
    println!(
        "ok: k-means (k = {}, cluster sizes {:?}) and 200 k-center picks in {:.1} s",
        plan.clustering.k,
        plan.clustering.sizes,
        started.elapsed().as_secs_f64()
    );
    for (stage, secs) in stages {
        println!("  {stage}: {secs:.1} s");
    }
}

/// Seconds of one map frame on the GPU (points resident, pixels read back) and with
/// the page's fallback painter on the CPU.
fn map_frame_seconds(ctx: &GpuContext, rows: usize, cpu: bool) -> (f64, Option<f64>) {
    use labelplan_core::draw::{paint, Frame, Style};
    use labelplan_gpu::kernels::points::{self, MapPoints};
    let positions: Vec<f32> = blobs(3, rows, 2, CLASSES, 0.5).iter().map(|v| v * 10.0).collect();
    let categories: Vec<u32> = (0..rows as u32).map(|r| r % CLASSES as u32).collect();
    let highlighted: Vec<u32> = (0..rows as u32).step_by(20).collect();
    let mask: Vec<bool> = (0..rows).map(|r| r % 20 == 0).collect();
    let frame = Frame { width: 1280, height: 800, centre: (0.0, 0.0), scale: 38.0 };
    let style = Style::new(rows, 1.0, false);
    let on_gpu = block_on(MapPoints::new(ctx, &positions, &categories)).expect("map points upload");
    let gpu = time(|| {
        block_on(points::paint(ctx, &on_gpu, &frame, &highlighted, Some(0), &style)).expect("map frame");
    });
    let cpu = cpu.then(|| {
        let mut rgba = vec![0u8; 1280 * 800 * 4];
        time(|| paint(&mut rgba, &frame, &positions, &categories, &mask, Some(0), &style))
    });
    (gpu, cpu)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let rows: usize = value("--rows").map_or(100_000, |v| v.parse().expect("--rows N"));
    let dim: usize = value("--dim").map_or(384, |v| v.parse().expect("--dim D"));
    let peak: Option<f64> = value("--peak-gflops").map(|v| v.parse().expect("--peak-gflops G"));
    let gpu = gpu(has("--require-hardware"));
    if has("--large") {
        large(&gpu);
        return;
    }
    assert!(rows >= REFS, "--rows must be at least {REFS}");
    let values = blobs(1, rows, dim, CLASSES, 0.35);
    println!("{rows} × {dim} f32, {CLASSES} noisy blobs; median of {RUNS} runs after a warm-up");
    let gpu_times = kernel_times(&gpu, &values, rows, dim);
    let half = half_nearest_seconds(&gpu, &values, rows, dim);
    let cpu_times = (!has("--no-cpu")).then(|| kernel_times(&CpuBackend, &values, rows, dim));
    let mut table: Vec<Row> = kernel_work(rows, dim)
        .into_iter()
        .enumerate()
        .map(|(i, (name, work))| Row { name, work, gpu: gpu_times[i], cpu: cpu_times.as_ref().map(|c| c[i]) })
        .collect();
    if has("--plan") {
        let data = Dataset::from_matrix("synthetic", values, rows, dim);
        let settings = elfs_settings();
        let (gpu_s, gpu_picks) = plan_seconds(&gpu, &data, &settings);
        let cpu = (!has("--no-cpu")).then(|| plan_seconds(&CpuBackend, &data, &settings));
        if let Some((_, cpu_picks)) = &cpu {
            // Large plans may differ where k-means or a score meets a near-tie that f32
            // sums in another order break the other way; the overlap says how much.
            let shared: Vec<String> = gpu_picks
                .iter()
                .zip(cpu_picks)
                .map(|(g, c)| format!("{} of {}", g.iter().filter(|r| c.contains(r)).count(), c.len()))
                .collect();
            println!("whole ELFS plan: picks the GPU shares with the CPU per budget: {}", shared.join(", "));
        }
        table.push(Row {
            name: "whole plan: ELFS, budgets 1% and 5%, curve 1% and 5% (one run)".into(),
            work: Work { gflop: 0.0, gbytes: 0.0 },
            gpu: gpu_s,
            cpu: cpu.map(|c| c.0),
        });
    }
    let (gpu_frame, cpu_frame) = map_frame_seconds(gpu.context(), rows, !has("--no-cpu"));
    table.push(Row {
        name: format!("map frame: {rows} points, 5% highlighted, 1280 × 800 RGBA read back"),
        work: Work { gflop: 0.0, gbytes: 0.0 },
        gpu: gpu_frame,
        cpu: cpu_frame,
    });
    print_table(&table, &gpu.name());
    println!(
        "f16 storage (GPU): nearest of {REFS} refs {half:.3} s = {:.1} GFLOP/s, {:.2}× the f32 kernel's time",
        table[2].work.gflop / half,
        half / gpu_times[2]
    );
    if let Some(peak) = peak {
        let (_, work) = &kernel_work(rows, dim)[2];
        let achieved = work.gflop / gpu_times[2];
        println!(
            "distance kernel: {achieved:.0} GFLOP/s = {:.1}% of the card's fp32 peak ({peak:.0} GFLOP/s)",
            100.0 * achieved / peak
        );
    }
}
