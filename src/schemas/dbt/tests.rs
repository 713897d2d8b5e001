use std::path::Path;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::schemas::sql::tests::check_goldens;
use crate::schemas::Nested;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schemas/dbt");

#[test]
fn every_fixture_converts_to_its_golden_and_every_bad_input_fails_as_written() {
    check_goldens(Path::new(FIXTURES), convert);
}

fn model(name: &str) -> Options {
    Options {
        model: Some(name.to_owned()),
        ..Options::default()
    }
}

fn manifest() -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join("manifest.json")).unwrap()
}

#[test]
fn a_node_is_found_by_unique_id_as_by_name() {
    let source = manifest();
    let by_name = convert(&source, &model("orders")).unwrap();
    let by_id = convert(&source, &model("model.shop.orders")).unwrap();
    assert_eq!(by_name, by_id);
}

#[test]
fn the_model_is_required_and_an_unknown_one_lists_close_names() {
    let source = manifest();
    let missing = convert(&source, &Options::default()).unwrap_err();
    assert_eq!(missing.input, Input::Model);
    assert!(missing.message.contains("required"), "{missing}");
    let unknown = convert(&source, &model("ordrs")).unwrap_err();
    assert_eq!(unknown.input, Input::Model);
    assert_eq!(
        unknown.message,
        "no model, seed or snapshot named \"ordrs\" in the manifest; close names: orders, orders_snapshot"
    );
}

fn tiny(nodes: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"metadata": {"adapter_type": "postgres"}, "nodes": nodes})).unwrap()
}

#[test]
fn not_null_tests_of_older_manifests_and_constraints_make_columns_required() {
    let source = tiny(json!({
        "model.p.m": {"resource_type": "model", "name": "m", "unique_id": "model.p.m",
            "constraints": [{"type": "primary_key", "columns": ["a"]}],
            "columns": {
                "a": {"name": "a", "data_type": "int"},
                "b": {"name": "b", "data_type": "text"},
                "c": {"name": "c", "data_type": "timestamptz", "constraints": [{"type": "not_null"}]},
                "d": {"name": "d", "data_type": "character varying(3)"}
            }},
        // An older manifest: the column only in the test's kwargs.
        "test.p.not_null_m_b": {"resource_type": "test", "name": "not_null_m_b",
            "unique_id": "test.p.not_null_m_b", "attached_node": "model.p.m",
            "test_metadata": {"name": "not_null", "kwargs": {"column_name": "b"}}},
        // A test of another node does not count.
        "test.p.not_null_x_d": {"resource_type": "test", "name": "not_null_x_d",
            "unique_id": "test.p.not_null_x_d", "attached_node": "model.p.x", "column_name": "d",
            "test_metadata": {"name": "not_null", "kwargs": {}}}
    }));
    let converted = convert(&source, &model("m")).unwrap();
    let got: Vec<(&str, ColumnType, bool)> = converted
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.column_type, c.required))
        .collect();
    assert_eq!(
        got,
        [
            ("a", ColumnType::Integer, true),
            ("b", ColumnType::String, true),
            ("c", ColumnType::Timestamp, true),
            ("d", ColumnType::String, false),
        ]
    );
    assert!(converted.warnings.is_empty(), "{:?}", converted.warnings);
}

#[test]
fn columns_keep_the_manifest_order() {
    let names = ["zeta", "alpha", "mid", "beta"];
    let columns: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| (n.to_string(), json!({"name": n, "data_type": "int"})))
        .collect();
    let source = tiny(json!({"model.p.m": {"resource_type": "model", "name": "m",
        "unique_id": "model.p.m", "columns": columns}}));
    let converted = convert(&source, &model("m")).unwrap();
    let got: Vec<&str> = converted.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(got, names);
}

#[test]
fn a_struct_data_type_flattens() {
    let source = manifest();
    let options = Options {
        nested: Nested::Flatten,
        ..model("orders")
    };
    let converted = convert(&source, &options).unwrap();
    assert!(converted.columns.iter().any(|c| c.name == "address.city"));
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics(value in arbitrary_json(), name in "[a-z]{1,6}") {
        let source = serde_json::to_vec(&value).unwrap();
        let _ = convert(&source, &model(&name));
        let nodes = tiny(json!({"model.p.m": {"resource_type": "model", "name": "m",
            "unique_id": "model.p.m", "columns": value.clone(), "constraints": value}}));
        let _ = convert(&nodes, &model("m"));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = convert(&bytes, &model("orders"));
    }

    #[test]
    fn arbitrary_data_types_are_one_of_the_seven(data_type in ".{0,40}") {
        let source = tiny(json!({"model.p.m": {"resource_type": "model", "name": "m",
            "unique_id": "model.p.m", "columns": {"c": {"name": "c", "data_type": data_type}}}}));
        let converted = convert(&source, &model("m")).unwrap();
        prop_assert!(ColumnType::ALL.contains(&converted.columns[0].column_type));
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z_ ]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("nodes".to_owned()),
                        Just("metadata".to_owned()),
                        Just("name".to_owned()),
                        Just("columns".to_owned()),
                        Just("resource_type".to_owned()),
                        "[a-z_]{1,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}
