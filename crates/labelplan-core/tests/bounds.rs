//! Files that declare more than they hold are refused before anything that size is
//! allocated (each would ask for terabytes): an npy header of 10¹² rows in a few bytes,
//! safetensors offsets past the end, a Parquet footer lying about its rows, an npz
//! member that cannot expand to what its header says. A real deflate bomb is refused by
//! the memory limit before it is decoded. The fuzz targets' regressions (findings kept
//! in tests/fixtures/fuzz/) each read to a clear error here.
#![cfg(not(target_arch = "wasm32"))]

use labelplan_core::read::source::Unwatched;
use labelplan_core::{read_embeddings, Dataset, Error, Input, LoadOptions};
use labelplan_testkit::{fixture, npy_bytes, npz_bytes as npz, safetensors_bytes as safetensors};

fn read(name: &str, bytes: Vec<u8>, options: &LoadOptions) -> Result<Dataset, Error> {
    let input = Input { name: name.into(), len: bytes.len() as u64, reader: futures::io::Cursor::new(bytes) };
    futures::executor::block_on(read_embeddings(input, options, &Unwatched))
}

/// Natively nothing limits memory (`LoadOptions::default`): only the file's own size can
/// stop these before the allocation.
fn read_unlimited(name: &str, bytes: Vec<u8>) -> Result<Dataset, Error> {
    read(name, bytes, &LoadOptions::default())
}

#[test]
fn an_npy_header_of_a_trillion_rows_in_a_few_bytes_is_refused() {
    let bytes = npy_bytes("<f4", "(1000000000000, 1)", &[0; 100]);
    let err = read_unlimited("huge.npy", bytes).expect_err("declares 4 TB");
    assert!(matches!(err, Error::Truncated { expected: 4_000_000_000_000, found: 100, .. }), "{err:?}");
    let text = err.to_string();
    assert_eq!(
        text,
        "huge.npy: the file ends early in the array data: expected 4000000000000 bytes, found 100"
    );
}

#[test]
fn a_shape_whose_byte_count_overflows_is_refused() {
    let bytes = npy_bytes("<f8", "(18446744073709551615, 18446744073709551615)", &[0; 64]);
    let err = read_unlimited("overflow.npy", bytes).expect_err("overflows u64");
    assert!(err.to_string().contains("holds more values than any file can"), "{err}");
    // Within 64 bits but not within the file.
    let bytes = npy_bytes("<f8", "(4294967296, 4294967295)", &[0; 64]);
    let err = read_unlimited("overflow.npy", bytes).expect_err("declares 2^64 bytes");
    assert!(matches!(err, Error::Truncated { found: 64, .. }), "{err:?}");
}

#[test]
fn safetensors_offsets_past_the_end_are_refused() {
    let header = r#"{"x":{"dtype":"F32","shape":[1000000000,4],"data_offsets":[0,16000000000]}}"#;
    let err = read_unlimited("past.safetensors", safetensors(header, &[0; 16])).expect_err("16 GB declared");
    assert!(matches!(err, Error::Truncated { expected: 16_000_000_000, found: 16, .. }), "{err:?}");
}

#[test]
fn a_safetensors_header_longer_than_the_file_is_refused_before_it_is_read() {
    let mut bytes = 90_000_000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{\"x\":");
    let err = read_unlimited("long.safetensors", bytes).expect_err("90 MB header in 13 bytes");
    assert!(matches!(err, Error::Truncated { expected: 90_000_000, found: 5, .. }), "{err:?}");
    assert!(err.to_string().contains("the JSON header"), "{err}");
}

#[test]
fn an_npz_member_declaring_more_than_deflate_can_expand_to_is_refused() {
    // 10⁹ × 64 float32 is 256 GB; a member of a few hundred bytes expands to < 1 MB.
    let bytes = npz(&npy_bytes("<f4", "(1000000000, 64)", &[0; 256]));
    let err = read_unlimited("bomb.npz", bytes).expect_err("declares 256 GB");
    assert!(matches!(err, Error::Truncated { expected: 256_000_000_000, .. }), "{err:?}");
}

