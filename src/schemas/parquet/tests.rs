use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::schema::parser::parse_message_type;
use proptest::prelude::*;

use super::*;
use crate::schemas::{Input, Nested};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas/parquet")
}

/// The fixture files (`*.parquet`) of `dir`, sorted.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

/// The API's answer for a conversion, as the goldens hold it.
fn answer(converted: &Converted) -> String {
    let columns: Vec<serde_json::Value> = converted
        .columns
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "type": c.column_type.as_str(),
                "required": c.required,
            })
        })
        .collect();
    let answer = serde_json::json!({ "columns": columns, "warnings": converted.warnings });
    serde_json::to_string_pretty(&answer).unwrap() + "\n"
}

fn options(nested: Nested) -> Options {
    Options {
        nested,
        ..Options::default()
    }
}

/// Compares `got` with the golden file `path`, or writes it under `DG_BLESS=1`.
fn golden(path: &Path, got: &str) {
    if std::env::var_os("DG_BLESS").is_some() {
        std::fs::write(path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (DG_BLESS=1 writes it)", path.display()));
    assert_eq!(got, want, "{} differs", path.display());
}

#[test]
fn every_fixture_converts_to_its_golden_answer() {
    let files = parquet_files(&fixture_dir());
    assert!(files.len() >= 6, "fixtures missing: {files:?}");
    for file in files {
        let source = std::fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let default =
            convert(&source, &options(Nested::Json)).unwrap_or_else(|e| panic!("{name}: {e}"));
        golden(
            &fixture_dir().join(format!("{name}.expected.json")),
            &answer(&default),
        );
        // The flattened answer has a golden of its own where it differs.
        let flat = convert(&source, &options(Nested::Flatten)).unwrap();
        let flat_path = fixture_dir().join(format!("{name}.flatten.expected.json"));
        if flat != default {
            golden(&flat_path, &answer(&flat));
        } else {
            assert!(!flat_path.exists(), "{name}: flatten changes nothing");
        }
    }
}

#[test]
fn every_bad_input_is_the_error_its_file_names() {
    let files = parquet_files(&fixture_dir().join("bad"));
    assert!(files.len() >= 5, "bad inputs missing: {files:?}");
    for file in files {
        let source = std::fs::read(&file).unwrap();
        let err = convert(&source, &Options::default()).unwrap_err();
        assert_eq!(err.input, Input::Source);
        let mut error_path = file.clone().into_os_string();
        error_path.push(".error.txt");
        golden(Path::new(&error_path), &format!("{err}\n"));
    }
}

#[test]
fn every_fixture_checked_against_a_contract_made_from_it_scores_0_pass() {
    use crate::drift::{assess, IncomingColumn, Rules, Verdict};
    for file in parquet_files(&fixture_dir()) {
        for nested in [Nested::Json, Nested::Flatten] {
            let source = std::fs::read(&file).unwrap();
            let contract = convert(&source, &options(nested)).unwrap().columns;
            let incoming: Vec<IncomingColumn> = contract
                .iter()
                .map(|c| IncomingColumn {
                    name: c.name.clone(),
                    column_type: c.column_type,
                })
                .collect();
            let assessment = assess(&contract, &Rules::default(), &incoming);
            assert_eq!(
                (assessment.verdict, assessment.severity),
                (Verdict::Pass, 0),
                "{} {nested:?}",
                file.display()
            );
            let mut names: Vec<&str> = contract.iter().map(|c| c.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), contract.len(), "{}", file.display());
        }
    }
}

#[test]
fn the_readme_orders_file_has_the_documented_columns() {
    let source = std::fs::read(fixture_dir().join("orders_pyarrow.parquet")).unwrap();
    let got = convert(&source, &Options::default()).unwrap();
    let described: Vec<(&str, ColumnType, bool)> = got
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.column_type, c.required))
        .collect();
    assert_eq!(
        described,
        [
            ("order_id", ColumnType::Integer, true),
            ("customer", ColumnType::Json, false),
            ("amount", ColumnType::Number, false),
            ("created_at", ColumnType::Timestamp, false),
            ("tags", ColumnType::Json, false),
            ("note", ColumnType::String, false),
        ]
    );
    assert!(got.warnings.is_empty());
}

