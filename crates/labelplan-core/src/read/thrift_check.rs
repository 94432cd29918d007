//! A walk over Parquet's Thrift structs (compact protocol) before the `parquet` crate
//! decodes them. The crate skips fields it does not know generically, and its skipper
//! reads a bool inside a list or map as zero bytes (the protocol writes one byte each), so a
//! few hostile bytes declaring billions of such bools keep it spinning (a fuzz finding,
//! tests/fixtures/fuzz/read_parquet/bools-in-a-page-header.parquet). This walk reads the
//! struct as the protocol encodes it and refuses what only a hostile file holds: a list, set
//! or map of bools (Parquet's footer and page headers have none), a collection longer than
//! the bytes left, nesting deeper than the crate's limit. On the way it reads the integer
//! fields a caller asks for, so the Parquet reader can refuse a page whose declared sizes
//! would make the crate allocate past the memory limit.
//!
//! The crate reads a field it knows as its schema's type, whatever the wire type says, and
//! skips the others by their wire type. Given the fields the crate knows (a [`Schema`]), the
//! walk refuses a known field whose wire type says otherwise: reading it differently would put
//! the crate out of step with the walk, on bytes the walk never checked (a fuzz finding).
//! [`PAGE_HEADER`] and [`FILE_META_DATA`] are those fields as parquet 60.1 reads them: a new
//! version of the crate means reading its thrift code (`file/metadata/thrift`) again.

/// The crate's own skip depth.
const MAX_DEPTH: usize = 64;

/// Compact-protocol type codes (a field's low nibble, a collection's element type).
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
const UUID: u8 = 13;

/// What the crate reads a field it knows as.
#[derive(Clone, Copy)]
pub(super) enum Known {
    /// A zigzag varint (i16, i32, i64 or an enum).
    Int,
    /// An i8: one byte.
    Byte,
    /// A bool, whose value is its field header's type.
    Bool,
    /// Eight bytes.
    Double,
    /// A binary or a string: a varint length, then the bytes.
    Binary,
    /// A list of these.
    List(&'static Known),
    /// A struct (or a union) with these known fields.
    Struct(Schema),
}

impl Known {
    /// The wire types under which the crate's reading and a skip by wire type agree.
    fn wire_types(self) -> &'static [u8] {
        match self {
            Self::Int => &[I16, I32, I64],
            Self::Byte => &[BYTE],
            Self::Bool => &[BOOL_TRUE, BOOL_FALSE],
            Self::Double => &[DOUBLE],
            Self::Binary => &[BINARY],
            Self::List(_) => &[LIST, SET],
            Self::Struct(_) => &[STRUCT],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Int => "an integer",
            Self::Byte => "a byte",
            Self::Bool => "a bool",
            Self::Double => "a double",
            Self::Binary => "a binary",
            Self::List(_) => "a list",
            Self::Struct(_) => "a struct",
        }
    }
}

/// The fields of one struct that the crate knows, by field id.
pub(super) type Schema = &'static [(i16, Known)];

/// Parquet's PageHeader as parquet 60.1 reads it (`read_thrift_without_stats`: page
/// statistics are skipped like unknown fields).
pub(super) const PAGE_HEADER: Schema = &[
    (1, Known::Int), // type
    (2, Known::Int), // uncompressed_page_size
    (3, Known::Int), // compressed_page_size
    (4, Known::Int), // crc
    (5, Known::Struct(&[(1, Known::Int), (2, Known::Int), (3, Known::Int), (4, Known::Int)])), // DataPageHeader
    (6, Known::Struct(&[])), // IndexPageHeader
    (7, Known::Struct(&[(1, Known::Int), (2, Known::Int), (3, Known::Bool)])), // DictionaryPageHeader
    (
        8, // DataPageHeaderV2
        Known::Struct(&[
            (1, Known::Int),
            (2, Known::Int),
            (3, Known::Int),
            (4, Known::Int),
            (5, Known::Int),
            (6, Known::Int),
            (7, Known::Bool),
        ]),
    ),
];

/// A union member or struct without fields (the crate reads one stop byte).
const EMPTY: Known = Known::Struct(&[]);

/// TimeType and TimestampType: is_adjusted_to_u_t_c, and the TimeUnit union.
const TIME_TYPE: Known =
    Known::Struct(&[(1, Known::Bool), (2, Known::Struct(&[(1, EMPTY), (2, EMPTY), (3, EMPTY)]))]);

