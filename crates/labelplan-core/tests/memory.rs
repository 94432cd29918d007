//! Peak heap while reading each format stays below twice the decoded dataset (matrix,
//! ids and metadata) plus a fixed margin: the readers stream, reserve the matrix once
//! (binary formats, Parquet) or grow it by estimates from the bytes read (text), and
//! never hold the file's bytes beside it. Its own test binary: the counting allocator
//! sees every allocation of the process, so nothing else may run beside it.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field};
use labelplan_core::read::read_path;
use labelplan_core::LoadOptions;
use labelplan_testkit::{npy_bytes, npz_bytes, random_matrix, safetensors_bytes};
use peak_alloc::PeakAlloc;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const ROWS: usize = 50_000;
const DIM: usize = 64;
/// Buffers a read keeps beside the matrix whatever the file's size: the 1 MiB read
/// buffer, a 1 MiB chunk of rows, Parquet's decoded batches and a row group's bytes.
const MARGIN: usize = 24 << 20;

fn ids() -> Vec<String> {
    (0..ROWS).map(|i| format!("item-{i:06}")).collect()
}

fn write(dir: &Path, name: &str, bytes: Vec<u8>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write a test file");
    path
}

fn text(values: &[f32], separator: &str, with_ids: bool) -> Vec<u8> {
    let ids = ids();
    let mut out = String::new();
    if with_ids {
        out.push_str("id");
        (0..DIM).for_each(|j| out.push_str(&format!("{separator}f{j}")));
        out.push('\n');
    }
    for (i, row) in values.chunks(DIM).enumerate() {
        if with_ids {
            out.push_str(&ids[i]);
            out.push_str(separator);
        }
        let cells: Vec<String> = row.iter().map(f32::to_string).collect();
        out.push_str(&cells.join(separator));
        out.push('\n');
    }
    out.into_bytes()
}

fn jsonl(values: &[f32]) -> Vec<u8> {
    let ids = ids();
    let lines: Vec<String> = values
        .chunks(DIM)
        .enumerate()
        .map(|(i, row)| {
            let cells: Vec<String> = row.iter().map(f32::to_string).collect();
            format!("{{\"id\":\"{}\",\"embedding\":[{}]}}\n", ids[i], cells.join(","))
        })
        .collect();
    lines.concat().into_bytes()
}

fn parquet(values: &[f32]) -> Vec<u8> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let vectors =
        FixedSizeListArray::new(item, DIM as i32, Arc::new(Float32Array::from(values.to_vec())), None);
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(StringArray::from(ids())) as ArrayRef),
        ("embedding", Arc::new(vectors) as ArrayRef),
    ])
    .expect("a batch");
    let mut out = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).expect("a writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    out
}

#[test]
fn reading_any_format_peaks_below_twice_the_dataset_plus_a_margin() {
    let dir = std::env::temp_dir().join(format!("labelplan-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch dir");
    let values = random_matrix(7, ROWS, DIM);
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let npy = npy_bytes("<f4", &format!("({ROWS}, {DIM})"), &raw);
    let header =
        format!(r#"{{"x":{{"dtype":"F32","shape":[{ROWS},{DIM}],"data_offsets":[0,{}]}}}}"#, raw.len());
    let files = [
        write(&dir, "m.npy", npy.clone()),
        write(&dir, "m.npz", npz_bytes(&npy)),
        write(&dir, "m.safetensors", safetensors_bytes(&header, &raw)),
        write(&dir, "m.csv", text(&values, ",", true)),
        write(&dir, "m.tsv", text(&values, "\t", false)),
        write(&dir, "m.jsonl", jsonl(&values)),
        write(&dir, "m.parquet", parquet(&values)),
    ];
    drop((values, raw, npy));
    let mut report = Vec::new();
    for path in &files {
        let before = HEAP.current_usage();
        HEAP.reset_peak_usage();
        let data = read_path(path, &LoadOptions::default()).expect("reads");
        let peak = HEAP.peak_usage().saturating_sub(before);
        let decoded = data.memory_bytes() as usize;
        assert_eq!((data.rows, data.dim), (ROWS, DIM), "{}", path.display());
        report.push(format!(
            "{}: peak {:.1} MiB for {:.1} MiB decoded ({:.2}x)",
            path.display(),
            peak as f64 / (1 << 20) as f64,
            decoded as f64 / (1 << 20) as f64,
            peak as f64 / decoded as f64
        ));
        assert!(peak <= 2 * decoded + MARGIN, "{}", report.join("\n"));
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
    // `cargo test -- --nocapture` shows the figures (docs/reliability.md quotes them).
    eprintln!("{}", report.join("\n"));
}
