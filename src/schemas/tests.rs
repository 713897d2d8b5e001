use proptest::prelude::*;

use super::*;

fn record(name: &str, required: bool, fields: Vec<Field>) -> Field {
    Field {
        name: name.into(),
        required,
        shape: Shape::Record(fields),
    }
}

fn address() -> Vec<Field> {
    vec![
        Field::scalar("id", true, ColumnType::Integer),
        record(
            "address",
            true,
            vec![
                Field::scalar("city", true, ColumnType::String),
                record(
                    "geo",
                    false,
                    vec![Field::scalar("lat", true, ColumnType::Number)],
                ),
            ],
        ),
        Field {
            name: "tags".into(),
            required: false,
            shape: Shape::Whole,
        },
    ]
}

fn described(columns: &[Column]) -> Vec<(String, ColumnType, bool)> {
    columns
        .iter()
        .map(|c| (c.name.clone(), c.column_type, c.required))
        .collect()
}

#[test]
fn nested_json_keeps_each_record_one_json_column() {
    let columns = columns(address(), Nested::Json).expect("columns");
    assert_eq!(
        described(&columns),
        vec![
            ("id".into(), ColumnType::Integer, true),
            ("address".into(), ColumnType::Json, true),
            ("tags".into(), ColumnType::Json, false),
        ]
    );
}

#[test]
fn flatten_names_leaves_by_path_and_requires_every_parent() {
    let columns = columns(address(), Nested::Flatten).expect("columns");
    assert_eq!(
        described(&columns),
        vec![
            ("id".into(), ColumnType::Integer, true),
            ("address.city".into(), ColumnType::String, true),
            // `lat` is required, but its parent `geo` is not.
            ("address.geo.lat".into(), ColumnType::Number, false),
            ("tags".into(), ColumnType::Json, false),
        ]
    );
}

#[test]
fn an_empty_record_stays_one_json_column_when_flattened() {
    let fields = vec![record("meta", true, vec![])];
    let columns = columns(fields, Nested::Flatten).expect("columns");
    assert_eq!(
        described(&columns),
        vec![("meta".into(), ColumnType::Json, true)]
    );
}

#[test]
fn two_leaves_that_flatten_to_one_name_are_an_error_naming_both_paths() {
    let fields = vec![
        record(
            "a",
            true,
            vec![Field::scalar("b", true, ColumnType::String)],
        ),
        Field::scalar("a.b", true, ColumnType::Integer),
    ];
    let error = columns(fields, Nested::Flatten).expect_err("a collision");
    assert_eq!(error.input, Input::Source);
    let message = error.to_string();
    assert!(
        message.contains(r#""a"/"b""#) && message.contains(r#""a.b""#),
        "{message}"
    );
}

#[test]
fn names_drift_refuses_are_refused_here_too() {
    let fields = vec![Field::scalar("", true, ColumnType::String)];
    let error = columns(fields, Nested::Json).expect_err("an empty name");
    assert!(error.to_string().contains("columns[0].name"), "{error}");
    let fields = vec![
        Field::scalar("x", true, ColumnType::String),
        Field::scalar("x", false, ColumnType::Integer),
    ];
    let error = columns(fields, Nested::Json).expect_err("a duplicate");
    assert!(error.to_string().contains("duplicate"), "{error}");
}

#[test]
fn errors_say_where() {
    let at_line = ConvertError::at(Place::LineColumn { line: 3, column: 7 }, "expected )");
    assert_eq!(at_line.to_string(), "line 3, column 7: expected )");
    let at_pointer = ConvertError::at_pointer("/fields/3/type", "unknown type \"Foo\"");
    assert_eq!(
        at_pointer.to_string(),
        "at /fields/3/type: unknown type \"Foo\""
    );
    assert_eq!(
        ConvertError::at_pointer("", "must be a record").to_string(),
        "at the top level: must be a record"
    );
    assert_eq!(ConvertError::source("empty").to_string(), "empty");
}

#[test]
fn format_and_nested_names_round_trip() {
    for format in Format::ALL {
        assert_eq!(Format::from_name(format.as_str()), Some(format));
    }
    assert_eq!(Format::from_name("xml"), None);
    assert_eq!(Nested::from_name("json"), Some(Nested::Json));
    assert_eq!(Nested::from_name("flatten"), Some(Nested::Flatten));
    assert_eq!(Nested::from_name("deep"), None);
}

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop::sample::select(ColumnType::ALL.to_vec())
}

fn field_tree() -> impl Strategy<Value = Field> {
    let name = prop::sample::select(vec!["a", "b", "a.b", "c", "b.c"]);
    let leaf =
        (name.clone(), any::<bool>(), column_type()).prop_map(|(n, r, t)| Field::scalar(n, r, t));
    leaf.prop_recursive(3, 24, 4, move |inner| {
        (
            name.clone(),
            any::<bool>(),
            prop::collection::vec(inner, 0..4),
        )
            .prop_map(|(n, required, fields)| Field {
                name: n.into(),
                required,
                shape: Shape::Record(fields),
            })
    })
}

proptest! {
    /// Flattening yields distinct names or the error, never two columns of one name;
    /// a column is required only when every field on its path is.
    #[test]
    fn flatten_never_yields_two_columns_of_one_name(
        fields in prop::collection::vec(field_tree(), 0..5),
    ) {
        for nested in [Nested::Json, Nested::Flatten] {
            match columns(fields.clone(), nested) {
                Ok(columns) => {
                    let mut names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                    let all = names.len();
                    names.sort_unstable();
                    names.dedup();
                    prop_assert_eq!(names.len(), all);
                }
                Err(error) => prop_assert_eq!(error.input, Input::Source),
            }
        }
    }
}
