use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::drift::{self, IncomingColumn, Rules, Verdict};
use crate::schemas::{Format, Input};

// ---- Golden fixtures (shared with json_schema's tests) ----

/// `tests/fixtures/schemas/<format>/`.
pub(in crate::schemas) fn fixture_dir(format: Format) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schemas")
        .join(format.as_str())
}

/// The API's answer for a conversion, as the golden files hold it.
pub(in crate::schemas) fn answer(converted: &Converted) -> serde_json::Value {
    let columns: Vec<serde_json::Value> = converted
        .columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.column_type.as_str(), "required": c.required}))
        .collect();
    json!({"columns": columns, "warnings": converted.warnings})
}

/// The options a golden file's middle part names: `orders.avsc.flatten.expected.json`.
fn options_named(name: &str) -> Options {
    let mut options = Options::default();
    for part in name.split('.').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            None => options.nested = Nested::from_name(part).expect("a nested option"),
            Some(("table", v)) => options.table = Some(v.into()),
            Some(("dialect", v)) => options.dialect = Some(v.into()),
            Some(("model", v)) => options.model = Some(v.into()),
            Some(_) => panic!("unknown option in a golden file name: {part}"),
        }
    }
    options
}

fn bless() -> bool {
    std::env::var_os("DG_BLESS").is_some_and(|v| v == "1")
}

/// Files of `dir` that are inputs: not the goldens, not the script that makes them.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the fixture dir")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.ends_with(".expected.json")
                && !name.ends_with(".error.txt")
                && !name.starts_with("make.")
                && !name.starts_with("README")
        })
        .collect();
    files.sort();
    files
}

