use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::drift::{self, IncomingColumn, Rules, Verdict};
use crate::schemas::Nested;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schemas/sql");

/// The options a golden's name gives after the fixture's name: `flatten`, `json`,
/// `table-NAME`, `dialect-NAME` (`orders.sql.dialect-postgres.table-orders.expected.json`).
pub(crate) fn options_of(name: &str) -> Options {
    let mut options = Options::default();
    for part in name.split('.').filter(|p| !p.is_empty()) {
        if let Some(nested) = Nested::from_name(part) {
            options.nested = nested;
        } else if let Some(table) = part.strip_prefix("table-") {
            options.table = Some(table.to_owned());
        } else if let Some(dialect) = part.strip_prefix("dialect-") {
            options.dialect = Some(dialect.to_owned());
        } else if let Some(model) = part.strip_prefix("model-") {
            options.model = Some(model.to_owned());
        } else {
            panic!("unknown option {part:?} in a golden's name");
        }
    }
    options
}

/// The API's answer for a conversion (`POST /schemas/convert`'s 200 body).
pub(crate) fn answer(converted: &Converted) -> Value {
    let columns: Vec<Value> = converted
        .columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.column_type.as_str(), "required": c.required}))
        .collect();
    json!({"columns": columns, "warnings": converted.warnings})
}

/// Every `<fixture>.<options>.<suffix>` beside the fixtures of `dir`, with the fixture and
/// the options between.
pub(crate) fn goldens(dir: &Path, suffix: &str) -> Vec<(PathBuf, PathBuf, String)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let fixtures: Vec<&String> = names
        .iter()
        .filter(|n| {
            !n.ends_with(".expected.json") && !n.ends_with(".error.txt") && !n.starts_with("make.")
        })
        .filter(|n| dir.join(n).is_file())
        .collect();
    let mut found = Vec::new();
    for golden in names.iter().filter(|n| n.ends_with(suffix)) {
        let fixture = fixtures
            .iter()
            // The longest fixture name the golden starts with (`a.sql` and `a.sql.x`).
            .filter(|f| golden.starts_with(&format!("{f}.")))
            .max_by_key(|f| f.len())
            .unwrap_or_else(|| panic!("{golden}: no fixture for it"));
        let options = golden[fixture.len()..golden.len() - suffix.len()].to_owned();
        found.push((dir.join(fixture), dir.join(golden), options));
    }
    for fixture in fixtures {
        assert!(
            found.iter().any(|(f, _, _)| f.ends_with(fixture)),
            "{fixture}: no golden file beside it"
        );
    }
    found
}