#[test]
fn the_last_tail_len_bytes_convert_like_the_whole_file() {
    for file in parquet_files(&fixture_dir()) {
        let source = std::fs::read(&file).unwrap();
        let trailer = &source[source.len() - TRAILER_LEN..];
        let tail = usize::try_from(tail_len(trailer).unwrap()).unwrap();
        assert!(tail < source.len(), "{}", file.display());
        let from_tail = convert(&source[source.len() - tail..], &Options::default());
        assert_eq!(
            from_tail,
            convert(&source, &Options::default()),
            "{}",
            file.display()
        );
        // One byte fewer is not enough.
        assert!(convert(&source[source.len() - tail + 1..], &Options::default()).is_err());
    }
}

#[test]
fn tail_len_reads_the_footer_length_and_checks_the_magic() {
    assert_eq!(tail_len(b"\x10\x00\x00\x00PAR1").unwrap(), 24);
    assert_eq!(tail_len(b"xx\x00\x01\x00\x00PAR1").unwrap(), 256 + 8);
    assert_eq!(
        tail_len(b"\xff\xff\xff\xffPAR1").unwrap(),
        u64::from(u32::MAX) + 8
    );
    for (input, message) in [
        (&b""[..], "the input is empty"),
        (b"PAR1", "the input is 4 bytes"),
        (b"\x10\x00\x00\x00PAR2", "not a Parquet file"),
        (b"\x10\x00\x00\x00PARE", "encrypted"),
    ] {
        let err = tail_len(input).unwrap_err().to_string();
        assert!(err.contains(message), "{input:?}: {err}");
    }
}

/// The columns of a schema written in Parquet's message syntax, as (name, type, required).
fn mapped(message: &str, nested: Nested) -> (Vec<(String, ColumnType, bool)>, Vec<String>) {
    let root = parse_message_type(message).unwrap();
    let mut warnings = Vec::new();
    let fields = root
        .get_fields()
        .iter()
        .map(|t| field(t, "", &mut warnings))
        .collect();
    let columns = columns(fields, nested)
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.column_type, c.required))
        .collect();
    (columns, warnings)
}

fn col(name: &str, t: ColumnType, required: bool) -> (String, ColumnType, bool) {
    (name.to_string(), t, required)
}

/// The legacy list and map encodings parquet-mr, Hive and old Spark wrote, beside the
/// standard 3-level ones: every one is one json column, required by its own repetition.
const LEGACY: &str = "
message legacy {
  required group standard_list (LIST) { repeated group list { optional int32 element; } }
  optional group two_level (LIST) { repeated int32 array; }
  optional group two_level_struct (LIST) { repeated group array { required binary s (UTF8); } }
  optional group unannotated_repeated_group { repeated group bag { optional int64 v; } }
  repeated int32 bare_repeated;
  repeated group bare_repeated_group { optional int32 a; }
  optional group standard_map (MAP) {
    repeated group key_value { required binary key (UTF8); optional int32 value; }
  }
  optional group legacy_map (MAP) {
    repeated group map (MAP_KEY_VALUE) { required binary key (UTF8); optional int32 value; }
  }
  optional group kv_only (MAP_KEY_VALUE) {
    repeated group map { required binary key (UTF8); optional int32 value; }
  }
}";

#[test]
fn legacy_lists_and_maps_are_json_like_the_standard_ones() {
    let (columns, warnings) = mapped(LEGACY, Nested::Flatten);
    use ColumnType::Json;
    assert_eq!(
        columns,
        [
            col("standard_list", Json, true),
            col("two_level", Json, false),
            col("two_level_struct", Json, false),
            col("unannotated_repeated_group.bag", Json, false),
            col("bare_repeated", Json, false),
            col("bare_repeated_group", Json, false),
            col("standard_map", Json, false),
            col("legacy_map", Json, false),
            col("kv_only", Json, false),
        ]
    );
    assert!(warnings.is_empty());
}

