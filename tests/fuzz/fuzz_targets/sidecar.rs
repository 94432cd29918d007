//! A sidecar of ids and metadata joined to loaded embeddings. The first byte picks the
//! delimiter, whether the embeddings have ids and how the join runs; the rest is the
//! sidecar's text. A refused join leaves the dataset as it was.
#![no_main]

use futures::io::Cursor;
use labelplan_core::read::source::Unwatched;
use labelplan_core::read::{join_sidecar, read_sidecar, SidecarJoin};
use labelplan_core::{Dataset, Input};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else { return };
    let name = if mode & 1 == 0 { "side.csv" } else { "side.tsv" };
    let mut dataset = Dataset::from_matrix("pool.npy", (0..8).map(|v| v as f32).collect(), 4, 2);
    if mode & 2 != 0 {
        dataset.ids = Some(["a", "b", "c", "d"].map(String::from).to_vec());
    }
    if mode & 4 != 0 {
        // Row 1 of the file was dropped for NaN: the sidecar still has a line for it.
        dataset.dropped_rows = vec![1];
        dataset.rows = 3;
        dataset.values.truncate(6);
        if let Some(ids) = &mut dataset.ids {
            ids.remove(1);
        }
    }
    let join = if mode & 8 != 0 { SidecarJoin::ById("id".into()) } else { SidecarJoin::RowOrder };
    let input = Input { name: name.into(), len: text.len() as u64, reader: Cursor::new(text) };
    let table = match futures::executor::block_on(read_sidecar(input, &Unwatched)) {
        Ok(table) => table,
        Err(e) => {
            assert!(e.to_string().contains(name), "the message names the file: {e}");
            return;
        }
    };
    let before = dataset.clone();
    match join_sidecar(&mut dataset, table, &join) {
        Ok(()) => labelplan_fuzz::check_dataset(&dataset),
        Err(e) => {
            assert!(e.to_string().contains(name), "the message names the file: {e}");
            assert_eq!(dataset, before, "a refused join leaves the dataset as it was");
        }
    }
});
