use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::drift::{self, IncomingColumn, Rules, Verdict};
use crate::schemas::avro::tests::{answer, check_fixtures};
use crate::schemas::{Format, Input, Place};

#[test]
fn every_fixture_converts_to_its_golden_answer() {
    check_fixtures(Format::JsonSchema);
}

/// The one column of an object with one property `p` of schema `schema`, listed in
/// `required` when `listed`.
fn one_property(
    schema: serde_json::Value,
    listed: bool,
) -> Result<(ColumnType, bool, Vec<String>), ConvertError> {
    let required = if listed { json!(["p"]) } else { json!([]) };
    let document = json!({
        "type": "object",
        "required": required,
        "properties": {"p": schema},
        "$defs": {"n": {"type": "integer"}, "maybe": {"type": ["string", "null"]}},
        "definitions": {"d": {"type": "string", "format": "date"}},
    });
    let converted = convert(document.to_string().as_bytes(), &Options::default())?;
    let [column] = converted.columns.as_slice() else {
        panic!("one column: {converted:?}");
    };
    Ok((column.column_type, column.required, converted.warnings))
}

/// SPEC 6.1's JSON Schema row, and the rules around it.
fn mapping_table() -> Vec<(serde_json::Value, ColumnType)> {
    use ColumnType::*;
    vec![
        (json!({"type": "integer"}), Integer),
        (json!({"type": "number"}), Number),
        (json!({"type": "boolean"}), Boolean),
        (json!({"type": "string", "format": "date"}), Date),
        (json!({"type": "string", "format": "date-time"}), Timestamp),
        (json!({"type": "string"}), String),
        (json!({"type": "string", "format": "email"}), String),
        (json!({"type": "string", "format": "uuid"}), String),
        (json!({"type": "string", "format": "time"}), String),
        (json!({"type": "object"}), Json),
        (
            json!({"type": "object", "properties": {"x": {"type": "integer"}}}),
            Json,
        ),
        (json!({"type": "array", "items": {"type": "integer"}}), Json),
        (json!({}), Json),
        (json!({"description": "no type"}), Json),
        (json!(true), Json),
        (json!({"enum": ["a", "b"]}), String),
        (json!({"enum": [1, 2]}), Integer),
        (json!({"enum": [1, 2.5]}), Number),
        (json!({"const": true}), Boolean),
        (json!({"const": "2026-01-01", "format": "date"}), Date),
        (json!({"type": ["integer", "number"]}), Number),
        (json!({"$ref": "#/$defs/n"}), Integer),
        (json!({"$ref": "#/definitions/d"}), Date),
        (json!({"allOf": [{"$ref": "#/$defs/n"}]}), Integer),
        (
            json!({"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}),
            Timestamp,
        ),
        (
            json!({"oneOf": [{"type": "integer"}, {"type": "number"}]}),
            Number,
        ),
    ]
}

#[test]
fn each_json_schema_type_maps_to_its_column_type() {
    for (schema, want) in mapping_table() {
        let (got, required, warnings) = one_property(schema.clone(), true).unwrap();
        assert_eq!((got, required), (want, true), "{schema}");
        assert!(warnings.is_empty(), "{schema}: {warnings:?}");
    }
}

#[test]
fn a_property_is_required_when_listed_and_not_admitting_null() {
    use ColumnType::*;
    // (schema, listed in `required`, type, required)
    let cases = [
        (json!({"type": "string"}), true, String, true),
        (json!({"type": "string"}), false, String, false),
        (json!({"type": ["string", "null"]}), true, String, false),
        (json!({"type": ["null", "integer"]}), true, Integer, false),
        (
            json!({"type": "string", "nullable": true}),
            true,
            String,
            false,
        ),
        (
            json!({"anyOf": [{"type": "integer"}, {"type": "null"}]}),
            true,
            Integer,
            false,
        ),
        (
            json!({"oneOf": [{"type": "null"}, {"type": "string", "format": "date"}]}),
            true,
            Date,
            false,
        ),
        (json!({"enum": ["a", null]}), true, String, false),
        (
            json!({"const": null, "type": ["boolean", "null"]}),
            true,
            Boolean,
            false,
        ),
        (json!({"$ref": "#/$defs/maybe"}), true, String, false),
        (
            json!({"$ref": "#/$defs/n", "nullable": true}),
            true,
            Integer,
            false,
        ),
        (
            json!({"type": ["object", "null"], "properties": {}}),
            true,
            Json,
            false,
        ),
    ];
    for (schema, listed, want, want_required) in cases {
        let (got, required, warnings) = one_property(schema.clone(), listed).unwrap();
        assert_eq!((got, required), (want, want_required), "{schema}");
        assert!(warnings.is_empty(), "{schema}: {warnings:?}");
    }
}

#[test]
fn unrelated_types_become_json_with_a_warning() {
    for schema in [
        json!({"type": ["string", "integer"]}),
        json!({"enum": ["a", 1]}),
        json!({"anyOf": [{"type": "boolean"}, {"type": "string"}]}),
        json!({"oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"type": "string"}]}),
    ] {
        let (got, _, warnings) = one_property(schema.clone(), true).unwrap();
        assert_eq!(got, ColumnType::Json, "{schema}");
        assert_eq!(warnings.len(), 1, "{schema}: {warnings:?}");
        assert!(
            warnings[0].starts_with("property \"p\": the union of "),
            "{warnings:?}"
        );
    }
    let (got, required, warnings) = one_property(json!({"type": "null"}), true).unwrap();
    assert_eq!((got, required), (ColumnType::String, false));
    assert_eq!(warnings.len(), 1);
}

#[test]
fn nested_objects_flatten_with_their_own_required_lists() {
    let document = json!({
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": "object", "required": ["b"], "properties": {
                "b": {"type": "integer"},
                "c": {"type": "string"},
            }},
            "d": {"type": "object", "required": ["e"], "properties": {"e": {"type": "boolean"}}},
        },
    });
    let flatten = Options {
        nested: Nested::Flatten,
        ..Options::default()
    };
    let converted = convert(document.to_string().as_bytes(), &flatten).unwrap();
    assert_eq!(
        answer(&converted)["columns"],
        json!([
            {"name": "a.b", "type": "integer", "required": true},
            {"name": "a.c", "type": "string", "required": false},
            {"name": "d.e", "type": "boolean", "required": false},
        ])
    );
}

#[test]
fn refs_outside_the_document_are_refused_at_their_pointer() {
    for reference in [
        "other.json",
        "other.json#/$defs/x",
        "https://example.com/s.json",
        "#/components/schemas/X",
        "#anchor",
        "#",
    ] {
        let error = one_property(json!({"$ref": reference}), true).unwrap_err();
        assert_eq!(
            error.place,
            Some(Place::Pointer("/properties/p/$ref".into())),
            "{reference}"
        );
        assert!(error.message.contains("only \"#/$defs/…\""), "{error}");
    }
    let error = one_property(json!({"$ref": "#/$defs/none"}), true).unwrap_err();
    assert!(error.message.contains("points to nothing"), "{error}");
}

#[test]
fn a_ref_cycle_is_refused_naming_the_pointer() {
    let document = json!({
        "type": "object",
        "properties": {"p": {"$ref": "#/$defs/a"}},
        "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
    });
    let error = convert(document.to_string().as_bytes(), &Options::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "at /$defs/b/$ref: a $ref cycle: #/$defs/a → #/$defs/b → #/$defs/a"
    );
    let itself = json!({"type": "object", "properties": {"p": {"$ref": "#/$defs/a"}},
        "$defs": {"a": {"$ref": "#/$defs/a"}}});
    let error = convert(itself.to_string().as_bytes(), &Options::default()).unwrap_err();
    assert!(error.message.contains("cycle"), "{error}");
}

#[test]
fn an_object_that_holds_itself_stays_one_json_column() {
    let document = json!({
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/node"}},
        "$defs": {"node": {"type": "object", "properties": {
            "label": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            "parent": {"$ref": "#/$defs/node"},
        }}},
    });
    let flatten = Options {
        nested: Nested::Flatten,
        ..Options::default()
    };
    let converted = convert(document.to_string().as_bytes(), &flatten).unwrap();
    assert_eq!(
        answer(&converted)["columns"],
        json!([
            {"name": "root.label", "type": "string", "required": false},
            {"name": "root.children", "type": "json", "required": false},
            {"name": "root.parent", "type": "json", "required": false},
        ])
    );
    assert_eq!(converted.warnings.len(), 1, "{:?}", converted.warnings);
}

#[test]
fn the_top_level_must_be_an_object_with_properties() {
    for document in [
        json!({"type": "object"}),
        json!({"type": "array", "properties": {"a": {}}}),
        json!([]),
        json!("string"),
        json!({"properties": []}),
    ] {
        let error = convert(document.to_string().as_bytes(), &Options::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "at the top level: the top level must be an object schema with \"properties\"",
            "{document}"
        );
    }
    // A top level that is a `$ref` is the schema it names; `type` may be left out.
    let document =
        json!({"$ref": "#/$defs/t", "$defs": {"t": {"properties": {"a": {"type": "integer"}}}}});
    let converted = convert(document.to_string().as_bytes(), &Options::default()).unwrap();
    assert_eq!(converted.columns.len(), 1);
}

#[test]
fn documents_that_are_not_json_are_refused_at_their_line_and_column() {
    let error = convert(
        b"{\n  \"type\": \"object\",\n  \"properties\": {,}\n}",
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        error.place,
        Some(Place::LineColumn {
            line: 3,
            column: 18
        })
    );
    let error = convert(b"", &Options::default()).unwrap_err();
    assert!(error.message.contains("empty"), "{error}");
}

#[test]
fn unknown_and_malformed_types_are_refused_at_their_pointer() {
    let error = one_property(json!({"type": "text"}), true).unwrap_err();
    assert_eq!(
        error.to_string(),
        "at /properties/p/type: unknown type \"text\""
    );
    let error = one_property(json!({"type": ["string", 3]}), true).unwrap_err();
    assert_eq!(
        error.place,
        Some(Place::Pointer("/properties/p/type/1".into()))
    );
    let error = one_property(json!(3), true).unwrap_err();
    assert_eq!(error.place, Some(Place::Pointer("/properties/p".into())));
}

#[test]
fn a_schema_that_expands_too_far_is_refused_not_expanded() {
    // Each definition holds ten of the one before: 10^7 leaves from a few lines.
    let mut defs = serde_json::Map::new();
    defs.insert("l0".into(), json!({"type": "integer"}));
    for level in 1..8 {
        let properties: serde_json::Map<String, serde_json::Value> = (0..10)
            .map(|i| {
                (
                    format!("f{i}"),
                    json!({"$ref": format!("#/$defs/l{}", level - 1)}),
                )
            })
            .collect();
        defs.insert(
            format!("l{level}"),
            json!({"type": "object", "properties": properties}),
        );
    }
    let document =
        json!({"type": "object", "properties": {"top": {"$ref": "#/$defs/l7"}}, "$defs": defs});
    let error = convert(document.to_string().as_bytes(), &Options::default()).unwrap_err();
    assert!(error.message.contains("more than"), "{error}");
}

// ---- Properties ----

/// An object of properties drawn from the mapping table, some listed in `required`, some
/// admitting null.
fn table_document() -> impl Strategy<Value = (serde_json::Value, Vec<(String, ColumnType, bool)>)> {
    let table = mapping_table();
    let entry = (0..table.len(), any::<bool>(), any::<bool>());
    prop::collection::vec(entry, 0..12).prop_map(move |entries| {
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        let mut want = Vec::new();
        for (n, (index, listed, nullable)) in entries.into_iter().enumerate() {
            let (schema, column_type) = table[index].clone();
            let name = format!("p{n}");
            let schema = if nullable {
                json!({"anyOf": [schema, {"type": "null"}]})
            } else {
                schema
            };
            if listed {
                required.push(json!(name));
            }
            properties.insert(name.clone(), schema);
            want.push((name, column_type, listed && !nullable));
        }
        let document = json!({
            "type": "object",
            "required": required,
            "properties": properties,
            "$defs": {"n": {"type": "integer"}},
            "definitions": {"d": {"type": "string", "format": "date"}},
        });
        (document, want)
    })
}

/// Any JSON value, a few levels deep, with JSON Schema's words among its strings.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let word = prop::sample::select(vec![
        "type",
        "object",
        "properties",
        "required",
        "string",
        "integer",
        "null",
        "array",
        "items",
        "$ref",
        "#/$defs/a",
        "#/definitions/a",
        "$defs",
        "definitions",
        "a",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "format",
        "date",
        "nullable",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        word.clone().prop_map(|w| json!(w)),
    ];
    leaf.prop_recursive(5, 64, 5, move |inner| {
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
    /// A document built from the mapping table converts to one column per property,
    /// named and typed by the table, required when listed and not admitting null.
    #[test]
    fn documents_from_the_mapping_table_convert_by_the_table((document, want) in table_document()) {
        let converted = convert(document.to_string().as_bytes(), &Options::default()).unwrap();
        let got: Vec<(String, ColumnType, bool)> = converted
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.column_type, c.required))
            .collect();
        prop_assert_eq!(&got, &want);
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

    /// Arbitrary JSON never panics: it converts, or is refused as the document's fault;
    /// wrapped as a property (and as a definition it refers to), likewise.
    #[test]
    fn arbitrary_json_converts_or_is_refused(value in any_json(), flatten in any::<bool>()) {
        let options = Options {
            nested: if flatten { Nested::Flatten } else { Nested::Json },
            ..Options::default()
        };
        let wrapped = json!({"type": "object", "properties": {"p": value.clone(), "q": {"$ref": "#/$defs/a"}},
            "$defs": {"a": value.clone()}});
        for document in [value, wrapped] {
            match convert(document.to_string().as_bytes(), &options) {
                Ok(converted) => prop_assert!(converted
                    .columns
                    .iter()
                    .all(|c| ColumnType::ALL.contains(&c.column_type))),
                Err(error) => prop_assert_eq!(error.input, Input::Source),
            }
        }
    }
}