#[test]
fn a_real_deflate_bomb_is_refused_by_the_memory_limit_before_decoding() {
    // 64 MiB of zeros deflate to about 64 KB: honest, but more than the tab may hold.
    let rows = 65_536;
    let bytes = npz(&npy_bytes("<f4", &format!("({rows}, 256)"), &vec![0; rows * 256 * 4]));
    assert!(bytes.len() < 200_000, "the bomb is small: {} bytes", bytes.len());
    let tab = LoadOptions { memory_limit: 16 << 20, limit_is_browser: true, ..LoadOptions::default() };
    let err = read("bomb.npz", bytes.clone(), &tab).expect_err("64 MiB over a 16 MiB limit");
    assert!(matches!(err, Error::TooLarge { rows: 65_536, dim: 256, .. }), "{err:?}");
    assert!(err.to_string().contains("of a browser tab"), "{err}");
    // Without a limit it is just a file of zeros.
    let data = read_unlimited("bomb.npz", bytes).expect("it loads natively");
    assert_eq!((data.rows, data.dim), (rows, 256));
}

/// The fixture's Parquet file (one row group of 100 rows) with its footer rewritten to
/// declare `rows` rows (in the file and in its row group: Parquet's writer sums them).
fn parquet_declaring(rows: i64) -> Vec<u8> {
    use parquet::file::metadata::{
        FileMetaData, ParquetMetaDataBuilder, ParquetMetaDataReader, ParquetMetaDataWriter,
    };
    let bytes = std::fs::read(fixture("small_fixed_zstd.parquet")).expect("fixture");
    let footer_len = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().expect("4 bytes"));
    let data_end = bytes.len() - 8 - footer_len as usize;
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(bytes.clone()))
        .expect("the fixture's footer");
    let old = metadata.file_metadata();
    let lying = FileMetaData::new(
        old.version(),
        rows,
        old.created_by().map(str::to_owned),
        old.key_value_metadata().cloned(),
        old.schema_descr_ptr(),
        old.column_orders().cloned(),
    );
    let groups = metadata.row_groups().iter().map(|g| g.clone().into_builder().set_num_rows(rows).build());
    let groups = groups.collect::<Result<Vec<_>, _>>().expect("a row group");
    let metadata = ParquetMetaDataBuilder::new(lying).set_row_groups(groups).build();
    let mut out = bytes[..data_end].to_vec();
    ParquetMetaDataWriter::new(&mut out, &metadata).finish().expect("write the footer");
    out
}

#[test]
fn a_parquet_footer_lying_about_its_rows_is_refused() {
    // 10¹² rows of 64 float32 would be 256 TB; the row group holds 100 rows in 7 KB.
    let trillion = 1_000_000_000_000;
    let err = read_unlimited("lying.parquet", parquet_declaring(trillion)).expect_err("rows lie");
    assert_eq!(
        err.to_string(),
        "lying.parquet: the footer declares 1000000000000 rows but the pages hold 100"
    );
    // In a tab the declared shape is over the limit: refused before reading a row group.
    let err = read("lying.parquet", parquet_declaring(trillion), &LoadOptions::browser())
        .expect_err("over the tab's limit");
    assert!(matches!(err, Error::TooLarge { rows: 1_000_000_000_000, dim: 64, .. }), "{err:?}");
    // The same file with its footer telling the truth reads.
    let data = read_unlimited("honest.parquet", parquet_declaring(100)).expect("honest footer");
    assert_eq!((data.rows, data.dim), (100, 64));
}

#[test]
fn a_zip_extra_field_longer_than_its_header_is_refused_in_every_build() {
    // Found by the read_npz fuzz target: async_zip's own message underflowed (a panic in
    // builds with overflow checks).
    let bytes = std::fs::read(fixture("fuzz/read_npz/extra-field-underflow.npz")).expect("the finding");
    let err = read_unlimited("found.npz", bytes).expect_err("a broken zip");
    assert_eq!(
        err.to_string(),
        "found.npz: not a readable .npz (zip) archive: an entry's extra field claims 28005 bytes, more than its header holds"
    );
}

