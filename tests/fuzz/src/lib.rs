//! What every fuzz target shares: reading bytes as a named file, and the checks that
//! hold for whatever comes back (a consistent dataset, or an error naming the file).

use futures::io::Cursor;
use labelplan_core::read::source::Unwatched;
use labelplan_core::{read_embeddings, Dataset, Input, LoadOptions};

/// The most bytes a fuzzed read may decode into: a declared shape past it must be
/// refused (`TooLarge`) before anything that size is allocated. libFuzzer's own
/// `-malloc_limit_mb` (set by `cargo xtask fuzz`) catches an allocation that slips by.
pub const MEMORY_LIMIT: u64 = 64 << 20;

/// Options of a fuzzed read: the memory limit above, and NaN/Inf rows dropped or
/// refused as the input's length is odd or even (both paths get exercised).
pub fn options(data: &[u8]) -> LoadOptions {
    LoadOptions { drop_non_finite: data.len() % 2 == 1, memory_limit: MEMORY_LIMIT, ..LoadOptions::default() }
}

/// libfuzzer-sys aborts at any panic, even one the code under test catches. The Parquet
/// reader catches its decoder's panics on purpose (they become the file's error), so the
/// readers' targets report a panic only when it escapes: libfuzzer-sys still aborts then.
fn count_only_escaped_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("{info}"))));
}

/// Reads `data` as the file `name` (its extension picks the reader) and checks the
/// result: a dataset whose parts agree, or an error that names the file.
pub fn read_as(name: &str, data: &[u8]) -> Option<Dataset> {
    count_only_escaped_panics();
    let input = Input { name: name.to_owned(), len: data.len() as u64, reader: Cursor::new(data) };
    match futures::executor::block_on(read_embeddings(input, &options(data), &Unwatched)) {
        Ok(dataset) => {
            check_dataset(&dataset);
            Some(dataset)
        }
        Err(e) => {
            assert!(e.to_string().contains(name), "the message names the file: {e}");
            None
        }
    }
}

/// The invariants every loaded dataset keeps.
pub fn check_dataset(d: &Dataset) {
    assert!(d.rows > 0 && d.dim > 0, "a dataset has rows and dims: {} x {}", d.rows, d.dim);
    assert_eq!(d.values.len(), d.rows * d.dim, "rows x dim values");
    assert!(d.values.iter().all(|v| v.is_finite()), "only finite values are kept");
    assert!((d.values.len() as u64) * 4 <= MEMORY_LIMIT, "the matrix fits the limit");
    if let Some(ids) = &d.ids {
        assert_eq!(ids.len(), d.rows, "one id per row");
        let mut sorted: Vec<&String> = ids.iter().collect();
        sorted.sort();
        assert!(sorted.windows(2).all(|w| w[0] != w[1]), "ids are unique");
    }
    for c in &d.columns {
        assert_eq!(c.values.len(), d.rows, "column {:?} has one value per row", c.name);
    }
}