/// Every fixture of `format` converts to its golden answer (and each
/// `<file>.<options>.expected.json` under those options); every bad input is refused with
/// the Display text of its `.error.txt`. `DG_BLESS=1` rewrites them.
pub(in crate::schemas) fn check_fixtures(format: Format) {
    let dir = fixture_dir(format);
    let mut failures = Vec::new();
    let mut checked = 0;
    for input in inputs(&dir) {
        let source = std::fs::read(&input).expect("a fixture");
        let file = input.file_name().and_then(|n| n.to_str()).expect("a name");
        let default = dir.join(format!("{file}.expected.json"));
        let mut goldens: Vec<(PathBuf, Options)> = vec![(default.clone(), Options::default())];
        for entry in std::fs::read_dir(&dir).expect("the fixture dir") {
            let path = entry.expect("an entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(middle) = name
                .strip_prefix(&format!("{file}."))
                .and_then(|rest| rest.strip_suffix(".expected.json"))
            {
                goldens.push((path.clone(), options_named(middle)));
            }
        }
        goldens.dedup_by(|a, b| a.0 == b.0);
        for (golden, options) in goldens {
            let got = match crate::schemas::convert(format, &source, &options) {
                Ok(converted) => answer(&converted),
                Err(e) => json!({"error": e.to_string()}),
            };
            if bless() {
                let text = serde_json::to_string_pretty(&got).expect("json") + "\n";
                std::fs::write(&golden, text).expect("bless");
                continue;
            }
            checked += 1;
            let want: serde_json::Value = match std::fs::read(&golden) {
                Ok(text) => serde_json::from_slice(&text).expect("a golden file"),
                Err(_) => json!({"error": "no golden file"}),
            };
            if got != want {
                failures.push(format!(
                    "{}:\n  got  {got}\n  want {want}",
                    golden.display()
                ));
            }
        }
    }
    let bad = dir.join("bad");
    for input in inputs(&bad) {
        let source = std::fs::read(&input).expect("a bad input");
        let file = input.file_name().and_then(|n| n.to_str()).expect("a name");
        let golden = bad.join(format!("{file}.error.txt"));
        let got = match crate::schemas::convert(format, &source, &Options::default()) {
            Ok(converted) => format!("converted: {}", answer(&converted)),
            Err(e) => {
                assert_eq!(e.input, Input::Source, "{file}");
                e.to_string()
            }
        };
        if bless() {
            std::fs::write(&golden, format!("{got}\n")).expect("bless");
            continue;
        }
        checked += 1;
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want.trim_end_matches('\n') {
            failures.push(format!(
                "{}:\n  got  {got}\n  want {want}",
                golden.display()
            ));
        }
    }
    assert!(bless() || checked > 0, "no fixture in {}", dir.display());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_fixture_converts_to_its_golden_answer() {
    check_fixtures(Format::Avro);
}

#[test]
fn the_container_file_and_its_schema_give_the_same_answer() {
    let dir = fixture_dir(Format::Avro);
    let avsc = std::fs::read(dir.join("orders.avsc")).unwrap();
    let from_schema = convert(&avsc, &Options::default()).unwrap();
    for file in ["orders.avro", "orders.deflate.avro"] {
        let container = std::fs::read(dir.join(file)).unwrap();
        assert_eq!(
            convert(&container, &Options::default()).unwrap(),
            from_schema,
            "{file}"
        );
        // The header is all that is read: the file cut just after it converts the same.
        let header_end = container.len() - 120;
        assert_eq!(
            convert(&container[..header_end], &Options::default()).unwrap(),
            from_schema
        );
    }
}

// ---- The mapping table, one type at a time ----

/// The one column of a record holding one field of type `avro`.
fn one_field(avro: serde_json::Value) -> Result<(ColumnType, bool, Vec<String>), ConvertError> {
    let schema = json!({"type": "record", "name": "R", "fields": [{"name": "f", "type": avro}]});
    let converted = convert(schema.to_string().as_bytes(), &Options::default())?;
    let [column] = converted.columns.as_slice() else {
        panic!("one column: {converted:?}");
    };
    Ok((column.column_type, column.required, converted.warnings))
}

/// SPEC 6.1's Avro row: each type and logical type, and its column type.
fn mapping_table() -> Vec<(serde_json::Value, ColumnType)> {
    use ColumnType::*;
    let logical = |base: &str, logical: &str| json!({"type": base, "logicalType": logical});
    vec![
        (json!("int"), Integer),
        (json!("long"), Integer),
        (json!("float"), Number),
        (json!("double"), Number),
        (
            json!({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}),
            Number,
        ),
        (
            json!({"type": "fixed", "name": "D", "size": 8, "logicalType": "decimal", "precision": 12}),
            Number,
        ),
        (json!("boolean"), Boolean),
        (logical("int", "date"), Date),
        (logical("long", "timestamp-millis"), Timestamp),
        (logical("long", "timestamp-micros"), Timestamp),
        (logical("long", "timestamp-nanos"), Timestamp),
        (logical("long", "local-timestamp-millis"), Timestamp),
        (logical("long", "local-timestamp-micros"), Timestamp),
        (logical("long", "local-timestamp-nanos"), Timestamp),
        (
            json!({"type": "record", "name": "N", "fields": [{"name": "x", "type": "int"}]}),
            Json,
        ),
        (json!({"type": "array", "items": "int"}), Json),
        (json!({"type": "map", "values": "int"}), Json),
        (json!("string"), String),
        (json!("bytes"), String),
        (json!({"type": "fixed", "name": "F", "size": 4}), String),
        (
            json!({"type": "enum", "name": "E", "symbols": ["A", "B"]}),
            String,
        ),
        (logical("string", "uuid"), String),
        (logical("int", "time-millis"), String),
        (logical("long", "time-micros"), String),
        (
            json!({"type": "fixed", "name": "Du", "size": 12, "logicalType": "duration"}),
            String,
        ),
        // A logical type apache-avro does not know keeps its underlying type.
        (logical("string", "iso-country"), String),
    ]
}

#[test]
fn each_avro_type_maps_to_its_column_type() {
    for (avro, want) in mapping_table() {
        let (got, required, warnings) = one_field(avro.clone()).unwrap();
        assert_eq!((got, required), (want, true), "{avro}");
        assert!(warnings.is_empty(), "{avro}: {warnings:?}");
    }
}

#[test]
fn unions_follow_the_required_rules() {
    use ColumnType::*;
    let date = json!({"type": "int", "logicalType": "date"});
    let instant = json!({"type": "long", "logicalType": "timestamp-millis"});
    // (union, type, required, warned)
    let cases = [
        (json!(["null", "string"]), String, false, false),
        (json!(["string", "null"]), String, false, false),
        (json!(["long"]), Integer, true, false),
        (json!(["int", "long"]), Integer, true, false),
        (json!(["int", "double"]), Number, true, false),
        (json!(["null", "long", "float"]), Number, false, false),
        (json!([date, instant]), Timestamp, true, false),
        (json!(["null", date, instant]), Timestamp, false, false),
        (json!(["string", "long"]), Json, true, true),
        (json!(["null", "boolean", "string"]), Json, false, true),
        (
            json!(["null", {"type": "array", "items": "int"}]),
            Json,
            false,
            false,
        ),
        (json!(["null"]), String, false, true),
        (json!("null"), String, false, true),
    ];
    for (union, want, want_required, warned) in cases {
        let (got, required, warnings) = one_field(union.clone()).unwrap();
        assert_eq!((got, required), (want, want_required), "{union}");
        assert_eq!(!warnings.is_empty(), warned, "{union}: {warnings:?}");
        if warned {
            assert!(warnings[0].starts_with("field \"f\": "), "{warnings:?}");
        }
    }
}

#[test]
fn a_union_with_null_and_a_record_flattens_to_optional_leaves() {
    let schema = json!({"type": "record", "name": "R", "fields": [
        {"name": "p", "type": ["null", {"type": "record", "name": "P", "fields": [
            {"name": "x", "type": "double"}]}]},
    ]});
    let options = Options {
        nested: Nested::Flatten,
        ..Options::default()
    };
    let converted = convert(schema.to_string().as_bytes(), &options).unwrap();
    assert_eq!(
        answer(&converted),
        json!({"columns": [{"name": "p.x", "type": "number", "required": false}], "warnings": []})
    );
}

#[test]
fn named_types_resolve_in_their_namespace() {
    let schema = json!({"type": "record", "name": "a.R", "fields": [
        {"name": "s", "type": {"type": "enum", "name": "S", "symbols": ["X"]}},
        {"name": "short", "type": "S"},
        {"name": "full", "type": "a.S"},
        {"name": "other", "type": {"type": "fixed", "name": "F", "namespace": "b", "size": 2}},
        {"name": "other_full", "type": ["null", "b.F"]},
    ]});
    let converted = convert(schema.to_string().as_bytes(), &Options::default()).unwrap();
    let types: Vec<(&str, ColumnType, bool)> = converted
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.column_type, c.required))
        .collect();
    assert_eq!(
        types,
        vec![
            ("s", ColumnType::String, true),
            ("short", ColumnType::String, true),
            ("full", ColumnType::String, true),
            ("other", ColumnType::String, true),
            ("other_full", ColumnType::String, false),
        ]
    );
}

