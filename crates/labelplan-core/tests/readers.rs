//! Every reader against fixtures written by other tools (tests/fixtures/make_fixtures.py),
//! every malformed fixture against its message, and random bytes against every reader.
#![cfg(not(target_arch = "wasm32"))]

use labelplan_core::read::{
    join_sidecar, open_path, read_path, read_sidecar, source::Unwatched, SidecarJoin,
};
use labelplan_core::{Dataset, Error, LoadOptions, SourceDtype};
use labelplan_testkit::fixture;
use proptest::prelude::*;

fn load(name: &str) -> Result<Dataset, Error> {
    read_path(&fixture(name), &LoadOptions::default())
}

fn reference() -> Dataset {
    load("small.npy").expect("small.npy loads")
}

fn ids() -> Vec<String> {
    (0..100).map(|i| format!("d{i:04}")).collect()
}

#[test]
fn npy_f32_matches_shape_and_values() {
    let d = reference();
    assert_eq!((d.rows, d.dim, d.dtype), (100, 64, SourceDtype::F32));
    // digits pixels are k/16: the first row of sklearn's digits starts 0, 0, 5/16.
    assert_eq!(&d.values[..3], &[0.0, 0.0, 0.3125]);
    assert!(d.ids.is_none() && d.columns.is_empty());
}

#[test]
fn every_binary_format_gives_the_same_matrix() {
    let want = reference();
    for (name, dtype) in [
        ("small_f64_be.npy", SourceDtype::F64),
        ("small.npz", SourceDtype::F32),
        ("small.safetensors", SourceDtype::F32),
    ] {
        let d = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.dtype, dtype, "{name}");
        assert_eq!((d.rows, d.dim), (100, 64), "{name}");
        assert_eq!(d.values, want.values, "{name}");
    }
    // digits values are multiples of 1/16: exact in f16 too.
    let half = load("small_f16.npy").expect("f16 loads");
    assert_eq!(half.dtype, SourceDtype::F16);
    assert_eq!(half.values, want.values);
}

#[test]
fn every_text_format_gives_the_same_matrix_ids_and_metadata() {
    let want = reference();
    for (name, dtype) in [
        ("small_columns.csv", SourceDtype::Text),
        ("small_json.csv", SourceDtype::Text),
        ("small.jsonl", SourceDtype::Text),
        ("small_fixed_snappy.parquet", SourceDtype::F32),
        ("small_list_gzip.parquet", SourceDtype::F64),
        ("small_fixed_zstd.parquet", SourceDtype::F32),
        ("small_fixed_lz4.parquet", SourceDtype::F32),
    ] {
        let d = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.dtype, dtype, "{name}");
        assert_eq!((d.rows, d.dim), (100, 64), "{name}");
        assert_eq!(d.values, want.values, "{name}");
        assert_eq!(d.ids.as_deref(), Some(&ids()[..]), "{name}");
        let names: Vec<&str> = d.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["digit"], "{name}");
        assert_eq!(d.columns[0].values[0], "0", "{name}: first digit of sklearn digits is 0");
    }
}

#[test]
fn projector_tsv_with_metadata_sidecar() {
    let mut d = load("small_vectors.tsv").expect("vectors load");
    assert_eq!(d.values, reference().values);
    let table = futures::executor::block_on(read_sidecar(
        open_path(&fixture("small_metadata.tsv")).expect("open"),
        &Unwatched,
    ))
    .expect("sidecar reads");
    join_sidecar(&mut d, table, &SidecarJoin::RowOrder).expect("joins");
    assert_eq!(d.ids.as_deref(), Some(&ids()[..]));
    assert_eq!(d.columns.len(), 1);
    assert_eq!(d.columns[0].name, "digit");
}

#[test]
fn sidecar_joins_by_id_column() {
    let mut d = load("small.jsonl").expect("loads");
    d.columns.clear();
    let table = futures::executor::block_on(read_sidecar(
        open_path(&fixture("small_sidecar.csv")).expect("open"),
        &Unwatched,
    ))
    .expect("reads");
    join_sidecar(&mut d, table, &SidecarJoin::ById("id".into())).expect("joins");
    assert_eq!(d.columns[0].name, "digit");
    assert_eq!(d.columns[0].values.len(), 100);
}

#[test]
fn sidecar_with_other_row_count_is_refused_and_leaves_data_alone() {
    let mut d = reference();
    let before = d.clone();
    let table = futures::executor::block_on(read_sidecar(
        open_path(&fixture("bad_sidecar_short.tsv")).expect("open"),
        &Unwatched,
    ))
    .expect("reads");
    let err = join_sidecar(&mut d, table, &SidecarJoin::RowOrder).expect_err("must fail");
    assert!(matches!(err, Error::RowCountMismatch { found: 90, expected: 100, .. }), "{err}");
    assert!(err.to_string().starts_with("bad_sidecar_short.tsv: has 90 rows"), "{err}");
    assert_eq!(d, before);
}