/// The LogicalType union: empty members but for Decimal (5), Time (7), Timestamp (8),
/// Integer (10: an i8 bit width and a bool), Variant (16), Geometry (17), Geography (18).
const LOGICAL_TYPE: Known = Known::Struct(&[
    (1, EMPTY),
    (2, EMPTY),
    (3, EMPTY),
    (4, EMPTY),
    (5, Known::Struct(&[(1, Known::Int), (2, Known::Int)])),
    (6, EMPTY),
    (7, TIME_TYPE),
    (8, TIME_TYPE),
    (10, Known::Struct(&[(1, Known::Byte), (2, Known::Bool)])),
    (11, EMPTY),
    (12, EMPTY),
    (13, EMPTY),
    (14, EMPTY),
    (15, EMPTY),
    (16, Known::Struct(&[(1, Known::Byte)])),
    (17, Known::Struct(&[(1, Known::Binary)])),
    (18, Known::Struct(&[(1, Known::Binary), (2, Known::Int)])),
    (19, EMPTY),
]);

/// SchemaElement: type, type_length, repetition_type, name, num_children,
/// converted_type, scale, precision, field_id, logical_type.
const SCHEMA_ELEMENT: Known = Known::Struct(&[
    (1, Known::Int),
    (2, Known::Int),
    (3, Known::Int),
    (4, Known::Binary),
    (5, Known::Int),
    (6, Known::Int),
    (7, Known::Int),
    (8, Known::Int),
    (9, Known::Int),
    (10, LOGICAL_TYPE),
]);

/// Statistics: max, min, null_count, distinct_count, max_value, min_value, the two
/// exactness bools, nan_count.
const STATISTICS: Known = Known::Struct(&[
    (1, Known::Binary),
    (2, Known::Binary),
    (3, Known::Int),
    (4, Known::Int),
    (5, Known::Binary),
    (6, Known::Binary),
    (7, Known::Bool),
    (8, Known::Bool),
    (9, Known::Int),
]);

/// GeospatialStatistics: a BoundingBox of eight doubles, and a list of geometry types.
const GEOSPATIAL_STATISTICS: Known = Known::Struct(&[
    (
        1,
        Known::Struct(&[
            (1, Known::Double),
            (2, Known::Double),
            (3, Known::Double),
            (4, Known::Double),
            (5, Known::Double),
            (6, Known::Double),
            (7, Known::Double),
            (8, Known::Double),
        ]),
    ),
    (2, Known::List(&Known::Int)),
]);

/// ColumnMetaData as `read_column_metadata` reads it (path_in_schema, 3, and
/// key_value_metadata, 8, it skips).
const COLUMN_META_DATA: Known = Known::Struct(&[
    (1, Known::Int),
    (2, Known::List(&Known::Int)), // encodings
    (4, Known::Int),
    (5, Known::Int),
    (6, Known::Int),
    (7, Known::Int),
    (9, Known::Int),
    (10, Known::Int),
    (11, Known::Int),
    (12, STATISTICS),
    (13, Known::List(&Known::Struct(&[(1, Known::Int), (2, Known::Int), (3, Known::Int)]))), // PageEncodingStats
    (14, Known::Int),
    (15, Known::Int),
    (16, Known::Struct(&[(1, Known::Int), (2, Known::List(&Known::Int)), (3, Known::List(&Known::Int))])), // SizeStatistics
    (17, GEOSPATIAL_STATISTICS),
]);

/// ColumnChunk without encryption (fields 8 and 9 skipped): file_path, file_offset,
/// meta_data, and the offset and column index offsets and lengths.
const COLUMN_CHUNK: Known = Known::Struct(&[
    (1, Known::Binary),
    (2, Known::Int),
    (3, COLUMN_META_DATA),
    (4, Known::Int),
    (5, Known::Int),
    (6, Known::Int),
    (7, Known::Int),
]);

/// RowGroup: columns, total_byte_size, num_rows, sorting_columns (SortingColumn: an i32
/// and two bools), file_offset, ordinal (total_compressed_size, 6, skipped).
const ROW_GROUP: Known = Known::Struct(&[
    (1, Known::List(&COLUMN_CHUNK)),
    (2, Known::Int),
    (3, Known::Int),
    (4, Known::List(&Known::Struct(&[(1, Known::Int), (2, Known::Bool), (3, Known::Bool)]))),
    (5, Known::Int),
    (7, Known::Int),
]);