#[test]
fn converted_types_map_like_their_logical_twins() {
    let (columns, warnings) = mapped(
        "
message converted {
  required binary s (UTF8);
  optional binary e (ENUM);
  optional fixed_len_byte_array(8) d1 (DECIMAL(18,2));
  optional int32 d2 (DECIMAL(9,2));
  optional binary d3 (DECIMAL(30,2));
  optional int32 day (DATE);
  optional int64 ms (TIMESTAMP_MILLIS);
  optional int64 us (TIMESTAMP_MICROS);
  optional int32 t_ms (TIME_MILLIS);
  optional int64 t_us (TIME_MICROS);
  optional int32 i8 (INT_8);
  optional int64 u64 (UINT_64);
  optional binary doc (JSON);
  optional binary b (BSON);
  optional fixed_len_byte_array(12) iv (INTERVAL);
  required int96 legacy_ts;
  required boolean flag;
  optional float f;
  optional double g;
  optional binary raw;
  optional fixed_len_byte_array(3) fixed;
}",
        Nested::Json,
    );
    use ColumnType::*;
    assert_eq!(
        columns,
        [
            col("s", String, true),
            col("e", String, false),
            col("d1", Number, false),
            col("d2", Number, false),
            col("d3", Number, false),
            col("day", Date, false),
            col("ms", Timestamp, false),
            col("us", Timestamp, false),
            col("t_ms", String, false),
            col("t_us", String, false),
            col("i8", Integer, false),
            col("u64", Integer, false),
            col("doc", Json, false),
            col("b", String, false),
            col("iv", String, false),
            col("legacy_ts", Timestamp, true),
            col("flag", Boolean, true),
            col("f", Number, false),
            col("g", Number, false),
            col("raw", String, false),
            col("fixed", String, false),
        ]
    );
    assert_eq!(
        warnings,
        [
            "\"b\": the Parquet type BSON has no DriftGuard type; mapped to string",
            "\"iv\": the Parquet type INTERVAL has no DriftGuard type; mapped to string",
        ]
    );
}

#[test]
fn groups_are_records_that_flatten_with_their_parents_requiredness() {
    let message = "
message nested {
  required group address {
    required binary city (STRING);
    optional group geo { required double lat; }
    optional group tags (LIST) { repeated group list { optional binary element (STRING); } }
  }
  optional group empty_parent { required group nothing {} }
}";
    let (flat, _) = mapped(message, Nested::Flatten);
    use ColumnType::*;
    assert_eq!(
        flat,
        [
            col("address.city", String, true),
            col("address.geo.lat", Number, false),
            col("address.tags", Json, false),
            col("empty_parent.nothing", Json, false),
        ]
    );
    let (json, _) = mapped(message, Nested::Json);
    assert_eq!(
        json,
        [col("address", Json, true), col("empty_parent", Json, false)]
    );
}

#[test]
fn flattened_names_that_collide_are_an_error_naming_both() {
    // The message syntax cannot spell a dotted name: the tree is built by hand.
    let optional_int = |name: &str| {
        Arc::new(
            Type::primitive_type_builder(name, PhysicalType::INT32)
                .with_repetition(Repetition::OPTIONAL)
                .build()
                .unwrap(),
        )
    };
    let a = Type::group_type_builder("a")
        .with_repetition(Repetition::OPTIONAL)
        .with_fields(vec![optional_int("b")])
        .build()
        .unwrap();
    let root = Type::group_type_builder("m")
        .with_fields(vec![Arc::new(a), optional_int("a.b")])
        .build()
        .unwrap();
    let mut warnings = Vec::new();
    let fields = root
        .get_fields()
        .iter()
        .map(|t| field(t, "", &mut warnings))
        .collect();
    let err = columns(fields, Nested::Flatten).unwrap_err().to_string();
    assert!(
        err.contains("\"a\"/\"b\"") && err.contains("\"a.b\""),
        "{err}"
    );
}