/// Compares (or with `DG_BLESS=1` rewrites) every golden of `dir` with what `convert` answers.
pub(crate) fn check_goldens(
    dir: &Path,
    convert: fn(&[u8], &Options) -> Result<Converted, ConvertError>,
) {
    let bless = std::env::var_os("DG_BLESS").is_some();
    let found = goldens(dir, ".expected.json");
    assert!(!found.is_empty(), "no goldens in {}", dir.display());
    for (fixture, golden, options) in found {
        let source = std::fs::read(&fixture).unwrap();
        let converted = convert(&source, &options_of(&options))
            .unwrap_or_else(|e| panic!("{}{options}: {e}", fixture.display()));
        // A contract made from the conversion passes a check of the same schema, at 0.
        let incoming: Vec<IncomingColumn> = converted
            .columns
            .iter()
            .map(|c| IncomingColumn {
                name: c.name.clone(),
                column_type: c.column_type,
            })
            .collect();
        let assessment = drift::assess(&converted.columns, &Rules::default(), &incoming);
        assert_eq!(
            (assessment.verdict, assessment.severity),
            (Verdict::Pass, 0),
            "{}",
            golden.display()
        );
        let got = answer(&converted);
        if bless {
            let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            std::fs::write(&golden, text).unwrap();
            continue;
        }
        let want: Value = serde_json::from_slice(&std::fs::read(&golden).unwrap()).unwrap();
        assert_eq!(got, want, "{}", golden.display());
    }
    let bad = dir.join("bad");
    let found = goldens(&bad, ".error.txt");
    assert!(!found.is_empty(), "no bad inputs in {}", bad.display());
    for (fixture, golden, options) in found {
        let source = std::fs::read(&fixture).unwrap();
        let error = match convert(&source, &options_of(&options)) {
            Ok(converted) => panic!("{}{options}: converted: {converted:?}", fixture.display()),
            Err(e) => e.to_string(),
        };
        if bless {
            std::fs::write(&golden, format!("{error}\n")).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap();
        assert_eq!(error, want.trim_end_matches('\n'), "{}", golden.display());
    }
}

#[test]
fn every_fixture_converts_to_its_golden_and_every_bad_input_fails_as_written() {
    check_goldens(Path::new(FIXTURES), convert);
}

fn sql(text: &str, options: &Options) -> Result<Converted, ConvertError> {
    convert(text.as_bytes(), options)
}

fn with_dialect(dialect: &str) -> Options {
    Options {
        dialect: Some(dialect.to_owned()),
        ..Options::default()
    }
}

/// SPEC 6.1's SQL row, one type name each (and the spellings dumps write).
const TYPE_TABLE: &[(&str, ColumnType)] = &[
    ("TINYINT", ColumnType::Integer),
    ("SMALLINT", ColumnType::Integer),
    ("INT", ColumnType::Integer),
    ("INTEGER", ColumnType::Integer),
    ("BIGINT", ColumnType::Integer),
    ("INT2", ColumnType::Integer),
    ("INT4", ColumnType::Integer),
    ("INT8", ColumnType::Integer),
    ("SERIAL", ColumnType::Integer),
    ("BIGSERIAL", ColumnType::Integer),
    ("int(11)", ColumnType::Integer),
    ("bigint unsigned", ColumnType::Integer),
    ("INT64", ColumnType::Integer),
    ("HUGEINT", ColumnType::Integer),
    ("DECIMAL", ColumnType::Number),
    ("DECIMAL(10,2)", ColumnType::Number),
    ("NUMERIC", ColumnType::Number),
    ("numeric(10, 2)", ColumnType::Number),
    ("REAL", ColumnType::Number),
    ("FLOAT", ColumnType::Number),
    ("FLOAT4", ColumnType::Number),
    ("FLOAT8", ColumnType::Number),
    ("DOUBLE", ColumnType::Number),
    ("DOUBLE PRECISION", ColumnType::Number),
    ("MONEY", ColumnType::Number),
    ("NUMBER(38,0)", ColumnType::Number),
    ("FLOAT64", ColumnType::Number),
    ("BOOLEAN", ColumnType::Boolean),
    ("BOOL", ColumnType::Boolean),
    ("DATE", ColumnType::Date),
    ("TIMESTAMP", ColumnType::Timestamp),
    ("TIMESTAMP WITH TIME ZONE", ColumnType::Timestamp),
    ("TIMESTAMP WITHOUT TIME ZONE", ColumnType::Timestamp),
    ("timestamp(6) with time zone", ColumnType::Timestamp),
    ("TIMESTAMPTZ", ColumnType::Timestamp),
    ("DATETIME", ColumnType::Timestamp),
    ("TIMESTAMP_NTZ", ColumnType::Timestamp),
    ("TIMESTAMP_TZ", ColumnType::Timestamp),
    ("JSON", ColumnType::Json),
    ("JSONB", ColumnType::Json),
    ("VARIANT", ColumnType::Json),
    ("OBJECT", ColumnType::Json),
    ("ARRAY", ColumnType::Json),
    ("ARRAY<STRING>", ColumnType::Json),
    ("INT[]", ColumnType::Json),
    ("text[][]", ColumnType::Json),
    ("STRUCT<a INT>", ColumnType::Json),
    ("MAP(VARCHAR, INT)", ColumnType::Json),
    ("CHAR", ColumnType::String),
    ("CHAR(12)", ColumnType::String),
    ("CHARACTER(12)", ColumnType::String),
    ("VARCHAR", ColumnType::String),
    ("VARCHAR(255)", ColumnType::String),
    ("character varying(255)", ColumnType::String),
    ("TEXT", ColumnType::String),
    ("STRING", ColumnType::String),
    ("UUID", ColumnType::String),
    ("BYTEA", ColumnType::String),
    ("BLOB", ColumnType::String),
    ("BINARY", ColumnType::String),
    ("TIME", ColumnType::String),
    ("time without time zone", ColumnType::String),
    ("INTERVAL", ColumnType::String),
    ("ENUM('a','b')", ColumnType::String),
];

#[test]
fn every_type_of_the_table_maps_in_every_dialect_that_parses_it() {
    for (type_name, want) in TYPE_TABLE {
        let mut parsed_in = Vec::new();
        for dialect in DIALECTS {
            let ddl = format!("CREATE TABLE t (c {type_name})");
            let Ok(converted) = sql(&ddl, &with_dialect(dialect)) else {
                continue;
            };
            assert_eq!(
                converted.columns[0].column_type, *want,
                "{type_name} in {dialect}"
            );
            assert!(
                converted.warnings.is_empty(),
                "{type_name} in {dialect}: {:?}",
                converted.warnings
            );
            parsed_in.push(dialect);
        }
        assert!(!parsed_in.is_empty(), "{type_name} parses in no dialect");
        // dbt's data_type goes through the same mapping.
        let mut warnings = Vec::new();
        let field = type_name_field("c", false, type_name, &GenericDialect, &mut warnings);
        if warnings.is_empty() {
            let got = match field.shape {
                Shape::Scalar(t) => t,
                Shape::Record(_) | Shape::Whole => ColumnType::Json,
            };
            assert_eq!(got, *want, "{type_name} as a dbt data_type");
        }
    }
}

#[test]
fn the_type_table_is_case_insensitive() {
    for (type_name, want) in TYPE_TABLE {
        for spelled in [type_name.to_lowercase(), type_name.to_uppercase()] {
            let ddl = format!("CREATE TABLE t (c {spelled})");
            if let Ok(converted) = sql(&ddl, &Options::default()) {
                assert_eq!(converted.columns[0].column_type, *want, "{spelled}");
            }
        }
    }
}

#[test]
fn an_unknown_type_is_a_string_with_a_warning_naming_column_and_type() {
    let converted = sql(
        "CREATE TABLE t (spot geometry(Point, 4326) NOT NULL, id int)",
        &with_dialect("postgres"),
    )
    .unwrap();
    assert_eq!(converted.columns[0].column_type, ColumnType::String);
    assert!(converted.columns[0].required);
    assert_eq!(
        converted.warnings,
        vec![r#"column "spot": unknown SQL type "geometry(Point, 4326)", read as string"#]
    );
}

#[test]
fn not_null_and_primary_keys_make_columns_required() {
    let ddl = "
        CREATE TABLE a (x int PRIMARY KEY, y int NOT NULL, z int, w int NULL);
        CREATE TABLE b (x int, y int, z int, PRIMARY KEY (x, \"y\"));
        CREATE TABLE c (x int, y int);
        ALTER TABLE ONLY public.c ADD CONSTRAINT c_pkey PRIMARY KEY (y);
        CREATE TABLE d (x int, y int);
        ALTER TABLE d ALTER COLUMN X SET NOT NULL;
    ";
    let required = |table: &str| -> Vec<bool> {
        let options = Options {
            table: Some(table.into()),
            ..Options::default()
        };
        let converted = sql(ddl, &options).unwrap();
        converted.columns.iter().map(|c| c.required).collect()
    };
    assert_eq!(required("a"), [true, true, false, false]);
    assert_eq!(required("b"), [true, true, false]);
    assert_eq!(required("c"), [false, true]);
    assert_eq!(required("d"), [true, false]);
}

#[test]
fn table_picks_by_the_last_part_unquoted_ignoring_case_quoted_exactly() {
    let ddl = r#"CREATE TABLE public.Orders (a int); CREATE TABLE "Items" (b int);
                 CREATE TABLE archive.orders (c int);"#;
    let pick = |table: &str| {
        let options = Options {
            table: Some(table.into()),
            ..Options::default()
        };
        sql(ddl, &options).map(|c| c.columns[0].name.clone())
    };
    assert_eq!(pick("Items").unwrap(), "b");
    assert_eq!(pick("items").unwrap_err().input, Input::Table);
    assert_eq!(pick("PUBLIC.ORDERS").unwrap(), "a");
    assert_eq!(pick("archive.orders").unwrap(), "c");
    let several = pick("orders").unwrap_err();
    assert_eq!(several.input, Input::Table);
    assert!(
        several.message.contains("public.Orders, archive.orders"),
        "{several}"
    );
    let none = sql(ddl, &Options::default()).unwrap_err();
    assert_eq!(none.input, Input::Table);
    assert_eq!(
        none.message,
        r#"the SQL creates 3 tables (public.Orders, "Items", archive.orders); say which one with table"#
    );
}

#[test]
fn an_unknown_dialect_lists_the_dialects() {
    let error = sql("CREATE TABLE t (a int)", &with_dialect("oracle")).unwrap_err();
    assert_eq!(error.input, Input::Dialect);
    assert_eq!(
        error.message,
        "unknown SQL dialect \"oracle\"; the dialects are generic, postgres, mysql, bigquery, snowflake, duckdb, sqlite, mssql"
    );
}

#[test]
fn a_syntax_error_in_create_table_has_its_line_and_column() {
    let error = sql(
        "SELECT 1;\n\nCREATE TABLE t (\n  a int,\n  b varchar(,\n)",
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        error.place,
        Some(Place::LineColumn {
            line: 5,
            column: 13
        })
    );
    // Other statements that do not parse are skipped.
    let converted = sql(
        "FROBNICATE everything;\nALTER TABLE t FROBNICATE;\nCREATE TABLE t (a int);",
        &Options::default(),
    )
    .unwrap();
    assert_eq!(converted.columns.len(), 1);
}

#[test]
fn struct_fields_flatten_and_arrays_stay_whole() {
    let ddl = "CREATE TABLE t (id INT64 NOT NULL, address STRUCT<city STRING, geo STRUCT<lat FLOAT64>> NOT NULL, tags ARRAY<STRUCT<a INT64>>)";
    let options = Options {
        dialect: Some("bigquery".into()),
        nested: Nested::Flatten,
        ..Options::default()
    };
    let converted = sql(ddl, &options).unwrap();
    let names: Vec<(&str, ColumnType, bool)> = converted
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.column_type, c.required))
        .collect();
    assert_eq!(
        names,
        [
            ("id", ColumnType::Integer, true),
            ("address.city", ColumnType::String, false),
            ("address.geo.lat", ColumnType::Number, false),
            ("tags", ColumnType::Json, false),
        ]
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for (open, close) in [("(", ")"), ("STRUCT<a ", ">"), ("[", "]"), ("ARRAY<", ">")] {
        for depth in [60, 100, 10_000] {
            let ddl = format!(
                "CREATE TABLE t (a int DEFAULT {}1{}, b {}INT{})",
                open.repeat(depth),
                close.repeat(depth),
                open.repeat(depth),
                close.repeat(depth)
            );
            assert!(sql(&ddl, &Options::default()).is_err(), "{open} × {depth}");
        }
    }
}

#[test]
fn empty_and_non_utf8_input_are_errors_with_a_place() {
    assert_eq!(
        sql("", &Options::default()).unwrap_err().to_string(),
        "the SQL is empty"
    );
    let error = convert(b"CREATE TABLE t (\n  a int, \xff)", &Options::default()).unwrap_err();
    assert_eq!(
        error.place,
        Some(Place::LineColumn {
            line: 2,
            column: 10
        })
    );
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}", dialect in proptest::sample::select(DIALECTS.to_vec())) {
        let _ = sql(&text, &with_dialect(dialect));
    }

    #[test]
    fn arbitrary_create_tables_never_panic(
        body in "[a-zA-Z0-9_ ,()<>\\[\\]\"`'.;:-]{0,200}",
        dialect in proptest::sample::select(DIALECTS.to_vec()),
    ) {
        let _ = sql(&format!("CREATE TABLE t ({body}"), &with_dialect(dialect));
    }

    #[test]
    fn every_column_type_is_one_of_the_seven(type_index in 0..TYPE_TABLE.len(), nested in any::<bool>()) {
        let ddl = format!("CREATE TABLE t (c {}, d STRUCT<e INT, f ARRAY<INT>>)", TYPE_TABLE[type_index].0);
        let options = Options { nested: if nested { Nested::Flatten } else { Nested::Json }, ..Options::default() };
        if let Ok(converted) = sql(&ddl, &options) {
            for column in converted.columns {
                prop_assert!(ColumnType::ALL.contains(&column.column_type));
            }
        }
    }
}
