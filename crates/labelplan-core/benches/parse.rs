//! Parse throughput of a 200 MiB float32 `.npy` (409,600 × 128), against reading the
//! same file's bytes with `std::fs::read` in the same run as the baseline.
//! `cargo xtask bench` runs this and prints the MB/s and the ratio.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use labelplan_core::read::read_path;
use labelplan_core::LoadOptions;

const ROWS: usize = 409_600;
const DIM: usize = 128;

fn bench_file() -> PathBuf {
    labelplan_testkit::repo_root().join("target/bench/embeddings_200mb.npy")
}

fn parse(c: &mut Criterion) {
    let path = bench_file();
    labelplan_testkit::write_npy_f32(&path, ROWS, DIM, 1).expect("write the benchmark file");
    let bytes = std::fs::metadata(&path).expect("bench file").len();
    let mut group = c.benchmark_group("parse_200mb_npy");
    group.sample_size(10).throughput(Throughput::Bytes(bytes));
    group.bench_function("baseline_fs_read", |b| b.iter(|| black_box(std::fs::read(&path).expect("read"))));
    group.bench_function("read_path", |b| {
        b.iter(|| black_box(read_path(&path, &LoadOptions::default()).expect("parse")))
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