/// Parquet's FileMetaData (the footer) as parquet 60.1 reads it without encryption
/// (`parquet_metadata_from_bytes`): version, schema, num_rows, row_groups,
/// key_value_metadata, created_by, column_orders (a union of empty members).
pub(super) const FILE_META_DATA: Schema = &[
    (1, Known::Int),
    (2, Known::List(&SCHEMA_ELEMENT)),
    (3, Known::Int),
    (4, Known::List(&ROW_GROUP)),
    (5, Known::List(&Known::Struct(&[(1, Known::Binary), (2, Known::Binary)]))),
    (6, Known::Binary),
    (7, Known::List(&Known::Struct(&[(1, EMPTY), (2, EMPTY), (3, EMPTY)]))),
];

/// One struct at the start of `bytes`, whose known fields are `schema`: its length in
/// bytes, and the values of the integer fields asked for that it has, each named by its
/// path of field ids (`[7, 1]`: field 1 of the struct in field 7).
pub(super) fn walk_struct<const N: usize>(
    bytes: &[u8],
    schema: Schema,
    paths: [&[i16]; N],
) -> Result<(usize, [Option<i64>; N]), String> {
    let mut walk = Walk { bytes, pos: 0 };
    let mut found = [None; N];
    let mut wanted: Vec<(&[i16], &mut Option<i64>)> = paths.into_iter().zip(found.iter_mut()).collect();
    walk.fields(MAX_DEPTH, schema, &mut wanted)?;
    Ok((walk.pos, found))
}

/// Integer fields still sought below a struct: the rest of each path, and where its value goes.
type Wanted<'p, 'f> = Vec<(&'p [i16], &'f mut Option<i64>)>;

