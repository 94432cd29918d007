//! Recall@20 of the index's kNN graph against the exact graph, with times.
//! Usage: `recall digits | recall ROWS DIM`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use labelplan_core::backend::Backend;
use labelplan_core::read::{read_path, LoadOptions};
use labelplan_cpu::CpuBackend;
use labelplan_select::ivf::{recall, Ivf};
use pollster::block_on;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (values, rows, dim) = if args.first().map(String::as_str) == Some("digits") {
        let d =
            read_path(&labelplan_testkit::repo_root().join("web/sample/digits.npy"), &LoadOptions::default())
                .expect("digits");
        (d.values, d.rows, d.dim)
    } else {
        let rows: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
        let dim: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(384);
        (labelplan_testkit::blobs(1, rows, dim, 50, 0.35), rows, dim)
    };
    let cpu = CpuBackend;
    let raw = block_on(cpu.upload(&values, rows, dim)).expect("upload");
    let points = block_on(cpu.normalize_rows(&raw)).expect("normalize");
    let group: Vec<u32> = (0..rows as u32).collect();
    let t = Instant::now();
    let ivf = block_on(Ivf::build(&cpu, &points, 0)).expect("index");
    let build = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let approx = block_on(ivf.knn(&cpu, &points, &group, 20)).expect("ivf knn");
    let search = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let exact = block_on(cpu.top_k(&points, 20, &group)).expect("exact");
    let exact_s = t.elapsed().as_secs_f64();
    println!(
        "{rows} x {dim}: {} lists, recall@20 {:.4}; index {build:.2} s, search {search:.2} s, exact {exact_s:.2} s",
        ivf.lists(),
        recall(&approx, &exact)
    );
}