#[test]
fn an_npy_header_of_deeply_nested_brackets_is_refused_before_it_is_parsed() {
    // Found by the read_npy fuzz target: 44 nested `[` made the header's parser (a pest
    // grammar) backtrack for over 10 s.
    let bytes = std::fs::read(fixture("fuzz/read_npy/nested-brackets-hang.npy")).expect("the finding");
    let started = std::time::Instant::now();
    let err = read_unlimited("found.npy", bytes).expect_err("a broken header");
    assert!(err.to_string().contains("the npy header nests brackets over 8 deep"), "{err}");
    // Not a timed test of speed: a hang would take seconds, this takes microseconds.
    assert!(started.elapsed().as_secs() < 5);
    // Eight deep (the dict and seven parentheses) still parses, and is refused for what
    // it is.
    let bytes = npy_bytes("<f4", "(((((((1)))))))", &[0; 16]);
    let err = read_unlimited("deep.npy", bytes).expect_err("not a 2-D shape");
    assert!(!err.to_string().contains("nests brackets"), "{err}");
}

/// Every finding of `cargo xtask fuzz` kept as a fixture (tests/fixtures/fuzz/TARGET/)
/// reads to an error that names the file, or to a consistent dataset; none panics.
#[test]
fn every_kept_fuzz_finding_of_a_reader_reads_cleanly() {
    let root = fixture("fuzz");
    let mut seen = 0;
    for (target, extension) in [
        ("read_npy", "npy"),
        ("read_npz", "npz"),
        ("read_safetensors", "safetensors"),
        ("read_csv", "csv"),
        ("read_tsv", "tsv"),
        ("read_jsonl", "jsonl"),
        ("read_parquet", "parquet"),
    ] {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else { continue };
        for entry in dir {
            let path = entry.expect("a directory entry").path();
            let bytes = std::fs::read(&path).expect("a finding");
            let name = format!("finding.{extension}");
            let limited = LoadOptions { memory_limit: 64 << 20, ..LoadOptions::default() };
            match read(&name, bytes, &limited) {
                Ok(d) => assert_eq!(d.values.len(), d.rows * d.dim, "{}", path.display()),
                Err(e) => assert!(e.to_string().contains(&name), "{}: {e}", path.display()),
            }
            seen += 1;
        }
    }
    assert!(seen > 0, "tests/fixtures/fuzz holds the findings of the readers' fuzz targets");
}

/// The error that the Parquet fixture at `path` (under tests/fixtures) reads to, as "found.parquet".
fn parquet_fixture_error(path: &str, options: &LoadOptions) -> String {
    let bytes = std::fs::read(fixture(path)).expect("the fixture");
    read("found.parquet", bytes, options).expect_err("a malformed file").to_string()
}

/// The error that the kept read_parquet fuzz finding `finding` reads to.
fn parquet_finding_error(finding: &str, options: &LoadOptions) -> String {
    parquet_fixture_error(&format!("fuzz/read_parquet/{finding}.parquet"), options)
}

#[test]
fn a_parquet_page_whose_levels_run_past_their_length_is_an_error_natively() {
    // The first read_parquet fuzz finding was such a page: the parquet crate's level
    // decoder panics on it (arrow-buffer's "offset + len out of bounds"). This one is made
    // by make_fixtures.py; the reader turns the panic into the file's error.
    assert_eq!(
        parquet_fixture_error("bad_level_length.parquet", &LoadOptions::default()),
        "found.parquet: Parquet: the decoder failed on a malformed page (offset + len out of bounds)"
    );
}

#[test]
fn a_parquet_page_header_without_sizes_is_refused_before_the_crate_reads_on() {
    // Found by the read_parquet fuzz target: an empty page header (that finding's panic is
    // kept above). The size is required: without it the walk cannot tell where the next
    // header starts, and the crate would read on unchecked.
    let text = parquet_finding_error("empty-page-header", &LoadOptions::default());
    assert!(
        text.ends_with("the page header at byte 282 gives no compressed page size (a required field)"),
        "{text}"
    );
}