struct Walk<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Walk<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.bytes.get(self.pos).ok_or("it ends inside a struct")?;
        self.pos += 1;
        Ok(b)
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return Err(format!("a value of {n} bytes runs past its end"));
        }
        self.pos += n as usize;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint runs past 10 bytes".into())
    }

    fn zigzag(&mut self) -> Result<i64, String> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A struct's fields up to its stop byte, with the values of the integer fields `wanted`.
    fn fields(&mut self, depth: usize, schema: Schema, wanted: &mut Wanted) -> Result<(), String> {
        if depth == 0 {
            return Err(format!("it nests structs and lists deeper than {MAX_DEPTH}"));
        }
        let mut id = 0i16;
        loop {
            let header = self.byte()?;
            // The stop byte is 0; the crate stops on any header of type 0, and so must
            // this walk to stay in step with it.
            if header & 0x0f == 0 {
                return Ok(());
            }
            let (delta, kind) = (header >> 4, header & 0x0f);
            id = if delta == 0 { self.zigzag()? as i16 } else { id.wrapping_add(i16::from(delta)) };
            let here = wanted.iter().position(|(path, _)| path == &[id]);
            // A field asked for is an integer, whether the schema names it or not; an
            // unknown struct is walked for the fields asked for below it.
            let known = schema.iter().find(|(known, _)| *known == id).map(|&(_, k)| k);
            let unknown_struct = (kind == STRUCT).then_some(EMPTY);
            let Some(known) = known.or(here.map(|_| Known::Int)).or(unknown_struct) else {
                // A bool field's value is its type code; any other unknown field is skipped.
                if !matches!(kind, BOOL_TRUE | BOOL_FALSE) {
                    self.value(kind, depth - 1)?;
                }
                continue;
            };
            if !known.wire_types().contains(&kind) {
                return Err(format!(
                    "its field {id} comes with wire type {kind}, where Parquet has {}",
                    known.name()
                ));
            }
            match known {
                Known::Int => {
                    let value = self.zigzag()?;
                    if let Some(i) = here {
                        *wanted[i].1 = Some(value);
                    }
                }
                Known::Bool => {}
                Known::Struct(inner) => {
                    let mut below: Wanted = wanted
                        .iter_mut()
                        .filter(|(path, _)| path.len() > 1 && path[0] == id)
                        .map(|(path, slot)| (&path[1..], &mut **slot))
                        .collect();
                    self.fields(depth - 1, inner, &mut below)?;
                }
                other => self.known_value(other, kind, depth - 1)?,
            }
        }
    }

    /// A value the crate reads as `known` (a field's, or a list element's), which came
    /// with wire type `kind`, one of `known`'s.
    fn known_value(&mut self, known: Known, kind: u8, depth: usize) -> Result<(), String> {
        match known {
            Known::Struct(inner) => self.fields(depth, inner, &mut Vec::new()),
            Known::List(element) => {
                let (size, kind) = self.collection()?;
                if size == 0 {
                    return Ok(());
                }
                if !element.wire_types().contains(&kind) {
                    return Err(format!(
                        "its list elements come with wire type {kind}, where Parquet has {}",
                        element.name()
                    ));
                }
                self.check_elements(size, depth)?;
                (0..size).try_for_each(|_| self.known_value(*element, kind, depth - 1))
            }
            // A scalar under its own wire type reads as the skip of that type.
            _ => self.value(kind, depth),
        }
    }

    /// Count and element type of a list or set.
    fn collection(&mut self) -> Result<(u64, u8), String> {
        let header = self.byte()?;
        let size = match header >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        Ok((size, header & 0x0f))
    }

    fn value(&mut self, kind: u8, depth: usize) -> Result<(), String> {
        match kind {
            BOOL_TRUE | BOOL_FALSE | BYTE => self.skip(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.skip(8),
            UUID => self.skip(16),
            BINARY => {
                let len = self.varint()?;
                self.skip(len)
            }
            STRUCT => self.fields(depth, &[], &mut Vec::new()),
            LIST | SET => {
                let (size, element) = self.collection()?;
                self.elements(size, &[element], depth)
            }
            MAP => {
                let size = self.varint()?;
                if size == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                self.elements(size, &[types >> 4, types & 0x0f], depth)
            }
            other => Err(format!("it holds a value of unknown type {other}")),
        }
    }

    /// Refuses `size` elements where fewer bytes are left (each takes at least one), or
    /// a collection past the nesting limit.
    fn check_elements(&self, size: u64, depth: usize) -> Result<(), String> {
        let left = self.bytes.len() - self.pos;
        if size > left as u64 {
            return Err(format!("it declares {size} elements in the {left} bytes left"));
        }
        if depth == 0 {
            return Err(format!("it nests structs and lists deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }

    /// `size` elements (map entries: key and value) of the given types.
    fn elements(&mut self, size: u64, types: &[u8], depth: usize) -> Result<(), String> {
        if size > 0 && types.iter().any(|t| matches!(*t, BOOL_TRUE | BOOL_FALSE)) {
            return Err(format!("it holds a collection of {size} booleans, which no Parquet struct has"));
        }
        self.check_elements(size, depth)?;
        for _ in 0..size {
            for &t in types {
                self.value(t, depth - 1)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_a_struct_and_reads_one_of_its_integer_fields() {
        // Field 1 i32 (zigzag 7 = -4), field 3 i32 = 100 (zigzag 200 = 0xc8 0x01), field 4
        // a list of two i64, field 5 a struct with a binary "ab", stop; then other bytes.
        let bytes = [
            0x15, 0x07, 0x25, 0xc8, 0x01, 0x19, 0x26, 0x02, 0x04, 0x1c, 0x18, 0x02, b'a', b'b', 0x00, 0x00,
            0xff,
        ];
        assert_eq!(
            walk_struct(&bytes, &[], [&[3], &[1], &[9]]),
            Ok((bytes.len() - 1, [Some(100), Some(-4), None]))
        );
        // Field 1 of the struct in field 5 is a binary: asked for as an integer, it is refused.
        let err = walk_struct(&bytes, &[], [&[5, 1]]).expect_err("a binary is no integer");
        assert!(err.contains("its field 1 comes with wire type 8, where Parquet has an integer"), "{err}");
    }

    #[test]
    fn refuses_a_known_field_whose_wire_type_differs_from_the_schema() {
        const SCHEMA: Schema = &[(1, Known::Int), (6, Known::Struct(&[(3, Known::Bool)]))];
        // Field 6 as a struct holding bool field 3 (true): as the schema says.
        assert_eq!(walk_struct(&[0x6c, 0x31, 0x00, 0x00], SCHEMA, []), Ok((4, [])));
        // Field 6 as an empty set (0x6a, then size 0 of i32): a skipper would pass over it,
        // the crate reads a struct there.
        let err = walk_struct(&[0x6a, 0x05, 0x00], SCHEMA, []).expect_err("a set is no struct");
        assert_eq!(err, "its field 6 comes with wire type 10, where Parquet has a struct");
        // Field 1 as a binary, and field 3 of field 6 as an i32.
        let err = walk_struct(&[0x18, 0x00, 0x00], SCHEMA, []).expect_err("a binary is no integer");
        assert!(err.ends_with("where Parquet has an integer"), "{err}");
        let err = walk_struct(&[0x6c, 0x35, 0x02, 0x00, 0x00], SCHEMA, []).expect_err("an i32 is no bool");
        assert!(err.ends_with("where Parquet has a bool"), "{err}");
    }

    #[test]
    fn a_footer_field_under_another_wire_type_is_refused_before_the_crate_falls_out_of_step() {
        // FileMetaData's created_by (field 6, a string) sent as an i32 whose varint 0x0a
        // the crate reads as a length of 10. A skip by wire type reads that one byte, then
        // a binary field of 16 bytes; inside them, 10 bytes on, the crate would meet a field
        // it does not know (8): a list of 2^31 - 1 bools, which its skipper reads as no
        // bytes each, one at a time.
        let mut bytes = vec![0x65, 0x0a, 0x18, 0x10];
        bytes.extend([0u8; 8]);
        bytes.extend([0x29, 0xf1, 0xff, 0xff, 0xff, 0xff, 0x07]); // the crate's field 8
        bytes.extend([0x00, 0x00]); // the crate's stop, then the walk's
        assert_eq!(
            walk_struct(&bytes, &[], []),
            Ok((bytes.len(), [])),
            "without the schema the walk passes it"
        );
        let err = walk_struct(&bytes, FILE_META_DATA, []).expect_err("refused");
        assert_eq!(err, "its field 6 comes with wire type 5, where Parquet has a binary");
        // The row groups' list (field 4) holding i32s where the crate reads structs.
        let err = walk_struct(&[0x49, 0x15, 0x02, 0x00], FILE_META_DATA, []).expect_err("refused");
        assert_eq!(err, "its list elements come with wire type 5, where Parquet has a struct");
        // A schema element's logical type (field 10 of field 2's elements) as Integer
        // (10) whose bit width (an i8) comes as an i32 varint.
        let bytes = [0x29, 0x1c, 0xac, 0xac, 0x15, 0x10, 0x00, 0x00, 0x00, 0x00];
        let err = walk_struct(&bytes, FILE_META_DATA, []).expect_err("refused");
        assert_eq!(err, "its field 1 comes with wire type 5, where Parquet has a byte");
    }

    #[test]
    fn a_footer_as_pyarrow_writes_it_walks_to_its_end() {
        // version 2, a schema of one element named "x" with an Integer logical type (i8
        // bit width 32, signed), num_rows 3, no row groups, column_orders [TYPE_ORDER].
        let bytes = [
            0x15, 0x04, // version
            0x19, 0x1c, // schema: one struct
            0x48, 0x01, b'x', // name
            0x6c, 0xac, 0x13, 0x20, 0x11, 0x00, 0x00, // logical_type: Integer { 32, true }
            0x00, // end of the element
            0x16, 0x06, // num_rows
            0x19, 0x0c, // row_groups: none
            0x39, 0x1c, 0x1c, 0x00, 0x00, // column_orders: [TYPE_ORDER {}]
            0x00,
        ];
        assert_eq!(walk_struct(&bytes, FILE_META_DATA, []), Ok((bytes.len(), [])));
    }

    #[test]
    fn reads_an_integer_field_of_a_nested_struct() {
        // Field 5: a struct whose field 1 is i32 5 (zigzag 10); field 6: i32 7 (zigzag 14).
        let bytes = [0x5c, 0x15, 0x0a, 0x00, 0x15, 0x0e, 0x00];
        assert_eq!(
            walk_struct(&bytes, &[], [&[5, 1], &[6], &[1]]),
            Ok((bytes.len(), [Some(5), Some(7), None]))
        );
    }

    #[test]
    fn refuses_a_list_of_booleans_however_short() {
        // Field 1: a list of 2^31 booleans in six bytes (the crate's skipper reads none).
        let bytes = [0x19, 0xf1, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00];
        let err = walk_struct(&bytes, &[], []).expect_err("refused");
        assert!(err.contains("collection of 2147483648 booleans"), "{err}");
        // And a map with bool values.
        let err = walk_struct(&[0x1b, 0x01, 0x51, 0x02, 0x01, 0x00], &[], []).expect_err("refused");
        assert!(err.contains("booleans"), "{err}");
    }

    #[test]
    fn refuses_more_elements_than_bytes_and_nesting_past_the_limit() {
        let err = walk_struct(&[0x19, 0xf5, 0xff, 0x01, 0x02, 0x00], &[], []).expect_err("refused");
        assert!(err.contains("declares 255 elements in the 2 bytes left"), "{err}");
        let mut deep = vec![0x1c; MAX_DEPTH + 1];
        deep.extend(vec![0x00; MAX_DEPTH + 2]);
        let err = walk_struct(&deep, &[], []).expect_err("refused");
        assert!(err.contains("deeper than 64"), "{err}");
        assert!(walk_struct(&[0x15], &[], []).expect_err("cut").contains("ends inside"));
    }
}