#[test]
fn npz_with_several_arrays_needs_a_name() {
    let err = load("small_two_arrays.npz").expect_err("ambiguous");
    assert!(err.to_string().contains("\"embeddings\", \"labels\""), "{err}");
    let opts = LoadOptions { array_name: Some("embeddings".into()), ..LoadOptions::default() };
    let d = read_path(&fixture("small_two_arrays.npz"), &opts).expect("named array loads");
    assert_eq!(d.values, reference().values);
}

/// Each malformed fixture and the words its message must hold.
#[test]
fn malformed_files_get_clear_messages() {
    let cases: &[(&str, &[&str])] = &[
        ("bad_empty.npy", &["bad_empty.npy: the file is empty"]),
        (
            "bad_truncated.npy",
            &["bad_truncated.npy: the file ends early", "expected 25600 bytes, found 24600"],
        ),
        ("bad_int32.npy", &["unsupported data type '<i4'", "float16, float32 or float64"]),
        ("bad_fortran.npy", &["Fortran", "C order"]),
        ("bad_ragged.csv", &["line 7 (row 6) has 63 values, expected 64"]),
        ("bad_text.tsv", &["line 5 (row 4), field column 4: expected a number, found \"abc\""]),
        ("bad_nan.tsv", &["2 rows hold NaN or infinite values (rows 3, 11)", "drop rows with NaN/Inf"]),
        ("bad_dup_ids.jsonl", &["id \"d0002\" appears in rows 2 and 7"]),
        ("bad_no_vector.parquet", &["no column holds vectors", "id (Utf8), digit (Int64)"]),
        ("bad_truncated.parquet", &["does not end with PAR1"]),
        ("bad_brotli.parquet", &["column \"id\" is compressed with Brotli", "zstd, snappy, gzip or lz4"]),
    ];
    for (name, words) in cases {
        let err = load(name).expect_err(name).to_string();
        assert!(err.starts_with(name), "message names the file: {err}");
        for w in *words {
            assert!(err.contains(w), "{name}: {err:?} lacks {w:?}");
        }
    }
}

#[test]
fn nan_rows_can_be_dropped_and_are_counted() {
    let opts = LoadOptions { drop_non_finite: true, ..LoadOptions::default() };
    let d = read_path(&fixture("bad_nan.tsv"), &opts).expect("loads with drop");
    assert_eq!(d.rows, 18);
    assert_eq!(d.dropped_rows, vec![3, 11]);
}

#[test]
fn too_large_is_refused_before_reading() {
    let opts = LoadOptions { memory_limit: 10_000, limit_is_browser: true, ..LoadOptions::default() };
    let err = read_path(&fixture("small.npy"), &opts).expect_err("over limit").to_string();
    assert!(err.contains("100 rows × 64 dims"), "{err}");
    assert!(err.contains("of a browser tab"), "{err}");
}

fn load_bytes(name: &str, bytes: Vec<u8>, opts: &LoadOptions) -> Result<Dataset, Error> {
    let input = labelplan_core::Input {
        name: name.to_owned(),
        len: bytes.len() as u64,
        reader: futures::io::Cursor::new(bytes),
    };
    futures::executor::block_on(labelplan_core::read_embeddings(input, opts, &Unwatched))
}

const NAMES: &[&str] =
    &["x.npy", "x.npz", "x.safetensors", "x.csv", "x.tsv", "x.jsonl", "x.parquet", "x.bin"];
const SEEDS: &[&str] = &[
    "small.npy",
    "small.npz",
    "small.safetensors",
    "small_columns.csv",
    "small_vectors.tsv",
    "small.jsonl",
    "small_f16.npy",
    "small_fixed_snappy.parquet",
    "small_list_gzip.parquet",
    "small_fixed_zstd.parquet",
    "small_fixed_lz4.parquet",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// No reader panics on random bytes.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), which in 0..NAMES.len()) {
        let opts = LoadOptions { memory_limit: 1 << 26, ..LoadOptions::default() };
        let _ = load_bytes(NAMES[which], bytes, &opts);
    }

    /// No reader panics on a real file with bytes flipped, cut or inserted.
    #[test]
    fn mutated_files_never_panic(
        which in 0..SEEDS.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = std::fs::read(fixture(SEEDS[which])).expect("fixture");
        for (at, byte, op) in edits {
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(bytes.len() / 2));
        let opts = LoadOptions { memory_limit: 1 << 26, ..LoadOptions::default() };
        let _ = load_bytes(SEEDS[which], bytes, &opts);
    }
}