#[test]
fn a_parquet_footer_field_under_another_wire_type_is_refused() {
    // Two fuzz findings whose footers the crate read: it reads a field it knows as its
    // schema's type whatever the wire says, where a skip by wire type reads other bytes.
    // These two fell back into step by chance; one with a list of bools in between would
    // keep the crate's skipper busy. The walk knows the footer's fields
    // (`thrift_check::FILE_META_DATA`) and refuses them. The two findings after them
    // (index-header-as-a-set-spins, unchecked-utf8-in-an-id) are these files with that one
    // field header's wire type set to what the crate reads, so that they reach the hazard
    // they were kept for.
    for (finding, why) in [
        (
            "version-as-a-struct-in-the-footer",
            "its field 1 comes with wire type 12, where Parquet has an integer",
        ),
        (
            "precision-as-a-bool-in-the-footer",
            "its field 8 comes with wire type 1, where Parquet has an integer",
        ),
    ] {
        let text = parquet_finding_error(finding, &LoadOptions::default());
        assert_eq!(text, format!("found.parquet: the Parquet footer does not decode: {why}"), "{finding}");
    }
}

#[test]
fn a_parquet_page_header_the_crate_would_spin_on_is_refused_first() {
    // Found by the read_parquet fuzz target. The crate's Thrift skipper reads a list's
    // bools as zero bytes, so the first file (1.5 KB) kept it busy for 25 s in the fuzz
    // build. In the other two the index-page header comes as a set or a byte: the crate
    // reads it as the struct it knows, out of step with the walk, and skipped past its
    // input for seconds. The reader walks each page header first and names the one it
    // refuses.
    for (finding, at) in [
        ("bools-in-a-page-header", r#"row group 0, column "digit": the page header at byte 96"#),
        (
            "index-header-as-a-set-spins",
            r#"row group 0, column "vector.list.element": the page header at byte 71"#,
        ),
        (
            "header-without-sizes-spins",
            r#"row group 0, column "embedding.list.element": the page header at byte 206"#,
        ),
    ] {
        let text = parquet_finding_error(finding, &LoadOptions::default());
        assert!(text.starts_with(&format!("found.parquet: {at} does not decode: ")), "{finding}: {text}");
    }
}

#[test]
fn a_parquet_page_or_dictionary_past_the_memory_limit_is_refused_before_it_is_allocated() {
    // Found by the read_parquet fuzz target: a page header declaring 1.4 GB uncompressed,
    // and a dictionary page declaring 671 million values, which the crate allocates for
    // before it decodes them.
    let limited = LoadOptions { memory_limit: 64 << 20, ..LoadOptions::default() };
    for (finding, ending) in [
        ("page-larger-than-memory", "MiB uncompressed, more than the memory limit (64 MiB)"),
        ("dictionary-larger-than-memory", "values, more than the memory limit (64 MiB) holds"),
    ] {
        let text = parquet_finding_error(finding, &limited);
        assert!(text.starts_with("found.parquet: row group "), "{text}");
        assert!(text.contains("the page header at byte"), "{text}");
        assert!(text.ends_with(ending), "{text}");
    }
}

#[test]
fn a_dictionary_encoded_parquet_page_without_a_dictionary_is_refused_before_the_crate_panics() {
    // Fuzzing found the crate's panic ("Decoder for dict should have been set"): a browser
    // build cannot catch it and its worker stops. make_fixtures.py marks a plain page so.
    let text = parquet_fixture_error("bad_dictionary_missing.parquet", &LoadOptions::default());
    assert!(
        text.starts_with(r#"found.parquet: row group 0, column "digit": the page header at byte "#),
        "{text}"
    );
    assert!(
        text.ends_with(" is for a dictionary-encoded page, but no dictionary page comes before it"),
        "{text}"
    );
}

#[test]
fn a_string_the_parquet_crate_left_unchecked_is_refused() {
    // Found by the read_parquet fuzz target: the crate builds its arrays unchecked (in
    // every build here, see Cargo.toml), so an id that is not UTF-8 reached the reader.
    let text = parquet_finding_error("unchecked-utf8-in-an-id", &LoadOptions::default());
    assert!(
        text.starts_with(r#"found.parquet: Parquet: column "id" holds malformed values (Invalid argument error: Invalid UTF8"#),
        "{text}"
    );
}