#[test]
fn an_unknown_name_is_refused_at_its_pointer() {
    let schema = json!({"type": "record", "name": "R", "namespace": "n", "fields": [
        {"name": "a", "type": "int"},
        {"name": "b", "type": {"type": "array", "items": ["null", "Missing"]}},
    ]});
    let error = convert(schema.to_string().as_bytes(), &Options::default()).unwrap_err();
    assert_eq!(
        error.place,
        Some(Place::Pointer("/fields/1/type/items/1".into()))
    );
    assert!(error.message.contains("\"n.Missing\""), "{error}");
}

#[test]
fn a_top_level_other_than_a_record_is_refused() {
    for (schema, kind) in [
        (json!("string"), "string"),
        (json!(["null", "int"]), "a union"),
        (
            json!({"type": "enum", "name": "E", "symbols": ["A"]}),
            "enum E",
        ),
    ] {
        let error = convert(schema.to_string().as_bytes(), &Options::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("at the top level: the schema must be a record, not {kind}")
        );
    }
}

#[test]
fn json_that_does_not_parse_is_refused_at_its_line_and_column() {
    let error = convert(
        b"{\"type\": \"record\",\n  \"name\": }",
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        error.place,
        Some(Place::LineColumn {
            line: 2,
            column: 11
        })
    );
}

#[test]
fn a_record_that_holds_itself_stays_one_json_column() {
    let schema = json!({"type": "record", "name": "Node", "fields": [
        {"name": "value", "type": "int"},
        {"name": "next", "type": ["null", "Node"]},
    ]});
    let flatten = Options {
        nested: Nested::Flatten,
        ..Options::default()
    };
    let converted = convert(schema.to_string().as_bytes(), &flatten).unwrap();
    assert_eq!(
        answer(&converted)["columns"],
        json!([
            {"name": "value", "type": "integer", "required": true},
            {"name": "next", "type": "json", "required": false},
        ])
    );
    assert_eq!(converted.warnings.len(), 1, "{:?}", converted.warnings);
}

#[test]
fn a_schema_that_expands_too_far_is_refused_not_expanded() {
    // Each record holds ten of the one before: 10^6 leaves from a few lines.
    let mut fields = vec![json!({"name": "x", "type": "int"})];
    let mut types = Vec::new();
    for level in 0..6 {
        let name = format!("L{level}");
        types.push(json!({"type": "record", "name": name, "fields": fields}));
        fields = (0..10)
            .map(|i| json!({"name": format!("f{i}"), "type": name}))
            .collect();
    }
    let mut union = vec![json!("null")];
    union.extend(types);
    let mut top_fields = vec![json!({"name": "defs", "type": union})];
    top_fields.extend(fields);
    let schema = json!({"type": "record", "name": "Top", "fields": top_fields});
    let flatten = Options {
        nested: Nested::Flatten,
        ..Options::default()
    };
    let error = convert(schema.to_string().as_bytes(), &flatten).unwrap_err();
    assert!(error.message.contains("more than"), "{error}");
}

