//! The browser's byte source: readers over a `Blob` give the same dataset as natively,
//! and a cancel stops a load.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;

use labelplan_core::read::source::{Unwatched, Watch};
use labelplan_core::{read_embeddings, Dataset, Error, Input, LoadOptions};
use labelplan_web::blob_reader::BlobReader;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const SMALL_NPY: &[u8] = include_bytes!("../../../tests/fixtures/small.npy");
const SMALL_NPZ: &[u8] = include_bytes!("../../../tests/fixtures/small.npz");
const SMALL_JSONL: &[u8] = include_bytes!("../../../tests/fixtures/small.jsonl");

fn blob(bytes: &[u8]) -> web_sys::Blob {
    let array = js_sys::Array::new();
    array.push(&js_sys::Uint8Array::from(bytes));
    web_sys::Blob::new_with_u8_array_sequence(&array).expect("a blob")
}

async fn load(name: &str, bytes: &[u8], watch: &dyn Watch) -> Result<Dataset, Error> {
    let reader = BlobReader::new(blob(bytes));
    let input = Input { name: name.into(), len: reader.len(), reader };
    read_embeddings(input, &LoadOptions::browser(), watch).await
}

#[wasm_bindgen_test]
async fn blob_formats_give_the_same_matrix() {
    let npy = load("small.npy", SMALL_NPY, &Unwatched).await.expect("npy");
    assert_eq!((npy.rows, npy.dim), (100, 64));
    // The npz reader seeks to the central directory at the end, then back.
    let npz = load("small.npz", SMALL_NPZ, &Unwatched).await.expect("npz");
    assert_eq!(npz.values, npy.values);
    let jsonl = load("small.jsonl", SMALL_JSONL, &Unwatched).await.expect("jsonl");
    assert_eq!(jsonl.values, npy.values);
    assert_eq!(jsonl.ids.as_ref().map(Vec::len), Some(100));
}

/// Asks to stop at the first check and counts the checks.
struct CancelAtOnce(Cell<u32>);

impl Watch for CancelAtOnce {
    fn progress(&self, _: u64, _: u64) {}
    fn is_cancelled(&self) -> bool {
        self.0.set(self.0.get() + 1);
        true
    }
}

#[wasm_bindgen_test]
async fn a_cancelled_load_says_so() {
    let watch = CancelAtOnce(Cell::new(0));
    let err = load("small.npy", SMALL_NPY, &watch).await.expect_err("cancelled");
    assert_eq!(err, Error::Cancelled { file: "small.npy".into() });
    assert!(watch.0.get() > 0);
}