/// A footer by hand, in the Thrift compact protocol: `FileMetaData { 2: schema }` with
/// one element per `num_children` given (None: a leaf without the field).
fn hand_footer(children: &[Option<i32>]) -> Vec<u8> {
    let mut out = vec![0x29]; // field 2, a list
    if children.len() < 15 {
        out.push(((children.len() as u8) << 4) | 0x0c);
    } else {
        out.push(0xfc);
        varint(&mut out, children.len() as u64);
    }
    for n in children {
        out.extend([0x48, 1, b'x']); // field 4 (name): "x"
        if let Some(n) = n {
            out.push(0x15); // field 5 (num_children), an i32
            varint(&mut out, ((n << 1) ^ (n >> 31)) as u32 as u64);
        }
        out.push(0);
    }
    out.push(0);
    out
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// `footer` made a whole (footer-only) file.
fn file_of(footer: &[u8]) -> Vec<u8> {
    let mut file = b"PAR1".to_vec();
    file.extend(footer);
    file.extend((footer.len() as u32).to_le_bytes());
    file.extend(b"PAR1");
    file
}

#[test]
fn a_child_count_beyond_the_elements_is_refused_before_the_crate_allocates_by_it() {
    // Without the check the crate reserves 2^31 children: 16 GiB, and the process aborts.
    let file = file_of(&hand_footer(&[Some(i32::MAX)]));
    let err = convert(&file, &Options::default()).unwrap_err().to_string();
    assert_eq!(
        err,
        "the footer is not valid Parquet metadata: schema element 0 says it has 2147483647 \
         children, but only 0 elements follow (at byte 12)"
    );
}

#[test]
fn a_schema_deeper_than_the_limit_is_refused_before_the_crate_recurses_into_it() {
    let mut chain = vec![Some(1); 100_000];
    chain.push(None);
    let err = convert(&file_of(&hand_footer(&chain)), &Options::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("nests deeper than 64 levels"), "{err}");
    // As deep as allowed still reaches the crate (which wants its other fields).
    let mut chain = vec![Some(1); bounds::MAX_DEPTH];
    chain.push(None);
    let err = convert(&file_of(&hand_footer(&chain)), &Options::default())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("the footer does not decode"), "{err}");
}

/// Writes `legacy_rust.parquet`: the legacy list and map encodings pyarrow and DuckDB no
/// longer write, by the `parquet` crate's own writer (no rows: the footer is the point).
/// Run by make.py.
#[test]
#[ignore = "regenerates a fixture: run by tests/fixtures/schemas/parquet/make.py"]
fn write_legacy_fixture() {
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    let schema = Arc::new(parse_message_type(LEGACY).unwrap());
    let file = std::fs::File::create(fixture_dir().join("legacy_rust.parquet")).unwrap();
    let props = Arc::new(WriterProperties::builder().build());
    SerializedFileWriter::new(file, schema, props)
        .unwrap()
        .close()
        .unwrap();
}

/// A real footer (with its trailer) to mutate.
fn orders_tail() -> Vec<u8> {
    let source = std::fs::read(fixture_dir().join("orders_pyarrow.parquet")).unwrap();
    let tail = usize::try_from(tail_len(&source).unwrap()).unwrap();
    source[source.len() - tail..].to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Garbage is an error, never a panic (nothing here catches one).
    #[test]
    fn random_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = convert(&bytes, &Options::default());
        // The same bytes as a footer behind a valid trailer reach the decoder.
        let footer_len = bytes.len() as u32;
        bytes.extend(footer_len.to_le_bytes());
        bytes.extend(b"PAR1");
        let _ = convert(&bytes, &Options::default());
    }

    /// A real footer with bytes overwritten, inserted or removed: an error or some
    /// columns, never a panic.
    #[test]
    fn mutated_footers_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        nested in prop_oneof![Just(Nested::Json), Just(Nested::Flatten)],
    ) {
        let tail = orders_tail();
        let mut footer = tail[..tail.len() - TRAILER_LEN].to_vec();
        for (at, byte, kind) in edits {
            let i = at.index(footer.len());
            match kind {
                0 => footer[i] = byte,
                1 => footer.insert(i, byte),
                _ => { footer.remove(i); }
            }
        }
        let mut file = footer.clone();
        file.extend((footer.len() as u32).to_le_bytes());
        file.extend(b"PAR1");
        if let Ok(converted) = convert(&file, &options(nested)) {
            for c in &converted.columns {
                prop_assert!(ColumnType::ALL.contains(&c.column_type));
            }
        }
    }
}