#[test]
fn container_headers_that_are_cut_or_damaged_are_refused() {
    let container = std::fs::read(fixture_dir(Format::Avro).join("orders.avro")).unwrap();
    for len in [4, 5, 10, 30, 100, 600] {
        let error = convert(&container[..len], &Options::default()).unwrap_err();
        assert!(error.message.contains("header"), "{len}: {error}");
    }
    // A metadata block claiming a huge string is refused, not allocated.
    let huge = b"Obj\x01\x02\xfe\xff\xff\xff\x0f";
    assert!(convert(huge, &Options::default()).is_err());
    // No avro.schema in the metadata.
    let mut no_schema = b"Obj\x01\x02\x14avro.codec\x08null\x00".to_vec();
    no_schema.extend([0u8; 16]);
    let error = convert(&no_schema, &Options::default()).unwrap_err();
    assert!(error.message.contains("no avro.schema"), "{error}");
}

#[test]
fn errors_in_a_container_header_schema_say_so() {
    let schema = br#"{"type": "array", "items": "string"}"#;
    let mut container = b"Obj\x01\x02\x16avro.schema".to_vec();
    container.push((schema.len() * 2) as u8);
    container.extend(schema);
    container.push(0);
    container.extend([7u8; 16]);
    let error = convert(&container, &Options::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "at the top level: the schema must be a record, not array (in the header's avro.schema)"
    );
}

// ---- Properties ----

/// A record of fields drawn from the mapping table, some made optional with `null`.
fn table_schema() -> impl Strategy<Value = (serde_json::Value, Vec<(String, ColumnType, bool)>)> {
    let table = mapping_table();
    let entry = (0..table.len(), any::<bool>());
    prop::collection::vec(entry, 0..12).prop_map(move |entries| {
        let mut fields = Vec::new();
        let mut want = Vec::new();
        for (n, (index, nullable)) in entries.into_iter().enumerate() {
            let (avro, column_type) = table[index].clone();
            // Named types get a name of their own, so none is defined twice.
            let avro = match avro {
                serde_json::Value::Object(mut o) if o.contains_key("name") => {
                    o.insert("name".into(), json!(format!("T{n}")));
                    serde_json::Value::Object(o)
                }
                other => other,
            };
            let name = format!("c{n}");
            let avro = if nullable {
                json!(["null", avro])
            } else {
                avro
            };
            fields.push(json!({"name": name, "type": avro}));
            want.push((name, column_type, !nullable));
        }
        (
            json!({"type": "record", "name": "R", "fields": fields}),
            want,
        )
    })
}

/// Any JSON value, a few levels deep, with Avro's words among its strings.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let word = prop::sample::select(vec![
        "record",
        "type",
        "name",
        "fields",
        "null",
        "int",
        "long",
        "string",
        "array",
        "items",
        "map",
        "values",
        "enum",
        "symbols",
        "fixed",
        "size",
        "logicalType",
        "decimal",
        "date",
        "R",
        "x",
        "a.b",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        word.clone().prop_map(|w| json!(w)),
    ];
    leaf.prop_recursive(4, 48, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::vec((word.clone(), inner), 0..5).prop_map(|pairs| {
                serde_json::Value::Object(
                    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                )
            }),
        ]
    })
}

proptest! {
    /// A schema built from the mapping table converts to one column per field, named and
    /// typed by the table, required unless made optional; each is one of the seven types.
    #[test]
    fn documents_from_the_mapping_table_convert_by_the_table((schema, want) in table_schema()) {
        let converted = convert(schema.to_string().as_bytes(), &Options::default()).unwrap();
        let got: Vec<(String, ColumnType, bool)> = converted
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.column_type, c.required))
            .collect();
        prop_assert_eq!(&got, &want);
        prop_assert!(converted.columns.iter().all(|c| ColumnType::ALL.contains(&c.column_type)));
        prop_assert!(converted.warnings.is_empty());
        // Checking the same schema against a contract made from it passes, at 0.
        let incoming: Vec<IncomingColumn> = converted
            .columns
            .iter()
            .map(|c| IncomingColumn { name: c.name.clone(), column_type: c.column_type })
            .collect();
        let assessment = drift::assess(&converted.columns, &Rules::default(), &incoming);
        prop_assert_eq!(assessment.verdict, Verdict::Pass);
        prop_assert_eq!(assessment.severity, 0);
    }

    /// Arbitrary JSON, and arbitrary bytes after the container magic, never panic: they
    /// convert, or are refused as the document's fault.
    #[test]
    fn arbitrary_input_converts_or_is_refused(
        value in any_json(),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        flatten in any::<bool>(),
    ) {
        let options = Options {
            nested: if flatten { Nested::Flatten } else { Nested::Json },
            ..Options::default()
        };
        let mut container = CONTAINER_MAGIC.to_vec();
        container.extend(&bytes);
        for source in [value.to_string().into_bytes(), bytes.clone(), container] {
            match convert(&source, &options) {
                Ok(converted) => prop_assert!(converted
                    .columns
                    .iter()
                    .all(|c| ColumnType::ALL.contains(&c.column_type))),
                Err(error) => prop_assert_eq!(error.input, Input::Source),
            }
        }
    }
}
